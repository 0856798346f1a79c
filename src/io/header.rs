//! The geometry fields of a NIfTI-1 header: the affine from sform, qform or pixdim (in the order the
//! standard gives), and the reverse, an affine written back as sform and qform.

use crate::geometry::Affine;
use crate::volume::AffineSource;
use nifti::NiftiHeader;

/// The affine a header describes and which field it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeaderGeometry {
    pub affine: Affine,
    pub source: AffineSource,
}

impl HeaderGeometry {
    /// Reads the affine as NIfTI readers do: sform when `sform_code > 0`, else qform when
    /// `qform_code > 0`, else pixdim alone (NIfTI "method 1": no rotation, origin at voxel 0).
    pub fn from_header(h: &NiftiHeader) -> Self {
        if h.sform_code > 0 {
            let rows = [h.srow_x, h.srow_y, h.srow_z];
            let mut m = Affine::IDENTITY.0;
            for r in 0..3 {
                for c in 0..4 {
                    m[r][c] = rows[r][c] as f64;
                }
            }
            return Self {
                affine: Affine(m),
                source: AffineSource::Sform,
            };
        }
        let spacing: [f64; 3] = std::array::from_fn(|a| h.pixdim[a + 1].abs() as f64);
        if h.qform_code > 0 {
            return Self {
                affine: qform_affine(
                    [h.quatern_b, h.quatern_c, h.quatern_d].map(f64::from),
                    [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from),
                    spacing,
                    h.pixdim[0] as f64,
                ),
                source: AffineSource::Qform,
            };
        }
        Self {
            affine: Affine::from_spacing(spacing, [0.0; 3]),
            source: AffineSource::Pixdim,
        }
    }

    /// Writes `affine` into a header as both sform and qform with the given code (1 = scanner,
    /// 2 = aligned), and the spacing into pixdim.
    pub fn write_into(affine: &Affine, code: i16, h: &mut NiftiHeader) {
        let m = &affine.0;
        h.srow_x = std::array::from_fn(|c| m[0][c] as f32);
        h.srow_y = std::array::from_fn(|c| m[1][c] as f32);
        h.srow_z = std::array::from_fn(|c| m[2][c] as f32);
        h.sform_code = code;
        let (quat, qfac, spacing) = affine_to_quaternion(affine);
        h.quatern_b = quat[0] as f32;
        h.quatern_c = quat[1] as f32;
        h.quatern_d = quat[2] as f32;
        h.quatern_x = m[0][3] as f32;
        h.quatern_y = m[1][3] as f32;
        h.quatern_z = m[2][3] as f32;
        h.qform_code = code;
        h.pixdim[0] = qfac as f32;
        for (p, s) in h.pixdim[1..4].iter_mut().zip(spacing) {
            *p = s as f32;
        }
        h.xyzt_units = 2; // millimetres
    }
}

/// The qform affine of the NIfTI-1 standard: rotation from the quaternion (b, c, d) with
/// a = sqrt(1 − b² − c² − d²), the third column flipped when qfac (pixdim[0]) is −1.
fn qform_affine(bcd: [f64; 3], offset: [f64; 3], spacing: [f64; 3], qfac: f64) -> Affine {
    let [b, c, d] = bcd;
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    let r = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    let qfac = if qfac < 0.0 { -1.0 } else { 1.0 };
    let scale = [spacing[0], spacing[1], spacing[2] * qfac];
    let mut m = Affine::IDENTITY.0;
    for row in 0..3 {
        for col in 0..3 {
            m[row][col] = r[row][col] * scale[col];
        }
        m[row][3] = offset[row];
    }
    Affine(m)
}

/// Splits an affine into quaternion (b, c, d), qfac and spacing, as `nifti_mat44_to_quatern` does:
/// columns normalised, a left-handed frame made right-handed by flipping the third column (qfac −1).
/// Shears are dropped (the sform keeps them).
fn affine_to_quaternion(affine: &Affine) -> ([f64; 3], f64, [f64; 3]) {
    let m = &affine.0;
    let spacing = affine.spacing();
    let mut r = [[0.0; 3]; 3];
    for row in 0..3 {
        for col in 0..3 {
            r[row][col] = if spacing[col] > 0.0 {
                m[row][col] / spacing[col]
            } else {
                0.0
            };
        }
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    if qfac < 0.0 {
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
    }
    let trace = r[0][0] + r[1][1] + r[2][2];
    let (a, b, c, d);
    if trace > 0.0 {
        let s = (trace + 1.0).sqrt() * 2.0;
        a = 0.25 * s;
        b = (r[2][1] - r[1][2]) / s;
        c = (r[0][2] - r[2][0]) / s;
        d = (r[1][0] - r[0][1]) / s;
    } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
        let s = (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt() * 2.0;
        a = (r[2][1] - r[1][2]) / s;
        b = 0.25 * s;
        c = (r[0][1] + r[1][0]) / s;
        d = (r[0][2] + r[2][0]) / s;
    } else if r[1][1] > r[2][2] {
        let s = (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt() * 2.0;
        a = (r[0][2] - r[2][0]) / s;
        b = (r[0][1] + r[1][0]) / s;
        c = 0.25 * s;
        d = (r[1][2] + r[2][1]) / s;
    } else {
        let s = (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt() * 2.0;
        a = (r[1][0] - r[0][1]) / s;
        b = (r[0][2] + r[2][0]) / s;
        c = (r[1][2] + r[2][1]) / s;
        d = 0.25 * s;
    }
    // The standard stores a ≥ 0 implicitly.
    let sign = if a < 0.0 { -1.0 } else { 1.0 };
    ([b * sign, c * sign, d * sign], qfac, spacing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &Affine, b: &Affine, tol: f64) -> bool {
        a.0.iter()
            .flatten()
            .zip(b.0.iter().flatten())
            .all(|(x, y)| (x - y).abs() < tol)
    }

    #[test]
    fn qform_of_identity_quaternion_is_diagonal() {
        let a = qform_affine([0.0; 3], [1.0, 2.0, 3.0], [0.5, 0.5, 3.0], 1.0);
        assert!(close(
            &a,
            &Affine::from_spacing([0.5, 0.5, 3.0], [1.0, 2.0, 3.0]),
            1e-12
        ));
        // qfac = -1 flips the third column.
        let f = qform_affine([0.0; 3], [0.0; 3], [1.0; 3], -1.0);
        assert_eq!(f.0[2][2], -1.0);
    }

    #[test]
    fn quaternion_round_trips_rotations_and_flips() {
        // BraTS-like LPS diagonal (a 180° rotation about z), and an oblique prostate-like frame.
        let th: f64 = 0.3;
        let cases = [
            Affine::from_spacing([-1.0, -1.0, 1.0], [0.0, 239.0, 0.0]),
            Affine([
                [0.5 * th.cos(), -0.5 * th.sin(), 0.0, -80.0],
                [0.5 * th.sin(), 0.5 * th.cos(), 0.0, -60.0],
                [0.0, 0.0, -3.0, 40.0],
                [0.0, 0.0, 0.0, 1.0],
            ]),
        ];
        for a in cases {
            let mut h = NiftiHeader::default();
            HeaderGeometry::write_into(&a, 1, &mut h);
            h.sform_code = 0;
            let back = HeaderGeometry::from_header(&h);
            assert_eq!(back.source, AffineSource::Qform);
            assert!(
                close(&back.affine, &a, 1e-5),
                "{:?} vs {:?}",
                back.affine,
                a
            );
        }
    }
}
