//! Where the reader is in a case: the voxel under the crosshair, zoom and pan of the views, and the
//! mouse-wheel travel not yet turned into a slice step.

use eframe::egui::{self, Vec2};

/// The navigation state of a case view.
#[derive(Debug, Clone, PartialEq)]
pub struct Navigation {
    /// Voxel under the crosshair.
    pub cursor: [usize; 3],
    pub zoom: f32,
    pub pan: Vec2,
    /// Mouse-wheel travel not yet turned into a slice step, in wheel notches.
    pub wheel: f32,
}

impl Navigation {
    /// The crosshair in the middle of a grid of `dims`, no zoom or pan.
    pub fn centred(dims: [usize; 3]) -> Self {
        Self {
            cursor: dims.map(|d| d / 2),
            zoom: 1.0,
            pan: Vec2::ZERO,
            wheel: 0.0,
        }
    }

    /// Moves the crosshair `steps` slices along voxel axis `axis` of a grid of `dims` (clamped).
    pub fn step(&mut self, dims: [usize; 3], axis: usize, steps: isize) {
        let n = dims[axis] as isize;
        self.cursor[axis] = (self.cursor[axis] as isize + steps).clamp(0, n - 1) as usize;
    }

    /// Adds wheel travel in notches; returns the whole slice steps it makes (the rest is kept).
    pub fn wheel_steps(&mut self, notches: f32) -> isize {
        self.wheel += notches;
        let whole = self.wheel.trunc();
        self.wheel -= whole;
        whole as isize
    }

    /// Zoom and its reset.
    pub fn zoom_ui(&mut self, ui: &mut egui::Ui) {
        ui.label("Zoom (middle-drag pans)");
        ui.add(
            egui::Slider::new(&mut self.zoom, 0.5..=8.0)
                .logarithmic(true)
                .text("zoom"),
        );
        if ui.button("Reset view").clicked() {
            self.zoom = 1.0;
            self.pan = Vec2::ZERO;
        }
    }
}
