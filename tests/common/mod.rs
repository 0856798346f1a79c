//! Shared helpers of the integration tests: where the real data is, the reference numbers computed
//! independently with nibabel/numpy/scipy (tests/reference/make_reference.py), small synthetic files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod bad_files;
pub mod dicom_study;

/// `../shared/data` beside the repository.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// A path under the shared data. When it is missing, CI (`CI=true`) fails the test; elsewhere the test
/// is skipped with a message.
pub fn data(rel: &str) -> Option<PathBuf> {
    let p = data_dir().join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "shared data file {} is missing (CI=true: this is a failure, not a skip)",
            p.display()
        );
    }
    eprintln!("skipping: {} is missing", p.display());
    None
}

/// The reference JSON.
pub fn reference() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("reference.json")).expect("valid JSON")
}

/// `|a − b| ≤ tol · max(1, |b|)`.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// Writes a small float32 NIfTI with the given affine (tests only).
pub fn write_f32(path: &Path, dims: [usize; 3], affine: cloe::geometry::Affine, data: Vec<f32>) {
    let grid = cloe::volume::Grid::new(dims, affine);
    let v = cloe::volume::Volume::new(grid, data, cloe::volume::VolumeInfo::derived("float32"));
    let opts = cloe::io::WriteOptions::default().overwriting(true);
    cloe::io::write_volume(path, &v, cloe::io::OutputType::Float32, &opts).unwrap();
}

/// Runs the `cloe` binary; returns (exit code, stdout, stderr).
pub fn cloe(args: &[&str]) -> (i32, String, String) {
    cloe_env(args, &[])
}

/// Runs the `cloe` binary with extra environment variables; returns (exit code, stdout, stderr).
pub fn cloe_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloe"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run cloe");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The wgpu device, or None: a skip outside CI, a failure in CI (where `.ci/run` installs lavapipe).
pub fn wgpu_device() -> Option<burn::prelude::Device> {
    if cloe::device::adapters().is_empty() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("no wgpu adapter in CI: .ci/run must install mesa-vulkan-drivers (lavapipe)");
        }
        eprintln!("skipping: no wgpu adapter");
        return None;
    }
    Some(
        cloe::device::select(Some(cloe::device::DeviceChoice::Gpu))
            .expect("wgpu device")
            .device,
    )
}

/// Three cases: a bright ball (PZ, 1) beside a dim box (TZ, 2) in T2 and ADC, on an oblique 1.5 mm grid.
pub fn synthetic_prostate(dir: &Path) {
    let dims = [24usize, 24, 16];
    let affine = cloe::geometry::Affine([
        [-1.5, 0.1, 0.0, 40.0],
        [0.1, 1.5, 0.0, -20.0],
        [0.0, 0.0, 1.5, 5.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    for case in 0..3 {
        let (mut t2, mut adc, mut label) = (Vec::new(), Vec::new(), Vec::new());
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    let r2 = (x as f32 - 8.0 - case as f32).powi(2)
                        + (y as f32 - 12.0).powi(2)
                        + (z as f32 - 8.0).powi(2);
                    let c = if r2 < 16.0 {
                        1
                    } else if (14..20).contains(&x) && (6..18).contains(&y) && (4..12).contains(&z)
                    {
                        2
                    } else {
                        0
                    };
                    let noise = ((x * 7 + y * 13 + z * 5 + case) % 11) as f32 * 3.0;
                    t2.push([100.0, 400.0, 250.0][c] + noise);
                    adc.push([900.0, 300.0, 1500.0][c] - noise);
                    label.push(c as f32);
                }
            }
        }
        let d = dir.join(format!("Synth-{case}"));
        std::fs::create_dir_all(&d).unwrap();
        write_f32(
            &d.join(format!("Synth-{case}_t2w.nii.gz")),
            dims,
            affine,
            t2,
        );
        write_f32(
            &d.join(format!("Synth-{case}_adc.nii.gz")),
            dims,
            affine,
            adc,
        );
        write_f32(
            &d.join(format!("Synth-{case}_label.nii.gz")),
            dims,
            affine,
            label,
        );
    }
}

/// Set in a test's own process started by [`child_test`].
const CHILD_ENV: &str = "CLOE_TEST_CHILD";

/// The ignored test `name` of this test binary in a process of its own, for what must not share the
/// test process: a process to kill, a GPU lost for good. The test runs its body only there
/// ([`in_child`]).
pub fn child_test(name: &str, env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, "1")
    .envs(env.iter().copied());
    cmd
}

/// True inside a process started by [`child_test`].
pub fn in_child() -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == "1")
}

/// A small untrained prostate model (patch 8, 3 mm, C = 2): quick, for tests of mechanisms.
pub fn small_prostate_config() -> cloe::model::CloeConfig {
    cloe::model::CloeConfig {
        channels: 2,
        gate_hidden: 4,
        content_channels: 2,
        style_dim: 2,
        patch: 8,
        spacing_mm: 3.0,
        ..cloe::model::CloeConfig::for_profile(cloe::case::Profile::Prostate)
    }
}

/// `cloe train` on `data` into `out`, the prepared cases kept in `cache`.
pub fn train_args<'a>(
    data: &'a str,
    out: &'a str,
    iterations: &'a str,
    cache: &'a str,
) -> Vec<&'a str> {
    vec![
        "train",
        data,
        "--profile",
        "prostate",
        "--out",
        out,
        "--iterations",
        iterations,
        "--patch",
        "8",
        "--spacing",
        "3",
        "--channels",
        "2",
        "--val-cases",
        "Synth-2",
        "--validate-every",
        "2",
        "--checkpoint-every",
        "2",
        "--seed",
        "5",
        "--device",
        "cpu",
        "--cache-dir",
        cache,
    ]
}
