//! The training tab: fine-tunes a model (or trains one from scratch) on a folder of the site's own
//! labelled cases with the library's one training loop (`train::train`) on a worker thread. The tab shows
//! the device, progress with ETA, the loss curve and the validation Dice, stops with a checkpoint on
//! request, resumes a stopped run, never writes over a model folder without being told to, and hands the
//! trained model to the viewer.

use super::ViewerApp;
use super::training_preview::CasesPreview;
use crate::case::{Profile, find_nifti_cases};
use crate::device::DeviceChoice;
use crate::error::{CloeError, Result};
use crate::model::{CloeConfig, load_config};
use crate::train::{TrainEvent, TrainOptions, TrainSummary, train};
use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use poll_promise::Promise;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

/// A run in progress.
struct Run {
    events: Receiver<TrainEvent>,
    result: Promise<Result<TrainSummary>>,
    cancel: Arc<AtomicBool>,
    out: PathBuf,
}

/// What the training tab holds: the form, the run in progress and what it reported.
pub struct TrainingTab {
    /// Folder of labelled cases.
    pub data_field: String,
    /// Model folder to write.
    pub out_field: String,
    /// Model folder to start from (empty: random weights).
    pub init_field: String,
    /// Profile of a model trained from scratch (a started-from model brings its own).
    pub profile: Profile,
    /// The profile follows the cases folder (what its file names say) until the user picks one.
    pub profile_from_cases: bool,
    pub iterations: usize,
    pub batch: usize,
    pub lr: f64,
    pub val_fraction: f64,
    pub device: DeviceChoice,
    /// Continue the stopped run in the output folder.
    pub resume: bool,
    /// The user agreed to replace the model already in the output folder.
    pub replace: bool,
    run: Option<Run>,
    /// What the last run said: device and cases, the end, or what went wrong.
    pub status: Vec<String>,
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
    /// What the cases folder holds and the check of its labelled cases.
    pub preview: CasesPreview,
    /// The profile of the started-from model folder.
    init_profile: Option<(String, Profile)>,
    /// The profile the cases folder's file names say (None: mixed, unknown or unreadable).
    detected: Option<(String, Option<Profile>)>,
}

impl Default for TrainingTab {
    fn default() -> Self {
        Self {
            data_field: String::new(),
            out_field: String::new(),
            init_field: String::new(),
            profile: Profile::Brats,
            profile_from_cases: true,
            iterations: TrainOptions::DEFAULT_ITERATIONS,
            batch: TrainOptions::DEFAULT_BATCH,
            lr: TrainOptions::DEFAULT_LR,
            val_fraction: TrainOptions::DEFAULT_VAL_FRACTION,
            device: DeviceChoice::Auto,
            resume: false,
            replace: false,
            run: None,
            status: Vec::new(),
            error: None,
            losses: Vec::new(),
            validation: Vec::new(),
            step: 0,
            total: 0,
            eta_seconds: 0.0,
            finished: None,
            preview: CasesPreview::default(),
            init_profile: None,
            detected: None,
        }
    }
}

impl TrainingTab {
    /// The profile a run would train: the started-from model's (read once per folder), else the form's.
    pub(super) fn run_profile(&mut self) -> Profile {
        let init = self.init_field.trim().to_string();
        if init.is_empty() {
            if self.profile_from_cases
                && let Some(p) = self.detected_profile()
            {
                self.profile = p;
            }
            return self.profile;
        }
        if self.init_profile.as_ref().is_none_or(|(f, _)| *f != init) {
            let p = load_config(Path::new(&init)).map_or(self.profile, |c| c.profile);
            self.init_profile = Some((init, p));
        }
        self.init_profile.as_ref().map_or(self.profile, |(_, p)| *p)
    }

    /// The one profile the cases folder's file names name (looked at once per folder); None when
    /// they name none, or several.
    fn detected_profile(&mut self) -> Option<Profile> {
        let folder = self.data_field.trim().to_string();
        if folder.is_empty() {
            return None;
        }
        if self.detected.as_ref().is_none_or(|(f, _)| *f != folder) {
            let found = find_nifti_cases(Path::new(&folder), None).unwrap_or_default();
            let mut named = found
                .iter()
                .filter(|c| !c.profile_guessed)
                .map(|c| c.profile);
            let first = named.next();
            let one = first.filter(|p| named.all(|q| q == *p));
            self.detected = Some((folder, one));
        }
        self.detected.as_ref().and_then(|(_, p)| *p)
    }

    /// True while a run is going.
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// Asks the run to stop after its current step (it writes a checkpoint).
    pub fn stop(&self) {
        if let Some(run) = &self.run {
            run.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// The options of the form, checked: the data folder exists, and the library's own checks
    /// (`TrainOptions::check`: an existing model is only replaced when agreed, the started-from model
    /// is not the one being written). Every setting the form does not show keeps its default.
    pub fn options(&self) -> Result<TrainOptions> {
        let field = |s: &str| PathBuf::from(s.trim());
        let (data, out) = (field(&self.data_field), field(&self.out_field));
        if !data.is_dir() {
            return Err(CloeError::Invalid(format!(
                "the data folder '{}' does not exist: choose the folder of your labelled cases",
                data.display()
            )));
        }
        if out.as_os_str().is_empty() {
            return Err(CloeError::Invalid(
                "choose a model folder to write the trained model to".into(),
            ));
        }
        let init = (!self.init_field.trim().is_empty()).then(|| field(&self.init_field));
        let config = match &init {
            Some(dir) => load_config(dir)?,
            None => CloeConfig::for_profile(self.profile),
        };
        let mut o = TrainOptions::new(data, out, config.profile);
        o.config = config;
        o.init = init;
        o.iterations = self.iterations;
        o.batch = self.batch;
        o.lr = self.lr;
        o.val_fraction = self.val_fraction;
        o.device = self.device;
        o.resume = self.resume;
        o.replace = self.replace;
        o.check()?;
        Ok(o)
    }

    /// Starts a run with the form's options on a worker thread.
    pub fn start(&mut self) {
        self.error = None;
        self.preview.stop_checking();
        self.run_profile();
        let opts = match self.options() {
            Ok(o) => o,
            Err(e) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = cancel.clone();
        let out = opts.out_dir.clone();
        let result = crate::guard::spawn("train", move || {
            train(&opts, &mut |e| drop(tx.send(e)), &stop)
        });
        self.status = vec![format!(
            "starting: reading the cases of {}",
            self.data_field
        )];
        self.losses.clear();
        self.validation.clear();
        self.finished = None;
        self.replace = false;
        self.run = Some(Run {
            events: rx,
            result,
            cancel,
            out,
        });
    }

    /// Takes in the run's events and its end.
    pub fn poll(&mut self) {
        let Some(Run {
            events,
            result,
            cancel,
            out,
        }) = self.run.take()
        else {
            return;
        };
        // The end first, then the events: every event of an ended run is in the channel by then.
        let end = result.try_take();
        let arrived: Vec<TrainEvent> = events.try_iter().collect();
        for e in arrived {
            self.take(e);
        }
        match end {
            Err(result) => {
                self.run = Some(Run {
                    events,
                    result,
                    cancel,
                    out,
                })
            }
            Ok(Ok(s)) => {
                self.status.push(if s.cancelled {
                    format!(
                        "stopped at step {} after {:.0} s; the checkpoint is in {} (Start goes on from there)",
                        s.steps,
                        s.seconds,
                        out.display()
                    )
                } else {
                    format!(
                        "finished: {} steps in {:.0} s on {}{}",
                        s.steps,
                        s.seconds,
                        s.device,
                        s.best_score
                            .map(|b| format!("; best validation Dice {b:.3}"))
                            .unwrap_or_default()
                    )
                });
                // After a stop, Start continues the run.
                self.resume = s.cancelled;
                self.finished = Some(out);
            }
            Ok(Err(e)) => self.error = Some(e.to_string()),
        }
    }

    fn take(&mut self, e: TrainEvent) {
        match e {
            TrainEvent::Ready {
                train,
                val,
                device,
                note,
                start_step,
            } => {
                self.status = vec![format!(
                    "{device}: training on {} cases, validating on {} ({}){}",
                    train.len(),
                    val.len(),
                    val.join(", "),
                    if start_step > 0 {
                        format!(", resumed at step {start_step}")
                    } else {
                        String::new()
                    }
                )];
                self.status.extend(note);
                self.step = start_step;
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
}

impl TrainingTab {
    /// The training page: the form, Start/Stop, progress, status and curves. Returns the trained model's
    /// folder when the user asks to use it in the viewer.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<PathBuf> {
        ui.heading("Train or fine-tune CLoE on your own cases");
        let running = self.is_running();
        let mut chosen = None;
        ui.add_enabled_ui(!running, |ui| form(ui, self));
        self.preview_ui(ui);
        ui.horizontal(|ui| {
            if running {
                if ui.button("Stop").clicked() {
                    self.stop();
                }
                ui.spinner();
                ui.label(format!(
                    "step {}/{}, about {:.0} s left",
                    self.step, self.total, self.eta_seconds
                ));
            } else if ui.button("Start training").clicked() {
                self.start();
            }
            if let Some(dir) = self.finished.clone().filter(|_| !running)
                && ui.button("Use this model in the viewer").clicked()
            {
                chosen = Some(dir);
            }
        });
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
        chosen
    }
}

impl ViewerApp {
    /// Loads the trained model in `dir` as the viewer's model, runs it on the open case and shows the
    /// viewer.
    pub fn use_trained_model(&mut self, dir: &Path) {
        let case = self.view.as_ref().map(|v| &v.case);
        match self.models.use_model(dir, case) {
            Ok(()) => self.page = super::Page::Viewer,
            Err(e) => self.training.error = Some(e.to_string()),
        }
    }
}

/// The form: folders, starting model, steps and the optimiser's numbers.
fn form(ui: &mut egui::Ui, tab: &mut TrainingTab) {
    egui::Grid::new("training-form")
        .num_columns(2)
        .show(ui, |ui| {
            let folder = |ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str| {
                let name = ui.label(label);
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(text)
                            .desired_width(380.0)
                            .hint_text(hint),
                    )
                    .labelled_by(name.id);
                    if ui.button("…").on_hover_text("choose a folder").clicked()
                        && let Some(p) = rfd::FileDialog::new().pick_folder()
                    {
                        *text = p.display().to_string();
                    }
                });
                ui.end_row();
            };
            folder(ui, "Cases", &mut tab.data_field, "folder of labelled cases");
            folder(
                ui,
                "Start from",
                &mut tab.init_field,
                "model folder (empty: random weights)",
            );
            folder(ui, "Write to", &mut tab.out_field, "new model folder");
            let name = ui.label("Profile");
            let from_model = !tab.init_field.trim().is_empty();
            ui.add_enabled_ui(!from_model, |ui| {
                egui::ComboBox::from_id_salt("train-profile")
                    .selected_text(if from_model {
                        "the model's".to_string()
                    } else if tab.profile_from_cases {
                        format!("{} (the cases')", tab.profile)
                    } else {
                        tab.profile.to_string()
                    })
                    .show_ui(ui, |ui| {
                        for p in Profile::ALL {
                            if ui
                                .selectable_value(&mut tab.profile, p, p.to_string())
                                .clicked()
                            {
                                tab.profile_from_cases = false;
                            }
                        }
                    })
                    .response
                    .labelled_by(name.id)
                    .on_hover_text(
                        "follows the cases' file names until you pick one; a model you start \
                         from brings its own",
                    );
            });
            ui.end_row();
            let name = ui.label("Steps");
            ui.add(egui::DragValue::new(&mut tab.iterations).range(1..=100_000))
                .labelled_by(name.id);
            ui.end_row();
            let name = ui.label("Patches per step");
            ui.add(egui::DragValue::new(&mut tab.batch).range(1..=16))
                .labelled_by(name.id);
            ui.end_row();
            let name = ui.label("Learning rate");
            ui.add(
                egui::DragValue::new(&mut tab.lr)
                    .range(1e-6..=1e-2)
                    .speed(1e-5)
                    .max_decimals(6),
            )
            .labelled_by(name.id);
            ui.end_row();
            let name = ui.label("Validation share");
            ui.add(egui::Slider::new(&mut tab.val_fraction, 0.0..=0.5))
                .labelled_by(name.id);
            ui.end_row();
            let name = ui.label("Device");
            egui::ComboBox::from_id_salt("train-device")
                .selected_text(format!("{:?}", tab.device).to_lowercase())
                .show_ui(ui, |ui| {
                    for d in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Gpu] {
                        ui.selectable_value(&mut tab.device, d, format!("{d:?}").to_lowercase());
                    }
                })
                .response
                .labelled_by(name.id);
            ui.end_row();
        });
    ui.horizontal(|ui| {
        ui.checkbox(&mut tab.resume, "resume")
            .on_hover_text("continue the stopped run in the output folder from its checkpoint");
        ui.checkbox(&mut tab.replace, "replace it")
            .on_hover_text("replace the model already in the output folder");
    });
}

/// The loss per step (a 20-step running mean) and the validation Dice.
fn curves(ui: &mut egui::Ui, tab: &TrainingTab) {
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
