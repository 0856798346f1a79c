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
            let p = net.forward_masked(&x, &mask);
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
    let before = to_vec(net.forward_masked(&x, &mask).fusion.probs);
    x[1] = x[1].clone().mul_scalar(1000.0).add_scalar(7.0);
    let after = to_vec(net.forward_masked(&x, &mask).fusion.probs);
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
        let full = net.forward_masked(&x, &mask);
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
    let before = to_vec(net.forward_masked(&x, &[true, true]).fusion.probs);
    let dir = tempfile::tempdir().unwrap();
    save_model(&net, dir.path()).unwrap();
    let loaded = load_model(dir.path(), &device).unwrap();
    assert_eq!(loaded.config(), &cfg);
    assert_eq!(
        to_vec(loaded.forward_masked(&x, &[true, true]).fusion.probs),
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
    let batched = net.forward_masked(&both, &mask).fusion;
    for (i, alone) in [&a, &b].into_iter().enumerate() {
        let alone = net.forward_masked(alone, &mask).fusion;
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
