//! What a reader measures of a segmentation, as ITK-SNAP and 3D Slicer show it and as `cloe eval`
//! scores it: each region's volume in ml; against a ground truth, Dice and HD95 per region; and the
//! lesions, the connected components of the outermost region largest first, with a voxel inside each
//! to jump to. The viewer's measurements panel shows these.

use crate::case::Profile;
use crate::postprocess::components;
use crate::volume::Grid;

/// A connected component of the outermost region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lesion {
    /// The component's voxel nearest to its centroid (inside it, so a crosshair there lands on it).
    pub centre: [usize; 3],
    /// Its centroid in voxel coordinates.
    pub centroid: [f64; 3],
    pub ml: f64,
}

/// The measurements of one label map.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMeasures {
    /// Volume of each region of the profile in ml.
    pub volumes: Vec<f64>,
    /// Dice per region against the ground truth, when one was given.
    pub dice: Option<Vec<f64>>,
    /// HD95 (mm) per region against the ground truth, when one was given.
    pub hd95: Option<Vec<f64>>,
    /// Largest first.
    pub lesions: Vec<Lesion>,
}

/// Measures `labels` (training classes on `grid`), against `truth` when given.
pub fn measure_labels(
    profile: Profile,
    grid: &Grid,
    labels: &[u8],
    truth: Option<&[u8]>,
) -> LabelMeasures {
    let (dims, ml) = (grid.dims, grid.voxel_ml());
    let volumes = (profile.regions().iter())
        .map(|r| labels.iter().filter(|c| r.classes.contains(c)).count() as f64 * ml)
        .collect();
    let dice = truth.map(|t| super::region_dice(profile, labels, t));
    let hd95 = truth.map(|t| {
        super::region_scores(profile, labels, t, dims, grid.spacing())
            .into_iter()
            .map(|(_, hd)| hd)
            .collect()
    });
    let outer = &profile.regions()[0];
    let mask: Vec<bool> = labels.iter().map(|c| outer.classes.contains(c)).collect();
    LabelMeasures {
        volumes,
        dice,
        hd95,
        lesions: lesions(&mask, dims, ml),
    }
}

/// The connected components of `mask` (6-connected), largest first.
pub fn lesions(mask: &[bool], dims: [usize; 3], voxel_ml: f64) -> Vec<Lesion> {
    let (labels, sizes) = components(mask, dims);
    let mut sums = vec![[0.0f64; 3]; sizes.len()];
    let xyz = |i: usize| [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])];
    for (i, &l) in labels.iter().enumerate().filter(|(_, l)| **l > 0) {
        let p = xyz(i);
        (0..3).for_each(|a| sums[l as usize][a] += p[a] as f64);
    }
    let centroids: Vec<[f64; 3]> = (sums.iter().zip(&sizes))
        .map(|(s, &n)| s.map(|v| v / n.max(1) as f64))
        .collect();
    let mut best = vec![(f64::INFINITY, 0usize); sizes.len()];
    for (i, &l) in labels.iter().enumerate().filter(|(_, l)| **l > 0) {
        let (p, c) = (xyz(i), centroids[l as usize]);
        let d: f64 = (0..3).map(|a| (p[a] as f64 - c[a]).powi(2)).sum();
        if d < best[l as usize].0 {
            best[l as usize] = (d, i);
        }
    }
    let mut out: Vec<Lesion> = (1..sizes.len())
        .map(|l| Lesion {
            centre: xyz(best[l].1),
            centroid: centroids[l],
            ml: sizes[l] as f64 * voxel_ml,
        })
        .collect();
    out.sort_by(|a, b| b.ml.total_cmp(&a.ml));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesions_largest_first_with_their_centres() {
        // A row of 12: a 2-voxel lesion at 1..3, a 5-voxel lesion at 5..10.
        let mut mask = vec![false; 12];
        for i in [1, 2, 5, 6, 7, 8, 9] {
            mask[i] = true;
        }
        let found = lesions(&mask, [12, 1, 1], 0.5);
        let as_pairs: Vec<([usize; 3], f64)> = found.iter().map(|l| (l.centre, l.ml)).collect();
        assert_eq!(as_pairs, vec![([7, 0, 0], 2.5), ([1, 0, 0], 1.0)]);
    }

    #[test]
    fn volumes_and_scores_of_a_small_map() {
        let grid = Grid::new(
            [4, 1, 1],
            crate::geometry::Affine::from_spacing([2.0, 1.0, 1.0], [0.0; 3]),
        );
        // BraTS training classes: 1 NCR, 2 ED, 3 ET; WT = {1,2,3}, TC = {1,3}, ET = {3}.
        let labels = [0u8, 2, 1, 3];
        let m = measure_labels(Profile::Brats, &grid, &labels, Some(&labels));
        for (got, want) in m.volumes.iter().zip([0.006, 0.004, 0.002]) {
            assert!((got - want).abs() < 1e-12, "{:?}", m.volumes);
        }
        assert_eq!(m.dice, Some(vec![1.0, 1.0, 1.0]));
        assert_eq!(m.hd95, Some(vec![0.0, 0.0, 0.0]));
        assert_eq!(m.lesions.len(), 1);
        assert!(
            measure_labels(Profile::Brats, &grid, &labels, None)
                .dice
                .is_none()
        );
    }
}
