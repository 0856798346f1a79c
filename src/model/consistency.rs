//! Expert consistency (paper §2.2–2.3): cosine similarity of flattened expert maps (eq. 2), Modality and
//! Region Expert Consistency over the available pairs (eq. 3, 5), and each expert's scores u_m, v_m (eq. 6).
//! All pairs come from one Gram matrix of the flattened maps.

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
    let (sg, sr) = cosines(experts, region, eps);
    // 1 off the diagonal, 0 on it: the pairs of distinct experts.
    let off: Tensor<3> = Tensor::<2>::ones([a, a], &device)
        .sub(Tensor::eye(a, &device))
        .unsqueeze();
    let pairs = (a * (a - 1)) as f64;
    // u_m, v_m: mean similarity of expert m to the others (eq. 6).
    let score = |s: &Tensor<3>| -> Tensor<2> {
        (s.clone() * off.clone())
            .sum_dim(2)
            .reshape([batch, a])
            .div_scalar((a - 1) as f64)
    };
    // L_MEC, L_REC: mean over the pairs of 1 − S (eq. 3, 5), then over the batch.
    let loss = |s: &Tensor<3>| -> Tensor<1> {
        (s.clone() * off.clone())
            .reshape([batch as i64, -1])
            .sum_dim(1)
            .div_scalar(pairs)
            .neg()
            .add_scalar(1.0)
            .mean()
    };
    Consistency {
        u: score(&sg),
        v: score(&sr),
        mec: loss(&sg),
        rec: loss(&sr),
    }
}

/// Cosine similarity of every pair of `maps` (eq. 2), per batch element, `[B, A, A]`: of the maps
/// themselves, and of the maps times `region` (the regional similarity of eq. 4). Each from one Gram
/// matrix of the flattened maps (one matrix product instead of a reduction per pair), the regional one
/// as `Σ p_i p_j r²` without forming the products; the norms are the Gram matrices' diagonals.
fn cosines(maps: &[Tensor<5>], region: &Tensor<5>, eps: f64) -> (Tensor<3>, Tensor<3>) {
    let [batch, k, d, h, w] = maps[0].dims();
    let a = maps.len();
    let n = d * h * w;
    let flat: Tensor<3> = Tensor::stack(
        maps.iter()
            .map(|m| m.clone().reshape([batch, k * n]))
            .collect::<Vec<Tensor<2>>>(),
        1,
    );
    let r2: Tensor<4> = region.clone().powi_scalar(2).reshape([batch, 1, 1, n]);
    let weighted: Tensor<3> =
        (flat.clone().reshape([batch, a, k, n]) * r2).reshape([batch, a, k * n]);
    let transposed = flat.clone().swap_dims(1, 2);
    let cosine = |gram: Tensor<3>| {
        let eye: Tensor<3> = Tensor::<2>::eye(a, &gram.device()).unsqueeze();
        let norms: Tensor<3> = (gram.clone() * eye).sum_dim(2).sqrt();
        gram / (norms.clone().matmul(norms.swap_dims(1, 2))).add_scalar(eps)
    };
    (
        cosine(flat.matmul(transposed.clone())),
        cosine(weighted.matmul(transposed)),
    )
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
