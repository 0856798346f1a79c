//! Device faults. A machine without a GPU, played by hiding the Vulkan drivers (`VK_ICD_FILENAMES`
//! naming no file): the CLI runs on the CPU and says so, asking for the GPU says what is missing and
//! what to do. A GPU that cannot allocate what the work needs (lavapipe given a 192³ batch of 48): one
//! line saying so and what to do, exit code 2, no panic.

use crate::common::{cloe_env, data, wgpu_device};
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
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.contains("XDG_RUNTIME_DIR"))
        .collect();
    assert_eq!(ours.len(), 1, "{err}");
    assert!(
        ours[0].contains("ran out of memory") && ours[0].contains("smaller batch"),
        "{err}"
    );
}
