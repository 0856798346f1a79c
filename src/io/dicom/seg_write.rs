//! Writing a DICOM Segmentation object (SEG, BINARY) on the grid of the series it was made from, with
//! dicom-rs's object model and writer: patient and study copied from the source, new series and
//! instance UIDs, the same frame of reference, every source instance referenced, one segment item per
//! segment (coded category and type, the algorithm that made it, a display colour), and per frame its
//! plane position, segment and source image; frames where a segment is empty are left out.

use super::scan::{DicomSeries, read_object};
use super::seg::{
    Algorithm, Code, SEGMENTATION_STORAGE, cielab, decimal, decimals, new_uid, sequence, short,
    sorted_slices, tags, text,
};
use crate::error::{CloeError, Result};
use crate::io::{WriteOptions, atomic_write};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::uids;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use std::path::Path;

/// One segment to write.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub label: String,
    pub description: String,
    pub category: Code,
    pub kind: Code,
    pub algorithm: Algorithm,
    /// Display colour (sRGB).
    pub colour: [u8; 3],
    /// The segment's voxels on the series' grid as `read_series` builds it (x fastest: column, row,
    /// then slice in the order along the slice normal).
    pub mask: &'a [bool],
}

/// How the SEG names itself.
#[derive(Debug, Clone)]
pub struct SegInfo {
    pub series_description: String,
    pub series_number: i64,
    pub content_label: String,
    pub creator: String,
    /// SoftwareVersions and ManufacturerModelName of the writing program.
    pub software: String,
    pub model: String,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SegWritten {
    pub frames: usize,
    pub series_uid: String,
    pub sop_instance: String,
}

/// The source series' geometry and references, as the SEG repeats them.
struct Source<'a> {
    series: &'a DicomSeries,
    /// Per slice in normal order: SOP instance UID and position (LPS mm).
    slices: Vec<(&'a str, [f64; 3])>,
    rows: usize,
    cols: usize,
    orientation: [f64; 6],
    spacing: [f64; 2],
    /// The distance between slices along the normal.
    step: f64,
}

impl<'a> Source<'a> {
    fn of(series: &'a DicomSeries, path: &Path) -> Result<Self> {
        let refuse = |why: &str| CloeError::BadDicom {
            path: path.to_path_buf(),
            why: format!("{}: {why}", series.name()),
        };
        let sorted = sorted_slices(series).ok_or_else(|| refuse("a slice has no position"))?;
        let first = sorted[0].0;
        let orientation = first.orientation.ok_or_else(|| refuse("no orientation"))?;
        let spacing = first
            .pixel_spacing
            .ok_or_else(|| refuse("no pixel spacing"))?;
        if series.frame_of_reference.is_empty() {
            return Err(refuse(
                "no FrameOfReferenceUID: a segmentation cannot be placed on it",
            ));
        }
        let step = match sorted.len() {
            1 => first.thickness.unwrap_or(1.0),
            n => (sorted[n - 1].1 - sorted[0].1) / (n - 1) as f64,
        };
        let slices = (sorted.iter())
            .map(|(s, _)| {
                (
                    s.sop_instance.as_str(),
                    s.position.expect("sorted by position"),
                )
            })
            .collect();
        Ok(Self {
            series,
            slices,
            rows: first.rows as usize,
            cols: first.cols as usize,
            orientation,
            spacing,
            step,
        })
    }
}

/// Writes `segments` as a SEG of `series` to `path` (atomically, never over an input).
pub fn write_seg(
    path: &Path,
    series: &DicomSeries,
    segments: &[Segment],
    info: &SegInfo,
    opts: &WriteOptions,
) -> Result<SegWritten> {
    crate::io::check_target(path, opts)?;
    let source = Source::of(series, path)?;
    let n = source.rows * source.cols * source.slices.len();
    if let Some(s) = segments.iter().find(|s| s.mask.len() != n) {
        return Err(CloeError::Internal(format!(
            "segment {} holds {} voxels, the series {n}",
            s.label,
            s.mask.len()
        )));
    }
    let first_file = &series.slices[0].path;
    let (original, _) = read_object(first_file, true).map_err(|why| CloeError::BadDicom {
        path: first_file.clone(),
        why,
    })?;
    let mut obj = InMemDicomObject::new_empty();
    copy_patient_and_study(&original, &mut obj);
    let written = SegWritten {
        frames: 0,
        series_uid: new_uid(),
        sop_instance: new_uid(),
    };
    put_series_and_image(&mut obj, &source, info, &written);
    obj.put(sequence(tags::SEGMENT_SEQUENCE, segment_items(segments)));
    let frames = frames(&source, segments);
    put_frames(&mut obj, &source, &frames, segments);
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .map_err(|e| CloeError::Internal(format!("the SEG's file meta group: {e}")))?;
    atomic_write(path, opts, |tmp| {
        file.write_to_file(tmp)
            .map_err(|e| crate::error::plain_why(&e))
    })?;
    Ok(SegWritten {
        frames: frames.len(),
        ..written
    })
}

/// Patient and study attributes, copied as the source has them (empty when it has none: type 2).
fn copy_patient_and_study(
    from: &InMemDicomObject<impl dicom_core::DataDictionary + Clone>,
    to: &mut InMemDicomObject,
) {
    let copied: [(Tag, VR); 11] = [
        (tags::PATIENT_NAME, VR::PN),
        (tags::PATIENT_ID, VR::LO),
        (tags::PATIENT_BIRTH_DATE, VR::DA),
        (tags::PATIENT_SEX, VR::CS),
        (tags::STUDY_INSTANCE_UID, VR::UI),
        (tags::STUDY_DATE, VR::DA),
        (tags::STUDY_TIME, VR::TM),
        (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
        (tags::STUDY_ID, VR::SH),
        (tags::ACCESSION_NUMBER, VR::SH),
        (tags::FRAME_OF_REFERENCE_UID, VR::UI),
    ];
    for (tag, vr) in copied {
        let value = (from.get(tag))
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default();
        to.put(text(tag, vr, &value));
    }
}

/// The SOP, series, equipment, image and dimension attributes.
fn put_series_and_image(
    obj: &mut InMemDicomObject,
    source: &Source,
    info: &SegInfo,
    w: &SegWritten,
) {
    let now = chrono_now();
    for e in [
        text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        text(tags::SOP_CLASS_UID, VR::UI, SEGMENTATION_STORAGE),
        text(tags::SOP_INSTANCE_UID, VR::UI, &w.sop_instance),
        text(tags::MODALITY, VR::CS, "SEG"),
        text(tags::SERIES_INSTANCE_UID, VR::UI, &w.series_uid),
        text(tags::SERIES_NUMBER, VR::IS, &info.series_number.to_string()),
        text(tags::SERIES_DESCRIPTION, VR::LO, &info.series_description),
        text(tags::INSTANCE_NUMBER, VR::IS, "1"),
        text(tags::POSITION_REFERENCE_INDICATOR, VR::LO, ""),
        text(tags::MANUFACTURER, VR::LO, "CLoE Studio"),
        text(tags::MANUFACTURER_MODEL_NAME, VR::LO, &info.model),
        text(tags::DEVICE_SERIAL_NUMBER, VR::LO, "1"),
        text(tags::SOFTWARE_VERSIONS, VR::LO, &info.software),
        DataElement::new(
            tags::IMAGE_TYPE,
            VR::CS,
            PrimitiveValue::Strs(vec!["DERIVED".to_string(), "PRIMARY".to_string()].into()),
        ),
        text(tags::CONTENT_LABEL, VR::CS, &info.content_label),
        text(tags::CONTENT_DESCRIPTION, VR::LO, &info.series_description),
        text(tags::CONTENT_CREATOR_NAME, VR::PN, &info.creator),
        text(tags::CONTENT_DATE, VR::DA, &now.0),
        text(tags::CONTENT_TIME, VR::TM, &now.1),
        text(tags::SERIES_DATE, VR::DA, &now.0),
        text(tags::SERIES_TIME, VR::TM, &now.1),
        short(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        short(tags::ROWS, source.rows as u16),
        short(tags::COLUMNS, source.cols as u16),
        short(tags::BITS_ALLOCATED, 1),
        short(tags::BITS_STORED, 1),
        short(tags::HIGH_BIT, 0),
        short(tags::PIXEL_REPRESENTATION, 0),
        text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
        text(tags::SEGMENTATION_TYPE, VR::CS, "BINARY"),
    ] {
        obj.put(e);
    }
    obj.put(referenced_series(source));
    put_dimensions(obj);
}

/// Today's date and the time now (UTC), as DA and TM.
fn chrono_now() -> (String, String) {
    let now = chrono::Utc::now();
    (
        now.format("%Y%m%d").to_string(),
        now.format("%H%M%S").to_string(),
    )
}

/// Every source instance, under its series (the Common Instance Reference module).
fn referenced_series(source: &Source) -> DataElement<InMemDicomObject> {
    let instances = (source.slices.iter())
        .map(|(uid, _)| {
            InMemDicomObject::from_element_iter([
                text(
                    tags::REFERENCED_SOP_CLASS_UID,
                    VR::UI,
                    &source.series.sop_class,
                ),
                text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, uid),
            ])
        })
        .collect();
    let series = InMemDicomObject::from_element_iter([
        text(tags::SERIES_INSTANCE_UID, VR::UI, &source.series.uid),
        sequence(tags::REFERENCED_INSTANCE_SEQUENCE, instances),
    ]);
    sequence(tags::REFERENCED_SERIES_SEQUENCE, vec![series])
}

/// The two dimensions of the frames: the segment, then the plane position.
fn put_dimensions(obj: &mut InMemDicomObject) {
    let organisation = new_uid();
    let dimension = |index: Tag, group: Tag, label: &str| {
        InMemDicomObject::from_element_iter([
            text(tags::DIMENSION_ORGANIZATION_UID, VR::UI, &organisation),
            DataElement::new(
                tags::DIMENSION_INDEX_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![index].into()),
            ),
            DataElement::new(
                tags::FUNCTIONAL_GROUP_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![group].into()),
            ),
            text(tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, label),
        ])
    };
    let org = InMemDicomObject::from_element_iter([text(
        tags::DIMENSION_ORGANIZATION_UID,
        VR::UI,
        &organisation,
    )]);
    obj.put(sequence(tags::DIMENSION_ORGANIZATION_SEQUENCE, vec![org]));
    obj.put(sequence(
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            dimension(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "Segment Number",
            ),
            dimension(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "Image Position Patient",
            ),
        ],
    ));
}

/// One item per segment: number, label, algorithm, coded category and type, display colour.
fn segment_items(segments: &[Segment]) -> Vec<InMemDicomObject> {
    (segments.iter().enumerate())
        .map(|(i, s)| {
            let mut item = InMemDicomObject::from_element_iter([
                short(tags::SEGMENT_NUMBER, i as u16 + 1),
                text(tags::SEGMENT_LABEL, VR::LO, &s.label),
                text(tags::SEGMENT_DESCRIPTION, VR::ST, &s.description),
                text(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, s.algorithm.kind()),
                sequence(
                    tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                    vec![s.category.item()],
                ),
                sequence(
                    tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                    vec![s.kind.item()],
                ),
                DataElement::new(
                    tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
                    VR::US,
                    PrimitiveValue::U16(cielab(s.colour).to_vec().into()),
                ),
            ]);
            if let Some((name, version)) = s.algorithm.name_version() {
                item.put(text(tags::SEGMENT_ALGORITHM_NAME, VR::LO, name));
                let family = Code::new("123110", "DCM", "Artificial Intelligence");
                let algorithm = InMemDicomObject::from_element_iter([
                    sequence(tags::ALGORITHM_FAMILY_CODE_SEQUENCE, vec![family.item()]),
                    text(tags::ALGORITHM_NAME, VR::LO, name),
                    text(tags::ALGORITHM_VERSION, VR::LO, version),
                ]);
                item.put(sequence(
                    tags::SEGMENTATION_ALGORITHM_IDENTIFICATION_SEQUENCE,
                    vec![algorithm],
                ));
            }
            item
        })
        .collect()
}

/// The frames to write: (segment index, slice index) of every non-empty segment slice, segment-major.
fn frames(source: &Source, segments: &[Segment]) -> Vec<(usize, usize)> {
    let plane = source.rows * source.cols;
    let mut out = Vec::new();
    for (s, seg) in segments.iter().enumerate() {
        for k in 0..source.slices.len() {
            if seg.mask[k * plane..(k + 1) * plane].iter().any(|&v| v) {
                out.push((s, k));
            }
        }
    }
    out
}

/// The functional groups (shared geometry, one item per frame) and the bit-packed pixel data.
fn put_frames(
    obj: &mut InMemDicomObject,
    source: &Source,
    frames: &[(usize, usize)],
    segments: &[Segment],
) {
    let measures = InMemDicomObject::from_element_iter([
        decimals(tags::PIXEL_SPACING, &source.spacing),
        text(tags::SLICE_THICKNESS, VR::DS, &decimal(source.step.abs())),
        text(
            tags::SPACING_BETWEEN_SLICES,
            VR::DS,
            &decimal(source.step.abs()),
        ),
    ]);
    let orientation = InMemDicomObject::from_element_iter([decimals(
        tags::IMAGE_ORIENTATION_PATIENT,
        &source.orientation,
    )]);
    let shared = InMemDicomObject::from_element_iter([
        sequence(tags::PIXEL_MEASURES_SEQUENCE, vec![measures]),
        sequence(tags::PLANE_ORIENTATION_SEQUENCE, vec![orientation]),
    ]);
    obj.put(sequence(
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![shared],
    ));
    let per_frame = frames
        .iter()
        .map(|&(s, k)| frame_item(source, s, k))
        .collect();
    obj.put(sequence(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        per_frame,
    ));
    obj.put(text(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        &frames.len().to_string(),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(pack(source, frames, segments).into()),
    ));
}

/// One frame's functional groups: its dimension indices, plane position, source image and segment.
fn frame_item(source: &Source, segment: usize, k: usize) -> InMemDicomObject {
    let (uid, position) = source.slices[k];
    let content = InMemDicomObject::from_element_iter([DataElement::new(
        tags::DIMENSION_INDEX_VALUES,
        VR::UL,
        PrimitiveValue::U32([segment as u32 + 1, k as u32 + 1].into()),
    )]);
    let plane =
        InMemDicomObject::from_element_iter([decimals(tags::IMAGE_POSITION_PATIENT, &position)]);
    let purpose = Code::new(
        "121322",
        "DCM",
        "Source image for image processing operation",
    );
    let image = InMemDicomObject::from_element_iter([
        text(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            &source.series.sop_class,
        ),
        text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, uid),
        sequence(
            tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
            vec![purpose.item()],
        ),
        // The frame is on the source slice's grid: a viewer may index the SEG by its source images.
        text(tags::SPATIAL_LOCATIONS_PRESERVED, VR::CS, "YES"),
    ]);
    let derivation = InMemDicomObject::from_element_iter([
        sequence(
            tags::DERIVATION_CODE_SEQUENCE,
            vec![Code::new("113076", "DCM", "Segmentation").item()],
        ),
        sequence(tags::SOURCE_IMAGE_SEQUENCE, vec![image]),
    ]);
    let identification = InMemDicomObject::from_element_iter([short(
        tags::REFERENCED_SEGMENT_NUMBER,
        segment as u16 + 1,
    )]);
    InMemDicomObject::from_element_iter([
        sequence(tags::FRAME_CONTENT_SEQUENCE, vec![content]),
        sequence(tags::PLANE_POSITION_SEQUENCE, vec![plane]),
        sequence(tags::DERIVATION_IMAGE_SEQUENCE, vec![derivation]),
        sequence(tags::SEGMENT_IDENTIFICATION_SEQUENCE, vec![identification]),
    ])
}

/// The frames' bits, one after the other, the first pixel in the lowest bit (PS3.5 8.1.1), padded to
/// an even length.
fn pack(source: &Source, frames: &[(usize, usize)], segments: &[Segment]) -> Vec<u8> {
    let plane = source.rows * source.cols;
    let bits = plane * frames.len();
    let mut out = vec![0u8; bits.div_ceil(8) + (bits.div_ceil(8) % 2)];
    for (f, &(s, k)) in frames.iter().enumerate() {
        let mask = &segments[s].mask[k * plane..(k + 1) * plane];
        for (p, _) in mask.iter().enumerate().filter(|(_, v)| **v) {
            let bit = f * plane + p;
            out[bit / 8] |= 1 << (bit % 8);
        }
    }
    out
}
