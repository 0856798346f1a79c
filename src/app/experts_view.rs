//! The experts side by side: under the main view, one small view per modality expert and one of the
//! fused result, of the same plane and slice with the same window, overlay style and crosshair, each
//! titled with its gating weight; clicking one shows it as the main overlay. Drawn on the CPU path
//! (five small textures, re-rendered only when the slice, the style or the maps change).

use super::{OverlaySource, ViewerApp};
use crate::render::{Plane, SliceMap};
use eframe::egui;
use egui::{Color32, Pos2, Rect, Sense, Stroke, TextureOptions, Vec2};

/// Cached tile textures: (what they show, texture) per tile.
#[derive(Default)]
pub struct ExpertTiles {
    tiles: Vec<(Vec<u64>, egui::TextureHandle)>,
}

impl ExpertTiles {
    /// How many tiles have an image (missing experts have none).
    pub fn drawn(&self) -> usize {
        self.tiles.len()
    }
}

impl ViewerApp {
    /// The strip of expert views below the main view, `height` high; nothing without a model's maps.
    pub(super) fn expert_strip(&mut self, ui: &mut egui::Ui, plane: Plane, height: f32) {
        let (Some(view), Some(model)) = (self.view.as_ref(), self.models.model.as_ref()) else {
            return;
        };
        let Some(maps) = model.maps.as_ref() else {
            return;
        };
        let profile = view.case.profile;
        let names = profile.modality_display();
        // The experts in profile order, then the fused result.
        let items: Vec<(String, Option<&Vec<u8>>, OverlaySource)> = names
            .iter()
            .enumerate()
            .map(|(m, name)| {
                (
                    format!("{name}  w {:.2}", maps.w[m]),
                    maps.experts[m].as_ref(),
                    OverlaySource::Expert(m),
                )
            })
            .chain(std::iter::once((
                "CLoE (fused)".to_string(),
                Some(&maps.classes),
                OverlaySource::Fused,
            )))
            .collect();
        let grid = view.case.grid;
        let map = SliceMap::new(&grid, plane);
        let (w, h) = map.size(grid.dims);
        let (col, row, k) = map.pixel(grid.dims, view.cursor);
        let style_key = [
            k as u64,
            view.shown as u64,
            view.level.to_bits() as u64,
            view.width.to_bits() as u64,
            view.opacity.to_bits() as u64,
            view.outline as u64,
            view.by_region as u64,
            model.maps_version,
            Plane::ALL.iter().position(|p| *p == plane).unwrap_or(0) as u64,
        ];
        let visible: Vec<u64> = view.visible.iter().map(|&v| v as u64).collect();
        let tile_w = (ui.available_width() - 8.0 * items.len() as f32) / items.len() as f32;
        let spacing = grid.spacing();
        let phys = Vec2::new(
            (w as f64 * spacing[map.axes[0]]) as f32,
            (h as f64 * spacing[map.axes[1]]) as f32,
        );
        let mut chosen = None;
        let tiles = &mut self.models.tiles.tiles;
        tiles.truncate(items.len());
        ui.horizontal(|ui| {
            for (i, (title, labels, source)) in items.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.set_width(tile_w);
                    let current = model.source == *source;
                    let text = egui::RichText::new(title.as_str()).small();
                    ui.label(if current { text.strong() } else { text });
                    let size = Vec2::new(tile_w, height - 22.0);
                    let (response, painter) = ui.allocate_painter(size, Sense::click());
                    let area = response.rect;
                    painter.rect_filled(area, 0.0, Color32::BLACK);
                    let Some(labels) = labels else {
                        painter.text(
                            area.center(),
                            egui::Align2::CENTER_CENTER,
                            "missing",
                            egui::FontId::proportional(12.0),
                            Color32::GRAY,
                        );
                        return;
                    };
                    let mut key = style_key.to_vec();
                    key.extend(&visible);
                    if tiles.get(i).is_none_or(|(old, _)| *old != key)
                        && let Some(rgba) = view.plane_rgba_with(plane, Some(labels), None)
                    {
                        let image = egui::ColorImage::from_rgba_unmultiplied([w, h], &rgba);
                        let texture = ui.ctx().load_texture(
                            format!("expert-tile-{i}"),
                            image,
                            TextureOptions::LINEAR,
                        );
                        if i < tiles.len() {
                            tiles[i] = (key, texture);
                        } else {
                            tiles.push((key, texture));
                        }
                    }
                    let scale = (size.x / phys.x).min(size.y / phys.y).max(0.01);
                    let image_rect = Rect::from_center_size(area.center(), phys * scale);
                    if let Some((_, texture)) = tiles.get(i) {
                        painter.image(
                            texture.id(),
                            image_rect,
                            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                            Color32::WHITE,
                        );
                    }
                    super::views::crosshair(&painter, area, image_rect, (col, row), (w, h), 140);
                    if current {
                        painter.rect_stroke(
                            area,
                            0.0,
                            Stroke::new(2.0, Color32::from_rgb(230, 200, 60)),
                            egui::StrokeKind::Inside,
                        );
                    }
                    if response
                        .on_hover_text("show this one as the main overlay")
                        .clicked()
                    {
                        chosen = Some(*source);
                    }
                });
            }
        });
        if let (Some(source), Some(model), Some(view)) =
            (chosen, self.models.model.as_mut(), self.view.as_mut())
        {
            model.source = source;
            model.apply_overlay(view);
        }
    }
}
