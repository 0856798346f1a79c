//! The viewer given bad input as a user gives it (egui_kittest, the eframe app as the window runs it):
//! every file of the bad-file catalogue typed into the path field and opened, then dropped on the window,
//! a folder with no case, damaged model folders loaded in the model panel, a label file on another grid.
//! Each time the app shows what is wrong, keeps the open case and its unsaved edits, and still answers
//! the keyboard. On a synthetic prostate case (a test of the mechanism, never a claim about real scans).

use crate::bad_model::damaged;
use crate::common;
use crate::viewer_editing::wait;
use cloe::app::ViewerApp;
use cloe::render::Plane;
use common::bad_files::catalogue;
use common::{synthetic_prostate, write_f32};
use eframe::egui::{self, Key};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};

/// A file dropped on the window, as the windowing backend hands it to egui.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// The open case's id, its overlay and whether the edits are unsaved.
fn snapshot(h: &Harness<'static, ViewerApp>) -> (String, Vec<u8>, bool) {
    let view = h.state().view.as_ref().expect("a case stays open");
    (
        view.case.id.clone(),
        view.overlay.labels.clone().unwrap(),
        view.edit.unsaved,
    )
}

/// The error shown names the file and says what is wrong, on screen as well as in the state.
fn assert_error(h: &Harness<'static, ViewerApp>, what: &str, path: &Path, needles: &[&str]) {
    let e = h.state().error.clone().unwrap_or_default();
    let name = path.file_name().unwrap().to_str().unwrap();
    for n in needles.iter().chain([&name]) {
        assert!(e.contains(n), "{what}: the error lacks {n:?}: {e}");
    }
    assert!(
        h.query_by_label_contains(name).is_some(),
        "{what}: the error is on screen"
    );
}

#[test]
fn bad_files_folders_and_models_leave_the_case_and_its_edits_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic_prostate(&tmp.path().join("data"));
    let case = tmp.path().join("data/Synth-1");
    let mut app = ViewerApp::new(Some(case.clone()));
    app.autosave.dir = Some(tmp.path().join("autosave"));
    app.maximised = Some(Plane::Axial);
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|_| app);
    wait(&mut h, "the case", |a| a.view.is_some() && !a.is_loading());
    h.run_steps(3);

    // A label file on another grid: refused, the ground truth stays.
    let other = tmp.path().join("other_label.nii.gz");
    write_f32(
        &other,
        [10, 10, 10],
        cloe::geometry::Affine::IDENTITY,
        vec![1.0; 1000],
    );
    let truth = snapshot(&h).1;
    h.state_mut().overlay_field = other.display().to_string();
    h.get_by_label("Load labels").click();
    h.run_steps(2);
    assert_error(&h, "label file on another grid", &other, &["grid"]);
    assert_eq!(snapshot(&h).1, truth);

    // An unsaved edit: a TZ dab in the middle of the axial slice, as a brush stroke leaves it.
    {
        let view = h.state_mut().view.as_mut().unwrap();
        view.edit.brush.class = 2;
        let at = view.nav.cursor;
        view.paint(Plane::Axial, at);
        view.edit.end_stroke();
    }
    h.run_steps(2);
    let before = snapshot(&h);
    assert!(before.2, "the edit is unsaved");

    // Typed into the path field and opened, then dropped on the window (what exists of it): each file
    // and the folder with no case is refused, and the case and its edits stay.
    let files = catalogue(&tmp.path().join("bad"));
    let typed = files.iter().map(|b| (b, false));
    let dropped = files.iter().filter(|b| b.path.exists()).map(|b| (b, true));
    for (bad, drop) in typed.chain(dropped) {
        if drop {
            h.input_mut()
                .dropped_files
                .push(std::sync::Arc::new(Dropped(bad.path.clone())));
        } else {
            h.state_mut().path_field = bad.path.display().to_string();
            h.get_by_label("Open").click();
        }
        h.step();
        wait(&mut h, bad.what, |a| !a.is_loading());
        h.run_steps(2);
        assert_error(&h, bad.what, &bad.path, &bad.needles);
        let what = format!("{} ({})", bad.what, if drop { "dropped" } else { "typed" });
        assert_eq!(snapshot(&h), before, "{what}: the case and its edits stay");
    }

    // Damaged model folders in the model panel.
    let models = tmp.path().join("models");
    let cut = damaged(&models.join("cut"), |d| {
        let bytes = std::fs::read(d.join("model.bpk")).unwrap();
        std::fs::write(d.join("model.bpk"), &bytes[..100_000]).unwrap();
    });
    let not_json = damaged(&models.join("not-json"), |d| {
        std::fs::write(d.join("config.json"), "{ this is not json").unwrap();
    });
    let newer = damaged(&models.join("newer"), |d| {
        let text = std::fs::read_to_string(d.join("config.json")).unwrap();
        std::fs::write(
            d.join("config.json"),
            text.replace("\"format\": 1", "\"format\": 7"),
        )
        .unwrap();
    });
    for (dir, file, needles) in [
        (cut, "model.bpk", ["damaged", "copy the model folder again"]),
        (
            not_json,
            "config.json",
            ["not a CLoE model config", "line 1"],
        ),
        (newer, "config.json", ["newer CLoE Studio", "update"]),
    ] {
        h.state_mut().models.field = dir.clone();
        h.get_by_label("Load model").click();
        h.run_steps(2);
        let path = Path::new(&dir).join(file);
        assert_error(&h, &dir, &path, &needles);
        assert!(h.state().models.model.is_none(), "no model from {dir}");
        assert_eq!(snapshot(&h), before);
    }

    // Still answering the keyboard: the arrow keys step the slice.
    let z = h.state().view.as_ref().unwrap().nav.cursor[2];
    h.hover_at(egui::pos2(660.0, 470.0));
    h.key_press(Key::ArrowUp);
    h.run_steps(2);
    assert_ne!(
        h.state().view.as_ref().unwrap().nav.cursor[2],
        z,
        "the slice moved"
    );
}
