//! The viewer: UI frame time while scrolling through slices with the label overlay on a 240x240x155
//! case (egui_kittest steps without a window: UI logic plus the CPU slice rendering and texture upload
//! requests, not the GPU's painting), and the time from a modality toggle to the new fused overlay
//! (to a subset not fused yet right after the first overlay, back to one fused before, and one switch
//! away once the app has fused those ahead while the reader looks) compared with the first inference
//! (experts + fusion), on the bundled case with the shipped model.
//!
//! Then the same scrolling with egui_kittest's wgpu renderer painting every frame (lavapipe here, the
//! machine's GPU where there is one): the WGSL slice shader against the CPU slice path.
//!
//! Painting: frames with one brush dab each (the overlay changes every frame), on both paths.
//!
//! The 3-D view: the time to build the ground truth's surfaces, and painted frames with it open while
//! scrolling (it redraws for the moved crosshair) and while turning it, against shader slicing alone.
//!
//! `cargo bench --bench viewer` (reads ../shared/data, or the case folder `CLOE_BENCH_CASE` names).

use cloe::app::{ModelState, ViewerApp};
use cloe::bench::median;
use eframe::egui;
use egui_kittest::Harness;
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    // As the `cloe` binary does first (the app is that binary).
    cloe::allocator::keep_buffers();
    // `CLOE_BENCH_CASE` names the case where ../shared is not beside the checkout (a lent GPU machine).
    let case = std::env::var_os("CLOE_BENCH_CASE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brats2018/Brats18_2013_11_1"),
        std::path::PathBuf::from,
    );
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(
            |ui, app: &mut ViewerApp| app.show(ui),
            ViewerApp::new(Some(case.clone())),
        );
    while h.state().is_loading() {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
    // Scroll: one axial slice per frame (the axial texture is re-rendered each frame).
    let frames: Vec<f64> = (0..60)
        .map(|i| {
            h.state_mut().view.as_mut().unwrap().nav.cursor[2] = 40 + i;
            let t = Instant::now();
            h.step();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let frame = median(frames);
    println!("viewer: Brats18_2013_11_1, 240x240x155, ground-truth overlay, 1400x900 UI");
    println!(
        "  frame while scrolling axial slices  median {:.1} ms ({:.0} frames/s)",
        frame * 1e3,
        1.0 / frame
    );

    let paint = median(paint_frames(&mut h, 60, false));
    println!(
        "  frame while painting (a 3 mm dab per frame, 3 planes re-rendered)  median {:.1} ms ({:.2}x a scrolling frame)",
        paint * 1e3,
        paint / frame
    );

    painted_frames(&case);
    // The scrolling app's own work (a model run on its case, fusions ahead) stops with it, before the
    // timings of the bundled case.
    drop(h);
    std::thread::sleep(Duration::from_secs(1));

    // Inference as a user meets it: the bundled case with the shipped model.
    // `CLOE_BENCH_ROOT`: the checkout, where the bench binary runs away from where it was built.
    let root = std::env::var_os("CLOE_BENCH_ROOT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf(),
        std::path::PathBuf::from,
    );
    let bundled_dir = root.join("assets/TCGA-DU-7294");
    let bundled = cloe::case::load_case(
        &cloe::case::find_case(&bundled_dir, None).unwrap(),
        cloe::io::ReadOptions::default(),
    )
    .unwrap();
    let mut model = ModelState::load(&root.join("models/brats")).unwrap();
    model.start(&bundled).unwrap();
    while model.maps.is_none() {
        model.poll().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = model.first_seconds.unwrap();
    let first_look = model.preview_seconds;
    let all = cloe::case::Subset::all(cloe::case::Profile::Brats);
    // A toggle right after the first overlay (the fusions ahead of it cancelled), then back to all four
    // (a fusion the session keeps).
    let (right_away, right_away_look) = toggle_seconds(&mut model, all.with(1, false));
    let (back, _) = toggle_seconds(&mut model, all.clone());
    // As a reader works: they look at the overlay (the sets one switch away are fused meanwhile),
    // switch one modality off, look, switch it on again.
    let (mut ahead, mut ready) = (Vec::new(), Vec::new());
    for off in [2usize, 0, 3] {
        ready.push(wait_for_fusions_ahead(&model));
        ahead.push(toggle_seconds(&mut model, all.with(off, false)).0);
        ready.push(wait_for_fusions_ahead(&model));
        ahead.push(toggle_seconds(&mut model, all.clone()).0);
    }
    let (ahead, ready) = (median(ahead), median(ready));
    wait_for_fusions_ahead(&model);
    // The unit of issue 25's targets: one forward of the whole prepared case, same model and device.
    let (dims, inputs) =
        cloe::bench::case_inputs(&bundled_dir, model.net().config(), &model.device.device).unwrap();
    let forward = cloe::bench::forward_seconds(model.net(), &inputs, 3);
    println!(
        "  bundled case, shipped model: one whole-case forward ({}x{}x{}, {})  median {:.2} s",
        dims[0], dims[1], dims[2], model.device.label, forward
    );
    println!(
        "  first inference (4 experts + fusion over the windows, to the case grid)  {:.2} s ({:.2}x the forward)",
        first,
        first / forward
    );
    match first_look {
        Some(look) => println!(
            "  first look (the windows that cover the case once, fused, on the case grid)  {:.2} s ({:.2}x the forward)",
            look,
            look / forward
        ),
        None => println!("  no first look: one set of windows covers the case"),
    }
    println!(
        "  modality toggle right after the first overlay  {:.2} s  ({:.2}x the forward, {:.0} % of the first inference)",
        right_away,
        right_away / forward,
        100.0 * right_away / first
    );
    if let Some(look) = right_away_look {
        println!(
            "  its first look (the covering windows fused)  {:.2} s  ({:.2}x the forward)",
            look,
            look / forward
        );
    }
    println!(
        "  toggle back to a subset fused before  {:.2} s  ({:.2}x the forward)",
        back,
        back / forward
    );
    println!(
        "  toggle once the sets one switch away are fused ahead  median {:.2} s  ({:.2}x the forward; fused ahead {:.1} s after the overlay before)",
        ahead,
        ahead / forward,
        ready
    );
}

/// Switches the model to `subset` and waits for its overlay: the seconds the fusion took, and those
/// to its first look when it showed one.
fn toggle_seconds(model: &mut ModelState, subset: cloe::case::Subset) -> (f64, Option<f64>) {
    model.subset = subset;
    model.refuse();
    while model.busy() {
        model.poll().unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    (model.fusion_seconds.unwrap(), model.preview_seconds)
}

/// Waits until the subsets one switch away from the one shown are fused: the seconds it waited.
fn wait_for_fusions_ahead(model: &ModelState) -> f64 {
    let t = Instant::now();
    while model.fusing_ahead() {
        std::thread::sleep(Duration::from_millis(20));
    }
    t.elapsed().as_secs_f64()
}

/// Frame times while painting: one axial dab per frame along a line, then the stroke ends (and the
/// edits are dropped). `painted`: each frame is also rendered by the harness's wgpu renderer.
fn paint_frames(h: &mut Harness<'_, ViewerApp>, n: usize, painted: bool) -> Vec<f64> {
    h.state_mut().view.as_mut().unwrap().start_editing();
    h.step();
    let frames = (0..n)
        .map(|i| {
            let view = h.state_mut().view.as_mut().unwrap();
            view.edit.brush.radius_mm = 3.0;
            view.paint(cloe::render::Plane::Axial, [60 + i % 120, 120, 77]);
            let t = Instant::now();
            h.step();
            if painted {
                let _ = h.render().expect("render");
            }
            t.elapsed().as_secs_f64()
        })
        .collect();
    let view = h.state_mut().view.as_mut().unwrap();
    view.edit.end_stroke();
    view.discard_edits();
    frames
}

/// Scrolling with every frame painted by the wgpu renderer: shader slicing vs CPU slicing.
fn painted_frames(case: &Path) {
    let dir = case.to_path_buf();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .wgpu()
        .build_eframe(move |cc| {
            let mut app = ViewerApp::new(Some(dir.clone()));
            app.slices.gpu = cc.wgpu_render_state.clone();
            app
        });
    while h.state().is_loading() {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
    let _ = h.render();
    let mut result = Vec::new();
    for gpu in [true, false] {
        h.state_mut().slices.slicing = gpu;
        h.step();
        let _ = h.render();
        let frames = painted_frames_after(&mut h, 30, scroll);
        result.push((median(frames), median(paint_frames(&mut h, 20, true))));
    }
    println!(
        "  painted frame while scrolling (wgpu renderer): shader slicing {:.1} ms, CPU slicing {:.1} ms ({:.2}x)",
        result[0].0 * 1e3,
        result[1].0 * 1e3,
        result[1].0 / result[0].0
    );
    println!(
        "  painted frame while painting (wgpu renderer): shader slicing {:.1} ms (label volume re-uploaded), CPU slicing {:.1} ms",
        result[0].1 * 1e3,
        result[1].1 * 1e3
    );

    // The 3-D view open in the fourth quadrant (shader slicing): the surfaces are built once, then
    // every scrolling frame draws them again (the crosshair moved), as does every turn.
    h.state_mut().slices.slicing = true;
    h.state_mut().surface.shown = true;
    let t = Instant::now();
    while h.state().surface.triangles.is_empty() {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let built = t.elapsed().as_secs_f64();
    let _ = h.render();
    let scrolling = painted_frames_after(&mut h, 30, scroll);
    let turning = painted_frames_after(&mut h, 30, |app, _| app.surface.yaw += 0.05);
    let triangles: usize = h.state().surface.triangles.iter().map(|t| t.1).sum();
    let (scrolling, turning) = (median(scrolling), median(turning));
    println!(
        "  3-D view: surfaces of WT/TC/ET built in {:.2} s ({triangles} triangles, on a worker thread)",
        built
    );
    println!(
        "  painted frame with the 3-D view open: scrolling {:.1} ms ({:.2}x shader slicing without it), turning {:.1} ms",
        scrolling * 1e3,
        scrolling / result[0].0,
        turning * 1e3
    );
}

/// One axial slice further for frame `i`.
fn scroll(app: &mut ViewerApp, i: usize) {
    app.view.as_mut().unwrap().nav.cursor[2] = 40 + i;
}

/// The times of `n` frames, each stepped and painted by the wgpu renderer after `change(app, i)`.
fn painted_frames_after(
    h: &mut Harness<'_, ViewerApp>,
    n: usize,
    change: impl Fn(&mut ViewerApp, usize),
) -> Vec<f64> {
    (0..n)
        .map(|i| {
            change(h.state_mut(), i);
            let t = Instant::now();
            h.step();
            let _ = h.render().expect("render");
            t.elapsed().as_secs_f64()
        })
        .collect()
}
