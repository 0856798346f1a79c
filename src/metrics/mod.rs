//! Segmentation metrics with the BraTS conventions: Dice (empty prediction and empty truth = 1) and HD95
//! in mm (the larger of the two directed 95th-percentile surface distances; 373.13 mm when exactly one
//! side is empty), per region, and the table over modality subsets.

mod distance;
mod label_measures;
mod report;
mod table;

pub use distance::surface;
pub use label_measures::{LabelMeasures, Lesion, lesions, measure_labels};
pub use report::{LesionMeasure, MeasurementReport, RegionMeasure, csv_field};
pub use table::SubsetTable;

use crate::case::Profile;
use crate::stats::percentiles;
use distance::squared_distance_to;

/// HD95 when exactly one of the two masks is empty: the diagonal of a 240x240x155 mm BraTS volume.
pub const EMPTY_HD95: f64 = 373.13;

/// Per region of `profile`, the masks of the region in two class maps (training classes).
fn region_masks<'a>(
    profile: Profile,
    pred: &'a [u8],
    truth: &'a [u8],
) -> impl Iterator<Item = (Vec<bool>, Vec<bool>)> + 'a {
    profile.regions().iter().map(move |region| {
        let inside = |c: &u8| region.classes.contains(c);
        (
            pred.iter().map(inside).collect(),
            truth.iter().map(inside).collect(),
        )
    })
}

/// Dice of each of `profile`'s regions between two class maps; a region empty in both scores 1, as
/// BraTS counts it.
pub fn region_dice(profile: Profile, pred: &[u8], truth: &[u8]) -> Vec<f64> {
    region_masks(profile, pred, truth)
        .map(|(p, t)| dice(&p, &t))
        .collect()
}

/// Dice and HD95 (mm) of each of `profile`'s regions between two class maps on a grid of `dims` and
/// `spacing`.
pub fn region_scores(
    profile: Profile,
    pred: &[u8],
    truth: &[u8],
    dims: [usize; 3],
    spacing: [f64; 3],
) -> Vec<(f64, f64)> {
    region_masks(profile, pred, truth)
        .map(|(p, t)| (dice(&p, &t), hd95(&p, &t, dims, spacing)))
        .collect()
}

/// Dice of two masks; 1 when both are empty.
pub fn dice(pred: &[bool], truth: &[bool]) -> f64 {
    let (mut both, mut p, mut t) = (0usize, 0usize, 0usize);
    for (&a, &b) in pred.iter().zip(truth) {
        both += (a && b) as usize;
        p += a as usize;
        t += b as usize;
    }
    if p + t == 0 {
        1.0
    } else {
        2.0 * both as f64 / (p + t) as f64
    }
}

/// HD95 in mm between two masks on a grid of `dims` with `spacing`.
pub fn hd95(pred: &[bool], truth: &[bool], dims: [usize; 3], spacing: [f64; 3]) -> f64 {
    let (any_p, any_t) = (pred.iter().any(|&b| b), truth.iter().any(|&b| b));
    match (any_p, any_t) {
        (false, false) => return 0.0,
        (true, false) | (false, true) => return EMPTY_HD95,
        _ => {}
    }
    // Work inside the box around both masks: every site and every query lies there.
    let (lo, hi) = union_box(pred, truth, dims);
    let sub = std::array::from_fn(|a| hi[a] - lo[a] + 1);
    let crop = |m: &[bool]| -> Vec<bool> {
        let mut out = Vec::with_capacity(sub.iter().product());
        for z in lo[2]..=hi[2] {
            for y in lo[1]..=hi[1] {
                let row = dims[0] * (y + dims[1] * z);
                out.extend_from_slice(&m[row + lo[0]..=row + hi[0]]);
            }
        }
        out
    };
    let (sp, st) = (surface(&crop(pred), sub), surface(&crop(truth), sub));
    let directed = |from: &[bool], to: &[bool]| -> f64 {
        let d2 = squared_distance_to(to, sub, spacing);
        let mut d: Vec<f32> = from
            .iter()
            .zip(&d2)
            .filter(|(f, _)| **f)
            .map(|(_, v)| v.sqrt() as f32)
            .collect();
        percentiles(&mut d, &[95.0])[0]
    };
    directed(&sp, &st).max(directed(&st, &sp))
}

fn union_box(a: &[bool], b: &[bool], dims: [usize; 3]) -> ([usize; 3], [usize; 3]) {
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    for (i, _) in a.iter().zip(b).enumerate().filter(|(_, (x, y))| **x || **y) {
        let p = [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])];
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brats_conventions_for_empty_masks() {
        assert_eq!(dice(&[false; 4], &[false; 4]), 1.0);
        assert_eq!(dice(&[true, false], &[false, false]), 0.0);
        assert_eq!(hd95(&[false; 8], &[false; 8], [2, 2, 2], [1.0; 3]), 0.0);
        assert_eq!(
            hd95(&[true; 8], &[false; 8], [2, 2, 2], [1.0; 3]),
            EMPTY_HD95
        );
    }

    #[test]
    fn a_shifted_block_by_hand() {
        // Two 1x1x3 bars along z, 2 voxels apart in x, spacing 1.5 mm in x: every surface distance is 3 mm.
        let dims = [4, 1, 3];
        let bar = |x: usize| (0..12).map(|i| i % 4 == x).collect::<Vec<_>>();
        assert_eq!(hd95(&bar(0), &bar(2), dims, [1.5, 1.0, 1.0]), 3.0);
        assert_eq!(dice(&bar(0), &bar(0)), 1.0);
    }
}
