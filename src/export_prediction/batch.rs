//! Segmenting a folder of cases (`cloe segment FOLDER --out DIR`): each case's label map `DIR/ID.nii.gz`
//! and its report `DIR/ID.json`, both atomic and the report last, so a case with a report is done and a
//! run killed half-way, run again, does the rest; `--shard I/N` takes every N-th case for one task of a
//! cluster's job array; `DIR/summary.csv` is made from every report in the folder, so the last shard
//! to finish writes the whole cohort's table.

use super::{SegmentReport, write_labels};
use crate::case::{CaseSource, load_case};
use crate::error::{CloeError, Result, Setting};
use crate::infer::Session;
use crate::io::{ReadOptions, WriteOptions, check_target, write_json, write_text};
use crate::metrics::{MeasurementReport, csv_field};
use crate::model::CloeNet;
use burn::prelude::Device;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Task `index` of `count` (from 0): every case whose place in the sorted list is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Parses `I/N` with 0 ≤ I < N (a job array's task id and size).
pub fn parse_shard(arg: &str) -> Result<Shard> {
    let bad = || {
        CloeError::setting(
            Setting::Shard,
            format!(
                "a shard is I/N with 0 <= I < N (e.g. 0/4 for the first of 4 tasks), not '{arg}'"
            ),
        )
    };
    let (i, n) = arg.split_once('/').ok_or_else(bad)?;
    let (index, count): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// One case of a batch and where its outputs go.
#[derive(Debug, Clone)]
pub struct BatchCase {
    pub source: CaseSource,
    pub labels: PathBuf,
    pub report: PathBuf,
}

impl BatchCase {
    /// True when an earlier run finished it (its report is written after its labels).
    pub fn done(&self) -> bool {
        self.report.is_file() && self.labels.is_file()
    }
}

/// The cases of `sources` this task segments into `out` (created if missing), in id order.
pub fn plan_batch(
    mut sources: Vec<CaseSource>,
    out: &Path,
    shard: Option<Shard>,
) -> Result<Vec<BatchCase>> {
    std::fs::create_dir_all(out).map_err(|e| CloeError::write_failed(out, &e))?;
    let inputs: Vec<PathBuf> = sources.iter().flat_map(CaseSource::input_files).collect();
    let opts = WriteOptions::protecting(inputs).overwriting(true);
    check_target(&out.join("summary.csv"), &opts)?;
    sources.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = sources.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(CloeError::no_case(
            out,
            format!(
                "two cases are named {}: their outputs would collide; segment their folders apart",
                w[0].id
            ),
        ));
    }
    let shard = shard.unwrap_or(Shard { index: 0, count: 1 });
    Ok((sources.into_iter().enumerate())
        .filter(|(i, _)| i % shard.count == shard.index)
        .map(|(_, source)| BatchCase {
            labels: out.join(format!("{}.nii.gz", source.id)),
            report: out.join(format!("{}.json", source.id)),
            source,
        })
        .collect())
}

/// How each case of a batch is segmented.
pub struct BatchModel<'a> {
    pub net: &'a CloeNet,
    pub device: &'a Device,
    /// The device as reports name it.
    pub device_label: &'a str,
    /// `--modalities`, if given.
    pub modalities: Option<&'a str>,
    /// How each case is cut into windows.
    pub infer: crate::infer::InferOptions,
}

/// Segments one case of a batch: reads it, runs the model, writes its labels then its report.
pub fn segment_into(
    c: &BatchCase,
    model: &BatchModel,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<SegmentReport> {
    let t = Instant::now();
    let case = load_case(&c.source, ReadOptions::default())?;
    let used = case.modalities_to_use(model.modalities)?;
    let opts = WriteOptions::protecting(c.source.input_files()).overwriting(true);
    let (net, device) = (model.net.clone(), model.device.clone());
    let session = Session::with_options(net, &case, device, model.infer, false)?;
    let maps = session.segment_once(&used, false, progress, cancel)?;
    let labels = write_labels(&c.labels, &case, &maps.classes, &opts)?;
    let seconds = t.elapsed().as_secs_f64();
    let label = model.device_label.to_string();
    let mut report = SegmentReport::new(&case, &used, &maps, label, seconds, labels);
    report.windows = Some(super::WindowsReport::of(&session, model.infer));
    write_json(&c.report, &report, &opts)?;
    Ok(report)
}

/// Writes `out/summary.csv` from every case report in `out`, then a row for each case of `failed`
/// (id, why); returns its path and how many cases it lists as segmented.
pub fn write_summary(out: &Path, failed: &[(String, String)]) -> Result<(PathBuf, usize)> {
    let mut reports = read_reports(out)?;
    reports.sort_by(|a, b| a.case.cmp(&b.case));
    let text = summary_csv(&reports, failed);
    let path = out.join("summary.csv");
    write_text(&path, &text, &WriteOptions::default().overwriting(true))?;
    Ok((path, reports.len()))
}

/// Every `*.json` of `out` that is a segment report.
fn read_reports(out: &Path) -> Result<Vec<SegmentReport>> {
    let entries = std::fs::read_dir(out).map_err(|e| CloeError::unreadable(out, e))?;
    let mut reports = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        // A hidden `.tmp-…` file is a write a kill cut short.
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden
            && path.extension().is_some_and(|x| x == "json")
            && let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(r) = serde_json::from_str::<SegmentReport>(&text)
        {
            reports.push(r);
        }
    }
    Ok(reports)
}

/// The summary table: one row per case with the modalities used, the time, each region's volume,
/// the lesion count, Dice and HD95 where the case has a ground truth, and each modality's weight.
fn summary_csv(reports: &[SegmentReport], failed: &[(String, String)]) -> String {
    let Some(first) = reports.first() else {
        let mut s = "case,status\n".to_string();
        for (id, why) in failed {
            let _ = writeln!(
                s,
                "{},{}",
                csv_field(id),
                csv_field(&format!("failed: {why}"))
            );
        }
        return s;
    };
    let regions: Vec<&str> = first.profile.regions().iter().map(|r| r.name).collect();
    let modalities = first.profile.modalities();
    let mut head = vec![
        "case".to_string(),
        "status".into(),
        "modalities_used".into(),
    ];
    head.extend(["seconds".into(), "device".into()]);
    head.extend(regions.iter().map(|r| format!("{r}_ml")));
    head.push("lesions".into());
    head.extend(regions.iter().map(|r| format!("{r}_dice")));
    head.extend(regions.iter().map(|r| format!("{r}_hd95_mm")));
    head.extend(modalities.iter().map(|m| format!("w_{m}")));
    let mut s = head.join(",") + "\n";
    for r in reports {
        let _ = writeln!(s, "{}", summary_row(r, &regions));
    }
    for (id, why) in failed {
        let blanks = ",".repeat(head.len() - 2);
        let why = csv_field(&format!("failed: {why}"));
        let _ = writeln!(s, "{},{why}{blanks}", csv_field(id));
    }
    s
}

fn summary_row(r: &SegmentReport, regions: &[&str]) -> String {
    let used: Vec<&str> = (r.modalities.iter().filter(|m| m.used))
        .map(|m| m.modality.as_str())
        .collect();
    let mut cells = vec![csv_field(&r.case), "segmented".into(), used.join("+")];
    cells.extend([format!("{:.1}", r.seconds), csv_field(&r.device)]);
    cells.extend(MeasurementReport::csv_cells(Some(&r.measurements), regions));
    cells.extend(r.modalities.iter().map(|x| format!("{:.4}", x.w)));
    cells.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_cover_the_cases_once() {
        assert_eq!(parse_shard("1/4").unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "1", "a/2", "1/0", "-1/2"] {
            let e = parse_shard(bad).unwrap_err().to_string();
            assert!(e.contains("I/N"), "{bad}: {e}");
        }
    }
}
