//! The viewer in a real window, as a reader uses it: the bundled case opens with the shipped model's
//! segmentation; arrow keys and the wheel step slices (one notch, one slice), right-drag sets
//! window/level, a click or left-drag moves the crosshair, middle-drag pans, double-click maximises a
//! view and restores the grid, a modality switched off and on re-fuses; a brush stroke, Ctrl+Z, Ctrl+Y,
//! Ctrl+Shift+Z, L / Shift+L through the lesions (the tumour and the stroke), erase; Save labels
//! writes the edit on the case's grid; Ctrl+Q quits with the unsaved edit autosaved, and the reopened
//! app offers it back; a shared case opens from the path field.

use crate::common::data;
use crate::layout::*;
use crate::x11::{App, Rect, Screen, changed, count, tools_present};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CASE: &str = "assets/TCGA-DU-7294";
/// At most this many pixels may differ where the screen must "stay" (antialiasing, the crosshair).
const SAME: usize = 30;
/// At least this many must differ where it must "change".
const DIFFERENT: usize = 200;

pub fn settle(app: &App) -> RgbImage {
    app.settle(Duration::from_millis(1500), Duration::from_secs(180))
}

/// Clicks `at`, moves the pointer aside, waits for the work it starts (a re-fusion) to end; keeps a
/// screenshot as `name` and returns the settled picture.
fn click_and_settle(app: &mut App, at: (u32, u32), name: &str) -> RgbImage {
    app.click(at);
    app.hover(NEUTRAL);
    let img = settle(app);
    app.snap(name);
    img
}

/// The overlay's colours: WT green, TC yellow, ET red, painted at opacity 0.5 over grey.
pub fn overlay_pixels(img: &RgbImage, rect: Rect) -> usize {
    count(img, rect, |r, g, b| {
        let (r, g, b) = (r as i32, g as i32, b as i32);
        (g - b > 40 && g - r > 20) || (r - b > 60)
    })
}

pub fn assert_same(a: &RgbImage, b: &RgbImage, rect: Rect, what: &str) {
    let n = changed(a, b, rect);
    assert!(n <= SAME, "{what}: {n} pixels changed, expected none");
}

pub fn assert_changed(a: &RgbImage, b: &RgbImage, rect: Rect, what: &str) {
    let n = changed(a, b, rect);
    assert!(n >= DIFFERENT, "{what}: only {n} pixels changed");
}

/// The label map in `path` (BraTS values 0, 1, 2, 4), with its dimensions.
fn labels(path: &Path) -> (Vec<u8>, [usize; 3]) {
    let v = cloe::io::read_volume(path, Default::default()).expect("a saved label map");
    let dims = v.grid.dims;
    (v.data.iter().map(|&x| x as u8).collect(), dims)
}

/// The voxels where two label maps differ: their axial slices and new values.
fn differences(a: &[u8], b: &[u8], dims: [usize; 3]) -> Vec<(usize, u8)> {
    let plane = dims[0] * dims[1];
    (a.iter().zip(b).enumerate())
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (_, &y))| (i / plane, y))
        .collect()
}

/// Paints a stroke across the right hemisphere's back part (no tumour there) of the axial view.
pub fn stroke(app: &App) {
    app.drag(1, AXIAL.at(0.62, 0.66), AXIAL.at(0.8, 0.66));
    app.hover(NEUTRAL);
}

/// Saves the shown labels to `path` with the Export field and "Save labels".
pub fn save_labels(app: &mut App, field: (u32, u32), button: (u32, u32), path: &Path) {
    app.fill(field, &path.display().to_string());
    app.click(button);
    app.hover(NEUTRAL);
    app.wait_for("the saved labels", Duration::from_secs(30), |_| {
        path.is_file()
    });
}

fn autosaves(home: &Path) -> Vec<PathBuf> {
    let dir = home.join(".local/share");
    let mut found = Vec::new();
    for app_dir in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let auto = app_dir.path().join("autosave");
        for f in std::fs::read_dir(auto).into_iter().flatten().flatten() {
            found.push(f.path());
        }
    }
    found
}

#[test]
fn read_edit_save_quit_and_restore_in_a_real_window() {
    let _one = crate::ONE_AT_A_TIME.lock();
    if !tools_present() {
        return;
    }
    let shared = data("brats2018/Brats18_2013_11_1");
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let screen = Screen::start("viewer");
    let mut app = App::launch(&screen, &["view", CASE], home.path());

    // The case opens and the shipped model's segmentation and gating weights appear.
    app.hover(NEUTRAL);
    settle(&app);
    let loaded = app.snap("loaded");
    assert!(
        overlay_pixels(&loaded, AXIAL) > 500,
        "no segmentation shown"
    );
    let bars = |img: &RgbImage| count(img, GATING_CHART, |r, g, b| r as i32 - g.max(b) as i32 > 40);
    assert!(bars(&loaded) > 50, "no gating bars");

    // Arrow up over the axial view steps a slice. Each wheel event is one slice; an XTEST wheel
    // click (xdotool) is two events, since winit reports both its press and its release (a real
    // wheel's notch is one: XInput2 marks its button events as emulated and winit takes the axis).
    app.hover(AXIAL.center());
    app.key("Up");
    app.hover(NEUTRAL);
    let up = app.snap("arrow-up");
    assert_changed(&loaded, &up, AXIAL, "arrow up");
    assert!(changed(&loaded, &up, AXIAL_TITLE) > 0, "the slice number");
    app.wheel(AXIAL.center(), -1);
    app.key("Up");
    app.hover(NEUTRAL);
    assert_same(
        &loaded,
        &app.snap("wheel-down"),
        AXIAL,
        "wheel down two, arrow up one",
    );
    app.wheel(AXIAL.center(), 1);
    app.key("Down");
    app.hover(NEUTRAL);
    let slice = app.snap("wheel-up");
    assert_same(&up, &slice, AXIAL, "wheel up two, arrow down one");

    // Right-drag sets window/level in every view.
    app.drag(3, AXIAL.center(), AXIAL.at(0.5, 0.3));
    app.hover(NEUTRAL);
    let wl = app.snap("window-level");
    assert_changed(&slice, &wl, AXIAL, "window/level (axial)");
    assert_changed(&slice, &wl, CORONAL, "window/level (coronal)");

    // A left-drag in the coronal view carries the crosshair: the axial slice follows.
    app.drag(1, CORONAL.center(), CORONAL.at(0.5, 0.45));
    app.hover(NEUTRAL);
    let wl_dragged = app.snap("crosshair-drag");
    assert_changed(
        &wl,
        &wl_dragged,
        AXIAL,
        "the axial slice follows the crosshair",
    );
    let wl = wl_dragged;

    // Middle-drag pans (every view: the pan is shared); "Reset view" undoes it.
    app.drag(2, AXIAL.center(), AXIAL.at(0.6, 0.5));
    app.hover(NEUTRAL);
    let panned = app.snap("panned");
    assert_changed(&wl, &panned, AXIAL, "middle-drag pans");
    app.click(RESET_VIEW);
    app.hover(NEUTRAL);
    assert_same(&wl, &app.snap("reset-view"), AXIAL, "Reset view");

    // A click moves the crosshair (the other planes follow); double-click maximises the axial view,
    // another restores the grid (each click also places the crosshair, so click the first place again).
    let target = AXIAL.at(0.45, 0.45);
    app.click(target);
    app.hover(NEUTRAL);
    let clicked = app.snap("clicked");
    assert_changed(&wl, &clicked, CORONAL, "a click moves the crosshair");
    app.double_click(target);
    app.hover(NEUTRAL);
    let max = app.snap("maximised");
    assert_changed(
        &clicked,
        &max,
        SAGITTAL,
        "maximised (the sagittal cell is gone)",
    );
    app.double_click(AXIAL.center());
    app.click(target);
    app.hover(NEUTRAL);
    let grid = app.snap("grid");
    assert_same(
        &clicked,
        &grid,
        Rect(300, 30, 1000, 850),
        "the grid is back",
    );

    // T1c off re-fuses without it (the chart loses a bar); on again gives the same picture.
    let without = click_and_settle(&mut app, modality_used(1), "without-t1c");
    assert_changed(
        &grid,
        &without,
        GATING_CHART,
        "the gating chart without T1c",
    );
    let with = click_and_settle(&mut app, modality_used(1), "with-t1c");
    assert_same(
        &grid,
        &with,
        GATING_CHART,
        "the gating chart with T1c again",
    );
    assert_same(&grid, &with, AXIAL, "the segmentation with T1c again");

    // Experts side by side: tiles of each expert and the fused result under the main view.
    app.click(EXPERTS_SIDE_BY_SIDE);
    app.hover(NEUTRAL);
    let tiles = app.snap("experts-side-by-side");
    assert_changed(&with, &tiles, SAGITTAL, "the expert tiles");
    app.click(EXPERTS_SIDE_BY_SIDE);
    app.hover(NEUTRAL);
    assert_same(
        &with,
        &app.snap("experts-off"),
        Rect(300, 30, 1000, 850),
        "the grid again",
    );

    // The model's labels as they are, saved before any edit.
    let before = out.path().join("model.nii.gz");
    save_labels(&mut app, EXPORT_FIELD, SAVE_LABELS, &before);

    // Paint a stroke; Ctrl+Z, Ctrl+Y, Ctrl+Shift+Z.
    app.click(PAINT);
    app.hover(NEUTRAL);
    let p0 = app.snap("paint-mode");
    stroke(&app);
    let p1 = app.snap("stroke");
    assert_changed(&p0, &p1, AXIAL, "the stroke");
    app.key("ctrl+z");
    let undone = app.snap("ctrl-z");
    assert_same(&p0, &undone, AXIAL, "Ctrl+Z");
    app.key("ctrl+y");
    assert_same(&p1, &app.snap("ctrl-y"), AXIAL, "Ctrl+Y");
    app.key("ctrl+z");
    app.key("ctrl+shift+z");
    assert_same(&p1, &app.snap("ctrl-shift-z"), AXIAL, "Ctrl+Shift+Z");

    // Erase over the stroke: the labels under it come back to what the model had there (nothing).
    app.click(ERASE);
    stroke(&app);
    assert_same(&p0, &app.snap("erased"), AXIAL, "erase");
    app.click(ERASE);
    stroke(&app);
    let p2 = app.snap("painted-again");
    assert_same(&p1, &p2, AXIAL, "the same stroke again");

    // Save labels: the file differs from the model's labels only on this slice, by NCR/NET (1).
    let edited = out.path().join("edited.nii.gz");
    save_labels(&mut app, EXPORT_FIELD_EDITING, SAVE_LABELS_EDITING, &edited);
    let (model, dims) = labels(&before);
    let (saved, saved_dims) = labels(&edited);
    assert_eq!(dims, saved_dims, "saved on the case's grid");
    let diff = differences(&model, &saved, dims);
    assert!(
        diff.len() > 20,
        "the stroke is in the file ({} voxels)",
        diff.len()
    );
    let z = diff[0].0;
    assert!(
        diff.iter().all(|&(s, v)| s == z && v == 1),
        "only NCR/NET on one axial slice: {:?}",
        &diff[..diff.len().min(5)]
    );

    // The stroke is a second lesion (the shipped model's post-processing leaves one tumour component):
    // L goes to it, Shift+L to the tumour (the crosshair moves, every view follows), L back to it.
    app.hover(NEUTRAL);
    let here = app.snap("before-lesions");
    app.key("l");
    let stroke_lesion = app.snap("lesion-2");
    assert_changed(&here, &stroke_lesion, CORONAL, "L: the next lesion");
    app.key("shift+l");
    let tumour = app.snap("lesion-1");
    assert_changed(
        &stroke_lesion,
        &tumour,
        AXIAL,
        "Shift+L: the previous lesion",
    );
    assert!(
        overlay_pixels(&tumour, AXIAL) > 500,
        "Shift+L lands on the tumour"
    );
    app.key("l");
    assert_same(
        &stroke_lesion,
        &app.snap("lesion-2-again"),
        Rect(300, 30, 1000, 850),
        "L again",
    );

    // One more stroke a slice up, not saved; Ctrl+Q quits and autosaves it.
    app.hover(AXIAL.center());
    app.key("Up");
    stroke(&app);
    app.snap("unsaved-stroke");
    app.key("ctrl+q");
    assert!(
        app.wait_exit(Duration::from_secs(20)),
        "Ctrl+Q closes the app"
    );
    drop(app);
    assert_eq!(
        autosaves(home.path()).len(),
        1,
        "the unsaved edit is autosaved"
    );

    // Reopened, the app offers the edit back; restored and saved, it holds both strokes.
    let mut app = App::launch(&screen, &["view", CASE], home.path());
    app.hover(NEUTRAL);
    let offered = settle(&app);
    app.snap("reopened");
    let normal = RgbImage::clone(&loaded);
    assert_changed(
        &normal,
        &offered,
        Rect(0, 500, 300, 580),
        "the autosave offer",
    );
    app.click(RESTORE);
    app.hover(NEUTRAL);
    settle(&app);
    app.snap("restored");
    let restored = out.path().join("restored.nii.gz");
    save_labels(&mut app, EXPORT_FIELD, SAVE_LABELS, &restored);
    let (back, _) = labels(&restored);
    let diff = differences(&saved, &back, dims);
    assert!(
        !diff.is_empty() && diff.iter().all(|&(s, v)| s == z + 1 && v == 1),
        "the restored labels add the second stroke one slice up: {} voxels",
        diff.len()
    );

    // A shared case by the path field.
    if let Some(dir) = shared {
        let title = app.shot();
        app.fill(CASE_FIELD, &dir.display().to_string());
        app.key("Return");
        app.hover(NEUTRAL);
        let opened = settle(&app);
        app.snap("shared-case");
        assert_changed(&title, &opened, CASE_TITLE, "the case's name");
        assert!(overlay_pixels(&opened, AXIAL) > 200, "the model ran on it");
    }
    app.key("ctrl+q");
    assert!(
        app.wait_exit(Duration::from_secs(20)),
        "Ctrl+Q closes the app"
    );
}
