//! Editing labels in the viewer as a user does it: paint with the mouse in a view, undo and redo with
//! the keyboard, the autosave written after a pause and offered back when the case is opened again,
//! edits protected from being replaced, saving to a file on the case's grid, discarding. On a synthetic
//! prostate case (a test of the mechanism, never a claim about real scans).

use crate::common;
use cloe::app::{ViewerApp, autosave_path};
use cloe::render::Plane;
use common::synthetic_prostate;
use eframe::egui::{self, Key, Modifiers, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;

const SIZE: egui::Vec2 = egui::Vec2::new(1400.0, 900.0);

pub(crate) fn harness(case: &Path, autosave: &Path) -> Harness<'static, ViewerApp> {
    let mut app = ViewerApp::new(Some(case.to_path_buf()));
    app.autosave.dir = Some(autosave.to_path_buf());
    app.maximised = Some(Plane::Axial);
    let mut h = Harness::builder()
        .with_size(SIZE)
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    wait(&mut h, "the case", |a| a.view.is_some());
    // Let the layout settle (widget ids come from it) before clicking.
    h.run_steps(3);
    h
}

pub(crate) fn wait(
    h: &mut Harness<'static, ViewerApp>,
    what: &str,
    done: impl Fn(&ViewerApp) -> bool,
) {
    let t = std::time::Instant::now();
    while !done(h.state()) && t.elapsed().as_secs() < 60 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(done(h.state()), "timed out waiting for {what}");
}

pub(crate) fn overlay(h: &Harness<'static, ViewerApp>) -> Vec<u8> {
    h.state()
        .view
        .as_ref()
        .unwrap()
        .overlay
        .labels
        .clone()
        .unwrap()
}

/// A left-button drag from `a` to `b` through the middle point.
pub(crate) fn drag(h: &mut Harness<'static, ViewerApp>, a: Pos2, b: Pos2) {
    h.hover_at(a);
    h.step();
    h.drag_at(a);
    h.step();
    for t in [0.25f32, 0.5, 0.75, 1.0] {
        h.hover_at(a + (b - a) * t);
        h.step();
    }
    h.drop_at(b);
    h.run_steps(2);
}

#[test]
fn paint_undo_autosave_restore_save_and_discard() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic_prostate(&tmp.path().join("data"));
    let case = tmp.path().join("data/Synth-1");
    let autosave = tmp.path().join("autosave");
    let mut h = harness(&case, &autosave);
    let truth = overlay(&h);

    h.get_by_label("Paint").click();
    h.run_steps(2);
    // TZ (class 2), radius 3 mm (the legend also names TZ, so the brush is set directly).
    let brush = &mut h.state_mut().view.as_mut().unwrap().edit.brush;
    (brush.class, brush.radius_mm) = (2, 3.0);
    // The maximised axial view fills the central panel; its image is centred there.
    let centre = Pos2::new(660.0, 470.0);
    drag(
        &mut h,
        centre - egui::vec2(30.0, 0.0),
        centre + egui::vec2(30.0, 10.0),
    );
    let painted = overlay(&h);
    let view = h.state().view.as_ref().unwrap();
    let dims = view.case.grid.dims;
    let changed: Vec<usize> = (0..painted.len())
        .filter(|&i| painted[i] != truth[i])
        .collect();
    assert!(changed.len() > 10, "{} voxels painted", changed.len());
    let z = view.nav.cursor[2];
    assert!(
        changed
            .iter()
            .all(|&i| i / (dims[0] * dims[1]) == z && painted[i] == 2),
        "TZ painted in the axial slice z = {z} only"
    );
    assert!(view.edit.unsaved && view.edit.history.can_undo());
    assert!(view.overlay.name.ends_with("(edited)"));

    // Undo and redo from the keyboard: the whole stroke at once, also while a button holds the
    // keyboard focus (as the Paint toggle does in a real window after it is clicked).
    h.get_by_label("Paint").focus();
    h.run_steps(2);
    assert!(
        h.ctx.memory(|m| m.focused().is_some()),
        "a widget has the focus"
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert!(overlay(&h) == truth, "Ctrl+Z undoes the stroke");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    assert!(overlay(&h) == painted, "Ctrl+Y redoes it");
    // A quick chord, Ctrl pressed and released within one frame (as a fast typist or xdotool does),
    // still undoes: the shortcut reads the modifiers of the key event, not the frame's.
    fn chord(h: &mut Harness<'static, ViewerApp>, key: Key) {
        let press = |pressed| egui::Event::Key {
            key,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers: Modifiers::COMMAND,
        };
        h.input_mut().events.extend([
            egui::Event::ModifiersChanged(Modifiers::COMMAND),
            press(true),
            press(false),
            egui::Event::ModifiersChanged(Modifiers::NONE),
        ]);
        h.step();
    }
    chord(&mut h, Key::Z);
    h.run_steps(2);
    assert!(overlay(&h) == truth, "a one-frame Ctrl+Z undoes the stroke");
    chord(&mut h, Key::Y);
    h.run_steps(2);
    assert!(overlay(&h) == painted, "a one-frame Ctrl+Y redoes it");

    // Loading another label map over unsaved edits is refused.
    let other = case.join("Synth-1_label.nii.gz");
    let e = h
        .state_mut()
        .view
        .as_mut()
        .unwrap()
        .load_overlay(&other)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unsaved edits"), "{e}");

    // The autosave follows a pause, on the case's grid and in its label convention.
    let file = autosave_path(&autosave, h.state().view.as_ref().unwrap());
    wait(&mut h, "the autosave", |_| file.is_file());
    h.run_steps(3);
    let saved = cloe::io::read_volume(&file, Default::default()).unwrap();
    assert!(
        saved
            .grid
            .same_as(&h.state().view.as_ref().unwrap().case.grid)
    );
    assert!(
        saved
            .data
            .iter()
            .zip(&painted)
            .all(|(&d, &c)| d == c as f32)
    );
    drop(h);

    // Opened again (a new session): the autosave is offered and restores the edits.
    let mut h = harness(&case, &autosave);
    assert_eq!(overlay(&h), truth);
    h.get_by_label("Restore them").click();
    h.run_steps(2);
    assert_eq!(overlay(&h), painted);
    assert!(h.state().view.as_ref().unwrap().edit.unsaved);

    // Saving to a file keeps the edits and ends the autosave.
    let out = tmp.path().join("edited.nii.gz");
    h.state_mut().export.field = out.display().to_string();
    h.get_by_label("Save labels").click();
    h.run_steps(2);
    assert!(h.state().error.is_none(), "{:?}", h.state().error);
    let written = cloe::io::read_volume(&out, Default::default()).unwrap();
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
        "the autosave is removed once the labels are saved"
    );

    // More paint, then discard: the case's labels are back and nothing is left to restore.
    h.get_by_label("Paint").click();
    h.run_steps(2);
    if !h.state().view.as_ref().unwrap().edit.painting {
        h.get_by_label("Paint").click();
        h.run_steps(2);
    }
    drag(
        &mut h,
        centre - egui::vec2(0.0, 30.0),
        centre + egui::vec2(0.0, 30.0),
    );
    assert_ne!(overlay(&h), painted);
    h.get_by_label("Discard edits").click();
    h.run_steps(2);
    assert_eq!(overlay(&h), truth);
    assert!(!h.state().view.as_ref().unwrap().edit.unsaved);
}

#[test]
fn brush_keys_as_itk_snap_has_them() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic_prostate(&tmp.path().join("data"));
    let mut h = harness(
        &tmp.path().join("data/Synth-1"),
        &tmp.path().join("autosave"),
    );
    let edit = |h: &Harness<'static, ViewerApp>| {
        let e = &h.state().view.as_ref().unwrap().edit;
        (e.painting, e.erase, e.brush.class, e.brush.radius_mm)
    };
    assert_eq!(edit(&h), (false, false, 1, 3.0));
    // P: paint mode; ] ] [: one mm larger; E: erase; 2: the second class, erase off; 3 (no third
    // prostate class): nothing; P: paint mode off.
    for key in [
        Key::P,
        Key::CloseBracket,
        Key::CloseBracket,
        Key::OpenBracket,
    ] {
        h.key_press(key);
        h.run_steps(1);
    }
    assert_eq!(edit(&h), (true, false, 1, 4.0));
    h.key_press(Key::E);
    h.run_steps(1);
    assert_eq!(edit(&h), (true, true, 1, 4.0));
    h.key_press(Key::Num2);
    h.key_press(Key::Num3);
    h.run_steps(1);
    assert_eq!(edit(&h), (true, false, 2, 4.0));
    h.key_press(Key::P);
    h.run_steps(1);
    assert!(!edit(&h).0);
    // A number key starts paint mode with its class; the radius stays within 0–20 mm.
    h.key_press(Key::Num1);
    for _ in 0..25 {
        h.key_press(Key::CloseBracket);
    }
    h.run_steps(1);
    assert_eq!(edit(&h), (true, false, 1, 20.0));
}
