//! The CLoE network on small inputs: shapes for every availability mask of both profiles, fusion weights,
//! missing modalities that change nothing, re-fusion equal to a full forward, save/load bit for bit, a
//! config that does not fit the weights, and batches that keep their samples apart.

use burn::prelude::*;
use cloe::case::Profile;
use cloe::model::{CloeConfig, CloeNet, load_model, save_model, to_vec};

fn tiny(profile: Profile) -> CloeConfig {
    CloeConfig {
        channels: 2,
        gate_hidden: 4,
        content_channels: 2,
        style_dim: 2,
        patch: 16,
        ..CloeConfig::for_profile(profile)
    }
}

fn inputs(m: usize, side: usize, device: &Device, seed: u64) -> Vec<Tensor<5>> {
    device.seed(seed);
    (0..m)
        .map(|_| {
            Tensor::random(
                [1, 1, side, side, side],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                device,
            )
        })
        .collect()
}

/// Every non-empty availability mask over `m` modalities.
fn masks(m: usize) -> Vec<Vec<bool>> {
    (1..1u32 << m)
        .map(|bits| (0..m).map(|i| bits >> i & 1 == 1).collect())
        .collect()
}

#[test]
fn every_mask_of_both_profiles_has_the_right_shapes_and_weights() {
    let device = Device::flex();
    for profile in Profile::ALL {
        let cfg = tiny(profile);
        let net = CloeNet::new(&cfg, &device);
        let x = inputs(cfg.modalities, 16, &device, 1);
        let all = masks(cfg.modalities);
        assert_eq!(all.len(), if profile == Profile::Brats { 15 } else { 3 });
        for mask in all {
            let p = net.forward_masked(
                &x,
                &cloe::case::Subset::from_mask(net.config().profile, &mask),
            );
            assert_eq!(p.fusion.probs.dims(), [1, cfg.classes, 16, 16, 16]);
            assert_eq!(p.fusion.region.dims(), [1, 1, 16, 16, 16]);
            for (e, &a) in p.experts.iter().zip(&mask) {
                assert_eq!(e.is_some(), a, "experts only for available modalities");
                if let Some(e) = e {
                    assert_eq!(e.probs.dims(), [1, cfg.classes, 16, 16, 16]);
                }
            }
            let w = to_vec(p.fusion.w.clone());
            assert!(
                (w.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                "{mask:?}: {w:?}"
            );
            for (wm, &a) in w.iter().zip(&mask) {
                assert!(if a { *wm > 0.0 } else { *wm == 0.0 }, "{mask:?}: {w:?}");
            }
            if mask.iter().filter(|&&a| a).count() == 1 {
                assert_eq!(
                    to_vec(p.fusion.u.clone())
                        .iter()
                        .copied()
                        .fold(0.0f32, f32::max),
                    1.0
                );
            }
            let probs = to_vec(p.fusion.probs.clone().sum_dim(1));
            assert!(probs.iter().all(|s| (s - 1.0).abs() < 1e-4));
        }
    }
}

#[test]
fn the_voxels_of_a_missing_modality_change_nothing() {
    let device = Device::flex();
    let cfg = tiny(Profile::Brats);
    let net = CloeNet::new(&cfg, &device);
    let mut x = inputs(4, 16, &device, 2);
    let mask = [true, false, true, true];
    let before = to_vec(
        net.forward_masked(
            &x,
            &cloe::case::Subset::from_mask(net.config().profile, &mask),
        )
        .fusion
        .probs,
    );
    x[1] = x[1].clone().mul_scalar(1000.0).add_scalar(7.0);
    let after = to_vec(
        net.forward_masked(
            &x,
            &cloe::case::Subset::from_mask(net.config().profile, &mask),
        )
        .fusion
        .probs,
    );
    assert_eq!(before, after);
}

#[test]
fn refusing_cached_experts_equals_a_full_forward() {
    let device = Device::flex();
    let cfg = tiny(Profile::Brats);
    let net = CloeNet::new(&cfg, &device);
    let x = inputs(4, 16, &device, 3);
    let experts: Vec<_> = x
        .iter()
        .enumerate()
        .map(|(m, xm)| net.expert(m, xm.clone()))
        .collect();
    for mask in masks(4) {
        let full = net.forward_masked(
            &x,
            &cloe::case::Subset::from_mask(net.config().profile, &mask),
        );
        let refs: Vec<_> = experts
            .iter()
            .zip(&mask)
            .map(|(e, &a)| a.then_some(e))
            .collect();
        let refused = net.fuse(&refs);
        assert_eq!(to_vec(full.fusion.probs), to_vec(refused.probs), "{mask:?}");
        assert_eq!(to_vec(full.fusion.w), to_vec(refused.w), "{mask:?}");
    }
}

#[test]
fn save_and_load_give_the_same_outputs_bit_for_bit() {
    let device = Device::flex();
    let cfg = tiny(Profile::Prostate);
    let net = CloeNet::new(&cfg, &device);
    let x = inputs(2, 16, &device, 4);
    let before = to_vec(
        net.forward_masked(
            &x,
            &cloe::case::Subset::from_mask(net.config().profile, &[true, true]),
        )
        .fusion
        .probs,
    );
    let dir = tempfile::tempdir().unwrap();
    save_model(&net, dir.path()).unwrap();
    let loaded = load_model(dir.path(), &device).unwrap();
    assert_eq!(loaded.config(), &cfg);
    assert_eq!(
        to_vec(
            loaded
                .forward_masked(
                    &x,
                    &cloe::case::Subset::from_mask(loaded.config().profile, &[true, true])
                )
                .fusion
                .probs
        ),
        before
    );

    // A config that does not fit the weights is a clear error.
    let mut other = cfg.clone();
    other.channels = 4;
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_string(&other).unwrap(),
    )
    .unwrap();
    let e = load_model(dir.path(), &device).unwrap_err().to_string();
    assert!(
        e.contains("do not match") && e.contains("config.json"),
        "{e}"
    );
    // A config for the wrong profile shape is refused before any weight is read.
    other.modalities = 3;
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_string(&other).unwrap(),
    )
    .unwrap();
    let e = load_model(dir.path(), &device).unwrap_err().to_string();
    assert!(e.contains("modalities is 3"), "{e}");
}

#[test]
fn a_batch_gives_each_sample_its_own_result() {
    // Training stacks patches along the batch axis: every sample must be normalised, scored, gated and
    // fused on its own, as when it is run alone.
    let device = Device::flex();
    let cfg = tiny(Profile::Brats);
    let net = CloeNet::new(&cfg, &device);
    let (a, b) = (inputs(4, 16, &device, 5), inputs(4, 16, &device, 6));
    let both: Vec<Tensor<5>> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| Tensor::cat(vec![x.clone(), y.clone()], 0))
        .collect();
    let mask = [true, true, false, true];
    let batched = net
        .forward_masked(
            &both,
            &cloe::case::Subset::from_mask(net.config().profile, &mask),
        )
        .fusion;
    for (i, alone) in [&a, &b].into_iter().enumerate() {
        let alone = net
            .forward_masked(
                alone,
                &cloe::case::Subset::from_mask(net.config().profile, &mask),
            )
            .fusion;
        let pairs = [
            (
                to_vec(batched.probs.clone().narrow(0, i, 1)),
                to_vec(alone.probs),
            ),
            (to_vec(batched.w.clone().narrow(0, i, 1)), to_vec(alone.w)),
        ];
        for (got, want) in pairs {
            assert_eq!(got.len(), want.len());
            let worst = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (g - w).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "sample {i}: differs by {worst}");
        }
    }
}

/// Inputs from a formula (not the device's shared random generator, which other tests reseed).
fn fixed_inputs(m: usize, side: usize, device: &Device) -> Vec<Option<Tensor<5>>> {
    (0..m)
        .map(|k| {
            let v: Vec<f32> = (0..side * side * side)
                .map(|i| ((i * 31 + k * 7) % 23) as f32 / 11.0 - 1.0)
                .collect();
            Some(Tensor::from_data(
                TensorData::new(v, [1, 1, side, side, side]),
                device,
            ))
        })
        .collect()
}

/// The project's CPU kernels (convolution, InstanceNorm + LeakyReLU, upsampling; experts decoded one by
/// one) against Burn's own operations (with the GPU's strategy: the shared decoder on all experts
/// stacked) on the same weights: the forward within 1e-4, and three AdamW steps with every loss (the
/// contrastive term's random style sample left out) giving the same loss curve.
#[test]
fn the_cpu_kernels_give_burns_results() {
    use burn::optim::{AdamWConfig, GradientsParams};
    use cloe::ops::set_cpu_kernels;
    let mut cfg = tiny(Profile::Brats);
    cfg.loss.beta = 0.0;
    let device = Device::flex();
    let net = CloeNet::new(&cfg, &device);
    let x = fixed_inputs(cfg.modalities, 16, &device);
    let forward = |on: bool| {
        set_cpu_kernels(on);
        let p = net.forward(&[x[0].clone(), None, x[2].clone(), x[3].clone()]);
        set_cpu_kernels(true);
        let mut v = to_vec(p.fusion.probs);
        v.extend(to_vec(p.fusion.region));
        v.extend(to_vec(p.fusion.w));
        for e in p.experts.into_iter().flatten() {
            v.extend(to_vec(e.probs));
        }
        v
    };
    let (ours, burns) = (forward(true), forward(false));
    let worst = ours
        .iter()
        .zip(&burns)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-4, "forward differs from Burn's by {worst}");

    let ad = device.autodiff();
    let start = CloeNet::new(&cfg, &ad);
    let x = fixed_inputs(cfg.modalities, 16, &ad);
    let labels: Vec<u8> = (0..16 * 16 * 16).map(|i| (i % 7 % 4) as u8).collect();
    let target = cloe::loss::one_hot(&labels, 1, [16; 3], cfg.classes, &ad);
    let losses = |on: bool| {
        set_cpu_kernels(on);
        let (mut model, mut optim) = (start.clone(), AdamWConfig::new().init());
        let mut curve = Vec::new();
        for _ in 0..3 {
            let pred = model.forward(&x);
            let terms = cloe::loss::cloe_loss(
                &model,
                &pred,
                &x,
                target.clone(),
                &mut cloe::train::step_rng(0, 0),
            );
            curve.push(terms.values().total);
            let grads = GradientsParams::from_grads(terms.total.backward(), &model);
            model = optim.step(1e-3, model, grads);
        }
        set_cpu_kernels(true);
        curve
    };
    let (ours, burns) = (losses(true), losses(false));
    for (a, b) in ours.iter().zip(&burns) {
        assert!(
            (a - b).abs() < 1e-4 * b.abs().max(1.0),
            "{ours:?} vs {burns:?}"
        );
    }
    assert!(ours[2] < ours[0], "the loss falls: {ours:?}");
}
