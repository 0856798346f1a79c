//! Post-processing of a segmentation as nnU-Net decides it: per region, keep only the largest connected
//! component (6-connectivity, as scipy's default) when that raised Dice on the validation cases. The
//! removed voxels take the enclosing region's class (`Region::removed_to`: a stray ET island becomes
//! NCR/NET, a stray WT island background). The decision is part of the model (`CloeConfig::postprocess`)
//! so `segment`, `eval` and the viewer apply the same.

use crate::case::Profile;
use serde::{Deserialize, Serialize};

/// What is done to each region of the profile, in the profile's region order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PostProcess {
    /// Region names (`WT`, `TC`, `ET`; `PZ`, `TZ`) whose smaller connected components are removed.
    pub keep_largest: Vec<String>,
}

impl PostProcess {
    /// Nothing removed.
    pub fn none() -> Self {
        Self::default()
    }

    /// True when nothing is done.
    pub fn is_none(&self) -> bool {
        self.keep_largest.is_empty()
    }

    /// Applies the rules to `classes` (training classes on a grid of `dims`), outer regions first.
    pub fn apply(&self, profile: Profile, classes: &mut [u8], dims: [usize; 3]) {
        for region in profile.regions() {
            if self.keep_largest.iter().any(|r| r == region.name) {
                let mask: Vec<bool> = classes.iter().map(|c| region.classes.contains(c)).collect();
                for (c, keep) in classes.iter_mut().zip(largest_component(&mask, dims)) {
                    if region.classes.contains(c) && !keep {
                        *c = region.removed_to;
                    }
                }
            }
        }
    }
}

/// Connected components of `mask` (6-connectivity) on a grid of `dims`, x fastest: a label per voxel
/// (0 outside the mask, 1.. inside) and the size of each label (index 0 unused).
pub fn components(mask: &[bool], dims: [usize; 3]) -> (Vec<u32>, Vec<usize>) {
    let [nx, ny, nz] = dims;
    assert_eq!(mask.len(), nx * ny * nz, "one flag per voxel");
    let mut labels = vec![0u32; mask.len()];
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || labels[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        let mut size = 0;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y, z) = (i % nx, i / nx % ny, i / (nx * ny));
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < nx).then(|| i + 1),
                (y > 0).then(|| i - nx),
                (y + 1 < ny).then(|| i + nx),
                (z > 0).then(|| i - nx * ny),
                (z + 1 < nz).then(|| i + nx * ny),
            ];
            for j in neighbours.into_iter().flatten() {
                if mask[j] && labels[j] == 0 {
                    labels[j] = label;
                    stack.push(j);
                }
            }
        }
        sizes.push(size);
    }
    (labels, sizes)
}

/// The voxels of the largest connected component of `mask` (all false when the mask is empty).
pub fn largest_component(mask: &[bool], dims: [usize; 3]) -> Vec<bool> {
    let (labels, sizes) = components(mask, dims);
    let Some(best) = (1..sizes.len()).max_by_key(|&l| sizes[l]) else {
        return vec![false; mask.len()];
    };
    labels.iter().map(|&l| l == best as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_by_hand() {
        // 4x3x2, index x + 4y + 12z: the bar (0,0,0)-(1,0,0); (2,1,0), which touches the bar only
        // along a diagonal (not 6-connected); the L (3,0,0)-(3,0,1)-(3,1,1) across z.
        let dims = [4, 3, 2];
        let mut mask = vec![false; 24];
        for i in [0, 1, 6, 3, 15, 19] {
            mask[i] = true;
        }
        let (labels, sizes) = components(&mask, dims);
        // Labels in scan order of their first voxel: the bar, the L, the lone voxel.
        assert_eq!(sizes[1..], [2, 3, 1]);
        assert_eq!((labels[0], labels[1]), (1, 1));
        assert_eq!((labels[3], labels[15], labels[19]), (2, 2, 2));
        assert_eq!(labels[6], 3);
        let largest = largest_component(&mask, dims);
        assert_eq!(
            largest
                .iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
            [3, 15, 19]
        );
        assert!(largest_component(&[false; 24], dims).iter().all(|k| !k));
    }

    #[test]
    fn stray_islands_take_the_enclosing_class() {
        // A row of 10 voxels: a tumour of edema with an ET core, then a stray ET island, then a stray
        // edema island.
        let mut classes = vec![2, 3, 3, 2, 0, 3, 0, 0, 2, 0];
        let rules = PostProcess {
            keep_largest: vec!["WT".into(), "ET".into()],
        };
        rules.apply(Profile::Brats, &mut classes, [10, 1, 1]);
        // WT: the largest component is voxels 0..4; the ET island (5) and the edema island (8) leave
        // WT and become background.
        assert_eq!(classes, vec![2, 3, 3, 2, 0, 0, 0, 0, 0, 0]);
        let mut classes = vec![2, 3, 2, 3, 3, 2, 0];
        PostProcess {
            keep_largest: vec!["ET".into()],
        }
        .apply(Profile::Brats, &mut classes, [7, 1, 1]);
        // ET: the smaller ET island (1) becomes NCR/NET, still tumour core.
        assert_eq!(classes, vec![2, 1, 2, 3, 3, 2, 0]);
        let mut untouched = vec![2, 3, 0, 3];
        PostProcess::none().apply(Profile::Brats, &mut untouched, [4, 1, 1]);
        assert_eq!(untouched, vec![2, 3, 0, 3]);
    }
}
