//! Files other tools write open as those tools read them: every NIfTI file of nibabel's own test data
//! (in the nibabel that `.ci/run` installs) is read with nibabel's shape, data type, voxel size,
//! orientation and voxel sum (NIfTI-1 and NIfTI-2, 3-D and 4-D, scaled), or refused with a message
//! that names what it is (CIFTI-2); every one-slice MR file of pydicom's test data (explicit and
//! implicit VR, big endian, RLE, JPEG 2000 and JPEG-LS lossless, padded) opens as a case once its
//! series is chosen as the error message says, with pydicom's pixels exactly.

use cloe::io::{ReadOptions, read_image};
use std::path::Path;
use std::process::Command;

/// What a reference script (`tests/peers/NAME.py`) prints, or None (a skip outside CI, a failure in
/// CI, where `.ci/run` installs nibabel and pydicom).
fn run_reference(name: &str) -> Option<serde_json::Value> {
    let python = std::env::var("CLOE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/peers/{name}.py"));
    let out = Command::new(&python).arg(script).output();
    match out {
        Ok(o) if o.status.success() => Some(serde_json::from_slice(&o.stdout).expect("JSON")),
        other => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "{name} failed with {python}: .ci/run installs its packages: {other:?}"
            );
            eprintln!("skipping: {name} failed with {python}");
            None
        }
    }
}

#[test]
fn every_nifti_file_of_nibabel_reads_as_nibabel_reads_it() {
    let Some(reference) = run_reference("nibabel_reference") else {
        return;
    };
    let folder = Path::new(reference["folder"].as_str().unwrap());
    let files = reference["files"].as_object().unwrap();
    assert!(files.len() >= 8, "{files:?}");
    let mut read = 0;
    for (name, want) in files {
        let path = folder.join(name);
        let got = read_image(&path, ReadOptions::default());
        if let Some(intent) = want.get("cifti") {
            let e = got.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                e.contains("CIFTI-2") && e.contains(&intent.to_string()),
                "{name}: {e}"
            );
            continue;
        }
        let image = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut shape: Vec<u64> = image.grid.dims.iter().map(|&d| d as u64).collect();
        if image.channels.len() > 1 {
            shape.push(image.channels.len() as u64);
        }
        let want_shape: Vec<u64> = (want["shape"].as_array().unwrap().iter())
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(shape, want_shape, "{name}: shape");
        assert_eq!(
            image.info.datatype,
            want["dtype"].as_str().unwrap(),
            "{name}: data type"
        );
        let spacing = image.grid.spacing();
        for (a, w) in want["spacing"].as_array().unwrap().iter().enumerate() {
            let w = w.as_f64().unwrap();
            assert!(
                (spacing[a] - w).abs() < 1e-4 * w,
                "{name}: spacing {spacing:?}, want {w}"
            );
        }
        assert_eq!(
            image.grid.affine.axcodes(),
            want["axcodes"].as_str().unwrap(),
            "{name}"
        );
        let sum: f64 = image.channels.iter().flatten().map(|&v| v as f64).sum();
        let want_sum = want["sum"].as_f64().unwrap();
        assert!(
            (sum - want_sum).abs() <= 1e-5 * want_sum.abs().max(1.0),
            "{name}: voxel sum {sum}, nibabel {want_sum}"
        );
        read += 1;
    }
    assert!(read >= 7, "{read} files read");
}

#[test]
fn every_one_slice_mr_file_of_pydicom_opens_with_its_pixels() {
    let Some(reference) = run_reference("pydicom_reference") else {
        return;
    };
    let folder = Path::new(reference["folder"].as_str().unwrap());
    let files = reference["files"].as_object().unwrap();
    assert!(files.len() >= 8, "{files:?}");
    for (name, want) in files {
        // Each file on its own: they are copies of one instance (one SOPInstanceUID).
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(name);
        std::fs::copy(folder.join(name), &file).unwrap();
        let mut source = cloe::case::find_case(&file, None).unwrap();
        // No description says which sequence it is: the error says what to choose, and that works.
        let e = cloe::case::load_case(&source, ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("MODALITY=NUMBER") && e.contains("=1"),
            "{name}: {e}"
        );
        cloe::case::apply_series_choices(&mut source, &["t1=1".to_string()]).unwrap();
        let case = cloe::case::load_case(&source, ReadOptions::default()).unwrap();
        assert_eq!(case.grid.dims, [64, 64, 1], "{name}");
        let t1 = case.modalities[2]
            .as_ref()
            .expect("T1 is the chosen series");
        let pixels: Vec<f32> = (want["pixels"].as_array().unwrap().iter())
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert!(
            t1.data == pixels,
            "{name}: the pixels differ from pydicom's"
        );
    }
}
