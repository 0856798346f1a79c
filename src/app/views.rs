//! One slice view: the plane's image (drawn by the WGSL shader of `gpu_slices` on the wgpu renderer,
//! else rendered on the CPU through `render` and uploaded as a texture), scaled by the voxel spacing,
//! with the linked crosshair and orientation letters; clicks move the cursor (or paint, with the brush
//! outline shown, in paint mode), the mouse wheel and the arrow keys step through slices.

use super::case_view::CaseView;
use super::gpu_slices::{GpuSlices, SliceCallback};
use crate::render::{Plane, SliceMap};
use eframe::egui_wgpu::RenderState;
use eframe::{egui, egui_wgpu};
use egui::{Color32, Pos2, Rect, Response, Sense, Stroke, TextureOptions, Vec2};

/// How slices are drawn: by the shader when the app runs on wgpu and GPU slicing is on, else on the
/// CPU.
pub struct SliceRenderer {
    /// eframe's wgpu state when the app runs on the wgpu renderer (None on glow).
    pub gpu: Option<RenderState>,
    /// Slices drawn by the WGSL shader (when `gpu` is there) instead of the CPU path.
    pub slicing: bool,
}

impl SliceRenderer {
    /// True when the slices are drawn by the shader.
    pub fn active(&self) -> bool {
        self.slicing && self.gpu.is_some()
    }

    /// Brings the GPU textures up to date with the view (shown modality, labels, heat map).
    pub fn sync(&mut self, view: &CaseView) {
        let Some(rs) = self.gpu.as_ref().filter(|_| self.slicing) else {
            return;
        };
        let limit = rs.device.limits().max_texture_dimension_3d as usize;
        if view.case.grid.dims.iter().any(|&d| d > limit) {
            // Too large for a 3-D texture on this adapter: the CPU path draws it.
            self.slicing = false;
            return;
        }
        let mut renderer = rs.renderer.write();
        let res = &mut renderer.callback_resources;
        if res.get::<GpuSlices>().is_none() {
            res.insert(GpuSlices::new(&rs.device, &rs.queue, rs.target_format));
        }
        let Some(g) = res.get_mut::<GpuSlices>() else {
            return;
        };
        let dims = view.case.grid.dims;
        let shown = view.display.shown;
        if g.volume_key != Some((view.serial, shown)) {
            if let Some(v) = &view.case.modalities[shown] {
                g.set_volume(&rs.device, &rs.queue, dims, &v.data);
            }
            g.volume_key = Some((view.serial, shown));
        }
        let key = (view.serial, view.overlay.version);
        if g.overlay_key != Some(key) {
            let heat = view.overlay.heat.as_ref().map(|h| h.values.as_slice());
            let labels = view.overlay.labels.as_deref().filter(|_| heat.is_none());
            g.set_overlay(&rs.device, &rs.queue, dims, labels, heat);
            g.overlay_key = Some(key);
        }
    }
}

/// Where a plane's slice lies on screen.
struct Placed {
    map: SliceMap,
    dims: [usize; 3],
    /// Slice size in pixels and the slice index.
    size: (usize, usize),
    k: usize,
    /// Screen points per mm.
    scale: f32,
    area: Rect,
    image: Rect,
}

impl Placed {
    fn new(view: &CaseView, plane: Plane, area: Rect) -> Self {
        let grid = view.case.grid;
        let (dims, map) = (grid.dims, SliceMap::new(&grid, plane));
        let (w, h) = map.size(dims);
        let k = map.pixel(dims, view.nav.cursor).2;
        // Keep the physical aspect: pixel sizes are the voxel spacings of the two screen axes.
        let spacing = grid.spacing();
        let phys = Vec2::new(
            (w as f64 * spacing[map.axes[0]]) as f32,
            (h as f64 * spacing[map.axes[1]]) as f32,
        );
        let size = area.size();
        let scale = (size.x / phys.x).min(size.y / phys.y).max(0.01) * view.nav.zoom;
        let image = Rect::from_center_size(area.center() + view.nav.pan, phys * scale);
        Self {
            map,
            dims,
            size: (w, h),
            k,
            scale,
            area,
            image,
        }
    }

    /// The voxel under a screen position, when it is on the slice.
    fn voxel_at(&self, pos: Pos2) -> Option<[usize; 3]> {
        let (w, h) = self.size;
        let c = ((pos.x - self.image.min.x) / self.image.width() * w as f32).floor();
        let r = ((pos.y - self.image.min.y) / self.image.height() * h as f32).floor();
        (c >= 0.0 && r >= 0.0 && (c as usize) < w && (r as usize) < h)
            .then(|| self.map.voxel(self.dims, c as usize, r as usize, self.k))
    }
}

/// Draws `plane` of `view` in `size` and handles its input; a double click toggles `maximised`.
pub fn plane_view(
    ui: &mut egui::Ui,
    view: &mut CaseView,
    plane: Plane,
    size: Vec2,
    renderer: &SliceRenderer,
    maximised: &mut Option<Plane>,
) {
    if view.case.modalities[view.display.shown].is_none() {
        return;
    }
    let gpu = renderer.active();
    if !gpu {
        update_texture(ui, view, plane);
    }
    let (response, painter) = ui.allocate_painter(size, Sense::click_and_drag());
    let placed = Placed::new(view, plane, response.rect);
    draw_image(&painter, view, plane, &placed, gpu);
    draw_marks(&painter, view, plane, &placed, &response);
    // The views were drawn above with the state from before this input, so a change asks for one more
    // frame (else the last step of a drag shows only at the next event).
    let before = (shown_state(view), *maximised);
    handle_input(ui, &response, view, plane, &placed, maximised);
    if (shown_state(view), *maximised) != before {
        ui.ctx().request_repaint();
    }
}

/// What the views show of a view's state (a change of it is redrawn at once).
fn shown_state(view: &CaseView) -> impl PartialEq + use<> {
    let n = &view.nav;
    let wl = (view.display.level.to_bits(), view.display.width.to_bits());
    (n.cursor, wl, n.pan, n.zoom.to_bits(), view.overlay.version)
}

/// Renders the slice on the CPU into the plane's texture when what it shows changed.
fn update_texture(ui: &egui::Ui, view: &mut CaseView, plane: Plane) {
    let grid = view.case.grid;
    let map = SliceMap::new(&grid, plane);
    let k = map.pixel(grid.dims, view.nav.cursor).2;
    let key = (plane, k, view.display.clone(), view.overlay.version);
    if view
        .textures
        .get(&plane)
        .is_some_and(|(old, _)| *old == key)
    {
        return;
    }
    let Some(rgba) = view.plane_rgba(plane) else {
        return;
    };
    let (w, h) = map.size(grid.dims);
    let image = egui::ColorImage::from_rgba_unmultiplied([w, h], &rgba);
    let name = format!("slice-{}", plane.name());
    let texture = ui.ctx().load_texture(name, image, TextureOptions::NEAREST);
    view.textures.insert(plane, (key, texture));
}

/// The slice itself: the shader's paint callback, or the CPU texture.
fn draw_image(painter: &egui::Painter, view: &CaseView, plane: Plane, at: &Placed, gpu: bool) {
    painter.rect_filled(at.area, 0.0, Color32::BLACK);
    let clipped = painter.with_clip_rect(at.area);
    if gpu {
        let callback = SliceCallback {
            plane: Plane::ALL.iter().position(|p| *p == plane).unwrap_or(0),
            params: view.slice_params(plane),
            image: at.image,
        };
        clipped.add(egui_wgpu::Callback::new_paint_callback(at.image, callback));
    } else if let Some((_, texture)) = view.textures.get(&plane) {
        let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        clipped.image(texture.id(), at.image, uv, Color32::WHITE);
    }
}

/// The crosshair, the orientation letters, the slice number and, in paint mode, the brush outline.
fn draw_marks(
    painter: &egui::Painter,
    view: &CaseView,
    plane: Plane,
    at: &Placed,
    response: &Response,
) {
    let (col, row, _) = at.map.pixel(at.dims, view.nav.cursor);
    let clip = crosshair(painter, at.area, at.image, (col, row), at.size, 160);
    let area = at.area;
    let font = egui::FontId::proportional(14.0);
    let letter = Color32::from_rgb(230, 200, 60);
    let [l, r, t, b] = plane.edge_letters();
    let c = area.center();
    for (pos, align, text) in [
        (
            Pos2::new(area.left() + 4.0, c.y),
            egui::Align2::LEFT_CENTER,
            l,
        ),
        (
            Pos2::new(area.right() - 4.0, c.y),
            egui::Align2::RIGHT_CENTER,
            r,
        ),
        (
            Pos2::new(c.x, area.top() + 2.0),
            egui::Align2::CENTER_TOP,
            t,
        ),
        (
            Pos2::new(c.x, area.bottom() - 2.0),
            egui::Align2::CENTER_BOTTOM,
            b,
        ),
    ] {
        clip.text(pos, align, text, font.clone(), letter);
    }
    let slices = at.dims[at.map.axes[2]];
    clip.text(
        area.left_top() + Vec2::new(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("{} {}/{slices}", plane.name(), at.k + 1),
        font,
        Color32::LIGHT_GRAY,
    );
    // The brush outline under the pointer in paint mode (radius in mm times screen points per mm).
    if view.edit.painting
        && let Some(pos) = response.hover_pos()
    {
        let radius = (view.edit.brush.radius_mm as f32 * at.scale).max(2.0);
        clip.circle_stroke(pos, radius, Stroke::new(1.0, Color32::WHITE));
    }
}

/// Click or drag moves the cursor (paints in paint mode); right-drag sets window/level; middle-drag
/// pans; a double click maximises the view or restores the grid; the wheel and arrow keys step slices.
fn handle_input(
    ui: &egui::Ui,
    response: &Response,
    view: &mut CaseView,
    plane: Plane,
    at: &Placed,
    maximised: &mut Option<Plane>,
) {
    let painting = view.edit.painting;
    // egui reports a drag only once the pointer has moved a few pixels: a stroke starts where the
    // button went down, not where the drag was recognised.
    if painting
        && response.drag_started_by(egui::PointerButton::Primary)
        && let Some(voxel) = ui
            .input(|i| i.pointer.press_origin())
            .and_then(|p| at.voxel_at(p))
    {
        view.paint(plane, voxel);
    }
    // The release ends the stroke where the pointer was let go (its last move may come in the frame
    // of the release, when egui no longer calls it a drag).
    let released = painting && response.drag_stopped_by(egui::PointerButton::Primary);
    if let Some(voxel) = (ui.input(|i| i.pointer.latest_pos()))
        .filter(|_| released)
        .and_then(|p| at.voxel_at(p))
    {
        view.paint(plane, voxel);
    }
    let primary = response.dragged_by(egui::PointerButton::Primary) || response.clicked();
    if let Some(voxel) = (response.interact_pointer_pos())
        .filter(|_| primary)
        .and_then(|p| at.voxel_at(p))
    {
        if painting {
            view.paint(plane, voxel);
        } else {
            view.nav.cursor = voxel;
        }
    }
    if response.dragged_by(egui::PointerButton::Secondary) {
        view.display.drag_window(response.drag_delta());
    }
    if response.dragged_by(egui::PointerButton::Middle) {
        view.nav.pan += response.drag_delta();
    }
    if response.double_clicked() && !painting {
        *maximised = if *maximised == Some(plane) {
            None
        } else {
            Some(plane)
        };
    }
    if response.hovered() {
        let steps = slice_steps(ui, view);
        if steps != 0 {
            view.nav.step(at.dims, at.map.axes[2], steps);
        }
    }
}

/// The slice steps asked for this frame over a hovered view: one per wheel notch, as in ITK-SNAP (the
/// raw wheel events, not egui's smoothed scrolling, which spreads a notch over frames and stepped five
/// slices per notch; pixel deltas of track pads count one notch per `line_scroll_speed` points), and
/// one per ↑ / ↓.
fn slice_steps(ui: &egui::Ui, view: &mut CaseView) -> isize {
    let line = ui.ctx().options(|o| o.input_options.line_scroll_speed);
    let (notches, up, down) = ui.input(|i| {
        let notches: f32 = (i.events.iter())
            .filter_map(|e| match e {
                egui::Event::MouseWheel { unit, delta, .. } => Some(match unit {
                    egui::MouseWheelUnit::Point => delta.y / line,
                    _ => delta.y,
                }),
                _ => None,
            })
            .sum();
        (
            notches,
            i.key_pressed(egui::Key::ArrowUp),
            i.key_pressed(egui::Key::ArrowDown),
        )
    });
    view.nav.wheel_steps(notches) + up as isize - down as isize
}

/// Draws the crosshair through pixel (col, row) of a `w`×`h` slice shown in `image_rect`, clipped to
/// `area`; returns the clipped painter for what is drawn over it.
pub fn crosshair(
    painter: &egui::Painter,
    area: Rect,
    image_rect: Rect,
    (col, row): (usize, usize),
    (w, h): (usize, usize),
    alpha: u8,
) -> egui::Painter {
    let px = image_rect.min.x + (col as f32 + 0.5) / w as f32 * image_rect.width();
    let py = image_rect.min.y + (row as f32 + 0.5) / h as f32 * image_rect.height();
    let stroke = Stroke::new(1.0, Color32::from_rgba_unmultiplied(80, 160, 255, alpha));
    let clip = painter.with_clip_rect(area);
    clip.line_segment(
        [Pos2::new(area.left(), py), Pos2::new(area.right(), py)],
        stroke,
    );
    clip.line_segment(
        [Pos2::new(px, area.top()), Pos2::new(px, area.bottom())],
        stroke,
    );
    clip
}
