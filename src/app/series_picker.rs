//! What the open case's modalities are read from, to change: the DICOM series of a study, one menu per
//! modality (the rules' guess preselected; the viewer's form of `--series t2=6`), and the volume of a
//! 4-D file (`--as t2@3`). A change reloads the case with it.

use crate::case::{Case, CaseSource, choose_series};
use eframe::egui;

/// A slider per modality read from one volume of a 4-D file (not an MSD image, whose volumes are the
/// modalities); returns the case's sources with another volume, for the app to reload.
pub fn volume_picker(ui: &mut egui::Ui, case: &Case) -> Option<CaseSource> {
    let source = &case.source;
    if source.convention.is_some() {
        return None;
    }
    let mut chosen = None;
    for (m, name) in source.profile.modality_display().iter().enumerate() {
        let Some(s) = source.modalities[m].as_ref() else {
            continue;
        };
        let file = (case.files.iter()).find(|f| f.path == s.path && f.channel == s.channel);
        let Some(volumes) = file.map(|f| f.volumes).filter(|&v| v > 1) else {
            continue;
        };
        let mut volume = s.channel.unwrap_or(0);
        let slider = egui::Slider::new(&mut volume, 0..=volumes - 1)
            .text(format!("{name} volume (of {volumes})"));
        let r = ui.add(slider);
        if (r.drag_stopped() || (r.changed() && !r.dragged())) && Some(volume) != s.channel {
            let mut next = source.clone();
            next.modalities[m].as_mut().expect("present").channel = Some(volume);
            chosen = Some(next);
        }
    }
    chosen
}

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
            let label = ui.label(format!("{name:<5}")).id;
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
                })
                .response
                .labelled_by(label);
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
