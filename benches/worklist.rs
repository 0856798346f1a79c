//! The worklist: the time from "next case" to the model's overlay on the next case, with the next case
//! read and segmented ahead of time (after the reader spent the model's run time on the current one)
//! and without (the case is read and segmented when asked for). Three BraTS cases of ../shared/data,
//! the shipped model, on the CPU; egui_kittest steps without a window.
//!
//! `cargo bench --bench worklist`.

use cloe::app::{Page, ViewerApp};
use eframe::egui;
use egui_kittest::Harness;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CASES: [&str; 3] = [
    "Brats18_2013_11_1",
    "Brats18_2013_23_1",
    "Brats18_CBICA_ABM_1",
];

fn step_until(h: &mut Harness<'_, ViewerApp>, done: impl Fn(&ViewerApp) -> bool) -> f64 {
    let t = Instant::now();
    while !done(h.state()) {
        assert!(
            t.elapsed().as_secs() < 300,
            "timed out: {}",
            describe(h.state())
        );
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    t.elapsed().as_secs_f64()
}

/// What the app is doing, for a timeout's message.
fn describe(a: &ViewerApp) -> String {
    let model = a.models.model.as_ref();
    format!(
        "page {:?}, list {}, case {:?}, overlay {:?}, model {:?} busy {:?}, loading {}, error {:?}",
        a.page,
        a.worklist.list.is_some(),
        a.view.as_ref().map(|v| v.case.id.clone()),
        a.view.as_ref().map(|v| v.overlay.name.clone()),
        model.map(|m| m.name()),
        model.map(|m| m.busy()),
        a.is_loading(),
        a.error
    )
}

/// Case `id` is open with the model's overlay on it.
fn shown(a: &ViewerApp, id: &str) -> bool {
    !a.is_loading()
        && a.view
            .as_ref()
            .is_some_and(|v| v.case.id == id && v.overlay.name == "CLoE")
        && a.models.model.as_ref().is_some_and(|m| !m.busy())
}

/// Cases in the worklist's order (by name). Opens case 0, waits for its segmentation (and, with `prefetching`, for case 1 read ahead), then
/// moves on: the seconds until case 1 shows its overlay, and the seconds of case 0's first run.
fn next_case(h: &mut Harness<'_, ViewerApp>, prefetching: bool) -> (f64, f64) {
    h.state_mut().worklist.prefetching = prefetching;
    h.state_mut().open_worklist_case(0);
    let first = step_until(h, |a| shown(a, CASES[0]));
    if prefetching {
        step_until(h, |a| {
            a.worklist.prefetching_now() == Some(1) && !a.worklist.prefetch_running()
        });
    }
    h.state_mut().open_worklist_case(1);
    (step_until(h, |a| shown(a, CASES[1])), first)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("cases");
    std::fs::create_dir(&folder).unwrap();
    for id in CASES {
        let case = root.join("../shared/data/brats2018").join(id);
        std::os::unix::fs::symlink(case.canonicalize().unwrap(), folder.join(id)).unwrap();
    }
    let mut app = ViewerApp::new(Some(folder.clone()));
    app.worklist.store_dir = Some(tmp.path().join("store"));
    app.models.shipped = Some(root.join("models/brats"));
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|_| app);
    step_until(&mut h, |a| {
        a.worklist.list.is_some() && a.page == Page::Worklist
    });
    let (with, first_a) = next_case(&mut h, true);
    let (without, first_b) = next_case(&mut h, false);
    let model: PathBuf = root.join("models/brats");
    println!(
        "worklist: {} -> {} (240x240x155), model {}, CPU",
        CASES[0],
        CASES[1],
        model.display()
    );
    println!("  first case's model run  {first_a:.1} s, {first_b:.1} s");
    println!("  next case to its overlay, read and segmented ahead  {with:.2} s");
    println!(
        "  next case to its overlay, not read ahead (baseline)  {without:.2} s   ratio {:.3}",
        with / without
    );
}
