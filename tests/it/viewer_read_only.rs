//! A case opened from a read-only share (a tmpfs remounted read-only; root only, as in CI): the
//! autosave still works (it lives in the app's data folder), and "Save labels" into the share opens
//! the "Save labels where?" dialog, which says why, proposes a writable place and saves where the user
//! picks; nothing is written into the share. On a synthetic prostate case (the mechanism, not a claim
//! about real scans).

use crate::common::synthetic_prostate;
use crate::full_disk::Mount;
use crate::viewer_editing::{drag, harness, wait};
use cloe::app::autosave_path;
use eframe::egui::{Pos2, vec2};
use egui_kittest::kittest::Queryable;

#[test]
fn a_case_on_a_read_only_share_autosaves_and_saves_where_the_user_picks() {
    let Some(share) = Mount::new("8m", false) else {
        return;
    };
    synthetic_prostate(&share.path().join("data"));
    share.remount_read_only();
    let case = share.path().join("data/Synth-1");
    let tmp = tempfile::tempdir().unwrap();
    let autosave = tmp.path().join("autosave");
    let mut h = harness(&case, &autosave);
    h.get_by_label("Paint").click();
    h.run_steps(2);
    h.state_mut().view.as_mut().unwrap().edit.brush.class = 2;
    let centre = Pos2::new(660.0, 470.0);
    drag(&mut h, centre - vec2(30.0, 0.0), centre + vec2(30.0, 0.0));
    let painted = h.state().view.as_ref().unwrap().overlay.labels.clone();
    let file = autosave_path(&autosave, h.state().view.as_ref().unwrap());
    wait(&mut h, "the autosave", |_| file.is_file());

    // Into the share: the dialog says why, and nothing is written.
    let into_share = case.join("Synth-1-edited.nii.gz");
    h.state_mut().export.field = into_share.display().to_string();
    h.get_by_label("Save labels").click();
    h.run_steps(2);
    let dialog = h
        .state()
        .export
        .dialog
        .clone()
        .expect("the save dialog opens");
    assert!(dialog.why.contains("read-only"), "{}", dialog.why);
    assert!(dialog.why.contains(&into_share.display().to_string()));
    assert!(
        !dialog
            .field
            .starts_with(&share.path().display().to_string()),
        "the proposal is a writable place: {}",
        dialog.field
    );
    assert!(!into_share.exists() && h.state().view.as_ref().unwrap().edit.unsaved);
    h.get_by_label("Save labels where?");

    // The user picks a place; the labels go there and the autosave ends.
    let out = tmp.path().join("picked.nii.gz");
    h.state_mut().export.dialog.as_mut().unwrap().field = out.display().to_string();
    h.run_steps(1);
    h.get_by_label("Save here").click();
    h.run_steps(2);
    assert!(h.state().export.dialog.is_none(), "the dialog closes");
    assert!(h.state().error.is_none(), "{:?}", h.state().error);
    let written = cloe::io::read_volume(&out, Default::default()).unwrap();
    let painted = painted.unwrap();
    assert!(
        written
            .data
            .iter()
            .zip(&painted)
            .all(|(&d, &c)| d == c as f32)
    );
    assert!(!h.state().view.as_ref().unwrap().edit.unsaved);
    assert!(
        !file.exists(),
        "the autosave ends once the labels are saved"
    );
    assert_eq!(h.state().export.field, out.display().to_string());
}
