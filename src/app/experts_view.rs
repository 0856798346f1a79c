//! The experts side by side: under the main view, one small view per modality expert and one of the
//! fused result, of the same plane and slice with the same window, overlay style and crosshair, each
//! titled with its gating weight; clicking one shows it as the main overlay. Drawn on the CPU path
//! (five small textures, re-rendered only when the slice, the style or the maps change).

use super::case_view::CaseView;
use super::model_panel::{ModelState, OverlaySource};
use super::views::crosshair;
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

/// One tile of the strip: its title, the labels it shows (None: the expert is missing), and the overlay
/// a click on it chooses.
struct Tile<'a> {
    title: String,
    labels: Option<&'a [u8]>,
    source: OverlaySource,
}

/// The experts in profile order, then the fused result.
fn tiles_of<'a>(view: &CaseView, model: &'a ModelState) -> Option<Vec<Tile<'a>>> {
    let maps = model.maps.as_ref()?;
    let names = view.case.profile.modality_display();
    let experts = names.iter().enumerate().map(|(m, name)| Tile {
        title: format!("{name}  w {:.2}", maps.w[m]),
        labels: maps.experts[m].as_deref(),
        source: OverlaySource::Expert(m),
    });
    let fused = Tile {
        title: "CLoE (fused)".to_string(),
        labels: Some(&maps.classes),
        source: OverlaySource::Fused,
    };
    Some(experts.chain(std::iter::once(fused)).collect())
}

impl ExpertTiles {
    /// The strip of expert views below the main view, `height` high (nothing without a model's
    /// maps). Returns the overlay a click chose.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        view: &CaseView,
        model: &ModelState,
        plane: Plane,
        height: f32,
    ) -> Option<OverlaySource> {
        let items = tiles_of(view, model)?;
        let d = &view.display;
        let k = SliceMap::new(&view.case.grid, plane)
            .pixel(view.case.grid.dims, view.nav.cursor)
            .2;
        let plane_index = Plane::ALL.iter().position(|p| *p == plane).unwrap_or(0);
        let mut key = vec![
            k as u64,
            d.shown as u64,
            d.level.to_bits() as u64,
            d.width.to_bits() as u64,
            d.opacity.to_bits() as u64,
            d.outline as u64,
            d.by_region as u64,
            model.maps_version,
            plane_index as u64,
        ];
        key.extend(d.visible.iter().map(|&v| v as u64));
        let tile_w = (ui.available_width() - 8.0 * items.len() as f32) / items.len() as f32;
        let size = Vec2::new(tile_w, height - 22.0);
        self.tiles.truncate(items.len());
        let mut chosen = None;
        ui.horizontal(|ui| {
            for (i, tile) in items.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.set_width(tile_w);
                    let current = model.source == tile.source;
                    let text = egui::RichText::new(tile.title.as_str()).small();
                    ui.label(if current { text.strong() } else { text });
                    if self.tile(ui, view, plane, (i, tile), &key, size, current) {
                        chosen = Some(tile.source);
                    }
                });
            }
        });
        chosen
    }

    /// One tile: its image (re-rendered when `key` changed), the crosshair, a frame when it is the
    /// main overlay. Returns true when it was clicked.
    #[allow(clippy::too_many_arguments)]
    fn tile(
        &mut self,
        ui: &mut egui::Ui,
        view: &CaseView,
        plane: Plane,
        (i, tile): (usize, &Tile),
        key: &[u64],
        size: Vec2,
        current: bool,
    ) -> bool {
        let (response, painter) = ui.allocate_painter(size, Sense::click());
        let area = response.rect;
        painter.rect_filled(area, 0.0, Color32::BLACK);
        let Some(labels) = tile.labels else {
            let font = egui::FontId::proportional(12.0);
            painter.text(
                area.center(),
                egui::Align2::CENTER_CENTER,
                "missing",
                font,
                Color32::GRAY,
            );
            return false;
        };
        let grid = view.case.grid;
        let map = SliceMap::new(&grid, plane);
        let (w, h) = map.size(grid.dims);
        if self
            .tiles
            .get(i)
            .is_none_or(|(old, _)| old.as_slice() != key)
            && let Some(rgba) = view.plane_rgba_with(plane, Some(labels), None)
        {
            let image = egui::ColorImage::from_rgba_unmultiplied([w, h], &rgba);
            let name = format!("expert-tile-{i}");
            let texture = ui.ctx().load_texture(name, image, TextureOptions::LINEAR);
            if i < self.tiles.len() {
                self.tiles[i] = (key.to_vec(), texture);
            } else {
                self.tiles.push((key.to_vec(), texture));
            }
        }
        let spacing = grid.spacing();
        let phys = Vec2::new(
            (w as f64 * spacing[map.axes[0]]) as f32,
            (h as f64 * spacing[map.axes[1]]) as f32,
        );
        let scale = (size.x / phys.x).min(size.y / phys.y).max(0.01);
        let image_rect = Rect::from_center_size(area.center(), phys * scale);
        if let Some((_, texture)) = self.tiles.get(i) {
            let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
            painter.image(texture.id(), image_rect, uv, Color32::WHITE);
        }
        let (col, row, _) = map.pixel(grid.dims, view.nav.cursor);
        crosshair(&painter, area, image_rect, (col, row), (w, h), 140);
        if current {
            let frame = Stroke::new(2.0, Color32::from_rgb(230, 200, 60));
            painter.rect_stroke(area, 0.0, frame, egui::StrokeKind::Inside);
        }
        response
            .on_hover_text("show this one as the main overlay")
            .clicked()
    }
}
