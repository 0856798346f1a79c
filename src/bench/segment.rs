//! `cloe segment`'s work on one case, timed in the same run as the whole-case forward it is measured
//! against: read the case, prepare it and plan its windows, run the experts and the fusion over the
//! windows and bring the maps back onto the case's grid (post-processed), write the label map. One
//! figure per way of cutting the case into windows.

use super::{median, time};
use crate::case::{find_case, load_case};
use crate::error::Result;
use crate::export_prediction::write_labels;
use crate::infer::{InferOptions, Session, WindowMode};
use crate::io::{ReadOptions, WriteOptions};
use crate::model::CloeNet;
use burn::prelude::*;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// `cloe segment`'s phases on one case, medians of the timed runs.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentTiming {
    pub windows: WindowMode,
    /// The overlap of patch windows.
    pub overlap: f64,
    /// Windows the case was cut into, and their size.
    pub count: usize,
    pub size: [usize; 3],
    pub read_seconds: f64,
    pub prepare_seconds: f64,
    /// Experts, fusion, blending, back onto the case grid, post-processing.
    pub network_seconds: f64,
    pub write_seconds: f64,
    pub total_seconds: f64,
}

/// Times `cloe segment` of the case in `case_dir` with `net` and `infer` (all modalities, labels only).
pub fn segment_bench(
    case_dir: &Path,
    net: &CloeNet,
    device: &Device,
    infer: InferOptions,
    runs: usize,
) -> Result<SegmentTiming> {
    let out = std::env::temp_dir().join(format!("cloe-bench-{}.nii.gz", std::process::id()));
    let mut done: Vec<Run> = Vec::new();
    let mut failure = None;
    let total = time(runs, || {
        match run_once(case_dir, net, device, infer, &out) {
            Ok(run) => done.push(run),
            Err(e) => failure = Some(e),
        }
    });
    let _ = std::fs::remove_file(&out);
    if let Some(e) = failure {
        return Err(e);
    }
    // The first entry is the warm-up's.
    let phase = |i: usize| median(done.iter().skip(1).map(|r| r.phases[i]).collect());
    let last = done.last().expect("at least the warm-up ran");
    Ok(SegmentTiming {
        windows: infer.windows,
        overlap: infer.overlap,
        count: last.windows,
        size: last.size,
        read_seconds: phase(0),
        prepare_seconds: phase(1),
        network_seconds: phase(2),
        write_seconds: phase(3),
        total_seconds: total,
    })
}

/// One `cloe segment`: the seconds of each phase (read, prepare, network, write) and the windows.
struct Run {
    phases: [f64; 4],
    windows: usize,
    size: [usize; 3],
}

fn run_once(
    case_dir: &Path,
    net: &CloeNet,
    device: &Device,
    infer: InferOptions,
    out: &Path,
) -> Result<Run> {
    let mut clock = Instant::now();
    let mut lap = || {
        let s = clock.elapsed().as_secs_f64();
        clock = Instant::now();
        s
    };
    let case = load_case(
        &find_case(case_dir, Some(net.config().profile))?,
        ReadOptions::default(),
    )?;
    let read = lap();
    let session = Session::with_options(net.clone(), &case, device.clone(), infer, false)?;
    let prepare = lap();
    let mut count = 0;
    let maps = session.segment_once(
        &case.available(),
        false,
        &mut |_, total| count = total,
        &AtomicBool::new(false),
    )?;
    let network = lap();
    write_labels(
        out,
        &case,
        &maps.classes,
        &WriteOptions::default().overwriting(true),
    )?;
    let write = lap();
    Ok(Run {
        phases: [read, prepare, network, write],
        windows: count,
        size: session.plan().size,
    })
}
