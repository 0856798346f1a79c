//! Refine mode, the part of the app that runs it: a toggle beside Paint (once the model has run on the
//! case), and each finished stroke of the set refined on a worker with every stroke so far
//! (`refine::refine_box` on the box the strokes define, cut on the UI thread in a few milliseconds).
//! The result becomes one undo step with the set's strokes; a stroke drawn while a refinement runs
//! makes it start again with every stroke once it ends. A refusal (the strokes cannot be separated)
//! is shown; the strokes stay as painted and nothing else changes.

use super::case_view::CaseView;
use super::job::Job;
use crate::error::Result;
use crate::infer::CaseMaps;
use crate::refine::{BoxInput, RefineInput, RefineOptions, refine_box};
use eframe::egui;
use std::time::Instant;

/// The refinement running, and what the last one said.
#[derive(Default)]
pub struct RefineTool {
    job: Option<Job<(BoxInput, Vec<u8>)>>,
    started: Option<Instant>,
    /// What the last refinement did ("the strokes changed 1234 voxels (0.31 s)") or why it refused.
    pub status: Option<String>,
    pub options: RefineOptions,
}

impl RefineTool {
    /// True while a refinement runs.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Every frame: takes a finished refinement into the labels, and starts one when the set has a
    /// stroke not refined yet.
    pub fn tick(&mut self, ctx: &egui::Context, view: &mut CaseView, maps: Option<&CaseMaps>) {
        if let Some(done) = Job::poll(&mut self.job) {
            // A stroke since it started (ended or still being drawn), a new set or another case.
            let set = &view.edit.set;
            let stale = set.wants_run || set.base.is_none() || view.edit.stroke_active();
            match done {
                _ if stale => {}
                Ok((boxed, _)) if boxed.roi.dims != view.case.grid.dims => {}
                Ok((boxed, refined)) => {
                    view.edit.refined(&mut view.overlay, &boxed, &refined);
                    let secs = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
                    // What the set did to the labels before it: its strokes and what they refined.
                    let changed = (refined.iter().zip(&boxed.current)).filter(|(a, b)| a != b);
                    let n = changed.count();
                    self.status = Some(format!("the strokes changed {n} voxels ({secs:.2} s)"));
                }
                Err(e) => {
                    self.status = Some(format!(
                        "{e} (the strokes stay as painted; Undo removes them)"
                    ))
                }
            }
        }
        if self.job.is_none() && view.edit.set.wants_run {
            view.edit.set.wants_run = false;
            match (maps, self.start(view, maps)) {
                (None, _) => self.status = Some("run the model on the case first".into()),
                (_, Err(e)) => self.status = Some(e.to_string()),
                (_, Ok(())) => {}
            }
        }
        if self.busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(30));
        }
    }

    fn start(&mut self, view: &CaseView, maps: Option<&CaseMaps>) -> Result<()> {
        let (Some(maps), Some(base)) = (maps, view.edit.set.base.as_ref()) else {
            return Ok(());
        };
        let input = RefineInput::new(&view.case, maps);
        let boxed = input.boxed(base, &view.edit.set.scribbles, self.options.margin_mm)?;
        let opts = self.options;
        self.started = Some(Instant::now());
        self.job = Some(Job::spawn("cloe-refine", move |_| {
            let refined = refine_box(&boxed, &opts)?;
            Ok((boxed, refined))
        }));
        Ok(())
    }

    /// The Refine toggle (in the row of Paint).
    pub fn toggle(&mut self, ui: &mut egui::Ui, view: &mut CaseView, ready: bool) {
        let toggle = egui::Button::new("Refine").selected(view.edit.refining);
        let why = "run the model on the case first: the refiner learns from its experts";
        let hover = "strokes of a class (erase: background) correct the segmentation around them; \
                     each set of strokes is one undo step";
        let clicked = (ui.add_enabled(ready, toggle))
            .on_hover_text(hover)
            .on_disabled_hover_text(why)
            .clicked();
        if clicked {
            view.edit.refining = !view.edit.refining;
            view.edit.end_set();
            if view.edit.refining && !view.edit.painting {
                view.start_editing();
            }
        }
        if !view.edit.painting && view.edit.refining {
            view.edit.refining = false;
            view.edit.end_set();
        }
    }

    /// The set's strokes, New set, and what the last refinement said (only in Refine mode).
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &mut CaseView) {
        if !view.edit.refining {
            return;
        }
        ui.horizontal(|ui| {
            let strokes = view.edit.set.scribbles.len();
            ui.weak(format!("refine: {strokes} stroke(s) in this set"));
            if self.busy() {
                ui.spinner();
            }
            if strokes > 0 && ui.button("New set").clicked() {
                view.edit.end_set();
            }
        });
        if let Some(status) = &self.status {
            ui.label(status);
        }
    }
}
