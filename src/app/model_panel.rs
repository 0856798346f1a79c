//! The model in the viewer: a model folder is loaded, its experts run over the case on a worker thread
//! (with progress and cancel), and each modality toggle re-runs only the fusion path on the cached
//! experts, also off the UI thread. The panel shows the device, the toggles, the gating weights as a bar
//! chart with u and v, and chooses the overlay: fused CLoE labels, one expert, the disagreement map or
//! the REC region map.

use super::CaseView;
use crate::case::{Case, Subset};
use crate::device::{ComputeDevice, DeviceChoice, select};
use crate::error::{CloeError, Result};
use crate::infer::{CaseMaps, Session};
use crate::model::{CloeNet, load_model};
use eframe::egui;
use egui_plot::{Bar, BarChart, Plot};
use poll_promise::Promise;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the overlay shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlaySource {
    /// The case's label map (or a file).
    Labels,
    /// CLoE's fused segmentation.
    Fused,
    /// One expert's own segmentation.
    Expert(usize),
    /// Where the experts disagree.
    Disagreement,
    /// The REC region map r.
    Region,
}

type ExpertsResult = Result<(Session, CaseMaps, f64)>;
type FuseResult = Result<(CaseMaps, f64)>;

enum Job {
    Experts(Box<Promise<ExpertsResult>>),
    Fuse(Box<Promise<FuseResult>>),
}

/// A loaded model and what it computed for the open case.
pub struct ModelState {
    pub dir: PathBuf,
    pub device: ComputeDevice,
    net: CloeNet,
    /// The model on the open case, once its experts have run.
    session: Option<Arc<Mutex<Session>>>,
    job: Option<Job>,
    /// The modalities switched on.
    pub subset: Subset,
    pub maps: Option<CaseMaps>,
    pub source: OverlaySource,
    /// Set when a first inference has finished and not yet been shown.
    first_done: bool,
    /// Counts the maps received (a change of the experts' and the fused labels).
    pub maps_version: u64,
    /// Seconds of the first inference (experts + fusion) and of the last re-fusion.
    pub first_seconds: Option<f64>,
    pub fusion_seconds: Option<f64>,
    progress: Arc<(AtomicUsize, AtomicUsize)>,
    cancel: Arc<AtomicBool>,
}

impl ModelState {
    /// Loads the model in `dir` on the default device.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_on(dir, None)
    }

    /// Loads the model in `dir` on `choice` (`None`: the default device).
    pub fn load_on(dir: &Path, choice: Option<DeviceChoice>) -> Result<Self> {
        let device = select(choice)?;
        let net = load_model(dir, &device.device)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            device,
            subset: Subset::none(net.config().profile),
            net,
            session: None,
            job: None,
            maps: None,
            source: OverlaySource::Labels,
            first_done: false,
            maps_version: 0,
            first_seconds: None,
            fusion_seconds: None,
            progress: Arc::new((AtomicUsize::new(0), AtomicUsize::new(0))),
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The network.
    pub fn net(&self) -> &CloeNet {
        &self.net
    }

    /// True while experts or a fusion are being computed.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Starts the experts of every present modality and the fusion of all of them (the case is
    /// prepared on the worker thread too).
    pub fn start(&mut self, case: &Case) -> Result<()> {
        Session::fits(&self.net, case)?;
        let case = case.clone();
        self.subset = case.available();
        self.maps = None;
        self.session = None;
        self.cancel.store(false, Ordering::Relaxed);
        let (net, device, subset) = (
            self.net.clone(),
            self.device.device.clone(),
            self.subset.clone(),
        );
        let (progress, cancel) = (self.progress.clone(), self.cancel.clone());
        self.job = Some(Job::Experts(Box::new(crate::guard::spawn(
            "cloe-experts",
            move || {
                let t = Instant::now();
                let mut session = Session::new(net, &case, device)?;
                let mut report = |done: usize, total: usize| {
                    progress.0.store(done, Ordering::Relaxed);
                    progress.1.store(total, Ordering::Relaxed);
                };
                let maps = session.segment(&subset, &mut report, &cancel)?;
                Ok((session, maps, t.elapsed().as_secs_f64()))
            },
        ))));
        Ok(())
    }

    /// Re-runs the fusion for the current subset on the cached experts.
    pub fn refuse(&mut self) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let subset = self.subset.clone();
        self.job = Some(Job::Fuse(Box::new(crate::guard::spawn(
            "cloe-fuse",
            move || {
                let t = Instant::now();
                let session = session.lock().map_err(|_| {
                    CloeError::Invalid("the model is unusable after a crash".into())
                })?;
                let maps = session.fuse(&subset, true)?;
                Ok((maps, t.elapsed().as_secs_f64()))
            },
        ))));
    }

    /// Collects a finished job; returns true when new maps arrived.
    pub fn poll(&mut self) -> Result<bool> {
        match self.job.take() {
            Some(Job::Experts(p)) => match (*p).try_take() {
                Ok(r) => {
                    let (session, maps, secs) = r?;
                    self.session = Some(Arc::new(Mutex::new(session)));
                    self.maps = Some(maps);
                    self.maps_version += 1;
                    self.first_seconds = Some(secs);
                    self.first_done = true;
                    // The user ran CLoE: show its segmentation (they can switch back to the labels).
                    if matches!(self.source, OverlaySource::Labels) {
                        self.source = OverlaySource::Fused;
                    }
                    Ok(true)
                }
                Err(p) => {
                    self.job = Some(Job::Experts(Box::new(p)));
                    Ok(false)
                }
            },
            Some(Job::Fuse(p)) => match (*p).try_take() {
                Ok(r) => {
                    let (maps, secs) = r?;
                    self.maps = Some(maps);
                    self.maps_version += 1;
                    self.fusion_seconds = Some(secs);
                    Ok(true)
                }
                Err(p) => {
                    self.job = Some(Job::Fuse(Box::new(p)));
                    Ok(false)
                }
            },
            None => Ok(false),
        }
    }

    /// Puts the chosen overlay into the view.
    pub fn apply_overlay(&self, view: &mut CaseView) {
        let Some(maps) = &self.maps else { return };
        if view.edit.unsaved {
            // The user's edits stay on screen until they are saved or discarded.
            return;
        }
        view.edit.history.clear();
        view.heat = None;
        match self.source {
            OverlaySource::Labels => {
                view.overlay = view.case.label.as_ref().map(|l| l.classes.clone());
                view.overlay_name = "ground truth".into();
            }
            OverlaySource::Fused => {
                view.overlay = Some(maps.classes.clone());
                view.overlay_name = "CLoE".into();
            }
            OverlaySource::Expert(m) => {
                view.overlay = maps.experts.get(m).cloned().flatten();
                view.overlay_name = format!("expert {}", view.case.profile.modality_display()[m]);
            }
            OverlaySource::Disagreement => {
                let max = maps.disagreement.iter().copied().fold(1e-6f32, f32::max);
                view.heat = Some((maps.disagreement.clone(), max));
                view.overlay_name = "disagreement".into();
            }
            OverlaySource::Region => {
                view.heat = Some((maps.region.clone(), 1.0));
                view.overlay_name = "REC region map".into();
            }
        }
        view.overlay_version += 1;
    }
}

/// The model panel (right side): the model folder field, the loaded model and a model waiting for its
/// case to load.
#[derive(Default)]
pub struct ModelPanel {
    pub model: Option<ModelState>,
    /// The model folder field.
    pub field: String,
    /// A model folder to load and run once the case is loaded.
    pub pending: Option<PathBuf>,
    /// The shipped model folder, run on a case of its profile when no other model is chosen (the app
    /// sets it; tests that do not want a model leave it empty).
    pub shipped: Option<PathBuf>,
    /// Show the experts side by side under the main view.
    pub side_by_side: bool,
    pub tiles: super::experts_view::ExpertTiles,
}

impl ModelPanel {
    /// A case was opened: the model waiting for it runs on it, else the loaded model when it fits the
    /// case's profile, else the shipped model when one exists for that profile.
    pub fn case_opened(&mut self, case: &Case) -> Result<()> {
        if let Some(dir) = self.pending.take() {
            return self.use_model(&dir, Some(case));
        }
        if let Some(model) = self.model.as_mut()
            && Session::fits(model.net(), case).is_ok()
        {
            return model.start(case);
        }
        match self.shipped.clone() {
            Some(dir) if dir.join(crate::model::CONFIG_FILE).is_file() => {
                let profile = crate::model::load_config(&dir)?.profile;
                if profile == case.profile {
                    self.use_model(&dir, Some(case))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Loads the model in `dir` as the panel's model and, when a case is open, runs it there.
    pub fn use_model(&mut self, dir: &Path, case: Option<&Case>) -> Result<()> {
        self.field = dir.display().to_string();
        let mut m = ModelState::load(dir)?;
        if let Some(case) = case {
            m.start(case)?;
        }
        self.model = Some(m);
        Ok(())
    }

    /// The panel: load a model, run it, toggle modalities, the gating chart, the overlay source. What
    /// goes wrong is put in `error`.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        view: Option<&mut CaseView>,
        error: &mut Option<String>,
    ) {
        ui.heading("Model");
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.field)
                    .desired_width(170.0)
                    .hint_text("model folder"),
            );
            if ui.button("Load model").clicked() {
                match ModelState::load(Path::new(self.field.trim())) {
                    Ok(m) => self.model = Some(m),
                    Err(e) => *error = Some(e.to_string()),
                }
            }
        });
        let (Some(model), Some(view)) = (self.model.as_mut(), view) else {
            ui.label("Load a model and a case to run CLoE.");
            return;
        };
        match model.poll() {
            Ok(true) => {
                model.apply_overlay(view);
                // A case's first segmentation: the crosshair goes to its largest lesion.
                if std::mem::take(&mut model.first_done) && !view.edit.unsaved {
                    view.measure.jump_when_ready = true;
                }
            }
            Ok(false) => {}
            Err(CloeError::GpuLost) if model.device.is_gpu => {
                // The GPU is gone for this process: the model moves to the CPU and runs again.
                let moved = ModelState::load_on(&model.dir, Some(DeviceChoice::Cpu)).and_then(
                    |mut on_cpu| {
                        on_cpu.start(&view.case)?;
                        *model = on_cpu;
                        Ok(())
                    },
                );
                *error = Some(match moved {
                    Ok(()) => {
                        "the GPU stopped working during the computation (its driver was reset \
                               or the device was removed); the model now runs on the CPU and is \
                               segmenting the case again"
                            .to_string()
                    }
                    Err(e) => e.to_string(),
                });
            }
            Err(e) => *error = Some(e.to_string()),
        }
        ui.label(format!("device: {}", model.device.label));
        if model.busy() {
            let (done, total) = (
                model.progress.0.load(Ordering::Relaxed),
                model.progress.1.load(Ordering::Relaxed),
            );
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(if model.maps.is_none() {
                    format!("experts: window {done}/{total}")
                } else {
                    "re-fusing…".into()
                });
                if ui.button("Cancel").clicked() {
                    model.cancel.store(true, Ordering::Relaxed);
                }
            });
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        } else if model.maps.is_none()
            && ui.button("Run CLoE").clicked()
            && let Err(e) = model.start(&view.case)
        {
            *error = Some(e.to_string());
        }
        if model.maps.is_none() {
            return;
        }
        let names = view.case.profile.modality_display();
        ui.separator();
        ui.label("Modalities used");
        let mut toggled = false;
        for (i, name) in names.iter().enumerate() {
            let present = view.case.modalities[i].is_some();
            ui.add_enabled_ui(present && !model.busy(), |ui| {
                let label = if present {
                    name.to_string()
                } else {
                    format!("{name} (missing)")
                };
                let mut on = model.subset.contains(i);
                if ui.checkbox(&mut on, label).changed() {
                    model.subset = model.subset.with(i, on);
                    toggled = true;
                }
            });
        }
        if toggled {
            if !model.subset.is_empty() {
                model.refuse();
            } else {
                *error = Some("switch on at least one modality".into());
            }
        }
        let Some(maps) = model.maps.as_ref() else {
            return;
        };
        ui.separator();
        ui.label("Gating weights w (u, v beside)");
        let bars: Vec<Bar> = maps
            .w
            .iter()
            .enumerate()
            .map(|(i, &w)| Bar::new(i as f64, w).name(names[i]).width(0.6))
            .collect();
        Plot::new("gating")
            .height(120.0)
            .include_y(0.0)
            .include_y(1.0)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .x_axis_formatter(move |m, _| {
                names
                    .get(m.value.round() as usize)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            })
            .show(ui, |plot| plot.bar_chart(BarChart::new("w", bars)));
        for (i, name) in names.iter().enumerate() {
            if model.subset.contains(i) {
                ui.monospace(format!(
                    "{name:<6} w {:.3}  u {:.3}  v {:.3}",
                    maps.w[i], maps.u[i], maps.v[i]
                ));
            }
        }
        if let Some(d) = maps.mean_disagreement_in_tumour() {
            ui.label(format!("mean disagreement in tumour: {d:.4}"));
        }
        if let (Some(first), Some(f)) = (model.first_seconds, model.fusion_seconds) {
            ui.small(format!(
                "first inference {first:.1} s, last toggle {f:.2} s"
            ));
        }
        ui.separator();
        ui.checkbox(&mut self.side_by_side, "Experts side by side")
            .on_hover_text("a small view per expert and the fused result under the main view");
        ui.label("Overlay");
        if view.edit.unsaved {
            ui.label("Your unsaved edits are shown: save or discard them (left panel) to switch.");
            return;
        }
        let before = model.source;
        ui.radio_value(
            &mut model.source,
            OverlaySource::Labels,
            "ground truth / file",
        );
        ui.radio_value(&mut model.source, OverlaySource::Fused, "CLoE (fused)");
        for (i, name) in names.iter().enumerate() {
            if maps.experts[i].is_some() {
                ui.radio_value(
                    &mut model.source,
                    OverlaySource::Expert(i),
                    format!("expert {name}"),
                );
            }
        }
        ui.radio_value(
            &mut model.source,
            OverlaySource::Disagreement,
            "disagreement",
        );
        ui.radio_value(&mut model.source, OverlaySource::Region, "REC region map");
        if model.source != before {
            model.apply_overlay(view);
        }
    }
}
