//! Editing in the viewer around the case view's own edits: the keyboard (Ctrl+Z, Ctrl+Shift+Z or
//! Ctrl+Y, L / Shift+L), the paint controls of the left panel, and the autosave of the edited labels
//! to the app's data folder on a worker thread three seconds after the last change (and when another
//! case replaces this one or the app closes), offered back when the case is opened again.

use super::case_view::CaseView;
use super::job::Job;
use crate::error::{CloeError, Result};
use crate::io::owner_lock::{Claim, alive, claim, instance_token};
use crate::io::{OutputType, WriteOptions, write_volumes};
use crate::volume::Grid;
use eframe::egui;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Seconds after the last change before the edits are autosaved.
const AUTOSAVE_AFTER: Duration = Duration::from_secs(3);

/// Where a case's autosave lives in `dir`: the case id and a hash of its first file's path (FNV-1a,
/// stable across builds), so two cases with one id do not share it.
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
    let labels = view.overlay.labels.as_ref().filter(|_| view.edit.unsaved)?;
    let conv = view.case.convention();
    Some(labels.iter().map(|&c| conv.disk_of(c) as f32).collect())
}

/// Writes an autosave (atomically; the folder is made when missing).
fn write_autosave(dir: &Path, path: &Path, grid: &Grid, disk: &[f32]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| CloeError::write_failed(dir, &e))?;
    let opts = WriteOptions::default().overwriting(true);
    write_volumes(path, grid, &[disk], OutputType::Labels, &opts)
}

/// The autosave of the open case's edits.
pub struct Autosave {
    /// The app's autosave folder (None: no autosave).
    pub dir: Option<PathBuf>,
    /// This app instance (its process id and a counter), the owner named in autosave locks.
    pub instance: String,
}

impl Default for Autosave {
    fn default() -> Self {
        Self {
            dir: None,
            instance: instance_token(),
        }
    }
}

/// The autosave a window writes while another window owns the case's: `ID-HASH-window-TOKEN-labels`.
fn window_path(main: &Path, token: &str) -> PathBuf {
    let name = main.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.trim_end_matches("-labels.nii.gz");
    main.with_file_name(format!("{stem}-window-{token}-labels.nii.gz"))
}

/// An autosave a second window left beside `main` before its process ended (a crash): the newest.
fn orphaned_window_autosave(main: &Path) -> Option<PathBuf> {
    let name = main.file_name()?.to_string_lossy().into_owned();
    let prefix = format!("{}-window-", name.trim_end_matches("-labels.nii.gz"));
    let entries = std::fs::read_dir(main.parent()?).ok()?.flatten();
    let orphans = entries.map(|e| e.path()).filter(|p| {
        let n = p.file_name().unwrap_or_default().to_string_lossy();
        let pid = n.strip_prefix(&prefix).and_then(|t| t.split('-').next());
        pid.and_then(|p| p.parse().ok()).is_some_and(|p| !alive(p))
    });
    orphans.max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

impl Autosave {
    /// Where this window autosaves the open case: the case's autosave, or its own file beside it
    /// while another window owns that one.
    fn path(&self, dir: &Path, view: &CaseView) -> PathBuf {
        let main = autosave_path(dir, view);
        match &view.edit.autosave_claim {
            Some(Claim::Held { .. }) => window_path(&main, &self.instance),
            _ => main,
        }
    }

    /// Every frame: collects a finished autosave and starts one when edits are newer than the last
    /// and a pause followed them. A failure goes to `error`.
    pub fn tick(&self, ctx: &egui::Context, view: &mut CaseView, error: &mut Option<String>) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let edit = &mut view.edit;
        if let Some((version, job)) = edit.autosave_job.take() {
            let mut slot = Some(job);
            match Job::poll(&mut slot) {
                Some(Ok(())) => edit.autosaved = version,
                Some(Err(e)) => {
                    *error = Some(format!("autosave failed: {e}"));
                    // Try again after the usual pause, not on every frame.
                    edit.last_change = Some(Instant::now());
                }
                None => edit.autosave_job = slot.map(|job| (version, job)),
            }
        }
        let due = edit.unsaved
            && edit.autosave_job.is_none()
            && view.overlay.version != edit.autosaved
            && (edit.last_change).is_some_and(|t| t.elapsed() >= AUTOSAVE_AFTER);
        if due && let Some(disk) = unsaved_labels(view) {
            let (grid, path) = (view.case.grid, self.path(&dir, view));
            let job = Job::spawn("autosave", move |_| {
                write_autosave(&dir, &path, &grid, &disk)
            });
            view.edit.autosave_job = Some((view.overlay.version, job));
        }
        // Keep frames coming until the autosave has caught up with the edits.
        if view.edit.unsaved && view.overlay.version != view.edit.autosaved {
            ctx.request_repaint_after(Duration::from_millis(500));
        }
    }

    /// Writes the autosave now when edits are newer than it (before another case replaces this one, and
    /// when the app closes).
    pub fn flush(&self, view: &mut CaseView) {
        let Some(dir) = &self.dir else {
            return;
        };
        if let Some((_, job)) = view.edit.autosave_job.take() {
            let _ = job.wait();
        }
        if view.overlay.version == view.edit.autosaved {
            return;
        }
        let Some(disk) = unsaved_labels(view) else {
            return;
        };
        match write_autosave(dir, &self.path(dir, view), &view.case.grid, &disk) {
            Ok(()) => view.edit.autosaved = view.overlay.version,
            Err(e) => log::error!("autosave failed: {e}"),
        }
    }

    /// After a case opens: claims its autosave (a lock beside it) and offers what an earlier session
    /// left: the case's autosave, or one a second window left before its process ended. Another
    /// window owning the case's autosave offers nothing: those edits are live there.
    pub fn offer(&self, view: &mut CaseView) {
        let Some(dir) = &self.dir else {
            return;
        };
        let main = autosave_path(dir, view);
        let lock = main.with_file_name(format!(
            "{}.lock",
            main.file_name().unwrap_or_default().to_string_lossy()
        ));
        let claim = std::fs::create_dir_all(dir).and_then(|()| claim(&lock, &self.instance));
        view.edit.autosave_claim = match claim {
            Ok(c) => Some(c),
            Err(e) => {
                log::warn!("no lock on {}: {e}", lock.display());
                None
            }
        };
        if matches!(view.edit.autosave_claim, Some(Claim::Held { .. })) {
            return;
        }
        view.edit.restore_offer = Some(main)
            .filter(|p| p.is_file())
            .or_else(|| orphaned_window_autosave(&autosave_path(dir, view)));
    }

    /// Restores the offered autosave as the overlay (it stays marked unsaved).
    pub fn restore(view: &mut CaseView, error: &mut Option<String>) {
        let Some(path) = view.edit.restore_offer.take() else {
            return;
        };
        match view.load_overlay(&path) {
            Ok(()) => {
                view.overlay.name = "restored edits".into();
                view.edit.history.clear();
                view.edit.unsaved = true;
                view.edit.autosaved = view.overlay.version;
            }
            Err(e) => *error = Some(format!("the autosave could not be read: {e}")),
        }
    }

    /// Deletes the offered autosave.
    pub fn discard_offer(view: &mut CaseView) {
        if let Some(path) = view.edit.restore_offer.take() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The edits are saved to a file or discarded: nothing is unsaved, the autosave is not needed.
    pub fn forget(&self, view: &mut CaseView) {
        view.edit.unsaved = false;
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_file(self.path(dir, view));
        }
    }
}

/// The keyboard of editing and reading, every frame before drawing: undo and redo (each ends a stroke
/// in progress first), and the next or previous lesion.
pub fn shortcuts(ctx: &egui::Context, view: &mut CaseView) {
    // Ctrl+Z in a text field belongs to the field. Only a text field: after a click a button or a
    // view holds the keyboard focus too (`egui_wants_keyboard_input` is true for any focused widget),
    // and the shortcut must still undo then.
    let typing = ctx.text_edit_focused();
    // The modifiers are read from each key event, not from the frame's state: a quick chord can press
    // and release Ctrl within one frame, and the frame's modifiers then no longer hold it.
    let (undo, redo, next, previous) = ctx.input_mut(|i| {
        let mut shortcut = |modifiers, key| {
            !typing && i.consume_shortcut(&egui::KeyboardShortcut::new(modifiers, key))
        };
        let (command, shift) = (egui::Modifiers::COMMAND, egui::Modifiers::SHIFT);
        let redo = shortcut(command | shift, egui::Key::Z) || shortcut(command, egui::Key::Y);
        let undo = shortcut(command, egui::Key::Z);
        let previous = shortcut(shift, egui::Key::L);
        let next = shortcut(egui::Modifiers::NONE, egui::Key::L);
        (undo, redo, next, previous)
    });
    if undo {
        view.undo();
    }
    if next || previous {
        let at = view.measure.lesion as isize;
        view.go_to_lesion(if next { at + 1 } else { at - 1 });
    }
    if redo {
        view.redo();
    }
    if !typing {
        brush_keys(ctx, view);
    }
}

/// The brush keys of ITK-SNAP's paintbrush: P paint mode, E paint/erase, `[` / `]` the radius by 1 mm,
/// 1–9 the class to paint (each switches paint mode on and erase off).
fn brush_keys(ctx: &egui::Context, view: &mut CaseView) {
    let classes = view.case.profile.classes().len();
    let (toggle_paint, toggle_erase, smaller, larger, class) = ctx.input_mut(|i| {
        let mut key = |k| i.consume_key(egui::Modifiers::NONE, k);
        let digits = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
            egui::Key::Num6,
            egui::Key::Num7,
            egui::Key::Num8,
            egui::Key::Num9,
        ];
        let class = (digits.iter().take(classes - 1))
            .position(|&d| key(d))
            .map(|c| c as u8 + 1);
        // Presses within one frame all count (a toggle pressed twice is back where it was).
        let mut count = |k| i.count_and_consume_key(egui::Modifiers::NONE, k);
        let (p, e) = (count(egui::Key::P) % 2 == 1, count(egui::Key::E) % 2 == 1);
        let (s, l) = (
            count(egui::Key::OpenBracket),
            count(egui::Key::CloseBracket),
        );
        (p, e, s, l, class)
    });
    let edit = &mut view.edit;
    let step = larger as f64 - smaller as f64;
    edit.brush.radius_mm = (edit.brush.radius_mm + step).clamp(0.0, BRUSH_MAX_MM);
    if toggle_erase {
        edit.erase = !edit.erase;
    }
    if let Some(c) = class {
        edit.brush.class = c;
        edit.erase = false;
    }
    let paint = if toggle_paint {
        !edit.painting
    } else {
        edit.painting || class.is_some()
    };
    if paint && !view.edit.painting {
        view.edit.painting = true;
        view.start_editing();
    } else if !paint {
        view.edit.painting = false;
    }
}

/// The largest brush radius, in mm.
pub const BRUSH_MAX_MM: f64 = 20.0;

/// Every frame after the views took their input: a released button ends the stroke in progress (the
/// view painted up to where it was released), so the whole stroke is one undo step.
pub fn end_of_frame(ctx: &egui::Context, view: &mut CaseView) {
    if !ctx.input(|i| i.pointer.primary_down()) {
        view.edit.end_stroke();
    }
}

/// The editing controls of the left panel: the autosave offer, paint mode (with `more` at the end of
/// its row: the Refine toggle), the brush, undo/redo and discard.
pub fn controls(
    ui: &mut egui::Ui,
    view: &mut CaseView,
    autosave: &Autosave,
    error: &mut Option<String>,
    more: impl FnOnce(&mut egui::Ui, &mut CaseView),
) {
    if view.edit.restore_offer.is_some() {
        ui.colored_label(
            egui::Color32::from_rgb(240, 190, 80),
            "Edits of this case from an earlier session were autosaved.",
        );
        ui.horizontal(|ui| {
            if ui.button("Restore them").clicked() {
                Autosave::restore(view, error);
            }
            if ui.button("Discard").clicked() {
                Autosave::discard_offer(view);
            }
        });
        return;
    }
    if let Some(Claim::Held { pid, .. }) = &view.edit.autosave_claim {
        ui.colored_label(
            egui::Color32::from_rgb(240, 190, 80),
            format!(
                "This case is open in another CLoE Studio window (process {pid}), which autosaves \
                 its edits; edits here are autosaved separately."
            ),
        );
    }
    ui.horizontal(|ui| {
        let was = view.edit.painting;
        ui.toggle_value(&mut view.edit.painting, "Paint")
            .on_hover_text("the left button paints in the views; arrows still step slices (P)");
        if view.edit.painting && !was {
            view.start_editing();
        }
        ui.checkbox(&mut view.edit.erase, "erase")
            .on_hover_text("paint background instead of the class (E)");
        more(ui, view);
    });
    if view.edit.painting {
        brush_controls(ui, view, autosave);
    }
}

/// The class to paint, the brush radius, undo, redo and discard.
fn brush_controls(ui: &mut egui::Ui, view: &mut CaseView, autosave: &Autosave) {
    let profile = view.case.profile;
    ui.horizontal_wrapped(|ui| {
        for (c, name) in profile.classes().iter().enumerate().skip(1) {
            let [r, g, b] = profile.class_colours()[c];
            let text = egui::RichText::new(*name).color(egui::Color32::from_rgb(r, g, b));
            ui.selectable_value(&mut view.edit.brush.class, c as u8, text)
                .on_hover_text(format!("key {c}"));
        }
    });
    let radius = egui::Slider::new(&mut view.edit.brush.radius_mm, 0.0..=BRUSH_MAX_MM);
    ui.add(radius.text("brush radius (mm)"))
        .on_hover_text("[ and ] make the brush 1 mm smaller or larger");
    let mut discard = false;
    ui.horizontal(|ui| {
        let undo = egui::Button::new("Undo");
        if ui.add_enabled(view.edit.history.can_undo(), undo).clicked() {
            view.undo();
        }
        let redo = egui::Button::new("Redo");
        if ui.add_enabled(view.edit.history.can_redo(), redo).clicked() {
            view.redo();
        }
        discard = view.edit.unsaved && ui.button("Discard edits").clicked();
    });
    if view.edit.unsaved {
        ui.label("unsaved edits (autosaved); Save labels below keeps them");
    }
    if discard {
        view.discard_edits();
        autosave.forget(view);
    }
}
