//! The losses: finite-difference gradient checks of Dice, WCE, MEC, REC and SSIM, every term finite and
//! logged on its own, a tiny model that overfits one small synthetic case on the CPU, and the two small
//! heads stepped at a learning rate of their own.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use cloe::case::Profile;
use cloe::loss::{cloe_loss, one_hot, soft_dice, ssim, weighted_ce};
use cloe::model::{CloeConfig, CloeNet, consistency, to_vec};

const SHAPE: [usize; 5] = [1, 3, 2, 2, 3];

fn tensor(values: &[f32], shape: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            (((i as u32 * 2654435761u32) ^ seed.wrapping_mul(40503)) % 1000) as f32 / 500.0 - 1.0
        })
        .collect()
}

/// Compares autodiff's gradient of `f` at `x0` with central differences at every coordinate.
fn grad_check(name: &str, x0: &[f32], shape: [usize; 5], f: impl Fn(Tensor<5>) -> Tensor<1>) {
    let ad = Device::flex().autodiff();
    let x = tensor(x0, shape, &ad).require_grad();
    let grads = f(x.clone()).backward();
    let analytic = to_vec(x.grad(&grads).expect("gradient"));
    let plain = Device::flex();
    let h = 1e-2f32;
    for i in 0..x0.len() {
        let at = |d: f32| {
            let mut v = x0.to_vec();
            v[i] += d;
            to_vec(f(tensor(&v, shape, &plain)))[0]
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        let tol = 2e-3 * numeric.abs().max(analytic[i].abs()).max(1.0);
        assert!(
            (numeric - analytic[i]).abs() < tol,
            "{name}[{i}]: autodiff {} vs finite difference {numeric}",
            analytic[i]
        );
    }
}

fn target(device: &Device) -> Tensor<5> {
    one_hot(
        &[0, 1, 2, 2, 1, 0, 0, 0, 1, 2, 2, 0],
        1,
        [2, 2, 3],
        3,
        device,
    )
}

#[test]
fn dice_and_weighted_ce_gradients_match_finite_differences() {
    let x0 = pseudo_random(36, 1);
    grad_check("dice", &x0, SHAPE, |x| {
        soft_dice(softmax(x.clone(), 1), target(&x.device()))
    });
    grad_check("wce", &x0, SHAPE, |x| {
        weighted_ce(softmax(x.clone(), 1), target(&x.device()))
    });
}

#[test]
fn mec_and_rec_gradients_match_finite_differences() {
    let x0 = pseudo_random(36, 2);
    let others = [pseudo_random(36, 3), pseudo_random(36, 4)];
    let region: Vec<f32> = pseudo_random(12, 5).iter().map(|v| 0.5 + 0.4 * v).collect();
    let experts = |x: Tensor<5>| -> Vec<Tensor<5>> {
        let d = x.device();
        let mut e = vec![softmax(x, 1)];
        e.extend(others.iter().map(|o| softmax(tensor(o, SHAPE, &d), 1)));
        e
    };
    grad_check("mec", &x0, SHAPE, |x| {
        let r = tensor(&region, [1, 1, 2, 2, 3], &x.device());
        consistency(&experts(x), &r, 1e-8).mec
    });
    grad_check("rec", &x0, SHAPE, |x| {
        let r = tensor(&region, [1, 1, 2, 2, 3], &x.device());
        consistency(&experts(x), &r, 1e-8).rec
    });
}

#[test]
fn ssim_gradient_matches_finite_differences_and_ssim_of_equal_maps_is_one() {
    let b0 = pseudo_random(36, 7);
    grad_check("ssim", &pseudo_random(36, 6), SHAPE, |a| {
        ssim(a.clone(), tensor(&b0, SHAPE, &a.device())).mean()
    });
    let d = Device::flex();
    let same = to_vec(ssim(tensor(&b0, SHAPE, &d), tensor(&b0, SHAPE, &d)))[0];
    assert!((same - 1.0).abs() < 1e-5, "{same}");
}

/// A 16³ two-modality case: a bright sphere (class 1) inside a dim box (class 2).
fn synthetic_case(device: &Device) -> (Vec<Tensor<5>>, Tensor<5>) {
    let n = 16;
    let mut classes = Vec::new();
    let (mut t2, mut adc) = (Vec::new(), Vec::new());
    for z in 0..n {
        for y in 0..n {
            for x in 0..n {
                let r2 = [x, y, z]
                    .iter()
                    .map(|&c| (c as f32 - 7.5).powi(2))
                    .sum::<f32>();
                let c = if r2 < 16.0 {
                    1
                } else if (3..13).contains(&x) && (3..13).contains(&y) {
                    2
                } else {
                    0
                };
                classes.push(c as u8);
                let wobble = ((x * 7 + y * 13 + z * 3) % 5) as f32 * 0.1;
                t2.push([0.0, 2.0, 1.0][c] + wobble);
                adc.push([0.0, -1.0, 1.5][c] - wobble);
            }
        }
    }
    let x = [t2, adc]
        .map(|v| tensor(&v, [1, 1, n, n, n], device))
        .to_vec();
    (x, one_hot(&classes, 1, [n, n, n], 3, device))
}

#[test]
fn a_tiny_model_overfits_one_small_case_on_the_cpu() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let cfg = CloeConfig {
        channels: 4,
        gate_hidden: 8,
        content_channels: 4,
        style_dim: 4,
        patch: 16,
        ..CloeConfig::for_profile(Profile::Prostate)
    };
    let mut net = CloeNet::new(&cfg, &device);
    let (x, y) = synthetic_case(&device);
    let inputs: Vec<Option<Tensor<5>>> = x.into_iter().map(Some).collect();
    let mut optim = AdamConfig::new().init();
    let mut first = None;
    let mut last = f64::INFINITY;
    for step in 0..150 {
        let pred = net.forward(&inputs);
        let terms = cloe_loss(
            &net,
            &pred,
            &inputs,
            y.clone(),
            &mut cloe::train::step_rng(1, step),
        );
        let values = terms.values();
        assert!(
            values.values().iter().all(|v| v.is_finite()),
            "step {step}: {values:?}"
        );
        // The segmentation part (L_seg + α·L_ECL) is what must fit; L_contrast has its own floor (KL).
        let fit = values.seg + cfg.loss.alpha * values.ecl;
        first.get_or_insert(fit);
        last = fit;
        if fit < 0.1 * first.unwrap() {
            break;
        }
        let grads = GradientsParams::from_grads(terms.total.backward(), &net);
        net = optim.step(1e-2, net, grads);
    }
    let first = first.unwrap();
    assert!(
        last < 0.1 * first,
        "loss fell from {first} to {last}: less than 90 %"
    );
}

/// Each float parameter of a module: its values, and whether `heads` holds a gradient for it.
struct Params<'a> {
    heads: &'a GradientsParams,
    seen: Vec<(ParamId, bool, Vec<f32>)>,
}

impl ModuleVisitor for Params<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let head = self.heads.get::<D>(p.id).is_some();
        self.seen.push((p.id, head, to_vec(p.val())));
    }
}

fn params(net: &CloeNet, heads: &GradientsParams) -> Vec<(ParamId, bool, Vec<f32>)> {
    let mut v = Params {
        heads,
        seen: Vec::new(),
    };
    net.visit(&mut v);
    v.seen
}

#[test]
fn the_gate_and_the_region_head_step_at_their_own_learning_rate() {
    let device = Device::flex().autodiff();
    device.seed(5);
    // Four experts (the gate only gets a gradient when its input differs between experts) and the
    // region supervision on, so that both heads have gradients.
    let mut cfg = CloeConfig {
        channels: 4,
        gate_hidden: 8,
        content_channels: 4,
        style_dim: 4,
        patch: 16,
        gate_input: cloe::model::GateInput::Standardized,
        ..CloeConfig::for_profile(Profile::Brats)
    };
    cfg.loss.region = 1.0;
    let net = CloeNet::new(&cfg, &device);
    let (x, y) = synthetic_case(&device);
    let (t2, adc) = (x[0].clone(), x[1].clone());
    let inputs: Vec<Option<Tensor<5>>> = vec![
        Some(t2.clone()),
        Some(adc.clone()),
        Some(t2.clone().mul_scalar(0.5) + adc.clone()),
        Some(t2 - adc.mul_scalar(0.3)),
    ];
    let y = Tensor::cat(vec![y, Tensor::zeros([1, 1, 16, 16, 16], &device)], 1);
    let pred = net.forward(&inputs);
    let terms = cloe_loss(&net, &pred, &inputs, y, &mut cloe::train::step_rng(2, 0));
    let mut grads = terms.total.backward();
    let heads = net.take_head_gradients(&mut grads);
    // The gate's two layers and π, each a weight and a bias.
    assert_eq!(heads.len(), 6);
    let before = params(&net, &heads);
    assert_eq!(before.iter().filter(|p| p.1).count(), 6);
    let rest = GradientsParams::from_grads(grads, &net);
    let (lr, scale) = (1e-3, 10.0);
    let mut optim = AdamWConfig::new().with_weight_decay(0.0).init();
    let net = optim.step(lr * scale, net, heads);
    let net = optim.step(lr, net, rest);
    let after = params(&net, &GradientsParams::new());
    // Adam's first step moves each element by its learning rate times g / (|g| + ε): at most lr.
    let (mut rest_moved, mut heads_moved) = (0.0f64, 0);
    for ((id, head, b), (id2, _, a)) in before.iter().zip(&after) {
        assert_eq!(id, id2);
        let moved = b
            .iter()
            .zip(a)
            .map(|(b, a)| (a - b).abs() as f64)
            .fold(0.0, f64::max);
        if *head {
            assert!(
                moved <= 1.01 * scale * lr,
                "a head parameter moved {moved} > {}",
                scale * lr
            );
            heads_moved += usize::from(moved > 0.5 * scale * lr);
        } else {
            assert!(
                moved <= 1.01 * lr,
                "a network parameter moved {moved} > {lr}"
            );
            rest_moved = rest_moved.max(moved);
        }
    }
    assert!(
        rest_moved > 0.5 * lr,
        "the rest of the network did not step"
    );
    // All but the gate's output bias, which gets no gradient: softmax ignores a shift of every logit.
    assert_eq!(
        heads_moved, 5,
        "head parameters that stepped at lr × {scale}"
    );
}
