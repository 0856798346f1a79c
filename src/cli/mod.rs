//! The `cloe` command line: clap subcommands that call the library, print results, and turn every
//! error into a message and exit code 2.

mod batch_commands;
mod case_choice;
mod info_commands;
mod model_commands;
mod refine_command;
mod seg_commands;

use crate::case::Profile;
use crate::device::DeviceChoice;
use crate::error::{CloeError, Result, Setting};
use crate::inspect::inspect;
use crate::io::ReadOptions;
use crate::model::{Ablation, CloeConfig, GateInput, LossWeights};
use crate::train::TrainOptions;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `println!` that returns an error (`CloeError::Output`) instead of panicking when the standard
/// output is closed or full.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::error::CloeError::Output)
    }};
}
pub(crate) use outln;

/// CLoE Studio: read multimodal MRI with missing sequences.
#[derive(Debug, Parser)]
#[command(name = "cloe", version, about, long_about = None)]
pub struct Cli {
    /// Without a subcommand, the viewer opens on the bundled demo case with the shipped model.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the viewer on a case (three linked planes, window/level, label overlays).
    View {
        /// A case folder (NIfTI files or a DICOM study), one of its files, or a folder of cases (a
        /// worklist). Without one, the bundled demo case with the shipped model.
        path: Option<PathBuf>,
        #[command(flatten)]
        choices: case_choice::CaseChoiceArgs,
        /// A label map to overlay (e.g. the output of `cloe segment`) instead of the ground truth.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// A model folder: CLoE runs on the case as soon as it is open.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Describe a case or a dataset: profile, modalities found and missing, per file shape, spacing,
    /// orientation, datatype and intensity percentiles, label values with voxel counts and volumes in ml,
    /// and any resampling done to put the modalities on one grid.
    Inspect {
        /// A case folder, a dataset folder, an MSD dataset (with dataset.json), a DICOM study or a
        /// folder of studies, one NIfTI file, or several files of one case.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Force the profile instead of guessing it from the file names.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<Profile>,
        /// Refuse files with NaN or infinite voxels (by default they are read as 0, background, and
        /// counted).
        #[arg(long)]
        reject_nonfinite: bool,
        #[command(flatten)]
        choices: case_choice::CaseChoiceArgs,
    },
    /// Train CLoE on the labelled cases of a folder (or resume a stopped run).
    Train(Box<TrainArgs>),
    /// Segment a case with a trained model; writes the label map on the case's own grid and convention.
    Segment(Box<model_commands::SegmentArgs>),
    /// Correct a segmentation with a few strokes (the viewer's Refine mode): strokes from a JSON file,
    /// or a simulated user drawing N strokes against the ground truth (Dice after each, timings).
    Refine(Box<refine_command::RefineArgs>),
    /// Write a saved label file as a DICOM Segmentation object (SEG) of the DICOM study it was made on.
    ExportSeg(seg_commands::ExportSegArgs),
    /// Evaluate a model on every labelled case and every modality subset: Dice and HD95 per region, in
    /// the layout of the paper's Table 1.
    Eval(model_commands::EvalArgs),
    /// List the GPU adapters of this machine and the device the network would run on.
    Devices(info_commands::DevicesArgs),
    /// Prepare the labelled cases of a folder for training once (crop, z-score, model spacing) into a
    /// compact folder that `cloe train` reads as it is, without the original files (to carry a
    /// training set to another machine).
    Prepare(model_commands::PrepareArgs),
    /// Benchmark the network on a BraTS case: conv kernel, forward, re-fusion, training step.
    Bench(info_commands::BenchArgs),
}

/// `--gate-input` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateInputArg {
    Raw,
    Standardized,
}

/// Arguments of `cloe train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Folder of labelled cases (a dataset folder or an MSD dataset).
    pub data_dir: PathBuf,
    #[arg(long, value_parser = parse_profile)]
    pub profile: Profile,
    /// Model folder to write (config.json, model.bpk, train-log.csv, checkpoint/).
    #[arg(long)]
    pub out: PathBuf,
    /// Share of cases held out for validation (ignored with --val-cases).
    #[arg(long, default_value_t = TrainOptions::DEFAULT_VAL_FRACTION)]
    pub val_fraction: f64,
    /// Validation cases by name, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub val_cases: Vec<String>,
    /// Steps of the whole run [default: 1000; a resumed run: its own, which a larger number extends].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Patches per step, all with the step's modality subset (larger batches use a GPU better).
    #[arg(long, default_value_t = TrainOptions::DEFAULT_BATCH)]
    pub batch: usize,
    /// Fine-tune: start from the weights of this model folder (same channels) instead of random ones.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Patch side in voxels (multiple of 8).
    #[arg(long, default_value_t = CloeConfig::DEFAULT_PATCH)]
    pub patch: usize,
    /// Model spacing in mm.
    #[arg(long, default_value_t = CloeConfig::DEFAULT_SPACING_MM)]
    pub spacing: f64,
    /// Base channels C (levels have C, 2C, 4C, 8C).
    #[arg(long, default_value_t = CloeConfig::DEFAULT_CHANNELS)]
    pub channels: usize,
    /// Continue from the last checkpoint in --out, with that run's own options (network, losses,
    /// learning rate, batch, seed, validation; `--iterations` may extend it); `--time-limit`,
    /// `--device`, `--log-every` and the cache apply to this stretch.
    #[arg(long)]
    pub resume: bool,
    /// Replace the model already in --out (a new run there is refused otherwise).
    #[arg(long, conflicts_with = "resume")]
    pub replace: bool,
    /// Stop after this many seconds (checkpoint written; continue later with --resume).
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Read the losses back every N steps (each read waits for the device; on a GPU, 10 or more keeps
    /// it busy). Default: every step.
    #[arg(long)]
    pub log_every: Option<usize>,
    /// Keep the prepared cases (model spacing, z-scored) in this folder for later runs
    /// (default: the user's cache folder, e.g. ~/.cache/cloe/prepared).
    #[arg(long, conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Prepare the cases again instead of keeping them between runs.
    #[arg(long)]
    pub no_cache: bool,
    #[arg(long, default_value_t = TrainOptions::DEFAULT_SEED)]
    pub seed: u64,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long, default_value_t = TrainOptions::DEFAULT_LR)]
    pub lr: f64,
    /// The gating MLP and the region head learn at this multiple of --lr (for heads that start
    /// afresh when fine-tuning; 1: as the rest of the network).
    #[arg(long, default_value_t = TrainOptions::DEFAULT_HEAD_LR_SCALE)]
    pub head_lr_scale: f64,
    #[arg(long, default_value_t = TrainOptions::DEFAULT_WEIGHT_DECAY)]
    pub weight_decay: f64,
    /// α: weight of L_ECL.
    #[arg(long, default_value_t = LossWeights::DEFAULT.alpha)]
    pub alpha: f64,
    /// β: weight of L_contrast.
    #[arg(long, default_value_t = LossWeights::DEFAULT.beta)]
    pub beta: f64,
    /// η: weight of MEC + λ_rec·REC inside L_ECL.
    #[arg(long, default_value_t = LossWeights::DEFAULT.eta)]
    pub eta: f64,
    /// λ_rec: weight of REC.
    #[arg(long, default_value_t = LossWeights::DEFAULT.lambda_rec)]
    pub lambda_rec: f64,
    /// Weight of the region-map supervision: binary cross-entropy tying the REC map r to the tumour
    /// (0, the default, is the paper's CLoE).
    #[arg(long, default_value_t = LossWeights::DEFAULT.region)]
    pub region_weight: f64,
    /// Weight of a soft Dice on the evaluated regions (WT, TC, ET for BraTS) beside the per-class
    /// Dice (0, the default, is the paper's CLoE).
    #[arg(long, default_value_t = LossWeights::DEFAULT.region_dice)]
    pub region_dice: f64,
    /// Deep supervision of the fusion decoder at 1/2 and 1/4 resolution (nnU-Net). Kept when resuming
    /// or starting from a model that has it.
    #[arg(long)]
    pub deep_supervision: bool,
    /// The region head π sees the averaged f1, f2 and f3 through a conv block instead of f1 alone (a
    /// change to the paper, see models/brats/README.md). Kept when resuming or starting from a model
    /// that has it.
    #[arg(long)]
    pub region_context: bool,
    /// What the gating MLP sees of the consistency scores: `raw` (eq. 7 as written) or
    /// `standardized` over the available experts (see models/brats/eval.md). Default: the choice of
    /// the run being resumed or of the `--init` model, else raw; starting from a model with the other
    /// choice gives the gate fresh weights.
    #[arg(long, value_enum)]
    pub gate_input: Option<GateInputArg>,
    /// Validate every N steps.
    #[arg(long, default_value_t = TrainOptions::DEFAULT_VALIDATE_EVERY)]
    pub validate_every: usize,
    /// Write a checkpoint every N steps.
    #[arg(long, default_value_t = TrainOptions::DEFAULT_CHECKPOINT_EVERY)]
    pub checkpoint_every: usize,
    /// Ablation: no Modality Expert Consistency loss.
    #[arg(long)]
    pub no_mec: bool,
    /// Ablation: no Region Expert Consistency loss.
    #[arg(long)]
    pub no_rec: bool,
    /// Ablation: no gating network (w ∝ u + v).
    #[arg(long)]
    pub no_gating: bool,
    /// Ablation: no weighted fusion (plain mean of the experts' features).
    #[arg(long)]
    pub no_weighted_fusion: bool,
}

impl TrainArgs {
    fn into_options(self) -> Result<TrainOptions> {
        let (resume, iterations) = (self.resume, self.iterations);
        let o = self.given_options();
        if resume {
            o.continuing(iterations)
        } else {
            Ok(o)
        }
    }

    /// The options as given on the command line (defaults for the rest).
    fn given_options(self) -> TrainOptions {
        let mut o = TrainOptions::new(self.data_dir, self.out, self.profile);
        o.val_fraction = self.val_fraction;
        o.val_cases = self.val_cases;
        o.iterations = (self.iterations).unwrap_or(TrainOptions::DEFAULT_ITERATIONS);
        o.batch = self.batch;
        o.init = self.init;
        o.resume = self.resume;
        // An explicit choice, else the resumed run's, else the starting model's, else raw.
        let saved =
            |dir: &std::path::Path| crate::model::load_config(dir).ok().map(|c| c.gate_input);
        let gate_input = match self.gate_input {
            Some(GateInputArg::Raw) => GateInput::Raw,
            Some(GateInputArg::Standardized) => GateInput::Standardized,
            None => (o.resume.then(|| saved(&o.out_dir)).flatten())
                .or_else(|| o.init.as_deref().and_then(saved))
                .unwrap_or_default(),
        };
        // A switch given, or kept from the resumed run or the starting model.
        let earlier = (o
            .resume
            .then(|| crate::model::load_config(&o.out_dir).ok())
            .flatten())
        .or_else(|| {
            o.init
                .as_deref()
                .and_then(|d| crate::model::load_config(d).ok())
        });
        let kept = |f: fn(&CloeConfig) -> bool| earlier.as_ref().is_some_and(f);
        o.config.deep_supervision = self.deep_supervision || kept(|c| c.deep_supervision);
        o.config.region_context = self.region_context || kept(|c| c.region_context);
        o.replace = self.replace;
        o.time_limit_seconds = self.time_limit;
        if let Some(n) = self.log_every {
            o.log_every = n;
        }
        if self.no_cache {
            o.cache_dir = None;
        } else if let Some(dir) = self.cache_dir {
            o.cache_dir = Some(dir);
        }
        o.seed = self.seed;
        o.device = self.device;
        o.lr = self.lr;
        o.head_lr_scale = self.head_lr_scale;
        o.weight_decay = self.weight_decay;
        o.validate_every = self.validate_every;
        o.checkpoint_every = self.checkpoint_every;
        let c = &mut o.config;
        c.patch = self.patch;
        c.spacing_mm = self.spacing;
        c.channels = self.channels;
        c.loss.alpha = self.alpha;
        c.loss.beta = self.beta;
        c.loss.eta = self.eta;
        c.loss.lambda_rec = self.lambda_rec;
        c.loss.region = self.region_weight;
        c.loss.region_dice = self.region_dice;
        c.gate_input = gate_input;
        c.ablation = Ablation {
            mec: !self.no_mec,
            rec: !self.no_rec,
            gating: !self.no_gating,
            weighted_fusion: !self.no_weighted_fusion,
        };
        o
    }
}

fn parse_profile(s: &str) -> std::result::Result<Profile, String> {
    Profile::from_name(s).ok_or_else(|| format!("unknown profile {s:?}: use brats or prostate"))
}

/// Runs the command line; errors become a message on stderr and exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::panic_capture::quiet_panics();
    match crate::guard::guarded("compute device", || run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`cloe inspect … | head`) is not an error.
        Err(CloeError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}{}", flag_hint(&e));
            ExitCode::from(2)
        }
    }
}

/// The command-line flag behind a setting that an error message names (the library speaks of
/// settings, the CLI adds how to change them here).
fn flag_hint(e: &CloeError) -> &'static str {
    match e {
        CloeError::Unwritable { why, .. } if why.contains("allow replacing") => " (--force)",
        CloeError::GpuLost => " (--device cpu)",
        CloeError::Setting { setting, .. } => match setting {
            Setting::Modalities => " (--modalities)",
            Setting::Series => " (--series MODALITY=NUMBER)",
            Setting::Sequence => " (--as MODALITY, --as MODALITY=FILE, @VOLUME for a 4-D file)",
            Setting::Device => " (--device cpu)",
            Setting::Shard => " (--shard I/N)",
            Setting::Training => "",
            Setting::ValidationCases => " (--val-cases)",
            Setting::OutputFolder => " (--out; --resume or --replace)",
        },
        _ => "",
    }
}

/// The viewer on the bundled demo case with the shipped model (either may be missing).
fn open_demo() -> Result<()> {
    let case = crate::resources::bundled_case();
    let model = crate::resources::bundled_model();
    crate::app::run(
        case.is_dir().then_some(case),
        Default::default(),
        None,
        model.join("config.json").is_file().then_some(model),
    )
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<()> {
    crate::device_probe::register();
    let Some(command) = cli.command else {
        return open_demo();
    };
    match command {
        Command::View { path: None, .. } => open_demo()?,
        Command::View {
            path,
            choices,
            labels,
            model,
        } => crate::app::run(path, choices.into(), labels, model)?,
        Command::Inspect {
            paths,
            json,
            profile,
            reject_nonfinite,
            choices,
        } => {
            let opts = ReadOptions { reject_nonfinite };
            let report = inspect(&paths, profile, &choices.into(), opts)?;
            if json {
                outln!("{}", to_json(&report)?)?;
            } else {
                outln!("{}", report.to_text().trim_end())?;
            }
        }
        Command::Train(args) => model_commands::run_train(args.into_options()?)?,
        Command::Segment(args) => model_commands::run_segment(*args)?,
        Command::Eval(a) => model_commands::run_eval(a)?,
        Command::ExportSeg(a) => seg_commands::run_export_seg(a)?,
        Command::Refine(a) => refine_command::run_refine(*a)?,
        Command::Prepare(a) => model_commands::run_prepare(a)?,
        Command::Bench(a) => info_commands::run_bench(a)?,
        Command::Devices(a) => info_commands::run_devices(a)?,
    }
    Ok(())
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|e| CloeError::Internal(format!("cannot write JSON: {e}")))
}
