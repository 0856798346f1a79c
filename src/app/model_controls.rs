//! The model panel's controls: the run row (progress and Cancel, or Run CLoE), the modality toggles
//! and the overlay's source.

use super::case_view::CaseView;
use super::model_panel::{ModelState, OverlaySource};
use eframe::egui;

/// The progress of the model's work with Cancel, or Run CLoE when it has not run on the case.
pub(super) fn run_row(
    ui: &mut egui::Ui,
    model: &mut ModelState,
    view: &CaseView,
    error: &mut Option<String>,
) {
    if model.busy() {
        let (done, total) = model.progress();
        ui.horizontal(|ui| {
            ui.spinner();
            // As short as the experts' line: a longer one would widen the panel for good.
            let text = match (model.preview.is_some(), model.maps.is_none()) {
                (true, true) => format!("refining: window {done}/{total}"),
                (true, false) => "refining…".into(),
                (false, true) => format!("experts: window {done}/{total}"),
                (false, false) => "re-fusing…".into(),
            };
            let label = ui.label(text);
            if model.preview.is_some() {
                label.on_hover_text(
                    "a first look is shown (the windows that cover the case once): the \
                     overlapping windows refine it",
                );
            }
            if ui.button("Cancel").clicked() {
                model.cancel();
            }
        });
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    } else if model.maps.is_none()
        && ui.button("Run CLoE").clicked()
        && let Err(e) = model.start(&view.case)
    {
        *error = Some(e.to_string());
    }
}

/// One check box per modality (missing ones greyed out); a toggle re-fuses on the cached experts.
pub(super) fn modality_toggles(
    ui: &mut egui::Ui,
    model: &mut ModelState,
    view: &CaseView,
    error: &mut Option<String>,
) {
    ui.label("Modalities used");
    let mut toggled = false;
    for (i, name) in view.case.profile.modality_display().iter().enumerate() {
        let present = view.case.modalities[i].is_some();
        ui.add_enabled_ui(present && !model.busy(), |ui| {
            let label = if present {
                name.to_string()
            } else {
                format!("{name} (missing)")
            };
            let mut on = model.subset.contains(i);
            if ui.checkbox(&mut on, label).changed() {
                model.subset = model.subset.with(i, on);
                toggled = true;
            }
        });
    }
    if toggled {
        if !model.subset.is_empty() {
            model.refuse();
        } else {
            *error = Some("switch on at least one modality".into());
        }
    }
}

/// The overlay's source: the labels, the fused result, each expert, the disagreement, the REC map.
pub(super) fn overlay_choice(ui: &mut egui::Ui, model: &mut ModelState, view: &mut CaseView) {
    ui.label("Overlay");
    if view.edit.unsaved {
        ui.label("Your unsaved edits are shown: save or discard them (left panel) to switch.");
        return;
    }
    let Some(maps) = model.maps.as_ref() else {
        return;
    };
    let before = model.source;
    let source = &mut model.source;
    ui.radio_value(source, OverlaySource::Labels, "ground truth / file");
    ui.radio_value(source, OverlaySource::Fused, "CLoE (fused)");
    for (i, name) in view.case.profile.modality_display().iter().enumerate() {
        if maps.experts[i].is_some() {
            ui.radio_value(source, OverlaySource::Expert(i), format!("expert {name}"));
        }
    }
    ui.radio_value(source, OverlaySource::Disagreement, "disagreement");
    ui.radio_value(source, OverlaySource::Region, "REC region map");
    if model.source != before {
        model.apply_overlay(view);
    }
}
