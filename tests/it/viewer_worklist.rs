//! The worklist as a reader goes through it: a folder of cases opens as a list, a case opens from it
//! with its review bar, statuses and comments are set, kept in the store file and there again when the
//! folder is reopened by a new app, exported as CSV; N moves to the next case, which was read and
//! segmented ahead of time (the overlay is the model's at once). On synthetic prostate cases with a
//! small untrained model (the mechanism is under test, not the model).

use crate::common::synthetic_prostate;
use crate::viewer_editing::wait;
use cloe::app::{Page, ViewerApp};
use cloe::model::{CloeNet, save_model};
use cloe::worklist::Review;
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;

fn small_model(dir: &Path) {
    let cfg = crate::common::small_prostate_config();
    save_model(&CloeNet::new(&cfg, &burn::prelude::Device::flex()), dir).unwrap();
}

fn app(data: &Path, store: &Path, model: &Path) -> Harness<'static, ViewerApp> {
    let mut app = ViewerApp::new(Some(data.to_path_buf()));
    app.worklist.store_dir = Some(store.to_path_buf());
    app.models.shipped = Some(model.to_path_buf());
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|_| app);
    wait(&mut h, "the worklist", |a| a.worklist.list.is_some());
    h.run_steps(2);
    h
}

/// The model's first run on the open case has finished.
fn segmented(a: &ViewerApp) -> bool {
    (a.models.model.as_ref()).is_some_and(|m| m.maps.is_some() && !m.busy()) && !a.is_loading()
}

fn open_id(a: &ViewerApp) -> String {
    a.view
        .as_ref()
        .map(|v| v.case.id.clone())
        .unwrap_or_default()
}

#[test]
fn review_a_folder_case_by_case_keep_and_export_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, store, model) = (
        tmp.path().join("data"),
        tmp.path().join("store"),
        tmp.path().join("m"),
    );
    synthetic_prostate(&data);
    small_model(&model);
    let mut h = app(&data, &store, &model);
    assert_eq!(h.state().page, Page::Worklist);
    assert_eq!(h.state().worklist.list.as_ref().unwrap().cases.len(), 3);
    assert!(h.query_by_label("1. Synth-0").is_some());

    // The first case from the list: the review bar, the model's segmentation.
    h.get_by_label("1. Synth-0").click();
    wait(&mut h, "the first case", |a| {
        open_id(a) == "Synth-0" && segmented(a)
    });
    h.run_steps(3);
    assert_eq!(h.state().page, Page::Viewer);
    assert!(h.query_by_label("Case 1 of 3").is_some());
    // A comment, then "corrected": both kept, with the measurements of the labels shown.
    h.get_by_label("Comment").focus();
    h.run_steps(1);
    h.get_by_label("Comment").type_text("margin moved");
    h.run_steps(1);
    wait(&mut h, "the measurements", |a| {
        a.view.as_ref().unwrap().measure.done()
    });
    h.get_by_label("corrected").click();
    h.run_steps(2);
    let record = h.state().worklist.list.as_ref().unwrap().record("Synth-0");
    assert_eq!(
        (record.status, record.comment.as_str()),
        (Review::Corrected, "margin moved")
    );
    assert!(record.model.is_some() && record.updated.is_some());
    assert_eq!(record.measurements.as_ref().unwrap().labels, "CLoE");

    // The next case was read and segmented ahead: N shows it with the model's overlay at once.
    wait(&mut h, "the next case read ahead", |a| {
        a.worklist.prefetching_now() == Some(1) && !a.worklist.prefetch_running()
    });
    h.key_press(Key::N);
    h.run_steps(1);
    wait(&mut h, "the second case", |a| {
        open_id(a) == "Synth-1" && !a.is_loading()
    });
    h.run_steps(1);
    assert!(
        segmented(h.state()),
        "the prefetched run is adopted, nothing to wait for"
    );
    assert_eq!(h.state().view.as_ref().unwrap().overlay.name, "CLoE");
    h.get_by_label("rejected").click();
    h.run_steps(2);
    // Shift+N goes back.
    h.key_press_modifiers(Modifiers::SHIFT, Key::N);
    wait(&mut h, "the first case again", |a| {
        open_id(a) == "Synth-0" && !a.is_loading()
    });

    // The CSV: one row per case with its status.
    let csv_path = tmp.path().join("review.csv");
    h.state_mut().worklist.export_field = csv_path.display().to_string();
    h.state_mut().page = Page::Worklist;
    h.run_steps(2);
    h.get_by_label("Export CSV").click();
    h.run_steps(2);
    assert_eq!(h.state().error, None);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[0].starts_with("case,status,comment"), "{csv}");
    assert!(
        rows[1].starts_with("Synth-0,corrected,margin moved,"),
        "{csv}"
    );
    assert!(rows[2].starts_with("Synth-1,rejected,,"), "{csv}");
    assert!(rows[3].starts_with("Synth-2,to review,,"), "{csv}");
    let cells: Vec<&str> = rows[1].split(',').collect();
    let head: Vec<&str> = rows[0].split(',').collect();
    let pz = head.iter().position(|h| *h == "PZ_ml").unwrap();
    assert!(cells[pz].parse::<f64>().is_ok(), "{csv}");
    drop(h);

    // A new app on the same folder finds the reviews again.
    let h = app(&data, &store, &model);
    let list = h.state().worklist.list.as_ref().unwrap();
    assert_eq!(list.record("Synth-0").status, Review::Corrected);
    assert_eq!(list.record("Synth-1").status, Review::Rejected);
    assert_eq!(list.counts(), [1, 0, 1, 1]);
    assert!(h.query_by_label("margin moved").is_some());
}
