//! nnU-Net's spatial augmentation of a training patch: a rotation about each axis (±30°, with
//! probability 0.2) and an isotropic zoom (0.7–1.4, with probability 0.2) about the patch's centre,
//! images read trilinearly and labels by nearest neighbour, zeros outside the case. Elastic deformation
//! is left out, as nnU-Net v2 leaves it out by default. The training cases are on an isotropic grid
//! (the model spacing), so rotating voxel offsets rotates millimetres.

use rand::Rng;
use rand::rngs::StdRng;

/// Probability that a patch is rotated, and the largest angle about each axis.
const P_ROTATE: f64 = 0.2;
const MAX_ANGLE_DEGREES: f32 = 30.0;
/// Probability that a patch is zoomed, and the range of the zoom.
const P_ZOOM: f64 = 0.2;
const ZOOM: std::ops::Range<f32> = 0.7..1.4;

/// The spatial transform of one patch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spatial {
    /// Rotation about the x, y and z axes, in radians (applied x first).
    pub angles: [f32; 3],
    /// Magnification: above 1 the patch shows a smaller part of the case, larger.
    pub zoom: f32,
}

impl Spatial {
    /// Draws a transform as nnU-Net does; `None` when neither rotation nor zoom is drawn.
    pub fn draw(rng: &mut StdRng) -> Option<Self> {
        let max = MAX_ANGLE_DEGREES.to_radians();
        let angles = if rng.random_bool(P_ROTATE) {
            std::array::from_fn(|_| rng.random_range(-max..max))
        } else {
            [0.0; 3]
        };
        let zoom = if rng.random_bool(P_ZOOM) {
            rng.random_range(ZOOM)
        } else {
            1.0
        };
        (angles != [0.0; 3] || zoom != 1.0).then_some(Self { angles, zoom })
    }

    /// The matrix taking an offset from the patch's centre (voxels, `[x, y, z]`) to an offset in the
    /// case: the rotation Rz·Ry·Rx divided by the zoom.
    pub fn matrix(&self) -> [[f32; 3]; 3] {
        let [a, b, c] = self.angles;
        let rx = [
            [1.0, 0.0, 0.0],
            [0.0, a.cos(), -a.sin()],
            [0.0, a.sin(), a.cos()],
        ];
        let ry = [
            [b.cos(), 0.0, b.sin()],
            [0.0, 1.0, 0.0],
            [-b.sin(), 0.0, b.cos()],
        ];
        let rz = [
            [c.cos(), -c.sin(), 0.0],
            [c.sin(), c.cos(), 0.0],
            [0.0, 0.0, 1.0],
        ];
        let r = mul(rz, mul(ry, rx));
        r.map(|row| row.map(|v| v / self.zoom))
    }
}

fn mul(a: [[f32; 3]; 3], b: [[f32; 3]; 3]) -> [[f32; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

/// How a resampled patch reads the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Images.
    Trilinear,
    /// Label maps.
    Nearest,
}

/// Where a patch is cut: its centre in case voxels, the matrix from patch offsets to case offsets and
/// the flips of the patch's axes.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    pub centre: [f32; 3],
    pub matrix: [[f32; 3]; 3],
    pub flips: [bool; 3],
}

/// The p³ patch of `data` (`dims`, x fastest) at `at`: output voxel q (after its flips) reads the case at
/// centre + matrix · (q − (p − 1) / 2). With the identity matrix and an integer centre this is the plain
/// cut of the sampler.
pub fn resample_patch(
    data: &[f32],
    dims: [usize; 3],
    at: &Placement,
    p: usize,
    interpolation: Interpolation,
) -> Vec<f32> {
    let half = (p as f32 - 1.0) / 2.0;
    let mut out = Vec::with_capacity(p * p * p);
    for z in 0..p {
        for y in 0..p {
            for x in 0..p {
                let q = [x, y, z];
                let d: [f32; 3] = std::array::from_fn(|a| {
                    let qa = if at.flips[a] { p - 1 - q[a] } else { q[a] };
                    qa as f32 - half
                });
                let src: [f32; 3] = std::array::from_fn(|i| {
                    at.centre[i] + (0..3).map(|k| at.matrix[i][k] * d[k]).sum::<f32>()
                });
                out.push(match interpolation {
                    Interpolation::Nearest => nearest(data, dims, src),
                    Interpolation::Trilinear => trilinear(data, dims, src),
                });
            }
        }
    }
    out
}

fn value(data: &[f32], dims: [usize; 3], i: [isize; 3]) -> f32 {
    if (0..3).all(|a| i[a] >= 0 && (i[a] as usize) < dims[a]) {
        data[i[0] as usize + dims[0] * (i[1] as usize + dims[1] * i[2] as usize)]
    } else {
        0.0
    }
}

fn nearest(data: &[f32], dims: [usize; 3], s: [f32; 3]) -> f32 {
    value(data, dims, s.map(|v| v.round() as isize))
}

fn trilinear(data: &[f32], dims: [usize; 3], s: [f32; 3]) -> f32 {
    let base = s.map(|v| v.floor());
    let t: [f32; 3] = std::array::from_fn(|a| s[a] - base[a]);
    let b = base.map(|v| v as isize);
    let mut acc = 0.0;
    for corner in 0..8 {
        let o: [isize; 3] = std::array::from_fn(|a| (corner >> a & 1) as isize);
        let weight: f32 = (0..3)
            .map(|a| if o[a] == 1 { t[a] } else { 1.0 - t[a] })
            .product();
        if weight != 0.0 {
            acc += weight * value(data, dims, [b[0] + o[0], b[1] + o[1], b[2] + o[2]]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const IDENTITY: [[f32; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

    fn ramp(dims: [usize; 3]) -> Vec<f32> {
        (0..dims.iter().product::<usize>())
            .map(|i| {
                let (x, y, z) = (i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1]));
                (x + 10 * y + 100 * z) as f32
            })
            .collect()
    }

    #[test]
    fn the_identity_cuts_the_plain_window() {
        let dims = [9, 8, 7];
        let data = ramp(dims);
        let at = Placement {
            centre: [4.5, 3.5, 2.5],
            matrix: IDENTITY,
            flips: [false, true, false],
        };
        // p = 4: offsets −1.5 … 1.5 around 4.5 → x 3 … 6; y flipped: 5, 4, 3, 2.
        let patch = resample_patch(&data, dims, &at, 4, Interpolation::Trilinear);
        assert_eq!(patch[0], 3.0 + 50.0 + 100.0);
        assert_eq!(patch[1], 4.0 + 50.0 + 100.0);
        assert_eq!(patch[4], 3.0 + 40.0 + 100.0);
        let nearest = resample_patch(&data, dims, &at, 4, Interpolation::Nearest);
        assert_eq!(patch, nearest);
    }

    #[test]
    fn a_quarter_turn_about_z_swaps_x_and_y() {
        let dims = [7, 7, 3];
        let data = ramp(dims);
        let turn = Spatial {
            angles: [0.0, 0.0, std::f32::consts::FRAC_PI_2],
            zoom: 1.0,
        };
        let at = Placement {
            centre: [3.0, 3.0, 1.0],
            matrix: turn.matrix(),
            flips: [false; 3],
        };
        let patch = resample_patch(&data, dims, &at, 3, Interpolation::Trilinear);
        // Output (x, y) offset (1, 0) reads the case at offset (0, 1): value x 3, y 4, z 0.
        let at_x_plus = patch[2]; // q = (2, 0, 0): offset (1, −1, −1) → case (3 + 1, 3 + 1, 0)
        assert!((at_x_plus - (4.0 + 40.0)).abs() < 1e-4, "{at_x_plus}");
        let at_origin = patch[0]; // offset (−1, −1, −1) → case (3 + 1, 3 − 1, 0)
        assert!((at_origin - (4.0 + 20.0)).abs() < 1e-4, "{at_origin}");
    }

    #[test]
    fn zoom_reads_between_voxels_and_outside_is_zero() {
        let dims = [4, 4, 4];
        let data = ramp(dims);
        let at = Placement {
            centre: [1.5, 1.5, 1.5],
            matrix: Spatial {
                angles: [0.0; 3],
                zoom: 2.0,
            }
            .matrix(),
            flips: [false; 3],
        };
        // p = 2: offsets ±0.5 halved → case 1.25 and 1.75: a linear ramp interpolates exactly.
        let patch = resample_patch(&data, dims, &at, 2, Interpolation::Trilinear);
        assert!(
            (patch[0] - (1.25 + 12.5 + 125.0)).abs() < 1e-3,
            "{}",
            patch[0]
        );
        let far = Placement {
            centre: [40.0, 1.0, 1.0],
            ..at
        };
        assert_eq!(
            resample_patch(&data, dims, &far, 2, Interpolation::Nearest),
            vec![0.0; 8]
        );
    }

    #[test]
    fn about_a_fifth_of_patches_rotate_and_a_fifth_zoom() {
        let mut rng = StdRng::seed_from_u64(5);
        let (mut rotated, mut zoomed) = (0, 0);
        for _ in 0..10_000 {
            if let Some(s) = Spatial::draw(&mut rng) {
                rotated += (s.angles != [0.0; 3]) as usize;
                zoomed += (s.zoom != 1.0) as usize;
                assert!(s.angles.iter().all(|a| a.abs() <= 30f32.to_radians()));
                assert!(ZOOM.contains(&s.zoom) || s.zoom == 1.0);
            }
        }
        assert!((1800..2200).contains(&rotated), "{rotated}");
        assert!((1800..2200).contains(&zoomed), "{zoomed}");
    }
}
