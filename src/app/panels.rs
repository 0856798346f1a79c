//! The viewer's panels: the app's page switch and path bar and its left panel (label file, editing,
//! export, slicing), and the case view's own controls (modality shown, window and level with presets, the
//! overlay's opacity and per-item visibility, zoom) and its voxel readout.

use super::{CaseView, Page, ViewerApp};
use eframe::egui;
use std::path::PathBuf;

impl ViewerApp {
    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.page, Page::Viewer, "Viewer");
            ui.selectable_value(&mut self.page, Page::Training, "Training");
            if self.training.is_running() && self.page == Page::Viewer {
                ui.spinner().on_hover_text(format!(
                    "training: step {}/{}",
                    self.training.step, self.training.total
                ));
            }
            ui.separator();
            ui.label("Case");
            let field = ui.add(
                egui::TextEdit::singleline(&mut self.path_field)
                    .desired_width(420.0)
                    .hint_text("folder or file of a case"),
            );
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Open").clicked() || enter {
                let p = PathBuf::from(self.path_field.trim());
                self.open(p);
            }
            if ui.button("Browse…").clicked() {
                // A native dialog when a portal or dialog is available; otherwise the path field serves.
                if let Some(p) = rfd::FileDialog::new().pick_folder() {
                    self.open(p);
                }
            }
            ui.menu_button("Recent", |ui| {
                let mut chosen = None;
                for p in &self.recent {
                    if ui.button(p.display().to_string()).clicked() {
                        chosen = Some(p.clone());
                    }
                }
                if self.recent.is_empty() {
                    ui.label("none yet");
                }
                if let Some(p) = chosen {
                    self.open(p);
                }
            });
            if self.is_loading() {
                ui.spinner();
                ui.label("reading…");
            }
            if let Some(e) = &self.error {
                ui.colored_label(egui::Color32::from_rgb(230, 90, 80), e);
            }
        });
    }

    pub(super) fn side_panel(&mut self, ui: &mut egui::Ui) {
        let Some(view) = self.view.as_mut() else {
            ui.label("No case open.");
            return;
        };
        view.display_controls(ui);
        view.measurements_ui(ui);
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.overlay_field)
                    .desired_width(150.0)
                    .hint_text("label map file"),
            );
            if ui.button("Load labels").clicked() {
                let p = PathBuf::from(self.overlay_field.trim());
                if let Err(e) = view.load_overlay(&p) {
                    self.error = Some(e.to_string());
                }
            }
        });
        ui.separator();
        ui.label("Edit labels (Ctrl+Z undo, Ctrl+Y redo)");
        self.editing_controls(ui);
        ui.separator();
        ui.label("Export");
        ui.add(
            egui::TextEdit::singleline(&mut self.export_field)
                .desired_width(230.0)
                .hint_text("file: .nii.gz labels or .png view"),
        );
        ui.horizontal(|ui| {
            let target = PathBuf::from(self.export_field.trim());
            if ui.button("Save labels").clicked() {
                match self.export_labels(&target) {
                    Ok(()) => {
                        self.error = None;
                        self.edits_saved();
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            if ui.button("Save view PNG").clicked() {
                let plane = self.maximised.unwrap_or(crate::render::Plane::Axial);
                self.error = self.export_png(plane, &target).err().map(|e| e.to_string());
            }
        });
        if let Some(view) = self.view.as_mut() {
            view.zoom_controls(ui);
        }
        let gpu = self.gpu.is_some();
        ui.add_enabled_ui(gpu, |ui| {
            ui.checkbox(&mut self.gpu_slicing, "GPU slicing (WGSL)")
                .on_hover_text(
                    "Slices drawn by shaders/slice.wgsl from 3-D textures; off: the CPU path",
                );
        });
        ui.weak(if gpu && self.gpu_slicing {
            "slices: GPU shader"
        } else if gpu {
            "slices: CPU"
        } else {
            "slices: CPU (no wgpu renderer)"
        });
    }
}

impl CaseView {
    /// The case's name, the modality shown, window/level with presets, the overlay's opacity, style
    /// and per-item visibility.
    pub fn display_controls(&mut self, ui: &mut egui::Ui) {
        let profile = self.case.profile;
        ui.heading(&self.case.id);
        ui.label(format!("profile {profile}"));
        ui.separator();
        ui.label("Modality shown");
        let mut changed = false;
        for (i, name) in profile.modality_display().iter().enumerate() {
            let present = self.case.modalities[i].is_some();
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
            self.auto_window();
        }
        self.series_picker(ui);
        ui.separator();
        ui.label("Window / level (right-drag in a view)");
        ui.add(
            egui::Slider::new(&mut self.level, -2000.0..=40000.0)
                .text("level")
                .logarithmic(false),
        );
        ui.add(
            egui::Slider::new(&mut self.width, 1.0..=40000.0)
                .text("width")
                .logarithmic(true),
        );
        ui.horizontal(|ui| {
            if ui.button("Auto").clicked() {
                self.auto_window();
            }
            if ui.button("Narrow").clicked() {
                self.width *= 0.5;
            }
            if ui.button("Wide").clicked() {
                self.width *= 2.0;
            }
        });
        ui.separator();
        ui.label(format!(
            "Overlay: {}",
            if self.overlay.is_some() {
                self.overlay_name.as_str()
            } else {
                "none"
            }
        ));
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
                self.set_by_region(by_region);
            }
        });
        for (i, (name, [r, g, b])) in self.legend().into_iter().enumerate() {
            ui.checkbox(
                &mut self.visible[i + 1],
                egui::RichText::new(name).color(egui::Color32::from_rgb(r, g, b)),
            );
        }
    }

    /// Zoom and its reset.
    pub fn zoom_controls(&mut self, ui: &mut egui::Ui) {
        ui.separator();
        ui.label("Zoom (middle-drag pans)");
        ui.add(
            egui::Slider::new(&mut self.zoom, 0.5..=8.0)
                .logarithmic(true)
                .text("zoom"),
        );
        if ui.button("Reset view").clicked() {
            self.zoom = 1.0;
            self.pan = egui::Vec2::ZERO;
        }
    }

    /// The voxel under the crosshair: indices, world position, each modality's value, the label and
    /// the regions it is in, and the case's notes.
    pub fn readout(&self, ui: &mut egui::Ui) {
        let case = &self.case;
        let [x, y, z] = self.cursor;
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
        if let Some(o) = &self.overlay {
            let class = o[i];
            let regions: Vec<&str> = case
                .profile
                .regions()
                .iter()
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
}
