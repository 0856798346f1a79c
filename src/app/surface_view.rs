//! The 3-D view, in the fourth quadrant of the three-plane layout (its "3-D" tab): the shown labels'
//! regions as surfaces (`surface::surface` on a worker thread whenever the labels change), drawn by
//! `surface_gpu` into a texture egui shows. Drag to rotate, scroll to zoom, double-click to reset;
//! the legend's toggles show and hide regions as in the 2-D views; the crosshair is drawn where the
//! cursor is; the experts' disagreement can be painted on the outermost region (WT, or the gland's
//! first zone). On the glow renderer it says that 3-D needs wgpu.

use super::ViewerApp;
use super::surface_gpu::{self, Camera, ColouredMesh, SurfaceRenderer};
use crate::error::Result;
use crate::render::LabelStyle;
use crate::surface::{item_mask, sample_at_vertices, surface};
use crate::volume::Grid;
use eframe::egui::{self, Vec2};
use eframe::egui_wgpu::wgpu;
use poll_promise::Promise;

/// What the meshes were built from: (case view serial, overlay version, regions or classes, the
/// disagreement painted, the model's maps version).
type MeshKey = (u64, u64, bool, bool, u64);

/// What one image of the 3-D view shows: camera, visible items, crosshair (mm), size (px), meshes.
type Drawn = (Camera, Vec<bool>, [f32; 3], u32, Option<MeshKey>);

/// The 3-D view's state: the camera, the choice of the fourth quadrant, the meshes and their image.
pub struct SurfaceView {
    /// The fourth quadrant shows the 3-D view (else the numbers).
    pub shown: bool,
    pub yaw: f32,
    pub pitch: f32,
    pub zoom: f32,
    /// Paint the experts' disagreement on the outermost region's surface.
    pub disagreement: bool,
    /// Triangles of each legend item's surface (item, triangles), of the meshes on screen.
    pub triangles: Vec<(usize, usize)>,
    built: Option<MeshKey>,
    job: Option<(MeshKey, Promise<Result<Vec<ColouredMesh>>>)>,
    bounds: Option<([f32; 3], [f32; 3])>,
    image: Option<(egui::TextureId, wgpu::Texture)>,
    /// What the image shows now (it is drawn again only when this changes).
    drawn: Option<Drawn>,
}

impl Default for SurfaceView {
    fn default() -> Self {
        Self {
            shown: false,
            yaw: 0.5,
            pitch: 0.3,
            zoom: 1.0,
            disagreement: false,
            triangles: Vec::new(),
            built: None,
            job: None,
            bounds: None,
            image: None,
            drawn: None,
        }
    }
}

/// The surfaces of every legend item of `style` in `labels`; the first item coloured by
/// `disagreement` (blue for agreement to red for the largest disagreement) when given.
pub fn build_meshes(
    grid: &Grid,
    labels: &[u8],
    style: &LabelStyle,
    disagreement: Option<&[f32]>,
) -> Vec<ColouredMesh> {
    (1..style.colours.len())
        .map(|item| {
            let mesh = surface(grid, &item_mask(labels, &style.members, item));
            let colours = match disagreement.filter(|_| item == 1) {
                Some(map) => {
                    let max = map.iter().copied().fold(1e-6f32, f32::max);
                    sample_at_vertices(&mesh, grid, map)
                        .into_iter()
                        .map(|v| heat_colour(v / max))
                        .collect()
                }
                None => vec![linear(style.colours[item]); mesh.positions.len()],
            };
            ColouredMesh {
                item,
                mesh,
                colours,
            }
        })
        .collect()
}

/// An sRGB colour as linear RGBA (what the shader writes into an sRGB texture).
fn linear(c: [u8; 3]) -> [f32; 4] {
    let f = |v: u8| {
        let s = v as f32 / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    [f(c[0]), f(c[1]), f(c[2]), 1.0]
}

/// Blue (0) through yellow (0.5) to red (1), linear RGBA.
fn heat_colour(t: f32) -> [f32; 4] {
    let t = t.clamp(0.0, 1.0);
    let (r, g, b) = if t < 0.5 {
        (2.0 * t, 2.0 * t, 1.0 - 2.0 * t)
    } else {
        (1.0, 2.0 - 2.0 * t, 0.0)
    };
    [r * r, g * g, b * b, 1.0]
}

impl ViewerApp {
    /// The fourth quadrant: tabs for the numbers and the 3-D view, and the one chosen.
    pub(super) fn fourth_quadrant(&mut self, ui: &mut egui::Ui, size: Vec2) {
        ui.allocate_ui(size, |ui| {
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut self.surface.shown, false, "Numbers");
                    ui.selectable_value(&mut self.surface.shown, true, "3-D");
                });
                if !self.surface.shown {
                    if let Some(view) = &self.view {
                        view.readout(ui);
                    }
                    return;
                }
                self.surface_panel(ui);
            })
        });
    }

    /// The 3-D view's controls and, in the space left under them, its image.
    fn surface_panel(&mut self, ui: &mut egui::Ui) {
        let Some(rs) = self.gpu.clone() else {
            ui.label("3-D needs the wgpu renderer; this window runs on glow (start without --renderer glow).");
            return;
        };
        let Some(view) = self.view.as_ref() else {
            return;
        };
        // The model's maps of this case (a model kept from another case has maps of that one), painted
        // on the outermost region, which is legend item 1 when the legend shows regions.
        let maps = (self.models.model.as_ref())
            .and_then(|m| m.maps.as_ref())
            .filter(|m| m.disagreement.len() == view.case.grid.len());
        let s = &mut self.surface;
        ui.horizontal(|ui| {
            ui.add_enabled(
                maps.is_some() && view.by_region,
                egui::Checkbox::new(&mut s.disagreement, "disagreement"),
            )
            .on_hover_text(
                "The experts' disagreement on the outermost region (blue: they agree, red: they \
                 differ most); needs the model's maps and the legend showing regions",
            );
            if ui.button("Reset").clicked() {
                (s.yaw, s.pitch, s.zoom) = (0.5, 0.3, 1.0);
            }
            let total: usize = s.triangles.iter().map(|t| t.1).sum();
            ui.weak(format!("{total} triangles"));
        });
        // The meshes follow the labels shown.
        let Some(labels) = view.overlay.as_ref() else {
            ui.label("No labels to show in 3-D: load a segmentation or run the model.");
            return;
        };
        let painted = s.disagreement && maps.is_some() && view.by_region;
        let maps_version = self.models.model.as_ref().map_or(0, |m| m.maps_version);
        let key = (
            view.serial,
            view.overlay_version,
            view.by_region,
            painted,
            maps_version,
        );
        // One build at a time: labels that change while one runs (painting) are built after it.
        if s.built != Some(key) && s.job.is_none() {
            let (grid, labels, style) = (view.case.grid, labels.clone(), view.label_style());
            let heat = maps.filter(|_| painted).map(|m| m.disagreement.clone());
            s.job = Some((
                key,
                crate::guard::spawn("cloe-surfaces", move || {
                    Ok(build_meshes(&grid, &labels, &style, heat.as_deref()))
                }),
            ));
        }
        if let Some((k, job)) = s.job.take() {
            match job.try_take() {
                // Meshes of a case no longer shown are dropped (the next frame builds the new one's).
                Ok(Ok(_)) if k.0 != view.serial => ui.ctx().request_repaint(),
                Ok(Ok(meshes)) => {
                    let mut renderer = rs.renderer.write();
                    let res = &mut renderer.callback_resources;
                    if res.get::<SurfaceRenderer>().is_none() {
                        res.insert(SurfaceRenderer::new(&rs.device));
                    }
                    if let Some(r) = res.get_mut::<SurfaceRenderer>() {
                        r.set_meshes(&rs.device, &meshes);
                    }
                    s.triangles = meshes
                        .iter()
                        .map(|m| (m.item, m.mesh.triangles()))
                        .collect();
                    s.bounds =
                        meshes
                            .iter()
                            .filter_map(|m| m.mesh.bounds())
                            .reduce(|(a, b), (c, d)| {
                                (
                                    std::array::from_fn(|i| a[i].min(c[i])),
                                    std::array::from_fn(|i| b[i].max(d[i])),
                                )
                            });
                    s.built = Some(k);
                    s.drawn = None;
                    if k != key {
                        // The labels changed while it ran: build again.
                        ui.ctx().request_repaint();
                    }
                }
                Ok(Err(e)) => {
                    // Not tried again until the labels change.
                    s.built = Some(k);
                    s.bounds = None;
                    self.error = Some(format!("the 3-D surfaces failed: {e}"));
                }
                Err(job) => {
                    s.job = Some((k, job));
                    ui.ctx().request_repaint();
                }
            }
        }
        let Some((lo, hi)) = s.bounds.filter(|_| s.built.is_some()) else {
            if s.built.is_some() && s.job.is_none() {
                ui.label("No labelled voxels to show in 3-D.");
            } else {
                ui.spinner();
            }
            return;
        };
        let size = ui.available_size();
        let side = size.x.min(size.y - 4.0).max(32.0);
        let (rect, response) =
            ui.allocate_exact_size(Vec2::splat(side), egui::Sense::click_and_drag());
        if response.dragged() {
            let d = response.drag_delta();
            s.yaw -= d.x * 0.01;
            s.pitch = (s.pitch + d.y * 0.01).clamp(-1.55, 1.55);
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            s.zoom = (s.zoom * (1.0 + scroll * 0.002)).clamp(0.2, 20.0);
        }
        if response.double_clicked() {
            (s.yaw, s.pitch, s.zoom) = (0.5, 0.3, 1.0);
        }
        let centre: [f32; 3] = std::array::from_fn(|i| 0.5 * (lo[i] + hi[i]));
        let radius = 0.5
            * (0..3)
                .map(|i| (hi[i] - lo[i]).powi(2))
                .sum::<f32>()
                .sqrt()
                .max(1.0);
        let camera = Camera {
            centre,
            radius,
            yaw: s.yaw,
            pitch: s.pitch,
            zoom: s.zoom,
        };
        let c = view.cursor.map(|v| v as f64);
        let cursor = view.case.grid.affine.apply(c).map(|v| v as f32);
        let px = (side * ui.ctx().pixels_per_point()).round() as u32;
        let size_px = [px, px];
        let drawn: Drawn = (camera, view.visible.clone(), cursor, px, s.built);
        let mut renderer = rs.renderer.write();
        let stale = s
            .image
            .as_ref()
            .is_none_or(|(_, t)| t.width() != px || t.height() != px);
        if stale {
            let texture =
                surface_gpu::target_texture(&rs.device, size_px, wgpu::TextureUsages::empty());
            let tv = texture.create_view(&Default::default());
            let id = match &s.image {
                Some((id, _)) => {
                    renderer.update_egui_texture_from_wgpu_texture(
                        &rs.device,
                        &tv,
                        wgpu::FilterMode::Linear,
                        *id,
                    );
                    *id
                }
                None => renderer.register_native_texture(&rs.device, &tv, wgpu::FilterMode::Linear),
            };
            s.image = Some((id, texture));
            s.drawn = None;
        }
        let Some((id, texture)) = &s.image else {
            return;
        };
        if s.drawn.as_ref() != Some(&drawn)
            && let Some(r) = renderer.callback_resources.get::<SurfaceRenderer>()
        {
            let target = texture.create_view(&Default::default());
            let scene = surface_gpu::Scene {
                camera,
                visible: &view.visible,
                cursor: Some(cursor),
            };
            r.render(&rs.device, &rs.queue, &target, size_px, &scene);
            s.drawn = Some(drawn);
        }
        egui::Image::new((*id, rect.size())).paint_at(ui, rect);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_linear_and_the_heat_ramp_runs_blue_to_red() {
        assert_eq!(linear([255, 255, 255]), [1.0, 1.0, 1.0, 1.0]);
        assert!((linear([128, 0, 0])[0] - 0.2158).abs() < 1e-3);
        assert_eq!(heat_colour(0.0), [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(heat_colour(1.0), [1.0, 0.0, 0.0, 1.0]);
        assert_eq!(heat_colour(0.5), [1.0, 1.0, 0.0, 1.0]);
    }
}
