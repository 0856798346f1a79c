//! Label maps of a case: a label file read onto the case's grid in its convention (NIfTI resampled
//! with nearest neighbours, or a DICOM SEG placed on the grid of the series it refers to), the label
//! map of a case's own files with its values checked and counted, and a DICOM SEG found in a study
//! attached as the case's labels.

use super::load::{Case, LabelCount, LabelMap};
use super::profile::{LabelConvention, Profile};
use crate::error::{CloeError, Result};
use crate::io::{ReadOptions, read_volume};
use crate::resample::{Interp, nonzero_outside, resample};
use crate::volume::{Grid, Volume};
use std::path::Path;

/// Reads a label file for `case` (another segmentation of the same scan, say; a NIfTI file or a DICOM
/// SEG): a NIfTI file is resampled onto the case's
/// grid with nearest neighbours where its grid differs, read in the case's label convention (its own
/// label map's, else the profile's default) into training classes.
pub fn read_label_file(case: &Case, path: &Path) -> Result<Vec<u8>> {
    if crate::io::dicom::is_dicom_file(path) {
        let seg = crate::io::dicom::read_seg(path)?;
        return super::seg_classes(case, &seg);
    }
    let v = read_volume(path, ReadOptions::default())?;
    let conv = case.convention();
    let v = if v.grid.same_as(&case.grid) {
        v
    } else {
        check_labels_inside(&v, &case.grid, &format!("case {}", case.id))?;
        resample(&v, &case.grid, Interp::Nearest, 0.0)
    };
    v.data
        .iter()
        .map(|&d| {
            conv.class_of(d as u8)
                .ok_or_else(|| CloeError::UnexpectedLabels {
                    path: path.to_path_buf(),
                    profile: case.profile.to_string(),
                    values: d.to_string(),
                    expected: format!("{:?}", conv.disk_values()),
                })
        })
        .collect()
}

/// A DICOM SEG as the case's label map (a case whose label is one, found in its study).
pub(super) fn attach_seg(case: &mut Case) -> Result<()> {
    let Some(path) = case
        .source
        .label
        .clone()
        .filter(|p| crate::io::dicom::is_dicom_file(p))
    else {
        return Ok(());
    };
    let seg = crate::io::dicom::read_seg(&path)?;
    let classes = super::seg_classes(case, &seg)?;
    case.notes.push(format!(
        "labels from the DICOM SEG {} ({} segments)",
        path.display(),
        seg.segments.len()
    ));
    let convention = case.profile.default_convention();
    case.label = Some(LabelMap {
        grid: case.grid,
        classes,
        convention,
    });
    Ok(())
}

/// Refuses a label map on another grid when resampling it onto `grid` would lose labelled voxels.
pub(super) fn check_labels_inside(v: &Volume, grid: &Grid, reference: &str) -> Result<()> {
    let outside = nonzero_outside(v, grid);
    if outside == 0 {
        return Ok(());
    }
    Err(CloeError::LabelsOutside {
        path: v.info.path.clone().unwrap_or_default(),
        outside,
        labelled: v.data.iter().filter(|&&d| d != 0.0).count(),
        reference: reference.to_string(),
    })
}

/// Reads a label map and checks its values against the profile's conventions.
pub(super) fn read_label(
    path: &Path,
    profile: Profile,
    known: Option<LabelConvention>,
    opts: ReadOptions,
) -> Result<(Volume, LabelConvention)> {
    let v = read_volume(path, opts)?;
    let mut present = [false; 256];
    let mut strangers: Vec<String> = Vec::new();
    for &x in &v.data {
        if x.fract() == 0.0 && (0.0..=255.0).contains(&x) {
            present[x as usize] = true;
        } else if strangers.len() < 5 && !strangers.contains(&x.to_string()) {
            strangers.push(x.to_string());
        }
    }
    let values: Vec<u8> = (0..=255u8).filter(|&i| present[i as usize]).collect();
    let unexpected = |bad: Vec<String>, expected: String| CloeError::UnexpectedLabels {
        path: path.to_path_buf(),
        profile: profile.name().into(),
        values: bad.join(", "),
        expected,
    };
    let expected = || {
        profile
            .conventions()
            .iter()
            .map(|c| format!("{:?}", c.disk_values()))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    if !strangers.is_empty() {
        return Err(unexpected(strangers, expected()));
    }
    let convention = match known {
        Some(c) => {
            let bad: Vec<String> = values
                .iter()
                .filter(|&&x| c.class_of(x).is_none())
                .map(u8::to_string)
                .collect();
            if !bad.is_empty() {
                return Err(unexpected(bad, format!("{:?}", c.disk_values())));
            }
            c
        }
        None => LabelConvention::detect(profile, &values)
            .map_err(|bad| unexpected(bad.iter().map(u8::to_string).collect(), expected()))?,
    };
    Ok((v, convention))
}

pub(super) fn count_labels(
    v: &Volume,
    profile: Profile,
    convention: LabelConvention,
) -> Vec<LabelCount> {
    let mut counts = [0usize; 256];
    for &x in &v.data {
        counts[x as usize] += 1;
    }
    let ml = v.grid.voxel_ml();
    (0..=255u8)
        .filter(|&i| counts[i as usize] > 0)
        .map(|value| LabelCount {
            value,
            name: convention
                .class_of(value)
                .map(|c| profile.classes()[c as usize].to_string())
                .unwrap_or_default(),
            voxels: counts[value as usize],
            ml: counts[value as usize] as f64 * ml,
        })
        .collect()
}
