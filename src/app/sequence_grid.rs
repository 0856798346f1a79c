//! Every sequence of the case side by side: one view per modality on the same plane (2×2 for BraTS, two
//! for T2 + ADC), each a full slice view (`views::plane_view`) sharing the crosshair, slice, zoom, pan
//! and overlay, each with its own window/level (right-drag in its tile). A missing modality is an empty
//! tile that says so; a modality switched off in the model panel is greyed. Tiles are drawn on the CPU
//! path, one texture per modality.

use super::case_view::{CaseView, Display, SliceKey};
use super::views::{self, SliceRenderer};
use crate::case::Subset;
use crate::render::Plane;
use eframe::egui;
use egui::{Color32, TextureHandle, Vec2};
use std::collections::HashMap;

/// The grid's state: whether it is shown, its plane, each modality's display and textures.
pub struct SequenceGrid {
    pub on: bool,
    pub plane: Plane,
    /// The case view the displays belong to (its serial).
    serial: u64,
    displays: Vec<Display>,
    textures: Vec<HashMap<Plane, (SliceKey, TextureHandle)>>,
}

impl Default for SequenceGrid {
    fn default() -> Self {
        Self {
            on: false,
            plane: Plane::Axial,
            serial: 0,
            displays: Vec::new(),
            textures: Vec::new(),
        }
    }
}

/// Rows and columns for `n` tiles: two columns, as many rows as needed.
pub fn grid_shape(n: usize) -> (usize, usize) {
    let cols = n.clamp(1, 2);
    (n.div_ceil(cols), cols)
}

impl SequenceGrid {
    /// The window/level of modality `m` in the grid (after the grid was drawn for the view).
    pub fn window(&self, m: usize) -> Option<(f32, f32)> {
        self.displays.get(m).map(|d| (d.level, d.width))
    }

    /// One display per modality, each with its own window, when the view is new.
    fn adopt(&mut self, view: &CaseView) {
        if self.serial == view.serial && self.displays.len() == view.case.modalities.len() {
            return;
        }
        self.serial = view.serial;
        self.displays = (0..view.case.modalities.len())
            .map(|m| {
                let mut d = view.display.clone();
                d.shown = m;
                d.auto_window(&view.case);
                d
            })
            .collect();
        self.textures = vec![HashMap::new(); self.displays.len()];
    }

    /// The plane buttons and the tiles, in `size`; `used` is the model's subset (None without a model).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        view: &mut CaseView,
        size: Vec2,
        used: Option<&Subset>,
    ) {
        self.adopt(view);
        ui.horizontal(|ui| {
            ui.label("All sequences on");
            for plane in Plane::ALL {
                ui.selectable_value(&mut self.plane, plane, plane.name());
            }
        });
        let n = self.displays.len();
        let (rows, cols) = grid_shape(n);
        let bar = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        let gap = 8.0;
        let tile = Vec2::new(
            (size.x - gap * (cols as f32 - 1.0)) / cols as f32,
            (size.y - bar - gap * (rows as f32 - 1.0)) / rows as f32,
        );
        for row in 0..rows {
            ui.horizontal(|ui| {
                for m in (row * cols..(row + 1) * cols).filter(|&m| m < n) {
                    let off = used.is_some_and(|s| !s.contains(m));
                    self.tile(ui, view, m, tile, off);
                }
            });
        }
    }

    /// Modality `m`'s tile: the slice view with its own display, or the name of the missing sequence.
    fn tile(&mut self, ui: &mut egui::Ui, view: &mut CaseView, m: usize, size: Vec2, off: bool) {
        let name = view.case.profile.modality_display()[m];
        if view.case.modalities[m].is_none() {
            let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
            ui.painter().rect_filled(rect, 0.0, Color32::from_gray(12));
            let text = format!("{name} missing");
            let font = egui::FontId::proportional(16.0);
            (ui.painter()).text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                text,
                font,
                Color32::GRAY,
            );
            return;
        }
        // The overlay's style is the main display's; the modality and its window are the tile's.
        let shared = view.display.clone();
        let own = &mut self.displays[m];
        (own.opacity, own.outline, own.by_region) =
            (shared.opacity, shared.outline, shared.by_region);
        own.visible.clone_from(&shared.visible);
        std::mem::swap(&mut view.display, own);
        std::mem::swap(&mut view.textures, &mut self.textures[m]);
        let cpu = SliceRenderer {
            gpu: None,
            slicing: false,
        };
        let mut maximised = None;
        let top = ui.cursor().min;
        views::plane_view(ui, view, self.plane, size, &cpu, &mut maximised);
        std::mem::swap(&mut view.textures, &mut self.textures[m]);
        std::mem::swap(&mut view.display, &mut self.displays[m]);
        let rect = egui::Rect::from_min_size(top, size);
        let painter = ui.painter().with_clip_rect(rect);
        let font = egui::FontId::proportional(15.0);
        let label = if off {
            format!("{name} (off for the model)")
        } else {
            name.to_string()
        };
        let at = rect.right_top() + Vec2::new(-6.0, 4.0);
        painter.text(
            at,
            egui::Align2::RIGHT_TOP,
            label,
            font,
            Color32::from_rgb(230, 200, 60),
        );
        if off {
            painter.rect_filled(rect, 0.0, Color32::from_black_alpha(150));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::grid_shape;

    #[test]
    fn two_by_two_for_brats_one_row_for_prostate() {
        assert_eq!(grid_shape(4), (2, 2));
        assert_eq!(grid_shape(2), (1, 2));
        assert_eq!(grid_shape(3), (2, 2));
        assert_eq!(grid_shape(1), (1, 1));
    }
}
