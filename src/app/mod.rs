//! The desktop viewer (eframe). It holds view state only: the loaded case, the cursor, the shown
//! modality, window/level, the overlay and its display options. Loading runs on a worker thread
//! (poll-promise) and the UI stays responsive; every computation comes from the library.

mod editing;
mod experts_view;
mod export;
pub mod gpu_slices;
mod measure;
mod model_panel;
mod panels;
mod series_picker;
pub mod surface_gpu;
mod surface_view;
mod training_preview;
mod training_tab;
mod views;

pub use editing::{EditState, autosave_path};
pub use measure::Measurements;
pub use model_panel::{ModelPanel, ModelState, OverlaySource};
pub use surface_view::{SurfaceView, build_meshes};
pub use training_tab::TrainingTab;

use crate::case::{Case, CaseSource, apply_series_choices, find_case, load_case, read_label_file};
use crate::error::{CloeError, Result};
use crate::io::ReadOptions;
use crate::render::Plane;
use eframe::egui;
use egui::{TextureHandle, Vec2};
use poll_promise::Promise;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Key of a CPU-rendered slice: plane, slice, modality, window/level, opacity, visibility, outline,
/// regions or classes, overlay version.
type SliceKey = (
    Plane,
    usize,
    usize,
    u32,
    u32,
    u32,
    Vec<bool>,
    bool,
    bool,
    u64,
);

/// Serial numbers of case views (what the GPU textures hold is keyed by them).
static VIEW_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A case on screen.
pub struct CaseView {
    pub case: Case,
    /// Voxel under the crosshair.
    pub cursor: [usize; 3],
    /// Index of the modality shown.
    pub shown: usize,
    pub level: f32,
    pub width: f32,
    /// Training classes on the case grid (ground truth or a segmentation from a file).
    pub overlay: Option<Vec<u8>>,
    pub overlay_name: String,
    pub overlay_version: u64,
    /// A heat map shown instead of the labels (REC region map, disagreement) and its maximum.
    pub heat: Option<(Vec<f32>, f32)>,
    pub opacity: f32,
    /// Labels drawn as outlines instead of filled.
    pub outline: bool,
    /// Labels shown as the profile's nested regions (WT ⊃ TC ⊃ ET; PZ, TZ) rather than training classes.
    pub by_region: bool,
    /// Visibility of each legend item (index 0 unused), for the current `by_region` choice.
    pub visible: Vec<bool>,
    pub zoom: f32,
    pub pan: Vec2,
    /// Mouse-wheel travel not yet turned into a slice step, in wheel notches.
    pub wheel: f32,
    /// Paint mode, brush, undo history, autosave.
    pub edit: EditState,
    /// Volumes, Dice/HD95 against the ground truth and the lesions of the shown labels.
    pub measure: Measurements,
    /// The case's sources with another DICOM series chosen in the panel: the app reloads it.
    pub reload: Option<CaseSource>,
    textures: HashMap<Plane, (SliceKey, TextureHandle)>,
    serial: u64,
}

impl CaseView {
    /// A view of `case`, cursor in the middle, window/level from the shown modality's percentiles.
    pub fn new(case: Case) -> Self {
        let shown = case
            .modalities
            .iter()
            .position(Option::is_some)
            .unwrap_or(0);
        let overlay = case.label.as_ref().map(|l| l.classes.clone());
        let mut view = Self {
            cursor: case.grid.dims.map(|d| d / 2),
            shown,
            level: 0.0,
            width: 1.0,
            overlay_name: if overlay.is_some() {
                "ground truth".into()
            } else {
                String::new()
            },
            overlay,
            overlay_version: 0,
            heat: None,
            opacity: 0.5,
            outline: false,
            by_region: true,
            visible: vec![true; case.profile.regions().len() + 1],
            zoom: 1.0,
            pan: Vec2::ZERO,
            wheel: 0.0,
            edit: EditState::default(),
            measure: Measurements::default(),
            reload: None,
            textures: HashMap::new(),
            serial: VIEW_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            case,
        };
        view.auto_window();
        view
    }

    /// Window/level from the 0.5–99.5 percentiles of the shown modality's non-zero voxels.
    pub fn auto_window(&mut self) {
        let key = self.case.profile.modalities()[self.shown];
        if let Some(s) = self
            .case
            .files
            .iter()
            .find(|f| f.role == key)
            .and_then(|f| f.intensity.as_ref())
        {
            self.level = ((s.p0_5 + s.p99_5) / 2.0) as f32;
            self.width = ((s.p99_5 - s.p0_5) as f32).max(1e-3);
        }
    }

    /// Shows a label map from a file (on any grid overlapping the case) as the overlay.
    pub fn load_overlay(&mut self, path: &Path) -> Result<()> {
        if self.edit.unsaved {
            return Err(CloeError::Invalid(
                "the labels have unsaved edits: save them (Save labels) or discard them first"
                    .into(),
            ));
        }
        let classes = read_label_file(&self.case, path)?;
        self.overlay = Some(classes);
        self.edit.history.clear();
        self.heat = None;
        self.overlay_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.overlay_version += 1;
        Ok(())
    }
}

/// The application.
pub struct ViewerApp {
    pub view: Option<CaseView>,
    loading: Option<(PathBuf, Promise<Result<Case>>)>,
    pub path_field: String,
    pub overlay_field: String,
    pub error: Option<String>,
    pub maximised: Option<Plane>,
    /// A label map to show once the case is loaded.
    pending_overlay: Option<PathBuf>,
    /// The model panel: the model, its folder field, a model waiting for the case.
    pub models: ModelPanel,
    /// Recently opened cases, newest first (kept in eframe's storage).
    pub recent: Vec<PathBuf>,
    /// The export file name field.
    pub export_field: String,
    /// eframe's wgpu state when the app runs on the wgpu renderer (None on glow).
    pub gpu: Option<eframe::egui_wgpu::RenderState>,
    /// Slices drawn by the WGSL shader (when `gpu` is there) instead of the CPU path.
    pub gpu_slicing: bool,
    /// The page shown: the viewer or the training tab.
    pub page: Page,
    pub training: TrainingTab,
    /// Where edited labels are autosaved (the app's data folder; None: no autosave).
    pub autosave_dir: Option<PathBuf>,
    /// The 3-D view of the fourth quadrant.
    pub surface: SurfaceView,
}

/// The app's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Viewer,
    Training,
}

impl ViewerApp {
    /// An app that starts loading `path` (if any) at once.
    pub fn new(path: Option<PathBuf>) -> Self {
        let mut app = Self {
            view: None,
            loading: None,
            path_field: String::new(),
            overlay_field: String::new(),
            error: None,
            maximised: None,
            pending_overlay: None,
            models: ModelPanel::default(),
            recent: Vec::new(),
            export_field: String::new(),
            gpu: None,
            gpu_slicing: true,
            page: Page::Viewer,
            training: TrainingTab::default(),
            autosave_dir: None,
            surface: SurfaceView::default(),
        };
        if let Some(p) = path {
            app.open(p);
        }
        app
    }

    /// Starts loading a case on a worker thread.
    pub fn open(&mut self, path: PathBuf) {
        self.open_with_series(path, Vec::new());
    }

    /// Starts loading a case, with `MODALITY=NUMBER` choices among the series of a DICOM study.
    pub fn open_with_series(&mut self, path: PathBuf, series: Vec<String>) {
        self.flush_autosave();
        self.path_field = path.display().to_string();
        self.error = None;
        let p = path.clone();
        self.loading = Some((
            path,
            crate::guard::spawn("load-case", move || {
                let mut source = find_case(&p, None)?;
                apply_series_choices(&mut source, &series)?;
                load_case(&source, ReadOptions::default())
            }),
        ));
    }

    /// Reloads the open case from `source` (another DICOM series chosen for a modality).
    pub fn reload(&mut self, source: CaseSource) {
        self.flush_autosave();
        self.error = None;
        let path = PathBuf::from(&self.path_field);
        self.loading = Some((
            path,
            crate::guard::spawn("load-case", move || {
                load_case(&source, ReadOptions::default())
            }),
        ));
    }

    /// Loads the model folder `dir` and runs it once the case being opened has loaded.
    pub fn load_model_after_open(&mut self, dir: PathBuf) {
        self.models.pending = Some(dir);
    }

    /// True while a case is being read.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    fn poll(&mut self) {
        if let Some((path, promise)) = self.loading.take() {
            match promise.try_take() {
                Ok(Ok(case)) => {
                    self.remember(path.clone());
                    let mut view = CaseView::new(case);
                    if let Some(p) = self.pending_overlay.take()
                        && let Err(e) = view.load_overlay(&p)
                    {
                        self.error = Some(e.to_string());
                    }
                    if let Err(e) = self.models.case_opened(&view.case) {
                        self.error = Some(e.to_string());
                    }
                    self.view = Some(view);
                    self.offer_autosave();
                }
                Ok(Err(e)) => self.error = Some(format!("{}: {e}", path.display())),
                Err(promise) => self.loading = Some((path, promise)),
            }
        }
    }

    /// The whole UI (also what the tests drive).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.poll();
        if let Some(source) = self.view.as_mut().and_then(|v| v.reload.take()) {
            self.reload(source);
        }
        let quit = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Q);
        if ui.ctx().input_mut(|i| i.consume_shortcut(&quit)) {
            // Closing autosaves unsaved edits (`on_exit`), so quitting loses nothing.
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        self.editing_tick(ui);
        self.training.poll();
        if let Some(view) = self.view.as_mut()
            && Measurements::update(view)
        {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        if self.loading.is_some() || self.training.is_running() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(50));
        }
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
        egui::Panel::left("controls")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| self.side_panel(ui));
        egui::Panel::right("model")
            .resizable(true)
            .default_size(280.0)
            .show(ui, |ui| {
                self.models.ui(ui, self.view.as_mut(), &mut self.error)
            });
        egui::CentralPanel::default().show(ui, |ui| self.views(ui));
    }

    fn views(&mut self, ui: &mut egui::Ui) {
        if self.view.is_none() {
            ui.centered_and_justified(|ui| {
                if self.loading.is_some() {
                    ui.spinner();
                } else {
                    ui.label("Open a case: type its folder above, or drop a folder or files on the window.");
                }
            });
            return;
        }
        self.sync_gpu();
        let avail = ui.available_size();
        let strip = self.models.side_by_side
            && self.models.model.as_ref().is_some_and(|m| m.maps.is_some());
        if strip {
            // The main view (the maximised plane, else axial) above the experts of the same slice.
            let plane = self.maximised.unwrap_or(Plane::Axial);
            let strip_h = (avail.y * 0.3).clamp(120.0, 260.0);
            self.plane_view(ui, plane, Vec2::new(avail.x, avail.y - strip_h - 8.0));
            self.expert_strip(ui, plane, strip_h);
            return;
        }
        if let Some(plane) = self.maximised {
            self.plane_view(ui, plane, avail);
            return;
        }
        let cell = Vec2::new((avail.x - 8.0) / 2.0, (avail.y - 8.0) / 2.0);
        ui.horizontal(|ui| {
            self.plane_view(ui, Plane::Axial, cell);
            self.plane_view(ui, Plane::Coronal, cell);
        });
        ui.horizontal(|ui| {
            self.plane_view(ui, Plane::Sagittal, cell);
            self.fourth_quadrant(ui, cell);
        });
    }
}

impl eframe::App for ViewerApp {
    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.flush_autosave();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if let Ok(json) = serde_json::to_string(&self.recent) {
            storage.set_string(export::RECENT_KEY, json);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let dropped: Vec<PathBuf> = ui.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(first) = dropped.first() {
            let target = if dropped.len() > 1 {
                first
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| first.clone())
            } else {
                first.clone()
            };
            self.open(target);
        }
        self.show(ui);
    }
}

/// `rel` under the working folder, else under the source tree.
fn bundled(rel: &Path) -> PathBuf {
    if rel.exists() {
        rel.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }
}

/// The bundled demo case: `assets/TCGA-DU-7294` under the working folder, else under the source tree.
pub fn bundled_case() -> PathBuf {
    bundled(&Path::new("assets").join("TCGA-DU-7294"))
}

/// The shipped BraTS model: `models/brats` under the working folder, else under the source tree.
pub fn bundled_model() -> PathBuf {
    bundled(&Path::new("models").join("brats"))
}

/// Opens the viewer window on `path` (with `MODALITY=NUMBER` series choices for a DICOM study), an
/// optional overlay file and model folder (blocks until it is closed). The wgpu renderer (slices drawn by `shaders/slice.wgsl`) is used where wgpu finds an
/// adapter, else glow with the CPU slice path; `CLOE_RENDERER=glow` picks glow directly. The choice
/// is made before the window opens: winit allows one event loop per process, so a failed start
/// cannot be retried with the other renderer.
pub fn run(
    path: Option<PathBuf>,
    series: Vec<String>,
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
    launch(renderer, path, series, overlay, model)
}

fn launch(
    renderer: eframe::Renderer,
    path: Option<PathBuf>,
    series: Vec<String>,
    overlay: Option<PathBuf>,
    model: Option<PathBuf>,
) -> Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 860.0])
            .with_title("CLoE Studio"),
        renderer,
        ..Default::default()
    };
    eframe::run_native(
        "CLoE Studio",
        options,
        Box::new(move |cc| {
            let mut app = ViewerApp::new(None);
            if let Some(path) = path {
                app.open_with_series(path, series);
            }
            app.gpu = cc.wgpu_render_state.clone();
            // On a software rasterizer (lavapipe) the CPU path paints faster (benches/README.md).
            app.gpu_slicing = app.gpu.as_ref().is_some_and(|rs| {
                rs.adapter.get_info().device_type != eframe::wgpu::DeviceType::Cpu
            });
            if let Some(recent) = cc.storage.and_then(|s| s.get_string(export::RECENT_KEY)) {
                let mut list: Vec<PathBuf> = serde_json::from_str(&recent).unwrap_or_default();
                list.retain(|p| !app.recent.contains(p));
                app.recent.extend(list);
            }
            app.autosave_dir = eframe::storage_dir("CLoE Studio").map(|d| d.join("autosave"));
            app.pending_overlay = overlay;
            app.models.pending = model;
            app.models.shipped = Some(bundled_model());
            // Fine-tuning is the Training page's purpose: it starts from the shipped model.
            if bundled_model().join(crate::model::CONFIG_FILE).is_file() {
                app.training.init_field = bundled_model().display().to_string();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| {
        CloeError::Invalid(format!(
            "the window could not be opened: {e} (the viewer needs a desktop session: check DISPLAY \
             or WAYLAND_DISPLAY; the other commands, e.g. `cloe segment`, need none)"
        ))
    })
}
