//! The network on wgpu (lavapipe, software Vulkan, in CI) against the CPU (`flex`): forward parity within
//! 1e-4 on a small input (with the project's GPU kernels and with Burn's operations), and per-operation gradient parity, so that training never runs on a backend
//! whose gradients are wrong.

use crate::common;
use burn::prelude::*;
use cloe::case::Profile;
use cloe::model::{CloeConfig, CloeNet, to_vec};
use common::wgpu_device;

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn cpu_and_wgpu_forward_agree_within_1e4() {
    let Some(gpu) = wgpu_device() else { return };
    let cpu = Device::flex();
    cpu.seed(11);
    let cfg = CloeConfig {
        channels: 4,
        gate_hidden: 8,
        content_channels: 4,
        style_dim: 4,
        patch: 16,
        // As the shipped model: π with the context of three levels, deep supervision.
        region_context: true,
        deep_supervision: true,
        ..CloeConfig::for_profile(Profile::Brats)
    };
    let net = CloeNet::new(&cfg, &cpu);
    let x: Vec<Tensor<5>> = (0..4)
        .map(|_| {
            Tensor::random(
                [1, 1, 16, 16, 16],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &cpu,
            )
        })
        .collect();
    let mask = [true, true, false, true];
    // The CPU forward initialises every parameter the forward uses before the copy to the GPU.
    let on_cpu = net.forward_masked(
        &x,
        &cloe::case::Subset::from_mask(net.config().profile, &mask),
    );
    let net_gpu = net.to_device(&gpu);
    let xg: Vec<Tensor<5>> = x.iter().map(|t| t.clone().to_device(&gpu)).collect();
    // With the project's GPU kernels and with Burn's operations (`CLOE_GPU_KERNELS=off`).
    for kernels in [true, false] {
        cloe::ops::set_gpu_kernels(kernels);
        let on_gpu = net_gpu.forward_masked(
            &xg,
            &cloe::case::Subset::from_mask(net_gpu.config().profile, &mask),
        );
        cloe::ops::set_gpu_kernels(true);
        let cpu = &on_cpu.fusion;
        for (what, a, b) in [
            ("fused probabilities", &cpu.probs, on_gpu.fusion.probs),
            ("region maps", &cpu.region, on_gpu.fusion.region),
        ] {
            let d = max_abs_diff(&to_vec(a.clone()), &to_vec(b));
            assert!(d < 1e-4, "{what} differ by {d} (GPU kernels {kernels})");
        }
        let d = max_abs_diff(&to_vec(cpu.w.clone()), &to_vec(on_gpu.fusion.w));
        assert!(
            d < 1e-4,
            "fusion weights differ by {d} (GPU kernels {kernels})"
        );
    }
}
