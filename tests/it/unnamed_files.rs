//! Files whose names say no sequence, 4-D files and NaN voxels, as another tool leaves them: the CLI
//! (`--as MODALITY`, `--as MODALITY=FILE`, `@VOLUME`) and the viewer's "Which sequence?" prompt and
//! volume slider open them, and say how where they cannot. Small synthetic volumes (a test of the
//! mechanism).

use crate::common;
use crate::viewer_editing::wait;
use cloe::app::ViewerApp;
use cloe::geometry::Affine;
use common::bad_files::{patched_image, set_dims};
use common::{cloe, write_f32};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 4×3×2 float32 image, values 1..=24.
fn small(path: &Path) -> PathBuf {
    patched_image(path, |_| {})
}

/// A 4×3×2×2 image (uncompressed): volume 0 holds 1..=24, volume 1 holds 101..=124.
fn four_d(path: &Path) -> PathBuf {
    let data = (1..=24).chain(101..=124).map(|v| v as f32).collect();
    write_f32(path, [4, 3, 4], Affine::IDENTITY, data);
    let mut bytes = std::fs::read(path).unwrap();
    set_dims(&mut bytes, [4, 4, 3, 2, 2, 1, 1, 1]);
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = cloe(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn an_unnamed_file_opens_once_its_sequence_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let scan = small(&dir.path().join("anatomical.nii"));
    let (code, _, err) = cloe(&["inspect", s(&scan)]);
    assert_eq!(code, 2);
    for needle in ["anatomical.nii", "does not say which sequence", "--as"] {
        assert!(err.contains(needle), "{err}");
    }
    let r = json(&["inspect", s(&scan), "--as", "t1c", "--json"]);
    assert_eq!(r["profile"], "brats");
    assert_eq!(r["modalities_found"], serde_json::json!(["t1c"]));
    // A prostate sequence makes it a prostate case; the folder is the case too.
    let r = json(&["inspect", s(dir.path()), "--as", "adc", "--json"]);
    assert_eq!(r["profile"], "prostate");
    assert_eq!(r["modalities_found"], serde_json::json!(["adc"]));
    let (code, _, err) = cloe(&["inspect", s(&scan), "--as", "dwi"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("'dwi'") && err.contains("prostate: t2, adc"),
        "{err}"
    );
}

#[test]
fn several_unnamed_files_are_named_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        small(&dir.path().join("a.nii")),
        small(&dir.path().join("b.nii")),
    );
    let (code, _, err) = cloe(&["inspect", s(&a), s(&b), "--as", "t1"]);
    assert_eq!(code, 2);
    assert!(err.contains("2 files") && err.contains("t1=FILE"), "{err}");
    // By path, or by bare name within the case.
    let r = json(&[
        "inspect",
        s(dir.path()),
        "--as",
        &format!("t1={}", s(&a)),
        "--as",
        "flair=b.nii",
        "--json",
    ]);
    assert_eq!(r["modalities_found"], serde_json::json!(["flair", "t1"]));
    // A file named for a sequence keeps it; an unnamed one beside it is listed, not used.
    small(&dir.path().join("c_t2.nii"));
    std::fs::remove_file(&b).unwrap();
    let r = json(&["inspect", s(dir.path()), "--json"]);
    assert_eq!(r["modalities_found"], serde_json::json!(["t2"]));
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("a.nii") && notes.contains("does not say"),
        "{notes}"
    );
}

#[test]
fn one_volume_of_a_4d_file_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let file = four_d(&dir.path().join("c_t2.nii"));
    let (code, _, err) = cloe(&["inspect", s(&file)]);
    assert_eq!(code, 2);
    assert!(
        err.contains("2 volumes") && err.contains("t2@0") && err.contains("--as"),
        "{err}"
    );
    let r = json(&["inspect", s(&file), "--as", "t2@1", "--json"]);
    let f = &r["files"][0];
    assert_eq!(
        (f["channel"].as_u64(), f["volumes"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(f["intensity"]["max"].as_f64(), Some(124.0), "{f}");
    let (code, _, err) = cloe(&["inspect", s(&file), "--as", "t2@2"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("volume 2 was chosen") && err.contains("holds 2"),
        "{err}"
    );
}

#[test]
fn nan_voxels_read_as_background_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c_flair.nii.gz");
    let mut data: Vec<f32> = (1..=8).map(|v| v as f32).collect();
    data[2] = f32::NAN;
    write_f32(&p, [2, 2, 2], Affine::IDENTITY, data);
    let r = json(&["inspect", s(&p), "--json"]);
    assert_eq!(r["files"][0]["nan_voxels"], 1);
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("1 NaN") && notes.contains("read as 0"),
        "{notes}"
    );
    let (code, _, err) = cloe(&["inspect", s(&p), "--reject-nonfinite"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("1 NaN") && err.contains("refused as asked"),
        "{err}"
    );
}

fn harness(app: ViewerApp) -> Harness<'static, ViewerApp> {
    Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|_| app)
}

#[test]
fn the_viewer_asks_which_sequence_and_which_volume() {
    let dir = tempfile::tempdir().unwrap();
    let scan = small(&dir.path().join("anatomical.nii"));
    let mut h = harness(ViewerApp::new(Some(scan.clone())));
    wait(&mut h, "the prompt", |a| a.prompt.is_some());
    h.run_steps(2);
    assert!(h.query_by_label("Which sequence?").is_some());
    assert!(
        h.state().view.is_none(),
        "nothing is shown before it is said"
    );
    let combo = egui::accesskit::Role::ComboBox;
    h.get_by_role_and_label(combo, "anatomical.nii").click();
    h.run_steps(2);
    h.get_by_label("T1c").click();
    h.run_steps(2);
    h.get_by_label("Open with these sequences").click();
    wait(&mut h, "the case", |a| a.view.is_some() && !a.is_loading());
    let case = &h.state().view.as_ref().unwrap().case;
    assert_eq!(case.source.present(), ["t1c"]);
    assert!(h.state().prompt.is_none());

    // A 4-D file: the prompt asks for its volume, the open case has a slider that reloads another.
    let four = four_d(&dir.path().join("c_t2.nii"));
    h.state_mut().open(four);
    wait(&mut h, "the prompt", |a| a.prompt.is_some());
    h.run_steps(2);
    h.get_by_label("Open with these sequences").click();
    wait(&mut h, "volume 0", |a| {
        a.view.as_ref().is_some_and(|v| v.case.id == "c")
    });
    let max = |h: &Harness<'static, ViewerApp>| {
        let v = h.state().view.as_ref().unwrap();
        let t2 = v.case.modalities[3].as_ref().unwrap();
        t2.data.iter().cloned().fold(f32::MIN, f32::max)
    };
    assert_eq!(max(&h), 24.0);
    let slider = egui::accesskit::Role::Slider;
    h.get_by_role_and_label(slider, "T2 volume (of 2)")
        .set_value_accesskit(1.0);
    h.run_steps(2);
    wait(&mut h, "volume 1", |a| {
        !a.is_loading()
            && a.view
                .as_ref()
                .is_some_and(|v| v.case.source.modalities[3].as_ref().unwrap().channel == Some(1))
    });
    assert_eq!(max(&h), 124.0);
}
