//! The viewer's panels as functions of the parts they show: the top bar (page switch, case path field,
//! Browse, Recent, the status line) and the left panel's sections (the case's display controls and
//! measurements, a label file, export, how slices are drawn). Each returns what the user asked for,
//! and the app acts on it.

use super::case_view::CaseView;
use super::editing::Autosave;
use super::export::{Recent, export_measurements, export_png, save_labels};
use super::save_dialog::{SaveAnswer, SaveDialog, SaveKind};
use super::series_picker::{series_picker, volume_picker};
use super::views::SliceRenderer;
use crate::export_prediction::SegSegments;
use crate::render::Plane;
use eframe::egui;
use std::path::{Path, PathBuf};

/// The app's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Viewer,
    Training,
    Worklist,
}

/// What the top bar shows besides its own fields.
pub struct TopBarState<'a> {
    /// The step and total of a training run going on.
    pub training: Option<(usize, usize)>,
    pub recent: &'a Recent,
    pub loading: bool,
    pub error: Option<&'a str>,
}

/// The page switch, the case field with Open, Browse… and Recent, and the status line; returns the
/// case to open.
pub fn top_bar(
    ui: &mut egui::Ui,
    page: &mut Page,
    path_field: &mut String,
    state: TopBarState,
) -> Option<PathBuf> {
    let mut open = None;
    ui.horizontal(|ui| {
        ui.selectable_value(page, Page::Viewer, "Viewer");
        ui.selectable_value(page, Page::Training, "Training");
        ui.selectable_value(page, Page::Worklist, "Worklist");
        if let Some((step, total)) = state.training.filter(|_| *page == Page::Viewer) {
            ui.spinner()
                .on_hover_text(format!("training: step {step}/{total}"));
        }
        ui.separator();
        ui.label("Case");
        let field = ui.add(
            egui::TextEdit::singleline(path_field)
                .desired_width(420.0)
                .hint_text("folder or file of a case"),
        );
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Open").clicked() || enter {
            open = Some(PathBuf::from(path_field.trim()));
        }
        // A native dialog when a portal or dialog is available; otherwise the path field serves.
        if ui.button("Browse…").clicked()
            && let Some(p) = rfd::FileDialog::new().pick_folder()
        {
            open = Some(p);
        }
        ui.menu_button("Recent", |ui| {
            for p in &state.recent.0 {
                if ui.button(p.display().to_string()).clicked() {
                    open = Some(p.clone());
                }
            }
            if state.recent.0.is_empty() {
                ui.label("none yet");
            }
        });
        if state.loading {
            ui.spinner();
            ui.label("reading…");
        }
        if let Some(e) = state.error {
            ui.colored_label(egui::Color32::from_rgb(230, 90, 80), e);
        }
    });
    open
}

/// The case's name and profile, the modality shown, its DICOM series, window/level, the overlay's
/// style and the measurements.
pub fn case_controls(ui: &mut egui::Ui, view: &mut CaseView, all_sequences: &mut bool) {
    let case = &view.case;
    ui.heading(&case.id);
    ui.label(format!("profile {}", case.profile));
    ui.separator();
    view.display.modality_ui(ui, case);
    ui.checkbox(all_sequences, "All sequences side by side")
        .on_hover_text("one view per sequence on one plane, each with its own window");
    if let Some(source) = series_picker(ui, &case.source).or_else(|| volume_picker(ui, case)) {
        view.reload = Some(source);
    }
    ui.separator();
    view.display.window_ui(ui, &view.case);
    ui.separator();
    ui.label(format!("Overlay: {}", view.overlay.title()));
    view.display.overlay_ui(ui, view.case.profile);
    if let Some(i) = view.measure.ui(ui, &view.case, &view.overlay) {
        view.go_to_lesion(i);
    }
}

/// A label map file to show as the overlay.
pub fn label_file(
    ui: &mut egui::Ui,
    field: &mut String,
    view: &mut CaseView,
    error: &mut Option<String>,
) {
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(field)
                .desired_width(150.0)
                .hint_text("label map file"),
        );
        if ui.button("Load labels").clicked()
            && let Err(e) = view.load_overlay(&PathBuf::from(field.trim()))
        {
            *error = Some(e.to_string());
        }
    });
}

/// The export section's state: the file field, the segments a DICOM SEG gets, and the "Save labels
/// where?" dialog while it is open.
pub struct ExportForm {
    pub field: String,
    pub segments: SegSegments,
    pub dialog: Option<SaveDialog>,
}

impl Default for ExportForm {
    fn default() -> Self {
        Self {
            field: String::new(),
            segments: SegSegments::Regions,
            dialog: None,
        }
    }
}

/// The export file field; Save labels (NIfTI) and Save labels as DICOM SEG (for a case opened from a
/// DICOM study, nested regions or disjoint classes), each of which ends the autosave and asks where
/// when the field names no writable place; Save view PNG; Export measurements. Returns the file the
/// labels were saved to.
pub fn export(
    ui: &mut egui::Ui,
    form: &mut ExportForm,
    view: &mut CaseView,
    plane: Plane,
    autosave: &Autosave,
    error: &mut Option<String>,
) -> Option<PathBuf> {
    ui.label("Export");
    ui.add(
        egui::TextEdit::singleline(&mut form.field)
            .desired_width(230.0)
            .hint_text("file: .nii.gz labels, .dcm SEG, .png view, .csv measurements"),
    );
    let target = PathBuf::from(form.field.trim());
    let asked = save_buttons(ui, form, view, plane, &target, error);
    let mut saved = asked.and_then(|kind| {
        let case_dir = view.case.source.folder();
        form.dialog = SaveDialog::needed(&target, kind, &view.case.id, case_dir.as_deref());
        form.dialog
            .is_none()
            .then(|| save_labels(view, &target, kind).map(|_| target))
    });
    if let Some(dialog) = form.dialog.as_mut() {
        match dialog.ui(ui.ctx()) {
            Some(SaveAnswer::Save(path)) => match save_labels(view, &path, dialog.kind) {
                Ok(()) => {
                    form.field = path.display().to_string();
                    form.dialog = None;
                    saved = Some(Ok(path));
                }
                Err(e) => dialog.why = e.to_string(),
            },
            Some(SaveAnswer::Cancel) => form.dialog = None,
            None => {}
        }
    }
    match saved {
        Some(Ok(path)) => {
            *error = None;
            autosave.forget(view);
            Some(path)
        }
        Some(Err(e)) => {
            *error = Some(e.to_string());
            None
        }
        None => None,
    }
}

/// The export buttons; those that write another file than labels do it here. Returns the labels
/// save asked for.
fn save_buttons(
    ui: &mut egui::Ui,
    form: &mut ExportForm,
    view: &CaseView,
    plane: Plane,
    target: &Path,
    error: &mut Option<String>,
) -> Option<SaveKind> {
    let mut asked = None;
    // A model's first look is saved once its remaining windows have refined it.
    let ready = !view.overlay.awaiting_model();
    let refining = "the model is still refining this first look at the case: it can be saved in a \
                    moment, or edited";
    ui.horizontal(|ui| {
        let labels = ui.add_enabled(ready, egui::Button::new("Save labels"));
        if labels.on_disabled_hover_text(refining).clicked() {
            asked = Some(SaveKind::Labels);
        }
        if ui.button("Save view PNG").clicked() {
            *error = export_png(view, plane, target).err().map(|e| e.to_string());
        }
    });
    let dicom = !view.case.source.dicom.is_empty();
    ui.horizontal(|ui| {
        let seg = ui.add_enabled(dicom && ready, egui::Button::new("Save as DICOM SEG"));
        let why = if dicom {
            refining
        } else {
            "a DICOM SEG needs the case's DICOM study; this case was opened from NIfTI files"
        };
        if seg.on_disabled_hover_text(why).clicked() {
            asked = Some(SaveKind::Seg(form.segments));
        }
        ui.selectable_value(&mut form.segments, SegSegments::Regions, "nested")
            .on_hover_text("the regions as nested segments: WT, TC, ET overlap");
        ui.selectable_value(&mut form.segments, SegSegments::Classes, "disjoint")
            .on_hover_text("the training classes as disjoint segments");
    });
    let measures = ui.button("Export measurements").on_hover_text(
        "the measurements panel as FILE.csv and FILE.json: volumes, Dice, HD95, lesions",
    );
    if measures.clicked() {
        *error = export_measurements(view, target)
            .err()
            .map(|e| e.to_string());
    }
    asked
}

/// How slices are drawn: the GPU slicing switch (with wgpu) and what draws them now.
pub fn slicing(ui: &mut egui::Ui, slices: &mut SliceRenderer) {
    let gpu = slices.gpu.is_some();
    ui.add_enabled_ui(gpu, |ui| {
        ui.checkbox(&mut slices.slicing, "GPU slicing (WGSL)")
            .on_hover_text(
                "Slices drawn by shaders/slice.wgsl from 3-D textures; off: the CPU path",
            );
    });
    ui.weak(if gpu && slices.slicing {
        "slices: GPU shader"
    } else if gpu {
        "slices: CPU"
    } else {
        "slices: CPU (no wgpu renderer)"
    });
}
