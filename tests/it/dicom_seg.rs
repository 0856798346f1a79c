//! DICOM SEG out and in, against the field's own tools: a SEG written for a case opened from a DICOM
//! study reads back as its labels, passes dciodvfy (dicom3tools) without an error, and highdicom reads
//! each segment equal to the NIfTI export of the same labels (the ProstateX study of the shared data,
//! labels painted here; the bundled BraTS case turned into a DICOM study and segmented by the shipped
//! model with `cloe segment --seg-out`); a SEG highdicom wrote opens as its label map; a SEG of
//! another scan, a truncated one and overlapping class segments are refused. dciodvfy and highdicom
//! come from `.ci/run` (the Python of `CLOE_PYTHON`); without them the oracle checks are skipped
//! outside CI and fail in CI.

use crate::common::{self, data};
use cloe::case::{Case, find_case, load_case, read_label_file};
use cloe::export_prediction::{LabelOrigin, SegSegments, write_labels, write_labels_seg};
use cloe::io::{ReadOptions, WriteOptions};
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The Python with highdicom, or None (a skip outside CI, a failure in CI).
fn python() -> Option<String> {
    let python = std::env::var("CLOE_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args(["-c", "import highdicom, nibabel"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        assert!(
            !ci(),
            "no Python with highdicom and nibabel ({python}): .ci/run installs them and sets CLOE_PYTHON"
        );
        eprintln!("skipping the highdicom checks: {python} has no highdicom");
    }
    has.then_some(python)
}

/// dciodvfy's verdict on `seg`: its error lines (warnings are allowed), or None without dciodvfy.
fn dciodvfy_errors(seg: &Path) -> Option<Vec<String>> {
    let Ok(out) = Command::new("dciodvfy").arg(seg).output() else {
        assert!(!ci(), "dciodvfy is missing: .ci/run installs dicom3tools");
        eprintln!("skipping dciodvfy: not installed");
        return None;
    };
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter(|l| l.starts_with("Error"))
            .map(str::to_string)
            .collect(),
    )
}

/// highdicom's comparison of `seg` with the NIfTI labels of the same case.
fn highdicom_check(seg: &Path, nifti: &Path, series: &Path, profile: &str, kind: &str) {
    let Some(python) = python() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dicom_seg_check.py");
    let out = Command::new(python)
        .arg(script)
        .args(["check", path(seg), path(nifti), path(series), profile, kind])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.trim() == "equal",
        "highdicom on {}: {said} {}",
        seg.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn load(study: &Path) -> Case {
    load_case(&find_case(study, None).unwrap(), ReadOptions::default()).unwrap()
}

/// A peripheral and a transition zone block on the case's grid (training classes).
fn painted(case: &Case) -> Vec<u8> {
    let [nx, ny, _] = case.grid.dims;
    let mut classes = vec![0u8; case.grid.len()];
    for k in 6..12 {
        for j in 150..230 {
            for i in 160..240 {
                let inner =
                    (8..11).contains(&k) && (170..210).contains(&j) && (200..230).contains(&i);
                classes[i + nx * (j + ny * k)] = if inner { 1 } else { 2 };
            }
        }
    }
    classes
}

fn prostate_study() -> Option<(PathBuf, PathBuf)> {
    let study = data("prostatex-t2-adc/original_dicom/ProstateX-0000")?;
    let t2 = study.join("07-07-2011/4.000000-t2tsetra-00702");
    Some((study, t2))
}

#[test]
fn a_seg_of_the_prostatex_study_reads_back_and_passes_dciodvfy_and_highdicom() {
    let Some((study, t2)) = prostate_study() else {
        return;
    };
    let case = load(&study);
    let classes = painted(&case);
    let tmp = tempfile::tempdir().unwrap();
    let nifti = tmp.path().join("labels.nii.gz");
    write_labels(&nifti, &case, &classes, &WriteOptions::default()).unwrap();
    for (kind, name) in [
        (SegSegments::Regions, "regions"),
        (SegSegments::Classes, "classes"),
    ] {
        let seg = tmp.path().join(format!("seg-{name}.dcm"));
        let written = write_labels_seg(
            &seg,
            &case,
            &classes,
            kind,
            &LabelOrigin::Person,
            &WriteOptions::default(),
        )
        .unwrap();
        // TZ on slices 6–11 and PZ on 8–10: 6 + 3 frames, the empty ones left out.
        assert_eq!(written.frames, 9, "{name}: empty frames are left out");
        assert!(
            read_label_file(&case, &seg).unwrap() == classes,
            "{name}: read back"
        );
        if let Some(errors) = dciodvfy_errors(&seg) {
            assert!(errors.is_empty(), "dciodvfy on the {name} SEG: {errors:?}");
        }
        highdicom_check(&seg, &nifti, &t2, "prostate", name);
    }
}

#[test]
fn a_seg_highdicom_wrote_opens_as_its_label_map() {
    let Some((study, t2)) = prostate_study() else {
        return;
    };
    let Some(python) = python() else { return };
    let case = load(&study);
    let both = painted(&case);
    // One segment alone: highdicom puts its identification in the shared functional groups.
    let tz_only: Vec<u8> = both.iter().map(|&c| if c == 2 { 2 } else { 0 }).collect();
    let tmp = tempfile::tempdir().unwrap();
    for (name, classes) in [("both", both), ("tz", tz_only)] {
        let nifti = tmp.path().join(format!("{name}.nii.gz"));
        write_labels(&nifti, &case, &classes, &WriteOptions::default()).unwrap();
        let seg = tmp.path().join(format!("{name}.dcm"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dicom_seg_check.py");
        let status = Command::new(&python)
            .arg(script)
            .args(["write", path(&nifti), path(&t2), "prostate", path(&seg)])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(read_label_file(&case, &seg).unwrap() == classes, "{name}");
    }
}

#[test]
fn a_seg_of_another_scan_a_truncated_one_and_overlapping_classes_are_refused() {
    let Some((study, _)) = prostate_study() else {
        return;
    };
    let Some(other) = data("prostatex-t2-adc/original_dicom/ProstateX-0001") else {
        return;
    };
    let (case, theirs) = (load(&study), load(&other));
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriteOptions::default();
    // A SEG of the other patient's scan: another frame of reference (or grid).
    let mut their_labels = vec![0u8; theirs.grid.len()];
    their_labels[theirs.grid.len() / 2] = 1;
    let foreign = tmp.path().join("foreign.dcm");
    write_labels_seg(
        &foreign,
        &theirs,
        &their_labels,
        SegSegments::Classes,
        &LabelOrigin::Person,
        &opts,
    )
    .unwrap();
    let e = read_label_file(&case, &foreign).unwrap_err().to_string();
    assert!(
        e.contains("frame of reference") || e.contains("another grid"),
        "{e}"
    );
    // Truncated: half the file.
    let ours = tmp.path().join("ours.dcm");
    write_labels_seg(
        &ours,
        &case,
        &painted(&case),
        SegSegments::Classes,
        &LabelOrigin::Person,
        &opts,
    )
    .unwrap();
    let bytes = std::fs::read(&ours).unwrap();
    let cut = tmp.path().join("cut.dcm");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_label_file(&case, &cut).unwrap_err().to_string();
    assert!(
        e.contains("cut.dcm") && (e.contains("truncated") || e.contains("damaged")),
        "{e}"
    );
    // Two class segments that overlap.
    let overlapping = tmp.path().join("overlap.dcm");
    let series = cloe::case::reference_series(&case).unwrap();
    let mask = vec![true; case.grid.len()];
    let segment = |label: &str| cloe::io::dicom::Segment {
        label: label.into(),
        description: String::new(),
        category: cloe::io::dicom::Code::new("91723000", "SCT", "Anatomical Structure"),
        kind: cloe::io::dicom::Code::new("85756007", "SCT", "Tissue"),
        algorithm: cloe::io::dicom::Algorithm::Manual,
        colour: [255, 0, 0],
        mask: &mask,
    };
    let info = cloe::io::dicom::SegInfo {
        series_description: "overlap".into(),
        series_number: 1,
        content_label: "T".into(),
        creator: String::new(),
        software: "test".into(),
        model: "test".into(),
    };
    cloe::io::dicom::write_seg(
        &overlapping,
        series,
        &[segment("PZ"), segment("TZ")],
        &info,
        &opts,
    )
    .unwrap();
    let e = read_label_file(&case, &overlapping)
        .unwrap_err()
        .to_string();
    assert!(e.contains("overlap"), "{e}");
}

#[test]
fn a_case_from_nifti_files_says_a_seg_needs_its_dicom_study() {
    let case = load(&cloe::app::bundled_case());
    let tmp = tempfile::tempdir().unwrap();
    let classes = vec![1u8; case.grid.len()];
    let e = write_labels_seg(
        &tmp.path().join("x.dcm"),
        &case,
        &classes,
        SegSegments::Regions,
        &LabelOrigin::Person,
        &WriteOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("DICOM study") && e.contains("NIfTI"), "{e}");
    assert!(!tmp.path().join("x.dcm").exists());
}

#[test]
fn the_bundled_case_as_a_dicom_study_segmented_with_seg_out() {
    let tmp = tempfile::tempdir().unwrap();
    let case = cloe::app::bundled_case();
    let study = common::dicom_study::write_study(
        &common::dicom_study::brats_series(&case),
        &tmp.path().join("study"),
    );
    let (nifti, seg) = (
        tmp.path().join("labels.nii.gz"),
        tmp.path().join("labels.dcm"),
    );
    let model = cloe::app::bundled_model();
    let (code, out, err) = common::cloe(&[
        "segment",
        path(&study),
        "--model",
        path(&model),
        "--out",
        path(&nifti),
        "--seg-out",
        path(&seg),
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let case = load(&study);
    let from_nifti = read_label_file(&case, &nifti).unwrap();
    assert!(from_nifti.contains(&3), "the model finds enhancing tumour");
    let from_seg = read_label_file(&case, &seg).unwrap();
    let differ = from_seg
        .iter()
        .zip(&from_nifti)
        .filter(|(a, b)| a != b)
        .count();
    let count = |l: &[u8]| l.iter().filter(|&&c| c > 0).count();
    assert_eq!(
        differ,
        0,
        "the SEG ({} labelled voxels) holds the NIfTI labels ({})",
        count(&from_seg),
        count(&from_nifti)
    );
    if let Some(errors) = dciodvfy_errors(&seg) {
        assert!(errors.is_empty(), "dciodvfy: {errors:?}");
    }
    highdicom_check(&seg, &nifti, &study.join("series1"), "brats", "regions");
}

#[test]
fn the_viewer_saves_the_edited_labels_of_a_dicom_case_as_a_seg() {
    let Some((study, _)) = prostate_study() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut h = crate::viewer_editing::harness(&study, &tmp.path().join("autosave"));
    {
        let view = h.state_mut().view.as_mut().unwrap();
        view.start_editing();
        view.paint(cloe::render::Plane::Axial, [200, 200, 9]);
        view.edit.end_stroke();
    }
    let out = tmp.path().join("edited.dcm");
    h.state_mut().export.field = out.display().to_string();
    h.state_mut().export.segments = SegSegments::Classes;
    // The left panel scrolls on a study with series menus: the button is brought into view first.
    h.get_by_label("Save as DICOM SEG").scroll_to_me();
    h.run_steps(2);
    h.get_by_label("Save as DICOM SEG").click();
    h.run_steps(2);
    assert!(h.state().error.is_none(), "{:?}", h.state().error);
    let view = h.state().view.as_ref().unwrap();
    let labels = view.overlay.labels.clone().unwrap();
    assert!(labels.iter().any(|&c| c > 0));
    assert!(read_label_file(&view.case, &out).unwrap() == labels);
    let seg = cloe::io::dicom::read_seg(&out).unwrap();
    assert!(
        seg.segments.iter().all(|s| s.algorithm == "MANUAL"),
        "drawn by hand"
    );
    assert!(!view.edit.unsaved, "saving as a SEG ends the autosave too");
}

#[test]
fn the_viewer_offers_no_seg_for_a_case_from_nifti_files() {
    let tmp = tempfile::tempdir().unwrap();
    let case = cloe::app::bundled_case();
    let mut h = crate::viewer_editing::harness(&case, &tmp.path().join("autosave"));
    let out = tmp.path().join("x.dcm");
    h.state_mut().export.field = out.display().to_string();
    h.get_by_label("Save as DICOM SEG").click();
    h.run_steps(2);
    assert!(!out.exists(), "the button is disabled");
}

/// The model's first look at a case (shown while its remaining windows run) is not saved as the
/// model's result: its save buttons wait for the refined result, or for the reader's edits.
#[test]
fn a_first_look_is_saved_only_once_edited() {
    let tmp = tempfile::tempdir().unwrap();
    let case = cloe::app::bundled_case();
    let mut h = crate::viewer_editing::harness(&case, &tmp.path().join("autosave"));
    let out = tmp.path().join("look.nii.gz");
    h.state_mut().export.field = out.display().to_string();
    let view = h.state_mut().view.as_mut().unwrap();
    let labels = vec![1u8; view.case.grid.len()];
    view.overlay.show_labels(Some(labels), "CLoE (first look)");
    view.overlay.provisional = true;
    h.run_steps(2);
    h.get_by_label("Save labels").click();
    h.run_steps(2);
    assert!(!out.exists(), "the button is disabled");
    h.state_mut().view.as_mut().unwrap().overlay.edited();
    h.run_steps(2);
    h.get_by_label("Save labels").click();
    h.run_steps(2);
    assert!(out.exists(), "{:?}", h.state().error);
}
