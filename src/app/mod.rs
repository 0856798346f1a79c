//! The desktop viewer (eframe). [`ViewerApp`] routes: it owns the parts, each of which holds its own
//! state and draws itself (the open [`CaseView`], the [`ModelPanel`], the [`SurfaceView`], the
//! [`TrainingTab`], the autosave, the slice renderer), polls their background [`job::Job`]s once per
//! frame, puts what goes wrong on the status line, and acts on what the panels ask for. Every
//! computation comes from the library.

pub mod case_view;
mod editing;
mod experts_view;
mod export;
mod fusion_ahead;
mod gating_chart;
pub mod gpu_slices;
mod job;
mod model_controls;
mod model_panel;
mod opening;
mod panels;
mod readout;
mod refine_tool;
mod save_dialog;
mod sequence_grid;
mod sequence_prompt;
mod series_picker;
pub mod surface_gpu;
mod surface_view;
mod training_form;
mod training_preview;
mod training_run;
mod training_tab;
mod views;
mod worklist_view;

pub use crate::resources::{bundled_case, bundled_model};
pub use case_view::{CaseView, EditState, Measurements};
pub use editing::{Autosave, autosave_path};
pub use experts_view::ExpertTiles;
pub use export::Recent;
pub use job::{Job, Worker};
pub use model_panel::{ModelPanel, ModelState, OverlaySource};
pub use panels::Page;
pub use sequence_grid::SequenceGrid;
pub use surface_view::{SurfaceView, build_meshes};
pub use training_tab::TrainingTab;
pub use views::SliceRenderer;
pub use worklist_view::WorklistPart;

use crate::case::{CaseChoices, CaseSource};
use crate::error::{CloeError, Result};
use crate::render::Plane;
use eframe::egui;
use egui::Vec2;
use opening::{Opened, find_and_open, open_source};
use std::path::{Path, PathBuf};

/// The application.
pub struct ViewerApp {
    pub view: Option<CaseView>,
    /// The case being read, where it comes from and what was chosen about its files.
    loading: Option<(PathBuf, CaseChoices, Job<Opened>)>,
    /// The question of what a case's files hold, while it waits for an answer.
    pub prompt: Option<sequence_prompt::SequencePrompt>,
    pub path_field: String,
    /// The label file field and the export section of the left panel.
    pub overlay_field: String,
    pub export: panels::ExportForm,
    /// The status line: what went wrong last.
    pub error: Option<String>,
    pub maximised: Option<Plane>,
    /// A label map to show once the case is loaded.
    pending_overlay: Option<PathBuf>,
    /// The model panel: the model, its folder field, a model waiting for the case.
    pub models: ModelPanel,
    /// The experts side by side under the main view.
    pub tiles: ExpertTiles,
    /// Recently opened cases, newest first (kept in eframe's storage).
    pub recent: Recent,
    /// How slices are drawn (the WGSL shader on wgpu, else the CPU).
    pub slices: SliceRenderer,
    /// The page shown: the viewer or the training tab.
    pub page: Page,
    pub training: TrainingTab,
    /// Where edited labels are autosaved.
    pub autosave: Autosave,
    /// The 3-D view of the fourth quadrant.
    pub surface: SurfaceView,
    /// Every sequence side by side, when on.
    pub grid: SequenceGrid,
    /// A folder's cases to go through, with their reviews.
    pub worklist: WorklistPart,
    /// Refine mode's refinements.
    pub refine: refine_tool::RefineTool,
}

impl ViewerApp {
    /// An app that starts loading `path` (if any) at once.
    pub fn new(path: Option<PathBuf>) -> Self {
        crate::device_probe::register();
        let mut app = Self {
            view: None,
            loading: None,
            prompt: None,
            path_field: String::new(),
            overlay_field: String::new(),
            export: panels::ExportForm::default(),
            error: None,
            maximised: None,
            pending_overlay: None,
            models: ModelPanel::default(),
            tiles: ExpertTiles::default(),
            recent: Recent::default(),
            slices: SliceRenderer {
                gpu: None,
                slicing: true,
            },
            page: Page::Viewer,
            training: TrainingTab::default(),
            autosave: Autosave::default(),
            surface: SurfaceView::default(),
            grid: Default::default(),
            worklist: WorklistPart::default(),
            refine: Default::default(),
        };
        if let Some(p) = path {
            app.open(p);
        }
        app
    }

    /// Starts loading a case on a worker thread.
    pub fn open(&mut self, path: PathBuf) {
        self.open_with(path, CaseChoices::default());
    }

    /// Starts loading a case, with choices of what its files hold (the DICOM series of a modality,
    /// the sequence or volume of a NIfTI file); a case that needs more of them opens the prompt.
    pub fn open_with(&mut self, path: PathBuf, choices: CaseChoices) {
        self.flush_autosave();
        self.path_field = path.display().to_string();
        self.error = None;
        self.prompt = None;
        let (p, c) = (path.clone(), choices.clone());
        let job = Job::spawn("load-case", move |_| find_and_open(&p, &c));
        self.loading = Some((path, choices, job));
    }

    /// Reloads the open case from `source` (another DICOM series chosen for a modality).
    pub fn reload(&mut self, source: CaseSource) {
        self.flush_autosave();
        self.error = None;
        let path = PathBuf::from(&self.path_field);
        let job = Job::spawn("load-case", move |_| open_source(&source));
        self.loading = Some((path, CaseChoices::default(), job));
    }

    /// Opens case `i` of the worklist (read ahead when it was the next one).
    pub fn open_worklist_case(&mut self, i: usize) {
        let Some(source) = (self.worklist.list.as_ref()).and_then(|l| l.cases.get(i).cloned())
        else {
            return;
        };
        self.flush_autosave();
        self.error = None;
        self.page = Page::Viewer;
        let path = (source.input_files().first())
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from(&source.id));
        self.path_field = path.display().to_string();
        let job = match self.worklist.take_prefetch(i) {
            Some(job) => job,
            None => Job::spawn("load-case", move |_| open_source(&source)),
        };
        self.loading = Some((path, CaseChoices::default(), job));
    }

    /// Loads the model folder `dir` and runs it once the case being opened has loaded.
    pub fn load_model_after_open(&mut self, dir: PathBuf) {
        self.models.pending = Some(dir);
    }

    /// True while a case is being read.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// True when the slices are drawn by the shader.
    pub fn gpu_active(&self) -> bool {
        self.slices.active()
    }

    /// Writes the shown labels to `path` (see [`export::export_labels`]).
    pub fn export_labels(&self, path: &Path) -> Result<()> {
        export::export_labels(self.open_view()?, path)
    }

    /// Saves `plane` at the cursor as a PNG, as displayed.
    pub fn export_png(&self, plane: Plane, path: &Path) -> Result<()> {
        export::export_png(self.open_view()?, plane, path)
    }

    fn open_view(&self) -> Result<&CaseView> {
        (self.view.as_ref()).ok_or_else(|| CloeError::Refused("no case is open".into()))
    }

    /// Writes the autosave of the open case now when its edits are newer than it.
    pub fn flush_autosave(&mut self) {
        if let Some(view) = self.view.as_mut() {
            self.autosave.flush(view);
        }
    }

    /// Restores the offered autosave of the open case.
    pub fn restore_autosave(&mut self) {
        if let Some(view) = self.view.as_mut() {
            Autosave::restore(view, &mut self.error);
        }
    }

    /// Loads the trained model in `dir` as the viewer's model, runs it on the open case and shows the
    /// viewer.
    pub fn use_trained_model(&mut self, dir: &Path) {
        let case = self.view.as_ref().map(|v| &v.case);
        match self.models.use_model(dir, case) {
            Ok(()) => self.page = Page::Viewer,
            Err(e) => self.training.run.error = Some(e.to_string()),
        }
    }

    /// Takes a case that finished reading into a new view.
    fn poll_loading(&mut self) {
        let Some((path, choices, job)) = self.loading.take() else {
            return;
        };
        let mut slot = Some(job);
        match Job::poll(&mut slot) {
            None => self.loading = slot.map(|job| (path, choices, job)),
            Some(Err(e)) => self.error = Some(format!("{}: {e}", path.display())),
            Some(Ok(Opened::Ask(files, profile))) => {
                let prompt = sequence_prompt::SequencePrompt::new(path, choices, files, profile);
                self.prompt = Some(prompt);
            }
            Some(Ok(Opened::Worklist(folder, sources))) => {
                self.recent.remember(path);
                match self.worklist.open(&folder, sources) {
                    Ok(()) => self.page = Page::Worklist,
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            Some(Ok(Opened::Case(case, run))) => {
                if self.worklist.current(None).is_none() {
                    self.recent.remember(path);
                }
                let mut view = CaseView::new(*case);
                if let Some(p) = self.pending_overlay.take()
                    && let Err(e) = view.load_overlay(&p)
                {
                    self.error = Some(e.to_string());
                }
                if let Err(e) = self.models.case_opened_with(&view.case, run) {
                    self.error = Some(e.to_string());
                }
                self.autosave.offer(&mut view);
                self.view = Some(view);
            }
        }
    }

    /// Everything that runs once per frame before drawing: finished jobs, shortcuts, the autosave,
    /// the measurements.
    fn tick(&mut self, ctx: &egui::Context) {
        self.poll_loading();
        if let Some(source) = self.view.as_mut().and_then(|v| v.reload.take()) {
            self.reload(source);
        }
        let quit = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Q);
        if ctx.input_mut(|i| i.consume_shortcut(&quit)) {
            // Closing autosaves unsaved edits (`on_exit`), so quitting loses nothing.
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if let Some(view) = self.view.as_mut() {
            editing::shortcuts(ctx, view);
            self.autosave.tick(ctx, view, &mut self.error);
            if view.update_measurements() {
                ctx.request_repaint_after(std::time::Duration::from_millis(100));
            }
            let maps = self.models.model.as_ref().and_then(|m| m.maps.as_ref());
            self.refine.tick(ctx, view, maps);
        }
        self.training.poll();
        let loading = self.loading.is_some();
        self.worklist
            .tick(self.view.as_ref(), &self.models, loading);
        if let Some(i) = self.worklist.keys(ctx, self.view.as_ref()) {
            self.open_worklist_case(i);
        }
        if loading || self.training.is_running() || self.worklist.prefetching_now().is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
    }

    /// The whole UI (also what the tests drive).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.tick(ui.ctx());
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        if self.page == Page::Training {
            let chosen = egui::CentralPanel::default()
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .show(ui, |ui| self.training.ui(ui))
                        .inner
                })
                .inner;
            if let Some(dir) = chosen {
                self.use_trained_model(&dir);
            }
            return;
        }
        if self.page == Page::Worklist {
            let open = self.worklist.current(self.view.as_ref());
            let (worklist, error) = (&mut self.worklist, &mut self.error);
            let chosen = (egui::CentralPanel::default())
                .show(ui, |ui| worklist.page(ui, open, error))
                .inner;
            if let Some(i) = chosen {
                self.open_worklist_case(i);
            }
            return;
        }
        // The left panel scrolls: a DICOM study's series menus and the export rows outgrow a short
        // window.
        egui::Panel::left("controls")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.side_panel(ui));
            });
        egui::Panel::right("model")
            .resizable(true)
            .default_size(280.0)
            .show(ui, |ui| {
                self.models.ui(ui, self.view.as_mut(), &mut self.error)
            });
        egui::CentralPanel::default().show(ui, |ui| self.views(ui));
        if let Some(view) = self.view.as_mut() {
            editing::end_of_frame(ui.ctx(), view);
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        let run = &self.training.run;
        let state = panels::TopBarState {
            training: self.training.is_running().then_some((run.step, run.total)),
            recent: &self.recent,
            loading: self.is_loading(),
            error: self.error.as_deref(),
        };
        if let Some(path) = panels::top_bar(ui, &mut self.page, &mut self.path_field, state) {
            self.open(path);
        }
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        let Some(view) = self.view.as_mut() else {
            ui.label("No case open.");
            return;
        };
        if let Some(i) = self.worklist.review_bar(ui, view, &mut self.error) {
            self.open_worklist_case(i);
            return;
        }
        let Some(view) = self.view.as_mut() else {
            return;
        };
        panels::case_controls(ui, view, &mut self.grid.on);
        panels::label_file(ui, &mut self.overlay_field, view, &mut self.error);
        ui.separator();
        ui.label("Edit labels (Ctrl+Z undo, Ctrl+Y redo)");
        // The model's maps of this case (a model kept from another case has maps of that one).
        let ready = (self.models.model.as_ref().and_then(|m| m.maps.as_ref()))
            .is_some_and(|m| m.classes.len() == view.case.grid.len());
        let refine = &mut self.refine;
        let toggle = |ui: &mut egui::Ui, view: &mut CaseView| refine.toggle(ui, view, ready);
        editing::controls(ui, view, &self.autosave, &mut self.error, toggle);
        self.refine.ui(ui, view);
        ui.separator();
        let plane = self.maximised.unwrap_or(Plane::Axial);
        let (form, autosave) = (&mut self.export, &self.autosave);
        if let Some(saved) = panels::export(ui, form, view, plane, autosave, &mut self.error)
            && let Err(e) = self.worklist.saved(view, saved)
        {
            self.error = Some(e.to_string());
        }
        ui.separator();
        view.nav.zoom_ui(ui);
        panels::slicing(ui, &mut self.slices);
    }

    fn views(&mut self, ui: &mut egui::Ui) {
        if let Some(prompt) = self.prompt.as_mut() {
            match prompt.ui(ui) {
                Some(sequence_prompt::PromptAction::Open(path, choices)) => {
                    self.open_with(path, choices)
                }
                Some(sequence_prompt::PromptAction::Cancel) => self.prompt = None,
                None => {}
            }
            return;
        }
        let Some(view) = self.view.as_mut() else {
            ui.centered_and_justified(|ui| {
                if self.loading.is_some() {
                    ui.spinner();
                } else {
                    ui.label("Open a case: type its folder above, or drop a folder or files on the window.");
                }
            });
            return;
        };
        let avail = ui.available_size();
        let model = self.models.model.as_ref();
        if self.grid.on {
            self.grid.ui(ui, view, avail, model.map(|m| &m.subset));
            return;
        }
        self.slices.sync(view);
        let (slices, maximised) = (&self.slices, &mut self.maximised);
        if self.models.side_by_side && model.is_some_and(|m| m.maps.is_some()) {
            // The main view (the maximised plane, else axial) above the experts of the same slice.
            let plane = maximised.unwrap_or(Plane::Axial);
            let strip_h = (avail.y * 0.3).clamp(120.0, 260.0);
            let main = Vec2::new(avail.x, avail.y - strip_h - 8.0);
            views::plane_view(ui, view, plane, main, slices, maximised);
            let chosen = model.and_then(|m| self.tiles.ui(ui, view, m, plane, strip_h));
            if let Some(source) = chosen {
                self.models.show_source(source, view);
            }
            return;
        }
        if let Some(plane) = *maximised {
            views::plane_view(ui, view, plane, avail, slices, maximised);
            return;
        }
        let cell = Vec2::new((avail.x - 8.0) / 2.0, (avail.y - 8.0) / 2.0);
        ui.horizontal(|ui| {
            views::plane_view(ui, view, Plane::Axial, cell, slices, maximised);
            views::plane_view(ui, view, Plane::Coronal, cell, slices, maximised);
        });
        ui.horizontal(|ui| {
            views::plane_view(ui, view, Plane::Sagittal, cell, slices, maximised);
            let maps = surface_view::ModelMaps {
                maps: model.and_then(|m| m.maps.as_ref()),
                version: model.map_or(0, |m| m.maps_version),
            };
            let gpu = self.slices.gpu.as_ref();
            (self.surface).quadrant(ui, cell, view, maps, gpu, &mut self.error);
        });
    }
}

impl eframe::App for ViewerApp {
    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.flush_autosave();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.recent.save(storage);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let dropped: Vec<PathBuf> = ui.input(|i| {
            (i.raw.dropped_files.iter())
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(first) = dropped.first() {
            // Several files are one case: their folder.
            let target = match first.parent().filter(|_| dropped.len() > 1) {
                Some(folder) => folder.to_path_buf(),
                None => first.clone(),
            };
            self.open(target);
        }
        self.show(ui);
    }
}

/// Opens the viewer window on `path` (with `MODALITY=NUMBER` series choices for a DICOM study), an
/// optional overlay file and model folder (blocks until it is closed). The wgpu renderer (slices drawn
/// by `shaders/slice.wgsl`) is used where wgpu finds an adapter, else glow with the CPU slice path;
/// `CLOE_RENDERER=glow` picks glow directly. The choice is made before the window opens: winit allows
/// one event loop per process, so a failed start cannot be retried with the other renderer.
pub fn run(
    path: Option<PathBuf>,
    choices: CaseChoices,
    overlay: Option<PathBuf>,
    model: Option<PathBuf>,
) -> Result<()> {
    use eframe::Renderer;
    let renderer = match std::env::var("CLOE_RENDERER").as_deref() {
        Ok("glow") => Renderer::Glow,
        _ if crate::device::adapters().is_empty() => {
            log::warn!("wgpu finds no adapter; drawing with glow and CPU slices");
            Renderer::Glow
        }
        _ => Renderer::Wgpu,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 860.0])
            .with_title("CLoE Studio"),
        renderer,
        ..Default::default()
    };
    let start = move |cc: &eframe::CreationContext| {
        let mut app = ViewerApp::new(None);
        if let Some(path) = path {
            app.open_with(path, choices);
        }
        app.slices.gpu = cc.wgpu_render_state.clone();
        // On a software rasterizer (lavapipe) the CPU path paints faster (benches/README.md).
        app.slices.slicing = (app.slices.gpu.as_ref())
            .is_some_and(|rs| rs.adapter.get_info().device_type != eframe::wgpu::DeviceType::Cpu);
        if let Some(storage) = cc.storage {
            app.recent.restore(storage);
        }
        let data = eframe::storage_dir("CLoE Studio");
        app.autosave.dir = data.as_ref().map(|d| d.join("autosave"));
        app.worklist.store_dir = data.map(|d| d.join("worklists"));
        app.pending_overlay = overlay;
        app.models.pending = model;
        app.models.shipped = Some(bundled_model());
        // Fine-tuning is the Training page's purpose: it starts from the shipped model.
        if bundled_model().join(crate::model::CONFIG_FILE).is_file() {
            app.training.form.init_field = bundled_model().display().to_string();
        }
        app
    };
    eframe::run_native(
        "CLoE Studio",
        options,
        Box::new(move |cc| Ok(Box::new(start(cc)))),
    )
    .map_err(|e| {
        CloeError::Refused(format!(
            "the window could not be opened: {e} (the viewer needs a desktop session: check DISPLAY \
             or WAYLAND_DISPLAY; the other commands, e.g. `cloe segment`, need none)"
        ))
    })
}
