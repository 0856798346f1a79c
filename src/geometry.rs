//! Voxel-to-world geometry: 4x4 affines, their inverse, spacing, orientation codes and world bounding boxes.
//!
//! World coordinates follow NIfTI: millimetres in RAS+ (+x towards the patient's right, +y anterior,
//! +z superior). Orientation codes are those of nibabel's `aff2axcodes`: for each voxel axis, the world
//! axis it runs along most and the direction it points to (R/L, A/P, S/I).

use serde::{Deserialize, Serialize};

/// A voxel-to-world affine (row-major 4x4, last row 0 0 0 1), world in mm, RAS+.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affine(pub [[f64; 4]; 4]);

impl Affine {
    /// The identity affine (1 mm isotropic, origin at voxel 0).
    pub const IDENTITY: Affine = Affine([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);

    /// A diagonal affine with the given spacing and origin.
    pub fn from_spacing(spacing: [f64; 3], origin: [f64; 3]) -> Affine {
        let mut m = Self::IDENTITY.0;
        for a in 0..3 {
            m[a][a] = spacing[a];
            m[a][3] = origin[a];
        }
        Affine(m)
    }

    /// Maps a (continuous) voxel index to world millimetres.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let m = &self.0;
        std::array::from_fn(|r| m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3])
    }

    /// The matrix product `self · other` (apply `other` first).
    pub fn compose(&self, other: &Affine) -> Affine {
        let (a, b) = (&self.0, &other.0);
        Affine(std::array::from_fn(|r| {
            std::array::from_fn(|c| (0..4).map(|k| a[r][k] * b[k][c]).sum())
        }))
    }

    /// The inverse affine, or `None` when the 3x3 part is singular.
    pub fn inverse(&self) -> Option<Affine> {
        let m = &self.0;
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        if !det.is_finite() || det.abs() < 1e-12 {
            return None;
        }
        let inv3 = [
            [
                (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det,
                (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det,
                (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det,
            ],
            [
                (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det,
                (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det,
                (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det,
            ],
            [
                (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det,
                (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det,
                (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det,
            ],
        ];
        let mut out = Self::IDENTITY.0;
        for r in 0..3 {
            for c in 0..3 {
                out[r][c] = inv3[r][c];
            }
            out[r][3] = -(0..3).map(|k| inv3[r][k] * m[k][3]).sum::<f64>();
        }
        Some(Affine(out))
    }

    /// Voxel spacing in mm: the length of each of the three columns.
    pub fn spacing(&self) -> [f64; 3] {
        let m = &self.0;
        std::array::from_fn(|c| (0..3).map(|r| m[r][c] * m[r][c]).sum::<f64>().sqrt())
    }

    /// Orientation codes of the voxel axes, e.g. `"LPS"` (as nibabel's `aff2axcodes`).
    pub fn axcodes(&self) -> String {
        const POS: [char; 3] = ['R', 'A', 'S'];
        const NEG: [char; 3] = ['L', 'P', 'I'];
        (0..3)
            .map(|c| {
                let col: [f64; 3] = std::array::from_fn(|r| self.0[r][c]);
                let (axis, v) = col
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .expect("three rows");
                if *v >= 0.0 { POS[axis] } else { NEG[axis] }
            })
            .collect()
    }

    /// This affine scaled to a new spacing, keeping the same field of view: voxel `i` of the new grid
    /// sits at continuous index `(i + 0.5) · new/old − 0.5` of the old one.
    pub fn with_spacing(&self, new_spacing: [f64; 3]) -> Affine {
        let old = self.spacing();
        let f: [f64; 3] = std::array::from_fn(|a| new_spacing[a] / old[a]);
        let shift = Affine(std::array::from_fn(|r| {
            std::array::from_fn(|c| match (r, c) {
                (r, c) if r == c && r < 3 => f[r],
                (r, 3) if r < 3 => 0.5 * f[r] - 0.5,
                (3, 3) => 1.0,
                _ => 0.0,
            })
        }));
        self.compose(&shift)
    }
}

/// An axis-aligned box in world millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorldBox {
    pub min: [f64; 3],
    pub max: [f64; 3],
}

impl WorldBox {
    /// The box around the centres of the corner voxels of a grid, widened by half a voxel on each side.
    pub fn of_grid(dims: [usize; 3], affine: &Affine) -> WorldBox {
        let mut min = [f64::INFINITY; 3];
        let mut max = [f64::NEG_INFINITY; 3];
        for corner in 0..8 {
            let p: [f64; 3] = std::array::from_fn(|a| {
                if corner >> a & 1 == 1 {
                    dims[a] as f64 - 0.5
                } else {
                    -0.5
                }
            });
            let w = affine.apply(p);
            for a in 0..3 {
                min[a] = min[a].min(w[a]);
                max[a] = max[a].max(w[a]);
            }
        }
        WorldBox { min, max }
    }

    /// The volume in ml (cm³) of the intersection of two boxes; 0 when they are disjoint.
    pub fn overlap_ml(&self, other: &WorldBox) -> f64 {
        (0..3)
            .map(|a| (self.max[a].min(other.max[a]) - self.min[a].max(other.min[a])).max(0.0))
            .product::<f64>()
            / 1000.0
    }
}

impl std::fmt::Display for WorldBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{:.1}, {:.1}, {:.1}]..[{:.1}, {:.1}, {:.1}]",
            self.min[0], self.min[1], self.min[2], self.max[0], self.max[1], self.max[2]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_round_trips() {
        let a = Affine([
            [-0.5, 0.01, 0.0, 120.0],
            [0.02, -0.49, 0.1, 80.0],
            [0.0, 0.05, 3.0, -40.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        let p = [10.0, 20.0, 3.0];
        let back = a.inverse().unwrap().apply(a.apply(p));
        for k in 0..3 {
            assert!((back[k] - p[k]).abs() < 1e-9);
        }
        assert!(Affine([[0.0; 4]; 4]).inverse().is_none());
    }

    #[test]
    fn axcodes_match_nibabel_conventions() {
        // BraTS files store diag(-1, -1, 1): nibabel says ('L', 'P', 'S').
        let brats = Affine::from_spacing([-1.0, -1.0, 1.0], [0.0; 3]);
        assert_eq!(brats.axcodes(), "LPS");
        assert_eq!(Affine::IDENTITY.axcodes(), "RAS");
    }

    #[test]
    fn with_spacing_keeps_the_field_of_view() {
        let a = Affine::from_spacing([1.0, 1.0, 1.0], [0.0; 3]);
        let b = a.with_spacing([2.0, 2.0, 2.0]);
        // New voxel 0 lies halfway between old voxels 0 and 1.
        assert_eq!(b.apply([0.0, 0.0, 0.0]), [0.5, 0.5, 0.5]);
        assert_eq!(b.spacing(), [2.0, 2.0, 2.0]);
        let fa = WorldBox::of_grid([240, 240, 155], &a);
        let fb = WorldBox::of_grid([120, 120, 78], &b);
        assert_eq!(fa.min, fb.min);
    }
}
