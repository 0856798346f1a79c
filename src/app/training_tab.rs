//! The Training page: fine-tunes a model (or trains one from scratch) on a folder of the site's own
//! labelled cases. Three parts draw themselves: the form, the look at the chosen cases, and the run
//! (progress, ETA, the loss and validation curves). The page never writes over a model folder without
//! being told to, resumes a stopped run, and hands the trained model to the viewer.

use super::training_form::TrainingForm;
use super::training_preview::CasesPreview;
use super::training_run::TrainingRun;
use eframe::egui;
use std::path::PathBuf;

/// The Training page's parts.
#[derive(Default)]
pub struct TrainingTab {
    pub form: TrainingForm,
    /// What the cases folder holds and the check of its labelled cases.
    pub preview: CasesPreview,
    pub run: TrainingRun,
}

impl TrainingTab {
    /// True while a run is going.
    pub fn is_running(&self) -> bool {
        self.run.is_running()
    }

    /// Starts a run with the form's options (the check of the cases stops: the run reads them).
    pub fn start(&mut self) {
        self.preview.stop_checking();
        self.form.run_profile();
        match self.form.options() {
            Ok(opts) => {
                self.run.start(opts, self.form.data_field.trim());
                self.form.replace = false;
            }
            Err(e) => self.run.error = Some(e.to_string()),
        }
    }

    /// Takes in the run's events and its end (every frame, whichever page is shown).
    pub fn poll(&mut self) {
        if let Some(stopped) = self.run.poll() {
            // After a stop, Start continues the run.
            self.form.resume = stopped;
        }
    }

    /// The training page: the form, the cases, Start/Stop, progress and curves. Returns the trained
    /// model's folder when the user asks to use it in the viewer.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<PathBuf> {
        ui.heading("Train or fine-tune CLoE on your own cases");
        let running = self.is_running();
        ui.add_enabled_ui(!running, |ui| self.form.ui(ui));
        let folder = self.form.data_field.trim().to_string();
        let profile = self.form.run_profile();
        let init = self.form.init_field.trim().to_string();
        self.preview.ui(ui, &folder, profile, &init);
        let mut chosen = None;
        ui.horizontal(|ui| {
            if running {
                if ui.button("Stop").clicked() {
                    self.run.stop();
                }
                ui.spinner();
                let r = &self.run;
                ui.label(format!(
                    "step {}/{}, about {:.0} s left",
                    r.step, r.total, r.eta_seconds
                ));
            } else if ui.button("Start training").clicked() {
                self.start();
            }
            if let Some(dir) = self.run.finished.clone().filter(|_| !running)
                && ui.button("Use this model in the viewer").clicked()
            {
                chosen = Some(dir);
            }
        });
        self.run.progress_ui(ui);
        chosen
    }
}
