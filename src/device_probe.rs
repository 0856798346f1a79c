//! The small forward `auto` times on each device (`device::speed`): the default BraTS network with
//! random weights on a `PROBE_SIDE`³ patch of four modalities, warmed up once (shaders compiled,
//! buffers made), then the faster of two runs. The front ends register it with `device::set_probe`.

use crate::case::Profile;
use crate::device::PROBE_SIDE;
use crate::model::{CloeConfig, CloeNet, to_vec};
use burn::prelude::*;
use std::time::Instant;

/// Seconds of the probe forward on `device`; a warm-up over `enough` seconds is the figure itself.
pub fn probe_seconds(device: &Device, enough: f64) -> f64 {
    let cfg = CloeConfig::for_profile(Profile::Brats);
    let net = CloeNet::new(&cfg, device);
    let shape = [1, 1, PROBE_SIDE, PROBE_SIDE, PROBE_SIDE];
    let inputs: Vec<Option<Tensor<5>>> = (0..cfg.modalities)
        .map(|_| {
            let normal = burn::tensor::Distribution::Normal(0.0, 1.0);
            Some(Tensor::random(shape, normal, device))
        })
        .collect();
    let run = || {
        let t = Instant::now();
        let _ = to_vec(net.forward(&inputs).fusion.w);
        t.elapsed().as_secs_f64()
    };
    let warm_up = run();
    if warm_up > enough {
        return warm_up;
    }
    run().min(run())
}

/// Registers [`probe_seconds`] as what `auto` measures (the CLI and the app call this first).
pub fn register() {
    crate::device::set_probe(probe_seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_times_one_forward_after_a_warm_up() {
        let device = Device::flex();
        let t = std::time::Instant::now();
        let s = probe_seconds(&device, f64::INFINITY);
        // The figure is one timed run, not the warm-up and the two runs together.
        assert!(s > 0.0 && s < t.elapsed().as_secs_f64(), "{s}");
        // With no time to spare, the warm-up is the figure.
        assert!(probe_seconds(&device, 0.0) > 0.0);
    }
}
