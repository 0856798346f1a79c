//! Device faults. A machine without a GPU, played by hiding the Vulkan drivers (`VK_ICD_FILENAMES`
//! naming no file): the CLI runs on the CPU and says so, asking for the GPU says what is missing and
//! what to do. A GPU that cannot allocate what the work needs (lavapipe given a 192³ batch of 48): one
//! line saying so and what to do, exit code 2, no panic. A GPU lost in the middle of the work (the
//! device destroyed under it by `CLOE_FAULT_LOSE_GPU_AFTER_MS`, as a driver reset loses it): the CLI
//! says so in one line and writes nothing; the viewer moves the model to the CPU and segments again.

use crate::common::{child_test, cloe_env, data, in_child, wgpu_device};
use cloe::app::ViewerApp;
use eframe::egui;
use std::path::Path;

const NO_DRIVERS: (&str, &str) = ("VK_ICD_FILENAMES", "/nonexistent/no-such-icd.json");

#[test]
fn without_a_gpu_the_cli_runs_on_the_cpu_and_says_so() {
    let (code, out, err) = cloe_env(&["devices"], &[NO_DRIVERS]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("no wgpu adapter") && out.contains("selected CPU"),
        "{out}"
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let case = root.join("assets/TCGA-DU-7294");
    let model = root.join("models/brats");
    let tmp = tempfile::tempdir().unwrap();
    let labels = tmp.path().join("labels.nii.gz");
    let report = tmp.path().join("report.json");
    let args = |device: &'static str| {
        vec![
            "segment".to_string(),
            case.display().to_string(),
            "--model".into(),
            model.display().to_string(),
            "--out".into(),
            labels.display().to_string(),
            "--report".into(),
            report.display().to_string(),
            "--device".into(),
            device.into(),
        ]
    };
    let gpu: Vec<String> = args("gpu");
    let gpu: Vec<&str> = gpu.iter().map(String::as_str).collect();
    let (code, _, err) = cloe_env(&gpu, &[NO_DRIVERS]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no GPU adapter was found") && err.contains("--device cpu"),
        "{err}"
    );
    assert!(!labels.exists());

    let auto: Vec<String> = args("auto");
    let auto: Vec<&str> = auto.iter().map(String::as_str).collect();
    let (code, _, err) = cloe_env(&auto, &[NO_DRIVERS]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let device = json["device"].as_str().unwrap();
    assert!(device.starts_with("CPU"), "{device}");
    assert!(labels.is_file());
}

/// The lines of `err` that `cloe` wrote as its error (without a headless machine's XDG_RUNTIME_DIR
/// notices).
fn our_errors(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.starts_with("error: ") && !l.contains("XDG_RUNTIME_DIR"))
        .collect()
}

#[test]
fn a_gpu_out_of_memory_is_one_line_with_what_to_do() {
    let Some(case) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    if wgpu_device().is_none() {
        return;
    }
    let (code, _, err) = cloe_env(
        &[
            "bench",
            case.to_str().unwrap(),
            "--device",
            "gpu",
            "--patch",
            "192",
            "--batch",
            "48",
            "--runs",
            "1",
        ],
        &[("RUST_BACKTRACE", "0"), ("RUST_LOG", "error")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let ours = our_errors(&err);
    assert_eq!(ours.len(), 1, "{err}");
    assert!(
        ours[0].contains("ran out of memory") && ours[0].contains("smaller batch"),
        "{err}"
    );
}

/// Milliseconds after the GPU opens at which the fault destroys it: inside the model's first forward
/// on lavapipe, which takes many seconds.
const LOSE_AFTER_MS: &str = "1500";

/// The lost-GPU tests are timed for lavapipe: on a hardware GPU the work may end before the fault.
fn software_gpu_only() -> bool {
    if cloe::device::adapters().iter().any(|a| a.is_hardware()) {
        eprintln!("skipping: the fault's timing is set for a software GPU (lavapipe)");
        return false;
    }
    wgpu_device().is_some()
}

#[test]
fn a_gpu_lost_mid_segmentation_is_one_line_and_writes_nothing() {
    if !software_gpu_only() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let labels = tmp.path().join("labels.nii.gz");
    let (case, model) = (root.join("assets/TCGA-DU-7294"), root.join("models/brats"));
    let (code, _, err) = cloe_env(
        &[
            "segment",
            case.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--out",
            labels.to_str().unwrap(),
            "--device",
            "gpu",
        ],
        &[
            (cloe::device::LOSE_GPU_ENV, LOSE_AFTER_MS),
            ("RUST_BACKTRACE", "0"),
            ("RUST_LOG", "off"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let ours = our_errors(&err);
    assert_eq!(ours.len(), 1, "{err}");
    assert!(
        ours[0].contains("GPU stopped working") && ours[0].contains("--device cpu"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing is written"
    );
}

#[test]
fn the_viewer_moves_to_the_cpu_when_the_gpu_is_lost() {
    if !software_gpu_only() {
        return;
    }
    // In a process of its own: a lost GPU stays lost for the rest of the process.
    let out = child_test(
        "device_faults::viewer_with_a_gpu_that_is_lost",
        &[
            ("CLOE_DEVICE", "gpu"),
            (cloe::device::LOSE_GPU_ENV, LOSE_AFTER_MS),
            ("RUST_LOG", "off"),
        ],
    )
    .output()
    .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("1 passed"), "the child test ran: {said}");
}

#[test]
#[ignore = "runs in its own process, started by the_viewer_moves_to_the_cpu_when_the_gpu_is_lost"]
fn viewer_with_a_gpu_that_is_lost() {
    if !in_child() {
        return;
    }
    let mut app = ViewerApp::new(Some(cloe::app::bundled_case()));
    app.models.shipped = Some(cloe::app::bundled_model());
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    let on_the_gpu = |a: &ViewerApp| a.models.model.as_ref().is_some_and(|m| m.device.is_gpu);
    let lost = |a: &ViewerApp| {
        a.error
            .as_ref()
            .is_some_and(|e| e.contains("GPU stopped working"))
    };
    let segmented = |a: &ViewerApp| {
        a.models
            .model
            .as_ref()
            .is_some_and(|m| m.maps.is_some() && !m.busy())
    };
    let mut saw_gpu = false;
    let t = std::time::Instant::now();
    while !(lost(h.state()) && segmented(h.state())) && t.elapsed().as_secs() < 600 {
        saw_gpu |= on_the_gpu(h.state());
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let state = h.state();
    assert!(saw_gpu, "the model started on the GPU");
    assert!(lost(state), "the loss is shown; error: {:?}", state.error);
    assert!(
        segmented(state),
        "the case is segmented again; error: {:?}",
        state.error
    );
    let model = state.models.model.as_ref().unwrap();
    assert!(
        model.device.label.starts_with("CPU"),
        "{}",
        model.device.label
    );
    assert!(
        state
            .error
            .as_ref()
            .unwrap()
            .contains("now runs on the CPU")
    );
    let view = state.view.as_ref().unwrap();
    let tumour = view
        .overlay
        .labels
        .as_ref()
        .unwrap()
        .iter()
        .filter(|&&c| c > 0)
        .count();
    assert!(
        tumour > 1000,
        "the CPU run finds the glioma ({tumour} voxels)"
    );
}
