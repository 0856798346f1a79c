//! Exports from the viewer: the shown labels as NIfTI on the case's grid and label convention
//! (atomic, never over an input, never over an existing file) or as a DICOM SEG of the case's study,
//! a plane as a PNG at its native pixel size with the overlay as shown, and the measurements panel's
//! figures as CSV and JSON. Also the recent-cases list kept in eframe's storage.

use super::case_view::CaseView;
use super::save_dialog::SaveKind;
use crate::error::{CloeError, Result};
use crate::export_prediction::{SegSegments, write_labels, write_labels_seg};
use crate::io::{WriteOptions, write_json, write_text};
use crate::metrics::MeasurementReport;
use crate::render::{Plane, SliceMap};
use std::path::{Path, PathBuf};

/// Key of the recent-cases list in eframe's storage.
pub const RECENT_KEY: &str = "cloe.recent_cases";
const RECENT_MAX: usize = 8;

/// Writes the labels shown (the fused segmentation, an expert's, a loaded file's, the edits or the
/// ground truth) to `path` in the case's label convention.
pub fn export_labels(view: &CaseView, path: &Path) -> Result<()> {
    let classes = (view.overlay.labels.as_ref())
        .ok_or_else(|| CloeError::Refused("no label overlay to export".into()))?;
    let opts = WriteOptions::protecting(view.case.source.input_files());
    write_labels(path, &view.case, classes, &opts).map(|_| ())
}

/// Writes the labels shown as a DICOM SEG of the case's study (AUTOMATIC for a model's output as it
/// came, SEMIAUTOMATIC once edited, MANUAL otherwise).
pub fn export_seg(view: &CaseView, path: &Path, segments: SegSegments) -> Result<()> {
    let classes = (view.overlay.labels.as_ref())
        .ok_or_else(|| CloeError::Refused("no label overlay to export".into()))?;
    let opts = WriteOptions::protecting(view.case.source.input_files());
    let origin = view.overlay.origin();
    write_labels_seg(path, &view.case, classes, segments, &origin, &opts).map(|_| ())
}

/// Writes the labels shown as `kind` to `path`.
pub fn save_labels(view: &CaseView, path: &Path, kind: SaveKind) -> Result<()> {
    match kind {
        SaveKind::Labels => export_labels(view, path),
        SaveKind::Seg(segments) => export_seg(view, path, segments),
    }
}

/// Writes what the measurements panel shows of the labels shown (region volumes, Dice and HD95 against
/// the ground truth, the lesions) as `path` with the endings `.csv` and `.json`; returns both paths.
pub fn export_measurements(view: &CaseView, path: &Path) -> Result<[PathBuf; 2]> {
    let measured = view.measure.current().ok_or_else(|| {
        CloeError::Refused("the measurements of the labels shown are not ready yet".into())
    })?;
    let case = &view.case;
    let what = view.overlay.title();
    let report = MeasurementReport::new(&case.id, case.profile, &case.grid, what, measured);
    let (csv, json) = (path.with_extension("csv"), path.with_extension("json"));
    let opts = WriteOptions::protecting(case.source.input_files());
    write_text(&csv, &report.to_csv(), &opts)?;
    write_json(&json, &report, &opts)?;
    Ok([csv, json])
}

/// Saves `plane` at the cursor as a PNG, as displayed (window/level and overlay).
pub fn export_png(view: &CaseView, plane: Plane, path: &Path) -> Result<()> {
    let rgba = view
        .plane_rgba(plane)
        .ok_or_else(|| CloeError::Refused("the shown modality is missing".into()))?;
    let (w, h) = SliceMap::new(&view.case.grid, plane).size(view.case.grid.dims);
    let image = image::RgbaImage::from_raw(w as u32, h as u32, rgba).expect("w·h·4 bytes");
    let opts = WriteOptions::protecting(view.case.source.input_files());
    crate::io::atomic_write(path, &opts, |tmp| {
        image
            .save_with_format(tmp, image::ImageFormat::Png)
            .map_err(|e| e.to_string())
    })
}

/// Recently opened cases, newest first.
#[derive(Debug, Clone, Default)]
pub struct Recent(pub Vec<PathBuf>);

impl Recent {
    /// Puts `path` first.
    pub fn remember(&mut self, path: PathBuf) {
        self.0.retain(|p| p != &path);
        self.0.insert(0, path);
        self.0.truncate(RECENT_MAX);
    }

    /// Adds the list kept in eframe's storage after the ones of this run.
    pub fn restore(&mut self, storage: &dyn eframe::Storage) {
        if let Some(json) = storage.get_string(RECENT_KEY) {
            let list: Vec<PathBuf> = serde_json::from_str(&json).unwrap_or_default();
            for p in list {
                if !self.0.contains(&p) {
                    self.0.push(p);
                }
            }
        }
    }

    /// Keeps the list in eframe's storage.
    pub fn save(&self, storage: &mut dyn eframe::Storage) {
        if let Ok(json) = serde_json::to_string(&self.0) {
            storage.set_string(RECENT_KEY, json);
        }
    }
}
