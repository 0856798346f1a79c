//! Files other tools write open as those tools read them: every NIfTI file of nibabel's own test data
//! (in the nibabel that `.ci/run` installs) is read with nibabel's shape, data type, voxel size,
//! orientation and voxel sum (NIfTI-1 and NIfTI-2, 3-D and 4-D, scaled), or refused with a message
//! that names what it is (CIFTI-2).

use cloe::io::{ReadOptions, read_image};
use std::path::Path;
use std::process::Command;

/// nibabel's reading of its test files, or None (a skip outside CI, a failure in CI).
fn nibabel_reference() -> Option<serde_json::Value> {
    let python = std::env::var("CLOE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/nibabel_reference.py");
    let out = Command::new(&python).arg(script).output();
    match out {
        Ok(o) if o.status.success() => Some(serde_json::from_slice(&o.stdout).expect("JSON")),
        other => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "nibabel is missing ({python}): .ci/run installs it: {other:?}"
            );
            eprintln!("skipping: no nibabel in {python}");
            None
        }
    }
}

#[test]
fn every_nifti_file_of_nibabel_reads_as_nibabel_reads_it() {
    let Some(reference) = nibabel_reference() else {
        return;
    };
    let folder = Path::new(reference["folder"].as_str().unwrap());
    let files = reference["files"].as_object().unwrap();
    assert!(files.len() >= 8, "{files:?}");
    let mut read = 0;
    for (name, want) in files {
        let path = folder.join(name);
        let got = read_image(
            &path,
            ReadOptions {
                allow_nonfinite: true,
            },
        );
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
