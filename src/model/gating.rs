//! Consistency-driven gating (paper §2.3, eq. 7): a small MLP maps each available expert's (u_m, v_m) to a
//! logit, and a softmax over the available experts gives the fusion weights. The ablations replace it by
//! w ∝ u + v (no gating) or by a plain mean (no weighted fusion).

use super::config::Ablation;
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
    pub fn weights(&self, u: Tensor<2>, v: Tensor<2>, ablation: Ablation) -> Tensor<2> {
        let [b, a] = u.dims();
        if a == 1 || !ablation.weighted_fusion {
            return Tensor::ones([b, a], &u.device()).div_scalar(a as f64);
        }
        if !ablation.gating {
            let s = (u + v).clamp_min(1e-6);
            let total = s.clone().sum_dim(1);
            return s / total;
        }
        softmax(self.logits(u, v), 1)
    }
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
        let w = crate::model::to_vec(gate.weights(u.clone(), v.clone(), Ablation::default()));
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let plain = Ablation {
            weighted_fusion: false,
            ..Ablation::default()
        };
        assert_eq!(
            crate::model::to_vec(gate.weights(u.clone(), v.clone(), plain)),
            vec![1.0 / 3.0; 3]
        );
        let no_gate = Ablation {
            gating: false,
            ..Ablation::default()
        };
        let w = crate::model::to_vec(gate.weights(u, v, no_gate));
        // (u + v) / Σ(u + v) = [1.7, 0.7, 1.3] / 3.7.
        for (got, want) in w.iter().zip([1.7f32 / 3.7, 0.7 / 3.7, 1.3 / 3.7]) {
            assert!((got - want).abs() < 1e-6);
        }
        let single = crate::model::to_vec(gate.weights(
            t2(&[1.0], [1, 1]),
            t2(&[1.0], [1, 1]),
            Ablation::default(),
        ));
        assert_eq!(single, vec![1.0]);
    }
}
