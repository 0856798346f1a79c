//! The box a refinement may change: the strokes' bounding box grown by a margin in mm, clipped to the
//! grid. Nothing outside it is touched, so a stroke corrects the lesion it is drawn on and never a
//! far one.

use crate::volume::Grid;

/// A box of voxels `lo..hi` (half-open) on a grid of `dims`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roi {
    pub lo: [usize; 3],
    pub hi: [usize; 3],
    pub dims: [usize; 3],
}

impl Roi {
    /// The box around `voxels` (linear indices, x fastest) grown by `margin_mm`; None without voxels.
    pub fn around(
        voxels: impl IntoIterator<Item = usize>,
        grid: &Grid,
        margin_mm: f64,
    ) -> Option<Self> {
        Self::around_in(voxels, grid.dims, grid.spacing(), margin_mm)
    }

    /// [`Roi::around`] on a block of `dims` voxels of `spacing` mm.
    pub fn around_in(
        voxels: impl IntoIterator<Item = usize>,
        dims: [usize; 3],
        spacing: [f64; 3],
        margin_mm: f64,
    ) -> Option<Self> {
        let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
        for i in voxels {
            let v = [
                i % dims[0],
                (i / dims[0]) % dims[1],
                i / (dims[0] * dims[1]),
            ];
            for a in 0..3 {
                lo[a] = lo[a].min(v[a]);
                hi[a] = hi[a].max(v[a] + 1);
            }
        }
        if lo[0] == usize::MAX {
            return None;
        }
        for a in 0..3 {
            let grow = (margin_mm / spacing[a]).ceil().clamp(0.0, dims[a] as f64) as usize;
            lo[a] = lo[a].saturating_sub(grow);
            hi[a] = (hi[a] + grow).min(dims[a]);
        }
        Some(Self { lo, hi, dims })
    }

    /// The box's own size.
    pub fn size(&self) -> [usize; 3] {
        std::array::from_fn(|a| self.hi[a] - self.lo[a])
    }

    /// Voxels in the box.
    pub fn len(&self) -> usize {
        self.size().iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The grid index of the box's `j`-th voxel (x fastest within the box).
    pub fn grid_index(&self, j: usize) -> usize {
        let s = self.size();
        let (x, y, z) = (j % s[0], (j / s[0]) % s[1], j / (s[0] * s[1]));
        let d = self.dims;
        (self.lo[0] + x) + d[0] * ((self.lo[1] + y) + d[1] * (self.lo[2] + z))
    }

    /// The box index of grid voxel `i`, or None outside the box.
    pub fn local_index(&self, i: usize) -> Option<usize> {
        let d = self.dims;
        let v = [i % d[0], (i / d[0]) % d[1], i / (d[0] * d[1])];
        if (0..3).any(|a| v[a] < self.lo[a] || v[a] >= self.hi[a]) {
            return None;
        }
        let s = self.size();
        let l: [usize; 3] = std::array::from_fn(|a| v[a] - self.lo[a]);
        Some(l[0] + s[0] * (l[1] + s[1] * l[2]))
    }

    /// `values` (one per grid voxel) cut to the box.
    pub fn cut<T: Copy>(&self, values: &[T]) -> Vec<T> {
        (0..self.len())
            .map(|j| values[self.grid_index(j)])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;

    #[test]
    fn the_box_grows_by_the_margin_in_mm_and_maps_both_ways() {
        let grid = Grid::new(
            [20, 10, 10],
            Affine::from_spacing([1.0, 1.0, 2.0], [0.0; 3]),
        );
        let i = grid.index(5, 5, 5);
        let roi = Roi::around([i], &grid, 3.0).unwrap();
        assert_eq!((roi.lo, roi.hi), ([2, 2, 3], [9, 9, 8]));
        for j in 0..roi.len() {
            assert_eq!(roi.local_index(roi.grid_index(j)), Some(j));
        }
        assert_eq!(roi.local_index(grid.index(0, 0, 0)), None);
        assert!(Roi::around([], &grid, 3.0).is_none());
    }
}
