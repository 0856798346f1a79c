//! A training run of the Training page: the library's one training loop (`train::train`) as a job whose
//! events come back over a channel, and what it reported: status lines, step and ETA, the loss and
//! validation curves, the model folder it ended with. Stop asks the loop to stop with a checkpoint.

use super::job::Job;
use crate::error::Result;
use crate::train::{TrainEvent, TrainOptions, TrainSummary, train};
use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};

/// A run in progress: the job, its events and the model folder it writes.
struct Running {
    job: Job<TrainSummary>,
    events: Receiver<TrainEvent>,
    out: PathBuf,
}

/// The run and what it reported.
#[derive(Default)]
pub struct TrainingRun {
    running: Option<Running>,
    /// What the last run said: device and cases, the end.
    pub status: Vec<String>,
    /// What went wrong (a form that does not check, a failed run).
    pub error: Option<String>,
    /// (step, total loss, fused segmentation loss) of every step that read its losses back.
    pub losses: Vec<[f64; 3]>,
    /// (step, validation Dice).
    pub validation: Vec<[f64; 2]>,
    pub step: usize,
    pub total: usize,
    pub eta_seconds: f64,
    /// The model folder of the last run that ended with a model.
    pub finished: Option<PathBuf>,
}

impl TrainingRun {
    /// True while a run is going.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Asks the run to stop after its current step (it writes a checkpoint).
    pub fn stop(&self) {
        if let Some(r) = &self.running {
            r.job.cancel();
        }
    }

    /// Starts `opts` on a worker thread.
    pub fn start(&mut self, opts: TrainOptions, data_field: &str) {
        let (tx, events) = channel();
        let out = opts.out_dir.clone();
        let job = Job::spawn("train", move |worker| {
            train(&opts, &mut |e| drop(tx.send(e)), worker.cancel_flag())
        });
        self.status = vec![format!("starting: reading the cases of {data_field}")];
        self.error = None;
        self.losses.clear();
        self.validation.clear();
        self.finished = None;
        self.running = Some(Running { job, events, out });
    }

    /// Takes in the run's events and its end; when a run ended with a model this frame, returns whether
    /// it stopped on request (Start then resumes it).
    pub fn poll(&mut self) -> Option<bool> {
        let Running { job, events, out } = self.running.take()?;
        // The end first, then the events: every event of an ended run is in the channel by then.
        let mut slot = Some(job);
        let end = Job::poll(&mut slot);
        for e in events.try_iter().collect::<Vec<_>>() {
            self.take(e);
        }
        match end {
            None => {
                let job = slot.expect("a running job stays in its slot");
                self.running = Some(Running { job, events, out });
                None
            }
            Some(result) => self.ended(result, out),
        }
    }

    fn ended(&mut self, result: Result<TrainSummary>, out: PathBuf) -> Option<bool> {
        let s = match result {
            Ok(s) => s,
            Err(e) => {
                self.error = Some(e.to_string());
                return None;
            }
        };
        self.status.push(if s.cancelled {
            format!(
                "stopped at step {} after {:.0} s; the checkpoint is in {} (Start goes on from there)",
                s.steps,
                s.seconds,
                out.display()
            )
        } else {
            let best = s.best_score.map(|b| format!("; best validation Dice {b:.3}"));
            format!(
                "finished: {} steps in {:.0} s on {}{}",
                s.steps,
                s.seconds,
                s.device,
                best.unwrap_or_default()
            )
        });
        self.finished = Some(out);
        Some(s.cancelled)
    }

    fn take(&mut self, e: TrainEvent) {
        match e {
            TrainEvent::Ready(ready) => {
                self.status = vec![ready.to_string()];
                self.status.extend(ready.note);
                self.step = ready.start_step;
            }
            TrainEvent::Step {
                step,
                total,
                losses,
                eta_seconds,
                ..
            } => {
                (self.step, self.total, self.eta_seconds) = (step, total, eta_seconds);
                if let Some(losses) = losses {
                    self.losses.push([step as f64, losses.total, losses.seg]);
                }
            }
            TrainEvent::Validated {
                step, validation, ..
            } => self.validation.push([step as f64, validation.score]),
            TrainEvent::Checkpoint { .. } => {}
        }
    }

    /// The progress bar, the status lines and what went wrong.
    pub fn progress_ui(&self, ui: &mut egui::Ui) {
        if self.total > 0 {
            ui.add(
                egui::ProgressBar::new(self.step as f32 / self.total as f32)
                    .text(format!("{}/{}", self.step, self.total)),
            );
        }
        for line in &self.status {
            ui.label(line);
        }
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(230, 90, 80), e);
        }
        curves(ui, self);
    }
}

/// The loss per step (a 20-step running mean) and the validation Dice.
fn curves(ui: &mut egui::Ui, tab: &TrainingRun) {
    if tab.losses.is_empty() {
        return;
    }
    let mean = |col: usize| -> PlotPoints<'static> {
        let w = 20usize;
        (0..tab.losses.len())
            .map(|i| {
                let from = i.saturating_sub(w - 1);
                let part = &tab.losses[from..=i];
                let m = part.iter().map(|r| r[col]).sum::<f64>() / part.len() as f64;
                [tab.losses[i][0], m]
            })
            .collect()
    };
    let height = (ui.available_height() / 2.0 - 10.0).max(120.0);
    ui.label("loss (running mean of 20 steps): total and fused segmentation");
    Plot::new("train-loss")
        .legend(Legend::default())
        .height(height)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.line(Line::new("total", mean(1)));
            plot.line(Line::new("segmentation", mean(2)));
        });
    if !tab.validation.is_empty() {
        ui.label("validation Dice (mean over regions and modality subsets)");
        Plot::new("train-validation")
            .height(height)
            .allow_scroll(false)
            .include_y(0.0)
            .include_y(1.0)
            .show(ui, |plot| {
                plot.line(Line::new("validation", tab.validation.clone()));
                plot.points(Points::new("", tab.validation.clone()).radius(3.0));
            });
    }
}
