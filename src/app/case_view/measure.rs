//! The measurements panel of the shown segmentation (`metrics::measure_labels`: region volumes, Dice
//! and HD95 against the ground truth, the lesions to jump to). It measures on a worker, once per
//! overlay change and never during a brush stroke (on a BraTS case the volumes and Dice alone took
//! 250 ms, a hitch at the end of every stroke on the UI thread), one worker at a time; the panel keeps
//! the last volumes and Dice until the new figures arrive.

use super::overlay::Overlay;
use crate::app::job::Job;
use crate::case::Case;
use crate::metrics::{LabelMeasures, measure_labels};
use eframe::egui;

/// The measurements of the overlay.
#[derive(Default)]
pub struct Measurements {
    /// The overlay version measured last (None before the first).
    version: Option<u64>,
    job: Option<Job<LabelMeasures>>,
    /// The last figures that arrived.
    pub latest: Option<LabelMeasures>,
    /// True from the start of a measurement until its figures arrive: HD95 and the lesions of
    /// `latest` are then those of older labels and are not shown.
    stale: bool,
    /// The lesion the crosshair went to last (index into the lesions).
    pub lesion: usize,
    /// Jump to the largest lesion as soon as the components are known (set when a model's
    /// segmentation first appears).
    pub jump_when_ready: bool,
}

impl Measurements {
    /// True when the last measurement has arrived and none is running.
    pub fn done(&self) -> bool {
        self.job.is_none() && self.latest.is_some() && !self.stale
    }

    /// The figures of the labels shown now, once they are known.
    pub fn current(&self) -> Option<&LabelMeasures> {
        self.latest.as_ref().filter(|_| !self.stale)
    }

    /// Once per frame: measures `overlay` when it changed since the last time (not during a stroke, not
    /// while a measurement runs) and collects the worker's figures. Returns whether work is pending,
    /// and the voxel to move the crosshair to when a jump to the largest lesion was waiting for them.
    pub fn update(
        &mut self,
        case: &Case,
        overlay: &Overlay,
        stroke_active: bool,
    ) -> (bool, Option<[usize; 3]>) {
        if self.version != Some(overlay.version) && !stroke_active && self.job.is_none() {
            self.start(case, overlay);
        }
        match Job::poll(&mut self.job) {
            Some(Ok(m)) => {
                self.latest = Some(m);
                self.stale = false;
            }
            Some(Err(e)) => log::error!("measuring the segmentation failed: {e}"),
            None => {}
        }
        let mut jump = None;
        // Only on the figures of the labels shown now (a job for older labels may finish first).
        if self.jump_when_ready && self.done() && self.version == Some(overlay.version) {
            self.jump_when_ready = false;
            jump = self.go_to(0);
        }
        let pending = self.job.is_some() || self.version != Some(overlay.version);
        (pending, jump)
    }

    fn start(&mut self, case: &Case, overlay: &Overlay) {
        self.version = Some(overlay.version);
        self.lesion = 0;
        let Some(labels) = overlay.labels.clone() else {
            (self.latest, self.stale, self.job) = (None, false, None);
            return;
        };
        self.stale = true;
        let (profile, grid) = (case.profile, case.grid);
        let truth = (case.label.as_ref())
            .map(|l| l.classes.clone())
            .filter(|t| *t != labels);
        self.job = Some(Job::spawn("measure", move |_| {
            Ok(measure_labels(profile, &grid, &labels, truth.as_deref()))
        }));
    }

    /// The centre of lesion `i` (wrapping), which becomes the current lesion.
    pub fn go_to(&mut self, i: isize) -> Option<[usize; 3]> {
        let lesions = &self.current()?.lesions;
        if lesions.is_empty() {
            return None;
        }
        let i = i.rem_euclid(lesions.len() as isize) as usize;
        let centre = lesions[i].centre;
        self.lesion = i;
        Some(centre)
    }

    /// The panel: volumes, agreement with the ground truth, the lesions with buttons to step through
    /// them. Returns the lesion asked for.
    pub fn ui(&self, ui: &mut egui::Ui, case: &Case, overlay: &Overlay) -> Option<isize> {
        overlay.labels.as_ref()?;
        // Every line is there from the start, "measuring…" until the worker's first figures arrive,
        // so the panel keeps its layout when they do (a button must not move under the pointer).
        let regions = case.profile.regions();
        let row = |values: &[f64], digits: usize| -> String {
            let cells: Vec<String> = (regions.iter().zip(values))
                .map(|(r, v)| format!("{} {v:.digits$}", r.name))
                .collect();
            cells.join(" · ")
        };
        let waiting = || "measuring…".to_string();
        let latest = self.latest.as_ref();
        let volumes = latest.map_or_else(waiting, |m| row(&m.volumes, 1));
        ui.label(format!("Volumes (ml): {volumes}"));
        if case.label.is_some() {
            // Dice and HD95 against the case's own ground truth, on lines of their own.
            let hd95 = self.current().and_then(|m| m.hd95.as_ref());
            let (dice, hd) = match (latest.and_then(|m| m.dice.as_ref()), hd95) {
                (Some(d), Some(h)) => (row(d, 2), row(h, 1)),
                (Some(d), None) => (row(d, 2), waiting()),
                // The ground truth itself is shown.
                (None, _) if self.done() && self.version == Some(overlay.version) => {
                    ("–".into(), "–".into())
                }
                (None, _) => (waiting(), waiting()),
            };
            ui.label(format!("vs ground truth, Dice: {dice}"))
                .on_hover_text("the same Dice and HD95 as cloe eval");
            ui.label(format!("HD95 (mm): {hd}"));
        }
        self.lesions_ui(ui, regions[0].name)
    }

    fn lesions_ui(&self, ui: &mut egui::Ui, outer: &str) -> Option<isize> {
        let count = self.current().map(|m| m.lesions.len());
        let at = self.lesion as isize;
        let mut asked = None;
        ui.horizontal(|ui| match count {
            Some(0) => {
                ui.label(format!("no {outer} component"));
            }
            Some(n) => {
                ui.label(format!("lesion {}/{n}", at + 1))
                    .on_hover_text("connected components, largest first; L / Shift+L step");
                let previous = ui
                    .button("Previous")
                    .on_hover_text("previous lesion (Shift+L)");
                if previous.clicked() {
                    asked = Some(at - 1);
                }
                if ui.button("Go to lesion").clicked() {
                    asked = Some(at);
                }
                if ui.button("Next").on_hover_text("next lesion (L)").clicked() {
                    asked = Some(at + 1);
                }
            }
            None => {
                ui.spinner();
                ui.label("measuring…");
            }
        });
        asked
    }
}
