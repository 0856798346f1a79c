//! Refine mode in a real window: the bundled case with the shipped model's segmentation, key 3 (ET)
//! and the Refine toggle, one stroke across the axial view; the refinement shows, and Save labels
//! writes it: the file differs from the model's labels on the stroke's slice, by ET.

use crate::layout::*;
use crate::viewer::{assert_changed, save_labels, settle, stroke};
use crate::x11::{App, Screen, tools_present};

#[test]
fn refine_one_stroke_and_save_in_a_real_window() {
    let _one = crate::ONE_AT_A_TIME.lock();
    if !tools_present() {
        return;
    }
    let (home, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let screen = Screen::start("refine");
    let mut app = App::launch(&screen, &["view", "assets/TCGA-DU-7294"], home.path());
    app.hover(NEUTRAL);
    settle(&app);
    app.snap("loaded");
    let before = out.path().join("model.nii.gz");
    save_labels(&mut app, EXPORT_FIELD, SAVE_LABELS, &before);

    app.key("3");
    app.click(REFINE);
    app.hover(NEUTRAL);
    let p0 = settle(&app);
    app.snap("refine-mode");
    stroke(&app);
    let p1 = settle(&app);
    app.snap("refined");
    assert_changed(&p0, &p1, AXIAL, "the refined stroke");

    let refined = out.path().join("refined.nii.gz");
    save_labels(
        &mut app,
        EXPORT_FIELD_REFINING,
        SAVE_LABELS_REFINING,
        &refined,
    );
    let read = |p: &std::path::Path| cloe::io::read_volume(p, Default::default()).unwrap();
    let (a, b) = (read(&before), read(&refined));
    let plane = a.grid.dims[0] * a.grid.dims[1];
    let changed: Vec<(usize, f32)> = (a.data.iter().zip(&b.data).enumerate())
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (_, &y))| (i / plane, y))
        .collect();
    assert!(!changed.is_empty(), "the saved labels hold the refinement");
    assert!(
        changed.iter().any(|&(_, v)| v == 4.0),
        "ET (4 on disk) among the changes"
    );
    app.key("ctrl+q");
}
