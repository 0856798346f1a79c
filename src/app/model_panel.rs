//! The model in the viewer: a model folder is loaded, its experts run over the case on a worker thread
//! (with progress and cancel; a first look at the case is shown once the windows that cover it once
//! are in), and each modality toggle re-runs only the fusion path on the cached experts, also off the
//! UI thread. The panel shows the device, the toggles, the gating weights as a bar chart with u and v,
//! and chooses the overlay: fused CLoE labels, one expert, the disagreement map or the REC region map.

use super::case_view::{CaseView, HeatMap};
use super::fusion_ahead::FusionAhead;
use super::gating_chart::gating_chart;
use super::job::Job;
use super::model_controls::{modality_toggles, overlay_choice, run_row};
use crate::case::{Case, Subset};
use crate::device::{ComputeDevice, DeviceChoice, Measure, select_with};
use crate::error::{CloeError, Result};
use crate::infer::{CaseMaps, Session};
use crate::model::{CloeNet, load_model};
use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
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

/// A model's first run on a case, computed ahead of time (the next case of a worklist).
pub struct FirstRun {
    /// The model's folder.
    pub dir: PathBuf,
    pub session: Session,
    pub maps: CaseMaps,
    pub seconds: f64,
}

/// The model's work on the open case: its experts (and the first fusion), or a re-fusion.
enum Work {
    Experts(Box<Job<(Session, CaseMaps, f64)>>, FirstLook),
    Fuse(Box<Job<(CaseMaps, f64)>>, FirstLook),
}

/// Where the worker puts its first look at the case (the fusion of the windows that cover it once)
/// and the seconds it took, for the UI thread to take.
type FirstLook = Arc<Mutex<Option<(CaseMaps, f64)>>>;

/// What the worker calls with its first look and the instant its work started.
fn first_look_slot(look: &FirstLook) -> impl FnMut(CaseMaps, &Instant) + Send + 'static {
    let slot = look.clone();
    move |maps, start| {
        let seconds = start.elapsed().as_secs_f64();
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some((maps, seconds));
    }
}

/// Polls `job`: the job while it runs, its result once it ended, and the first look its worker left
/// since the last poll.
#[allow(clippy::type_complexity)]
fn poll_with_look<T: Send + 'static>(
    job: Job<T>,
    look: &FirstLook,
) -> (
    Option<Box<Job<T>>>,
    Option<Result<T>>,
    Option<(CaseMaps, f64)>,
) {
    let mut slot = Some(job);
    let done = Job::poll(&mut slot);
    let first = look.lock().unwrap_or_else(PoisonError::into_inner).take();
    (slot.map(Box::new), done, first)
}

/// A loaded model and what it computed for the open case.
pub struct ModelState {
    pub dir: PathBuf,
    pub device: ComputeDevice,
    net: CloeNet,
    /// The model on the open case, once its experts have run.
    /// (Shared without a lock: fusions take it by reference, so a toggle never waits for the
    /// fusions ahead, which stop at their next window.)
    session: Option<Arc<Session>>,
    work: Option<Work>,
    /// The subsets one switch away from the one shown, fused while the reader looks.
    ahead: FusionAhead,
    /// The modalities switched on.
    pub subset: Subset,
    pub maps: Option<CaseMaps>,
    /// The first look of the work running (the first inference, or a toggle's fusion): the fusion of
    /// the windows that cover the case once, shown while the remaining windows run. Only the fused
    /// overlay and the REC map show it; `maps` holds results only (none yet at the first inference).
    pub preview: Option<CaseMaps>,
    pub source: OverlaySource,
    /// Set when a first inference has finished and not yet been shown.
    first_done: bool,
    /// Maps taken from a run made ahead of time, not yet put into the view.
    adopted: bool,
    /// Counts the maps received (a change of the experts' and the fused labels).
    pub maps_version: u64,
    /// Seconds of the first inference (experts + fusion), of the last first look (the first
    /// inference's, or the last toggle's), and of the last re-fusion.
    pub first_seconds: Option<f64>,
    pub preview_seconds: Option<f64>,
    pub fusion_seconds: Option<f64>,
}

impl ModelState {
    /// Loads the model in `dir` on the default device.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_on(dir, None)
    }

    /// Loads the model in `dir` on `choice` (`None`: the default device).
    pub fn load_on(dir: &Path, choice: Option<DeviceChoice>) -> Result<Self> {
        // `auto` without figures for this machine measures in the background: the app stays usable.
        let device = select_with(choice, Measure::InBackground)?;
        let net = load_model(dir, &device.device)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            device,
            subset: Subset::none(net.config().profile),
            net,
            session: None,
            work: None,
            ahead: FusionAhead::default(),
            maps: None,
            preview: None,
            source: OverlaySource::Labels,
            first_done: false,
            adopted: false,
            maps_version: 0,
            first_seconds: None,
            preview_seconds: None,
            fusion_seconds: None,
        })
    }

    /// The model's name, as a DICOM SEG names the algorithm: its folder's name.
    pub fn name(&self) -> String {
        crate::model::model_name(&self.dir)
    }

    /// The network.
    pub fn net(&self) -> &CloeNet {
        &self.net
    }

    /// True while experts or a fusion are being computed.
    pub fn busy(&self) -> bool {
        self.work.is_some()
    }

    /// Starts the experts of every present modality and the fusion of all of them (the case is
    /// prepared on the worker thread too).
    pub fn start(&mut self, case: &Case) -> Result<()> {
        Session::fits(&self.net, case)?;
        let case = case.clone();
        self.subset = case.available();
        (self.maps, self.preview, self.preview_seconds) = (None, None, None);
        self.ahead.cancel();
        self.session = None;
        let (net, device, subset) = (
            self.net.clone(),
            self.device.device.clone(),
            self.subset.clone(),
        );
        let look = FirstLook::default();
        let mut put = first_look_slot(&look);
        let job = Job::spawn("cloe-experts", move |worker| {
            let t = Instant::now();
            let mut session = Session::new(net, &case, device)?;
            let mut report = |done, total| worker.report(done, total);
            let mut preview = |maps| put(maps, &t);
            let cancel = worker.cancel_flag();
            let look = Some(&mut preview as &mut dyn FnMut(CaseMaps));
            let maps = session.segment_previewed(&subset, &mut report, cancel, look)?;
            crate::allocator::hand_back();
            Ok((session, maps, t.elapsed().as_secs_f64()))
        });
        self.work = Some(Work::Experts(Box::new(job), look));
        Ok(())
    }

    /// Takes a first run made ahead of time on `case` (by this model: the caller checks the folder).
    pub fn adopt(&mut self, case: &Case, run: FirstRun) {
        if let Some(Work::Experts(job, _)) = self.work.take() {
            job.cancel();
        }
        self.preview = None;
        self.subset = case.available();
        self.experts_done(run.session, run.maps, run.seconds);
        self.adopted = true;
    }

    /// What a prefetch needs to run this model on another case.
    pub fn prefetch_model(&self) -> super::opening::PrefetchModel {
        super::opening::PrefetchModel {
            dir: self.dir.clone(),
            net: self.net.clone(),
            device: self.device.device.clone(),
        }
    }

    /// Re-runs the fusion for the current subset on the cached experts.
    pub fn refuse(&mut self) {
        let Some(session) = self.session.clone() else {
            return;
        };
        // The reader's toggle first: what was fused ahead stops at its next window.
        self.ahead.cancel();
        self.preview_seconds = None;
        let subset = self.subset.clone();
        let look = FirstLook::default();
        let mut preview = first_look_slot(&look);
        let job = Job::spawn("cloe-fuse", move |_| {
            let t = Instant::now();
            let mut look = |maps| preview(maps, &t);
            let maps = session.fuse_previewed(&subset, true, Some(&mut look))?;
            Ok((maps, t.elapsed().as_secs_f64()))
        });
        self.work = Some(Work::Fuse(Box::new(job), look));
    }

    /// Collects finished work; returns true when new maps arrived (a first look included, or maps
    /// adopted).
    pub fn poll(&mut self) -> Result<bool> {
        if std::mem::take(&mut self.adopted) {
            return Ok(true);
        }
        self.ahead.collect();
        let (done, looked) = match self.work.take() {
            Some(Work::Experts(job, look)) => {
                let (job, done, first) = poll_with_look(*job, &look);
                self.work = job.map(|j| Work::Experts(j, look));
                let looked = first.map(|(maps, secs)| {
                    self.first_done = true;
                    self.show_fused();
                    self.first_look(maps, secs);
                });
                let done = done.map(|r| r.map(|(s, maps, secs)| self.experts_done(s, maps, secs)));
                (done, looked.is_some())
            }
            Some(Work::Fuse(job, look)) => {
                let (job, done, first) = poll_with_look(*job, &look);
                self.work = job.map(|j| Work::Fuse(j, look));
                let looked = first.map(|(maps, secs)| self.first_look(maps, secs));
                let done = done.map(|r| r.map(|(maps, secs)| self.fused(maps, secs)));
                (done, looked.is_some())
            }
            None => (None, false),
        };
        match done {
            // Cancelled or failed: its first look goes too.
            Some(Err(e)) => {
                self.preview = None;
                Err(e)
            }
            Some(Ok(())) => Ok(true),
            None => Ok(looked),
        }
    }

    fn experts_done(&mut self, session: Session, maps: CaseMaps, secs: f64) {
        self.session = Some(Arc::new(session));
        self.first_seconds = Some(secs);
        // Without a first look the crosshair goes to the lesion now (with one, it went then).
        if self.preview.take().is_none() {
            self.first_done = true;
        }
        self.maps_arrived(maps);
        self.show_fused();
    }

    /// A toggle's fusion arrived.
    fn fused(&mut self, maps: CaseMaps, secs: f64) {
        self.preview = None;
        self.fusion_seconds = Some(secs);
        self.maps_arrived(maps);
    }

    /// A first look arrived (the remaining windows of its work still run).
    fn first_look(&mut self, maps: CaseMaps, secs: f64) {
        self.preview = Some(maps);
        self.preview_seconds = Some(secs);
    }

    /// The user ran CLoE: show its segmentation (they can switch back to the labels).
    fn show_fused(&mut self) {
        if matches!(self.source, OverlaySource::Labels) {
            self.source = OverlaySource::Fused;
        }
    }

    fn maps_arrived(&mut self, maps: CaseMaps) {
        self.maps = Some(maps);
        self.maps_version += 1;
        if let Some(session) = &self.session {
            self.ahead.start(session, &self.subset);
        }
    }

    /// True while the subsets one switch away from the one shown are being fused ahead of a toggle.
    pub fn fusing_ahead(&self) -> bool {
        self.ahead.running()
    }

    /// Steps done and in all of the experts' windows, while they run.
    pub(super) fn progress(&self) -> (usize, usize) {
        match &self.work {
            Some(Work::Experts(job, _)) => job.progress(),
            _ => (0, 0),
        }
    }

    pub(super) fn cancel(&self) {
        match &self.work {
            Some(Work::Experts(job, _)) => job.cancel(),
            Some(Work::Fuse(job, _)) => job.cancel(),
            None => {}
        }
    }

    /// Puts the chosen overlay into the view.
    pub fn apply_overlay(&self, view: &mut CaseView) {
        // A first look has the fused labels and the REC map; the experts' maps come with the result
        // (or stay those of the result shown before a toggle).
        let fused = matches!(self.source, OverlaySource::Fused | OverlaySource::Region);
        let look = self.preview.as_ref().filter(|_| fused);
        let Some(maps) = look.or(self.maps.as_ref()).or(self.preview.as_ref()) else {
            return;
        };
        if view.edit.unsaved {
            // The user's edits stay on screen until they are saved or discarded.
            return;
        }
        view.edit.history.clear();
        let overlay = &mut view.overlay;
        match self.source {
            OverlaySource::Labels => overlay.show_truth(&view.case),
            OverlaySource::Fused => {
                if look.is_none() {
                    overlay.show_labels(Some(maps.classes.clone()), "CLoE");
                } else {
                    overlay.show_labels(Some(maps.classes.clone()), "CLoE (first look)");
                    overlay.provisional = true;
                }
                overlay.model = Some(self.name());
            }
            OverlaySource::Expert(m) => {
                let name = view.case.profile.modality_display()[m];
                let labels = maps.experts.get(m).cloned().flatten();
                overlay.show_labels(labels, format!("expert {name}"));
                overlay.model = Some(format!("{} ({name} expert)", self.name()));
            }
            OverlaySource::Disagreement => {
                let max = maps.disagreement.iter().copied().fold(1e-6f32, f32::max);
                let values = maps.disagreement.clone();
                overlay.show_heat(HeatMap { values, max }, "disagreement");
            }
            OverlaySource::Region => {
                let values = maps.region.clone();
                overlay.show_heat(HeatMap { values, max: 1.0 }, "REC region map");
            }
        }
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

    /// A case was opened with the model's first run on it made ahead of time: the loaded model takes it
    /// when it is that model, else the case is opened as any other.
    pub fn case_opened_with(&mut self, case: &Case, run: Option<Box<FirstRun>>) -> Result<()> {
        match (self.model.as_mut(), run) {
            (Some(model), Some(run)) if self.pending.is_none() && model.dir == run.dir => {
                model.adopt(case, *run);
                Ok(())
            }
            _ => self.case_opened(case),
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

    /// Shows the model's chosen overlay in `view`: when the experts or a fusion finished, or when a
    /// click on an expert tile chose another overlay.
    pub fn show_source(&mut self, source: OverlaySource, view: &mut CaseView) {
        if let Some(model) = self.model.as_mut() {
            model.source = source;
            model.apply_overlay(view);
        }
    }

    /// Collects the model's finished work into `view`; a lost GPU moves the model to the CPU, which
    /// segments the case again. What goes wrong is put in `error`.
    pub fn poll(&mut self, view: &mut CaseView, error: &mut Option<String>) {
        let Some(model) = self.model.as_mut() else {
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
                let moved = ModelState::load_on(&model.dir, Some(DeviceChoice::Cpu)).and_then(
                    |mut on_cpu| {
                        on_cpu.start(&view.case)?;
                        *model = on_cpu;
                        Ok(())
                    },
                );
                *error = Some(match moved {
                    Ok(()) => "the GPU stopped working during the computation (its driver was \
                               reset or the device was removed); the model now runs on the CPU \
                               and is segmenting the case again"
                        .to_string(),
                    Err(e) => e.to_string(),
                });
            }
            Err(e) => {
                // A first look whose run ended without its result is not left on screen: the result
                // shown before it comes back (the labels at a first inference).
                if view.overlay.awaiting_model() {
                    match model.maps {
                        Some(_) => model.apply_overlay(view),
                        None => view.overlay.show_truth(&view.case),
                    }
                }
                *error = Some(e.to_string());
            }
        }
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
        self.load_row(ui, error);
        let Some(view) = view.filter(|_| self.model.is_some()) else {
            ui.label("Load a model and a case to run CLoE.");
            return;
        };
        self.poll(view, error);
        let Some(model) = self.model.as_mut() else {
            return;
        };
        // Why this device (what `auto` measured, or that it was asked for) on hover.
        ui.label(format!("device: {}", model.device.label))
            .on_hover_text(&model.device.why);
        run_row(ui, model, view, error);
        if model.maps.is_none() {
            return;
        }
        ui.separator();
        modality_toggles(ui, model, view, error);
        let Some(maps) = model.maps.as_ref() else {
            return;
        };
        ui.separator();
        gating_chart(
            ui,
            maps,
            &model.subset,
            view.case.profile.modality_display(),
        );
        if let (Some(first), Some(f)) = (model.first_seconds, model.fusion_seconds) {
            ui.small(format!(
                "first inference {first:.1} s, last toggle {f:.2} s"
            ));
        }
        if model.fusing_ahead() {
            ui.small("preparing the next toggles…").on_hover_text(
                "the subsets one switch away are fused now, so that a toggle is at once",
            );
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
        ui.separator();
        ui.checkbox(&mut self.side_by_side, "Experts side by side")
            .on_hover_text("a small view per expert and the fused result under the main view");
        overlay_choice(ui, model, view);
    }

    /// The model folder field and its Load button.
    fn load_row(&mut self, ui: &mut egui::Ui, error: &mut Option<String>) {
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
    }
}
