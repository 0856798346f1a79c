//! The Training page's form: the cases folder, the model to start from and the folder to write, the
//! profile, steps and the optimiser's numbers. It builds `TrainOptions` from the library's defaults
//! and checks them (`TrainOptions::check`: no writing over a model folder unless told to).

use crate::case::{Profile, find_nifti_cases};
use crate::device::DeviceChoice;
use crate::error::{CloeError, Result, Setting};
use crate::model::{CloeConfig, load_config};
use crate::train::TrainOptions;
use eframe::egui;
use std::path::{Path, PathBuf};

/// What the form holds.
pub struct TrainingForm {
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
    /// The profile of the started-from model folder.
    init_profile: Option<(String, Profile)>,
    /// The profile the cases folder's file names say (None: mixed, unknown or unreadable).
    detected: Option<(String, Option<Profile>)>,
}

impl Default for TrainingForm {
    fn default() -> Self {
        Self {
            data_field: String::new(),
            out_field: String::new(),
            init_field: String::new(),
            profile: Profile::DEFAULT,
            profile_from_cases: true,
            iterations: TrainOptions::DEFAULT_ITERATIONS,
            batch: TrainOptions::DEFAULT_BATCH,
            lr: TrainOptions::DEFAULT_LR,
            val_fraction: TrainOptions::DEFAULT_VAL_FRACTION,
            device: DeviceChoice::Auto,
            resume: false,
            replace: false,
            init_profile: None,
            detected: None,
        }
    }
}

impl TrainingForm {
    /// The profile a run would train: the started-from model's (read once per folder), else the form's.
    pub fn run_profile(&mut self) -> Profile {
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

    /// The options of the form, checked: the data folder exists, and the library's own checks
    /// (`TrainOptions::check`: an existing model is only replaced when agreed, the started-from model
    /// is not the one being written). Every setting the form does not show keeps its default.
    pub fn options(&self) -> Result<TrainOptions> {
        let field = |s: &str| PathBuf::from(s.trim());
        let (data, out) = (field(&self.data_field), field(&self.out_field));
        if !data.is_dir() {
            return Err(CloeError::no_case(
                &data,
                "the folder does not exist: choose the folder of your labelled cases",
            ));
        }
        if out.as_os_str().is_empty() {
            return Err(CloeError::setting(
                Setting::OutputFolder,
                "choose a model folder to write the trained model to",
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

    /// The form's grid and its resume / replace boxes.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        form_grid(ui, self);
    }
}

/// The form: folders, starting model, steps and the optimiser's numbers.
fn form_grid(ui: &mut egui::Ui, tab: &mut TrainingForm) {
    egui::Grid::new("training-form")
        .num_columns(2)
        .show(ui, |ui| {
            folder_row(ui, "Cases", &mut tab.data_field, "folder of labelled cases");
            let hint = "model folder (empty: random weights)";
            folder_row(ui, "Start from", &mut tab.init_field, hint);
            folder_row(ui, "Write to", &mut tab.out_field, "new model folder");
            profile_row(ui, tab);
            number_rows(ui, tab);
        });
    ui.horizontal(|ui| {
        ui.checkbox(&mut tab.resume, "resume")
            .on_hover_text("continue the stopped run in the output folder from its checkpoint");
        ui.checkbox(&mut tab.replace, "replace it")
            .on_hover_text("replace the model already in the output folder");
    });
}

/// A folder field with its "…" dialog.
fn folder_row(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str) {
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
}

/// The profile of a model trained from scratch (a started-from model brings its own).
fn profile_row(ui: &mut egui::Ui, tab: &mut TrainingForm) {
    let name = ui.label("Profile");
    let from_model = !tab.init_field.trim().is_empty();
    let shown = if from_model {
        "the model's".to_string()
    } else if tab.profile_from_cases {
        format!("{} (the cases')", tab.profile)
    } else {
        tab.profile.to_string()
    };
    ui.add_enabled_ui(!from_model, |ui| {
        egui::ComboBox::from_id_salt("train-profile")
            .selected_text(shown)
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
                "follows the cases' file names until you pick one; a model you start from brings \
                 its own",
            );
    });
    ui.end_row();
}

/// Steps, patches per step, learning rate, validation share and device.
fn number_rows(ui: &mut egui::Ui, tab: &mut TrainingForm) {
    let name = ui.label("Steps");
    ui.add(egui::DragValue::new(&mut tab.iterations).range(1..=100_000))
        .labelled_by(name.id);
    ui.end_row();
    let name = ui.label("Patches per step");
    ui.add(egui::DragValue::new(&mut tab.batch).range(1..=16))
        .labelled_by(name.id);
    ui.end_row();
    let name = ui.label("Learning rate");
    let lr = egui::DragValue::new(&mut tab.lr)
        .range(1e-6..=1e-2)
        .speed(1e-5)
        .max_decimals(6);
    ui.add(lr).labelled_by(name.id);
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
}
