//! The WGSL slice renderer on lavapipe (software Vulkan, installed by `.ci/run`): it draws the same
//! pixels as the CPU path for every plane, regions and classes, filled and outlined, hidden labels and
//! the heat map; the app's three views look the same with either path; and a snapshot of the three views
//! (tests/snapshots) catches any change in what the user sees.

use crate::common;
use cloe::app::gpu_slices::GpuSlices;
use cloe::app::{CaseView, ViewerApp};
use cloe::case::{find_case, load_case};
use cloe::render::Plane;
use common::data;
use eframe::egui;
use egui_kittest::Harness;

fn render_state() -> Option<eframe::egui_wgpu::RenderState> {
    if cloe::device::adapters().is_empty() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("no wgpu adapter in CI: .ci/run must install mesa-vulkan-drivers (lavapipe)");
        }
        eprintln!("skipping: no wgpu adapter");
        return None;
    }
    Some(egui_kittest::wgpu::create_render_state(
        egui_kittest::wgpu::default_wgpu_setup(),
        eframe::egui_wgpu::RendererOptions::PREDICTABLE,
    ))
}

/// Asserts that the shader draws `plane` as the CPU path does (within one grey level on ≤ 0.1 % of
/// the channels).
fn assert_same(view: &CaseView, gpu: &GpuSlices, rs: &eframe::egui_wgpu::RenderState, what: &str) {
    for plane in Plane::ALL {
        let cpu = view.plane_rgba(plane).unwrap();
        let shader = gpu.render_offscreen(&rs.device, &rs.queue, &view.slice_params(plane));
        let (n, m) = compare(&cpu, &shader);
        assert!(
            m <= 1 && n * 1000 <= cpu.len(),
            "{plane:?} {what}: {n} channels differ, by up to {m}"
        );
    }
}

/// Counts the channels that differ and the largest difference.
fn compare(a: &[u8], b: &[u8]) -> (usize, u8) {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .filter(|d| *d > 0)
        .fold((0, 0), |(n, m), d| (n + 1, m.max(d)))
}

#[test]
fn the_shader_draws_what_the_cpu_path_draws() {
    let Some(rs) = render_state() else { return };
    let case = cloe::app::bundled_case();
    let case = load_case(&find_case(&case, None).unwrap(), Default::default()).unwrap();
    let mut view = CaseView::new(case);
    // A label map of three classes from FLAIR intensity (a test pattern on a real scan) and a heat map.
    let flair = view.case.modalities[0].as_ref().unwrap().data.clone();
    let max = flair.iter().copied().fold(0.0f32, f32::max);
    view.overlay.labels = Some(
        flair
            .iter()
            .map(|&v| (v / max * 6.0).clamp(0.0, 3.0) as u8)
            .collect(),
    );
    let mut gpu = GpuSlices::new(
        &rs.device,
        &rs.queue,
        eframe::wgpu::TextureFormat::Rgba8Unorm,
    );
    let dims = view.case.grid.dims;
    gpu.set_volume(&rs.device, &rs.queue, dims, &flair);
    gpu.set_overlay(
        &rs.device,
        &rs.queue,
        dims,
        view.overlay.labels.as_deref(),
        None,
    );
    for (by_region, outline) in [(true, false), (true, true), (false, false), (false, true)] {
        let profile = view.case.profile;
        view.display.set_by_region(profile, by_region);
        view.display.outline = outline;
        view.display.visible[2] = !outline;
        assert_same(
            &view,
            &gpu,
            &rs,
            &format!("regions={by_region} outline={outline}"),
        );
    }
    // The heat map replaces the labels.
    view.overlay.heat = Some(cloe::app::case_view::HeatMap {
        values: flair.clone(),
        max,
    });
    gpu.set_overlay(&rs.device, &rs.queue, dims, None, Some(&flair));
    assert_same(&view, &gpu, &rs, "heat map");
}

fn wgpu_harness(dir: std::path::PathBuf) -> Harness<'static, ViewerApp> {
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1200.0, 800.0))
        .wgpu()
        .build_eframe(move |cc| {
            let mut app = ViewerApp::new(Some(dir.clone()));
            app.slices.gpu = cc.wgpu_render_state.clone();
            app
        });
    let t = std::time::Instant::now();
    while h.state().is_loading() && t.elapsed().as_secs() < 30 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.run_steps(3);
    h
}

#[test]
fn the_three_views_look_the_same_on_either_path_and_match_the_snapshot() {
    if render_state().is_none() {
        return;
    }
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let mut h = wgpu_harness(dir);
    assert!(
        h.state().gpu_active(),
        "the harness gives the app a wgpu renderer"
    );
    assert!(h.state().view.as_ref().unwrap().overlay.labels.is_some());
    // The measurements arrive from a worker: the snapshot is taken with them.
    let t = std::time::Instant::now();
    while !h.state().view.as_ref().unwrap().measure.done() && t.elapsed().as_secs() < 120 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The path field shows where the data lies on this machine; the snapshot must not depend on it.
    h.state_mut().path_field = "Brats18_2013_11_1".into();
    h.run_steps(1);
    let shader = h.render().expect("render");
    h.snapshot("three_views_gpu");
    h.state_mut().slices.slicing = false;
    h.run_steps(2);
    let cpu = h.render().expect("render");
    let (n, m) = compare(shader.as_raw(), cpu.as_raw());
    // The checkbox's own tick and the status line differ; the slice pixels match within 1.
    assert!(
        n * 100 <= cpu.as_raw().len(),
        "{n} channels differ between the shader and the CPU path (by up to {m})"
    );
}
