//! The GPU kernels of `cloe::ops` (CubeCL: InstanceNorm + LeakyReLU, trilinear ×2 upsampling) on wgpu
//! (lavapipe in CI), forward and input gradient, against Burn's own operations on the same device and
//! against the CPU kernels: on contiguous tensors and on the channels-last ones Burn's convolutions
//! give, on odd sides, on rows long enough to need several workgroups, and on values far from zero
//! (the variance from shifted sums).

use crate::common;
use burn::nn::InstanceNormConfig;
use burn::prelude::*;
use cloe::model::{to_vec, upsample2x};
use cloe::ops::{instance_norm_leaky_relu, instance_norm_leaky_relu_add, set_gpu_kernels};
use common::wgpu_device;

/// Deterministic values in [offset − 1, offset + 1].
fn data(n: usize, seed: u32, offset: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2654435761).wrapping_add(seed * 97) % 2001;
            h as f32 / 1000.0 - 1.0 + offset
        })
        .collect()
}

/// `data` as a `[B, C, D, H, W]` tensor on `device`, stored channels-last if `channels_last`.
fn input(device: &Device, shape: [usize; 5], offset: f32, channels_last: bool) -> Tensor<5> {
    let n = shape.iter().product();
    let [b, c, d, h, w] = shape;
    if channels_last {
        let t =
            Tensor::<5>::from_data(TensorData::new(data(n, 1, offset), [b, d, h, w, c]), device);
        t.permute([0, 4, 1, 2, 3])
    } else {
        Tensor::from_data(TensorData::new(data(n, 1, offset), shape), device)
    }
}

/// The output and the input gradient of sum(op(x) · probe) on `device`.
fn run(
    device: &Device,
    shape: [usize; 5],
    offset: f32,
    channels_last: bool,
    op: &dyn Fn(Tensor<5>) -> Tensor<5>,
) -> (Vec<f32>, Vec<f32>) {
    let ad = device.clone().autodiff();
    let x = input(&ad, shape, offset, channels_last).require_grad();
    let y = op(x.clone());
    let dims = y.dims();
    let probe = Tensor::<5>::from_data(
        TensorData::new(data(dims.iter().product(), 2, 0.0), dims),
        &ad,
    );
    let grads = (y.clone() * probe).sum().backward();
    (to_vec(y), to_vec(x.grad(&grads).expect("a gradient")))
}

/// Largest difference relative to the largest magnitude of `a`.
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().map(|v| v.abs()).fold(0.0, f32::max).max(1e-12);
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    worst / scale
}

/// `op` on the GPU with the kernels, on the GPU with Burn's operations and on the CPU: each pair of
/// outputs and of gradients within `tol` (relative).
fn check(name: &str, gpu: &Device, op: &dyn Fn(Tensor<5>) -> Tensor<5>, tol: f32) {
    for (shape, offset) in [
        ([1, 4, 8, 8, 8], 0.0),
        ([2, 3, 5, 6, 7], 0.5),
        ([1, 2, 32, 32, 32], 0.0),
        ([1, 3, 16, 12, 10], 100.0),
    ] {
        for channels_last in [false, true] {
            let ours = run(gpu, shape, offset, channels_last, op);
            set_gpu_kernels(false);
            let burns = run(gpu, shape, offset, channels_last, op);
            set_gpu_kernels(true);
            let cpu = run(&Device::flex(), shape, offset, channels_last, op);
            let case = format!("{name} {shape:?} offset {offset} channels-last {channels_last}");
            for (what, reference) in [("Burn on the GPU", &burns), ("the CPU", &cpu)] {
                let dy = rel_diff(&reference.0, &ours.0);
                let dx = rel_diff(&reference.1, &ours.1);
                assert!(dy < tol, "{case}: output differs from {what} by {dy:.2e}");
                assert!(dx < tol, "{case}: gradient differs from {what} by {dx:.2e}");
            }
        }
    }
}

#[test]
fn the_norm_kernels_match_burn_and_the_cpu() {
    let Some(gpu) = wgpu_device() else { return };
    let norm_act = |x: Tensor<5>| {
        let channels = x.dims()[1];
        let norm = InstanceNormConfig::new(channels)
            .with_affine(false)
            .init(&x.device());
        instance_norm_leaky_relu(x, &norm, 0.01)
    };
    check("norm + LeakyReLU", &gpu, &norm_act, 1e-4);
    // With a residual: x · 0.5 added after (so x's gradient comes through both paths).
    let with_residual = |x: Tensor<5>| {
        let channels = x.dims()[1];
        let norm = InstanceNormConfig::new(channels)
            .with_affine(false)
            .init(&x.device());
        instance_norm_leaky_relu_add(x.clone(), x.mul_scalar(0.5), &norm, 0.01)
    };
    check("norm + LeakyReLU + residual", &gpu, &with_residual, 1e-4);
}

#[test]
fn the_upsampling_kernels_match_burn_and_the_cpu() {
    let Some(gpu) = wgpu_device() else { return };
    check("upsample ×2", &gpu, &upsample2x, 1e-5);
}

/// A network made on the GPU stores its convolution weights channels-last
/// (`cloe::ops::weights_for_device`): its forward equals the same weights' on the CPU, and training
/// still reaches every parameter (each gets a gradient, as on the CPU).
#[test]
fn weights_stored_for_the_gpu_give_the_same_network_and_train() {
    use cloe::case::{Profile, Subset};
    use cloe::model::{CloeConfig, CloeNet};
    let Some(gpu) = wgpu_device() else { return };
    let cfg = CloeConfig {
        channels: 4,
        gate_hidden: 8,
        content_channels: 4,
        style_dim: 4,
        patch: 16,
        ..CloeConfig::for_profile(Profile::Brats)
    };
    let inputs = |device: &Device| -> Vec<Tensor<5>> {
        (0..4)
            .map(|m| {
                Tensor::from_data(
                    TensorData::new(data(16 * 16 * 16, m + 3, 0.0), [1, 1, 16, 16, 16]),
                    device,
                )
            })
            .collect()
    };
    let all = Subset::from_mask(Profile::Brats, &[true; 4]);
    let run = |net: &CloeNet, device: &Device| {
        let p = net.forward_masked(&inputs(device), &all);
        let probs = to_vec(p.fusion.probs.clone());
        let tracked = device.is_autodiff().then(|| {
            burn::optim::GradientsParams::from_grads(p.fusion.probs.sum().backward(), net).len()
        });
        (probs, tracked)
    };
    let ad = gpu.clone().autodiff();
    let net = CloeNet::new(&cfg, &ad);
    let (gpu_probs, gpu_grads) = run(&net, &ad);
    // The same weights on the CPU, through a model folder (as a user's model reaches any device).
    let dir = tempfile::tempdir().unwrap();
    cloe::model::save_model(&net, dir.path()).unwrap();
    let on_cpu = cloe::model::load_model(dir.path(), &Device::flex()).unwrap();
    let (cpu_probs, _) = run(&on_cpu, &Device::flex());
    let d = rel_diff(&cpu_probs, &gpu_probs);
    assert!(
        d < 1e-4,
        "fused probabilities differ from the CPU's by {d:.2e}"
    );
    // Training reaches as many parameters as on the CPU.
    let cpu_ad = Device::flex().autodiff();
    let (_, cpu_grads) = run(&CloeNet::new(&cfg, &cpu_ad), &cpu_ad);
    assert!(
        cpu_grads > Some(50),
        "parameters with gradients on the CPU: {cpu_grads:?}"
    );
    assert_eq!(
        gpu_grads, cpu_grads,
        "parameters reached by training on the GPU"
    );
}
