//! Exports from the viewer: the current segmentation as NIfTI on the case's grid and label convention
//! (atomic, never over an input, never over an existing file), and a plane as a PNG at its native pixel
//! size with the overlay as shown. Also the recent-cases list kept in eframe's storage.

use super::ViewerApp;
use crate::error::{CloeError, Result};
use crate::io::WriteOptions;
use crate::render::{Plane, SliceMap};
use crate::segment::write_labels;
use std::path::{Path, PathBuf};

/// Key of the recent-cases list in eframe's storage.
pub const RECENT_KEY: &str = "cloe.recent_cases";
const RECENT_MAX: usize = 8;

impl ViewerApp {
    /// Writes the labels shown (the fused segmentation, an expert's, a loaded file's or the ground
    /// truth) to `path` in the case's label convention.
    pub fn export_labels(&self, path: &Path) -> Result<()> {
        let view = self
            .view
            .as_ref()
            .ok_or_else(|| CloeError::Invalid("no case is open".into()))?;
        let classes = view
            .overlay
            .as_ref()
            .ok_or_else(|| CloeError::Invalid("no label overlay to export".into()))?;
        let opts = WriteOptions::protecting(view.case.source.input_files());
        write_labels(path, &view.case, classes, &opts).map(|_| ())
    }

    /// Saves `plane` at the cursor as a PNG, as displayed (window/level and overlay).
    pub fn export_png(&self, plane: Plane, path: &Path) -> Result<()> {
        let view = self
            .view
            .as_ref()
            .ok_or_else(|| CloeError::Invalid("no case is open".into()))?;
        let rgba = view
            .plane_rgba(plane)
            .ok_or_else(|| CloeError::Invalid("the shown modality is missing".into()))?;
        let (w, h) = SliceMap::new(&view.case.grid, plane).size(view.case.grid.dims);
        let image = image::RgbaImage::from_raw(w as u32, h as u32, rgba).expect("w·h·4 bytes");
        let opts = WriteOptions::protecting(view.case.source.input_files());
        crate::io::atomic_write(path, &opts, |tmp| {
            image
                .save_with_format(tmp, image::ImageFormat::Png)
                .map_err(|e| e.to_string())
        })
    }

    /// Puts `path` first in the recent-cases list.
    pub fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(RECENT_MAX);
    }
}
