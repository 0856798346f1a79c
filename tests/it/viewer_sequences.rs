//! Every sequence side by side: one tile per modality on one plane, a missing modality an empty tile,
//! each tile with its own window/level (right-drag), the crosshair and slice shared, the plane chosen
//! above the tiles. On a synthetic prostate case without its T2 (a test of the mechanism).

use crate::common;
use crate::viewer_editing::wait;
use cloe::app::ViewerApp;
use cloe::case::Profile;
use cloe::render::Plane;
use common::synthetic_prostate;
use eframe::egui::{self, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// A button held from `a` to `b` (window/level with the secondary one).
fn drag_with(h: &mut Harness<'static, ViewerApp>, button: egui::PointerButton, a: Pos2, b: Pos2) {
    let press = |pos, pressed| egui::Event::PointerButton {
        pos,
        button,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    h.event(egui::Event::PointerMoved(a));
    h.step();
    h.event(press(a, true));
    h.step();
    for t in [0.25f32, 0.5, 0.75, 1.0] {
        h.event(egui::Event::PointerMoved(a + (b - a) * t));
        h.step();
    }
    h.event(press(b, false));
    h.run_steps(2);
}

#[test]
fn one_tile_per_sequence_each_with_its_window() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic_prostate(&tmp.path().join("data"));
    let case = tmp.path().join("data/Synth-1");
    std::fs::remove_file(case.join("Synth-1_t2w.nii.gz")).unwrap();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|_| ViewerApp::new(Some(case.clone())));
    wait(&mut h, "the case", |a| a.view.is_some() && !a.is_loading());
    h.run_steps(2);
    h.get_by_label("All sequences side by side").click();
    h.run_steps(3);
    assert!(h.state().grid.on);
    let main_window = {
        let d = &h.state().view.as_ref().unwrap().display;
        (d.level, d.width)
    };
    assert_eq!(
        h.state().view.as_ref().unwrap().case.profile,
        Profile::Prostate
    );
    let adc = h.state().grid.window(1).unwrap();
    assert_eq!(
        adc, main_window,
        "the ADC tile starts with ADC's own window"
    );
    // T2 is missing (the left tile); the ADC tile is the right half of the central panel:
    // right-drag there widens only its window.
    let central = h.get_by_label("Axial").rect();
    let inside = Pos2::new(central.left() + 550.0, central.bottom() + 300.0);
    drag_with(
        &mut h,
        egui::PointerButton::Secondary,
        inside,
        inside + egui::vec2(60.0, 0.0),
    );
    let after = h.state().grid.window(1).unwrap();
    assert!(
        after.1 > adc.1,
        "the tile's width grew: {adc:?} -> {after:?}"
    );
    let d = &h.state().view.as_ref().unwrap().display;
    assert_eq!(
        (d.level, d.width),
        main_window,
        "the main window is untouched"
    );
    // A click in the tile moves the shared crosshair; the plane buttons choose the plane.
    let before = h.state().view.as_ref().unwrap().nav.cursor;
    h.event(egui::Event::PointerMoved(inside + egui::vec2(30.0, 30.0)));
    h.step();
    let click = |pressed| egui::Event::PointerButton {
        pos: inside + egui::vec2(30.0, 30.0),
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    h.event(click(true));
    h.step();
    h.event(click(false));
    h.run_steps(2);
    assert_ne!(h.state().view.as_ref().unwrap().nav.cursor, before);
    h.get_by_label("Coronal").click();
    h.run_steps(2);
    assert_eq!(h.state().grid.plane, Plane::Coronal);
    // Off again: the three planes.
    h.get_by_label("All sequences side by side").click();
    h.run_steps(2);
    assert!(!h.state().grid.on);
}
