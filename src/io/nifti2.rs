//! NIfTI-2 (the 540-byte header: 64-bit dimensions, double-precision voxel sizes and affine), read
//! by turning its header into the NIfTI-1 fields the rest of the reader checks and uses (`nifti_read`:
//! the size checks, the affine from sform or qform, the voxels through the `nifti` crate). A dimension
//! beyond what a NIfTI-1 header holds (32767) is refused; the affine keeps single precision, as
//! nibabel's float32 copies do (well under a micrometre for any MR image).

use super::image::{Image, ReadOptions, VolumeFormat};
use super::nifti_read::{open, read_from_header};
use crate::error::{CloeError, Result};
use nifti::{Endianness, NiftiHeader};
use std::io::Read;
use std::path::Path;

/// The header's size, which starts the file.
const SIZEOF_HDR: i32 = 540;

/// NIfTI-2 (`.nii`, `.nii.gz` whose header is 540 bytes).
pub struct Nifti2;

impl VolumeFormat for Nifti2 {
    fn name(&self) -> &'static str {
        "NIfTI-2"
    }

    fn endings(&self) -> &'static [&'static str] {
        &[".nii.gz", ".nii"]
    }

    fn recognises(&self, head: &[u8]) -> bool {
        head.len() >= 4 && byte_order(head[..4].try_into().expect("four bytes")).is_some()
    }

    fn read(&self, path: &Path, opts: ReadOptions) -> Result<Image> {
        let (mut reader, compressed) = open(path)?;
        let mut bytes = [0u8; 540];
        reader
            .read_exact(&mut bytes)
            .map_err(|_| CloeError::Truncated {
                path: path.to_path_buf(),
                why: "the file ends inside its 540-byte NIfTI-2 header".into(),
            })?;
        let header = nifti1_fields(path, &bytes)?;
        read_from_header(path, header, compressed, opts)
    }
}

/// The byte order of a header starting with `sizeof_hdr`: None when it is not 540 either way.
fn byte_order(first: [u8; 4]) -> Option<Endianness> {
    if i32::from_le_bytes(first) == SIZEOF_HDR {
        Some(Endianness::Little)
    } else if i32::from_be_bytes(first) == SIZEOF_HDR {
        Some(Endianness::Big)
    } else {
        None
    }
}

/// Reads little- or big-endian fields of the 540 header bytes.
struct Fields<'a> {
    bytes: &'a [u8; 540],
    big: bool,
}

impl Fields<'_> {
    fn take<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut b: [u8; N] = self.bytes[at..at + N]
            .try_into()
            .expect("inside the header");
        if self.big {
            b.reverse();
        }
        b
    }

    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes(self.take(at))
    }

    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.take(at))
    }

    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.take(at))
    }

    fn f64(&self, at: usize) -> f64 {
        f64::from_le_bytes(self.take(at))
    }

    fn f32s<const N: usize>(&self, at: usize) -> [f32; N] {
        std::array::from_fn(|i| self.f64(at + 8 * i) as f32)
    }
}

/// The NIfTI-1 header equivalent to a NIfTI-2 one (offsets of the NIfTI-2 standard's `nifti_2_header`).
fn nifti1_fields(path: &Path, bytes: &[u8; 540]) -> Result<NiftiHeader> {
    let first: [u8; 4] = bytes[..4].try_into().expect("four bytes");
    let order = byte_order(first).ok_or_else(|| CloeError::NotNifti {
        path: path.to_path_buf(),
        why: "its first four bytes do not say 540, the size of a NIfTI-2 header".into(),
    })?;
    let f = Fields {
        bytes,
        big: order == Endianness::Big,
    };
    if &bytes[4..8] != b"n+2\0" {
        let why = if &bytes[4..8] == b"ni2\0" {
            "it is the header of a NIfTI-2 .hdr/.img pair; convert the pair to a single .nii".into()
        } else {
            format!(
                "its magic is {:?}, not \"n+2\"",
                String::from_utf8_lossy(&bytes[4..8])
            )
        };
        return Err(CloeError::NotNifti {
            path: path.to_path_buf(),
            why,
        });
    }
    let mut dim = [0u16; 8];
    for (a, d) in dim.iter_mut().enumerate() {
        let v = f.i64(16 + 8 * a);
        *d = u16::try_from(v)
            .ok()
            .filter(|&v| v <= i16::MAX as u16)
            .ok_or_else(|| {
                CloeError::bad_header(
                    path,
                    format!("dim[{a}] is {v}; this program reads dimensions up to 32767"),
                )
            })?;
    }
    let mut h = NiftiHeader {
        sizeof_hdr: 348,
        dim,
        intent_p1: f.f64(80) as f32,
        intent_p2: f.f64(88) as f32,
        intent_p3: f.f64(96) as f32,
        datatype: f.i16(12),
        bitpix: f.i16(14),
        pixdim: f.f32s(104),
        vox_offset: f.i64(168) as f32,
        scl_slope: f.f64(176) as f32,
        scl_inter: f.f64(184) as f32,
        cal_max: f.f64(192) as f32,
        cal_min: f.f64(200) as f32,
        qform_code: f.i32(344) as i16,
        sform_code: f.i32(348) as i16,
        quatern_b: f.f64(352) as f32,
        quatern_c: f.f64(360) as f32,
        quatern_d: f.f64(368) as f32,
        quatern_x: f.f64(376) as f32,
        quatern_y: f.f64(384) as f32,
        quatern_z: f.f64(392) as f32,
        srow_x: f.f32s(400),
        srow_y: f.f32s(432),
        srow_z: f.f32s(464),
        xyzt_units: f.i32(500) as u8,
        intent_code: f.i32(504) as i16,
        magic: *b"n+1\0",
        endianness: order,
        ..NiftiHeader::default()
    };
    h.intent_name.copy_from_slice(&bytes[508..524]);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little- or big-endian NIfTI-2 header of a 3×2×1 float32 image, 2 mm voxels, sform a shift.
    fn header(big: bool) -> [u8; 540] {
        let mut b = [0u8; 540];
        let mut put = |at: usize, v: &[u8]| {
            let mut v = v.to_vec();
            if big {
                v.reverse();
            }
            b[at..at + v.len()].copy_from_slice(&v);
        };
        put(0, &540i32.to_le_bytes());
        put(12, &16i16.to_le_bytes());
        put(14, &32i16.to_le_bytes());
        for (a, d) in [3i64, 3, 2, 1, 1, 1, 1, 1].iter().enumerate() {
            put(16 + 8 * a, &d.to_le_bytes());
        }
        for (a, p) in [1.0f64, 2.0, 2.0, 2.0].iter().enumerate() {
            put(104 + 8 * a, &p.to_le_bytes());
        }
        put(168, &544i64.to_le_bytes());
        put(348, &1i32.to_le_bytes());
        for (row, at) in [400usize, 432, 464].iter().enumerate() {
            for c in 0..4 {
                let v = if c == row {
                    2.0f64
                } else if c == 3 {
                    10.0 * row as f64
                } else {
                    0.0
                };
                put(at + 8 * c, &v.to_le_bytes());
            }
        }
        put(500, &[2u8, 0, 0, 0]);
        b[4..8].copy_from_slice(b"n+2\0");
        b
    }

    #[test]
    fn both_byte_orders_give_the_same_nifti1_fields() {
        for big in [false, true] {
            let h = nifti1_fields(Path::new("x.nii"), &header(big)).unwrap();
            assert_eq!(&h.dim[..4], &[3, 3, 2, 1], "big endian {big}");
            assert_eq!((h.datatype, h.bitpix, h.sform_code), (16, 32, 1));
            assert_eq!(h.pixdim[1..4], [2.0, 2.0, 2.0]);
            assert_eq!((h.vox_offset, h.xyzt_units), (544.0, 2));
            assert_eq!((h.srow_y, h.srow_z[3]), ([0.0, 2.0, 0.0, 10.0], 20.0));
            assert_eq!(h.endianness == Endianness::Big, big);
        }
    }

    #[test]
    fn a_dimension_beyond_nifti1_and_another_magic_are_refused() {
        let mut b = header(false);
        b[24..32].copy_from_slice(&70_000i64.to_le_bytes());
        let e = nifti1_fields(Path::new("x.nii"), &b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dim[1] is 70000"), "{e}");
        let mut b = header(false);
        b[4..8].copy_from_slice(b"ni2\0");
        let e = nifti1_fields(Path::new("x.nii"), &b)
            .unwrap_err()
            .to_string();
        assert!(e.contains(".hdr/.img pair"), "{e}");
    }
}
