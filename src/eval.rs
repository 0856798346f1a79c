//! Evaluating a model on labelled cases as the paper's Table 1 does: for every case and every subset of
//! the modalities it has, the fused segmentation's Dice and HD95 per region and the gating weights.
//! `cloe eval` prints and writes the table; this module computes it.

use crate::case::{Subset, find_cases, load_case};
use crate::error::{CloeError, Result};
use crate::infer::Session;
use crate::io::ReadOptions;
use crate::metrics::{SubsetTable, region_scores};
use crate::model::CloeNet;
use burn::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Evaluates `net` on every labelled case of `data` on `device`. `progress(done, total)` counts
/// (case, subset) pairs; `cancel` stops between them with [`CloeError::Cancelled`].
pub fn evaluate(
    net: &CloeNet,
    data: &Path,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<SubsetTable> {
    let profile = net.config().profile;
    let sources: Vec<_> = find_cases(data, Some(profile))?
        .into_iter()
        .filter(|s| s.label.is_some())
        .collect();
    if sources.is_empty() {
        return Err(CloeError::no_case(
            data,
            "no case with a ground-truth label map to evaluate on",
        ));
    }
    let mut table = SubsetTable::new(profile);
    let total = sources.len() * table.subsets.len();
    let mut done = 0;
    for source in &sources {
        let case = load_case(source, ReadOptions::default())?;
        let truth = &case.label.as_ref().expect("filtered on labels").classes;
        let mut session = Session::new(net.clone(), &case, device.clone())?;
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
    table.cases = sources.iter().map(|s| s.id.clone()).collect();
    Ok(table)
}
