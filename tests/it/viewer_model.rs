//! The model in the viewer: experts computed once in the background, a modality toggle re-fused from the
//! cache (the switched-off modality gets weight 0, the others sum to 1), and the overlay switched between
//! CLoE, one expert, the disagreement map and the REC region map. The model here is a small untrained
//! network (the mechanism is under test, not its accuracy).

use crate::common;
use cloe::app::{OverlaySource, ViewerApp};
use cloe::case::Profile;
use cloe::model::{CloeConfig, CloeNet, save_model};
use common::data;
use eframe::egui;
use egui_kittest::Harness;

fn wait(h: &mut Harness<'static, ViewerApp>, done: impl Fn(&ViewerApp) -> bool) {
    let t = std::time::Instant::now();
    while !done(h.state()) && t.elapsed().as_secs() < 300 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(done(h.state()), "timed out; error: {:?}", h.state().error);
}

/// The first inference has finished.
fn experts_done(a: &ViewerApp) -> bool {
    a.models
        .model
        .as_ref()
        .is_some_and(|m| m.maps.is_some() && !m.busy())
}

/// A re-fusion after a toggle has finished.
fn refused(a: &ViewerApp) -> bool {
    a.models
        .model
        .as_ref()
        .is_some_and(|m| m.fusion_seconds.is_some() && !m.busy())
}

/// The current gating weights.
fn weights(h: &Harness<'static, ViewerApp>) -> Vec<f64> {
    h.state()
        .models
        .model
        .as_ref()
        .unwrap()
        .maps
        .as_ref()
        .unwrap()
        .w
        .clone()
}

/// Switches modality `m` off and waits for the re-fusion; returns the new gating weights.
fn switch_off(h: &mut Harness<'static, ViewerApp>, m: usize) -> Vec<f64> {
    {
        let model = h.state_mut().models.model.as_mut().unwrap();
        model.subset = model.subset.with(m, false);
        model.refuse();
    }
    wait(h, refused);
    // Whether or not a first look showed meanwhile, the result replaced it.
    let a = h.state();
    assert!(a.models.model.as_ref().unwrap().preview.is_none());
    assert!(!a.view.as_ref().unwrap().overlay.provisional);
    weights(h)
}

#[test]
fn toggles_refuse_from_cached_experts_and_overlays_switch() {
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let model_dir = tempfile::tempdir().unwrap();
    let cfg = CloeConfig {
        channels: 2,
        gate_hidden: 4,
        content_channels: 2,
        style_dim: 2,
        patch: 16,
        spacing_mm: 4.0,
        ..CloeConfig::for_profile(Profile::Brats)
    };
    save_model(
        &CloeNet::new(&cfg, &burn::prelude::Device::flex()),
        model_dir.path(),
    )
    .unwrap();

    let mut app = ViewerApp::new(Some(dir));
    app.models.field = model_dir.path().display().to_string();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    wait(&mut h, |a| a.view.is_some());
    use egui_kittest::kittest::Queryable;
    h.get_by_label("Load model").click();
    h.step();
    h.step();
    assert!(h.state().models.model.is_some(), "{:?}", h.state().error);
    h.get_by_label("Run CLoE").click();
    h.step();
    wait(&mut h, experts_done);
    // The windows that cover the case once were fused first: the overlay showed that first look
    // before the remaining windows refined it into the result shown now.
    let m = h.state().models.model.as_ref().unwrap();
    let (look, first) = (m.preview_seconds.unwrap(), m.first_seconds.unwrap());
    assert!(look < first, "first look at {look} s, result at {first} s");
    let overlay = &h.state().view.as_ref().unwrap().overlay;
    assert!(overlay.name == "CLoE" && !overlay.provisional);
    let w = weights(&h);
    assert!(
        (w.iter().sum::<f64>() - 1.0).abs() < 1e-4 && w.iter().all(|&x| x > 0.0),
        "{w:?}"
    );

    // Switch T1c off: only the fusion runs again, on the cached experts. (How much faster that is
    // is measured by `cloe bench`, not asserted here: timings on a shared CI machine vary.)
    // A toggle that went through the experts' job again would set a new first-inference time.
    let first = h.state().models.model.as_ref().unwrap().first_seconds;
    let w = switch_off(&mut h, 1);
    let m = h.state().models.model.as_ref().unwrap();
    assert_eq!(w[1], 0.0);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{w:?}");
    assert!(
        m.maps.as_ref().unwrap().experts[1].is_none(),
        "no expert map for a switched-off modality"
    );
    assert_eq!(m.first_seconds, first, "the experts did not run again");

    // While the reader looks, the sets one switch away are fused ahead (the toggle above cancelled
    // those of all four); the next toggles find theirs kept, with the same weights rules.
    let fusing = |a: &ViewerApp| a.models.model.as_ref().is_some_and(|m| m.fusing_ahead());
    wait(&mut h, |a| !fusing(a));
    let w = switch_off(&mut h, 0);
    assert!(w[0] == 0.0 && w[1] == 0.0, "{w:?}");
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{w:?}");
    wait(&mut h, |a| !fusing(a));
    {
        let model = h.state_mut().models.model.as_mut().unwrap();
        model.subset = model.subset.with(0, true);
        model.refuse();
    }
    wait(&mut h, refused);
    let w = weights(&h);
    assert!(w[1] == 0.0 && w[0] > 0.0, "{w:?}");

    // Overlays.
    let state = h.state_mut();
    let (model, view) = (
        state.models.model.as_mut().unwrap(),
        state.view.as_mut().unwrap(),
    );
    model.source = OverlaySource::Disagreement;
    model.apply_overlay(view);
    assert!(view.overlay.heat.is_some() && view.overlay.name == "disagreement");
    model.source = OverlaySource::Expert(0);
    model.apply_overlay(view);
    assert!(
        view.overlay.heat.is_none()
            && view.overlay.labels.is_some()
            && view.overlay.name == "expert FLAIR"
    );
    model.source = OverlaySource::Fused;
    model.apply_overlay(view);
    assert_eq!(
        view.overlay.labels.as_ref().unwrap().len(),
        view.case.grid.len()
    );
    h.step();
}

#[test]
fn the_bundled_case_opens_with_the_shipped_model() {
    // What `cloe` without arguments does: the bundled case, then the shipped model run on it.
    let mut app = ViewerApp::new(Some(cloe::app::bundled_case()));
    app.load_model_after_open(cloe::app::bundled_model());
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    wait(&mut h, experts_done);
    let state = h.state();
    let view = state.view.as_ref().unwrap();
    let tumour = view
        .overlay
        .labels
        .as_ref()
        .expect("the fused segmentation is shown")
        .iter()
        .filter(|&&c| c > 0)
        .count();
    assert!(
        tumour > 1000,
        "the shipped model finds the glioma ({tumour} voxels)"
    );
    let full = weights(&h);
    // FLAIR off: the gating weights move to the other three.
    let w = switch_off(&mut h, 0);
    assert_eq!(w[0], 0.0);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{w:?}");
    assert!(
        (1..4).any(|i| (w[i] - full[i]).abs() > 1e-3),
        "the gating weights change: {full:?} -> {w:?}"
    );
}

/// Opening a case runs the shipped model when no other is chosen, and a loaded model follows the user
/// to the next case of its profile.
#[test]
fn the_shipped_model_runs_on_an_opened_case() {
    let mut app = ViewerApp::new(Some(cloe::app::bundled_case()));
    app.models.shipped = Some(cloe::app::bundled_model());
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    wait(&mut h, experts_done);
    let first = h.state().models.model.as_ref().unwrap();
    assert_eq!(first.dir, cloe::app::bundled_model());
    assert_eq!(
        first.source,
        OverlaySource::Fused,
        "the segmentation is shown"
    );
    // The experts side by side: four experts and the fused result under the main view.
    use egui_kittest::kittest::Queryable;
    h.get_by_label("Experts side by side").click();
    h.run_steps(3);
    assert_eq!(h.state().tiles.drawn(), 5);
    let Some(other) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    h.state_mut().open(other);
    wait(&mut h, |a| {
        a.view
            .as_ref()
            .is_some_and(|v| v.case.id == "Brats18_2013_11_1")
            && experts_done(a)
    });
}
