//! A case's labels as a DICOM Segmentation object on the grid of the series they were made on (cases
//! opened from a DICOM study): the profile's nested regions (WT, TC, ET overlapping) or its disjoint
//! training classes, coded as the profile's table says, AUTOMATIC for a model's output and
//! SEMIAUTOMATIC once a person edited it.

use crate::case::{Case, Profile, reference_series};
use crate::error::{CloeError, Result};
use crate::io::WriteOptions;
use crate::io::dicom::{Algorithm, SegInfo, SegWritten, Segment, write_seg};
use std::path::Path;

/// What the segments of a SEG are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegSegments {
    /// The profile's regions, nested (WT ⊃ TC ⊃ ET): a voxel may be in several segments.
    Regions,
    /// The training classes, disjoint (NCR/NET, edema, ET).
    Classes,
}

/// Who made the labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOrigin {
    /// A model's output as it came (its folder name and the program's version).
    Model { name: String },
    /// A model's output a person edited.
    EditedModel { name: String },
    /// Drawn or loaded by a person.
    Person,
}

impl LabelOrigin {
    fn algorithm(&self) -> Algorithm {
        let version = || format!("CLoE Studio {}", env!("CARGO_PKG_VERSION"));
        match self {
            LabelOrigin::Model { name } => Algorithm::Automatic {
                name: name.clone(),
                version: version(),
            },
            LabelOrigin::EditedModel { name } => Algorithm::SemiAutomatic {
                name: name.clone(),
                version: version(),
            },
            LabelOrigin::Person => Algorithm::Manual,
        }
    }
}

/// The segments of `classes` (training classes on the case grid), empty ones left out.
fn segments<'a>(
    profile: Profile,
    classes: &[u8],
    kind: SegSegments,
    origin: &LabelOrigin,
    masks: &'a mut Vec<Vec<bool>>,
) -> Vec<Segment<'a>> {
    let spec = profile.spec();
    let mut described = Vec::new();
    match kind {
        SegSegments::Regions => {
            for r in spec.regions {
                masks.push(classes.iter().map(|c| r.classes.contains(c)).collect());
                described.push((r.name, r.long_name, r.codes, r.colour));
            }
        }
        SegSegments::Classes => {
            for (c, name) in spec.classes.iter().enumerate().skip(1) {
                masks.push(classes.iter().map(|&v| v as usize == c).collect());
                described.push((name, name, spec.class_codes[c - 1], spec.class_colours[c]));
            }
        }
    }
    let algorithm = origin.algorithm();
    (masks.iter().zip(described))
        .filter(|(m, _)| m.iter().any(|&v| v))
        .map(|(mask, (label, long, codes, colour))| Segment {
            label: label.to_string(),
            description: long.to_string(),
            category: codes.category,
            kind: codes.kind,
            algorithm: algorithm.clone(),
            colour,
            mask,
        })
        .collect()
}

/// Writes `classes` (training classes on `case`'s grid) as a DICOM SEG of the case's series to `path`.
pub fn write_labels_seg(
    path: &Path,
    case: &Case,
    classes: &[u8],
    kind: SegSegments,
    origin: &LabelOrigin,
    opts: &WriteOptions,
) -> Result<SegWritten> {
    let series = reference_series(case)?;
    let mut masks = Vec::new();
    let segments = segments(case.profile, classes, kind, origin, &mut masks);
    if segments.is_empty() {
        return Err(CloeError::Refused(format!(
            "the labels of case {} hold no labelled voxel: there is nothing to write as a SEG",
            case.id
        )));
    }
    let what = match kind {
        SegSegments::Regions => "regions",
        SegSegments::Classes => "classes",
    };
    let info = SegInfo {
        series_description: format!("CLoE segmentation ({what})"),
        series_number: series.number.map_or(1000, |n| n + 1000),
        content_label: "CLOE".into(),
        creator: String::new(),
        software: env!("CARGO_PKG_VERSION").into(),
        model: "CLoE Studio".into(),
    };
    write_seg(path, series, &segments, &info, opts)
}
