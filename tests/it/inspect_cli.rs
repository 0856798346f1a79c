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
