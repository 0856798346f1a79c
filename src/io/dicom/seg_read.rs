//! Reading a DICOM Segmentation object (SEG), whoever wrote it: its segments (number, label, coded
//! type), its frame of reference and referenced series, and each frame's segment, plane position and
//! mask. BINARY frames are unpacked bit by bit; FRACTIONAL ones are thresholded at half their maximum.
//! Placing the frames on a case's grid is `case::read_label_file`'s work.

use super::scan::read_object;
use super::seg::{SEGMENTATION_STORAGE, tags};
use crate::error::{CloeError, Result};
use dicom_core::Tag;
use dicom_object::InMemDicomObject;
use std::path::{Path, PathBuf};

/// One segment of a SEG.
#[derive(Debug, Clone, PartialEq)]
pub struct SegSegment {
    pub number: u16,
    pub label: String,
    /// The meaning of its SegmentedPropertyTypeCodeSequence (empty when absent).
    pub kind: String,
    /// SegmentAlgorithmType: AUTOMATIC, SEMIAUTOMATIC or MANUAL.
    pub algorithm: String,
}

/// One frame: which segment, where (ImagePositionPatient, LPS mm), and its mask (row by row).
#[derive(Debug, Clone, PartialEq)]
pub struct SegFrame {
    pub segment: u16,
    pub position: [f64; 3],
    pub mask: Vec<bool>,
}

/// A SEG as read.
#[derive(Debug, Clone, PartialEq)]
pub struct SegObject {
    pub path: PathBuf,
    pub frame_of_reference: String,
    pub referenced_series: Vec<String>,
    pub rows: usize,
    pub cols: usize,
    /// ImageOrientationPatient of the frames (row direction, then column direction).
    pub orientation: Option<[f64; 6]>,
    pub segments: Vec<SegSegment>,
    pub frames: Vec<SegFrame>,
}

/// True when `path` is a DICOM file whose SOP class is Segmentation Storage.
pub fn is_seg_file(path: &Path) -> bool {
    if !super::is_dicom_file(path) {
        return false;
    }
    read_object(path, true)
        .is_ok_and(|(obj, _)| text(&obj, tags::SOP_CLASS_UID) == SEGMENTATION_STORAGE)
}

/// Reads the SEG in `path`.
pub fn read_seg(path: &Path) -> Result<SegObject> {
    let bad = |why: String| CloeError::BadDicom {
        path: path.to_path_buf(),
        why,
    };
    let (obj, _) = read_object(path, false).map_err(&bad)?;
    if text(&obj, tags::SOP_CLASS_UID) != SEGMENTATION_STORAGE {
        return Err(bad("is not a DICOM Segmentation object (SEG)".into()));
    }
    let rows = int(&obj, tags::ROWS).unwrap_or(0) as usize;
    let cols = int(&obj, tags::COLUMNS).unwrap_or(0) as usize;
    let count = int(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(0) as usize;
    if rows == 0 || cols == 0 {
        return Err(bad("has no rows or columns".into()));
    }
    let segments = segments(&obj);
    let per_frame = items(&obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    if per_frame.len() != count {
        return Err(bad(format!(
            "says it has {count} frames but describes {}",
            per_frame.len()
        )));
    }
    let masks = unpack(&obj, rows * cols, count).map_err(&bad)?;
    let shared = items(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).first();
    let frames = (per_frame.iter().zip(masks))
        .enumerate()
        .map(|(f, (item, mask))| {
            frame(item, shared, mask)
                .ok_or_else(|| bad(format!("frame {} has no segment or plane position", f + 1)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SegObject {
        path: path.to_path_buf(),
        frame_of_reference: text(&obj, tags::FRAME_OF_REFERENCE_UID),
        referenced_series: (items(&obj, tags::REFERENCED_SERIES_SEQUENCE).iter())
            .map(|s| text(s, tags::SERIES_INSTANCE_UID))
            .collect(),
        rows,
        cols,
        orientation: orientation(&obj, per_frame.first()),
        segments,
        frames,
    })
}

/// The segment items: number, label, the meaning of their type code.
fn segments(obj: &InMemDicomObject) -> Vec<SegSegment> {
    (items(obj, tags::SEGMENT_SEQUENCE).iter())
        .map(|s| SegSegment {
            number: int(s, tags::SEGMENT_NUMBER).unwrap_or(0) as u16,
            label: text(s, tags::SEGMENT_LABEL),
            algorithm: text(s, tags::SEGMENT_ALGORITHM_TYPE),
            kind: (items(s, tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE).first())
                .map(|c| text(c, tags::CODE_MEANING))
                .unwrap_or_default(),
        })
        .collect()
}

/// The frame's segment number and plane position with its mask. Each functional group is in the
/// frame's item or, the same for every frame, in the shared one (highdicom puts the segment there
/// when a SEG has only one).
fn frame(
    item: &InMemDicomObject,
    shared: Option<&InMemDicomObject>,
    mask: Vec<bool>,
) -> Option<SegFrame> {
    let group = |tag: Tag| {
        (items(item, tag).first()).or_else(|| shared.and_then(|s| items(s, tag).first()))
    };
    let segment = int(
        group(tags::SEGMENT_IDENTIFICATION_SEQUENCE)?,
        tags::REFERENCED_SEGMENT_NUMBER,
    )?;
    let position = floats::<3>(
        group(tags::PLANE_POSITION_SEQUENCE)?,
        tags::IMAGE_POSITION_PATIENT,
    )?;
    Some(SegFrame {
        segment: segment as u16,
        position,
        mask,
    })
}

/// ImageOrientationPatient from the shared functional groups, else from the first frame's.
fn orientation(obj: &InMemDicomObject, first: Option<&InMemDicomObject>) -> Option<[f64; 6]> {
    let from = |groups: &InMemDicomObject| {
        let plane = items(groups, tags::PLANE_ORIENTATION_SEQUENCE);
        floats::<6>(plane.first()?, tags::IMAGE_ORIENTATION_PATIENT)
    };
    let shared = items(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    shared
        .first()
        .and_then(from)
        .or_else(|| first.and_then(from))
}

/// Every frame's mask from the pixel data: 1 bit per pixel (BINARY), or 8 bits thresholded at half
/// the maximum fractional value (FRACTIONAL).
fn unpack(
    obj: &InMemDicomObject,
    plane: usize,
    count: usize,
) -> std::result::Result<Vec<Vec<bool>>, String> {
    let bits = int(obj, tags::BITS_ALLOCATED).unwrap_or(1);
    let data = obj
        .get(tags::PIXEL_DATA)
        .ok_or("has no pixel data")?
        .to_bytes()
        .map_err(|_| "its pixel data is compressed (encapsulated): save the SEG uncompressed")?;
    let needed = match bits {
        1 => (plane * count).div_ceil(8),
        8 => plane * count,
        other => {
            return Err(format!(
                "has {other} bits per pixel; a SEG has 1 (BINARY) or 8 (FRACTIONAL)"
            ));
        }
    };
    if data.len() < needed {
        return Err(format!(
            "is truncated: its pixel data holds {} bytes of the {needed} its {count} frames need",
            data.len()
        ));
    }
    let threshold = int(obj, tags::MAXIMUM_FRACTIONAL_VALUE).unwrap_or(255) as f64 / 2.0;
    Ok((0..count)
        .map(|f| {
            (0..plane)
                .map(|p| {
                    let i = f * plane + p;
                    if bits == 1 {
                        data[i / 8] >> (i % 8) & 1 == 1
                    } else {
                        data[i] as f64 > threshold
                    }
                })
                .collect()
        })
        .collect())
}

fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    (obj.get(tag).and_then(|e| e.to_str().ok()))
        .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
        .unwrap_or_default()
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag).and_then(|e| e.to_int::<i64>().ok())
}

fn floats<const N: usize>(obj: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    let v = obj.get(tag)?.to_multi_float64().ok()?;
    (v.len() == N).then(|| std::array::from_fn(|i| v[i]))
}
