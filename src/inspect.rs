//! `cloe inspect`: what a case (or a dataset) holds, as a report for people (text) and scripts (JSON).

use crate::case::{
    Case, CaseChoices, CaseSource, FileReport, Profile, case_from_files, find_case, find_cases,
    load_case, series_roles,
};
use crate::error::{CloeError, Result};
use crate::io::ReadOptions;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `cloe inspect` found.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InspectReport {
    /// One case, read in full.
    Case(CaseReport),
    /// A dataset: its cases by name, files not read.
    Dataset(DatasetReport),
}

/// One case, read in full.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub id: String,
    pub profile: Profile,
    pub modalities_found: Vec<String>,
    pub modalities_missing: Vec<String>,
    /// The reference grid every volume was put on.
    pub grid_dims: [usize; 3],
    pub grid_spacing: [f64; 3],
    pub grid_orientation: String,
    pub label_convention: Option<String>,
    pub files: Vec<FileReport>,
    /// The series of a DICOM study and what each is used as (empty for NIfTI cases).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dicom_series: Vec<SeriesSummary>,
    pub notes: Vec<String>,
}

/// One DICOM series of a case, as `cloe inspect` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesSummary {
    pub number: Option<i64>,
    pub description: String,
    pub date: String,
    /// The DICOM Modality tag (MR, CT...).
    pub modality: String,
    pub slices: usize,
    /// The profile modality it is used as, if any.
    pub used_as: Option<String>,
}

/// A dataset: its cases by name, files not read.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetReport {
    #[serde(serialize_with = "crate::lossy_path::path")]
    pub path: PathBuf,
    pub cases: Vec<CaseSummary>,
}

/// One case of a dataset listing.
#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub id: String,
    pub profile: Profile,
    pub present: Vec<String>,
    pub missing: Vec<String>,
    pub has_label: bool,
}

/// Inspects one path (a file, a case folder or a dataset folder) or a list of files of one case;
/// `choices` says what files hold where their names do not (DICOM series, unnamed or 4-D NIfTI files).
pub fn inspect(
    paths: &[PathBuf],
    profile: Option<Profile>,
    choices: &CaseChoices,
    opts: ReadOptions,
) -> Result<InspectReport> {
    let mut sources = match paths {
        // A folder of files whose names say nothing is one case, to say which is which.
        [one] => match find_cases(one, profile) {
            Err(e @ CloeError::NoCase { .. }) => vec![find_case(one, profile).map_err(|_| e)?],
            other => other?,
        },
        many => vec![case_from_files(many, profile)?],
    };
    if !choices.is_empty() {
        for source in &mut sources {
            choices.apply(source)?;
        }
    }
    if let [source] = sources.as_slice() {
        return Ok(InspectReport::Case(case_report(&load_case(source, opts)?)));
    }
    Ok(InspectReport::Dataset(DatasetReport {
        path: paths.first().cloned().unwrap_or_default(),
        cases: sources.iter().map(summary).collect(),
    }))
}

fn summary(s: &CaseSource) -> CaseSummary {
    CaseSummary {
        id: s.id.clone(),
        profile: s.profile,
        present: s.present().iter().map(|k| k.to_string()).collect(),
        missing: s.missing().iter().map(|k| k.to_string()).collect(),
        has_label: s.label.is_some(),
    }
}

/// The report of a loaded case.
pub fn case_report(case: &Case) -> CaseReport {
    CaseReport {
        id: case.id.clone(),
        profile: case.profile,
        modalities_found: case
            .source
            .present()
            .iter()
            .map(|k| k.to_string())
            .collect(),
        modalities_missing: case
            .source
            .missing()
            .iter()
            .map(|k| k.to_string())
            .collect(),
        grid_dims: case.grid.dims,
        grid_spacing: case.grid.spacing(),
        grid_orientation: case.grid.axcodes(),
        label_convention: case
            .label
            .as_ref()
            .map(|l| format!("{:?}", l.convention.disk_values())),
        files: case.files.clone(),
        dicom_series: series_roles(&case.source)
            .into_iter()
            .map(|(s, role)| SeriesSummary {
                number: s.number,
                description: s.description.clone(),
                date: s.date.clone(),
                modality: s.modality.clone(),
                slices: s.slice_count,
                used_as: role.map(str::to_string),
            })
            .collect(),
        notes: case.notes.clone(),
    }
}

impl InspectReport {
    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        match self {
            InspectReport::Case(c) => c.to_text(),
            InspectReport::Dataset(d) => d.to_text(),
        }
    }
}

/// A number with at most 4 decimals and no trailing zeros (`1258`, `26598.18`).
fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl CaseReport {
    fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "case      {}", self.id);
        let _ = writeln!(s, "profile   {}", self.profile);
        let _ = writeln!(s, "found     {}", self.modalities_found.join(", "));
        let missing = if self.modalities_missing.is_empty() {
            "none".into()
        } else {
            self.modalities_missing.join(", ")
        };
        let _ = writeln!(s, "missing   {missing}");
        let [x, y, z] = self.grid_dims;
        let [sx, sy, sz] = self.grid_spacing;
        let _ = writeln!(
            s,
            "grid      {x}x{y}x{z} at {sx:.3}x{sy:.3}x{sz:.3} mm, {}",
            self.grid_orientation
        );
        for f in &self.files {
            write_file(&mut s, f);
        }
        if !self.dicom_series.is_empty() {
            write_series(&mut s, &self.dicom_series);
        }
        if !self.notes.is_empty() {
            let _ = writeln!(s);
            for n in &self.notes {
                let _ = writeln!(s, "note: {n}");
            }
        }
        s
    }
}

/// Writes one file of a case: its name, grid, type, non-finite voxels, intensities and labels.
fn write_file(s: &mut String, f: &FileReport) {
    let [x, y, z] = f.dims;
    let [sx, sy, sz] = f.spacing;
    let channel = f
        .channel
        .map(|c| format!(" [volume {c} of {}]", f.volumes))
        .unwrap_or_default();
    let _ = writeln!(s, "\n{:<6} {}{channel}", f.role, file_name(&f.path));
    let _ = writeln!(
        s,
        "       {x}x{y}x{z} at {sx:.3}x{sy:.3}x{sz:.3} mm, {}, {}, affine from {:?}{}",
        f.orientation,
        f.datatype,
        f.affine_source,
        if f.resampled { ", resampled" } else { "" }
    );
    if f.nan_voxels + f.inf_voxels > 0 {
        let _ = writeln!(
            s,
            "       {} NaN and {} Inf voxels set to 0",
            f.nan_voxels, f.inf_voxels
        );
    }
    if let Some(i) = &f.intensity {
        let _ = writeln!(
            s,
            "       range {}..{}, {} non-zero voxels; percentiles of those: p0.5 {}  p50 {}  p99.5 {}",
            num(i.min),
            num(i.max),
            i.nonzero,
            num(i.p0_5),
            num(i.p50),
            num(i.p99_5)
        );
    }
    for l in f.labels.iter().flatten() {
        let _ = writeln!(
            s,
            "       label {:>3} {:<12} {:>10} voxels {:>10.3} ml",
            l.value, l.name, l.voxels, l.ml
        );
    }
}

/// Writes the table of a DICOM study's series and what each is used as.
fn write_series(s: &mut String, series: &[SeriesSummary]) {
    let _ = writeln!(
        s,
        "\nDICOM series (choose one for a modality as MODALITY=NUMBER)"
    );
    for d in series {
        let _ = writeln!(
            s,
            "  {:>4}  {:<40} {:<8} {:<3} {:>4} slices  {}",
            d.number
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            d.description,
            d.date,
            d.modality,
            d.slices,
            d.used_as
                .as_deref()
                .map(|m| format!("→ {m}"))
                .unwrap_or_default()
        );
    }
}

impl DatasetReport {
    fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "dataset {} with {} cases",
            self.path.display(),
            self.cases.len()
        );
        for c in &self.cases {
            let missing = if c.missing.is_empty() {
                String::new()
            } else {
                format!("  missing {}", c.missing.join(","))
            };
            let label = if c.has_label { "  + label" } else { "" };
            let _ = writeln!(
                s,
                "  {:<28} {:<8} {}{label}{missing}",
                c.id,
                c.profile.name(),
                c.present.join(",")
            );
        }
        s
    }
}
