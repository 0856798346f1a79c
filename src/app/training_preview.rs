//! The Training page's look at the chosen folder before Start: the cases found (modalities, label map
//! or not), then, on a worker thread, every labelled case read and prepared as the run will
//! (`train::check_cases`): the label classes found and the cases the run would stop at, with why.

use super::job::Job;
use crate::case::{CaseSource, Profile, find_nifti_cases};
use crate::error::{CloeError, Result};
use crate::model::{CloeConfig, load_config};
use crate::train::{CaseCheck, Manifest, check_cases, default_cache_dir, read_manifest};
use eframe::egui;
use std::path::Path;

/// The folder looked at, what it holds, and the check of its labelled cases.
#[derive(Default)]
pub struct CasesPreview {
    /// (folder, profile, started-from model) it was made for.
    made_for: Option<(String, Profile, String)>,
    /// A folder made by `cloe prepare`: the run reads its cases as they are, nothing to check.
    prepared: Option<Manifest>,
    found: Option<Result<Vec<CaseSource>>>,
    job: Option<Job<Vec<CaseCheck>>>,
    /// The checked cases, once the check has finished.
    pub checks: Option<Result<Vec<CaseCheck>>>,
}

impl CasesPreview {
    /// True once the check has run and no case would stop a run.
    pub fn all_usable(&self) -> bool {
        matches!(&self.checks, Some(Ok(c)) if c.iter().all(|c| c.problem.is_none()))
    }

    /// Stops a check that is running (a run is starting and reads the same cases).
    pub fn stop_checking(&self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
    }

    /// Looks at `folder` again when it, the profile or the started-from model changed.
    fn refresh(&mut self, folder: &str, profile: Profile, init: &str) {
        let key = (folder.to_string(), profile, init.to_string());
        if self.made_for.as_ref() == Some(&key) {
            return;
        }
        self.stop_checking();
        self.made_for = Some(key);
        self.checks = None;
        self.job = None;
        self.prepared = read_manifest(Path::new(folder)).ok().flatten();
        if self.prepared.is_some() {
            self.found = None;
            return;
        }
        let found = find_nifti_cases(Path::new(folder), Some(profile));
        if let Ok(cases) = &found {
            let spacing = if init.is_empty() {
                CloeConfig::DEFAULT_SPACING_MM
            } else {
                load_config(Path::new(init))
                    .map_or(CloeConfig::DEFAULT_SPACING_MM, |c| c.spacing_mm)
            };
            let cases = cases.clone();
            self.job = Some(Job::spawn("cloe-check-cases", move |worker| {
                let mut report = |done, total| worker.report(done, total);
                let cache = default_cache_dir();
                check_cases(
                    &cases,
                    spacing,
                    cache.as_deref(),
                    &mut report,
                    worker.cancel_flag(),
                )
            }));
        }
        self.found = Some(found);
    }
}

impl CasesPreview {
    /// What `folder` holds for a run of `profile` starting from `init`: the cases found, then the
    /// check of the labelled ones.
    pub fn ui(&mut self, ui: &mut egui::Ui, folder: &str, profile: Profile, init: &str) {
        if folder.is_empty() {
            return;
        }
        self.refresh(folder, profile, init);
        if let Some(done) = Job::poll(&mut self.job) {
            self.checks = Some(done);
        } else if self.job.is_some() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(200));
        }
        if let Some(m) = &self.prepared {
            ui.label(format!(
                "a prepared training set (cloe prepare): {} cases for {} models at {} mm, read as \
                 they are",
                m.cases.len(),
                m.profile,
                m.spacing_mm
            ));
            return;
        }
        match &self.found {
            Some(Err(e)) => {
                ui.colored_label(RED, e.to_string());
                return;
            }
            Some(Ok(cases)) => found_ui(ui, cases, profile),
            None => return,
        }
        self.checks_ui(ui);
    }

    /// The check's progress, or what it found.
    fn checks_ui(&self, ui: &mut egui::Ui) {
        match &self.checks {
            None => {
                if let Some(job) = &self.job {
                    let (done, total) = job.progress();
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!(
                            "reading and preparing the labelled cases as training will: \
                             {done}/{total}"
                        ));
                    });
                }
            }
            Some(Err(CloeError::Cancelled)) => {
                ui.weak("the check of the cases stopped when the run started");
            }
            Some(Err(e)) => {
                ui.colored_label(RED, format!("checking the cases failed: {e}"));
            }
            Some(Ok(checks)) => checked_ui(ui, checks),
        }
    }
}

const RED: egui::Color32 = egui::Color32::from_rgb(230, 90, 80);

/// The cases found, one line each in a collapsed list under a summary.
fn found_ui(ui: &mut egui::Ui, cases: &[CaseSource], profile: Profile) {
    let labelled = cases.iter().filter(|c| c.is_labelled()).count();
    let head = format!(
        "{} cases found ({profile}): {labelled} with a label map to train and validate on, {} \
         without one (left out)",
        cases.len(),
        cases.len() - labelled
    );
    egui::CollapsingHeader::new(head)
        .id_salt("train-preview")
        .show(ui, |ui| {
            for c in cases {
                let missing = c.missing();
                let mut line = format!("{}: {}", c.id, c.present().join(" "));
                if !missing.is_empty() {
                    line += &format!(" (missing {})", missing.join(" "));
                }
                line += if c.label.is_some() {
                    ", labels"
                } else {
                    ", no label map: left out"
                };
                ui.label(line);
            }
        });
}

/// The label classes found, the cases that would stop a run, the empty label maps.
fn checked_ui(ui: &mut egui::Ui, checks: &[CaseCheck]) {
    let mut classes: Vec<&str> = Vec::new();
    for c in checks.iter().flat_map(|c| &c.classes) {
        if !classes.contains(&c.as_str()) {
            classes.push(c);
        }
    }
    let found = if classes.is_empty() {
        "none".to_string()
    } else {
        classes.join(", ")
    };
    ui.label(format!(
        "{} labelled cases checked; label classes found: {found}",
        checks.len()
    ));
    for c in checks.iter().filter(|c| c.problem.is_some()) {
        let why = c.problem.as_deref().unwrap_or("");
        ui.colored_label(RED, format!("{} would stop the run: {why}", c.id));
    }
    for c in (checks.iter()).filter(|c| c.problem.is_none() && c.classes.is_empty()) {
        ui.label(format!(
            "{}: its label map is empty (it teaches only background)",
            c.id
        ));
    }
}
