//! The 3-D view on lavapipe: the ground truth's regions of a real BraTS case as surfaces with a stable
//! triangle count, drawn offscreen into a non-empty image whose regions come and go with the legend's
//! toggles; in the app, the fourth quadrant's "3-D" tab builds the same surfaces and shows them; and
//! snapshots of the new layouts (three planes with the 3-D view; the experts side by side) catch any
//! change in what the user sees.

use crate::common::data;
use cloe::app::surface_gpu::{Camera, Scene, SurfaceRenderer};
use cloe::app::{CaseView, OverlaySource, ViewerApp, build_meshes};
use cloe::case::{find_case, load_case};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Triangles of the WT, TC and ET surfaces of Brats18_2013_11_1's ground truth (Surface Nets on the
/// label voxels; a change here is a change of the surfaces users see).
const TRIANGLES: [usize; 3] = [54236, 35560, 59164];

fn render_state() -> Option<eframe::egui_wgpu::RenderState> {
    crate::common::wgpu_device()?;
    Some(egui_kittest::wgpu::create_render_state(
        egui_kittest::wgpu::default_wgpu_setup(),
        eframe::egui_wgpu::RendererOptions::PREDICTABLE,
    ))
}

/// Pixels that are not the background (the renderer clears to a near-black, in the corners here).
fn drawn(rgba: &[u8]) -> usize {
    let background = &rgba[..4];
    rgba.chunks(4)
        .filter(|p| p.iter().zip(background).any(|(a, b)| a.abs_diff(*b) > 8))
        .count()
}

#[test]
fn the_ground_truth_surfaces_render_offscreen_with_a_stable_triangle_count() {
    let Some(rs) = render_state() else { return };
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let case = load_case(&find_case(&dir, None).unwrap(), Default::default()).unwrap();
    let mut view = CaseView::new(case);
    let profile = view.case.profile;
    view.display.set_by_region(profile, true);
    let labels = view.overlay.labels.clone().unwrap();
    let style = view.display.label_style(view.case.profile);
    let meshes = build_meshes(&view.case.grid, &labels, &style, None);
    let triangles: Vec<usize> = meshes.iter().map(|m| m.mesh.triangles()).collect();
    eprintln!("triangles (WT, TC, ET): {triangles:?}");
    assert_eq!(triangles, TRIANGLES);
    let again = build_meshes(&view.case.grid, &labels, &style, None);
    assert!(meshes.iter().zip(&again).all(|(a, b)| a.mesh == b.mesh));

    let mut renderer = SurfaceRenderer::new(&rs.device);
    renderer.set_meshes(&rs.device, &meshes);
    let (lo, hi) = meshes[0].mesh.bounds().unwrap();
    let camera = Camera {
        centre: std::array::from_fn(|i| 0.5 * (lo[i] + hi[i])),
        radius: 0.5 * (0..3).map(|i| (hi[i] - lo[i]).powi(2)).sum::<f32>().sqrt(),
        yaw: 0.5,
        pitch: 0.3,
        zoom: 1.0,
    };
    let size = [192, 192];
    let render = |visible: &[bool]| {
        let scene = Scene {
            camera,
            visible,
            cursor: None,
        };
        renderer.render_offscreen(&rs.device, &rs.queue, size, &scene)
    };
    let all = render(&[false, true, true, true]);
    let wt = drawn(&all);
    assert!(
        wt * 10 > 192 * 192,
        "the WT surface fills a good part of the image ({wt} pixels)"
    );
    // Hiding WT shows the smaller TC and ET it wraps.
    let tc_et = drawn(&render(&[false, false, true, true]));
    assert!(
        0 < tc_et && tc_et < wt,
        "TC and ET alone: {tc_et} pixels, WT {wt}"
    );
    assert_eq!(
        drawn(&render(&[false; 4])),
        0,
        "nothing visible, nothing drawn"
    );
    let png = image::RgbaImage::from_raw(192, 192, all).unwrap();
    let out = std::env::temp_dir().join("cloe-surface-offscreen.png");
    png.save(&out).unwrap();
    eprintln!("offscreen image: {}", out.display());
}

pub(crate) fn wgpu_harness(app: ViewerApp) -> Harness<'static, ViewerApp> {
    let mut app = Some(app);
    Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .wgpu()
        .build_eframe(move |cc| {
            let mut app = app.take().expect("built once");
            app.slices.gpu = cc.wgpu_render_state.clone();
            app
        })
}

fn wait(h: &mut Harness<'static, ViewerApp>, what: &str, done: impl Fn(&ViewerApp) -> bool) {
    let t = std::time::Instant::now();
    while !done(h.state()) && t.elapsed().as_secs() < 600 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        done(h.state()),
        "timed out waiting for {what}: {:?}",
        h.state().error
    );
}

#[test]
fn the_3d_tab_shows_the_surfaces_and_the_layout_matches_its_snapshot() {
    if render_state().is_none() {
        return;
    }
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let mut h = wgpu_harness(ViewerApp::new(Some(dir)));
    wait(&mut h, "the case", |a| a.view.is_some());
    let view = h.state_mut().view.as_mut().unwrap();
    let profile = view.case.profile;
    view.display.set_by_region(profile, true);
    h.run_steps(2);
    h.get_by_label("3-D").click();
    wait(&mut h, "the surfaces and the measurements", |a| {
        !a.surface.triangles.is_empty() && a.view.as_ref().unwrap().measure.done()
    });
    h.run_steps(3);
    let shown: Vec<usize> = h.state().surface.triangles.iter().map(|t| t.1).collect();
    assert_eq!(
        shown, TRIANGLES,
        "the app builds the surfaces the library does"
    );
    // The path field shows where the data lies on this machine; the snapshot must not depend on it.
    h.state_mut().path_field = "Brats18_2013_11_1".into();
    // The pointer away from every widget (its drawing would depend on how many frames ran).
    h.hover_at(egui::Pos2::new(1300.0, 880.0));
    h.run_steps(2);
    h.snapshot("layout_three_planes_and_3d");
    // Dragging on the image turns the surfaces.
    let yaw = h.state().surface.yaw;
    let at = egui::Pos2::new(900.0, 700.0);
    h.hover_at(at);
    h.step();
    h.drag_at(at);
    h.step();
    for dx in [10.0, 20.0, 40.0] {
        h.hover_at(at + egui::vec2(dx, 0.0));
        h.step();
    }
    h.drop_at(at + egui::vec2(40.0, 0.0));
    h.run_steps(2);
    assert!(
        (h.state().surface.yaw - yaw).abs() > 0.1,
        "a drag turns the view: yaw {yaw} -> {}",
        h.state().surface.yaw
    );
}

#[test]
fn on_glow_the_3d_tab_says_it_needs_wgpu() {
    let app = ViewerApp::new(Some(cloe::app::bundled_case()));
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    wait(&mut h, "the case", |a| a.view.is_some());
    h.run_steps(2);
    h.get_by_label("3-D").click();
    h.run_steps(2);
    h.get_by_label_contains("3-D needs the wgpu renderer");
}

#[test]
fn the_experts_side_by_side_match_their_snapshot() {
    if render_state().is_none() {
        return;
    }
    let mut app = ViewerApp::new(Some(cloe::app::bundled_case()));
    app.models.shipped = Some(cloe::app::bundled_model());
    let mut h = wgpu_harness(app);
    // The segmentation, and the fusions ahead of a toggle that follow it (the panel says so while
    // they run): the snapshot is of the settled panel.
    wait(&mut h, "the shipped model's segmentation", |a| {
        a.models
            .model
            .as_ref()
            .is_some_and(|m| m.maps.is_some() && !m.busy() && !m.fusing_ahead())
    });
    assert_eq!(
        h.state().models.model.as_ref().unwrap().source,
        OverlaySource::Fused
    );
    h.get_by_label("Experts side by side").click();
    h.run_steps(3);
    assert_eq!(h.state().tiles.drawn(), 5);
    wait(&mut h, "the measurements", |a| {
        a.view.as_ref().unwrap().measure.done()
    });
    h.state_mut().path_field = "TCGA-DU-7294".into();
    h.hover_at(egui::Pos2::new(1300.0, 880.0));
    h.run_steps(2);
    // The network runs on the CPU with a multi-threaded backend: a boundary voxel may differ between
    // runs, so a few hundred pixels may.
    let options = egui_kittest::SnapshotOptions::default().max_failed_pixels(400);
    h.snapshot_options("layout_experts_side_by_side", &options);
}
