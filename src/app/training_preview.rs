//! The Training page's look at the chosen folder before Start: the cases found (modalities, label map
//! or not), then, on a worker thread, every labelled case read and prepared as the run will
//! (`train::check_cases`): the label classes found and the cases the run would stop at, with why.

use super::training_tab::TrainingTab;
use crate::case::{CaseSource, Profile, find_nifti_cases};
use crate::error::{CloeError, Result};
use crate::model::{CloeConfig, load_config};
use crate::train::{CaseCheck, Manifest, check_cases, default_cache_dir, read_manifest};
use eframe::egui;
use poll_promise::Promise;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The folder looked at, what it holds, and the check of its labelled cases.
#[derive(Default)]
pub struct CasesPreview {
    /// (folder, profile, started-from model) it was made for.
    made_for: Option<(String, Profile, String)>,
    /// A folder made by `cloe prepare`: the run reads its cases as they are, nothing to check.
    prepared: Option<Manifest>,
    found: Option<Result<Vec<CaseSource>>>,
    job: Option<Promise<Result<Vec<CaseCheck>>>>,
    progress: Arc<(AtomicUsize, AtomicUsize)>,
    cancel: Arc<AtomicBool>,
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
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Looks at `folder` again when it, the profile or the started-from model changed.
    fn refresh(&mut self, folder: &str, profile: Profile, init: &str) {
        let key = (folder.to_string(), profile, init.to_string());
        if self.made_for.as_ref() == Some(&key) {
            return;
        }
        self.cancel.store(true, Ordering::Relaxed);
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
            self.cancel = Arc::new(AtomicBool::new(false));
            self.progress = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
            let (progress, cancel) = (self.progress.clone(), self.cancel.clone());
            self.job = Some(crate::guard::spawn("cloe-check-cases", move || {
                let mut report = |done: usize, total: usize| {
                    progress.0.store(done, Ordering::Relaxed);
                    progress.1.store(total, Ordering::Relaxed);
                };
                let cache = default_cache_dir();
                check_cases(&cases, spacing, cache.as_deref(), &mut report, &cancel)
            }));
        }
        self.found = Some(found);
    }
}

impl TrainingTab {
    /// What the chosen folder holds: the cases found, then the check of the labelled ones.
    pub(super) fn preview_ui(&mut self, ui: &mut egui::Ui) {
        let folder = self.data_field.trim().to_string();
        if folder.is_empty() {
            return;
        }
        let profile = self.run_profile();
        let init = self.init_field.trim().to_string();
        let p = &mut self.preview;
        p.refresh(&folder, profile, &init);
        if let Some(job) = p.job.take() {
            match job.try_take() {
                Ok(done) => p.checks = Some(done),
                Err(job) => {
                    p.job = Some(job);
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_millis(200));
                }
            }
        }
        let red = egui::Color32::from_rgb(230, 90, 80);
        if let Some(m) = &p.prepared {
            ui.label(format!(
                "a prepared training set (cloe prepare): {} cases for {} models at {} mm, read as \
                 they are",
                m.cases.len(),
                m.profile,
                m.spacing_mm
            ));
            return;
        }
        let cases = match &p.found {
            Some(Err(e)) => {
                ui.colored_label(red, e.to_string());
                return;
            }
            Some(Ok(cases)) => cases,
            None => return,
        };
        let labelled = cases.iter().filter(|c| c.label.is_some()).count();
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
        match &p.checks {
            None if p.job.is_some() => {
                let (done, total) = (
                    p.progress.0.load(Ordering::Relaxed),
                    p.progress.1.load(Ordering::Relaxed),
                );
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!(
                        "reading and preparing the labelled cases as training will: {done}/{total}"
                    ));
                });
            }
            None => {}
            Some(Err(CloeError::Cancelled)) => {
                ui.weak("the check of the cases stopped when the run started");
            }
            Some(Err(e)) => {
                ui.colored_label(red, format!("checking the cases failed: {e}"));
            }
            Some(Ok(checks)) => {
                let mut classes: Vec<&str> = Vec::new();
                for c in checks.iter().flat_map(|c| &c.classes) {
                    if !classes.contains(&c.as_str()) {
                        classes.push(c);
                    }
                }
                ui.label(format!(
                    "{} labelled cases checked; label classes found: {}",
                    checks.len(),
                    if classes.is_empty() {
                        "none".to_string()
                    } else {
                        classes.join(", ")
                    }
                ));
                for c in checks.iter().filter(|c| c.problem.is_some()) {
                    ui.colored_label(
                        red,
                        format!(
                            "{} would stop the run: {}",
                            c.id,
                            c.problem.as_deref().unwrap_or("")
                        ),
                    );
                }
                for c in checks
                    .iter()
                    .filter(|c| c.problem.is_none() && c.classes.is_empty())
                {
                    ui.label(format!(
                        "{}: its label map is empty (it teaches only background)",
                        c.id
                    ));
                }
            }
        }
    }
}
