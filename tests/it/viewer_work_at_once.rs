//! Work at once, as on a working day: a training run on the Training page while the viewer runs the
//! shipped model on the bundled case and the 3-D view builds its surfaces. Both finish; the UI thread's
//! frames stay short (each `Harness::step`: the app's whole frame, layout and tessellation, without the
//! GPU's drawing); stopping the training leaves the segmentation running, and cancelling the
//! segmentation leaves the training running. The training is a fine-tune of a mid-sized prostate model
//! on synthetic cases (it keeps both cores busy; no claim about real scans).

use crate::common::synthetic_prostate;
use cloe::app::{Page, ViewerApp};
use cloe::device::DeviceChoice;
use cloe::model::{CloeNet, save_model};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};

type H = Harness<'static, ViewerApp>;

/// Steps frames until `done`, for at most `limit_s`; returns each frame's time in ms.
fn frames_until(
    h: &mut H,
    what: &str,
    limit_s: u64,
    done: impl Fn(&ViewerApp) -> bool,
) -> Vec<f64> {
    let (t, mut ms) = (Instant::now(), Vec::new());
    while !done(h.state()) && t.elapsed().as_secs() < limit_s {
        let f = Instant::now();
        h.step();
        ms.push(f.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(15));
    }
    let a = h.state();
    assert!(
        done(a),
        "timed out waiting for {what}: {:?} {:?}",
        a.error,
        a.training.run.error
    );
    ms
}

fn experts_busy(a: &ViewerApp) -> bool {
    a.models
        .model
        .as_ref()
        .is_some_and(|m| m.busy() && m.maps.is_none())
}

fn experts_done(a: &ViewerApp) -> bool {
    a.models
        .model
        .as_ref()
        .is_some_and(|m| m.maps.is_some() && !m.busy())
}

/// CPU seconds this process has used (all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn click_page(h: &mut H, page: &str) {
    h.get_by_label(page).click();
    h.run_steps(2);
}

fn app_with_training(tmp: &std::path::Path) -> ViewerApp {
    let data = tmp.join("data");
    synthetic_prostate(&data);
    let start = tmp.join("start");
    let cfg = cloe::model::CloeConfig {
        channels: 8,
        patch: 16,
        spacing_mm: 1.5,
        ..crate::common::small_prostate_config()
    };
    save_model(&CloeNet::new(&cfg, &burn::prelude::Device::flex()), &start).unwrap();
    let mut app = ViewerApp::new(Some(cloe::app::bundled_case()));
    let t = &mut app.training;
    t.form.data_field = data.display().to_string();
    t.form.init_field = start.display().to_string();
    t.form.out_field = tmp.join("tuned").display().to_string();
    t.form.iterations = 100_000;
    t.form.val_fraction = 0.34;
    t.form.device = DeviceChoice::Cpu;
    app
}

#[test]
fn training_segmenting_and_the_3d_view_at_once() {
    // The 3-D view needs the wgpu renderer (lavapipe here).
    if crate::common::wgpu_device().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut h = crate::viewer_surface::wgpu_harness(app_with_training(tmp.path()));
    frames_until(&mut h, "the case", 60, |a| a.view.is_some());
    h.run_steps(3);
    click_page(&mut h, "Training");
    h.get_by_label("Start training").click();
    frames_until(&mut h, "the first steps", 120, |a| a.training.run.step >= 2);
    assert_eq!(h.state().page, Page::Training);

    // The shipped model on the case and the 3-D view, the training going on.
    click_page(&mut h, "Viewer");
    h.state_mut().models.field = cloe::app::bundled_model().display().to_string();
    h.get_by_label("Load model").click();
    h.run_steps(2);
    h.get_by_label("Run CLoE").click();
    h.run_steps(1);
    h.get_by_label("3-D").click();
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut ms = frames_until(&mut h, "the experts", 300, experts_busy);
    let step = h.state().training.run.step;
    ms.extend(frames_until(&mut h, "the segmentation", 300, experts_done));
    let load = (cpu_seconds() - cpu) / wall.elapsed().as_secs_f64();
    let steps = h.state().training.run.step - step;
    assert!(
        h.state().training.is_running() && steps > 0,
        "{steps} training steps meanwhile"
    );
    ms.extend(frames_until(&mut h, "the surfaces", 120, |a| {
        !a.surface.triangles.is_empty()
    }));
    ms.sort_by(f64::total_cmp);
    let (median, p95, max) = (ms[ms.len() / 2], ms[ms.len() * 95 / 100], ms[ms.len() - 1]);
    println!(
        "work at once: {} frames, ms median {median:.1} / p95 {p95:.1} / max {max:.1}; \
         {load:.2} cores busy; {steps} training steps during the segmentation",
        ms.len()
    );
    assert!(p95 < 50.0, "95 % of frames under 50 ms: {p95:.1} ms");

    // Cancelling the segmentation leaves the training running.
    h.get_by_label("Load model").click();
    h.run_steps(2);
    h.get_by_label("Run CLoE").click();
    frames_until(&mut h, "the experts again", 60, experts_busy);
    h.run_steps(1); // the frame that draws their progress and Cancel
    h.get_by_label("Cancel").click();
    frames_until(&mut h, "the cancel", 60, |a| {
        !a.models.model.as_ref().unwrap().busy()
    });
    let step = h.state().training.run.step;
    frames_until(&mut h, "more training steps", 120, |a| {
        a.training.run.step > step + 1
    });
    assert!(h.state().training.is_running());
    h.state_mut().error = None; // "cancelled", said when the experts stopped

    // Stopping the training leaves the segmentation running, to its end.
    h.get_by_label("Run CLoE").click();
    frames_until(&mut h, "the experts a third time", 60, experts_busy);
    click_page(&mut h, "Training");
    h.get_by_label("Stop").click();
    frames_until(&mut h, "the training's stop", 120, |a| {
        !a.training.is_running()
    });
    assert!(h.state().training.run.error.is_none());
    click_page(&mut h, "Viewer");
    frames_until(&mut h, "the segmentation after the stop", 300, experts_done);
    assert!(h.state().error.is_none(), "{:?}", h.state().error);
}
