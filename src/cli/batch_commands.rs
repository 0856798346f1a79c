//! `cloe segment FOLDER --out DIR`: every case of a folder (or this task's shard of them) segmented
//! with one progress bar, cases done before skipped, a failed case reported and the rest carried on,
//! `DIR/summary.csv` written at the end (`export_prediction::batch` does the work).

use super::model_commands::SegmentArgs;
use super::outln;
use crate::case::CaseSource;
use crate::device::ComputeDevice;
use crate::error::{CloeError, Result};
use crate::export_prediction::{BatchModel, plan_batch, segment_into, write_summary};
use crate::model::CloeNet;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::AtomicBool;

/// The single-case outputs a batch does not write, as flags.
fn single_case_flags(a: &SegmentArgs) -> Vec<&'static str> {
    let given = [
        (a.probabilities.is_some(), "--probabilities"),
        (a.experts.is_some(), "--experts"),
        (a.region.is_some(), "--region"),
        (a.report.is_some(), "--report"),
        (a.seg_out.is_some(), "--seg-out"),
        (!a.choices.series.is_empty(), "--series"),
        (!a.choices.sequences.is_empty(), "--as"),
    ];
    given
        .into_iter()
        .filter(|(g, _)| *g)
        .map(|(_, f)| f)
        .collect()
}

/// Segments `sources` into the folder `a.out`.
pub fn run_batch(
    a: &SegmentArgs,
    sources: Vec<CaseSource>,
    net: CloeNet,
    compute: &ComputeDevice,
) -> Result<()> {
    let flags = single_case_flags(a);
    if !flags.is_empty() {
        return Err(CloeError::Refused(format!(
            "{} name(s) one case's outputs or files; a folder of cases writes DIR/ID.nii.gz and \
             DIR/ID.json per case and DIR/summary.csv (segment the case alone for the others)",
            flags.join(", ")
        )));
    }
    // What cannot be read is said before the work; those cases fail and are carried past below.
    for (case, why) in crate::case::unreadable_cases(&sources) {
        eprintln!("warning: {case} cannot be segmented: {why}");
    }
    let cases = plan_batch(sources, &a.out, a.shard)?;
    let todo: Vec<_> = cases.iter().filter(|c| a.force || !c.done()).collect();
    let skipped = cases.len() - todo.len();
    if skipped > 0 {
        outln!(
            "{skipped} of {} cases were done before; skipping them",
            cases.len()
        )?;
    }
    let model = BatchModel {
        net: &net,
        device: &compute.device,
        device_label: &compute.label,
        modalities: a.modalities.as_deref(),
        infer: a.infer.options(),
    };
    let pb = ProgressBar::new(todo.len() as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "segment {bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta}]",
        )
        .expect("valid template"),
    );
    let mut failed = Vec::new();
    let cancel = AtomicBool::new(false);
    for c in todo {
        pb.set_message(c.source.id.clone());
        if let Err(e) = segment_into(c, &model, &mut |_, _| {}, &cancel) {
            pb.println(format!("{}: {e}", c.source.id));
            failed.push((c.source.id.clone(), e.to_string()));
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let (summary, listed) = write_summary(&a.out, &failed)?;
    outln!(
        "wrote {} ({listed} cases segmented in the folder, {} failed in this run)",
        summary.display(),
        failed.len()
    )?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CloeError::Refused(format!(
            "{} of {} cases failed ({}); the others are written, and running the command again \
             retries only the failed ones",
            failed.len(),
            cases.len(),
            failed
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}
