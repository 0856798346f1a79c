//! `cloe train`, `cloe segment` and `cloe eval`: thin wrappers over `train`, `infer::Session` +
//! `segment` and `eval`, with progress bars (indicatif) and files written next to nothing the user gave
//! as input.

use super::outln;
use crate::case::{
    Profile, find_case, find_cases, find_labelled_cases, load_case, reference_series,
};
use crate::device::{DeviceChoice, select};
use crate::error::{CloeError, Result};
use crate::eval::{evaluate, fit_postprocessing};
use crate::export_prediction::{
    LabelOrigin, SegmentReport, Shard, WindowsReport, parse_shard, write_extras, write_labels,
    write_labels_seg,
};
use crate::infer::{InferOptions, Session, WindowMode};
use crate::io::{ReadOptions, WriteOptions, check_target, is_volume_path, write_json, write_text};
use crate::model::{CloeConfig, load_model, save_config};
use crate::preprocess::PrepareOptions;
use crate::train::{TrainEvent, TrainOptions, prepare_dataset, train};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:30}} {{pos}}/{{len}} {{msg}} [{{elapsed_precise}} < {{eta}}]"
        ))
        .expect("valid template"),
    );
    pb
}

/// `cloe train`.
pub fn run_train(opts: TrainOptions) -> Result<()> {
    let cancel = AtomicBool::new(false);
    let pb = bar(opts.iterations as u64, "train");
    let mut on_event = |e: TrainEvent| match e {
        TrainEvent::Ready(ready) => {
            pb.println(ready.to_string());
            if let Some(n) = &ready.note {
                pb.println(format!("note: {n}"));
            }
            pb.set_position(ready.start_step as u64);
        }
        TrainEvent::Step {
            step, losses, lr, ..
        } => {
            pb.set_position(step as u64);
            if let Some(losses) = losses {
                pb.set_message(format!(
                    "loss {:.4} (seg {:.4} ecl {:.4} mec {:.4} rec {:.4} contrast {:.4}) lr {lr:.2e}",
                    losses.total, losses.seg, losses.ecl, losses.mec, losses.rec, losses.contrast
                ));
            }
        }
        TrainEvent::Validated {
            step,
            validation,
            best,
        } => {
            let regions: Vec<String> = validation
                .per_region
                .iter()
                .map(|d| format!("{d:.3}"))
                .collect();
            pb.println(format!(
                "step {step}: validation Dice {:.4} ({}){}",
                validation.score,
                regions.join(" "),
                if best { ", best so far" } else { "" }
            ));
        }
        TrainEvent::Checkpoint { .. } => {}
    };
    let summary = train(&opts, &mut on_event, &cancel)?;
    pb.finish();
    outln!(
        "{} steps in {:.0} s on {}; best validation Dice {}; model in {}",
        summary.steps,
        summary.seconds,
        summary.device,
        summary
            .best_score
            .map(|s| format!("{s:.4}"))
            .unwrap_or_else(|| "–".into()),
        opts.out_dir.display()
    )?;
    Ok(())
}

/// How `cloe segment` and `cloe eval` cut a case into windows.
#[derive(Debug, Clone, clap::Args)]
pub struct InferArgs {
    /// How the case is cut into windows for the network: `patch` (the model's patch, overlapping by
    /// --overlap) or `whole` (the cropped case at once, or the fewest large windows the memory
    /// allows).
    #[arg(long, value_enum, default_value_t)]
    pub windows: WindowMode,
    /// How much neighbouring patch windows overlap, 0 to 0.95 (0.5: each advances by half a patch).
    #[arg(long, default_value_t = InferOptions::OVERLAP, value_parser = parse_overlap)]
    pub overlap: f64,
}

/// An overlap from 0 to 0.95, or why not.
fn parse_overlap(arg: &str) -> std::result::Result<f64, String> {
    match arg.trim().parse::<f64>() {
        Ok(x) if (0.0..=0.95).contains(&x) => Ok(x),
        _ => Err(format!(
            "the overlap is a fraction of the patch from 0 to 0.95 (0.5: half), not {arg:?}"
        )),
    }
}

impl InferArgs {
    /// The options these arguments ask for.
    pub fn options(&self) -> InferOptions {
        InferOptions {
            windows: self.windows,
            overlap: self.overlap,
        }
    }
}

/// Arguments of `cloe segment`.
#[derive(Debug, clap::Args)]
pub struct SegmentArgs {
    /// The case: a folder (NIfTI files or a DICOM study), or one of its files; or a folder of cases
    /// (each is segmented, those done before skipped).
    pub case: PathBuf,
    /// The model folder (config.json + model.bpk).
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub choices: super::case_choice::CaseChoiceArgs,
    /// Output label map (.nii.gz), on the input's (reference series') grid and label convention; for
    /// a folder of cases, the folder to write ID.nii.gz and ID.json per case and summary.csv into.
    #[arg(long)]
    pub out: PathBuf,
    /// Use only these modalities, e.g. flair,t1c (the others count as missing even if present).
    #[arg(long)]
    pub modalities: Option<String>,
    /// Also write the fused class probabilities as a 4-D float32 NIfTI.
    #[arg(long)]
    pub probabilities: Option<PathBuf>,
    /// Also write each used expert's label map into this folder (expert_<modality>.nii.gz).
    #[arg(long)]
    pub experts: Option<PathBuf>,
    /// Also write the REC region map r (float32).
    #[arg(long)]
    pub region: Option<PathBuf>,
    /// Write a JSON report: per modality whether it was used, u, v and w; the device; the seconds.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Also write the labels as a DICOM Segmentation object (for a case opened from a DICOM study),
    /// on the grid of its reference series.
    #[arg(long, value_name = "FILE")]
    pub seg_out: Option<PathBuf>,
    /// The segments of the DICOM SEG: the nested regions (WT, TC, ET) or the disjoint classes.
    #[arg(long, value_enum, default_value = "regions")]
    pub seg_segments: super::seg_commands::SegmentsArg,
    #[command(flatten)]
    pub infer: InferArgs,
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Replace existing output files (inputs are never replaced); with a folder of cases, segment
    /// again the cases done before.
    #[arg(long)]
    pub force: bool,
    /// With a folder of cases: take only every N-th case, from the I-th (0-based), for one task of a
    /// job array (`--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

/// `cloe segment`.
pub fn run_segment(a: SegmentArgs) -> Result<()> {
    let t = Instant::now();
    let compute = select(a.device)?;
    let net = load_model(&a.model, &compute.device)?;
    let profile = net.config().profile;
    // A folder of several cases, a shard, or an output folder: a batch.
    let folder_out = !is_volume_path(&a.out);
    if let Ok(sources) = find_cases(&a.case, Some(profile))
        && (sources.len() > 1 || a.shard.is_some() || folder_out)
    {
        return super::batch_commands::run_batch(&a, sources, net, &compute);
    }
    let mut source = find_case(&a.case, Some(profile))?;
    crate::case::CaseChoices::from(a.choices.clone()).apply(&mut source)?;
    let case = load_case(&source, ReadOptions::default())?;
    let used = case.modalities_to_use(a.modalities.as_deref())?;
    let opts = WriteOptions::protecting(source.input_files()).overwriting(a.force);
    // Every output path is checked before the work, so a bad one fails at once.
    let targets = [
        &Some(a.out.clone()),
        &a.probabilities,
        &a.region,
        &a.report,
        &a.seg_out,
    ];
    for target in targets.into_iter().flatten() {
        check_target(target, &opts)?;
    }
    if a.seg_out.is_some() {
        reference_series(&case)?;
    }
    let pb = bar(0, "segment");
    // One subset: the experts are fused window by window and not kept (the viewer keeps them for its
    // modality switches), so a large case needs the memory of its maps alone.
    let infer = a.infer.options();
    let session = Session::with_options(net, &case, compute.device.clone(), infer, false)?;
    let mut progress = progress_of(&pb);
    let maps = session.segment_once(
        &used,
        a.experts.is_some(),
        &mut progress,
        &AtomicBool::new(false),
    )?;
    pb.finish_and_clear();
    let labels = write_labels(&a.out, &case, &maps.classes, &opts)?;
    let extras = (
        a.probabilities.as_deref(),
        a.experts.as_deref(),
        a.region.as_deref(),
    );
    write_extras(&case, &maps, extras.0, extras.1, extras.2, &opts)?;
    let seconds = t.elapsed().as_secs_f64();
    if let Some(path) = &a.seg_out {
        let origin = LabelOrigin::Model {
            name: crate::model::model_name(&a.model),
        };
        let kind = a.seg_segments.into();
        write_labels_seg(path, &case, &maps.classes, kind, &origin, &opts)?;
    }
    let mut report = SegmentReport::new(&case, &used, &maps, compute.label, seconds, labels);
    report.windows = Some(WindowsReport::of(&session, infer));
    print_segment_report(&report, &a.out)?;
    if let Some(path) = &a.report {
        write_json(path, &report, &opts)?;
    }
    Ok(())
}

/// A progress callback that moves `pb` (its length set by the first report).
fn progress_of(pb: &ProgressBar) -> impl FnMut(usize, usize) + '_ {
    |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    }
}

/// Per modality whether it was used (with u, v, w) or why not, and where the labels went.
fn print_segment_report(report: &SegmentReport, out: &std::path::Path) -> Result<()> {
    for m in &report.modalities {
        if m.used {
            outln!(
                "{:<6} used   u {:.3}  v {:.3}  w {:.3}",
                m.modality,
                m.u,
                m.v,
                m.w
            )?;
        } else {
            let why = if m.present { "not used" } else { "missing" };
            outln!("{:<6} {why}", m.modality)?;
        }
    }
    outln!(
        "wrote {} in {:.1} s on {}",
        out.display(),
        report.seconds,
        report.device
    )
}

/// Arguments of `cloe prepare`.
#[derive(Debug, clap::Args)]
pub struct PrepareArgs {
    /// Folder of labelled cases.
    pub data_dir: PathBuf,
    #[arg(long, value_parser = super::parse_profile)]
    pub profile: Profile,
    /// The folder to write (cases as compact NIfTI files, a JSON sidecar each, prepared.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Model spacing in mm (the model's `spacing_mm`).
    #[arg(long, default_value_t = CloeConfig::DEFAULT_SPACING_MM)]
    pub spacing: f64,
}

/// `cloe prepare`.
pub fn run_prepare(a: PrepareArgs) -> Result<()> {
    let sources = find_labelled_cases(&a.data_dir, Some(a.profile), "to prepare")?;
    if sources
        .iter()
        .any(|s| s.input_files().iter().any(|f| f.starts_with(&a.out)))
    {
        return Err(CloeError::unwritable(
            &a.out,
            "the output folder holds input files: choose a new folder",
        ));
    }
    let pb = bar(sources.len() as u64, "prepare");
    let manifest = prepare_dataset(
        &sources,
        PrepareOptions::at_spacing(a.spacing),
        &a.out,
        &mut |done, _| pb.set_position(done as u64),
    )?;
    pb.finish_and_clear();
    outln!(
        "prepared {} cases at {} mm into {}",
        manifest.cases.len(),
        manifest.spacing_mm,
        a.out.display()
    )?;
    Ok(())
}

/// Arguments of `cloe eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Folder of labelled cases.
    pub data_dir: PathBuf,
    #[arg(long)]
    pub model: PathBuf,
    /// Write the table as Markdown.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write every case, subset and region as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    #[command(flatten)]
    pub infer: InferArgs,
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Replace existing output files.
    #[arg(long)]
    pub force: bool,
    /// First choose the model's post-processing on these cases (keep the largest connected component
    /// of a region when that raises the mean Dice), write the decision into the model's config.json,
    /// then evaluate with it.
    #[arg(long)]
    pub fit_postprocessing: bool,
}

/// `cloe eval`: every labelled case, every availability subset, Dice and HD95 per region.
pub fn run_eval(a: EvalArgs) -> Result<()> {
    let (data, model) = (a.data_dir.as_path(), a.model.as_path());
    let opts = WriteOptions::default().overwriting(a.force);
    for target in [a.out.as_ref(), a.csv.as_ref()].into_iter().flatten() {
        check_target(target, &opts)?;
    }
    let compute = select(a.device)?;
    let infer = a.infer.options();
    let mut net = load_model(model, &compute.device)?;
    // What will be left out is said before the work; a case that fails later is skipped too.
    if let Ok(sources) = find_labelled_cases(data, Some(net.config().profile), "to evaluate on") {
        for (case, why) in crate::case::unreadable_cases(&sources) {
            eprintln!("warning: {case} will be skipped: {why}");
        }
    }
    if a.fit_postprocessing {
        let pb = bar(0, "post-processing");
        let mut progress = progress_of(&pb);
        let no = AtomicBool::new(false);
        let fit = fit_postprocessing(&net, data, &compute.device, infer, &mut progress, &no)?;
        pb.finish_and_clear();
        outln!(
            "# Post-processing chosen on {}\n{}",
            data.display(),
            fit.to_markdown()
        )?;
        net = net.with_postprocess(fit.chosen);
        save_config(net.config(), model)?;
    }
    let pb = bar(0, "eval");
    let mut progress = progress_of(&pb);
    let table = evaluate(
        &net,
        data,
        &compute.device,
        infer,
        &mut progress,
        &AtomicBool::new(false),
    )?;
    pb.finish_and_clear();
    let post = &net.config().postprocess;
    let md = format!(
        "# Evaluation of {} on {} cases ({})\nPost-processing: {}.\n{}{}",
        model.display(),
        table.cases.len(),
        compute.label,
        if post.is_none() {
            "none".to_string()
        } else {
            format!(
                "keep the largest component of {}",
                post.keep_largest.join(", ")
            )
        },
        table.to_markdown(),
        table.behaviour_markdown()
    );
    outln!("{md}")?;
    if let Some(p) = a.out.as_deref() {
        write_text(p, &md, &opts)?;
    }
    if let Some(p) = a.csv.as_deref() {
        write_text(p, &table.to_csv(), &opts)?;
    }
    Ok(())
}
