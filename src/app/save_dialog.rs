//! "Save labels where?": the dialog that opens when the labels cannot go where the export field
//! points (no file named, or a folder that is missing, read-only or a read-only share). It says why,
//! proposes a writable place (the case's folder when it can be written, else the user's documents or
//! home folder), offers the system's save dialog, and writes only when the user says so. Nothing is
//! lost meanwhile: the edits stay in memory and in the autosave, which lives in the app's data folder.

use crate::export_prediction::SegSegments;
use crate::io::check_folder;
use eframe::egui;
use std::path::{Path, PathBuf};

/// What the dialog saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveKind {
    /// The labels as NIfTI on the case's grid.
    Labels,
    /// The labels as a DICOM SEG of the case's study.
    Seg(SegSegments),
}

impl SaveKind {
    fn ending(self) -> &'static str {
        match self {
            SaveKind::Labels => "-labels.nii.gz",
            SaveKind::Seg(_) => "-seg.dcm",
        }
    }
}

/// What the user answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveAnswer {
    Save(PathBuf),
    Cancel,
}

/// The open dialog: why it opened, and the file the user is choosing.
#[derive(Debug, Clone)]
pub struct SaveDialog {
    pub kind: SaveKind,
    /// Why the labels cannot go where the field said (or the last attempt's error).
    pub why: String,
    /// The file to save to, proposed and editable.
    pub field: String,
}

impl SaveDialog {
    /// The dialog when `target` cannot take the labels of case `id` read from `case_dir`; `None`
    /// when it can (then the save goes ahead without asking).
    pub fn needed(
        target: &Path,
        kind: SaveKind,
        id: &str,
        case_dir: Option<&Path>,
    ) -> Option<Self> {
        let why = if target.as_os_str().is_empty() {
            "No file is named in the export field.".to_string()
        } else {
            let dir = match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let why = check_folder(dir).err()?;
            format!("The labels cannot be saved as {}: {why}.", target.display())
        };
        let field = proposal(id, kind, case_dir).display().to_string();
        Some(Self { kind, why, field })
    }

    /// Draws the dialog; returns the user's answer when there is one.
    pub fn ui(&mut self, ctx: &egui::Context) -> Option<SaveAnswer> {
        let mut answer = None;
        egui::Window::new("Save labels where?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label(&self.why);
                ui.weak("Your edits are safe meanwhile: they stay open here and autosaved.");
                ui.horizontal(|ui| {
                    let name = ui.label("File");
                    let field = egui::TextEdit::singleline(&mut self.field).desired_width(420.0);
                    ui.add(field).labelled_by(name.id);
                });
                ui.horizontal(|ui| {
                    if ui.button("Save here").clicked() {
                        answer = Some(SaveAnswer::Save(PathBuf::from(self.field.trim())));
                    }
                    if ui.button("Browse…").clicked()
                        && let Some(p) = self.browse()
                    {
                        self.field = p.display().to_string();
                        answer = Some(SaveAnswer::Save(p));
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(SaveAnswer::Cancel);
                    }
                });
            });
        answer
    }

    /// The system's save dialog, opened on the proposed file and titled with why it is needed.
    fn browse(&self) -> Option<PathBuf> {
        let proposed = PathBuf::from(self.field.trim());
        let mut dialog = rfd::FileDialog::new().set_title(format!("Save labels: {}", self.why));
        if let Some(dir) = proposed.parent() {
            dialog = dialog.set_directory(dir);
        }
        if let Some(name) = proposed.file_name() {
            dialog = dialog.set_file_name(name.to_string_lossy());
        }
        dialog.save_file()
    }
}

/// A writable file for the labels of case `id`: in `case_dir` when it can be written, else in the
/// user's documents or home folder or the temporary folder; a number is added to the name rather
/// than propose an existing file.
pub fn proposal(id: &str, kind: SaveKind, case_dir: Option<&Path>) -> PathBuf {
    let candidates = [
        case_dir.map(Path::to_path_buf),
        dirs::document_dir(),
        dirs::home_dir(),
    ];
    let dir = (candidates.into_iter().flatten())
        .find(|d| check_folder(d).is_ok())
        .unwrap_or_else(std::env::temp_dir);
    let name = |n: usize| match n {
        1 => format!("{id}{}", kind.ending()),
        n => format!("{id}-{n}{}", kind.ending()),
    };
    (1..)
        .map(|n| dir.join(name(n)))
        .find(|p| !p.exists())
        .expect("a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_folder_needs_no_dialog_and_an_empty_field_does() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("a.nii.gz");
        assert!(SaveDialog::needed(&target, SaveKind::Labels, "C1", None).is_none());
        let d = SaveDialog::needed(Path::new(""), SaveKind::Labels, "C1", Some(tmp.path()));
        let d = d.expect("a dialog for an empty field");
        assert_eq!(PathBuf::from(&d.field), tmp.path().join("C1-labels.nii.gz"));
    }

    #[test]
    fn a_missing_folder_says_so_and_the_proposal_never_names_an_existing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("nowhere/a.nii.gz");
        let kind = SaveKind::Seg(SegSegments::Regions);
        let d = SaveDialog::needed(&target, kind, "C1", Some(tmp.path())).unwrap();
        assert!(d.why.contains("does not exist"), "{}", d.why);
        std::fs::write(tmp.path().join("C1-seg.dcm"), b"x").unwrap();
        let p = proposal("C1", kind, Some(tmp.path()));
        assert_eq!(p, tmp.path().join("C1-2-seg.dcm"));
    }
}
