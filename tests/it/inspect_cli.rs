//! `cloe inspect`, `cloe --help`, `cloe --version` as a user runs them, checked against nibabel's numbers.

use crate::common;
use common::{cloe, close, data, reference};

#[test]
fn help_documents_every_subcommand_and_version_prints() {
    let (code, out, _) = cloe(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["inspect", "devices"] {
        assert!(out.contains(sub), "{out}");
    }
    let (code, out, _) = cloe(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("cloe "), "{out}");
    let (code, _, err) = cloe(&["inspect", "--no-such-flag"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn inspect_json_of_a_brats_case() {
    let Some(dir) = data("brats2018/Brats18_TCIA10_637_1") else {
        return;
    };
    let (code, out, err) = cloe(&["inspect", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["kind"], "case");
    assert_eq!(r["profile"], "brats");
    assert_eq!(
        r["modalities_found"],
        serde_json::json!(["flair", "t1c", "t1", "t2"])
    );
    assert_eq!(r["modalities_missing"], serde_json::json!([]));
    let reference = reference();
    for f in r["files"].as_array().unwrap() {
        let name = std::path::Path::new(f["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let want = &reference["files"][format!("brats2018/Brats18_TCIA10_637_1/{name}")];
        assert_eq!(f["dims"], want["shape"], "{name}");
        assert_eq!(f["orientation"], want["axcodes"], "{name}");
        assert_eq!(f["datatype"], want["datatype"], "{name}");
        if let Some(i) = f["intensity"].as_object() {
            let p = i["p99_5"].as_f64().unwrap();
            assert!(
                close(
                    p,
                    want["percentiles_nonzero"]["99.5"].as_f64().unwrap(),
                    1e-9
                ),
                "{name}"
            );
            assert_eq!(
                i["max"].as_f64(),
                want["max"].as_f64(),
                "{name}: saturated at 32767"
            );
        }
        if let Some(labels) = f["labels"].as_array() {
            for l in labels {
                let v = l["value"].as_u64().unwrap().to_string();
                assert_eq!(
                    l["voxels"].as_u64(),
                    want["label_counts"][&v].as_u64(),
                    "{name} label {v}"
                );
                assert!(close(
                    l["ml"].as_f64().unwrap(),
                    want["label_volume_ml"][&v].as_f64().unwrap(),
                    1e-9
                ));
            }
        }
    }
}

#[test]
fn inspect_text_of_the_prostate_pair_reports_the_resampling() {
    let Some(dir) = data("prostatex-t2-adc/ProstateX-0000") else {
        return;
    };
    let (code, out, err) = cloe(&["inspect", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("profile   prostate"), "{out}");
    assert!(out.contains("384x384x19 at 0.500x0.500x3.000 mm"), "{out}");
    assert!(out.contains("84x128x19 at 2.000x2.000x3.000 mm"), "{out}");
    assert!(out.contains("resampled ADC"), "{out}");
    assert!(out.contains("ProstateX-0000_hbv.nii.gz"), "{out}");
}

#[test]
fn inspect_lists_a_dataset_and_a_case_with_missing_modalities() {
    let Some(dir) = data("brats2018") else { return };
    let (code, out, err) = cloe(&["inspect", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("with 14 cases"), "{out}");
    // A case given as two files: the others are missing, not an error.
    let Some(flair) = data("brats2018/Brats18_2013_3_1/Brats18_2013_3_1_flair.nii.gz") else {
        return;
    };
    let t2 = flair.with_file_name("Brats18_2013_3_1_t2.nii.gz");
    let (code, out, err) = cloe(&[
        "inspect",
        flair.to_str().unwrap(),
        t2.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["modalities_missing"], serde_json::json!(["t1c", "t1"]));
}

#[test]
fn every_shared_case_can_be_inspected() {
    for rel in [
        "brats2023-naming/BraTS-GLI-00001-000",
        "brainles-naming/TCGA-DU-7294",
        "brainles-naming/OtherEXampleFromTCIA",
        "prostatex-t2-adc/ProstateX-0001",
        "msd-prostate-label",
    ] {
        let Some(dir) = data(rel) else { continue };
        let (code, out, err) = cloe(&["inspect", dir.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{rel}: {err}");
        let r: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(r["kind"], "case", "{rel}");
    }
}

/// One NIfTI file whose name says no sequence is refused with how to name it (not "a dataset of 0
/// cases" with exit code 0).
#[test]
fn an_unnamed_single_file_says_how_to_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.nii.gz");
    let t1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/TCGA-DU-7294/TCGA-DU-7294_t1_bet.nii.gz");
    std::fs::copy(t1, &scan).unwrap();
    let (code, out, err) = cloe(&["inspect", scan.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("scan.nii.gz") && err.contains("does not say which sequence"),
        "{err}"
    );
}

/// A folder whose name is not UTF-8 (Latin-1 `café`): the JSON report is written, the byte shown as
/// U+FFFD, instead of the whole report being lost.
#[cfg(unix)]
#[test]
fn a_path_that_is_not_utf8_keeps_the_json_report() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir(&case).unwrap();
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/TCGA-DU-7294");
    for m in ["t1", "t1c", "t2", "fla"] {
        let name = format!("TCGA-DU-7294_{m}_bet.nii.gz");
        std::fs::copy(assets.join(&name), case.join(&name)).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloe"))
        .arg("inspect")
        .arg("--json")
        .arg(&case)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(json.to_string().contains("caf\u{fffd}"), "{json}");
}
