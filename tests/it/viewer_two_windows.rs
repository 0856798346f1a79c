//! Two windows on one case: the first owns the case's autosave (a lock naming its process and app
//! instance), the second says so and autosaves its own edits beside it, neither overwriting the other;
//! once the first closes the case, a new window owns the autosave and offers its edits; a lock left by
//! a process that is gone is taken over, and a second window's autosave left by a process that is gone
//! is offered. Synthetic prostate case (the mechanism is under test).

use crate::common::synthetic_prostate;
use crate::viewer_editing::{drag, harness, wait};
use cloe::app::{ViewerApp, autosave_path};
use cloe::io::owner_lock::Claim;
use eframe::egui::{self, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};

/// Paints a stroke of TZ (or erases) across the middle of the maximised axial view, where the
/// synthetic case has PZ.
fn paint(h: &mut Harness<'static, ViewerApp>, erase: bool) {
    h.get_by_label("Paint").click();
    h.run_steps(2);
    let edit = &mut h.state_mut().view.as_mut().unwrap().edit;
    (edit.brush.class, edit.erase) = (2, erase);
    let centre = Pos2::new(660.0, 470.0);
    drag(
        h,
        centre - egui::vec2(30.0, 0.0),
        centre + egui::vec2(30.0, 0.0),
    );
}

fn labels(h: &Harness<'static, ViewerApp>) -> Vec<f32> {
    let view = h.state().view.as_ref().unwrap();
    let conv = view.case.convention();
    let l = view.overlay.labels.as_ref().unwrap();
    l.iter().map(|&c| conv.disk_of(c) as f32).collect()
}

fn read(path: &Path) -> Vec<f32> {
    cloe::io::read_volume(path, Default::default())
        .unwrap()
        .data
        .to_vec()
}

fn window_autosaves(dir: &Path) -> Vec<PathBuf> {
    let files = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path());
    files
        .filter(|p| p.to_string_lossy().contains("-window-"))
        .collect()
}

fn owned(h: &Harness<'static, ViewerApp>) -> bool {
    let claim = &h.state().view.as_ref().unwrap().edit.autosave_claim;
    matches!(claim, Some(Claim::Owned(_)))
}

#[test]
fn a_second_window_autosaves_beside_the_first_and_stale_locks_are_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic_prostate(&tmp.path().join("data"));
    let case = tmp.path().join("data/Synth-1");
    let dir = tmp.path().join("autosave");
    let mut first = harness(&case, &dir);
    let mut second = harness(&case, &dir);
    assert!(owned(&first) && !owned(&second));
    second.run_steps(2);
    assert!(
        (second.query_by_label_contains("open in another CLoE Studio window")).is_some(),
        "the second window says so"
    );

    // Both edit; each autosave holds its own window's edits.
    paint(&mut first, false);
    paint(&mut second, true);
    let main = autosave_path(&dir, first.state().view.as_ref().unwrap());
    wait(&mut first, "the first autosave", |_| main.is_file());
    wait(&mut second, "the second autosave", |_| {
        window_autosaves(&dir).len() == 1
    });
    let beside = window_autosaves(&dir).remove(0);
    first.run_steps(1);
    second.run_steps(1);
    assert!(read(&main) == labels(&first), "the first window's edits");
    assert!(
        read(&beside) == labels(&second),
        "the second window's edits"
    );
    assert!(labels(&first) != labels(&second));

    // The first window goes: a new one owns the autosave and offers the first's edits.
    let firsts = labels(&first);
    drop(first);
    drop(second);
    let mut third = harness(&case, &dir);
    assert!(owned(&third));
    third.get_by_label("Restore them").click();
    third.run_steps(2);
    assert!(labels(&third) == firsts, "the first window's edits back");
    drop(third);

    // A lock of a process that has ended is taken over; without the case's autosave, what a second
    // window of an ended process left is offered.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let lock = PathBuf::from(format!("{}.lock", main.display()));
    std::fs::write(&lock, format!("{dead}-0\n")).unwrap();
    let seconds = read(&beside);
    let orphan = beside.to_string_lossy().replace(
        &format!("-window-{}-", std::process::id()),
        &format!("-window-{dead}-"),
    );
    std::fs::rename(&beside, &orphan).unwrap();
    std::fs::remove_file(&main).unwrap();
    let mut fourth = harness(&case, &dir);
    assert!(owned(&fourth), "the stale lock is taken over");
    fourth.get_by_label("Restore them").click();
    fourth.run_steps(2);
    assert!(
        labels(&fourth) == seconds,
        "the ended second window's edits back"
    );
}
