//! The one training loop, used by `cloe train` and the app's training tab: cases split into training and
//! validation, one patch and one modality subset per step, AdamW (decoupled weight decay) and poly decay,
//! validation every N steps with the best model kept, checkpoints, exact resume, progress events, cancel.

mod cache;
mod check;
mod checkpoint;
mod clock;
mod device_cases;
mod init;
mod run;
mod sampler;
mod spatial;
mod validate;

pub use cache::{
    Manifest, default_dir as default_cache_dir, prepare_dataset, prepared_case, read_manifest,
};
pub use check::{CaseCheck, check_cases};
pub use checkpoint::LoopState;
pub use device_cases::DeviceCases;
pub use run::train;
pub use sampler::{
    Intensity, Patch, PatchSpec, SamplerCase, cut, draw_batch, step_rng, window_origin,
};
pub use spatial::Spatial;
pub use validate::{Validation, validate};

use crate::backend_check::check_conv_weight_gradient;
use crate::case::{Profile, Subset, find_labelled_cases};
use crate::device::{ComputeDevice, DeviceChoice, select};
use crate::error::{CloeError, Result, Setting};
use crate::loss::LossValues;
use crate::model::CloeConfig;
use crate::preprocess::PrepareOptions;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything a training run needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOptions {
    pub data_dir: PathBuf,
    pub out_dir: PathBuf,
    /// Validation cases by name; when empty, `val_fraction` of the cases (at least one) are held out.
    pub val_cases: Vec<String>,
    pub val_fraction: f64,
    pub iterations: usize,
    /// Patches per step (one availability subset per step).
    #[serde(default = "one")]
    pub batch: usize,
    /// Start from the weights of this model folder (fine-tuning) instead of a random initialisation.
    #[serde(default)]
    pub init: Option<PathBuf>,
    pub lr: f64,
    /// The gating MLP and the region head π learn at this multiple of `lr` (1: as the rest). Small heads
    /// that start afresh in a fine-tuning run need more than Adam's `lr` per step to reach their scale.
    #[serde(default = "unit")]
    pub head_lr_scale: f64,
    pub weight_decay: f64,
    pub poly_power: f64,
    pub seed: u64,
    pub validate_every: usize,
    pub checkpoint_every: usize,
    /// Share of patches centred on tumour.
    pub tumour_fraction: f64,
    pub resume: bool,
    /// Replace the model already in `out_dir` (otherwise a new run there is refused).
    #[serde(default)]
    pub replace: bool,
    /// Read the losses back (a device synchronisation) every this many steps, and at the last step.
    #[serde(default = "one")]
    pub log_every: usize,
    /// Where prepared cases are kept between runs (None: prepare them every run).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Stop (with a checkpoint and the model saved) after this many seconds of training.
    pub time_limit_seconds: Option<f64>,
    pub device: DeviceChoice,
    /// The network and loss configuration (profile, patch, spacing, channels, weights, ablations).
    pub config: CloeConfig,
}

fn one() -> usize {
    1
}

fn unit() -> f64 {
    1.0
}

impl TrainOptions {
    pub const DEFAULT_ITERATIONS: usize = 1000;
    pub const DEFAULT_BATCH: usize = 1;
    /// Adam's learning rate of the paper (and RFNet).
    pub const DEFAULT_LR: f64 = 2e-4;
    pub const DEFAULT_HEAD_LR_SCALE: f64 = 1.0;
    pub const DEFAULT_WEIGHT_DECAY: f64 = 1e-4;
    pub const DEFAULT_VAL_FRACTION: f64 = 0.2;
    pub const DEFAULT_VALIDATE_EVERY: usize = 100;
    pub const DEFAULT_CHECKPOINT_EVERY: usize = 50;
    pub const DEFAULT_LOG_EVERY: usize = 1;
    pub const DEFAULT_SEED: u64 = 0;

    /// The paper's defaults for a profile (the one source of the CLI's and the Training page's).
    pub fn new(data_dir: PathBuf, out_dir: PathBuf, profile: Profile) -> Self {
        Self {
            data_dir,
            out_dir,
            val_cases: Vec::new(),
            val_fraction: Self::DEFAULT_VAL_FRACTION,
            iterations: Self::DEFAULT_ITERATIONS,
            batch: Self::DEFAULT_BATCH,
            init: None,
            lr: Self::DEFAULT_LR,
            head_lr_scale: Self::DEFAULT_HEAD_LR_SCALE,
            weight_decay: Self::DEFAULT_WEIGHT_DECAY,
            poly_power: 0.9,
            seed: Self::DEFAULT_SEED,
            validate_every: Self::DEFAULT_VALIDATE_EVERY,
            checkpoint_every: Self::DEFAULT_CHECKPOINT_EVERY,
            tumour_fraction: 1.0 / 3.0,
            resume: false,
            replace: false,
            log_every: Self::DEFAULT_LOG_EVERY,
            cache_dir: cache::default_dir(),
            time_limit_seconds: None,
            device: DeviceChoice::Auto,
            config: CloeConfig::for_profile(profile),
        }
    }

    /// Checks what can be checked before any case is read: the counts are positive, the network's
    /// numbers make a network, a model already in the output folder is only replaced when asked (or
    /// its run resumed), and the model started from is not the one being written.
    pub fn check(&self) -> Result<()> {
        (self.config.validate()).map_err(|why| CloeError::setting(Setting::Training, why))?;
        if self.iterations == 0 || self.batch == 0 || self.log_every == 0 {
            return Err(CloeError::setting(
                Setting::Training,
                "the number of steps, the patches per step and the steps between loss read-backs \
                 must each be at least 1",
            ));
        }
        if !(self.head_lr_scale.is_finite() && self.head_lr_scale > 0.0) {
            return Err(CloeError::setting(
                Setting::Training,
                format!(
                    "the heads' learning-rate scale must be a positive number (it is {})",
                    self.head_lr_scale
                ),
            ));
        }
        if self.resume {
            return Ok(());
        }
        if self
            .init
            .as_deref()
            .is_some_and(|i| same_folder(i, &self.out_dir))
        {
            return Err(CloeError::setting(
                Setting::OutputFolder,
                "the output folder is the model you start from: choose another folder",
            ));
        }
        if self.out_dir.join(crate::model::CONFIG_FILE).exists() && !self.replace {
            return Err(CloeError::setting(
                Setting::OutputFolder,
                format!(
                    "{} already holds a model: resume its run, allow replacing it, or choose \
                     another folder",
                    self.out_dir.display()
                ),
            ));
        }
        Ok(())
    }

    /// A resumed run goes on with its own options, saved in `out_dir/train-options.json`: the
    /// network, losses, learning rate and its schedule, batch, seed, validation and checkpoints.
    /// What belongs to this stretch stays as given (device, time limit, read-backs, cache); the run's
    /// length is its own unless `iterations` is given. A run without saved options keeps what was
    /// given.
    pub fn continuing(mut self, iterations: Option<usize>) -> Result<Self> {
        let path = self.out_dir.join("train-options.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(self);
        };
        let saved: TrainOptions =
            serde_json::from_str(&text).map_err(|e| CloeError::bad_model(&path, e.to_string()))?;
        self.iterations = iterations.unwrap_or(saved.iterations);
        (self.val_cases, self.val_fraction) = (saved.val_cases, saved.val_fraction);
        (self.batch, self.init, self.config) = (saved.batch, saved.init, saved.config);
        (self.lr, self.head_lr_scale) = (saved.lr, saved.head_lr_scale);
        (self.weight_decay, self.poly_power) = (saved.weight_decay, saved.poly_power);
        (self.seed, self.tumour_fraction) = (saved.seed, saved.tumour_fraction);
        (self.validate_every, self.checkpoint_every) =
            (saved.validate_every, saved.checkpoint_every);
        Ok(self)
    }

    /// Learning rate after `step` steps (poly decay).
    pub fn lr_at(&self, step: usize) -> f64 {
        self.lr
            * (1.0 - step as f64 / self.iterations.max(1) as f64)
                .max(0.0)
                .powf(self.poly_power)
    }
}

/// A run ready to take its first step: its cases, the device chosen (with why, when it is not the
/// one asked for) and the step it starts at.
#[derive(Debug, Clone)]
pub struct Ready {
    pub train: Vec<String>,
    pub val: Vec<String>,
    pub device: String,
    pub note: Option<String>,
    pub start_step: usize,
}

impl std::fmt::Display for Ready {
    /// "DEVICE: training on N cases, validating on M (A, B), resumed at step S".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: training on {} cases, validating on {} ({})",
            self.device,
            self.train.len(),
            self.val.len(),
            self.val.join(", ")
        )?;
        if self.start_step > 0 {
            write!(f, ", resumed at step {}", self.start_step)?;
        }
        Ok(())
    }
}

/// What the loop reports as it goes.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Cases loaded, the device chosen.
    Ready(Ready),
    /// One step done (`losses` on the steps that read them back, see `TrainOptions::log_every`).
    Step {
        step: usize,
        total: usize,
        lr: f64,
        losses: Option<LossValues>,
        subset: Subset,
        seconds: f64,
        eta_seconds: f64,
    },
    Validated {
        step: usize,
        validation: Validation,
        best: bool,
    },
    Checkpoint {
        step: usize,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    pub steps: usize,
    pub cancelled: bool,
    pub best_score: Option<f64>,
    pub seconds: f64,
    pub device: String,
}

/// Whether two paths name the same folder (as written, or once resolved).
fn same_folder(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Picks the training device: a GPU only when its gradients pass the self-check.
fn training_device(choice: DeviceChoice) -> Result<(ComputeDevice, Option<String>)> {
    let chosen = select(Some(choice))?;
    if !chosen.is_gpu {
        return Ok((chosen, None));
    }
    let check = check_conv_weight_gradient(&chosen.device);
    if check.passed() {
        return Ok((chosen, None));
    }
    let why = format!(
        "{} computes wrong convolution weight gradients ({:.0} % off in the self-check)",
        chosen.label,
        100.0 * check.relative_error
    );
    if choice == DeviceChoice::Gpu {
        return Err(CloeError::setting(
            Setting::Device,
            format!("{why}; training there is refused: train on the CPU instead"),
        ));
    }
    Ok((
        select(Some(DeviceChoice::Cpu))?,
        Some(format!("{why}; training on the CPU instead")),
    ))
}

/// Prepared cases and their names.
type NamedCases = (Vec<SamplerCase>, Vec<String>);

/// Loads and prepares the labelled cases of `opts.data_dir`, split into training and validation.
fn load_cases(opts: &TrainOptions) -> Result<(NamedCases, NamedCases)> {
    let prepared = labelled_cases(opts)?;
    let ids: Vec<String> = prepared.iter().map(|(id, _)| id.clone()).collect();
    for v in &opts.val_cases {
        if !ids.contains(v) {
            return Err(CloeError::setting(
                Setting::ValidationCases,
                format!(
                    "validation case {v} is not among the labelled cases: {}",
                    ids.join(", ")
                ),
            ));
        }
    }
    let val: Vec<String> = if !opts.val_cases.is_empty() {
        opts.val_cases.clone()
    } else if opts.val_fraction > 0.0 && ids.len() > 1 {
        let n = ((ids.len() as f64 * opts.val_fraction).round() as usize).clamp(1, ids.len() - 1);
        let mut order: Vec<usize> = (0..ids.len()).collect();
        let mut rng = step_rng(opts.seed, usize::MAX);
        use rand::seq::SliceRandom;
        order.shuffle(&mut rng);
        let mut v: Vec<String> = order[..n].iter().map(|&i| ids[i].clone()).collect();
        v.sort();
        v
    } else {
        Vec::new()
    };
    let (mut train, mut train_ids, mut valid, mut val_ids) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, c) in prepared {
        if val.contains(&id) {
            val_ids.push(id);
            valid.push(c);
        } else {
            train_ids.push(id);
            train.push(c);
        }
    }
    if train.is_empty() {
        return Err(CloeError::setting(
            Setting::ValidationCases,
            "every labelled case is a validation case: nothing is left to train on",
        ));
    }
    Ok(((train, train_ids), (valid, val_ids)))
}

/// The labelled cases of `opts.data_dir`, prepared for the model: read from a prepared dataset
/// (`cloe prepare`) as they are, else found, read and prepared (through the cache).
fn labelled_cases(opts: &TrainOptions) -> Result<Vec<(String, SamplerCase)>> {
    let cfg = &opts.config;
    let dir = &opts.data_dir;
    let prepared: Vec<(String, SamplerCase)> = if let Some(m) = cache::read_manifest(dir)? {
        if m.profile != cfg.profile || (m.spacing_mm - cfg.spacing_mm).abs() > 1e-6 {
            return Err(CloeError::bad_dataset(
                dir,
                format!(
                    "the cases were prepared for {} models at {} mm, this model is {} at {} mm: \
                     prepare them again with the model's profile and spacing",
                    m.profile, m.spacing_mm, cfg.profile, cfg.spacing_mm
                ),
            ));
        }
        m.cases
            .par_iter()
            .map(|id| Ok((id.clone(), cache::read_prepared(dir, id)?)))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|(_, c)| c.label.is_some())
            .collect()
    } else {
        let prepare = PrepareOptions::at_spacing(cfg.spacing_mm);
        find_labelled_cases(dir, Some(cfg.profile), "to train on")?
            .par_iter()
            .map(|s| {
                let case = prepared_case(s, prepare, opts.cache_dir.as_deref())?;
                Ok((s.id.clone(), case))
            })
            .collect::<Result<_>>()?
    };
    if prepared.is_empty() {
        return Err(CloeError::no_case(
            dir,
            "no case with a label map to train on",
        ));
    }
    Ok(prepared)
}
