//! `cloe refine`: the viewer's Refine mode for scripts and the benchmark. The model runs on the case
//! (its experts kept, as in the viewer), then either the strokes of a JSON file refine its labels (or
//! those of `--labels`), or a simulated user draws `--simulate N` strokes against the case's ground
//! truth and the Dice after each and the time of each update are printed.

use super::outln;
use crate::case::{CaseChoices, Profile, find_case, load_case, read_label_file};
use crate::device::{DeviceChoice, select};
use crate::error::{CloeError, Result};
use crate::export_prediction::write_labels;
use crate::infer::Session;
use crate::io::{ReadOptions, WriteOptions, check_target, write_json};
use crate::model::load_model;
use crate::refine::{RefineInput, RefineOptions, Scribble, refine, simulate};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Arguments of `cloe refine`.
#[derive(Debug, clap::Args)]
pub struct RefineArgs {
    /// The case: a folder (NIfTI files or a DICOM study), or one of its files.
    pub case: PathBuf,
    /// The model folder (config.json + model.bpk); it runs on the case first.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub choices: super::case_choice::CaseChoiceArgs,
    /// Start from this label map instead of the model's segmentation.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// The strokes: a JSON list of {"class": NAME or NUMBER, "voxels": [[x, y, z], …]} (voxel
    /// indices of the case's grid; class 0 or "background" says "not tumour").
    #[arg(
        long,
        conflicts_with = "simulate",
        required_unless_present = "simulate"
    )]
    pub strokes: Option<PathBuf>,
    /// Instead of strokes: a simulated user draws N strokes against the case's ground truth (each
    /// through the centre of the largest error region, labelled with its true class).
    #[arg(long, value_name = "N")]
    pub simulate: Option<usize>,
    /// With --simulate: the user corrects only this region's errors (e.g. TC or ET: voxels in it
    /// labelled outside it or the other way round), as when reading one region.
    #[arg(long, value_name = "REGION", requires = "simulate")]
    pub focus: Option<String>,
    /// The refined label map (.nii.gz), on the case's grid and label convention.
    #[arg(long)]
    pub out: PathBuf,
    /// A JSON report: voxels changed, seconds, and with --simulate the Dice after each stroke.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// How far beyond the strokes the labels may change, in mm.
    #[arg(long, default_value_t = 15.0)]
    pub margin: f64,
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Replace existing output files (inputs are never replaced).
    #[arg(long)]
    pub force: bool,
}

/// One stroke as the JSON file gives it.
#[derive(Debug, Deserialize)]
struct StrokeFile {
    class: ClassName,
    voxels: Vec<[usize; 3]>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ClassName {
    Number(u8),
    Name(String),
}

/// What `--report` holds.
#[derive(Debug, Serialize)]
struct RefineReport {
    case: String,
    strokes: usize,
    changed_voxels: usize,
    seconds: Vec<f64>,
    /// With --simulate: the Dice of each region after 0, 1, … strokes.
    dice: Vec<Vec<f64>>,
    regions: Vec<&'static str>,
    refused: Vec<String>,
}

/// `cloe refine`.
pub fn run_refine(a: RefineArgs) -> Result<()> {
    let compute = select(a.device)?;
    let net = load_model(&a.model, &compute.device)?;
    let profile = net.config().profile;
    let mut source = find_case(&a.case, Some(profile))?;
    CaseChoices::from(a.choices.clone()).apply(&mut source)?;
    let case = load_case(&source, ReadOptions::default())?;
    let opts = WriteOptions::protecting(source.input_files()).overwriting(a.force);
    for target in [Some(&a.out), a.report.as_ref()].into_iter().flatten() {
        check_target(target, &opts)?;
    }
    let focus = focus_classes(profile, a.focus.as_deref())?;
    let strokes = match &a.strokes {
        Some(path) => Some(read_strokes(path, profile, case.grid.dims)?),
        None => None,
    };
    let truth = match (&a.simulate, &case.label) {
        (Some(_), None) => {
            return Err(CloeError::Refused(format!(
                "--simulate needs the case's ground truth; {} has no label map",
                case.id
            )));
        }
        (_, label) => label.as_ref().map(|l| l.classes.clone()),
    };
    let mut session = Session::new(net, &case, compute.device.clone())?;
    let maps = session.segment(&case.available(), &mut |_, _| {}, &AtomicBool::new(false))?;
    let start = match &a.labels {
        Some(path) => read_label_file(&case, path)?,
        None => maps.classes.clone(),
    };
    let input = RefineInput::new(&case, &maps);
    let ropts = RefineOptions {
        margin_mm: a.margin,
        ..RefineOptions::default()
    };
    let mut report = RefineReport {
        case: case.id.clone(),
        strokes: 0,
        changed_voxels: 0,
        seconds: Vec::new(),
        dice: Vec::new(),
        regions: profile.regions().iter().map(|r| r.name).collect(),
        refused: Vec::new(),
    };
    let labels = match (strokes, truth) {
        (Some(strokes), _) => {
            let r = refine(&input, &start, &strokes, &ropts)?;
            outln!(
                "{}: {} voxels changed in {:.2} s",
                case.id,
                r.changed,
                r.seconds
            )?;
            (report.strokes, report.changed_voxels) = (strokes.len(), r.changed);
            report.seconds.push(r.seconds);
            r.labels
        }
        (None, Some(truth)) => {
            let n = a.simulate.unwrap_or(0);
            let s = simulate::run(&input, &start, &truth, (n, focus), &ropts);
            print_session(&report.regions, &s)?;
            (report.strokes, report.dice) = (s.seconds.len() + s.refused.len(), s.dice);
            (report.seconds, report.refused) = (s.seconds, s.refused);
            report.changed_voxels = start.iter().zip(&s.labels).filter(|(a, b)| a != b).count();
            s.labels
        }
        (None, None) => unreachable!("clap asks for --strokes or --simulate"),
    };
    write_labels(&a.out, &case, &labels, &opts)?;
    if let Some(path) = &a.report {
        write_json(path, &report, &opts)?;
    }
    Ok(())
}

/// The classes of the region `name` of `profile` (any case), or why there is no such region.
fn focus_classes(profile: Profile, name: Option<&str>) -> Result<Option<&'static [u8]>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let regions = profile.regions();
    match regions.iter().find(|r| r.name.eq_ignore_ascii_case(name)) {
        Some(r) => Ok(Some(r.classes)),
        None => Err(CloeError::Refused(format!(
            "--focus {name:?} is not a region of {} cases; the regions are {}",
            profile.name(),
            regions
                .iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn print_session(regions: &[&str], s: &simulate::Session) -> Result<()> {
    outln!("strokes  {}  seconds", regions.join("     "))?;
    for (k, dice) in s.dice.iter().enumerate() {
        let cells: Vec<String> = dice.iter().map(|d| format!("{d:.3}")).collect();
        let secs = (k > 0).then(|| s.seconds.get(k - 1)).flatten();
        let secs = secs.map_or(String::new(), |t| format!("{t:.2}"));
        outln!("{k:>7}  {}  {secs}", cells.join("  "))?;
    }
    for r in &s.refused {
        outln!("refused: {r}")?;
    }
    Ok(())
}

/// The strokes of a JSON file, checked against the profile's classes and the grid.
fn read_strokes(path: &Path, profile: Profile, dims: [usize; 3]) -> Result<Vec<Scribble>> {
    let bad = |why: String| CloeError::Refused(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(crate::error::plain_why(&e)))?;
    let strokes: Vec<StrokeFile> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let classes = profile.classes();
    strokes
        .into_iter()
        .map(|s| {
            let class = match s.class {
                ClassName::Number(c) => c,
                ClassName::Name(n) if n.eq_ignore_ascii_case("background") => 0,
                ClassName::Name(n) => (classes.iter().position(|c| c.eq_ignore_ascii_case(&n)))
                    .ok_or_else(|| {
                        bad(format!(
                            "no class {n}; the classes are {}",
                            classes.join(", ")
                        ))
                    })? as u8,
            };
            let outside = s.voxels.iter().find(|v| (0..3).any(|a| v[a] >= dims[a]));
            if let Some(v) = outside {
                return Err(bad(format!("voxel {v:?} lies outside the grid {dims:?}")));
            }
            let voxels = (s.voxels.iter())
                .map(|v| v[0] + dims[0] * (v[1] + dims[1] * v[2]))
                .collect();
            Ok(Scribble { class, voxels })
        })
        .collect()
}
