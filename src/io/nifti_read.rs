//! Reading NIfTI-1 files (`.nii`, `.nii.gz`) into volumes, with the header checked before any voxel is
//! allocated, `scl_slope`/`scl_inter` applied, and non-finite voxels counted; the voxels of a NIfTI-2
//! file (`nifti2`) go through the same checks and reading once its header is in NIfTI-1 fields.

use super::header::HeaderGeometry;
use super::image::{Image, ReadOptions, VolumeFormat};
use crate::error::{CloeError, Result};
use crate::geometry::Affine;
use crate::volume::{Grid, VolumeInfo};
use flate2::read::MultiGzDecoder;
use nifti::{InMemNiftiVolume, IntoNdArray, NiftiError, NiftiHeader, NiftiType};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// NIfTI-1 (`.nii`, `.nii.gz`), through the `nifti` crate (`nifti_read`).
pub struct Nifti1;

impl VolumeFormat for Nifti1 {
    fn name(&self) -> &'static str {
        "NIfTI-1"
    }

    fn endings(&self) -> &'static [&'static str] {
        &[".nii.gz", ".nii"]
    }

    fn read(&self, path: &Path, opts: ReadOptions) -> Result<Image> {
        read_nifti1(path, opts)
    }
}

/// The most voxel bytes a single file may claim (4 GiB: twenty times a 1 mm whole-body CT).
const MAX_DATA_BYTES: u64 = 4 << 30;

/// The most voxels a single file may claim: their `f32` copy stays within 4 GiB.
const MAX_VOXELS: u64 = 1 << 30;

/// The most bytes a file may hold after its voxels (padding, a trailing extension, a second copy).
const MAX_TRAILING_BYTES: u64 = 64 << 20;

/// The largest expansion deflate can achieve (RFC 1951 streams of repeated bytes, about 1032:1).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads a NIfTI-1 file of up to four dimensions (x, y, z, channel).
pub fn read_nifti1(path: &Path, opts: ReadOptions) -> Result<Image> {
    let (header, compressed) = read_checked_header(path)?;
    read_from_header(path, header, compressed, opts)
}

/// The first `n` bytes of a file, gunzipped when it is compressed (fewer when it is shorter or
/// unreadable: the reader then says what is wrong).
pub(super) fn first_bytes(path: &Path, n: u64) -> Vec<u8> {
    let mut head = Vec::new();
    if let Ok((reader, _)) = open(path) {
        let _ = reader.take(n).read_to_end(&mut head);
    }
    head
}

/// Reads the voxels of a file whose NIfTI-1 (or equivalent NIfTI-2) header is `header`; CIFTI-2
/// files, which hold data on surfaces and greyordinates rather than a volume, are refused as such.
pub(super) fn read_from_header(
    path: &Path,
    mut header: NiftiHeader,
    compressed: bool,
    opts: ReadOptions,
) -> Result<Image> {
    if (3000..3100).contains(&header.intent_code) {
        let name = String::from_utf8_lossy(&header.intent_name);
        return Err(CloeError::NotNifti {
            path: path.to_path_buf(),
            why: format!(
                "it is a CIFTI-2 file (intent {}, {}): data on brain surfaces and greyordinates, \
                 not an image volume",
                header.intent_code,
                name.trim_end_matches('\0')
            ),
        });
    }
    let dims = header_dims(path, &header)?;
    check_size(path, &header, &dims, compressed)?;
    let (grid, affine_source) = geometry(path, &header, &dims)?;
    // A slope that is not a finite non-zero number means "no scaling" (as nibabel reads it), not NaN
    // or zero voxels.
    if !header.scl_slope.is_finite() || !header.scl_inter.is_finite() {
        (header.scl_slope, header.scl_inter) = (0.0, 0.0);
    }
    // Skip to vox_offset (the header, any extensions or padding), read the voxels, then read the
    // stream to its end: a gzip stream's checksum is checked there.
    let mut reader = open(path)?.0;
    skip_to_voxels(path, &mut reader, &header)?;
    let object =
        InMemNiftiVolume::from_reader(&mut reader, &header).map_err(|e| nifti_error(path, e))?;
    check_trailing(path, &mut reader)?;
    let datatype = datatype_name(header.data_type().ok());
    let array = object
        .into_ndarray::<f32>()
        .map_err(|e| nifti_error(path, e))?;
    // The array is in Fortran order over the raw buffer: x fastest, channels slowest.
    let (mut raw, _) = array.into_raw_vec_and_offset();

    let (nan, inf) = zero_nonfinite(&mut raw);
    if nan + inf > 0 && opts.reject_nonfinite {
        return Err(CloeError::NonFinite {
            path: path.to_path_buf(),
            nan,
            inf,
            total: raw.len(),
        });
    }
    let per_channel = grid.len();
    let channels = if dims[3] == 1 {
        vec![raw]
    } else {
        raw.chunks_exact(per_channel).map(<[f32]>::to_vec).collect()
    };
    Ok(Image {
        grid,
        channels,
        info: VolumeInfo {
            path: Some(path.to_path_buf()),
            datatype,
            affine_source,
            nan_voxels: nan,
            inf_voxels: inf,
        },
    })
}

/// Skips the reader to `vox_offset` (the header, any extensions or padding).
fn skip_to_voxels(path: &Path, reader: &mut impl Read, header: &NiftiHeader) -> Result<()> {
    let start = (header.vox_offset as u64).max(348);
    let skipped = std::io::copy(&mut reader.take(start), &mut std::io::sink())
        .map_err(|e| nifti_error(path, NiftiError::Io(e)))?;
    if skipped != start {
        return Err(CloeError::Truncated {
            path: path.to_path_buf(),
            why: format!("vox_offset is {start} but the file ends after {skipped} bytes"),
        });
    }
    Ok(())
}

/// Reads the stream after the voxels to its end (checking a gzip stream's checksum), refusing one
/// that goes on far past them.
fn check_trailing(path: &Path, reader: &mut impl Read) -> Result<()> {
    // Bounded: a stream that goes on far past the voxels (a gzip bomb behind a small header) is
    // refused instead of being inflated to its end.
    let trailing = std::io::copy(
        &mut reader.take(MAX_TRAILING_BYTES + 1),
        &mut std::io::sink(),
    )
    .map_err(|e| nifti_error(path, NiftiError::Io(e)))?;
    if trailing > MAX_TRAILING_BYTES {
        return Err(CloeError::bad_header(
            path,
            format!(
                "the file goes on for more than {} MiB after the voxels its header describes; \
                 the header does not match the data (check dim[] and datatype)",
                MAX_TRAILING_BYTES >> 20
            ),
        ));
    }
    Ok(())
}

/// Sets NaN and infinite voxels to 0 and counts them (NaN, Inf).
fn zero_nonfinite(raw: &mut [f32]) -> (usize, usize) {
    let (mut nan, mut inf) = (0usize, 0usize);
    for v in raw.iter_mut().filter(|v| !v.is_finite()) {
        if v.is_nan() {
            nan += 1;
        } else {
            inf += 1;
        }
        *v = 0.0;
    }
    (nan, inf)
}

/// Opens a file, gunzipping it when it starts with the gzip magic (whatever its name says).
/// Also says whether it was compressed.
pub(super) fn open(path: &Path) -> Result<(Box<dyn Read>, bool)> {
    use std::io::BufRead;
    let mut file = BufReader::new(File::open(path).map_err(|e| CloeError::unreadable(path, e))?);
    let head = file
        .fill_buf()
        .map_err(|e| CloeError::unreadable(path, e))?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        (Box::new(MultiGzDecoder::new(file)), true)
    } else {
        (Box::new(file), false)
    })
}

/// Reads the header and checks that it is a single-file NIfTI-1 header.
fn read_checked_header(path: &Path) -> Result<(NiftiHeader, bool)> {
    if path.is_dir() {
        return Err(CloeError::NotNifti {
            path: path.to_path_buf(),
            why: "it is a folder, not a file".into(),
        });
    }
    // A pipe or a device would block or never end; only regular files (or links to them) are read.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(CloeError::NotNifti {
            path: path.to_path_buf(),
            why: "it is not a regular file (a pipe, socket or device)".into(),
        });
    }
    let (reader, compressed) = open(path)?;
    let header = NiftiHeader::from_reader(reader).map_err(|e| match e {
        NiftiError::Io(io) if compressed && io.kind() == std::io::ErrorKind::UnexpectedEof => {
            CloeError::Truncated {
                path: path.to_path_buf(),
                why: "the gzip stream ends inside the header".into(),
            }
        }
        NiftiError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            CloeError::NotNifti {
                path: path.to_path_buf(),
                why: "the file is shorter than a NIfTI header (348 bytes)".into(),
            }
        }
        NiftiError::Io(io) => CloeError::unreadable(path, io),
        other => CloeError::NotNifti {
            path: path.to_path_buf(),
            why: format!("its first 348 bytes are not a NIfTI-1 header ({other})"),
        },
    })?;
    // The nifti crate tells the byte order by dim[0] (1 to 7): a dim[0] outside that range makes it read
    // the header byte-swapped, sizeof_hdr included. Blame dim[0], not sizeof_hdr.
    if header.sizeof_hdr == 348i32.swap_bytes() {
        return Err(CloeError::bad_header(
            path,
            format!(
                "dim[0] (the number of dimensions) is {}; it must be 1 to 7",
                (header.dim[0] as i16).swap_bytes()
            ),
        ));
    }
    match header.sizeof_hdr {
        348 => {}
        540 | 0x1c02_0000 => {
            return Err(CloeError::NotNifti {
                path: path.to_path_buf(),
                why: "it is a NIfTI-2 file, which this version does not read; \
                      save it as NIfTI-1 (e.g. with nibabel or ITK-SNAP)"
                    .into(),
            });
        }
        other => {
            return Err(CloeError::NotNifti {
                path: path.to_path_buf(),
                why: format!("its first four bytes say the header is {other} bytes long, not 348"),
            });
        }
    }
    match &header.magic {
        b"n+1\0" => Ok((header, compressed)),
        b"ni1\0" => Err(CloeError::NotNifti {
            path: path.to_path_buf(),
            why: "it is the header of a .hdr/.img pair; convert the pair to a single .nii".into(),
        }),
        m => Err(CloeError::NotNifti {
            path: path.to_path_buf(),
            why: format!("its magic is {:?}, not \"n+1\"", String::from_utf8_lossy(m)),
        }),
    }
}

/// The grid a header describes (dimensions checked, the affine in mm and invertible), without reading
/// voxels; also says which header fields the affine came from.
pub fn header_grid(path: &Path, header: &NiftiHeader) -> Result<Grid> {
    let dims = header_dims(path, header)?;
    Ok(geometry(path, header, &dims)?.0)
}

fn geometry(
    path: &Path,
    header: &NiftiHeader,
    dims: &[usize; 4],
) -> Result<(Grid, crate::volume::AffineSource)> {
    check_quaternion(path, header)?;
    let mut geometry = HeaderGeometry::from_header(header);
    let unit = spatial_unit_mm(path, header.xyzt_units)?;
    if unit != 1.0 {
        for row in geometry.affine.0.iter_mut().take(3) {
            row.iter_mut().for_each(|v| *v *= unit);
        }
    }
    let grid = Grid::new([dims[0], dims[1], dims[2]], geometry.affine);
    check_affine(path, &grid.affine)?;
    grid.check_field_of_view()
        .map_err(|why| CloeError::bad_header(path, why))?;
    Ok((grid, geometry.source))
}

/// A qform that is used (no sform) must hold a rotation: b² + c² + d² ≤ 1 (the fourth component
/// a = √(1 − b² − c² − d²)), within float32 rounding as nibabel allows. Beyond that the orientation is
/// damaged: refused rather than read as some other orientation and spacing.
fn check_quaternion(path: &Path, h: &NiftiHeader) -> Result<()> {
    if h.sform_code > 0 || h.qform_code <= 0 {
        return Ok(());
    }
    let [b, c, d] = [h.quatern_b, h.quatern_c, h.quatern_d].map(f64::from);
    let norm = b * b + c * c + d * d;
    if norm.is_finite() && norm <= 1.0 + 3.0 * f64::from(f32::EPSILON) {
        return Ok(());
    }
    Err(CloeError::bad_header(
        path,
        format!(
            "the qform quaternion (b, c, d) = ({b}, {c}, {d}) has b² + c² + d² = {norm:.4}, more than 1, \
             so it is no rotation and the orientation is damaged (there is no sform to use instead); \
             rewrite the header with the tool that made the file"
        ),
    ))
}

/// The four meaningful dimensions (x, y, z, channels), each checked to be positive and sane.
fn header_dims(path: &Path, h: &NiftiHeader) -> Result<[usize; 4]> {
    let rank = h.dim[0] as i16;
    if !(1..=7).contains(&rank) {
        return Err(CloeError::bad_header(
            path,
            format!("dim[0] (the number of dimensions) is {rank}; it must be 1 to 7"),
        ));
    }
    let mut dims = [1usize; 4];
    for a in 1..=rank as usize {
        // The standard stores dims as signed 16-bit: a huge unsigned value is a negative dimension.
        let d = h.dim[a] as i16;
        if d < 1 {
            return Err(CloeError::bad_header(
                path,
                format!("dimension {a} is {d}; every dimension must be at least 1"),
            ));
        }
        if a <= 4 {
            dims[a - 1] = d as usize;
        } else if d > 1 {
            return Err(CloeError::bad_header(
                path,
                format!("dimension {a} is {d}: images of more than 4 dimensions are not supported"),
            ));
        }
    }
    for a in 1..=3 {
        let p = h.pixdim[a];
        if !p.is_finite() || (p == 0.0 && h.sform_code <= 0) {
            return Err(CloeError::bad_header(
                path,
                format!("pixdim[{a}] (voxel size) is {p}; it must be a positive number"),
            ));
        }
    }
    Ok(dims)
}

/// Refuses absurd sizes before allocating, and short uncompressed files before reading.
fn check_size(path: &Path, h: &NiftiHeader, dims: &[usize; 4], compressed: bool) -> Result<()> {
    let datatype = check_datatype(path, h)?;
    let voxels: u64 = dims.iter().map(|&d| d as u64).product();
    let bytes = voxels * datatype.size_of() as u64;
    if bytes > MAX_DATA_BYTES || voxels > MAX_VOXELS {
        return Err(CloeError::bad_header(
            path,
            format!(
                "its dimensions {dims:?} claim {:.1} GiB of voxels; refusing to allocate that \
                 (the header is probably damaged)",
                bytes as f64 / (1u64 << 30) as f64
            ),
        ));
    }
    let file_len = std::fs::metadata(path)
        .map_err(|e| CloeError::unreadable(path, e))?
        .len();
    if !h.vox_offset.is_finite() || h.vox_offset < 0.0 {
        return Err(CloeError::bad_header(
            path,
            format!(
                "vox_offset is {}; it must be where the voxels start",
                h.vox_offset
            ),
        ));
    }
    let needed = (h.vox_offset.max(352.0) as u64).saturating_add(bytes);
    if !compressed && file_len < needed {
        return Err(CloeError::Truncated {
            path: path.to_path_buf(),
            why: format!("the header promises {needed} bytes but the file has {file_len}"),
        });
    }
    // Deflate cannot expand data more than 1032 times: a small gzip that claims more is damaged
    // (or a bomb), refused before anything is allocated.
    if compressed && needed > file_len.saturating_mul(MAX_DEFLATE_RATIO) {
        return Err(CloeError::Truncated {
            path: path.to_path_buf(),
            why: format!(
                "the header promises {:.1} MiB of voxels but {:.2} MiB of gzip cannot hold that many",
                needed as f64 / (1u64 << 20) as f64,
                file_len as f64 / (1u64 << 20) as f64
            ),
        });
    }
    Ok(())
}

/// The header's datatype, checked to be a scalar type this program reads with a matching bitpix.
fn check_datatype(path: &Path, h: &NiftiHeader) -> Result<NiftiType> {
    let datatype = h.data_type().map_err(|_| {
        CloeError::bad_header(
            path,
            format!("datatype code {} is not a NIfTI datatype", h.datatype),
        )
    })?;
    let supported = matches!(
        datatype,
        NiftiType::Uint8
            | NiftiType::Int8
            | NiftiType::Int16
            | NiftiType::Uint16
            | NiftiType::Int32
            | NiftiType::Uint32
            | NiftiType::Int64
            | NiftiType::Uint64
            | NiftiType::Float32
            | NiftiType::Float64
    );
    if !supported {
        return Err(CloeError::bad_header(
            path,
            format!("datatype {datatype:?} is not a scalar image type this program reads"),
        ));
    }
    if h.bitpix as usize != 8 * datatype.size_of() {
        return Err(CloeError::bad_header(
            path,
            format!(
                "bitpix is {} but datatype {datatype:?} has {} bits per voxel; the header is damaged",
                h.bitpix,
                8 * datatype.size_of()
            ),
        ));
    }
    Ok(datatype)
}

/// Millimetres per spatial unit of `xyzt_units` (unknown: millimetres, as readers assume).
fn spatial_unit_mm(path: &Path, xyzt_units: u8) -> Result<f64> {
    match xyzt_units & 0x07 {
        0 | 2 => Ok(1.0),
        1 => Ok(1000.0),
        3 => Ok(0.001),
        other => Err(CloeError::bad_header(
            path,
            format!(
                "xyzt_units says the spatial unit is code {other}, which is not metres, mm or µm"
            ),
        )),
    }
}

fn check_affine(path: &Path, affine: &Affine) -> Result<()> {
    if affine.0.iter().flatten().any(|v| !v.is_finite()) || affine.inverse().is_none() {
        return Err(CloeError::bad_header(
            path,
            "its voxel-to-world affine is singular or not finite; fix the sform/qform fields",
        ));
    }
    Ok(())
}

/// Maps the nifti crate's errors onto ours.
fn nifti_error(path: &Path, e: NiftiError) -> CloeError {
    match e {
        NiftiError::Io(io) => match io.kind() {
            std::io::ErrorKind::UnexpectedEof => CloeError::Truncated {
                path: path.to_path_buf(),
                why: "the file ends early".into(),
            },
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                CloeError::Truncated {
                    path: path.to_path_buf(),
                    why: format!("the gzip stream is damaged ({io})"),
                }
            }
            _ => CloeError::unreadable(path, io),
        },
        NiftiError::IncompatibleLength(got, want) => CloeError::Truncated {
            path: path.to_path_buf(),
            why: format!("it holds {got} bytes of voxel data where the header promises {want}"),
        },
        other => CloeError::bad_header(path, other.to_string()),
    }
}

fn datatype_name(t: Option<NiftiType>) -> String {
    match t {
        Some(NiftiType::Uint8) => "uint8",
        Some(NiftiType::Int8) => "int8",
        Some(NiftiType::Int16) => "int16",
        Some(NiftiType::Uint16) => "uint16",
        Some(NiftiType::Int32) => "int32",
        Some(NiftiType::Uint32) => "uint32",
        Some(NiftiType::Int64) => "int64",
        Some(NiftiType::Uint64) => "uint64",
        Some(NiftiType::Float32) => "float32",
        Some(NiftiType::Float64) => "float64",
        _ => "unknown",
    }
    .to_string()
}
