//! The 3-D view, in the fourth quadrant of the three-plane layout (its "3-D" tab): the shown labels'
//! regions as surfaces (`surface::surface` on a worker thread whenever the labels change), drawn by
//! `surface_gpu` into a texture egui shows. Drag to rotate, scroll to zoom, double-click to reset;
//! the legend's toggles show and hide regions as in the 2-D views; the crosshair is drawn where the
//! cursor is; the experts' disagreement can be painted on the outermost region (WT, or the gland's
//! first zone). On the glow renderer it says that 3-D needs wgpu.

use super::case_view::CaseView;
use super::job::Job;
use super::surface_gpu::{self, Camera, ColouredMesh, SurfaceRenderer};
use crate::infer::CaseMaps;
use crate::render::LabelStyle;
use crate::surface::{item_mask, sample_at_vertices, surface};
use crate::volume::Grid;
use eframe::egui::{self, Vec2};
use eframe::egui_wgpu::{RenderState, wgpu};

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
    job: Option<(MeshKey, Job<Vec<ColouredMesh>>)>,
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

/// The model's maps of the open case, for the disagreement painted on the surface.
pub struct ModelMaps<'a> {
    pub maps: Option<&'a CaseMaps>,
    /// Counts the maps the model produced (a change rebuilds painted meshes).
    pub version: u64,
}

impl SurfaceView {
    /// The fourth quadrant: tabs for the numbers and the 3-D view, and the one chosen.
    pub fn quadrant(
        &mut self,
        ui: &mut egui::Ui,
        size: Vec2,
        view: &CaseView,
        model: ModelMaps,
        gpu: Option<&RenderState>,
        error: &mut Option<String>,
    ) {
        ui.allocate_ui(size, |ui| {
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut self.shown, false, "Numbers");
                    ui.selectable_value(&mut self.shown, true, "3-D");
                });
                if !self.shown {
                    super::readout::readout(ui, view);
                    return;
                }
                let Some(rs) = gpu else {
                    ui.label(
                        "3-D needs the wgpu renderer; this window runs on glow (no wgpu adapter \
                         was found, or CLOE_RENDERER=glow chose it).",
                    );
                    return;
                };
                self.panel(ui, view, model, rs, error);
            })
        });
    }

    /// The 3-D view's controls and, in the space left under them, its image.
    fn panel(
        &mut self,
        ui: &mut egui::Ui,
        view: &CaseView,
        model: ModelMaps,
        rs: &RenderState,
        error: &mut Option<String>,
    ) {
        // The model's maps of this case (a model kept from another case has maps of that one), painted
        // on the outermost region, which is legend item 1 when the legend shows regions.
        let maps = model
            .maps
            .filter(|m| m.disagreement.len() == view.case.grid.len());
        let by_region = view.display.by_region;
        self.controls(ui, maps.is_some() && by_region);
        // The meshes follow the labels shown.
        let Some(labels) = view.overlay.labels.as_ref() else {
            ui.label("No labels to show in 3-D: load a segmentation or run the model.");
            return;
        };
        let painted = self.disagreement && maps.is_some() && by_region;
        let key = (
            view.serial,
            view.overlay.version,
            by_region,
            painted,
            model.version,
        );
        // One build at a time: labels that change while one runs (painting) are built after it.
        if self.built != Some(key) && self.job.is_none() {
            let (grid, labels) = (view.case.grid, labels.clone());
            let style = view.display.label_style(view.case.profile);
            let heat = maps.filter(|_| painted).map(|m| m.disagreement.clone());
            let job = Job::spawn("cloe-surfaces", move |_| {
                Ok(build_meshes(&grid, &labels, &style, heat.as_deref()))
            });
            self.job = Some((key, job));
        }
        self.collect_meshes(ui, view.serial, key, rs, error);
        let Some(bounds) = self.bounds.filter(|_| self.built.is_some()) else {
            if self.built.is_some() && self.job.is_none() {
                ui.label("No labelled voxels to show in 3-D.");
            } else {
                ui.spinner();
            }
            return;
        };
        let (rect, camera) = self.camera_input(ui, bounds);
        self.draw(ui, rect, camera, view, rs);
    }

    /// The disagreement switch, Reset and the triangle count.
    fn controls(&mut self, ui: &mut egui::Ui, can_paint: bool) {
        ui.horizontal(|ui| {
            ui.add_enabled(
                can_paint,
                egui::Checkbox::new(&mut self.disagreement, "disagreement"),
            )
            .on_hover_text(
                "The experts' disagreement on the outermost region (blue: they agree, red: they \
                 differ most); needs the model's maps and the legend showing regions",
            );
            if ui.button("Reset").clicked() {
                (self.yaw, self.pitch, self.zoom) = (0.5, 0.3, 1.0);
            }
            let total: usize = self.triangles.iter().map(|t| t.1).sum();
            ui.weak(format!("{total} triangles"));
        });
    }

    /// Takes a finished mesh build into the renderer (`serial`: the case view shown now, `key`: what
    /// it shows now).
    fn collect_meshes(
        &mut self,
        ui: &egui::Ui,
        serial: u64,
        key: MeshKey,
        rs: &RenderState,
        error: &mut Option<String>,
    ) {
        let Some((k, job)) = self.job.take() else {
            return;
        };
        let mut slot = Some(job);
        match Job::poll(&mut slot) {
            // Meshes of a case no longer shown are dropped (the next frame builds the new one's).
            Some(Ok(_)) if k.0 != serial => ui.ctx().request_repaint(),
            Some(Ok(meshes)) => {
                let mut renderer = rs.renderer.write();
                let res = &mut renderer.callback_resources;
                if res.get::<SurfaceRenderer>().is_none() {
                    res.insert(SurfaceRenderer::new(&rs.device));
                }
                if let Some(r) = res.get_mut::<SurfaceRenderer>() {
                    r.set_meshes(&rs.device, &meshes);
                }
                self.triangles = (meshes.iter())
                    .map(|m| (m.item, m.mesh.triangles()))
                    .collect();
                self.bounds =
                    (meshes.iter().filter_map(|m| m.mesh.bounds())).reduce(|(a, b), (c, d)| {
                        (
                            std::array::from_fn(|i| a[i].min(c[i])),
                            std::array::from_fn(|i| b[i].max(d[i])),
                        )
                    });
                self.built = Some(k);
                self.drawn = None;
                if k != key {
                    // The labels changed while it ran: build again.
                    ui.ctx().request_repaint();
                }
            }
            Some(Err(e)) => {
                // Not tried again until the labels change.
                self.built = Some(k);
                self.bounds = None;
                *error = Some(format!("the 3-D surfaces failed: {e}"));
            }
            None => {
                self.job = slot.map(|job| (k, job));
                ui.ctx().request_repaint();
            }
        }
    }

    /// The square the image takes, with drag to rotate, scroll to zoom and double-click to reset; the
    /// camera around the meshes' `bounds`.
    fn camera_input(
        &mut self,
        ui: &mut egui::Ui,
        (lo, hi): ([f32; 3], [f32; 3]),
    ) -> (egui::Rect, Camera) {
        let size = ui.available_size();
        let side = size.x.min(size.y - 4.0).max(32.0);
        let (rect, response) =
            ui.allocate_exact_size(Vec2::splat(side), egui::Sense::click_and_drag());
        if response.dragged() {
            let d = response.drag_delta();
            self.yaw -= d.x * 0.01;
            self.pitch = (self.pitch + d.y * 0.01).clamp(-1.55, 1.55);
        }
        if response.hovered() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            self.zoom = (self.zoom * (1.0 + scroll * 0.002)).clamp(0.2, 20.0);
        }
        if response.double_clicked() {
            (self.yaw, self.pitch, self.zoom) = (0.5, 0.3, 1.0);
        }
        let centre: [f32; 3] = std::array::from_fn(|i| 0.5 * (lo[i] + hi[i]));
        let diagonal: f32 = (0..3).map(|i| (hi[i] - lo[i]).powi(2)).sum::<f32>().sqrt();
        let camera = Camera {
            centre,
            radius: 0.5 * diagonal.max(1.0),
            yaw: self.yaw,
            pitch: self.pitch,
            zoom: self.zoom,
        };
        (rect, camera)
    }

    /// Renders the meshes into the view's texture when what it shows changed, and shows it in `rect`.
    fn draw(
        &mut self,
        ui: &mut egui::Ui,
        rect: egui::Rect,
        camera: Camera,
        view: &CaseView,
        rs: &RenderState,
    ) {
        let c = view.nav.cursor.map(|v| v as f64);
        let cursor = view.case.grid.affine.apply(c).map(|v| v as f32);
        let px = (rect.width() * ui.ctx().pixels_per_point()).round() as u32;
        let size_px = [px, px];
        let visible = &view.display.visible;
        let drawn: Drawn = (camera, visible.clone(), cursor, px, self.built);
        let mut renderer = rs.renderer.write();
        let stale = (self.image.as_ref()).is_none_or(|(_, t)| t.width() != px || t.height() != px);
        if stale {
            let texture =
                surface_gpu::target_texture(&rs.device, size_px, wgpu::TextureUsages::empty());
            let tv = texture.create_view(&Default::default());
            let filter = wgpu::FilterMode::Linear;
            let id = match &self.image {
                Some((id, _)) => {
                    renderer.update_egui_texture_from_wgpu_texture(&rs.device, &tv, filter, *id);
                    *id
                }
                None => renderer.register_native_texture(&rs.device, &tv, filter),
            };
            self.image = Some((id, texture));
            self.drawn = None;
        }
        let Some((id, texture)) = &self.image else {
            return;
        };
        if self.drawn.as_ref() != Some(&drawn)
            && let Some(r) = renderer.callback_resources.get::<SurfaceRenderer>()
        {
            let target = texture.create_view(&Default::default());
            let scene = surface_gpu::Scene {
                camera,
                visible,
                cursor: Some(cursor),
            };
            r.render(&rs.device, &rs.queue, &target, size_px, &scene);
            self.drawn = Some(drawn);
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
