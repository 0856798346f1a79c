//! Label editing: a round brush painted in one plane (radius in mm, measured with the plane's voxel
//! spacings, as ITK-SNAP's 2-D paintbrush), strokes that join successive pointer positions and record
//! every voxel they change, and an undo/redo history of whole strokes.

use crate::render::SliceMap;
use crate::volume::Grid;
use std::collections::HashMap;

/// The brush: radius in mm and the training class it paints (0 erases).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Brush {
    pub radius_mm: f64,
    pub class: u8,
}

/// One stroke: each voxel it changed, with its class before and after, and every voxel the brush
/// covered (changed or not: what a refinement stroke says).
#[derive(Debug, Clone, Default)]
pub struct Stroke {
    changes: Vec<(usize, u8, u8)>,
    /// Where each changed voxel is in `changes`.
    touched: HashMap<usize, usize>,
    covered: Vec<usize>,
    seen: std::collections::HashSet<usize>,
}

impl Stroke {
    /// The stroke that turns `before` into `after` (grids of the same size).
    pub fn between(before: &[u8], after: &[u8]) -> Self {
        let changes = before.iter().zip(after).enumerate();
        Self::from_changes(changes.map(|(i, (&a, &b))| (i, a, b)))
    }

    /// The stroke of `(voxel, old class, new class)` changes (unchanged ones left out).
    pub fn from_changes(changes: impl IntoIterator<Item = (usize, u8, u8)>) -> Self {
        let mut s = Self::default();
        for (i, a, b) in changes.into_iter().filter(|c| c.1 != c.2) {
            s.touched.insert(i, s.changes.len());
            s.changes.push((i, a, b));
        }
        s
    }

    /// Every voxel the brush covered, in the order it first did.
    pub fn covered(&self) -> &[usize] {
        &self.covered
    }

    /// Voxels changed.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The in-plane voxel offsets of a round brush: (column, row) steps whose physical distance from the
/// centre is at most the radius. A radius below the voxel size paints the centre voxel only.
fn disc(brush: &Brush, spacing: [f64; 2]) -> Vec<(isize, isize)> {
    let reach = |s: f64| (brush.radius_mm / s).floor().max(0.0) as isize;
    let (rc, rr) = (reach(spacing[0]), reach(spacing[1]));
    let r2 = brush.radius_mm * brush.radius_mm + 1e-9;
    let mut out = Vec::new();
    for dr in -rr..=rr {
        for dc in -rc..=rc {
            let (x, y) = (dc as f64 * spacing[0], dr as f64 * spacing[1]);
            if x * x + y * y <= r2 {
                out.push((dc, dr));
            }
        }
    }
    out
}

/// Paints one dab of `brush` centred on voxel `centre` in the plane `map` of `grid`, into `labels`
/// (training classes, x fastest), recording the changes in `stroke`. Returns the voxels changed.
pub fn dab(
    labels: &mut [u8],
    grid: &Grid,
    map: &SliceMap,
    centre: [usize; 3],
    brush: &Brush,
    stroke: &mut Stroke,
) -> usize {
    let dims = grid.dims;
    let spacing = grid.spacing();
    let (ca, ra) = (map.axes[0], map.axes[1]);
    let mut changed = 0;
    for (dc, dr) in disc(brush, [spacing[ca], spacing[ra]]) {
        let mut v = centre;
        let (c, r) = (centre[ca] as isize + dc, centre[ra] as isize + dr);
        if c < 0 || r < 0 || c as usize >= dims[ca] || r as usize >= dims[ra] {
            continue;
        }
        (v[ca], v[ra]) = (c as usize, r as usize);
        let i = v[0] + dims[0] * (v[1] + dims[1] * v[2]);
        if stroke.seen.insert(i) {
            stroke.covered.push(i);
        }
        let old = labels[i];
        if old == brush.class {
            continue;
        }
        labels[i] = brush.class;
        match stroke.touched.get(&i) {
            Some(&at) => stroke.changes[at].2 = brush.class,
            None => {
                stroke.touched.insert(i, stroke.changes.len());
                stroke.changes.push((i, old, brush.class));
            }
        }
        changed += 1;
    }
    changed
}

/// Paints dabs from voxel `from` to voxel `to` (both in the same slice of `map`) at most one voxel apart,
/// so a fast drag leaves no gaps. Returns the voxels changed.
pub fn line(
    labels: &mut [u8],
    grid: &Grid,
    map: &SliceMap,
    from: [usize; 3],
    to: [usize; 3],
    brush: &Brush,
    stroke: &mut Stroke,
) -> usize {
    let (ca, ra) = (map.axes[0], map.axes[1]);
    let d = |a: usize| to[a] as f64 - from[a] as f64;
    let steps = d(ca).abs().max(d(ra).abs()).ceil().max(1.0) as usize;
    let mut changed = 0;
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let mut v = to;
        v[ca] = (from[ca] as f64 + t * d(ca)).round() as usize;
        v[ra] = (from[ra] as f64 + t * d(ra)).round() as usize;
        changed += dab(labels, grid, map, v, brush, stroke);
    }
    changed
}

/// Undo and redo of whole strokes.
#[derive(Debug, Clone)]
pub struct History {
    done: Vec<Stroke>,
    undone: Vec<Stroke>,
    /// Strokes kept for undo; older ones are forgotten.
    pub limit: usize,
}

impl Default for History {
    fn default() -> Self {
        Self {
            done: Vec::new(),
            undone: Vec::new(),
            limit: 100,
        }
    }
}

impl History {
    /// Records a finished stroke (an empty one is dropped); the redo list is cleared.
    pub fn push(&mut self, stroke: Stroke) {
        if stroke.is_empty() {
            return;
        }
        self.undone.clear();
        self.done.push(stroke);
        if self.done.len() > self.limit {
            self.done.remove(0);
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.done.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.undone.is_empty()
    }

    /// Reverts the last stroke in `labels`; false when there is none.
    pub fn undo(&mut self, labels: &mut [u8]) -> bool {
        let Some(s) = self.done.pop() else {
            return false;
        };
        for &(i, old, _) in s.changes.iter().rev() {
            labels[i] = old;
        }
        self.undone.push(s);
        true
    }

    /// Applies the last undone stroke again; false when there is none.
    pub fn redo(&mut self, labels: &mut [u8]) -> bool {
        let Some(s) = self.undone.pop() else {
            return false;
        };
        for &(i, _, new) in &s.changes {
            labels[i] = new;
        }
        self.done.push(s);
        true
    }

    /// Makes the last `n` strokes one (an undo then reverts them together); the labels stay as they are.
    /// Returns the strokes left of them: 1, or 0 when together they changed nothing.
    pub fn merge_last(&mut self, n: usize) -> usize {
        let n = n.min(self.done.len());
        if n < 2 {
            return n;
        }
        let tail = self.done.split_off(self.done.len() - n);
        let mut merged = Stroke::default();
        for s in tail {
            for (i, old, new) in s.changes {
                match merged.touched.get(&i) {
                    Some(&at) => merged.changes[at].2 = new,
                    None => {
                        merged.touched.insert(i, merged.changes.len());
                        merged.changes.push((i, old, new));
                    }
                }
            }
        }
        merged.changes.retain(|&(_, old, new)| old != new);
        merged.touched = (merged.changes.iter().enumerate())
            .map(|(k, c)| (c.0, k))
            .collect();
        if merged.changes.is_empty() {
            return 0;
        }
        self.done.push(merged);
        1
    }

    /// Forgets every stroke (after the labels were replaced).
    pub fn clear(&mut self) {
        self.done.clear();
        self.undone.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;
    use crate::render::Plane;

    fn grid(dims: [usize; 3], spacing: [f64; 3]) -> Grid {
        Grid::new(
            dims,
            Affine([
                [spacing[0], 0.0, 0.0, 0.0],
                [0.0, spacing[1], 0.0, 0.0],
                [0.0, 0.0, spacing[2], 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ]),
        )
    }

    fn count(labels: &[u8], class: u8) -> usize {
        labels.iter().filter(|&&l| l == class).count()
    }

    #[test]
    fn a_disc_has_the_voxels_within_the_radius() {
        // Radius 1 mm on a 1 mm grid: the centre and its 4 neighbours. Radius 2: 13 voxels (the lattice
        // points of a disc of radius 2). Below a voxel: the centre only.
        let b = |r| Brush {
            radius_mm: r,
            class: 1,
        };
        assert_eq!(disc(&b(1.0), [1.0, 1.0]).len(), 5);
        assert_eq!(disc(&b(2.0), [1.0, 1.0]).len(), 13);
        assert_eq!(disc(&b(0.4), [1.0, 1.0]), vec![(0, 0)]);
        // Anisotropic 1 x 2 mm pixels, radius 2 mm: columns -2..=2 on the centre row, column 0 one row
        // up and down (2 mm), and (±1, ±1) is √5 mm away, outside.
        assert_eq!(disc(&b(2.0), [1.0, 2.0]).len(), 7);
    }

    #[test]
    fn a_dab_paints_one_slice_of_the_plane_only() {
        let g = grid([9, 9, 5], [1.0, 1.0, 1.0]);
        let mut labels = vec![0u8; g.len()];
        let mut s = Stroke::default();
        let axial = SliceMap::new(&g, Plane::Axial);
        let brush = Brush {
            radius_mm: 1.0,
            class: 2,
        };
        assert_eq!(dab(&mut labels, &g, &axial, [4, 4, 2], &brush, &mut s), 5);
        assert_eq!(count(&labels, 2), 5);
        for (i, &l) in labels.iter().enumerate() {
            if l == 2 {
                assert_eq!(i / 81, 2, "all in slice z = 2");
            }
        }
        // Painting the same again changes nothing; at the edge the disc is cut.
        assert_eq!(dab(&mut labels, &g, &axial, [4, 4, 2], &brush, &mut s), 0);
        assert_eq!(dab(&mut labels, &g, &axial, [0, 0, 0], &brush, &mut s), 3);
        // A sagittal dab varies y and z at a fixed x.
        let sagittal = SliceMap::new(&g, Plane::Sagittal);
        let before = labels.clone();
        dab(&mut labels, &g, &sagittal, [7, 4, 2], &brush, &mut s);
        let changed: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] != before[i])
            .collect();
        assert_eq!(changed.len(), 5);
        assert!(changed.iter().all(|&i| i % 9 == 7), "x = 7 for every voxel");
    }

    #[test]
    fn a_line_leaves_no_gap_and_undo_redo_restore_exactly() {
        let g = grid([20, 10, 3], [1.0, 1.0, 1.0]);
        let axial = SliceMap::new(&g, Plane::Axial);
        let mut labels = vec![0u8; g.len()];
        labels[5 + 20 * 5 + 200] = 3; // a voxel of another class under the stroke
        let original = labels.clone();
        let brush = Brush {
            radius_mm: 0.0,
            class: 1,
        };
        let mut s = Stroke::default();
        line(
            &mut labels,
            &g,
            &axial,
            [1, 5, 1],
            [15, 5, 1],
            &brush,
            &mut s,
        );
        for x in 1..=15 {
            assert_eq!(labels[x + 20 * 5 + 200], 1, "x = {x}");
        }
        assert_eq!(s.len(), 15);
        let painted = labels.clone();
        let mut h = History::default();
        h.push(s);
        // A second stroke erases part of the first.
        let mut s2 = Stroke::default();
        let eraser = Brush {
            radius_mm: 0.0,
            class: 0,
        };
        line(
            &mut labels,
            &g,
            &axial,
            [1, 5, 1],
            [3, 5, 1],
            &eraser,
            &mut s2,
        );
        h.push(s2);
        assert!(h.undo(&mut labels));
        assert_eq!(labels, painted);
        assert!(h.undo(&mut labels));
        assert_eq!(labels, original, "the class 3 voxel is back");
        assert!(!h.undo(&mut labels));
        assert!(h.redo(&mut labels) && h.redo(&mut labels));
        assert_eq!(labels[2 + 20 * 5 + 200], 0);
        assert_eq!(labels[5 + 20 * 5 + 200], 1);
        assert!(!h.can_redo());
    }

    #[test]
    fn repainting_a_voxel_in_one_stroke_keeps_its_first_value_for_undo() {
        let g = grid([5, 5, 1], [1.0, 1.0, 1.0]);
        let axial = SliceMap::new(&g, Plane::Axial);
        let mut labels = vec![2u8; g.len()];
        let mut s = Stroke::default();
        let (a, b) = (
            Brush {
                radius_mm: 0.0,
                class: 1,
            },
            Brush {
                radius_mm: 0.0,
                class: 3,
            },
        );
        dab(&mut labels, &g, &axial, [2, 2, 0], &a, &mut s);
        dab(&mut labels, &g, &axial, [2, 2, 0], &b, &mut s);
        assert_eq!(s.len(), 1);
        let mut h = History::default();
        h.push(s);
        h.undo(&mut labels);
        assert!(labels.iter().all(|&l| l == 2));
        h.redo(&mut labels);
        assert_eq!(labels[12], 3);
    }

    #[test]
    fn strokes_merged_undo_together_and_a_diff_is_a_stroke() {
        let mut labels = vec![0u8; 6];
        let mut history = History::default();
        let first = Stroke::between(&labels, &[1, 1, 0, 0, 0, 0]);
        labels[..2].fill(1);
        history.push(first);
        let second = Stroke::between(&labels, &[1, 2, 2, 0, 0, 0]);
        labels[1..3].fill(2);
        history.push(second);
        history.merge_last(2);
        assert!(history.undo(&mut labels));
        assert_eq!(labels, vec![0; 6]);
        assert!(!history.can_undo());
        assert!(history.redo(&mut labels));
        assert_eq!(labels, vec![1, 2, 2, 0, 0, 0]);
    }
}
