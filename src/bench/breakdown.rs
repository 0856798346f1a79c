//! `cloe bench --profile`: where a forward and a training step spend their time.
//!
//! Two views. In the network: the CPU convolution kernels time themselves (forward, weight gradient,
//! input gradient; exact on the CPU, where every operation completes before the next), the rest of the
//! phase is everything else (InstanceNorm, activations, upsampling, concatenation, consistency, losses,
//! the optimizer), and every read-back of tensor data is counted (each one a host↔device
//! synchronisation on a GPU). Per layer: every convolution shape the network ran, timed on its own on
//! the same device (forward; weight and input gradients as the extra time of a backward), with how
//! often the phase runs it, so the convolutions' share can be estimated on any device.

use super::time;
use crate::model::to_vec;
use crate::ops::conv3d;
use crate::ops::counters::{self, ConvKey, Counters};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;
use std::time::Instant;

/// One phase (the whole-case forward, or one training step) run once with the counters on.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseProfile {
    pub seconds: f64,
    /// Kernel calls and seconds (forward, weight grad, input grad) and read-backs during the phase.
    pub counters: Counters,
    /// Each convolution shape the phase ran, with its count.
    #[serde(skip)]
    pub shapes: Vec<(ConvKey, usize)>,
}

impl PhaseProfile {
    /// Runs `f` once, counting, with the modalities one at a time (the kernels' seconds then add up
    /// to the phase's).
    pub fn measure(f: impl FnOnce()) -> Self {
        counters::reset();
        counters::record_shapes();
        let t = Instant::now();
        crate::model::one_modality_at_a_time(f);
        let seconds = t.elapsed().as_secs_f64();
        Self {
            seconds,
            counters: counters::counters(),
            shapes: counters::recorded_shapes(),
        }
    }

    /// Seconds in the convolution kernels (all three kinds).
    pub fn conv_seconds(&self) -> f64 {
        self.counters.seconds.iter().sum()
    }
}

/// One convolution shape timed on its own.
#[derive(Debug, Clone, Serialize)]
pub struct LayerTiming {
    /// `batch`, `c_in`, `c_out`, input `[D, H, W]`, kernel side, stride.
    pub shape: ConvKey,
    /// How often the forward and the training step run it.
    pub per_forward: usize,
    pub per_step: usize,
    pub forward_seconds: f64,
    pub weight_grad_seconds: f64,
    pub data_grad_seconds: f64,
}

/// The profile of a forward and a training step.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkProfile {
    pub forward: PhaseProfile,
    pub step: PhaseProfile,
    pub layers: Vec<LayerTiming>,
}

impl NetworkProfile {
    /// Times every shape of the two phases on `device` (`runs` runs each).
    pub fn new(forward: PhaseProfile, step: PhaseProfile, device: &Device, runs: usize) -> Self {
        let mut keys: Vec<ConvKey> = forward
            .shapes
            .iter()
            .chain(&step.shapes)
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        keys.dedup();
        let count = |p: &PhaseProfile, k: &ConvKey| {
            p.shapes.iter().find(|(s, _)| s == k).map_or(0, |(_, n)| *n)
        };
        let layers = keys
            .iter()
            .map(|k| {
                let [f, w, x] = time_layer(*k, device, runs);
                LayerTiming {
                    shape: *k,
                    per_forward: count(&forward, k),
                    per_step: count(&step, k),
                    forward_seconds: f,
                    weight_grad_seconds: w,
                    data_grad_seconds: x,
                }
            })
            .collect();
        Self {
            forward,
            step,
            layers,
        }
    }

    /// Estimated convolution seconds of a forward and of a step from the per-layer timings.
    pub fn layer_estimates(&self) -> (f64, f64) {
        let fwd = self
            .layers
            .iter()
            .map(|l| l.per_forward as f64 * l.forward_seconds)
            .sum();
        let step = self
            .layers
            .iter()
            .map(|l| {
                l.per_step as f64
                    * (l.forward_seconds + l.weight_grad_seconds + l.data_grad_seconds)
            })
            .sum();
        (fwd, step)
    }
}

/// Forward, weight-gradient and input-gradient seconds of one convolution shape on `device`.
fn time_layer(key: ConvKey, device: &Device, runs: usize) -> [f64; 3] {
    let (b, c_in, c_out, [d, h, w], k, s) = key;
    let normal = Distribution::Normal(0.0, 1.0);
    let ad = device.clone().autodiff();
    let x = Tensor::<5>::random([b, c_in, d, h, w], normal, &ad);
    let weight = Tensor::<5>::random([c_out, c_in, k, k, k], normal, &ad);
    let bias = Tensor::<1>::random([c_out], normal, &ad);
    let (stride, pad) = ([s; 3], [k / 2; 3]);
    let run = |x: Tensor<5>, weight: Tensor<5>, bias: Tensor<1>, backward: bool| {
        let y = conv3d(x, weight, bias, stride, pad);
        if backward {
            let grads = y.sum().backward();
            drop(grads);
            // Everything before this read-back has completed.
            let _ = to_vec(Tensor::<1>::zeros([1], device));
        } else {
            let _ = to_vec(y.narrow(4, 0, 1).sum());
        }
    };
    let forward = time(runs, || run(x.clone(), weight.clone(), bias.clone(), false));
    let with_weight_grad = time(runs, || {
        run(
            x.clone(),
            weight.clone().require_grad(),
            bias.clone().require_grad(),
            true,
        )
    });
    let with_data_grad = time(runs, || {
        run(x.clone().require_grad(), weight.clone(), bias.clone(), true)
    });
    [
        forward,
        (with_weight_grad - forward).max(0.0),
        (with_data_grad - forward).max(0.0),
    ]
}

impl std::fmt::Display for NetworkProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (est_fwd, est_step) = self.layer_estimates();
        writeln!(
            f,
            "profile (one run of each phase; the modalities one at a time)"
        )?;
        for (name, p, est) in [
            ("forward      ", &self.forward, est_fwd),
            ("training step", &self.step, est_step),
        ] {
            let c = &p.counters;
            let conv = p.conv_seconds();
            writeln!(
                f,
                "  {name} {:.3} s: CPU conv kernels {:.3} s ({:.0} %; forward {:.3} s in {} calls, \
                 weight grad {:.3} s in {}, input grad {:.3} s in {}), everything else {:.3} s; \
                 {} read-backs; layers timed alone: {:.3} s of convolutions ({:.0} %)",
                p.seconds,
                conv,
                100.0 * conv / p.seconds,
                c.seconds[0],
                c.calls[0],
                c.seconds[1],
                c.calls[1],
                c.seconds[2],
                c.calls[2],
                p.seconds - conv,
                c.readbacks,
                est,
                100.0 * est / p.seconds,
            )?;
        }
        writeln!(
            f,
            "  layer (batch, c_in -> c_out, input, kernel, stride)   per fwd / step   forward   weight grad   input grad"
        )?;
        for l in &self.layers {
            let (b, ci, co, [d, h, w], k, s) = l.shape;
            writeln!(
                f,
                "  {b} x {ci:>3} -> {co:<3} {d:>3}x{h:>3}x{w:>3} k{k} s{s}                   {:>4} / {:<4}   {:>7.4} s  {:>9.4} s  {:>9.4} s",
                l.per_forward,
                l.per_step,
                l.forward_seconds,
                l.weight_grad_seconds,
                l.data_grad_seconds
            )?;
        }
        Ok(())
    }
}
