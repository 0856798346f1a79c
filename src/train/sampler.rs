//! Training patches (RFNet's recipe): a case, one of its modality subsets drawn uniformly, a p³ patch
//! centred on tumour a third of the time and anywhere otherwise, random flips, and per-channel intensity
//! scale (0.9–1.1) and shift (±0.1). Every draw comes from a generator seeded by (seed, step), so a
//! resumed run sees exactly the patches an uninterrupted one would.

use crate::preprocess::Sample;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One training example: z-scored channels (None where dropped or missing), classes, all p³ x fastest.
#[derive(Debug, Clone)]
pub struct Patch {
    pub case: usize,
    pub channels: Vec<Option<Vec<f32>>>,
    pub classes: Vec<u8>,
    pub mask: Vec<bool>,
}

/// What the sampler needs to know of a case.
#[derive(Debug, Clone)]
pub struct SamplerCase {
    pub sample: Sample,
    /// Indices of voxels with a tumour/organ class (label > 0).
    pub foreground: Vec<usize>,
}

impl SamplerCase {
    pub fn new(sample: Sample) -> Self {
        let foreground = sample
            .label
            .as_ref()
            .map(|l| {
                l.iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        Self { sample, foreground }
    }
}

/// The generator for one step.
pub fn step_rng(seed: u64, step: usize) -> StdRng {
    StdRng::seed_from_u64(
        seed ^ (step as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// Draws a non-empty subset of `present` uniformly.
pub fn draw_subset(rng: &mut StdRng, present: &[bool]) -> Vec<bool> {
    let idx: Vec<usize> = present
        .iter()
        .enumerate()
        .filter(|(_, p)| **p)
        .map(|(i, _)| i)
        .collect();
    let count = (1u32 << idx.len()) - 1;
    let pick = rng.random_range(1..=count);
    let mut mask = vec![false; present.len()];
    for (bit, &i) in idx.iter().enumerate() {
        mask[i] = pick >> bit & 1 == 1;
    }
    mask
}

/// Draws the patch of one step.
pub fn draw_patch(
    cases: &[SamplerCase],
    p: usize,
    tumour_fraction: f64,
    rng: &mut StdRng,
) -> Patch {
    let ci = rng.random_range(0..cases.len());
    let present: Vec<bool> = cases[ci]
        .sample
        .channels
        .iter()
        .map(Option::is_some)
        .collect();
    let mask = draw_subset(rng, &present);
    take_patch(cases, ci, mask, p, tumour_fraction, rng)
}

/// Draws the `batch` patches of one step: the first as [`draw_patch`], the others from cases that have
/// every modality of the first one's subset, with that same subset (one subset per step).
pub fn draw_batch(
    cases: &[SamplerCase],
    p: usize,
    tumour_fraction: f64,
    batch: usize,
    rng: &mut StdRng,
) -> Vec<Patch> {
    let first = draw_patch(cases, p, tumour_fraction, rng);
    let mask = first.mask.clone();
    let fits: Vec<usize> = (0..cases.len())
        .filter(|&i| {
            let channels = &cases[i].sample.channels;
            mask.iter().zip(channels).all(|(&on, c)| !on || c.is_some())
        })
        .collect();
    let mut patches = vec![first];
    for _ in 1..batch.max(1) {
        let ci = fits[rng.random_range(0..fits.len())];
        patches.push(take_patch(cases, ci, mask.clone(), p, tumour_fraction, rng));
    }
    patches
}

/// Cuts the patch of case `ci` for the subset `mask`: centred on tumour with `tumour_fraction`, random
/// flips, intensity scale and shift per modality.
fn take_patch(
    cases: &[SamplerCase],
    ci: usize,
    mask: Vec<bool>,
    p: usize,
    tumour_fraction: f64,
    rng: &mut StdRng,
) -> Patch {
    let case = &cases[ci];
    let dims = case.sample.grid.dims;
    let centre: [usize; 3] = if !case.foreground.is_empty() && rng.random_bool(tumour_fraction) {
        let i = case.foreground[rng.random_range(0..case.foreground.len())];
        [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])]
    } else {
        std::array::from_fn(|a| rng.random_range(0..dims[a]))
    };
    // Origin so that the patch holds the centre and stays inside when the volume is large enough.
    let origin: [isize; 3] = std::array::from_fn(|a| {
        let o = centre[a] as isize - (p / 2) as isize;
        if dims[a] >= p {
            o.clamp(0, (dims[a] - p) as isize)
        } else {
            -(((p - dims[a]) / 2) as isize)
        }
    });
    let flips: [bool; 3] = std::array::from_fn(|_| rng.random_bool(0.5));
    let take = |data: &dyn Fn(usize) -> f32| -> Vec<f32> {
        let mut out = Vec::with_capacity(p * p * p);
        for z in 0..p {
            for y in 0..p {
                for x in 0..p {
                    let q = [x, y, z];
                    let src: [isize; 3] = std::array::from_fn(|a| {
                        origin[a]
                            + if flips[a] {
                                (p - 1 - q[a]) as isize
                            } else {
                                q[a] as isize
                            }
                    });
                    let inside = (0..3).all(|a| src[a] >= 0 && (src[a] as usize) < dims[a]);
                    out.push(if inside {
                        data(
                            src[0] as usize
                                + dims[0] * (src[1] as usize + dims[1] * src[2] as usize),
                        )
                    } else {
                        0.0
                    });
                }
            }
        }
        out
    };
    let channels = case
        .sample
        .channels
        .iter()
        .zip(&mask)
        .map(|(c, &on)| {
            let c = c.as_ref().filter(|_| on)?;
            let (scale, shift) = (
                rng.random_range(0.9..1.1f32),
                rng.random_range(-0.1..0.1f32),
            );
            Some(
                take(&|i| c[i])
                    .into_iter()
                    .map(|v| if v != 0.0 { v * scale + shift } else { 0.0 })
                    .collect(),
            )
        })
        .collect();
    let classes = match &case.sample.label {
        Some(l) => take(&|i| l[i] as f32)
            .into_iter()
            .map(|c| c as u8)
            .collect(),
        None => vec![0; p * p * p],
    };
    Patch {
        case: ci,
        channels,
        classes,
        mask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_uniform_over_the_present_modalities() {
        let mut rng = step_rng(1, 0);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..15000 {
            *counts
                .entry(draw_subset(&mut rng, &[true, true, false, true]))
                .or_insert(0) += 1;
        }
        assert_eq!(
            counts.len(),
            7,
            "all 7 subsets of 3 present modalities, never the missing one"
        );
        assert!(counts.keys().all(|m| !m[2]));
        assert!(
            counts.values().all(|&c| (1700..2600).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn the_same_step_draws_the_same_patch() {
        let a: Vec<u32> = (0..5).map(|_| step_rng(9, 42).random()).collect();
        let b: Vec<u32> = (0..5).map(|_| step_rng(9, 42).random()).collect();
        assert_eq!(a, b);
        assert_ne!(
            step_rng(9, 43).random::<u64>(),
            step_rng(9, 42).random::<u64>()
        );
    }
}
