//! Foreground bounding box, crop and its exact inverse (uncrop).

use crate::geometry::Affine;
use crate::volume::{Grid, Volume, VolumeInfo};
use serde::{Deserialize, Serialize};

/// A box of voxels, `start` inclusive, `end` exclusive, per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BBox {
    pub start: [usize; 3],
    pub end: [usize; 3],
}

impl BBox {
    /// The whole grid.
    pub fn full(dims: [usize; 3]) -> Self {
        Self {
            start: [0; 3],
            end: dims,
        }
    }

    /// Shape of the box.
    pub fn dims(&self) -> [usize; 3] {
        std::array::from_fn(|a| self.end[a] - self.start[a])
    }

    /// The grid of the cropped region: same orientation and spacing, origin moved to `start`.
    pub fn grid(&self, full: &Grid) -> Grid {
        let s = self.start.map(|v| v as f64);
        let shift = Affine::from_spacing([1.0; 3], s);
        Grid::new(self.dims(), full.affine.compose(&shift))
    }
}

/// The box around voxels that are non-zero in any of `volumes` (all on one grid), grown by `margin`
/// voxels and clipped to the grid. `None` when every voxel is zero.
pub fn foreground_bbox(volumes: &[&Volume], margin: usize) -> Option<BBox> {
    let dims = volumes.first()?.grid.dims;
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    let mut any = false;
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            let row = dims[0] * (y + dims[1] * z);
            for x in 0..dims[0] {
                if volumes.iter().any(|v| v.data[row + x] != 0.0) {
                    any = true;
                    for (a, p) in [x, y, z].into_iter().enumerate() {
                        lo[a] = lo[a].min(p);
                        hi[a] = hi[a].max(p);
                    }
                }
            }
        }
    }
    any.then(|| BBox {
        start: std::array::from_fn(|a| lo[a].saturating_sub(margin)),
        end: std::array::from_fn(|a| (hi[a] + 1 + margin).min(dims[a])),
    })
}

/// The voxels of `data` (on `grid`) inside `bbox`.
pub fn crop_data(data: &[f32], dims: [usize; 3], bbox: &BBox) -> Vec<f32> {
    let [cx, cy, cz] = bbox.dims();
    let mut out = Vec::with_capacity(cx * cy * cz);
    for z in bbox.start[2]..bbox.end[2] {
        for y in bbox.start[1]..bbox.end[1] {
            let row = dims[0] * (y + dims[1] * z);
            out.extend_from_slice(&data[row + bbox.start[0]..row + bbox.end[0]]);
        }
    }
    out
}

/// `volume` cropped to `bbox`, with its affine moved so every voxel keeps its world position.
pub fn crop(volume: &Volume, bbox: &BBox) -> Volume {
    Volume::new(
        bbox.grid(&volume.grid),
        crop_data(&volume.data, volume.grid.dims, bbox),
        volume.info.clone(),
    )
}

/// The inverse of [`crop_data`]: `cropped` put back at `bbox` in a grid of `dims`, `fill` elsewhere.
pub fn uncrop_data(cropped: &[f32], dims: [usize; 3], bbox: &BBox, fill: f32) -> Vec<f32> {
    let mut out = vec![fill; dims.iter().product()];
    let cx = bbox.dims()[0];
    let mut rows = cropped.chunks_exact(cx);
    for z in bbox.start[2]..bbox.end[2] {
        for y in bbox.start[1]..bbox.end[1] {
            let row = dims[0] * (y + dims[1] * z);
            if let Some(src) = rows.next() {
                out[row + bbox.start[0]..row + bbox.end[0]].copy_from_slice(src);
            }
        }
    }
    out
}

/// The inverse of [`crop`]: a volume on `full` holding `cropped` at `bbox`.
pub fn uncrop(cropped: &Volume, full: &Grid, bbox: &BBox, fill: f32) -> Volume {
    Volume::new(
        *full,
        uncrop_data(&cropped.data, full.dims, bbox, fill),
        VolumeInfo {
            ..cropped.info.clone()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_then_uncrop_is_exact_and_keeps_world_positions() {
        let grid = Grid::new(
            [5, 4, 3],
            Affine::from_spacing([-1.0, -1.0, 2.0], [10.0, 20.0, 30.0]),
        );
        let mut data = vec![0.0; grid.len()];
        data[grid.index(1, 2, 1)] = 7.0;
        data[grid.index(3, 1, 2)] = 9.0;
        let v = Volume::new(grid, data.clone(), VolumeInfo::derived("float32"));
        let bbox = foreground_bbox(&[&v], 0).unwrap();
        assert_eq!(
            bbox,
            BBox {
                start: [1, 1, 1],
                end: [4, 3, 3]
            }
        );
        let c = crop(&v, &bbox);
        assert_eq!(c.grid.dims, [3, 2, 2]);
        // Voxel (0,1,0) of the crop is voxel (1,2,1) of the volume, at the same world point.
        assert_eq!(c.at(0, 1, 0), 7.0);
        assert_eq!(
            c.grid.affine.apply([0.0, 1.0, 0.0]),
            grid.affine.apply([1.0, 2.0, 1.0])
        );
        assert_eq!(uncrop(&c, &grid, &bbox, 0.0).data, data);
        let grown = foreground_bbox(&[&v], 2).unwrap();
        assert_eq!(
            grown,
            BBox {
                start: [0, 0, 0],
                end: [5, 4, 3]
            }
        );
    }
}
