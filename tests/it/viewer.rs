//! The viewer driven as a user would (egui_kittest, no window): open a real case, see it load, switch
//! the shown modality, step slices with the arrow keys and the wheel, hide a label, load an overlay from a file, and
//! see a bad path reported without a crash.

use crate::common;
use cloe::app::ViewerApp;
use common::data;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn harness(app: ViewerApp) -> Harness<'static, ViewerApp> {
    Harness::builder()
        .with_size(egui::Vec2::new(1200.0, 800.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app)
}

/// Steps the UI until the case has loaded (or 30 s pass).
fn wait_loaded(h: &mut Harness<'static, ViewerApp>) {
    let t = std::time::Instant::now();
    while h.state().is_loading() && t.elapsed().as_secs() < 30 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.step();
    h.step();
}

#[test]
fn open_a_case_switch_modality_step_slices_and_toggle_labels() {
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let mut h = harness(ViewerApp::new(Some(dir)));
    wait_loaded(&mut h);
    assert!(
        h.state().view.is_some(),
        "case loaded: {:?}",
        h.state().error
    );
    assert_eq!(h.state().view.as_ref().unwrap().nav.cursor, [120, 120, 77]);

    h.get_by_label("T1c").click();
    h.step();
    let v = h.state().view.as_ref().unwrap();
    assert_eq!(v.display.shown, 1);
    // Auto window/level follows the T1c percentiles (numpy: 0.5 % = 2, 99.5 % = 129).
    assert!(
        (v.display.level - 65.5).abs() < 1e-3 && (v.display.width - 127.0).abs() < 1e-3,
        "{} {}",
        v.display.level,
        v.display.width
    );

    // Arrow up over the axial view steps one slice up (z + 1).
    // The axial view is the top-left cell, right of the 260-point side panel and below the path bar.
    h.hover_at(egui::pos2(520.0, 220.0));
    h.step();
    h.key_press(egui::Key::ArrowUp);
    h.step();
    h.step();
    assert_eq!(h.state().view.as_ref().unwrap().nav.cursor[2], 78);
    // One wheel notch is one slice (egui's smoothed scroll stepped five); track-pad pixels add up
    // to a notch per `line_scroll_speed` points.
    let wheel = |unit, y| egui::Event::MouseWheel {
        unit,
        delta: egui::vec2(0.0, y),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    };
    h.event(wheel(egui::MouseWheelUnit::Line, 1.0));
    h.run_steps(3);
    assert_eq!(h.state().view.as_ref().unwrap().nav.cursor[2], 79);
    h.event(wheel(egui::MouseWheelUnit::Line, -2.0));
    h.run_steps(3);
    assert_eq!(h.state().view.as_ref().unwrap().nav.cursor[2], 77);
    let line = h.ctx.options(|o| o.input_options.line_scroll_speed);
    for _ in 0..3 {
        h.event(wheel(egui::MouseWheelUnit::Point, 0.5 * line));
    }
    h.run_steps(3);
    assert_eq!(h.state().view.as_ref().unwrap().nav.cursor[2], 78);

    // The overlay shows the nested regions WT, TC, ET: hide the tumour core, then show it again.
    h.get_by_label("TC").click();
    h.step();
    assert_eq!(
        h.state().view.as_ref().unwrap().display.visible,
        vec![true, true, false, true]
    );
    h.get_by_label("TC").click();
    h.step();
    assert!(h.state().view.as_ref().unwrap().display.visible[2]);
    // Switch to the training classes: the legend names them.
    h.get_by_label("classes").click();
    h.step();
    assert!(!h.state().view.as_ref().unwrap().display.by_region);
    h.get_by_label("edema").click();
    h.step();
    assert!(!h.state().view.as_ref().unwrap().display.visible[2]);
}

#[test]
fn a_bad_path_is_reported_and_the_app_stays_up() {
    let mut h = harness(ViewerApp::new(Some("/no/such/case".into())));
    wait_loaded(&mut h);
    let e = h.state().error.clone().unwrap_or_default();
    assert!(
        e.contains("/no/such/case") && e.contains("cannot read"),
        "{e}"
    );
    assert!(h.state().view.is_none());
    h.step();
}

#[test]
fn an_overlay_from_a_file_replaces_the_ground_truth() {
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let mut h = harness(ViewerApp::new(Some(dir.clone())));
    wait_loaded(&mut h);
    let seg = dir.join("Brats18_2013_11_1_seg.nii.gz");
    let view = h.state_mut().view.as_mut().unwrap();
    let truth = view.overlay.labels.clone().unwrap();
    view.load_overlay(&seg).unwrap();
    assert_eq!(view.overlay.labels.as_ref().unwrap(), &truth);
    assert_eq!(view.overlay.name, "Brats18_2013_11_1_seg.nii.gz");
    let flair = dir.join("Brats18_2013_11_1_flair.nii.gz");
    let e = view.load_overlay(&flair).unwrap_err().to_string();
    assert!(e.contains("unexpected label values"), "{e}");
    h.step();
}

#[test]
fn the_bundled_case_opens() {
    let mut h = harness(ViewerApp::new(Some(cloe::app::bundled_case())));
    wait_loaded(&mut h);
    let view = h.state().view.as_ref().expect("bundled case");
    assert_eq!(view.case.id, "TCGA-DU-7294");
    assert_eq!(
        view.case.available(),
        cloe::case::Subset::all(cloe::case::Profile::Brats)
    );
    assert!(view.overlay.labels.is_none(), "no ground truth is bundled");
}

#[test]
fn export_labels_and_a_png_and_remember_the_case() {
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let mut h = harness(ViewerApp::new(Some(dir.clone())));
    wait_loaded(&mut h);
    assert_eq!(h.state().recent.0, vec![dir.clone()]);
    let out = tempfile::tempdir().unwrap();
    let labels = out.path().join("labels.nii.gz");
    h.state().export_labels(&labels).unwrap();
    let written = cloe::io::read_volume(&labels, Default::default()).unwrap();
    let original = cloe::io::read_volume(
        &dir.join("Brats18_2013_11_1_seg.nii.gz"),
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        written.data, original.data,
        "ground truth written back in the {{0,1,2,4}} convention"
    );
    assert!(written.grid.same_as(&original.grid));
    // Never over an input, never over an existing file.
    let e = h
        .state()
        .export_labels(&dir.join("Brats18_2013_11_1_seg.nii.gz"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("input files"), "{e}");
    assert!(
        h.state()
            .export_labels(&labels)
            .unwrap_err()
            .to_string()
            .contains("exists")
    );

    let png = out.path().join("axial.png");
    h.state()
        .export_png(cloe::render::Plane::Axial, &png)
        .unwrap();
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (240, 240));
}

/// The measurements of the shown labels: the ground truth's region volumes are the label volumes that
/// `cloe inspect` reports, and "Go to lesion" puts the crosshair inside the tumour.
#[test]
fn volumes_and_the_jump_to_the_lesion() {
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(
            |ui, app: &mut ViewerApp| app.show(ui),
            ViewerApp::new(Some(dir.clone())),
        );
    let t = std::time::Instant::now();
    while h
        .state()
        .view
        .as_ref()
        .is_none_or(|v| v.measure.current().is_none())
        && t.elapsed().as_secs() < 120
    {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, out, err) = common::cloe(&["inspect", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let counts: Vec<serde_json::Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["labels"].as_array().cloned())
        .flatten()
        .collect();
    let ml_of = |values: &[u64]| -> f64 {
        counts
            .iter()
            .filter(|c| values.contains(&c["value"].as_u64().unwrap()))
            .map(|c| c["ml"].as_f64().unwrap())
            .sum()
    };
    let view = h.state().view.as_ref().unwrap();
    let m = view.measure.current().unwrap();
    assert!(
        m.dice.is_none(),
        "the ground truth is not compared with itself"
    );
    for (v, want) in m
        .volumes
        .iter()
        .zip([ml_of(&[1, 2, 4]), ml_of(&[1, 4]), ml_of(&[4])])
    {
        assert!(
            (v - want).abs() < 1e-6 * want.max(1.0),
            "{v} vs {want} ml ({out})"
        );
    }
    h.get_by_label("Go to lesion").click();
    h.run_steps(2);
    let view = h.state().view.as_ref().unwrap();
    let [x, y, z] = view.nav.cursor;
    let class = view.case.label.as_ref().unwrap().classes[view.case.grid.index(x, y, z)];
    assert!(
        class > 0,
        "the crosshair is inside the tumour (class {class})"
    );
}
