//! The losses of CLoE (eq. 8–11): L_total = L_seg + α·L_ECL + β·L_contrast, every term also returned on
//! its own so training can log and plot it.

mod contrast;
mod seg;

pub use contrast::{ContrastTerms, ssim};
pub use seg::{one_hot, soft_dice, weighted_ce};

use crate::model::{CloeNet, Prediction};
use burn::prelude::*;
use contrast::contrast_terms;
use rand::Rng;
use seg::{downsample_target, region_soft_dice};

/// The terms of L_total, listed once: each becomes a `[1]` tensor of [`LossTerms`] (in the autodiff
/// graph when training), a number of [`LossValues`], and a column of the training log, in this order.
macro_rules! loss_terms {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Every term of L_total, as `[1]` tensors (in the autodiff graph when training).
        #[derive(Debug, Clone)]
        pub struct LossTerms {
            $($(#[doc = $doc])* pub $name: Tensor<1>,)*
        }

        /// The terms as numbers, for logs and plots.
        #[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct LossValues {
            $($(#[doc = $doc])* pub $name: f64,)*
        }

        impl LossValues {
            /// Column names, in the order of [`LossValues::values`].
            pub const NAMES: [&'static str; [$(stringify!($name)),*].len()] = [$(stringify!($name)),*];

            /// The values in the order of [`LossValues::NAMES`].
            pub fn values(&self) -> [f64; Self::NAMES.len()] {
                [$(self.$name),*]
            }
        }

        impl LossTerms {
            /// Reads every term back (one device sync).
            pub fn values(&self) -> LossValues {
                let all = Tensor::cat(vec![$(self.$name.clone()),*], 0);
                let mut v = crate::model::to_vec(all).into_iter().map(f64::from);
                LossValues {
                    $($name: v.next().expect("one value per term"),)*
                }
            }
        }
    };
}

loss_terms! {
    total,
    /// L_seg (eq. 9) of the fused prediction (with deep supervision, over its scales).
    seg,
    /// Σ over available experts of WCE + Dice (first part of eq. 8).
    experts,
    mec,
    rec,
    /// L_ECL (eq. 8).
    ecl,
    /// L_contrast (eq. 10) and its parts.
    contrast,
    content,
    style,
    reconstruction,
    kl,
    /// The region-map supervision (binary cross-entropy of r against the foreground), 0 when its
    /// weight `LossWeights::region` is 0 (the paper: off).
    region,
}

/// WCE + soft Dice of probabilities against a one-hot target, plus the region Dice with weight
/// `region_dice` over `regions` (each a set of classes).
pub fn seg_loss(
    probs: Tensor<5>,
    target: Tensor<5>,
    regions: &[&[u8]],
    region_dice: f64,
) -> Tensor<1> {
    let classes =
        weighted_ce(probs.clone(), target.clone()) + soft_dice(probs.clone(), target.clone());
    if region_dice > 0.0 {
        classes + region_soft_dice(probs, target, regions).mul_scalar(region_dice)
    } else {
        classes
    }
}

/// The segmentation loss of the fused prediction: at full resolution, and with deep supervision also
/// at 1/2 and 1/4 against the downsampled target, weighted 1, ½, ¼ and normalised (nnU-Net).
fn fused_seg_loss(
    fusion: &crate::model::Fusion,
    target: Tensor<5>,
    regions: &[&[u8]],
    region_dice: f64,
) -> Tensor<1> {
    let full = seg_loss(fusion.probs.clone(), target.clone(), regions, region_dice);
    if fusion.deep_logits.is_empty() {
        return full;
    }
    // deep_logits are ordered coarse to fine: 1/4, then 1/2.
    let half = downsample_target(target);
    let quarter = downsample_target(half.clone());
    let mut total = full;
    let mut weights = 1.0;
    for (logits, (t, w)) in fusion
        .deep_logits
        .iter()
        .zip([(quarter, 0.25), (half, 0.5)])
    {
        let probs = burn::tensor::activation::softmax(logits.clone(), 1);
        total = total + seg_loss(probs, t, regions, region_dice).mul_scalar(w);
        weights += w;
    }
    total.div_scalar(weights)
}

/// Standard normal values `[b, n]` on `device` from `rng` (Box–Muller), so a training step's style
/// samples come from the step's own seeded generator and not from the device's shared one.
pub fn normal_noise(rng: &mut impl Rng, [b, n]: [usize; 2], device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..b * n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
            let u2: f64 = rng.random();
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [b, n]), device)
}

/// L_total of a prediction made by `model` from `inputs` (None where missing) against `target`
/// (one-hot `[B, K, D, H, W]`). The contrastive codes are drawn here, their style latents sampled with
/// noise from `rng`.
pub fn cloe_loss(
    model: &CloeNet,
    pred: &Prediction,
    inputs: &[Option<Tensor<5>>],
    target: Tensor<5>,
    rng: &mut impl Rng,
) -> LossTerms {
    let cfg = model.config();
    let w = cfg.loss;
    let device = target.device();
    let zero = || Tensor::<1>::zeros([1], &device);
    let regions: Vec<&[u8]> = cfg.profile.regions().iter().map(|r| r.classes).collect();
    let seg = fused_seg_loss(&pred.fusion, target.clone(), &regions, w.region_dice);
    let experts = pred
        .experts
        .iter()
        .flatten()
        .map(|e| seg_loss(e.probs.clone(), target.clone(), &regions, w.region_dice))
        .reduce(|a, b| a + b)
        .unwrap_or_else(zero);
    let mec = if cfg.ablation.mec {
        pred.fusion.mec.clone()
    } else {
        zero()
    };
    let rec = if cfg.ablation.rec {
        pred.fusion.rec.clone()
    } else {
        zero()
    };
    let ecl =
        experts.clone() + (mec.clone() + rec.clone().mul_scalar(w.lambda_rec)).mul_scalar(w.eta);
    let (contrast, parts) = if w.beta > 0.0 {
        contrastive(model, pred, inputs, target.dims()[0], rng)
    } else {
        let zeros = ContrastTerms {
            content: zero(),
            style: zero(),
            reconstruction: zero(),
            kl: zero(),
        };
        (zero(), zeros)
    };
    let region = if w.region > 0.0 {
        region_supervision(pred.fusion.region.clone(), target.clone())
    } else {
        zero()
    };
    let total = seg.clone()
        + ecl.clone().mul_scalar(w.alpha)
        + contrast.clone().mul_scalar(w.beta)
        + region.clone().mul_scalar(w.region);
    LossTerms {
        total,
        seg,
        experts,
        mec,
        rec,
        ecl,
        contrast,
        content: parts.content,
        style: parts.style,
        reconstruction: parts.reconstruction,
        kl: parts.kl,
        region,
    }
}

/// L_contrast of the available experts (their content and style codes, the style latents sampled with
/// noise from `rng`) and its parts.
fn contrastive(
    model: &CloeNet,
    pred: &Prediction,
    inputs: &[Option<Tensor<5>>],
    batch: usize,
    rng: &mut impl Rng,
) -> (Tensor<1>, ContrastTerms) {
    let w = model.config().loss;
    let available: Vec<(Tensor<5>, &crate::model::Expert)> = (inputs.iter().zip(&pred.experts))
        .filter_map(|(x, e)| Some((x.clone()?, e.as_ref()?)))
        .collect();
    let shape = [batch, model.config().style_dim];
    let codes: Vec<_> = (available.iter())
        .map(|(x, e)| model.codes(e, Some(normal_noise(rng, shape, &x.device()))))
        .collect();
    let xs: Vec<Tensor<5>> = available.iter().map(|(x, _)| x.clone()).collect();
    let t = contrast_terms(&codes, &xs, w.tau);
    let total = t.content.clone()
        + t.style.clone()
        + (t.reconstruction.clone() + t.kl.clone().mul_scalar(w.kl)).mul_scalar(w.gamma);
    (total, t)
}

/// Binary cross-entropy of the REC region map r (`[B, 1, D, H, W]`) against the foreground of the
/// one-hot `target` (every class but background), r clamped to [1e-4, 1 − 1e-4]: an auxiliary term,
/// in the spirit of RFNet's region-aware prior, that ties r to the tumour instead of letting it settle
/// where the experts already agree.
pub fn region_supervision(r: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
    let [b, k, d, h, w] = target.dims();
    let fg = target.narrow(1, 1, k - 1).sum_dim(1);
    let r = r.clamp(1e-4, 1.0 - 1e-4).reshape([b, 1, d, h, w]);
    let pos = fg.clone() * r.clone().log();
    let neg = fg.neg().add_scalar(1.0) * r.neg().add_scalar(1.0).log();
    (pos + neg).mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn region_supervision_by_hand() {
        let device = Device::flex();
        // Two voxels, classes background/tumour: r = [0.9, 0.2] against foreground [1, 0]:
        // −(ln 0.9 + ln 0.8) / 2.
        let r =
            Tensor::<5>::from_data(TensorData::new(vec![0.9f32, 0.2], [1, 1, 1, 1, 2]), &device);
        let target = Tensor::<5>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [1, 2, 1, 1, 2]),
            &device,
        );
        let got = crate::model::to_vec(region_supervision(r, target))[0] as f64;
        let want = -(0.9f64.ln() + 0.8f64.ln()) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn normal_noise_is_standard_normal_and_seeded() {
        let device = Device::flex();
        let draw = |seed| {
            crate::model::to_vec(normal_noise(
                &mut rand::rngs::StdRng::seed_from_u64(seed),
                [100, 100],
                &device,
            ))
        };
        let v = draw(1);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        // 10 000 draws: the mean within 4 standard errors (0.04) of 0, the variance within 0.06 of 1.
        assert!(
            mean.abs() < 0.04 && (var - 1.0).abs() < 0.06,
            "{mean} {var}"
        );
        assert_eq!(v, draw(1));
        assert_ne!(v, draw(2));
    }
}
