//! The DICOM series of the open study, one menu per modality: the rules' guess is preselected, and
//! choosing another series reloads the case with it (the viewer's form of `--series t2=6`).

use crate::case::{CaseSource, choose_series};
use eframe::egui;

/// One combo box per profile modality listing the study's image series (nothing for NIfTI cases);
/// returns the case's sources with another series chosen, for the app to reload.
pub fn series_picker(ui: &mut egui::Ui, source: &CaseSource) -> Option<CaseSource> {
    if source.dicom.is_empty() {
        return None;
    }
    ui.separator();
    ui.label("DICOM series");
    let mut chosen: Option<(usize, i64)> = None;
    for (m, name) in source.profile.modality_display().iter().enumerate() {
        let current = source
            .series_of(m)
            .map(|s| s.name())
            .unwrap_or_else(|| "none".into());
        ui.horizontal(|ui| {
            ui.label(format!("{name:<5}"));
            egui::ComboBox::from_id_salt(("series", m))
                .selected_text(current)
                .width(190.0)
                .show_ui(ui, |ui| {
                    for s in source.dicom.iter().filter(|s| s.is_image()) {
                        let Some(number) = s.number else { continue };
                        let label = format!("{} · {} slices · {}", s.name(), s.slice_count, s.date);
                        let on = source.series_of(m).is_some_and(|x| x.uid == s.uid);
                        if ui.selectable_label(on, label).clicked() && !on {
                            chosen = Some((m, number));
                        }
                    }
                });
        });
    }
    let (m, number) = chosen?;
    with_series(source, m, number)
}

/// The case's source with series `number` for modality `m`.
fn with_series(source: &CaseSource, m: usize, number: i64) -> Option<CaseSource> {
    let mut next = source.clone();
    let key = source.profile.modalities()[m];
    choose_series(&mut next, key, number).ok().map(|()| next)
}
