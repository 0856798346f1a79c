//! The app's training tab, driven like a user would: fine-tune a small model on a synthetic prostate
//! dataset (synthetic volumes test the plumbing, never a claim about real scans), see the progress and
//! the end, refuse to write over a model, stop a run and resume it, and use the trained model in the
//! viewer on the open case.

use crate::common;
use cloe::app::{Page, ViewerApp};
use cloe::case::Profile;
use cloe::device::DeviceChoice;
use cloe::model::{CloeNet, save_model};
use common::synthetic_prostate;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;

fn wait(h: &mut Harness<'static, ViewerApp>, what: &str, done: impl Fn(&ViewerApp) -> bool) {
    let t = std::time::Instant::now();
    while !done(h.state()) && t.elapsed().as_secs() < 300 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        done(h.state()),
        "timed out waiting for {what}; status {:?}, error {:?}",
        h.state().training.run.status,
        h.state().training.run.error
    );
}

fn log_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("train-log.csv"))
        .unwrap()
        .lines()
        .count()
        - 1
}

#[test]
fn the_training_tab_fine_tunes_stops_resumes_and_hands_over_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_prostate(&data);
    // The model to start from: small, so that the test is quick (patch 8, 3 mm, C = 2).
    let start = tmp.path().join("start");
    let cfg = crate::common::small_prostate_config();
    save_model(&CloeNet::new(&cfg, &burn::prelude::Device::flex()), &start).unwrap();

    let mut app = ViewerApp::new(Some(data.join("Synth-1")));
    {
        let t = &mut app.training;
        t.form.data_field = data.display().to_string();
        t.form.init_field = start.display().to_string();
        t.form.out_field = tmp.path().join("tuned").display().to_string();
        t.form.iterations = 4;
        t.form.val_fraction = 0.34;
        t.form.device = DeviceChoice::Cpu;
    }
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    wait(&mut h, "the case", |a| a.view.is_some());
    h.run_steps(3); // let the layout settle (widget ids come from it) before clicking
    h.get_by_label("Training").click();
    h.run_steps(2);
    assert_eq!(h.state().page, Page::Training);
    // What the folder holds is shown before Start: the cases, then each read as the run will.
    h.get_by_label_contains("3 cases found (prostate): 3 with a label map");
    wait(&mut h, "the check of the cases", |a| {
        a.training.preview.checks.is_some()
    });
    h.run_steps(2);
    h.get_by_label_contains("3 labelled cases checked; label classes found: PZ, TZ");
    assert!(h.state().training.preview.all_usable());

    h.get_by_label("Start training").click();
    h.run_steps(2);
    wait(&mut h, "the end of the run", |a| !a.training.is_running());
    let t = &h.state().training;
    assert!(t.run.error.is_none(), "{:?}", t.run.error);
    let tuned = tmp.path().join("tuned");
    assert_eq!(t.run.finished.as_deref(), Some(tuned.as_path()));
    assert_eq!((t.run.step, t.run.losses.len()), (4, 4));
    assert!(!t.run.validation.is_empty(), "validation Dice reported");
    assert!(
        t.run.status.iter().any(|s| s.contains("finished: 4 steps")),
        "{:?}",
        t.run.status
    );
    assert!(tuned.join("model.bpk").is_file() && log_rows(&tuned) == 4);
    let options = std::fs::read_to_string(tuned.join("train-options.json")).unwrap();
    assert!(
        options.contains("\"init\"") && options.contains("start"),
        "{options}"
    );
    h.run_steps(2);
    h.get_by_label_contains("finished: 4 steps"); // the end is on screen

    // Starting again into the same folder is refused until the user says to replace the model.
    h.get_by_label("Start training").click();
    h.run_steps(2);
    let e = h.state().training.run.error.clone().unwrap_or_default();
    assert!(e.contains("already holds a model"), "{e}");
    assert!(!h.state().training.is_running());

    // A long run into another folder, stopped after its first step: the checkpoint is there, and
    // Start continues from it.
    h.state_mut().training.form.out_field = tmp.path().join("long").display().to_string();
    h.state_mut().training.form.iterations = 100_000;
    h.get_by_label("Start training").click();
    h.run_steps(2);
    wait(&mut h, "a first step", |a| {
        !a.training.run.losses.is_empty()
    });
    h.get_by_label("Stop").click();
    h.run_steps(2);
    wait(&mut h, "the stop", |a| !a.training.is_running());
    let long = tmp.path().join("long");
    let stopped_at = h.state().training.run.step;
    assert!(long.join("checkpoint/state.json").is_file());
    assert!(
        h.state().training.form.resume,
        "after a stop, Start resumes"
    );
    assert!(
        h.state()
            .training
            .run
            .status
            .iter()
            .any(|s| s.contains(&format!("stopped at step {stopped_at}"))),
        "{:?}",
        h.state().training.run.status
    );
    h.state_mut().training.form.iterations = stopped_at + 2;
    h.get_by_label("Start training").click();
    h.run_steps(2);
    wait(&mut h, "the resumed run", |a| !a.training.is_running());
    let t = &h.state().training;
    assert!(t.run.error.is_none(), "{:?}", t.run.error);
    assert!(
        t.run.status[0].contains(&format!("resumed at step {stopped_at}")),
        "{:?}",
        t.run.status
    );
    assert_eq!(log_rows(&long), stopped_at + 2);

    // The trained model goes to the viewer and runs on the open case.
    h.get_by_label("Use this model in the viewer").click();
    h.run_steps(2);
    assert_eq!(h.state().page, Page::Viewer);
    let model = h.state().models.model.as_ref().expect("model loaded");
    assert_eq!(model.dir, long);
    wait(&mut h, "the inference", |a| {
        a.models
            .model
            .as_ref()
            .is_some_and(|m| m.maps.is_some() && !m.busy())
    });
}

#[test]
fn a_model_from_scratch_takes_the_profile_the_cases_name() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_prostate(&data);
    let mut app = ViewerApp::new(None);
    app.page = Page::Training;
    app.training.form.data_field = data.display().to_string();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    h.run_steps(2);
    // No model to start from: the profile follows the T2/ADC file names, not the BraTS default.
    h.get_by_label_contains("3 cases found (prostate): 3 with a label map");
    assert_eq!(h.state().training.form.profile, Profile::Prostate);
    // Picked by hand, it stays.
    h.state_mut().training.form.profile_from_cases = false;
    h.state_mut().training.form.profile = Profile::Brats;
    h.run_steps(2);
    h.get_by_label_contains("3 cases found (brats)");
}

#[test]
fn the_training_page_names_the_cases_a_run_would_stop_at_before_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_prostate(&data);
    // Synth-2's label map is cut short (a copy that did not finish, say).
    let label = data.join("Synth-2/Synth-2_label.nii.gz");
    let bytes = std::fs::read(&label).unwrap();
    std::fs::write(&label, &bytes[..bytes.len() / 2]).unwrap();
    let mut app = ViewerApp::new(None);
    app.training.form.data_field = data.display().to_string();
    app.training.form.init_field = String::new();
    app.page = Page::Training;
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    wait(&mut h, "the check of the cases", |a| {
        a.training.preview.checks.is_some()
    });
    h.run_steps(2);
    h.get_by_label_contains("Synth-2 would stop the run");
    h.get_by_label_contains("label classes found: PZ, TZ");
    assert!(!h.state().training.preview.all_usable());
}

#[test]
fn a_prepared_training_set_is_named_as_such_before_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_prostate(&data);
    let sources = cloe::case::find_cases(&data, Some(Profile::Prostate)).unwrap();
    let prepared = tmp.path().join("prepared");
    let opts = cloe::preprocess::PrepareOptions {
        spacing: Some(3.0),
        margin: 2,
    };
    cloe::train::prepare_dataset(&sources, opts, &prepared, &mut |_, _| {}).unwrap();
    let mut app = ViewerApp::new(None);
    app.training.form.data_field = prepared.display().to_string();
    app.page = Page::Training;
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    h.run_steps(3);
    h.get_by_label_contains(
        "a prepared training set (cloe prepare): 3 cases for prostate models at 3 mm",
    );
}
