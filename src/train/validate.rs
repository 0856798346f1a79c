//! Validation during training: on each validation case, the p³ window around the tumour's centre, the
//! experts once and the fusion for every availability subset; the score is the mean Dice over cases,
//! subsets and regions (WT/TC/ET for BraTS). `cloe eval` does the full sliding-window evaluation.

use super::sampler::{SamplerCase, window_origin};
use crate::case::Subset;
use crate::infer::argmax_flat;
use crate::metrics::region_dice;
use crate::model::{CloeNet, Expert, to_vec, volume_tensor};
use burn::prelude::*;

/// Mean Dice per region over cases and subsets, and their mean.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Validation {
    pub per_region: Vec<f64>,
    pub score: f64,
}

/// The p³ window origin around the centre of a case's foreground (or the volume's centre).
fn window(case: &SamplerCase, p: usize) -> [isize; 3] {
    let dims = case.dims;
    let centre: [usize; 3] = if case.foreground.is_empty() {
        dims.map(|d| d / 2)
    } else {
        let n = case.foreground.len();
        let mut sum = [0usize; 3];
        for &i in &case.foreground {
            let q = [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])];
            (0..3).for_each(|a| sum[a] += q[a]);
        }
        sum.map(|s| s / n)
    };
    window_origin(dims, centre, p)
}

fn crop(data: &dyn Fn(usize) -> f32, dims: [usize; 3], origin: [isize; 3], p: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(p * p * p);
    for z in 0..p as isize {
        for y in 0..p as isize {
            for x in 0..p as isize {
                let s = [origin[0] + x, origin[1] + y, origin[2] + z];
                let inside = (0..3).all(|a| s[a] >= 0 && (s[a] as usize) < dims[a]);
                out.push(if inside {
                    data(s[0] as usize + dims[0] * (s[1] as usize + dims[1] * s[2] as usize))
                } else {
                    0.0
                });
            }
        }
    }
    out
}

/// Validates `net` (inference mode) on `cases` on `device`.
pub fn validate(net: &CloeNet, cases: &[SamplerCase], device: &Device) -> Validation {
    let cfg = net.config();
    let (p, profile) = (cfg.patch, cfg.profile);
    let regions = profile.regions();
    let mut sums = vec![0.0; regions.len()];
    let mut count = 0usize;
    for case in cases {
        let dims = case.dims;
        let origin = window(case, p);
        let Some(label) = &case.label else {
            continue;
        };
        let truth: Vec<u8> = crop(&|i| label[i] as f32, dims, origin, p)
            .into_iter()
            .map(|c| c as u8)
            .collect();
        let inputs: Vec<Option<Tensor<5>>> = case
            .channels
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|c| volume_tensor(&crop(&|i| c[i], dims, origin, p), [p; 3], device))
            })
            .collect();
        let experts: Vec<Option<Expert>> = net.experts(&inputs);
        let present: Vec<bool> = experts.iter().map(Option::is_some).collect();
        let present = Subset::from_mask(profile, &present);
        for subset in Subset::every(profile)
            .into_iter()
            .filter(|s| s.is_subset_of(&present))
        {
            let refs: Vec<Option<&Expert>> = experts
                .iter()
                .enumerate()
                .map(|(m, e)| e.as_ref().filter(|_| subset.contains(m)))
                .collect();
            let probs = to_vec(net.fuse(&refs).probs);
            let pred = argmax_flat(&probs, cfg.classes);
            for (sum, d) in sums.iter_mut().zip(region_dice(profile, &pred, &truth)) {
                *sum += d;
            }
            count += 1;
        }
    }
    let per_region: Vec<f64> = sums.iter().map(|s| s / count.max(1) as f64).collect();
    let score = per_region.iter().sum::<f64>() / per_region.len().max(1) as f64;
    Validation { per_region, score }
}
