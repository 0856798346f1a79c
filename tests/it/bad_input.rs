//! Every bad input named in the foundation issue gets a clear error naming the file and what is wrong,
//! exit code 2 from the CLI, and no panic.

use crate::common;
use cloe::geometry::Affine;
use common::bad_files::{catalogue, patched_image};
use common::{cloe, data, write_f32};
use std::path::Path;

/// Runs `cloe inspect` on `path` and checks exit code 2 and that stderr mentions every `needle`.
fn refused(args: &[&str], needles: &[&str]) {
    let (code, _, err) = cloe(args);
    assert_eq!(code, 2, "exit code for {args:?}; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr of {args:?} lacks {n:?}: {err}");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn truncated_gzip_file() {
    let Some(src) = data("brats2018/Brats18_2013_11_1/Brats18_2013_11_1_seg.nii.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(src).unwrap();
    let p = dir.path().join("cut_seg.nii.gz");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    refused(&["inspect", s(&p)], &["cut_seg.nii.gz", "truncated"]);
}

/// Every class of bad file: `cloe inspect` refuses it with one line naming the file and the fault,
/// exit code 2, within 1 GiB of address space (what the file can honestly hold, checked before
/// allocating: the 2^31-voxel header, the 10,000-volume 4-D file and the 100 GiB gzip among them).
#[test]
fn every_bad_file_of_the_catalogue_is_refused_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    for bad in catalogue(dir.path()) {
        let out = std::process::Command::new("bash")
            .args(["-c", "ulimit -v 1048576; exec \"$0\" inspect \"$1\""])
            .args([env!("CARGO_BIN_EXE_cloe"), s(&bad.path)])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let what = bad.what;
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        let name = bad.path.file_name().unwrap().to_str().unwrap();
        for n in bad.needles.iter().chain([&name]) {
            assert!(err.contains(n), "{what}: stderr lacks {n:?}: {err}");
        }
    }
}

/// A model spacing that would make the model's grid enormous (0.01 mm) is refused before resampling,
/// with the size and memory it would need.
#[test]
fn a_model_spacing_that_makes_the_resampled_grid_enormous() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = root.join("assets/TCGA-DU-7294");
    let model = dir.path().join("fine-model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(root.join("models/brats/model.bpk"), model.join("model.bpk")).unwrap();
    let config = std::fs::read_to_string(root.join("models/brats/config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&config).unwrap();
    config["spacing_mm"] = serde_json::json!(0.01);
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();
    let out = dir.path().join("out.nii.gz");
    refused(
        &[
            "segment",
            s(&p),
            "--model",
            s(&model),
            "--out",
            s(&out),
            "--device",
            "cpu",
        ],
        &["makes a grid of", "GiB", "spacing_mm"],
    );
    assert!(!out.exists());
}

#[test]
fn nan_and_inf_voxels_are_counted_and_do_not_poison_the_zscore() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan_flair.nii.gz");
    let mut data: Vec<f32> = (1..=64).map(|i| i as f32).collect();
    data[3] = f32::NAN;
    data[5] = f32::NAN;
    data[9] = f32::INFINITY;
    write_f32(&p, [4, 4, 4], Affine::IDENTITY, data);
    refused(
        &["inspect", s(&p), "--reject-nonfinite"],
        &["nan_flair.nii.gz", "2 NaN and 1 infinite voxels out of 64"],
    );
    let (code, out, err) = cloe(&["inspect", s(&p)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 NaN and 1 Inf voxels set to 0"), "{out}");
    let mut v = cloe::io::read_volume(&p, cloe::io::ReadOptions::default()).unwrap();
    assert_eq!((v.info.nan_voxels, v.info.inf_voxels), (2, 1));
    let z = cloe::preprocess::robust_zscore(&mut v.data).unwrap();
    assert!(z.mean.is_finite() && z.std.is_finite() && v.data.iter().all(|x| x.is_finite()));
    assert_eq!(z.voxels, 61);
}

#[test]
fn modalities_whose_grids_do_not_overlap() {
    let dir = tempfile::tempdir().unwrap();
    write_f32(
        &dir.path().join("p_t2w.nii.gz"),
        [8, 8, 4],
        Affine::IDENTITY,
        vec![1.0; 256],
    );
    let far = Affine::from_spacing([2.0; 3], [500.0, 0.0, 0.0]);
    write_f32(
        &dir.path().join("p_adc.nii.gz"),
        [4, 4, 2],
        far,
        vec![1.0; 32],
    );
    refused(
        &["inspect", s(dir.path())],
        &["p_adc.nii.gz", "does not overlap", "p_t2w.nii.gz"],
    );
}

#[test]
fn label_map_with_unexpected_values() {
    let dir = tempfile::tempdir().unwrap();
    write_f32(
        &dir.path().join("c_flair.nii.gz"),
        [4, 4, 4],
        Affine::IDENTITY,
        vec![1.0; 64],
    );
    let mut labels = vec![0.0; 64];
    labels[1] = 4.0;
    labels[2] = 3.0;
    labels[3] = 7.0;
    write_f32(
        &dir.path().join("c_seg.nii.gz"),
        [4, 4, 4],
        Affine::IDENTITY,
        labels,
    );
    refused(
        &["inspect", s(dir.path())],
        &[
            "c_seg.nii.gz",
            "unexpected label values 3, 7",
            "[0, 1, 2, 4]",
        ],
    );
    let mut fractional = vec![0.0; 64];
    fractional[0] = 0.5;
    write_f32(
        &dir.path().join("c_seg.nii.gz"),
        [4, 4, 4],
        Affine::IDENTITY,
        fractional,
    );
    refused(
        &["inspect", s(dir.path())],
        &["c_seg.nii.gz", "unexpected label values 0.5"],
    );
}

#[test]
fn folder_with_no_recognisable_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    write_f32(
        &dir.path().join("mystery.nii.gz"),
        [2, 2, 2],
        Affine::IDENTITY,
        vec![1.0; 8],
    );
    // An image whose name says no sequence is a case to say it of.
    refused(
        &["inspect", s(dir.path())],
        &["mystery.nii.gz", "does not say which sequence", "--as"],
    );
    std::fs::remove_file(dir.path().join("mystery.nii.gz")).unwrap();
    refused(
        &["inspect", s(dir.path())],
        &[s(dir.path()), "no case found"],
    );
}

#[test]
fn unreadable_or_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone_t1.nii.gz");
    refused(
        &["inspect", s(&missing)],
        &["gone_t1.nii.gz", "cannot read"],
    );
    // A name that says NIfTI but is a folder.
    let folder = dir.path().join("folder_t1.nii.gz");
    std::fs::create_dir(&folder).unwrap();
    refused(&["inspect", s(&folder), s(&missing)], &["cannot read"]);
}

#[test]
fn outputs_in_missing_or_read_only_folders_and_never_over_inputs() {
    use cloe::io::{OutputType, WriteOptions, write_volume};
    use cloe::volume::{Grid, Volume, VolumeInfo};
    let dir = tempfile::tempdir().unwrap();
    let v = Volume::new(
        Grid::new([2, 2, 2], Affine::IDENTITY),
        vec![1.0; 8],
        VolumeInfo::derived("uint8"),
    );
    let missing = dir.path().join("no/such/folder/out.nii.gz");
    let e = write_volume(&missing, &v, OutputType::Labels, &WriteOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("out.nii.gz") && e.contains("does not exist"),
        "{e}"
    );

    let ro = dir.path().join("readonly");
    std::fs::create_dir(&ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro, perms).unwrap();
    let e = write_volume(
        &ro.join("out.nii.gz"),
        &v,
        OutputType::Labels,
        &WriteOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("read-only"), "{e}");

    let input = dir.path().join("case_seg.nii.gz");
    write_volume(&input, &v, OutputType::Labels, &WriteOptions::default()).unwrap();
    let before = std::fs::read(&input).unwrap();
    let protect = WriteOptions::protecting([input.clone()]).overwriting(true);
    let e = write_volume(&input, &v, OutputType::Labels, &protect)
        .unwrap_err()
        .to_string();
    assert!(e.contains("input files"), "{e}");
    let e = write_volume(&input, &v, OutputType::Labels, &WriteOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("exists"), "{e}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

/// A small float32 image 4x3x2 with values 1..=24, uncompressed; returns its bytes.
fn small_image(p: &Path) -> Vec<u8> {
    std::fs::read(patched_image(p, |_| {})).unwrap()
}

fn voxels(p: &Path) -> cloe::Result<Vec<f32>> {
    cloe::io::read_image(p, cloe::io::ReadOptions::default()).map(|i| i.channels.concat())
}

#[test]
fn a_nan_slope_means_no_scaling() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan_slope_t1.nii");
    let mut b = small_image(&p);
    b[112..116].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&p, b).unwrap();
    let want: Vec<f32> = (1..=24).map(|v| v as f32).collect();
    assert_eq!(voxels(&p).unwrap(), want);
}

#[test]
fn voxels_start_at_vox_offset_after_padding() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("offset_t1.nii");
    let b = small_image(&p);
    // vox_offset 400: the 4-byte extender says "no extensions", then 48 bytes of padding.
    let mut out = b[..348].to_vec();
    out[108..112].copy_from_slice(&400f32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend([0xAB; 48]);
    out.extend(&b[352..]);
    std::fs::write(&p, out).unwrap();
    let want: Vec<f32> = (1..=24).map(|v| v as f32).collect();
    assert_eq!(voxels(&p).unwrap(), want);
}

#[test]
fn micrometre_units_are_converted_to_millimetres() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("micron_t1.nii");
    let mut b = small_image(&p);
    b[123] = 3; // NIFTI_UNITS_MICRON
    std::fs::write(&p, b).unwrap();
    let image = cloe::io::read_image(&p, cloe::io::ReadOptions::default()).unwrap();
    let sp = image.grid.spacing();
    assert!(sp.iter().all(|v| (v - 0.001).abs() < 1e-12), "{sp:?}");
}

#[test]
fn a_gzip_whose_checksum_is_wrong() {
    let Some(src) = data("brats2018/Brats18_2013_11_1/Brats18_2013_11_1_seg.nii.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(src).unwrap();
    let n = bytes.len();
    bytes[n - 8] ^= 0xFF; // the CRC-32 of the gzip trailer
    let p = dir.path().join("crc_seg.nii.gz");
    std::fs::write(&p, bytes).unwrap();
    refused(&["inspect", s(&p)], &["crc_seg.nii.gz", "damaged"]);
}

#[cfg(unix)]
#[test]
fn a_pipe_named_like_an_image_neither_blocks_nor_counts() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("case_flair.nii.gz");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipping: mkfifo is not available");
        return;
    }
    refused(
        &["inspect", s(&fifo)],
        &["case_flair.nii.gz", "not a regular file"],
    );
    // In a folder beside a real image the pipe is left out, and reading does not block.
    small_image(&dir.path().join("case_t1.nii"));
    let (code, out, err) = cloe(&["inspect", s(dir.path())]);
    assert_eq!(code, 0, "{out}{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_standard_output_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("case_t1.nii");
    small_image(&p);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloe"))
        .args(["inspect", s(&p)])
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot write to the standard output") && !err.contains("panicked"),
        "{err}"
    );
}

/// A case larger than the memory left is refused before the work, with the figure it would need
/// (`CLOE_MEMORY_LIMIT_MB` plays a machine with 16 MB free).
#[test]
fn a_case_larger_than_the_free_memory_is_refused_with_the_figure() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labels.nii.gz");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cloe"))
        .env("CLOE_MEMORY_LIMIT_MB", "16")
        .args(["segment", s(&root.join("assets/TCGA-DU-7294"))])
        .args(["--model", s(&root.join("models/brats")), "--out", s(&out)])
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for n in [
        "needs about",
        "GiB of memory",
        "0.0 GiB is available",
        "(the maps on the model's and the case's grids, and one window's forward)",
    ] {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!out.exists());
}
