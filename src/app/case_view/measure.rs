//! What the viewer measures of the shown segmentation, as ITK-SNAP and 3D Slicer do and the same way
//! `cloe eval` does: each region's volume in ml, and against the case's ground truth (when the shown
//! labels are something else) Dice and HD95 per region; its lesions, the connected components of the
//! outermost region largest first, for the crosshair to jump to. All of it runs on a worker thread,
//! once per overlay change (not during a brush stroke; on a BraTS case the volumes and Dice alone took
//! 250 ms, a hitch at the end of every stroke when they ran on the UI thread); the panel keeps the
//! last figures until the new ones arrive.

use super::CaseView;
use crate::metrics::{region_dice, region_scores};
use crate::postprocess::components;
use poll_promise::Promise;

/// What the worker measures (its volumes and Dice move into [`Measurements`] when it arrives).
pub struct Slow {
    /// Volume of each region of the profile in ml.
    pub volumes: Vec<f64>,
    /// Dice per region against the ground truth, when the shown labels are not the ground truth.
    pub dice: Option<Vec<f64>>,
    /// HD95 (mm) per region against the ground truth, when compared.
    pub hd95: Option<Vec<f64>>,
    /// The centres `[x, y, z]` of the outermost region's connected components, largest first, with
    /// their volumes in ml.
    pub lesions: Vec<([usize; 3], f64)>,
}

/// The measurements of one overlay version.
#[derive(Default)]
pub struct Measurements {
    /// The `overlay_version` measured (None before the first).
    version: Option<u64>,
    /// Volume of each region of the profile in ml.
    pub volumes: Vec<f64>,
    /// Dice per region against the ground truth, when the shown labels are not the ground truth.
    pub dice: Option<Vec<f64>>,
    job: Option<Promise<crate::Result<Slow>>>,
    pub slow: Option<Slow>,
    /// The lesion the crosshair went to last (index into `slow.lesions`).
    pub lesion: usize,
    /// Jump to the largest lesion as soon as the components are known (set when a model's
    /// segmentation first appears).
    pub jump_when_ready: bool,
}

impl Measurements {
    /// True when the last measurement has arrived and none is running.
    pub fn done(&self) -> bool {
        self.job.is_none() && self.slow.is_some()
    }

    /// Measures `view`'s overlay when it changed since the last time, no stroke is being painted and
    /// no measurement is running (one worker at a time: quick strokes do not pile up workers that
    /// each compute HD95); collects the worker's result. Returns true while work is pending (repaint).
    pub fn update(view: &mut CaseView) -> bool {
        let changed = view.measure.version != Some(view.overlay_version);
        if changed && !view.edit.stroke_active() && view.measure.job.is_none() {
            let mut m = std::mem::take(&mut view.measure);
            m.start(view);
            view.measure = m;
        }
        let m = &mut view.measure;
        if let Some(job) = m.job.take() {
            match job.try_take() {
                Ok(Ok(mut slow)) => {
                    m.volumes = std::mem::take(&mut slow.volumes);
                    m.dice = slow.dice.take();
                    m.slow = Some(slow);
                }
                Ok(Err(e)) => log::error!("measuring the segmentation failed: {e}"),
                Err(job) => m.job = Some(job),
            }
        }
        // Only on the results of the labels shown now (a job for older labels may finish first).
        if m.jump_when_ready
            && m.slow.is_some()
            && m.job.is_none()
            && m.version == Some(view.overlay_version)
        {
            m.jump_when_ready = false;
            view.go_to_lesion(0);
        }
        view.measure.job.is_some() || view.measure.version != Some(view.overlay_version)
    }

    fn start(&mut self, view: &CaseView) {
        self.version = Some(view.overlay_version);
        self.slow = None;
        self.lesion = 0;
        let case = &view.case;
        let profile = case.profile;
        let Some(labels) = view.overlay.clone() else {
            (self.volumes, self.dice, self.job) = (Vec::new(), None, None);
            return;
        };
        let truth = case.label.as_ref().map(|l| l.classes.clone());
        let grid = case.grid;
        self.job = Some(crate::guard::spawn("measure", move || {
            let (dims, spacing, ml) = (grid.dims, grid.spacing(), grid.voxel_ml());
            let volumes = profile
                .regions()
                .iter()
                .map(|r| labels.iter().filter(|c| r.classes.contains(c)).count() as f64 * ml)
                .collect();
            let truth = truth.filter(|t| *t != labels);
            let dice = truth.as_ref().map(|t| region_dice(profile, &labels, t));
            let hd95 = truth.map(|t| {
                region_scores(profile, &labels, &t, dims, spacing)
                    .into_iter()
                    .map(|(_, hd)| hd)
                    .collect()
            });
            let outer = &profile.regions()[0];
            let mask: Vec<bool> = labels.iter().map(|c| outer.classes.contains(c)).collect();
            Ok(Slow {
                volumes,
                dice,
                hd95,
                lesions: lesions(&mask, dims, ml),
            })
        }));
    }
}

/// The connected components of `mask`, largest first: centre voxel (the component's voxel nearest to
/// its centroid, so the crosshair lands inside it) and volume in ml.
fn lesions(mask: &[bool], dims: [usize; 3], voxel_ml: f64) -> Vec<([usize; 3], f64)> {
    let (labels, sizes) = components(mask, dims);
    let mut sums = vec![[0.0f64; 3]; sizes.len()];
    let xyz = |i: usize| [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])];
    for (i, &l) in labels.iter().enumerate().filter(|(_, l)| **l > 0) {
        let p = xyz(i);
        (0..3).for_each(|a| sums[l as usize][a] += p[a] as f64);
    }
    let centroids: Vec<[f64; 3]> = sums
        .iter()
        .zip(&sizes)
        .map(|(s, &n)| s.map(|v| v / n.max(1) as f64))
        .collect();
    let mut best = vec![(f64::INFINITY, 0usize); sizes.len()];
    for (i, &l) in labels.iter().enumerate().filter(|(_, l)| **l > 0) {
        let (p, c) = (xyz(i), centroids[l as usize]);
        let d: f64 = (0..3).map(|a| (p[a] as f64 - c[a]).powi(2)).sum();
        if d < best[l as usize].0 {
            best[l as usize] = (d, i);
        }
    }
    let mut out: Vec<([usize; 3], f64)> = (1..sizes.len())
        .map(|l| (xyz(best[l].1), sizes[l] as f64 * voxel_ml))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

impl CaseView {
    /// The measurements of the shown labels: volumes, agreement with the ground truth, the lesions.
    pub fn measurements_ui(&mut self, ui: &mut eframe::egui::Ui) {
        let m = &self.measure;
        if self.overlay.is_none() {
            return;
        }
        // Every line is there from the start, "measuring…" until the worker's first figures arrive,
        // so the panel keeps its layout when they do (a button must not move under the pointer).
        let regions = self.case.profile.regions();
        let row = |values: &[f64], digits: usize| -> String {
            let cells: Vec<String> = regions
                .iter()
                .zip(values)
                .map(|(r, v)| format!("{} {v:.digits$}", r.name))
                .collect();
            cells.join(" · ")
        };
        let measured = m.slow.is_some() || !m.volumes.is_empty();
        let current = m.done() && m.version == Some(self.overlay_version);
        let volumes = if measured {
            row(&m.volumes, 1)
        } else {
            "measuring…".into()
        };
        ui.label(format!("Volumes (ml): {volumes}"));
        if self.case.label.is_some() {
            // Dice and HD95 against the case's own ground truth, on lines of their own.
            let (dice, hd) = match (&m.dice, m.slow.as_ref().and_then(|s| s.hd95.as_ref())) {
                (Some(d), Some(h)) => (row(d, 2), row(h, 1)),
                (Some(d), None) => (row(d, 2), "measuring…".into()),
                // The ground truth itself is shown.
                (None, _) if current => ("–".into(), "–".into()),
                (None, _) => ("measuring…".into(), "measuring…".into()),
            };
            ui.label(format!("vs ground truth, Dice: {dice}"))
                .on_hover_text("the same Dice and HD95 as cloe eval");
            ui.label(format!("HD95 (mm): {hd}"));
        }
        let count = m.slow.as_ref().map(|s| s.lesions.len());
        let at = m.lesion;
        ui.horizontal(|ui| match count {
            Some(0) => {
                ui.label(format!("no {} component", regions[0].name));
            }
            Some(n) => {
                ui.label(format!("lesion {}/{n}", at + 1))
                    .on_hover_text("connected components, largest first; L / Shift+L step");
                if ui
                    .button("Previous")
                    .on_hover_text("previous lesion (Shift+L)")
                    .clicked()
                {
                    self.go_to_lesion(at as isize - 1);
                }
                if ui.button("Go to lesion").clicked() {
                    self.go_to_lesion(at as isize);
                }
                if ui.button("Next").on_hover_text("next lesion (L)").clicked() {
                    self.go_to_lesion(at as isize + 1);
                }
            }
            None => {
                ui.spinner();
                ui.label("measuring…");
            }
        });
    }

    /// Moves the crosshair to lesion `i` (wrapping) of the measured segmentation.
    pub fn go_to_lesion(&mut self, i: isize) {
        let Some(slow) = &self.measure.slow else {
            return;
        };
        if slow.lesions.is_empty() {
            return;
        }
        let n = slow.lesions.len() as isize;
        let i = i.rem_euclid(n) as usize;
        self.measure.lesion = i;
        self.cursor = slow.lesions[i].0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesions_largest_first_with_their_centres() {
        // A row of 12: a 2-voxel lesion at 1..3, a 5-voxel lesion at 5..10.
        let mut mask = vec![false; 12];
        for i in [1, 2, 5, 6, 7, 8, 9] {
            mask[i] = true;
        }
        let found = lesions(&mask, [12, 1, 1], 0.5);
        assert_eq!(found, vec![([7, 0, 0], 2.5), ([1, 0, 0], 1.0)]);
    }
}
