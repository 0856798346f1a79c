//! The open case on screen, as parts that each hold one concern: the case and its [`Overlay`], the
//! [`Display`] settings, the [`Navigation`], the edits ([`EditState`]) and the measurements. The
//! image of a plane as displayed (CPU path) and what the slice shader needs come from here too.

mod display;
mod edits;
mod measure;
mod navigation;
mod overlay;

pub use display::Display;
pub use edits::EditState;
pub use measure::Measurements;
pub use navigation::Navigation;
pub use overlay::{HeatMap, Overlay};

use super::gpu_slices::SliceParams;
use crate::case::{Case, CaseSource, read_label_file};
use crate::error::{CloeError, Result};
use crate::render::{Plane, SliceMap, blend, blend_heat, slice_values, window_level};
use eframe::egui::TextureHandle;
use std::collections::HashMap;
use std::path::Path;

/// What a CPU-rendered slice texture shows: plane, slice, display settings, overlay version.
pub type SliceKey = (Plane, usize, Display, u64);

/// Serial numbers of case views (what the GPU textures hold is keyed by them).
static VIEW_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A case on screen.
pub struct CaseView {
    pub case: Case,
    pub overlay: Overlay,
    pub display: Display,
    pub nav: Navigation,
    /// Paint mode, brush, undo history, autosave state.
    pub edit: EditState,
    /// Volumes, Dice/HD95 against the ground truth and the lesions of the shown labels.
    pub measure: Measurements,
    /// The case's sources with another DICOM series chosen in the panel: the app reloads it.
    pub reload: Option<CaseSource>,
    /// CPU-rendered slices per plane, with what they show.
    pub textures: HashMap<Plane, (SliceKey, TextureHandle)>,
    /// Identifies this view (GPU textures are keyed by it).
    pub serial: u64,
}

impl CaseView {
    /// A view of `case`: crosshair in the middle, the first present modality with its own window, the
    /// ground truth as the overlay when the case has one.
    pub fn new(case: Case) -> Self {
        Self {
            overlay: Overlay::ground_truth(&case),
            display: Display::new(&case),
            nav: Navigation::centred(case.grid.dims),
            edit: EditState::default(),
            measure: Measurements::default(),
            reload: None,
            textures: HashMap::new(),
            serial: VIEW_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            case,
        }
    }

    /// Shows a label map from a file (on any grid overlapping the case) as the overlay.
    pub fn load_overlay(&mut self, path: &Path) -> Result<()> {
        if self.edit.unsaved {
            return Err(CloeError::Refused(
                "the labels have unsaved edits: save them (Save labels) or discard them first"
                    .into(),
            ));
        }
        let classes = read_label_file(&self.case, path)?;
        self.edit.history.clear();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        self.overlay
            .show_labels(Some(classes), name.unwrap_or_default());
        Ok(())
    }

    /// Makes the overlay editable (see [`EditState::start`]).
    pub fn start_editing(&mut self) {
        self.edit.start(&mut self.overlay, &self.case.grid);
    }

    /// Paints at voxel `at` of `plane` with the brush.
    pub fn paint(&mut self, plane: Plane, at: [usize; 3]) {
        self.edit
            .paint(&mut self.overlay, &self.case.grid, plane, at);
    }

    /// Undoes the last stroke; false when there is nothing to undo.
    pub fn undo(&mut self) -> bool {
        self.edit.undo(&mut self.overlay)
    }

    /// Redoes the last undone stroke; false when there is nothing to redo.
    pub fn redo(&mut self) -> bool {
        self.edit.redo(&mut self.overlay)
    }

    /// Drops the edits and shows the case's own labels again.
    pub fn discard_edits(&mut self) {
        self.edit.discard(&mut self.overlay, &self.case);
    }

    /// Moves the crosshair to lesion `i` (wrapping) of the measured segmentation.
    pub fn go_to_lesion(&mut self, i: isize) {
        if let Some(at) = self.measure.go_to(i) {
            self.nav.cursor = at;
        }
    }

    /// Measures the overlay when it changed (see [`Measurements::update`]); returns true while work is
    /// pending.
    pub fn update_measurements(&mut self) -> bool {
        let stroke = self.edit.stroke_active();
        let (pending, jump) = self.measure.update(&self.case, &self.overlay, stroke);
        if let Some(at) = jump {
            self.nav.cursor = at;
        }
        pending
    }

    /// The pixels of `plane` through the cursor as displayed: window/level, then the heat map or the
    /// visible labels at the chosen opacity (row by row from the top). None when the modality is missing.
    pub fn plane_rgba(&self, plane: Plane) -> Option<Vec<u8>> {
        let labels = self.overlay.labels.as_deref();
        self.plane_rgba_with(plane, labels, self.overlay.heat.as_ref())
    }

    /// [`CaseView::plane_rgba`] with other labels (an expert's, say) or another heat map.
    pub fn plane_rgba_with(
        &self,
        plane: Plane,
        labels: Option<&[u8]>,
        heat: Option<&HeatMap>,
    ) -> Option<Vec<u8>> {
        let d = &self.display;
        let volume = self.case.modalities[d.shown].as_ref()?;
        let dims = self.case.grid.dims;
        let map = SliceMap::new(&self.case.grid, plane);
        let (_, _, k) = map.pixel(dims, self.nav.cursor);
        let grey = window_level(&slice_values(&volume.data, dims, &map, k), d.level, d.width);
        Some(match heat {
            Some(h) => blend_heat(
                &grey,
                &slice_values(&h.values, dims, &map, k),
                h.max,
                d.opacity,
            ),
            None => {
                let labels = labels.map(|o| slice_values(o, dims, &map, k));
                let style = d.label_style(self.case.profile);
                blend(&grey, labels.as_deref(), map.size(dims), &style, d.opacity)
            }
        })
    }

    /// What the shader needs to draw `plane` through the cursor exactly as `plane_rgba` does.
    pub fn slice_params(&self, plane: Plane) -> SliceParams {
        let (d, o) = (&self.display, &self.overlay);
        let dims = self.case.grid.dims;
        let map = SliceMap::new(&self.case.grid, plane);
        let style = d.label_style(self.case.profile);
        let mut colours = [[0u8; 3]; 8];
        for (c, colour) in colours.iter_mut().zip(&style.colours) {
            *c = *colour;
        }
        let mut members = [0u32; 8];
        for (m, member) in members.iter_mut().zip(&style.members) {
            *m = *member;
        }
        let visible = (d.visible.iter().enumerate())
            .filter(|(l, v)| **v && *l < 8)
            .fold(0, |m, (l, _)| m | 1 << l);
        SliceParams {
            dims,
            map,
            k: map.pixel(dims, self.nav.cursor).2,
            mode: match (&o.heat, &o.labels) {
                (Some(_), _) => 2,
                (None, Some(_)) => 1,
                (None, None) => 0,
            },
            outline: d.outline,
            members,
            visible,
            lo: d.level - d.width / 2.0,
            scale: 255.0 / d.width.max(1e-6),
            opacity: d.opacity,
            heat_max: o.heat.as_ref().map_or(1.0, |h| h.max),
            colours,
        }
    }
}
