//! Consistency-driven gating (paper §2.3, eq. 7): a small MLP maps each available expert's (u_m, v_m) to a
//! logit, and a softmax over the available experts gives the fusion weights. The ablations replace it by
//! w ∝ u + v (no gating) or by a plain mean (no weighted fusion).

use super::config::{Ablation, GateInput};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};

/// The gating network G: (u, v) → 16 → 1 with ReLU, shared by all experts.
#[derive(Module, Debug)]
pub struct Gate {
    hidden: Linear,
    out: Linear,
}

impl Gate {
    pub fn new(hidden: usize, device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(2, hidden).init(device),
            out: LinearConfig::new(hidden, 1).init(device),
        }
    }

    /// Logits g `[B, A]` from scores u, v `[B, A]`.
    pub fn logits(&self, u: Tensor<2>, v: Tensor<2>) -> Tensor<2> {
        let [b, a] = u.dims();
        let uv: Tensor<3> = Tensor::stack(vec![u, v], 2);
        self.out
            .forward(relu(self.hidden.forward(uv)))
            .reshape([b, a])
    }

    /// Fusion weights `[B, A]` over the available experts; they sum to 1 per batch element.
    pub fn weights(
        &self,
        u: Tensor<2>,
        v: Tensor<2>,
        ablation: Ablation,
        input: GateInput,
    ) -> Tensor<2> {
        let [b, a] = u.dims();
        if a == 1 || !ablation.weighted_fusion {
            return Tensor::ones([b, a], &u.device()).div_scalar(a as f64);
        }
        if !ablation.gating {
            let s = (u + v).clamp_min(1e-6);
            let total = s.clone().sum_dim(1);
            return s / total;
        }
        match input {
            GateInput::Raw => softmax(self.logits(u, v), 1),
            GateInput::Standardized => softmax(self.logits(standardize(u), standardize(v)), 1),
        }
    }
}

/// Each row standardised over its columns: (x − mean) / sqrt(var + 1e-6).
fn standardize(x: Tensor<2>) -> Tensor<2> {
    let centred = x.clone() - x.mean_dim(1);
    let var = (centred.clone() * centred.clone()).mean_dim(1);
    centred / var.add_scalar(1e-6).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t2(values: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
    }

    #[test]
    fn weights_sum_to_one_and_ablations_behave() {
        let device = Device::flex();
        let gate = Gate::new(16, &device);
        let (u, v) = (t2(&[0.9, 0.5, 0.7], [1, 3]), t2(&[0.8, 0.2, 0.6], [1, 3]));
        let w = crate::model::to_vec(gate.weights(
            u.clone(),
            v.clone(),
            Ablation::default(),
            GateInput::Raw,
        ));
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let plain = Ablation {
            weighted_fusion: false,
            ..Ablation::default()
        };
        assert_eq!(
            crate::model::to_vec(gate.weights(u.clone(), v.clone(), plain, GateInput::Raw)),
            vec![1.0 / 3.0; 3]
        );
        let no_gate = Ablation {
            gating: false,
            ..Ablation::default()
        };
        let w = crate::model::to_vec(gate.weights(u, v, no_gate, GateInput::Raw));
        // (u + v) / Σ(u + v) = [1.7, 0.7, 1.3] / 3.7.
        for (got, want) in w.iter().zip([1.7f32 / 3.7, 0.7 / 3.7, 1.3 / 3.7]) {
            assert!((got - want).abs() < 1e-6);
        }
        let single = crate::model::to_vec(gate.weights(
            t2(&[1.0], [1, 1]),
            t2(&[1.0], [1, 1]),
            Ablation::default(),
            GateInput::Standardized,
        ));
        assert_eq!(single, vec![1.0]);
    }

    /// Trains a gate alone on a toy task: of four experts with consistency scores like a trained
    /// network's (u ≈ 0.88 ± 0.02, v ≈ 0.97 ± 0.01), the one with the highest u is the right one, and the
    /// loss rewards the weight it gets. Returns the mean weight given to that expert on fresh samples
    /// and the spread of the weights between samples.
    fn train_toy_gate(input: GateInput) -> (f32, f32) {
        use burn::optim::{AdamConfig, GradientsParams};
        use rand::{Rng, SeedableRng};
        let ad = Device::flex().autodiff();
        ad.seed(5);
        let mut gate = Gate::new(16, &ad);
        let mut optim = AdamConfig::new().init();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (b, a) = (64, 4);
        let batch = |rng: &mut rand::rngs::StdRng, device: &Device| {
            let u: Vec<f32> = (0..b * a).map(|_| rng.random_range(0.86..0.90)).collect();
            let v: Vec<f32> = (0..b * a).map(|_| rng.random_range(0.96..0.98)).collect();
            let best: Vec<f32> = u
                .chunks(a)
                .flat_map(|row| {
                    let top = row.iter().cloned().fold(f32::MIN, f32::max);
                    row.iter().map(move |&x| if x == top { 1.0 } else { 0.0 })
                })
                .collect();
            let t = |d: Vec<f32>| Tensor::<2>::from_data(TensorData::new(d, [b, a]), device);
            (t(u), t(v), t(best))
        };
        for _ in 0..300 {
            let (u, v, best) = batch(&mut rng, &ad);
            let w = gate.weights(u, v, Ablation::default(), input);
            let loss = (w * best).sum().neg().div_scalar(b as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &gate);
            gate = optim.step(1e-2, gate, grads);
        }
        let device = Device::flex();
        let gate = gate.valid();
        let (u, v, best) = batch(&mut rng, &device);
        let w = gate.weights(u, v, Ablation::default(), input);
        let on_best = crate::model::to_vec((w.clone() * best).sum_dim(1).mean());
        let spread = crate::model::to_vec(w.var(0).sqrt().mean());
        (on_best[0], spread[0])
    }

    #[test]
    fn a_trained_gate_follows_the_consistency_scores_when_it_sees_them_standardised() {
        let (raw_best, raw_spread) = train_toy_gate(GateInput::Raw);
        let (std_best, std_spread) = train_toy_gate(GateInput::Standardized);
        // Standardised: the most consistent expert gets most of the weight, and w changes with u.
        assert!(
            std_best > 0.6,
            "standardised: {std_best} on the best expert"
        );
        assert!(
            std_spread > 0.1,
            "standardised: weights spread {std_spread}"
        );
        // Raw: the same training leaves the weights far closer to uniform (0.25 each).
        assert!(
            raw_best < std_best - 0.2,
            "raw {raw_best} vs standardised {std_best}"
        );
        eprintln!(
            "on the best expert: raw {raw_best:.3} (spread {raw_spread:.3}), standardised {std_best:.3} (spread {std_spread:.3})"
        );
    }
}
