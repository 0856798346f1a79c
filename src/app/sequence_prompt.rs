//! The "Which sequence?" prompt, the viewer's form of `--as`: a case whose files' names say no sequence
//! (a radiologist's `anatomical.nii`), or that uses a 4-D file, opens once the user has said what each
//! file is and which of its volumes to use. Nothing is shown or run on such a file until then.

use crate::case::{CaseChoices, FileToName, Profile, SequenceChoice};
use eframe::egui;
use std::path::PathBuf;

/// Every modality key of every profile, once, with its display name.
fn all_modalities() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for p in Profile::ALL {
        for (k, d) in p.modalities().iter().zip(p.modality_display()) {
            if !out.iter().any(|(x, _)| x == k) {
                out.push((k, d));
            }
        }
    }
    out
}

/// One file the user is asked about.
struct Asked {
    file: FileToName,
    /// The modality key chosen (preset for a 4-D file already named for one).
    key: Option<&'static str>,
    volume: usize,
}

/// The prompt's state: what was opened, the choices made before, the files asked about.
pub struct SequencePrompt {
    pub path: PathBuf,
    before: CaseChoices,
    asked: Vec<Asked>,
}

/// What the user did in the prompt.
pub enum PromptAction {
    /// Open the case with these choices.
    Open(PathBuf, CaseChoices),
    Cancel,
}

impl SequencePrompt {
    /// A prompt about `files` of the case at `path` (opened with `before`), of `profile`.
    pub fn new(
        path: PathBuf,
        before: CaseChoices,
        files: Vec<FileToName>,
        profile: Profile,
    ) -> Self {
        let asked = (files.into_iter())
            .map(|file| Asked {
                key: file.modality.map(|m| profile.modalities()[m]),
                file,
                volume: 0,
            })
            .collect();
        Self {
            path,
            before,
            asked,
        }
    }

    /// The choices the prompt's answers add to those made before.
    pub fn choices(&self) -> CaseChoices {
        let mut choices = self.before.clone();
        for a in &self.asked {
            let Some(key) = a.key else { continue };
            let choice = SequenceChoice {
                key: key.to_string(),
                file: Some(a.file.path.clone()),
                volume: (a.file.volumes > 1).then_some(a.volume),
            };
            choices.sequences.push(choice.to_arg());
        }
        choices
    }

    /// Draws the prompt; returns what the user chose to do.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<PromptAction> {
        if self.asked.iter().all(|a| a.file.modality.is_some()) {
            ui.heading("Which volume?");
            ui.label("These files hold several volumes (4-D images): choose the one to use.");
        } else {
            ui.heading("Which sequence?");
            ui.label(
                "These files do not say what they hold. Say which sequence each is (and, for a \
                 4-D file, which volume to use); the others count as missing.",
            );
        }
        ui.add_space(6.0);
        let modalities = all_modalities();
        egui::Grid::new("asked").num_columns(3).show(ui, |ui| {
            for (i, a) in self.asked.iter_mut().enumerate() {
                ask_row(ui, i, a, &modalities);
                ui.end_row();
            }
        });
        ui.add_space(6.0);
        let ready = self.asked.iter().any(|a| a.key.is_some());
        ui.horizontal(|ui| {
            let open = ui.add_enabled(ready, egui::Button::new("Open with these sequences"));
            if open.clicked() {
                return Some(PromptAction::Open(self.path.clone(), self.choices()));
            }
            ui.button("Cancel")
                .clicked()
                .then_some(PromptAction::Cancel)
        })
        .inner
    }
}

/// One file's row: its name, a modality menu, a volume slider for a 4-D file.
fn ask_row(ui: &mut egui::Ui, i: usize, a: &mut Asked, modalities: &[(&'static str, &str)]) {
    let name = a
        .file
        .path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let label = ui.label(name.as_ref());
    let label_id = label.id;
    label.on_hover_text(a.file.path.display().to_string());
    let shown = (a.key)
        .and_then(|k| modalities.iter().find(|(x, _)| *x == k))
        .map_or("choose…", |(_, d)| *d);
    egui::ComboBox::from_id_salt(("as", i))
        .selected_text(shown)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut a.key, None, "not used");
            for (k, d) in modalities {
                ui.selectable_value(&mut a.key, Some(*k), *d);
            }
        })
        .response
        .labelled_by(label_id);
    if a.file.volumes > 1 {
        let last = a.file.volumes - 1;
        ui.add(
            egui::Slider::new(&mut a.volume, 0..=last).text(format!("volume (of {})", last + 1)),
        );
    } else {
        ui.label("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_the_cli_choices() {
        let files = vec![
            FileToName {
                path: "a/anatomical.nii".into(),
                modality: None,
                volumes: 1,
            },
            FileToName {
                path: "a/x_t2.nii.gz".into(),
                modality: Some(3),
                volumes: 5,
            },
        ];
        let before = CaseChoices {
            series: vec![],
            sequences: vec!["flair=b.nii".into()],
        };
        let mut p = SequencePrompt::new("a".into(), before, files, Profile::Brats);
        assert_eq!(p.choices().sequences, ["flair=b.nii", "t2=a/x_t2.nii.gz@0"]);
        p.asked[0].key = Some("t1c");
        p.asked[1].volume = 4;
        assert_eq!(
            p.choices().sequences,
            ["flair=b.nii", "t1c=a/anatomical.nii", "t2=a/x_t2.nii.gz@4"]
        );
        let keys: Vec<&str> = all_modalities().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["flair", "t1c", "t1", "t2", "adc"]);
    }
}
