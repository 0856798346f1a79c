//! Training patches (RFNet's recipe with nnU-Net's augmentations): a case, one of its modality subsets
//! drawn uniformly, a p³ patch centred on tumour a third of the time (on a voxel of a foreground class
//! drawn uniformly among the classes the case has, as nnU-Net oversamples) and anywhere otherwise,
//! random flips, nnU-Net's rotation and zoom ([`super::spatial`]), and per channel gamma (p 0.3), scale
//! (0.9–1.1) and shift (±0.1), Gaussian noise (p 0.1). Every draw comes from a generator seeded by
//! (seed, step), so a resumed run sees exactly the patches an uninterrupted one would.

use super::spatial::{Interpolation, Placement, Spatial, resample_patch};
use crate::case::{Profile, Subset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One training example: z-scored channels (None where dropped or missing), classes, all p³ x fastest.
#[derive(Debug, Clone)]
pub struct Patch {
    pub case: usize,
    pub channels: Vec<Option<Vec<f32>>>,
    pub classes: Vec<u8>,
    pub subset: Subset,
}

/// What the sampler needs to know of a case: its prepared channels and classes at the model spacing.
#[derive(Debug, Clone)]
pub struct SamplerCase {
    pub profile: Profile,
    /// Grid dims `[x, y, z]`.
    pub dims: [usize; 3],
    /// One z-scored channel per profile modality (x fastest); `None` where missing.
    pub channels: Vec<Option<Vec<f32>>>,
    /// Training classes, when the case has a label map.
    pub label: Option<Vec<u8>>,
    /// Indices of voxels with a tumour/organ class (label > 0).
    pub foreground: Vec<usize>,
    /// Indices of the voxels of each foreground class present in the label map (empty classes left
    /// out), for class-balanced oversampling.
    pub class_voxels: Vec<Vec<usize>>,
}

impl SamplerCase {
    pub fn new(
        profile: Profile,
        dims: [usize; 3],
        channels: Vec<Option<Vec<f32>>>,
        label: Option<Vec<u8>>,
    ) -> Self {
        let k = profile.classes().len();
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, &c) in label.iter().flatten().enumerate() {
            if c > 0 {
                by_class[(c as usize).min(k - 1)].push(i);
            }
        }
        let mut foreground: Vec<usize> = by_class.concat();
        foreground.sort_unstable();
        let class_voxels = by_class.into_iter().filter(|v| !v.is_empty()).collect();
        Self {
            profile,
            dims,
            channels,
            label,
            foreground,
            class_voxels,
        }
    }

    /// Which modalities the case has.
    pub fn present(&self) -> Subset {
        let on: Vec<bool> = self.channels.iter().map(Option::is_some).collect();
        Subset::from_mask(self.profile, &on)
    }
}

/// Where and how a patch is cut: the draws of one patch, so the host ([`cut`]) and a device
/// ([`super::DeviceCases`]) cut exactly the same one.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchSpec {
    pub case: usize,
    /// The subset of modalities.
    pub subset: Subset,
    /// Voxel of the case grid at the patch's (0, 0, 0), `[x, y, z]`; negative when the case is smaller
    /// than the patch along an axis (it is then centred, the rest is 0).
    pub origin: [isize; 3],
    pub flips: [bool; 3],
    /// Rotation and zoom about the patch's centre (None: the plain window, cut on the device).
    pub spatial: Option<Spatial>,
    /// Per modality of the subset, the intensity augmentation of its non-zero voxels.
    pub jitter: Vec<Option<Intensity>>,
}

impl PatchSpec {
    /// Where the patch reads the case (the centre of its window, the spatial transform, the flips).
    pub fn placement(&self, p: usize) -> Placement {
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        Placement {
            centre: self.origin.map(|o| o as f32 + (p as f32 - 1.0) / 2.0),
            matrix: self.spatial.map_or(identity, |s| s.matrix()),
            flips: self.flips,
        }
    }
}

/// The intensity augmentation of one modality of a patch, on its non-zero voxels (background stays
/// 0), in this order: nnU-Net's gamma on the patch's non-zero range, scale and shift, Gaussian noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intensity {
    pub scale: f32,
    pub shift: f32,
    /// γ (drawn with probability 0.3 from [0.7, 1.5], as nnU-Net).
    pub gamma: Option<f32>,
    /// σ and the seed of the noise values (probability 0.1, σ from [0, 0.1], as nnU-Net).
    pub noise: Option<(f32, u64)>,
}

impl Intensity {
    fn draw(rng: &mut StdRng) -> Self {
        let (scale, shift) = (
            rng.random_range(0.9..1.1f32),
            rng.random_range(-0.1..0.1f32),
        );
        let gamma = rng.random_bool(0.3).then(|| rng.random_range(0.7..1.5f32));
        let noise = rng
            .random_bool(0.1)
            .then(|| (rng.random_range(0.0..0.1f32), rng.random::<u64>()));
        Self {
            scale,
            shift,
            gamma,
            noise,
        }
    }

    /// The noise values of a patch of `n` voxels (standard normal, times σ), when there is noise.
    pub fn noise_values(&self, n: usize) -> Option<Vec<f32>> {
        let (sigma, seed) = self.noise?;
        let mut rng = StdRng::seed_from_u64(seed);
        Some(
            (0..n)
                .map(|_| {
                    let u1: f64 = 1.0 - rng.random::<f64>();
                    let u2: f64 = rng.random();
                    sigma * ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                })
                .collect(),
        )
    }

    /// Applies the augmentation to a patch on the host (the reference of the device's).
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in x.iter().filter(|v| **v != 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let range = hi - lo + 1e-7;
        let noise = self.noise_values(x.len());
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                if v == 0.0 {
                    return 0.0;
                }
                let g = match self.gamma {
                    Some(g) => ((v - lo) / range).powf(g) * range + lo,
                    None => v,
                };
                let y = g * self.scale + self.shift;
                y + noise.as_ref().map_or(0.0, |n| n[i])
            })
            .collect()
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
pub fn draw_subset(rng: &mut StdRng, present: &Subset) -> Subset {
    let idx: Vec<usize> = present.indices().collect();
    let count = (1u32 << idx.len()) - 1;
    let pick = rng.random_range(1..=count);
    let mut drawn = Subset::none(present.profile());
    for (bit, &i) in idx.iter().enumerate() {
        drawn = drawn.with(i, pick >> bit & 1 == 1);
    }
    drawn
}

/// Draws the patch of one step.
pub fn draw_patch(
    cases: &[SamplerCase],
    p: usize,
    tumour_fraction: f64,
    rng: &mut StdRng,
) -> PatchSpec {
    let ci = rng.random_range(0..cases.len());
    let subset = draw_subset(rng, &cases[ci].present());
    draw_spec(&cases[ci], ci, subset, p, tumour_fraction, rng)
}

/// Draws the `batch` patches of one step: the first as [`draw_patch`], the others from cases that have
/// every modality of the first one's subset, with that same subset (one subset per step).
pub fn draw_batch(
    cases: &[SamplerCase],
    p: usize,
    tumour_fraction: f64,
    batch: usize,
    rng: &mut StdRng,
) -> Vec<PatchSpec> {
    let first = draw_patch(cases, p, tumour_fraction, rng);
    let subset = first.subset.clone();
    let fits: Vec<usize> = (0..cases.len())
        .filter(|&i| subset.is_subset_of(&cases[i].present()))
        .collect();
    let mut specs = vec![first];
    for _ in 1..batch.max(1) {
        let ci = fits[rng.random_range(0..fits.len())];
        specs.push(draw_spec(
            &cases[ci],
            ci,
            subset.clone(),
            p,
            tumour_fraction,
            rng,
        ));
    }
    specs
}

/// Draws the patch of case `ci` for `subset`: centred on tumour with `tumour_fraction` (a class drawn
/// first, then one of its voxels), random flips, rotation and zoom, intensity jitter per modality.
fn draw_spec(
    case: &SamplerCase,
    ci: usize,
    subset: Subset,
    p: usize,
    tumour_fraction: f64,
    rng: &mut StdRng,
) -> PatchSpec {
    let dims = case.dims;
    let classes = &case.class_voxels;
    let centre: [usize; 3] = if !classes.is_empty() && rng.random_bool(tumour_fraction) {
        let voxels = &classes[rng.random_range(0..classes.len())];
        let i = voxels[rng.random_range(0..voxels.len())];
        [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])]
    } else {
        std::array::from_fn(|a| rng.random_range(0..dims[a]))
    };
    let origin = window_origin(dims, centre, p);
    let flips: [bool; 3] = std::array::from_fn(|_| rng.random_bool(0.5));
    let spatial = Spatial::draw(rng);
    let jitter = case
        .channels
        .iter()
        .enumerate()
        .map(|(m, c)| (subset.contains(m) && c.is_some()).then(|| Intensity::draw(rng)))
        .collect();
    PatchSpec {
        case: ci,
        subset,
        origin,
        flips,
        spatial,
        jitter,
    }
}

/// Origin of the p³ window that holds `centre` and stays inside when the volume is large enough
/// (centred on the volume along axes shorter than p).
pub fn window_origin(dims: [usize; 3], centre: [usize; 3], p: usize) -> [isize; 3] {
    std::array::from_fn(|a| {
        let o = centre[a] as isize - (p / 2) as isize;
        if dims[a] >= p {
            o.clamp(0, (dims[a] - p) as isize)
        } else {
            -(((p - dims[a]) / 2) as isize)
        }
    })
}

/// Cuts the patch `spec` on the host (the reference for the device cut, and the cut of patches with a
/// spatial transform).
pub fn cut(cases: &[SamplerCase], spec: &PatchSpec, p: usize) -> Patch {
    let case = &cases[spec.case];
    let at = spec.placement(p);
    let take = |data: &[f32], how| resample_patch(data, case.dims, &at, p, how);
    let channels = case
        .channels
        .iter()
        .zip(&spec.jitter)
        .map(|(c, j)| {
            Some(
                j.as_ref()?
                    .apply(&take(c.as_ref()?, Interpolation::Trilinear)),
            )
        })
        .collect();
    let classes = match &case.label {
        Some(l) => {
            let l: Vec<f32> = l.iter().map(|&c| c as f32).collect();
            take(&l, Interpolation::Nearest)
                .into_iter()
                .map(|c| c as u8)
                .collect()
        }
        None => vec![0; p * p * p],
    };
    Patch {
        case: spec.case,
        channels,
        classes,
        subset: spec.subset.clone(),
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
                .entry(draw_subset(
                    &mut rng,
                    &Subset::from_mask(Profile::Brats, &[true, true, false, true]),
                ))
                .or_insert(0) += 1;
        }
        assert_eq!(
            counts.len(),
            7,
            "all 7 subsets of 3 present modalities, never the missing one"
        );
        assert!(counts.keys().all(|m| !m.contains(2)));
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
