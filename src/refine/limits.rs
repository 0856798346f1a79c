//! Where a refinement may change the labels: only within reach of a stroke of the new class, only
//! voxels of a class those strokes were drawn over, and only in a piece connected to such a stroke.

use super::BoxInput;
use super::roi::Roi;

/// Per class `c`, the classes its strokes were drawn over: only voxels of those may become `c` (an
/// edema stroke over background corrects background, never the tumour core next to it).
pub(super) fn drawn_over(b: &BoxInput) -> Vec<Vec<bool>> {
    let k = b.profile.classes().len();
    let mut over = vec![vec![false; k]; k];
    for (m, &was) in b.marks.iter().zip(&b.current) {
        if let Some(c) = m {
            over[*c as usize][was as usize] = true;
        }
    }
    over
}

/// Per class, the part of the box its strokes reach: their bounding box grown by `reach_mm` (None for
/// a class without strokes).
pub(super) fn class_reach(b: &BoxInput, reach_mm: f64) -> Vec<Option<Roi>> {
    let size = b.roi.size();
    (0..b.profile.classes().len() as u8)
        .map(|c| {
            let voxels = (b.marks.iter().enumerate())
                .filter(|(_, m)| **m == Some(c))
                .map(|(j, _)| j);
            Roi::around_in(voxels, size, b.spacing, reach_mm)
        })
        .collect()
}

/// `proposed`, kept only where it changes `current` in a connected piece (6-neighbours) that holds a
/// stroke voxel of the class it changes to; elsewhere `current`.
pub(super) fn keep_connected(
    current: &[u8],
    proposed: &[u8],
    marks: &[Option<u8>],
    size: [usize; 3],
) -> Vec<u8> {
    let mut out = current.to_vec();
    let classes = proposed.iter().copied().max().unwrap_or(0);
    for c in 0..=classes {
        // What changes to `c`, and the strokes of `c` (also where the voxel already was `c`).
        let changed: Vec<bool> = (current.iter().zip(proposed).zip(marks))
            .map(|((&a, &b), &m)| (b == c && a != c) || m == Some(c))
            .collect();
        if !changed.iter().any(|&b| b) {
            continue;
        }
        let (pieces, sizes) = crate::postprocess::components(&changed, size);
        let mut anchored = vec![false; sizes.len()];
        for (j, m) in marks.iter().enumerate() {
            if *m == Some(c) && pieces[j] > 0 {
                anchored[pieces[j] as usize] = true;
            }
        }
        for (j, &p) in pieces.iter().enumerate() {
            if p > 0 && anchored[p as usize] {
                out[j] = c;
            }
        }
    }
    out
}
