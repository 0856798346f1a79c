//! One slice view: the plane's image (drawn by the WGSL shader of `gpu_slices` on the wgpu renderer,
//! else rendered on the CPU through `render` and uploaded as a texture), scaled by the voxel spacing,
//! with the linked crosshair and orientation letters; clicks move the cursor (or paint, with the brush
//! outline shown, in paint mode), the mouse wheel and the arrow keys step through slices.

use super::ViewerApp;
use super::gpu_slices::{GpuSlices, SliceCallback, SliceParams};
use crate::render::{LabelStyle, Plane, SliceMap, blend, blend_heat, slice_values, window_level};
use eframe::{egui, egui_wgpu};
use egui::{Color32, Pos2, Rect, Sense, Stroke, TextureOptions, Vec2};

impl super::CaseView {
    /// The legend: name and colour of each item (regions or training classes), item 1 first.
    pub fn legend(&self) -> Vec<(&'static str, [u8; 3])> {
        let profile = self.case.profile;
        if self.by_region {
            profile
                .regions()
                .iter()
                .map(|r| (r.name, r.colour))
                .collect()
        } else {
            let colours = profile.class_colours();
            profile.classes()[1..]
                .iter()
                .zip(&colours[1..])
                .map(|(n, c)| (*n, *c))
                .collect()
        }
    }

    /// Shows regions or training classes, every item visible.
    pub fn set_by_region(&mut self, by_region: bool) {
        self.by_region = by_region;
        self.visible = vec![true; self.legend().len() + 1];
    }

    /// How the label overlay is drawn now.
    pub fn label_style(&self) -> LabelStyle {
        let profile = self.case.profile;
        if self.by_region {
            let classes = profile.classes().len();
            LabelStyle::regions(profile.regions(), classes, &self.visible, self.outline)
        } else {
            LabelStyle::classes(profile.class_colours(), &self.visible, self.outline)
        }
    }

    /// The pixels of `plane` through the cursor as displayed: window/level, then the heat map or the
    /// visible labels at the chosen opacity (row by row from the top). None when the modality is missing.
    pub fn plane_rgba(&self, plane: Plane) -> Option<Vec<u8>> {
        self.plane_rgba_with(plane, self.overlay.as_deref(), self.heat.as_ref())
    }

    /// [`CaseView::plane_rgba`] with other labels (an expert's, say) or another heat map.
    pub fn plane_rgba_with(
        &self,
        plane: Plane,
        overlay: Option<&[u8]>,
        heat: Option<&(Vec<f32>, f32)>,
    ) -> Option<Vec<u8>> {
        let volume = self.case.modalities[self.shown].as_ref()?;
        let dims = self.case.grid.dims;
        let map = SliceMap::new(&self.case.grid, plane);
        let (_, _, k) = map.pixel(dims, self.cursor);
        let grey = window_level(
            &slice_values(&volume.data, dims, &map, k),
            self.level,
            self.width,
        );
        Some(match heat {
            Some((heat, max)) => blend_heat(
                &grey,
                &slice_values(heat, dims, &map, k),
                *max,
                self.opacity,
            ),
            None => {
                let labels = overlay.map(|o| slice_values(o, dims, &map, k));
                blend(
                    &grey,
                    labels.as_deref(),
                    map.size(dims),
                    &self.label_style(),
                    self.opacity,
                )
            }
        })
    }

    /// What the shader needs to draw `plane` through the cursor exactly as `plane_rgba` does.
    pub fn slice_params(&self, plane: Plane) -> SliceParams {
        let dims = self.case.grid.dims;
        let map = SliceMap::new(&self.case.grid, plane);
        let style = self.label_style();
        let mut colours = [[0u8; 3]; 8];
        for (c, colour) in colours.iter_mut().zip(&style.colours) {
            *c = *colour;
        }
        let mut members = [0u32; 8];
        for (m, member) in members.iter_mut().zip(&style.members) {
            *m = *member;
        }
        SliceParams {
            dims,
            map,
            k: map.pixel(dims, self.cursor).2,
            mode: match (&self.heat, &self.overlay) {
                (Some(_), _) => 2,
                (None, Some(_)) => 1,
                (None, None) => 0,
            },
            outline: self.outline,
            members,
            visible: self
                .visible
                .iter()
                .enumerate()
                .filter(|(l, v)| **v && *l < 8)
                .fold(0, |m, (l, _)| m | 1 << l),
            lo: self.level - self.width / 2.0,
            scale: 255.0 / self.width.max(1e-6),
            opacity: self.opacity,
            heat_max: self.heat.as_ref().map_or(1.0, |h| h.1),
            colours,
        }
    }
}

/// Draws the crosshair through pixel (col, row) of a `w`×`h` slice shown in `image_rect`, clipped to
/// `area`; returns the clipped painter for what is drawn over it.
pub(super) fn crosshair(
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

impl ViewerApp {
    /// True when the slices are drawn by the shader.
    pub fn gpu_active(&self) -> bool {
        self.gpu_slicing && self.gpu.is_some()
    }

    /// Brings the GPU textures up to date with the view (shown modality, labels, heat map).
    pub(super) fn sync_gpu(&mut self) {
        let (Some(rs), Some(view)) = (&self.gpu, &self.view) else {
            return;
        };
        if !self.gpu_slicing {
            return;
        }
        let limit = rs.device.limits().max_texture_dimension_3d as usize;
        if view.case.grid.dims.iter().any(|&d| d > limit) {
            // Too large for a 3-D texture on this adapter: the CPU path draws it.
            self.gpu_slicing = false;
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
        let key = (view.serial, view.shown);
        if g.volume_key != Some(key) {
            if let Some(v) = &view.case.modalities[view.shown] {
                g.set_volume(&rs.device, &rs.queue, dims, &v.data);
            }
            g.volume_key = Some(key);
        }
        let key = (view.serial, view.overlay_version);
        if g.overlay_key != Some(key) {
            let heat = view.heat.as_ref().map(|h| h.0.as_slice());
            let labels = view.overlay.as_deref().filter(|_| heat.is_none());
            g.set_overlay(&rs.device, &rs.queue, dims, labels, heat);
            g.overlay_key = Some(key);
        }
    }

    /// Draws `plane` into `rect` and handles its input.
    pub(super) fn plane_view(&mut self, ui: &mut egui::Ui, plane: Plane, size: Vec2) {
        let Some(view) = self.view.as_mut() else {
            return;
        };
        let grid = view.case.grid;
        let dims = grid.dims;
        let map = SliceMap::new(&grid, plane);
        let (w, h) = map.size(dims);
        let (_, _, k) = map.pixel(dims, view.cursor);
        let key = (
            plane,
            k,
            view.shown,
            view.level.to_bits(),
            view.width.to_bits(),
            view.opacity.to_bits(),
            view.visible.clone(),
            view.outline,
            view.by_region,
            view.overlay_version,
        );
        let gpu = self.gpu_slicing && self.gpu.is_some();
        if view.case.modalities[view.shown].is_none() {
            return;
        }
        if !gpu && view.textures.get(&plane).is_none_or(|(old, _)| *old != key) {
            let Some(rgba) = view.plane_rgba(plane) else {
                return;
            };
            let image = egui::ColorImage::from_rgba_unmultiplied([w, h], &rgba);
            let options = TextureOptions::NEAREST;
            let texture = ui
                .ctx()
                .load_texture(format!("slice-{}", plane.name()), image, options);
            view.textures.insert(plane, (key, texture));
        }
        // Keep the physical aspect: pixel sizes are the voxel spacings of the two screen axes.
        let spacing = grid.spacing();
        let phys = Vec2::new(
            (w as f64 * spacing[map.axes[0]]) as f32,
            (h as f64 * spacing[map.axes[1]]) as f32,
        );
        let scale = (size.x / phys.x).min(size.y / phys.y).max(0.01) * view.zoom;
        let (response, painter) = ui.allocate_painter(size, Sense::click_and_drag());
        let area = response.rect;
        let image_size = phys * scale;
        let image_rect = Rect::from_center_size(area.center() + view.pan, image_size);
        painter.rect_filled(area, 0.0, Color32::BLACK);
        if gpu {
            let callback = SliceCallback {
                plane: Plane::ALL.iter().position(|p| *p == plane).unwrap_or(0),
                params: view.slice_params(plane),
                image: image_rect,
            };
            painter
                .with_clip_rect(area)
                .add(egui_wgpu::Callback::new_paint_callback(
                    image_rect, callback,
                ));
        } else {
            let texture = &view.textures[&plane].1;
            painter.with_clip_rect(area).image(
                texture.id(),
                image_rect,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }

        // Crosshair at the cursor.
        let (col, row, _) = map.pixel(dims, view.cursor);
        let clip = crosshair(&painter, area, image_rect, (col, row), (w, h), 160);
        let [l, r, t, b] = plane.edge_letters();
        let font = egui::FontId::proportional(14.0);
        let letter = Color32::from_rgb(230, 200, 60);
        clip.text(
            Pos2::new(area.left() + 4.0, area.center().y),
            egui::Align2::LEFT_CENTER,
            l,
            font.clone(),
            letter,
        );
        clip.text(
            Pos2::new(area.right() - 4.0, area.center().y),
            egui::Align2::RIGHT_CENTER,
            r,
            font.clone(),
            letter,
        );
        clip.text(
            Pos2::new(area.center().x, area.top() + 2.0),
            egui::Align2::CENTER_TOP,
            t,
            font.clone(),
            letter,
        );
        clip.text(
            Pos2::new(area.center().x, area.bottom() - 2.0),
            egui::Align2::CENTER_BOTTOM,
            b,
            font.clone(),
            letter,
        );
        clip.text(
            area.left_top() + Vec2::new(4.0, 2.0),
            egui::Align2::LEFT_TOP,
            format!("{} {}/{}", plane.name(), k + 1, dims[map.axes[2]]),
            font,
            Color32::LIGHT_GRAY,
        );

        let painting = view.edit.painting;
        // The brush outline under the pointer in paint mode (radius in mm times screen points per mm).
        if view.edit.painting
            && let Some(pos) = response.hover_pos()
        {
            let radius = (view.edit.brush.radius_mm as f32 * scale).max(2.0);
            clip.circle_stroke(pos, radius, Stroke::new(1.0, Color32::WHITE));
        }

        // Input: click or drag moves the cursor (paints in paint mode); the wheel and arrow keys step
        // slices; right-drag sets window/level; a double click maximises the view or restores the grid.
        // The views were drawn above with the state from before this input, so a change asks for one
        // more frame (else the last step of a drag shows only at the next event).
        let shown = |v: &super::CaseView| {
            let wl = (v.level.to_bits(), v.width.to_bits());
            (v.cursor, wl, v.pan, v.zoom.to_bits(), v.overlay_version)
        };
        let before = (shown(view), self.maximised);
        let voxel_at = |pos: egui::Pos2| {
            let c = ((pos.x - image_rect.min.x) / image_rect.width() * w as f32).floor();
            let r = ((pos.y - image_rect.min.y) / image_rect.height() * h as f32).floor();
            (c >= 0.0 && r >= 0.0 && (c as usize) < w && (r as usize) < h)
                .then(|| map.voxel(dims, c as usize, r as usize, k))
        };
        // egui reports a drag only once the pointer has moved a few pixels: a stroke starts where the
        // button went down, not where the drag was recognised.
        if view.edit.painting
            && response.drag_started_by(egui::PointerButton::Primary)
            && let Some(voxel) = ui.input(|i| i.pointer.press_origin()).and_then(voxel_at)
        {
            view.paint(plane, voxel);
        }
        if let Some(voxel) = response
            .interact_pointer_pos()
            .filter(|_| response.dragged_by(egui::PointerButton::Primary) || response.clicked())
            .and_then(voxel_at)
        {
            if view.edit.painting {
                view.paint(plane, voxel);
            } else {
                view.cursor = voxel;
            }
        }
        if response.dragged_by(egui::PointerButton::Secondary) {
            let d = response.drag_delta();
            view.width = (view.width * (1.0 + d.x * 0.005)).max(1e-3);
            view.level -= d.y * view.width * 0.002;
        }
        if response.dragged_by(egui::PointerButton::Middle) {
            view.pan += response.drag_delta();
        }
        if response.double_clicked() && !painting {
            self.maximised = if self.maximised == Some(plane) {
                None
            } else {
                Some(plane)
            };
        }
        if response.hovered() {
            // One wheel notch is one slice, as in ITK-SNAP: the raw wheel events, not egui's smoothed
            // scrolling (which spreads a notch over frames and stepped five slices per notch). Pixel
            // deltas (track pads) count one notch per `line_scroll_speed` points.
            let view = self.view.as_mut().expect("checked above");
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
            view.wheel += notches;
            let wheel_steps = view.wheel.trunc();
            view.wheel -= wheel_steps;
            let step = wheel_steps as isize + up as isize - down as isize;
            if step != 0 {
                let axis = map.axes[2];
                let n = dims[axis] as isize;
                view.cursor[axis] = (view.cursor[axis] as isize + step).clamp(0, n - 1) as usize;
            }
        }
        let view = self.view.as_ref().expect("checked above");
        if (shown(view), self.maximised) != before {
            ui.ctx().request_repaint();
        }
    }
}
