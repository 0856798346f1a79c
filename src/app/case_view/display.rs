//! How a case is displayed: the modality shown, its window and level, and how the overlay is drawn
//! (opacity, outline, nested regions or training classes, which legend items are visible), with the
//! controls of the left panel that set them.

use crate::case::{Case, Profile};
use crate::render::LabelStyle;
use eframe::egui;

/// The display settings of a case view.
#[derive(Debug, Clone, PartialEq)]
pub struct Display {
    /// Index of the modality shown.
    pub shown: usize,
    pub level: f32,
    pub width: f32,
    pub opacity: f32,
    /// Labels drawn as outlines instead of filled.
    pub outline: bool,
    /// Labels shown as the profile's nested regions (WT ⊃ TC ⊃ ET; PZ, TZ) rather than training classes.
    pub by_region: bool,
    /// Visibility of each legend item (index 0 unused), for the current `by_region` choice.
    pub visible: Vec<bool>,
}

impl Display {
    /// The first present modality, its window from its percentiles, regions filled at half opacity.
    pub fn new(case: &Case) -> Self {
        let shown = case
            .modalities
            .iter()
            .position(Option::is_some)
            .unwrap_or(0);
        let mut display = Self {
            shown,
            level: 0.0,
            width: 1.0,
            opacity: 0.5,
            outline: false,
            by_region: true,
            visible: vec![true; case.profile.regions().len() + 1],
        };
        display.auto_window(case);
        display
    }

    /// Window/level from the 0.5–99.5 percentiles of the shown modality's non-zero voxels.
    pub fn auto_window(&mut self, case: &Case) {
        let key = case.profile.modalities()[self.shown];
        if let Some(s) = (case.files.iter())
            .find(|f| f.role == key)
            .and_then(|f| f.intensity.as_ref())
        {
            self.level = ((s.p0_5 + s.p99_5) / 2.0) as f32;
            self.width = ((s.p99_5 - s.p0_5) as f32).max(1e-3);
        }
    }

    /// The legend: name and colour of each item (regions or training classes), item 1 first.
    pub fn legend(&self, profile: Profile) -> Vec<(&'static str, [u8; 3])> {
        if self.by_region {
            (profile.regions().iter())
                .map(|r| (r.name, r.colour))
                .collect()
        } else {
            let colours = profile.class_colours();
            (profile.classes()[1..].iter())
                .zip(&colours[1..])
                .map(|(n, c)| (*n, *c))
                .collect()
        }
    }

    /// Shows regions or training classes, every item visible.
    pub fn set_by_region(&mut self, profile: Profile, by_region: bool) {
        self.by_region = by_region;
        self.visible = vec![true; self.legend(profile).len() + 1];
    }

    /// How the label overlay is drawn now.
    pub fn label_style(&self, profile: Profile) -> LabelStyle {
        if self.by_region {
            let classes = profile.classes().len();
            LabelStyle::regions(profile.regions(), classes, &self.visible, self.outline)
        } else {
            LabelStyle::classes(profile.class_colours(), &self.visible, self.outline)
        }
    }

    /// The choice of the modality shown (missing ones greyed out); a new choice gets its own window.
    pub fn modality_ui(&mut self, ui: &mut egui::Ui, case: &Case) {
        ui.label("Modality shown");
        let mut changed = false;
        for (i, name) in case.profile.modality_display().iter().enumerate() {
            let present = case.modalities[i].is_some();
            ui.add_enabled_ui(present, |ui| {
                let text = if present {
                    name.to_string()
                } else {
                    format!("{name} (missing)")
                };
                changed |= ui.radio_value(&mut self.shown, i, text).changed();
            });
        }
        if changed {
            self.auto_window(case);
        }
    }

    /// Window and level sliders with presets.
    pub fn window_ui(&mut self, ui: &mut egui::Ui, case: &Case) {
        ui.label("Window / level (right-drag in a view)");
        ui.add(egui::Slider::new(&mut self.level, -2000.0..=40000.0).text("level"));
        ui.add(
            egui::Slider::new(&mut self.width, 1.0..=40000.0)
                .text("width")
                .logarithmic(true),
        );
        ui.horizontal(|ui| {
            if ui.button("Auto").clicked() {
                self.auto_window(case);
            }
            if ui.button("Narrow").clicked() {
                self.width *= 0.5;
            }
            if ui.button("Wide").clicked() {
                self.width *= 2.0;
            }
        });
    }

    /// Opacity, outline, regions or classes, and the legend's visibility boxes.
    pub fn overlay_ui(&mut self, ui: &mut egui::Ui, profile: Profile) {
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0).text("opacity"));
            ui.checkbox(&mut self.outline, "outline");
        });
        ui.horizontal(|ui| {
            let mut by_region = self.by_region;
            ui.selectable_value(&mut by_region, true, "regions")
                .on_hover_text("nested regions, innermost drawn on top");
            ui.selectable_value(&mut by_region, false, "classes")
                .on_hover_text("the training classes");
            if by_region != self.by_region {
                self.set_by_region(profile, by_region);
            }
        });
        for (i, (name, [r, g, b])) in self.legend(profile).into_iter().enumerate() {
            ui.checkbox(
                &mut self.visible[i + 1],
                egui::RichText::new(name).color(egui::Color32::from_rgb(r, g, b)),
            );
        }
    }

    /// Right-drag in a view: horizontal widens the window, vertical moves the level.
    pub fn drag_window(&mut self, delta: egui::Vec2) {
        self.width = (self.width * (1.0 + delta.x * 0.005)).max(1e-3);
        self.level -= delta.y * self.width * 0.002;
    }
}
