//! Resampling a volume onto another grid through the two affines: trilinear for images, nearest for
//! labels. A target voxel takes the source value at the same world point; points within half a voxel of
//! the source's edge are clamped onto it (as ITK does), points farther out get the fill value.

use crate::geometry::Affine;
use crate::volume::{Grid, Volume, VolumeInfo};
use rayon::prelude::*;

/// Interpolation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interp {
    /// Nearest voxel: label maps.
    Nearest,
    /// Trilinear: intensities and probabilities.
    Linear,
}

/// `source` resampled onto `target`.
pub fn resample(source: &Volume, target: &Grid, interp: Interp, fill: f32) -> Volume {
    let mut info = VolumeInfo::derived(&source.info.datatype);
    info.path = source.info.path.clone();
    Volume::new(
        *target,
        resample_data(&source.data, &source.grid, target, interp, fill),
        info,
    )
}

/// Resamples raw voxels (x fastest) from `source` onto `target`.
pub fn resample_data(
    data: &[f32],
    source: &Grid,
    target: &Grid,
    interp: Interp,
    fill: f32,
) -> Vec<f32> {
    if source.same_as(target) {
        return data.to_vec();
    }
    let mut out = vec![fill; target.len()];
    let [nx, ny, _] = target.dims;
    let to_source = target_to_source(source, target);
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(z, plane)| {
            for_each_point(&to_source, [nx, ny], z, |i, p| {
                if let Some(value) = sample(data, source.dims, p, interp) {
                    plane[i] = value;
                }
            })
        });
    out
}

/// Several maps on one source grid resampled trilinearly onto `target` in one pass: each target
/// voxel's corners and weights are found once for all of them. `fills[c]` outside the source; gives
/// what [`resample_data`] gives map by map.
pub fn resample_linear_many(
    maps: &[&[f32]],
    source: &Grid,
    target: &Grid,
    fills: &[f32],
) -> Vec<Vec<f32>> {
    if source.same_as(target) {
        return maps.iter().map(|m| m.to_vec()).collect();
    }
    let [nx, ny, nz] = target.dims;
    let mut outs: Vec<Vec<f32>> = fills.iter().map(|&f| vec![f; target.len()]).collect();
    // Each z-plane of every output, handed out together to the thread that fills that plane.
    let mut planes: Vec<Vec<&mut [f32]>> = (0..nz).map(|_| Vec::new()).collect();
    for out in outs.iter_mut() {
        for (z, plane) in out.chunks_mut(nx * ny).enumerate() {
            planes[z].push(plane);
        }
    }
    let to_source = target_to_source(source, target);
    planes
        .into_par_iter()
        .enumerate()
        .for_each(|(z, mut planes)| {
            for_each_point(&to_source, [nx, ny], z, |i, p| {
                if let Some(corners) = Corners::at(source.dims, p) {
                    for (plane, map) in planes.iter_mut().zip(maps) {
                        plane[i] = corners.interpolate(map);
                    }
                }
            })
        });
    outs
}

/// The affine from `target`'s voxel indices to `source`'s.
fn target_to_source(source: &Grid, target: &Grid) -> Affine {
    source
        .affine
        .inverse()
        .expect("grids are checked for invertible affines when read")
        .compose(&target.affine)
}

/// Calls `f(i, p)` for every voxel of the target's z-plane `z`: `i` its index in the plane, `p` its
/// continuous index in the source.
#[inline]
fn for_each_point(
    to_source: &Affine,
    [nx, ny]: [usize; 2],
    z: usize,
    mut f: impl FnMut(usize, [f64; 3]),
) {
    let m = to_source.0;
    let step: [f64; 3] = std::array::from_fn(|r| m[r][0]);
    for y in 0..ny {
        // Index of (0, y, z) in the source, then one step per x.
        let base: [f64; 3] =
            std::array::from_fn(|r| m[r][1] * y as f64 + m[r][2] * z as f64 + m[r][3]);
        for x in 0..nx {
            f(
                y * nx + x,
                std::array::from_fn(|r| base[r] + step[r] * x as f64),
            );
        }
    }
}

/// The value at continuous index `p`, or `None` outside the voxels' extent.
#[inline]
fn sample(data: &[f32], dims: [usize; 3], p: [f64; 3], interp: Interp) -> Option<f32> {
    match interp {
        Interp::Nearest => {
            let c = clamped(dims, p)?;
            let i: [usize; 3] = std::array::from_fn(|a| c[a].round() as usize);
            Some(data[i[0] + dims[0] * (i[1] + dims[1] * i[2])])
        }
        Interp::Linear => Corners::at(dims, p).map(|corners| corners.interpolate(data)),
    }
}

/// `p` clamped onto the voxels' extent, or `None` when it is more than half a voxel outside.
#[inline]
fn clamped(dims: [usize; 3], p: [f64; 3]) -> Option<[f64; 3]> {
    let mut c = [0.0f64; 3];
    for a in 0..3 {
        let n = dims[a] as f64;
        if !(p[a] >= -0.5 && p[a] <= n - 0.5) {
            return None;
        }
        c[a] = p[a].clamp(0.0, n - 1.0);
    }
    Some(c)
}

/// The eight voxels around a point and their trilinear weights.
struct Corners {
    index: [usize; 8],
    weight: [f64; 8],
}

impl Corners {
    /// The corners around continuous index `p`, or `None` outside the voxels' extent.
    #[inline]
    fn at(dims: [usize; 3], p: [f64; 3]) -> Option<Self> {
        let c = clamped(dims, p)?;
        let i0: [usize; 3] = std::array::from_fn(|a| c[a] as usize);
        let i1: [usize; 3] = std::array::from_fn(|a| (i0[a] + 1).min(dims[a] - 1));
        let t: [f64; 3] = std::array::from_fn(|a| c[a] - i0[a] as f64);
        let mut corners = Self {
            index: [0; 8],
            weight: [0.0; 8],
        };
        for corner in 0..8 {
            let pick = |a: usize| corner >> a & 1 == 1;
            corners.weight[corner] = (0..3)
                .map(|a| if pick(a) { t[a] } else { 1.0 - t[a] })
                .product();
            let idx: [usize; 3] = std::array::from_fn(|a| if pick(a) { i1[a] } else { i0[a] });
            corners.index[corner] = idx[0] + dims[0] * (idx[1] + dims[1] * idx[2]);
        }
        Some(corners)
    }

    /// The trilinear value of `data` (on the grid the corners were found on).
    #[inline]
    fn interpolate(&self, data: &[f32]) -> f32 {
        let mut acc = 0.0f64;
        for (&i, &w) in self.index.iter().zip(&self.weight) {
            if w != 0.0 {
                acc += w * data[i] as f64;
            }
        }
        acc as f32
    }
}

/// How many non-zero voxels of `source` have their centre outside `target` (beyond half a voxel of
/// its edge): what resampling a label map onto `target` would lose.
pub fn nonzero_outside(source: &Volume, target: &Grid) -> usize {
    if source.grid.same_as(target) {
        return 0;
    }
    let Some(to_target) = target
        .affine
        .inverse()
        .map(|inv| inv.compose(&source.grid.affine))
    else {
        return source.data.iter().filter(|&&v| v != 0.0).count();
    };
    let [nx, ny, _] = source.grid.dims;
    let limit = target.dims.map(|d| d as f64 - 0.5);
    source
        .data
        .par_iter()
        .enumerate()
        .filter(|&(i, &v)| {
            if v == 0.0 {
                return false;
            }
            let p = [
                (i % nx) as f64,
                ((i / nx) % ny) as f64,
                (i / (nx * ny)) as f64,
            ];
            let q = to_target.apply(p);
            (0..3).any(|a| !(-0.5..=limit[a]).contains(&q[a]))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(dims: [usize; 3], affine: Affine) -> Volume {
        let grid = Grid::new(dims, affine);
        let data = (0..grid.len())
            .map(|i| {
                let (x, y, z) = (i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1]));
                (x + 10 * y + 100 * z) as f32
            })
            .collect();
        Volume::new(grid, data, VolumeInfo::derived("float32"))
    }

    #[test]
    fn trilinear_reproduces_a_linear_ramp() {
        // A linear function is interpolated exactly: value at index (x, y, z) = x + 10y + 100z.
        let src = ramp([8, 8, 8], Affine::IDENTITY);
        let half = Grid::new([15, 15, 15], Affine::from_spacing([0.5; 3], [0.0; 3]));
        let out = resample(&src, &half, Interp::Linear, -1.0);
        assert_eq!(out.at(1, 0, 0), 0.5);
        assert_eq!(out.at(3, 5, 7), 1.5 + 25.0 + 350.0);
    }

    #[test]
    fn many_maps_in_one_pass_equal_one_by_one() {
        // A rotated, scaled, shifted target partly outside the source: every voxel kind is met.
        let src = ramp([9, 7, 5], Affine::IDENTITY);
        let other: Vec<f32> = src.data.iter().map(|v| (v * 0.37).sin()).collect();
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let affine = Affine([
            [0.7 * c, -0.7 * s, 0.0, -1.2],
            [0.7 * s, 0.7 * c, 0.0, 0.4],
            [0.0, 0.0, 0.6, -0.3],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        let target = Grid::new([14, 12, 9], affine);
        let many = resample_linear_many(&[&src.data, &other], &src.grid, &target, &[-1.0, 2.0]);
        let one = resample_data(&src.data, &src.grid, &target, Interp::Linear, -1.0);
        let two = resample_data(&other, &src.grid, &target, Interp::Linear, 2.0);
        assert_eq!(many, vec![one.clone(), two]);
        assert!(one.contains(&-1.0) && one.iter().any(|&v| v > 0.0 && v.fract() != 0.0));
    }

    #[test]
    fn outside_is_fill_and_half_voxel_border_is_clamped() {
        let src = ramp([4, 4, 4], Affine::IDENTITY);
        let shifted = Grid::new([4, 1, 1], Affine::from_spacing([1.0; 3], [-0.4, 0.0, 0.0]));
        let out = resample(&src, &shifted, Interp::Linear, -1.0);
        assert_eq!(out.data, vec![0.0, 0.6, 1.6, 2.6]);
        let far = Grid::new([1, 1, 1], Affine::from_spacing([1.0; 3], [-0.6, 0.0, 0.0]));
        assert_eq!(resample(&src, &far, Interp::Linear, -1.0).data, vec![-1.0]);
    }

    #[test]
    fn nearest_keeps_label_values() {
        let grid = Grid::new([2, 1, 1], Affine::IDENTITY);
        let src = Volume::new(grid, vec![1.0, 4.0], VolumeInfo::derived("uint8"));
        let fine = Grid::new(
            [4, 1, 1],
            Affine::from_spacing([0.5, 1.0, 1.0], [-0.25, 0.0, 0.0]),
        );
        assert_eq!(
            resample(&src, &fine, Interp::Nearest, 0.0).data,
            vec![1.0, 1.0, 4.0, 4.0]
        );
    }

    #[test]
    fn labelled_voxels_outside_the_target_are_counted() {
        // Four voxels along x at 1 mm, labelled 0 1 1 2; a target covering x = 0..1 keeps two of them.
        let src = Volume::new(
            Grid::new([4, 1, 1], Affine::IDENTITY),
            vec![0.0, 1.0, 1.0, 2.0],
            VolumeInfo::derived("uint8"),
        );
        let target = Grid::new([2, 1, 1], Affine::IDENTITY);
        assert_eq!(nonzero_outside(&src, &target), 2);
        assert_eq!(nonzero_outside(&src, &src.grid), 0);
        // Half a voxel past the edge still counts as inside (the resampler clamps it there).
        let wide = Grid::new([3, 1, 1], Affine::from_spacing([1.0; 3], [0.6, 0.0, 0.0]));
        assert_eq!(nonzero_outside(&src, &wide), 0);
    }
}
