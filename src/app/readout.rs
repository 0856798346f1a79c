//! The voxel under the crosshair (the fourth quadrant's "Numbers" tab): its indices and world
//! position, each modality's value, the label and the regions it is in, and the case's notes.

use super::case_view::CaseView;
use eframe::egui;

/// The readout of `view`'s cursor.
pub fn readout(ui: &mut egui::Ui, view: &CaseView) {
    let case = &view.case;
    let [x, y, z] = view.nav.cursor;
    let mm = case.grid.affine.apply([x as f64, y as f64, z as f64]);
    ui.label(format!("voxel ({x}, {y}, {z})"));
    ui.label(format!(
        "world ({:.1}, {:.1}, {:.1}) mm",
        mm[0], mm[1], mm[2]
    ));
    let i = case.grid.index(x, y, z);
    for (name, m) in case.profile.modality_display().iter().zip(&case.modalities) {
        match m {
            Some(v) => ui.label(format!("{name}: {}", v.data[i])),
            None => ui.label(format!("{name}: missing")),
        };
    }
    if let Some(labels) = &view.overlay.labels {
        let class = labels[i];
        let regions: Vec<&str> = (case.profile.regions().iter())
            .filter(|r| r.classes.contains(&class))
            .map(|r| r.name)
            .collect();
        let name = case.profile.classes()[class as usize];
        ui.label(if regions.is_empty() {
            format!("label: {name}")
        } else {
            format!("label: {name} (in {})", regions.join(", "))
        });
    }
    for n in &case.notes {
        ui.small(n);
    }
}
