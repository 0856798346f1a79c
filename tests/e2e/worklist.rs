//! A folder of cases in a real window, as a reader goes through it: `cloe view FOLDER` opens the
//! Worklist page; a click on a row opens that case with the model's segmentation; "accepted" in the
//! review bar is kept in the app's data folder; the brush keys (P, ], 2) paint a wider stroke of
//! edema; "All sequences side by side" shows one tile per sequence; N and Shift+N move to the next and
//! previous case; reopened after Ctrl+Q, the list still says "accepted".

use crate::common::data;
use crate::layout::*;
use crate::viewer::{assert_changed, assert_same, stroke};
use crate::x11::{App, Rect, Screen, changed, count, tools_present};
use image::RgbImage;
use std::path::Path;
use std::time::Duration;

fn settle(app: &App) -> RgbImage {
    app.settle(Duration::from_millis(1500), Duration::from_secs(240))
}

/// The reviews the app keeps for its worklists (the one folder of this test), as text.
fn kept_reviews(home: &Path) -> String {
    let dir = home.join(".local/share");
    let mut text = String::new();
    for app_dir in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let lists = app_dir.path().join("worklists");
        for f in std::fs::read_dir(lists).into_iter().flatten().flatten() {
            text += &std::fs::read_to_string(f.path()).unwrap_or_default();
        }
    }
    text
}

/// Pixels of the overlay's edema-only colour (WT green) and of the core (TC yellow) in `rect`.
fn green_and_yellow(img: &RgbImage, rect: Rect) -> (usize, usize) {
    let green = count(img, rect, |r, g, b| {
        g as i32 - b as i32 > 40 && g as i32 - r as i32 > 20
    });
    let yellow = count(img, rect, |r, g, b| {
        r as i32 - b as i32 > 60 && g as i32 - b as i32 > 60
    });
    (green, yellow)
}

#[test]
fn go_through_a_folder_with_review_status_brush_keys_and_the_grid() {
    let _one = crate::ONE_AT_A_TIME.lock();
    if !tools_present() {
        return;
    }
    let Some(shared) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("cases");
    std::fs::create_dir(&folder).unwrap();
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/TCGA-DU-7294");
    for dir in [bundled.as_path(), shared.as_path()] {
        let name = dir.file_name().unwrap();
        std::os::unix::fs::symlink(dir.canonicalize().unwrap(), folder.join(name)).unwrap();
    }
    let screen = Screen::start("worklist");
    let list = folder.display().to_string();
    let mut app = App::launch(&screen, &["view", &list], home.path());
    app.hover(NEUTRAL);
    let page = settle(&app);
    app.snap("worklist");

    // The second row (sorted: Brats18_2013_11_1, TCGA-DU-7294): the bundled case opens with the
    // model's segmentation and the review bar.
    app.click(worklist_row(1));
    app.hover(NEUTRAL);
    let second = settle(&app);
    app.snap("second-case");
    assert_changed(&page, &second, AXIAL, "the case opened from the list");
    let (g, y) = green_and_yellow(&second, AXIAL);
    assert!(g + y > 500, "the model's segmentation is shown");

    // "accepted" is kept at once in the app's data folder.
    app.click(REVIEW_ACCEPTED);
    app.hover(NEUTRAL);
    app.snap("accepted");
    app.wait_for("the review kept", Duration::from_secs(10), |_| {
        kept_reviews(home.path()).contains("\"accepted\"")
    });

    // Brush keys: P paints (class 1, NCR/NET: the core's yellow); undone; ] four times and 2 paint a
    // wider stroke of edema (the whole tumour's green only).
    app.hover(AXIAL.center());
    app.key("p");
    app.hover(NEUTRAL);
    let before = app.snap("paint-key");
    stroke(&app);
    let narrow = app.snap("narrow-stroke");
    let narrow_px = changed(&before, &narrow, AXIAL);
    let (g0, y0) = green_and_yellow(&before, AXIAL);
    let (g1, y1) = green_and_yellow(&narrow, AXIAL);
    assert!(y1 > y0 + 50 && g1 <= g0 + 30, "class 1 by default");
    app.key("ctrl+z");
    for _ in 0..4 {
        app.key("bracketright");
    }
    app.key("2");
    stroke(&app);
    let wide = app.snap("wide-edema-stroke");
    let wide_px = changed(&before, &wide, AXIAL);
    let (g2, y2) = green_and_yellow(&wide, AXIAL);
    assert!(
        wide_px > narrow_px * 3 / 2,
        "] widens the brush: {narrow_px} then {wide_px} pixels"
    );
    assert!(g2 > g0 + 50 && y2 <= y0 + 30, "2 paints edema");
    app.key("ctrl+z");
    app.key("p");
    assert_same(&before, &app.snap("undone"), AXIAL, "undone");

    // Every sequence side by side: four tiles replace the three planes; off again, the planes return.
    app.click(ALL_SEQUENCES_IN_REVIEW);
    app.hover(NEUTRAL);
    let grid = app.snap("all-sequences");
    assert_changed(&before, &grid, SAGITTAL, "the sequence tiles");
    assert_changed(&before, &grid, CORONAL, "the sequence tiles");
    app.click(ALL_SEQUENCES_IN_REVIEW);
    app.hover(NEUTRAL);
    assert_same(
        &before,
        &app.snap("planes-again"),
        AXIAL,
        "the planes again",
    );

    // Shift+N: the first case, segmented; N: back to the second, as it was.
    app.key("shift+n");
    app.hover(NEUTRAL);
    let first = settle(&app);
    app.snap("shift-n");
    assert_changed(&second, &first, CASE_TITLE_IN_REVIEW, "the case's name");
    let (g, y) = green_and_yellow(&first, AXIAL);
    assert!(g + y > 200, "the model ran on the first case");
    app.key("n");
    app.hover(NEUTRAL);
    let back = settle(&app);
    app.snap("n");
    assert_same(
        &second,
        &back,
        CASE_TITLE_IN_REVIEW,
        "the second case again",
    );

    // Closed and opened again: the list says the second case was accepted.
    app.key("ctrl+q");
    assert!(app.wait_exit(Duration::from_secs(20)), "Ctrl+Q closes");
    drop(app);
    let mut app = App::launch(&screen, &["view", &list], home.path());
    app.hover(NEUTRAL);
    let again = settle(&app);
    app.snap("reopened");
    assert_changed(&page, &again, worklist_status(1), "the status column");
    assert_same(&page, &again, worklist_status(0), "the first case's status");
    app.key("ctrl+q");
    assert!(app.wait_exit(Duration::from_secs(20)), "Ctrl+Q closes");
}
