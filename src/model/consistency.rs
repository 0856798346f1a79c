//! Expert consistency (paper §2.2–2.3): cosine similarity of flattened expert maps (eq. 2), Modality and
//! Region Expert Consistency over the available pairs (eq. 3, 5), and each expert's scores u_m, v_m (eq. 6).

use burn::prelude::*;

/// Cosine similarity of `a` and `b` per batch element, every dimension after the first flattened: `[B]`.
pub fn cosine<const D: usize>(a: Tensor<D>, b: Tensor<D>, eps: f64) -> Tensor<1> {
    let batch = a.dims()[0];
    let a: Tensor<2> = a.reshape([batch as i64, -1]);
    let b: Tensor<2> = b.reshape([batch as i64, -1]);
    let dot = (a.clone() * b.clone()).sum_dim(1);
    let na = a.powi_scalar(2).sum_dim(1).sqrt();
    let nb = b.powi_scalar(2).sum_dim(1).sqrt();
    (dot / (na * nb).add_scalar(eps)).reshape([batch])
}

/// Consistency of the available experts.
#[derive(Debug, Clone)]
pub struct Consistency {
    /// Global score u_m of each available expert, `[B, A]` (1 when A = 1).
    pub u: Tensor<2>,
    /// Regional score v_m, `[B, A]`.
    pub v: Tensor<2>,
    /// L_MEC, eq. 3, averaged over the batch: `[1]` (0 when A = 1).
    pub mec: Tensor<1>,
    /// L_REC, eq. 5: `[1]`.
    pub rec: Tensor<1>,
}

/// Scores and losses of `experts` (each `[B, K, D, H, W]` probabilities, available ones only) with the
/// region map `region` (`[B, 1, D, H, W]`, broadcast over classes).
pub fn consistency(experts: &[Tensor<5>], region: &Tensor<5>, eps: f64) -> Consistency {
    let a = experts.len();
    let batch = experts[0].dims()[0];
    let device = experts[0].device();
    if a < 2 {
        let ones = Tensor::<2>::ones([batch, a], &device);
        let zero = Tensor::<1>::zeros([1], &device);
        return Consistency {
            u: ones.clone(),
            v: ones,
            mec: zero.clone(),
            rec: zero,
        };
    }
    let regional: Vec<Tensor<5>> = experts.iter().map(|p| p.clone() * region.clone()).collect();
    // Pairwise similarities S[i][j] for i < j, each [B].
    let pairs = |maps: &[Tensor<5>]| -> Vec<Vec<Option<Tensor<1>>>> {
        (0..a)
            .map(|i| {
                (0..a)
                    .map(|j| (i < j).then(|| cosine(maps[i].clone(), maps[j].clone(), eps)))
                    .collect()
            })
            .collect()
    };
    let (sg, sr) = (pairs(experts), pairs(&regional));
    let sim = |s: &Vec<Vec<Option<Tensor<1>>>>, i: usize, j: usize| {
        let (lo, hi) = (i.min(j), i.max(j));
        s[lo][hi].clone().expect("pair i < j")
    };
    let score = |s: &Vec<Vec<Option<Tensor<1>>>>| -> Tensor<2> {
        let cols: Vec<Tensor<2>> = (0..a)
            .map(|m| {
                let sum = (0..a)
                    .filter(|&k| k != m)
                    .map(|k| sim(s, m, k))
                    .reduce(|x, y| x + y)
                    .expect("a ≥ 2");
                sum.div_scalar((a - 1) as f64).reshape([batch, 1])
            })
            .collect();
        Tensor::cat(cols, 1)
    };
    let loss = |s: &Vec<Vec<Option<Tensor<1>>>>| -> Tensor<1> {
        let all: Vec<Tensor<1>> = s.iter().flatten().flatten().cloned().collect();
        let n = all.len() as f64;
        all.into_iter()
            .map(|x| x.neg().add_scalar(1.0))
            .reduce(|x, y| x + y)
            .expect("a ≥ 2")
            .div_scalar(n)
            .mean()
    };
    Consistency {
        u: score(&sg),
        v: score(&sr),
        mec: loss(&sg),
        rec: loss(&sr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f32], shape: [usize; 5]) -> Tensor<5> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
    }

    fn scalar(x: Tensor<1>) -> f32 {
        crate::model::to_vec(x)[0]
    }

    #[test]
    fn cosine_by_hand() {
        // [1, 0, 1] · [1, 1, 0] = 1; norms √2 · √2 = 2 → 0.5.
        let a = t(&[1.0, 0.0, 1.0], [1, 3, 1, 1, 1]);
        let b = t(&[1.0, 1.0, 0.0], [1, 3, 1, 1, 1]);
        assert!((scalar(cosine(a, b, 0.0)) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn three_experts_by_hand() {
        // Two voxels, one class channel each (shape [1, 1, 1, 1, 2]) for simple arithmetic.
        let p = [
            t(&[1.0, 0.0], [1, 1, 1, 1, 2]),
            t(&[1.0, 0.0], [1, 1, 1, 1, 2]),
            t(&[0.0, 1.0], [1, 1, 1, 1, 2]),
        ];
        // S(0,1) = 1, S(0,2) = 0, S(1,2) = 0 → u = [0.5, 0.5, 0], MEC = (0 + 1 + 1) / 3.
        let r = t(&[1.0, 0.5], [1, 1, 1, 1, 2]);
        let c = consistency(&p, &r, 0.0);
        let u = crate::model::to_vec(c.u.clone());
        assert_eq!(u, vec![0.5, 0.5, 0.0]);
        assert!((scalar(c.mec) - 2.0 / 3.0).abs() < 1e-6);
        // Region weighting: p_r = [1, 0], [1, 0], [0, 0.5]: same pattern of similarities.
        assert_eq!(crate::model::to_vec(c.v), vec![0.5, 0.5, 0.0]);
        assert!((scalar(c.rec) - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn region_map_changes_the_regional_score() {
        // Experts agree on voxel 0 and disagree on voxel 1; a region map on voxel 0 only makes them agree.
        let p = [
            t(&[0.6, 0.9], [1, 1, 1, 1, 2]),
            t(&[0.6, 0.1], [1, 1, 1, 1, 2]),
        ];
        let r = t(&[1.0, 0.0], [1, 1, 1, 1, 2]);
        let c = consistency(&p, &r, 0.0);
        let u = crate::model::to_vec(c.u)[0];
        let v = crate::model::to_vec(c.v)[0];
        // u = (0.36 + 0.09) / (√1.17 · √0.37) ≈ 0.6841; v = 1.
        assert!(
            (u - 0.45 / (1.17f32.sqrt() * 0.37f32.sqrt())).abs() < 1e-5,
            "{u}"
        );
        assert!((v - 1.0).abs() < 1e-6);
        assert!(scalar(c.rec).abs() < 1e-6);
    }

    #[test]
    fn a_single_expert_is_fully_consistent() {
        let p = [t(&[0.2, 0.8], [1, 1, 1, 1, 2])];
        let c = consistency(&p, &t(&[1.0, 1.0], [1, 1, 1, 1, 2]), 1e-8);
        assert_eq!(crate::model::to_vec(c.u), vec![1.0]);
        assert_eq!(scalar(c.mec), 0.0);
    }
}
