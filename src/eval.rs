//! Evaluating a model on labelled cases as the paper's Table 1 does: for every case and every subset of
//! the modalities it has, the fused segmentation's Dice and HD95 per region and the gating weights.
//! `cloe eval` prints and writes the table; this module computes it.

use crate::case::{Profile, Subset, find_labelled_cases, load_case, unreadable_cases};
use crate::error::{CloeError, Result};
use crate::infer::{InferOptions, Session};
use crate::io::ReadOptions;
use crate::metrics::{SubsetTable, region_dice, region_scores};
use crate::model::CloeNet;
use crate::postprocess::PostProcess;
use burn::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Evaluates `net` on every labelled case of `data` on `device`. `progress(done, total)` counts
/// (case, subset) pairs; `cancel` stops between them with [`CloeError::Cancelled`].
pub fn evaluate(
    net: &CloeNet,
    data: &Path,
    device: &Device,
    infer: InferOptions,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<SubsetTable> {
    let profile = net.config().profile;
    let sources = find_labelled_cases(data, Some(profile), "to evaluate on")?;
    let mut table = SubsetTable::new(profile);
    table.skipped = unreadable_cases(&sources);
    let total = sources.len() * table.subsets.len();
    let mut done = 0;
    let mut evaluated = Vec::new();
    for source in &sources {
        if table.skipped.iter().any(|(id, _)| *id == source.id) {
            done += table.subsets.len();
            continue;
        }
        // A case that cannot be read is reported and skipped; the rest go on.
        let case = match load_case(source, ReadOptions::default()) {
            Ok(case) => case,
            Err(e) => {
                table.skipped.push((source.id.clone(), e.to_string()));
                done += table.subsets.len();
                continue;
            }
        };
        evaluated.push(source.id.clone());
        let truth = &case.label.as_ref().expect("filtered on labels").classes;
        // The imaged body: voxels where any modality is non-zero (skull-stripped BraTS: the brain).
        let body: Vec<bool> = (0..case.grid.len())
            .map(|i| case.modalities.iter().flatten().any(|v| v.data[i] != 0.0))
            .collect();
        let mut session = Session::with_options(net.clone(), &case, device.clone(), infer, true)?;
        session.run_experts(&mut |_, _| {}, cancel)?;
        let subsets: Vec<Subset> = table.subsets.clone();
        for (si, subset) in subsets.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(CloeError::Cancelled);
            }
            done += 1;
            progress(done, total);
            if !subset.is_subset_of(session.present()) {
                continue;
            }
            let maps = session.fuse(subset, false)?;
            table.gating.push((case.id.clone(), si, maps.w.clone()));
            let (inside, outside) = region_map_means(&maps.region, truth, &body);
            table
                .region_map
                .push((case.id.clone(), si, inside, outside));
            let scores = region_scores(
                profile,
                &maps.classes,
                truth,
                case.grid.dims,
                case.grid.spacing(),
            );
            for (r, (dice, hd95)) in scores.into_iter().enumerate() {
                table.rows.push((case.id.clone(), si, r, dice, hd95));
            }
        }
    }
    if evaluated.is_empty() {
        let why: Vec<String> = (table.skipped.iter())
            .map(|(c, w)| format!("{c}: {w}"))
            .collect();
        return Err(CloeError::NoCase {
            path: data.to_path_buf(),
            why: format!("no case could be read ({})", why.join("; ")),
        });
    }
    table.cases = evaluated;
    Ok(table)
}

/// Mean of the REC region map `r` over the ground-truth foreground, and over the rest of `body`.
fn region_map_means(r: &[f32], truth: &[u8], body: &[bool]) -> (f64, f64) {
    let (mut si, mut ni, mut so, mut no) = (0.0f64, 0usize, 0.0f64, 0usize);
    for ((&v, &c), &b) in r.iter().zip(truth).zip(body) {
        if c > 0 {
            si += v as f64;
            ni += 1;
        } else if b {
            so += v as f64;
            no += 1;
        }
    }
    (si / ni.max(1) as f64, so / no.max(1) as f64)
}

/// Mean Dice per region, over cases and subsets, of every combination of post-processing rules.
#[derive(Debug, Clone)]
pub struct PostProcessFit {
    pub profile: Profile,
    /// Each candidate (nothing first) with its mean Dice per region.
    pub candidates: Vec<(PostProcess, Vec<f64>)>,
    /// The candidate with the highest mean over regions (the fewer rules on a tie).
    pub chosen: PostProcess,
}

impl PostProcessFit {
    /// The candidates as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let regions: Vec<&str> = self.profile.regions().iter().map(|r| r.name).collect();
        let mut md = format!(
            "| keep the largest component of | {} | mean |\n|---|{}---|\n",
            regions.join(" | "),
            "---|".repeat(regions.len())
        );
        for (p, dice) in &self.candidates {
            let name = if p.is_none() {
                "nothing".into()
            } else {
                p.keep_largest.join(", ")
            };
            let mark = if *p == self.chosen { " (chosen)" } else { "" };
            let cells: Vec<String> = dice.iter().map(|d| format!("{:.2}", 100.0 * d)).collect();
            md += &format!(
                "| {name}{mark} | {} | {:.2} |\n",
                cells.join(" | "),
                100.0 * dice.iter().sum::<f64>() / dice.len() as f64
            );
        }
        md
    }
}

/// Chooses the post-processing of `net` as nnU-Net does, on the labelled cases of `data`: for every
/// case and subset the raw fused segmentation is scored with every combination of "keep the largest
/// connected component" over the profile's regions; the combination with the highest mean Dice wins.
pub fn fit_postprocessing(
    net: &CloeNet,
    data: &Path,
    device: &Device,
    infer: InferOptions,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<PostProcessFit> {
    let profile = net.config().profile;
    let raw = net.clone().with_postprocess(PostProcess::none());
    let regions = profile.regions().len();
    let candidates = keep_largest_candidates(profile);
    let sources = find_labelled_cases(data, Some(profile), "to choose the post-processing on")?;
    let subsets = Subset::every(profile);
    let (total, mut done) = (sources.len() * subsets.len(), 0);
    let mut sums = vec![vec![0.0f64; regions]; candidates.len()];
    let mut count = 0usize;
    for source in &sources {
        let case = load_case(source, ReadOptions::default())?;
        let truth = &case.label.as_ref().expect("filtered on labels").classes;
        let mut session = Session::with_options(raw.clone(), &case, device.clone(), infer, true)?;
        session.run_experts(&mut |_, _| {}, cancel)?;
        for subset in &subsets {
            if cancel.load(Ordering::Relaxed) {
                return Err(CloeError::Cancelled);
            }
            done += 1;
            progress(done, total);
            if !subset.is_subset_of(session.present()) {
                continue;
            }
            let classes = session.fuse(subset, false)?.classes;
            for (candidate, sum) in candidates.iter().zip(sums.iter_mut()) {
                let mut c = classes.clone();
                candidate.apply(profile, &mut c, case.grid.dims);
                for (s, d) in sum.iter_mut().zip(region_dice(profile, &c, truth)) {
                    *s += d;
                }
            }
            count += 1;
        }
    }
    let candidates: Vec<(PostProcess, Vec<f64>)> = candidates
        .into_iter()
        .zip(sums)
        .map(|(p, s)| (p, s.iter().map(|x| x / count.max(1) as f64).collect()))
        .collect();
    let chosen = best_candidate(&candidates);
    Ok(PostProcessFit {
        profile,
        candidates,
        chosen,
    })
}

/// Every combination of "keep the largest connected component" over the profile's regions.
fn keep_largest_candidates(profile: Profile) -> Vec<PostProcess> {
    let regions: Vec<String> = profile
        .regions()
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    (0..1usize << regions.len())
        .map(|bits| PostProcess {
            keep_largest: (0..regions.len())
                .filter(|r| bits >> r & 1 == 1)
                .map(|r| regions[r].clone())
                .collect(),
        })
        .collect()
}

/// The candidate with the highest mean Dice over regions (the fewer rules on a tie).
fn best_candidate(candidates: &[(PostProcess, Vec<f64>)]) -> PostProcess {
    let mean = |d: &[f64]| d.iter().sum::<f64>() / d.len() as f64;
    candidates
        .iter()
        .max_by(|a, b| {
            mean(&a.1)
                .total_cmp(&mean(&b.1))
                .then(b.0.keep_largest.len().cmp(&a.0.keep_largest.len()))
        })
        .map(|(p, _)| p.clone())
        .unwrap_or_default()
}
