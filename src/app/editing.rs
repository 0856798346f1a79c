//! Editing in the viewer: paint mode with a round brush (radius in mm, the class to paint, or erase),
//! strokes into the shown label map through the library's `edit` module, undo and redo of whole strokes
//! (Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y), unsaved edits that a model overlay may not replace, and autosave of
//! the edited labels to the app's data folder on a worker thread, offered back when the case is opened
//! again.

use super::{CaseView, ViewerApp};
use crate::edit::{Brush, History, Stroke, dab, line};
use crate::error::{CloeError, Result};
use crate::io::{OutputType, WriteOptions, write_volumes};
use crate::render::{Plane, SliceMap};
use crate::volume::Grid;
use eframe::egui;
use poll_promise::Promise;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Seconds after the last change before the edits are autosaved.
const AUTOSAVE_AFTER: Duration = Duration::from_secs(3);

/// The editing state of one case view.
pub struct EditState {
    /// Paint mode: the primary button paints instead of moving the crosshair.
    pub painting: bool,
    pub brush: Brush,
    /// Paint 0 instead of the brush's class.
    pub erase: bool,
    pub history: History,
    /// The stroke in progress: its changes, the plane and the last voxel painted.
    stroke: Option<(Stroke, Plane, [usize; 3])>,
    /// The overlay holds edits not yet saved to a file by the user.
    pub unsaved: bool,
    /// `overlay_version` of the last autosave, the autosave being written, and the last change.
    autosaved: u64,
    autosave_job: Option<(u64, Promise<Result<()>>)>,
    last_change: Option<Instant>,
    /// An autosave of this case from an earlier session, offered for restoring.
    pub restore_offer: Option<PathBuf>,
}

impl EditState {
    /// True while a brush stroke is being painted.
    pub fn stroke_active(&self) -> bool {
        self.stroke.is_some()
    }
}

impl Default for EditState {
    fn default() -> Self {
        Self {
            painting: false,
            brush: Brush {
                radius_mm: 3.0,
                class: 1,
            },
            erase: false,
            history: History::default(),
            stroke: None,
            unsaved: false,
            autosaved: 0,
            autosave_job: None,
            last_change: None,
            restore_offer: None,
        }
    }
}

impl CaseView {
    /// Makes the overlay editable: the label map shown, or an empty one when none is (a heat map is
    /// replaced by the labels).
    pub fn start_editing(&mut self) {
        self.heat = None;
        if self.overlay.is_none() {
            self.overlay = Some(vec![0; self.case.grid.len()]);
            self.overlay_name = "new labels".into();
        }
        self.edit.painting = true;
        self.overlay_version += 1;
    }

    /// Paints at voxel `at` of `plane`, joining it to the previous position of the same stroke.
    pub fn paint(&mut self, plane: Plane, at: [usize; 3]) {
        if self.overlay.is_none() || self.heat.is_some() {
            self.start_editing();
        }
        let brush = Brush {
            class: if self.edit.erase {
                0
            } else {
                self.edit.brush.class
            },
            ..self.edit.brush
        };
        let grid = self.case.grid;
        let map = SliceMap::new(&grid, plane);
        let labels = self.overlay.as_mut().expect("made above");
        let (mut stroke, last) = match self.edit.stroke.take() {
            Some((s, p, last)) if p == plane && last[map.axes[2]] == at[map.axes[2]] => {
                (s, Some(last))
            }
            Some((s, _, _)) => {
                self.edit.history.push(s);
                (Stroke::default(), None)
            }
            None => (Stroke::default(), None),
        };
        let changed = match last {
            Some(from) => line(labels, &grid, &map, from, at, &brush, &mut stroke),
            None => dab(labels, &grid, &map, at, &brush, &mut stroke),
        };
        self.edit.stroke = Some((stroke, plane, at));
        if changed > 0 {
            self.changed();
        }
    }

    /// Drops the edits: the case's own labels (or none) are shown again and the undo history is gone.
    pub fn discard_edits(&mut self) {
        self.edit.stroke = None;
        self.edit.history.clear();
        self.edit.unsaved = false;
        self.edit.painting = false;
        self.heat = None;
        self.overlay = self.case.label.as_ref().map(|l| l.classes.clone());
        self.overlay_name = if self.overlay.is_some() {
            "ground truth".into()
        } else {
            String::new()
        };
        self.overlay_version += 1;
    }

    /// Ends the stroke in progress (pointer released): it becomes one undo step.
    pub fn end_stroke(&mut self) {
        if let Some((s, _, _)) = self.edit.stroke.take() {
            self.edit.history.push(s);
        }
    }

    /// Undoes the last stroke; false when there is nothing to undo.
    pub fn undo(&mut self) -> bool {
        self.end_stroke();
        let done = match self.overlay.as_mut() {
            Some(labels) => self.edit.history.undo(labels),
            None => false,
        };
        if done {
            self.changed();
        }
        done
    }

    /// Redoes the last undone stroke; false when there is nothing to redo.
    pub fn redo(&mut self) -> bool {
        let done = match self.overlay.as_mut() {
            Some(labels) => self.edit.history.redo(labels),
            None => false,
        };
        if done {
            self.changed();
        }
        done
    }

    fn changed(&mut self) {
        self.overlay_version += 1;
        self.edit.unsaved = true;
        self.edit.last_change = Some(Instant::now());
        if !self.overlay_name.ends_with("(edited)") {
            self.overlay_name = format!("{} (edited)", self.overlay_name);
        }
    }
}

/// Where the autosave of `view`'s case lives in `dir`: the case id and a hash of its first file's
/// path (FNV-1a, stable across builds), so two cases with one id do not share it.
pub fn autosave_path(dir: &Path, view: &CaseView) -> PathBuf {
    let first = view.case.source.input_files().into_iter().next();
    let key = first.map(|p| p.display().to_string()).unwrap_or_default();
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    dir.join(format!("{}-{hash:016x}-labels.nii.gz", view.case.id))
}

/// The edited labels in the case's on-disk label convention, when they hold unsaved edits.
fn unsaved_labels(view: &CaseView) -> Option<Vec<f32>> {
    let labels = view.overlay.as_ref().filter(|_| view.edit.unsaved)?;
    let conv = view.case.convention();
    Some(labels.iter().map(|&c| conv.disk_of(c) as f32).collect())
}

/// Writes an autosave (atomically; the folder is made when missing).
fn write_autosave(dir: &Path, path: &Path, grid: &Grid, disk: &[f32]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| CloeError::unwritable(dir, e.to_string()))?;
    let opts = WriteOptions::default().overwriting(true);
    write_volumes(path, grid, &[disk], OutputType::Labels, &opts)
}

impl ViewerApp {
    /// Keyboard shortcuts of editing, the end of a stroke, and autosave; every frame.
    pub(super) fn editing_tick(&mut self, ui: &egui::Ui) {
        let Some(view) = self.view.as_mut() else {
            return;
        };
        // Ctrl+Z in a text field belongs to the field. Only a text field: after a click a button or a
        // view holds the keyboard focus too (`egui_wants_keyboard_input` is true for any focused
        // widget), and the shortcut must still undo then.
        let typing = ui.ctx().text_edit_focused();
        // The modifiers are read from each key event, not from the frame's state: a quick chord can
        // press and release Ctrl within one frame, and the frame's modifiers then no longer hold it.
        let (undo, redo, released) = ui.ctx().input_mut(|i| {
            let mut shortcut = |modifiers, key| {
                !typing && i.consume_shortcut(&egui::KeyboardShortcut::new(modifiers, key))
            };
            let command = egui::Modifiers::COMMAND;
            let redo = shortcut(command | egui::Modifiers::SHIFT, egui::Key::Z)
                || shortcut(command, egui::Key::Y);
            let undo = shortcut(command, egui::Key::Z);
            (undo, redo, !i.pointer.primary_down())
        });
        if released {
            view.end_stroke();
        }
        if undo {
            view.undo();
        }
        let (next, previous) = ui.ctx().input_mut(|i| {
            let mut shortcut = |modifiers| {
                !typing && i.consume_shortcut(&egui::KeyboardShortcut::new(modifiers, egui::Key::L))
            };
            let previous = shortcut(egui::Modifiers::SHIFT);
            (shortcut(egui::Modifiers::NONE), previous)
        });
        if next || previous {
            let at = view.measure.lesion as isize;
            view.go_to_lesion(if next { at + 1 } else { at - 1 });
        }
        if redo {
            view.redo();
        }
        let Some(dir) = self.autosave_dir.clone() else {
            return;
        };
        let edit = &mut view.edit;
        if let Some((version, job)) = edit.autosave_job.take() {
            match job.try_take() {
                Ok(Ok(())) => edit.autosaved = version,
                Ok(Err(e)) => {
                    self.error = Some(format!("autosave failed: {e}"));
                    // Try again after the usual pause, not on every frame.
                    edit.last_change = Some(Instant::now());
                }
                Err(job) => edit.autosave_job = Some((version, job)),
            }
        }
        let due = edit.unsaved
            && edit.autosave_job.is_none()
            && view.overlay_version != edit.autosaved
            && edit
                .last_change
                .is_some_and(|t| t.elapsed() >= AUTOSAVE_AFTER);
        if due && let Some(disk) = unsaved_labels(view) {
            let (grid, path) = (view.case.grid, autosave_path(&dir, view));
            let job = crate::guard::spawn("autosave", move || {
                write_autosave(&dir, &path, &grid, &disk)
            });
            view.edit.autosave_job = Some((view.overlay_version, job));
        }
        // Keep frames coming until the autosave has caught up with the edits.
        if view.edit.unsaved && view.overlay_version != view.edit.autosaved {
            ui.ctx().request_repaint_after(Duration::from_millis(500));
        }
    }

    /// Writes the autosave now when edits are newer than it (before another case replaces this one, and
    /// when the app closes).
    pub fn flush_autosave(&mut self) {
        let (Some(dir), Some(view)) = (&self.autosave_dir, self.view.as_mut()) else {
            return;
        };
        if let Some((_, job)) = view.edit.autosave_job.take() {
            let _ = job.block_and_take();
        }
        if view.overlay_version == view.edit.autosaved {
            return;
        }
        let Some(disk) = unsaved_labels(view) else {
            return;
        };
        match write_autosave(dir, &autosave_path(dir, view), &view.case.grid, &disk) {
            Ok(()) => view.edit.autosaved = view.overlay_version,
            Err(e) => log::error!("autosave failed: {e}"),
        }
    }

    /// After a case opens: offers its autosave, if there is one.
    pub(super) fn offer_autosave(&mut self) {
        let (Some(dir), Some(view)) = (&self.autosave_dir, self.view.as_mut()) else {
            return;
        };
        let path = autosave_path(dir, view);
        if path.is_file() {
            view.edit.restore_offer = Some(path);
        }
    }

    /// Restores the offered autosave as the overlay (it stays marked unsaved).
    pub fn restore_autosave(&mut self) {
        let Some(view) = self.view.as_mut() else {
            return;
        };
        let Some(path) = view.edit.restore_offer.take() else {
            return;
        };
        match view.load_overlay(&path) {
            Ok(()) => {
                view.overlay_name = "restored edits".into();
                view.edit.history.clear();
                view.edit.unsaved = true;
                view.edit.autosaved = view.overlay_version;
            }
            Err(e) => self.error = Some(format!("the autosave could not be read: {e}")),
        }
    }

    /// Deletes the offered autosave.
    pub fn discard_autosave(&mut self) {
        if let Some(path) = self.view.as_mut().and_then(|v| v.edit.restore_offer.take()) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// After the user saved the labels to a file: nothing is unsaved, the autosave is no longer needed.
    pub(super) fn edits_saved(&mut self) {
        let (dir, Some(view)) = (self.autosave_dir.clone(), self.view.as_mut()) else {
            return;
        };
        view.edit.unsaved = false;
        if let Some(dir) = dir {
            let _ = std::fs::remove_file(autosave_path(&dir, view));
        }
    }

    /// The editing controls of the left panel.
    pub(super) fn editing_controls(&mut self, ui: &mut egui::Ui) {
        let Some(view) = self.view.as_mut() else {
            return;
        };
        if view.edit.restore_offer.is_some() {
            ui.colored_label(
                egui::Color32::from_rgb(240, 190, 80),
                "Edits of this case from an earlier session were autosaved.",
            );
            ui.horizontal(|ui| {
                if ui.button("Restore them").clicked() {
                    self.restore_autosave();
                }
                if ui.button("Discard").clicked() {
                    self.discard_autosave();
                }
            });
            return;
        }
        ui.horizontal(|ui| {
            let was = view.edit.painting;
            ui.toggle_value(&mut view.edit.painting, "Paint")
                .on_hover_text("the left button paints in the views; arrows still step slices");
            if view.edit.painting && !was {
                view.start_editing();
            }
            ui.checkbox(&mut view.edit.erase, "erase");
        });
        if !view.edit.painting {
            return;
        }
        let mut discard = false;
        let classes = view.case.profile.classes();
        ui.horizontal_wrapped(|ui| {
            for (c, name) in classes.iter().enumerate().skip(1) {
                let [r, g, b] = view.case.profile.class_colours()[c];
                let text = egui::RichText::new(*name).color(egui::Color32::from_rgb(r, g, b));
                ui.selectable_value(&mut view.edit.brush.class, c as u8, text);
            }
        });
        ui.add(
            egui::Slider::new(&mut view.edit.brush.radius_mm, 0.0..=20.0).text("brush radius (mm)"),
        );
        ui.horizontal(|ui| {
            if ui
                .add_enabled(view.edit.history.can_undo(), egui::Button::new("Undo"))
                .clicked()
            {
                view.undo();
            }
            if ui
                .add_enabled(view.edit.history.can_redo(), egui::Button::new("Redo"))
                .clicked()
            {
                view.redo();
            }
            if view.edit.unsaved && ui.button("Discard edits").clicked() {
                discard = true;
            }
        });
        if view.edit.unsaved {
            ui.label("unsaved edits (autosaved); Save labels below keeps them");
        }
        if discard {
            view.discard_edits();
            if let Some(dir) = &self.autosave_dir {
                let _ = std::fs::remove_file(autosave_path(dir, view));
            }
        }
    }
}
