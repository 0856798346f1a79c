//! Bad DICOM input gets one clear message each (exit code 2 on the command line, the viewer stays up):
//! a folder with no DICOM, a series with a missing slice, a duplicated position, mixed orientations, a
//! multi-frame object, pixels in a transfer syntax no decoder here reads, objects without an image, and
//! an element that claims more bytes than its file holds.
//! Each is made from a copy of a real ProstateX series in a temporary folder, changed with dicom-object.

use crate::common::{self, data};
use cloe::app::ViewerApp;
use cloe::case::{find_case, load_case};
use cloe::io::ReadOptions;
use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::open_file;
use std::path::{Path, PathBuf};

const SERIES: &str =
    "prostatex-t2-adc/original_dicom/ProstateX-0000/07-07-2011/4.000000-t2tsetra-00702";

/// Copies the T2 series into `dir`; returns the copies sorted by their position along the stack.
fn copy_series(dir: &Path) -> Option<Vec<PathBuf>> {
    let src = data(SERIES)?;
    let mut files: Vec<(f64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let from = entry.unwrap().path();
        let to = dir.join(from.file_name().unwrap());
        std::fs::copy(&from, &to).unwrap();
        let obj = open_file(&to).unwrap();
        let z = obj
            .element(tags::IMAGE_POSITION_PATIENT)
            .unwrap()
            .to_multi_float64()
            .unwrap()[2];
        files.push((z, to));
    }
    files.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some(files.into_iter().map(|(_, p)| p).collect())
}

/// Rewrites one file with `change` applied.
fn edit(path: &Path, change: impl FnOnce(&mut dicom_object::DefaultDicomObject)) {
    let mut obj = open_file(path).unwrap();
    change(&mut obj);
    obj.write_to_file(path).unwrap();
}

fn load_error(dir: &Path) -> String {
    match find_case(dir, None) {
        Err(e) => e.to_string(),
        Ok(source) => load_case(&source, ReadOptions::default())
            .map(|_| "no error".to_string())
            .unwrap_or_else(|e| e.to_string()),
    }
}

/// The loading error of a copy of the series after `change` (given the folder and the sorted files);
/// `None` when the shared data is missing.
fn error_after(change: impl FnOnce(&Path, &[PathBuf])) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let files = copy_series(dir.path())?;
    change(dir.path(), &files);
    Some(load_error(dir.path()))
}

#[test]
fn a_missing_slice_is_named_and_the_cli_exits_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let Some(files) = copy_series(dir.path()) else {
        return;
    };
    std::fs::remove_file(&files[9]).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("series 4 't2_tse_tra'")
            && err.contains("6.00 mm")
            && err.contains("1 slice(s) missing"),
        "{err}"
    );
    let (code, _, stderr) = common::cloe(&["inspect", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("missing"), "{stderr}");
}

#[test]
fn a_duplicated_position_is_refused() {
    let Some(err) = error_after(|dir, files| {
        std::fs::copy(&files[3], dir.join("copy.dcm")).unwrap();
    }) else {
        return;
    };
    assert!(
        err.contains("same position") && err.contains("copy.dcm"),
        "{err}"
    );
}

#[test]
fn mixed_orientations_are_refused() {
    let Some(err) = error_after(|_, files| {
        edit(&files[5], |obj| {
            obj.put(DataElement::new(
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                PrimitiveValue::from("1\\0\\0\\0\\0\\-1"),
            ));
        });
    }) else {
        return;
    };
    assert!(err.contains("different orientations"), "{err}");
}

#[test]
fn a_multi_frame_object_is_refused_with_what_to_do() {
    let Some(err) = error_after(|_, files| {
        edit(&files[0], |obj| {
            obj.put(DataElement::new(
                tags::NUMBER_OF_FRAMES,
                VR::IS,
                PrimitiveValue::from("2"),
            ));
        });
    }) else {
        return;
    };
    assert!(
        err.contains("multi-frame") && err.contains("dcm2niix"),
        "{err}"
    );
}

#[test]
fn pixels_no_decoder_reads_are_reported_with_the_transfer_syntax() {
    let Some(err) = error_after(|_, files| {
        edit(&files[2], |obj| {
            // JPEG-LS: registered in dicom-rs but not decoded without the charls feature.
            obj.meta_mut().transfer_syntax = "1.2.840.10008.1.2.4.80".into();
            obj.meta_mut().update_information_group_length();
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::PixelSequence(PixelFragmentSequence::new_fragments(vec![vec![0u8; 64]])),
            ));
        });
    }) else {
        return;
    };
    assert!(
        err.contains("cannot decode the pixels") && err.contains("1.2.840.10008.1.2.4.80"),
        "{err}"
    );
}

#[test]
fn objects_without_an_image_and_folders_without_dicom_are_explained() {
    let Some(err) = error_after(|_, files| {
        for f in files {
            edit(f, |obj| {
                obj.remove_element(tags::PIXEL_DATA);
                obj.remove_element(tags::ROWS);
                obj.remove_element(tags::COLUMNS);
            });
        }
    }) else {
        return;
    };
    assert!(
        err.contains("no DICOM series is one of the modalities"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "not an image").unwrap();
    let err = load_error(empty.path());
    assert!(
        err.contains("no case found") && err.contains("DICOM"),
        "{err}"
    );
}

#[test]
fn the_viewer_shows_a_broken_series_and_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let Some(files) = copy_series(dir.path()) else {
        return;
    };
    std::fs::remove_file(&files[4]).unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size(eframe::egui::Vec2::new(1200.0, 800.0))
        .build_ui_state(
            |ui, app: &mut ViewerApp| app.show(ui),
            ViewerApp::new(Some(dir.path().to_path_buf())),
        );
    let t = std::time::Instant::now();
    while h.state().is_loading() && t.elapsed().as_secs() < 30 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.step();
    let error = h.state().error.clone().unwrap_or_default();
    assert!(error.contains("missing"), "{error}");
    assert!(h.state().view.is_none());
}

#[test]
fn a_folder_far_larger_than_a_study_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20_001 {
        std::fs::write(dir.path().join(format!("f{i}")), b"").unwrap();
    }
    let err = cloe::case::find_cases(dir.path(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("more than 20000 files") && err.contains("study's"),
        "{err}"
    );
}

/// A slice whose pixel data claims a gigabyte (dicom-rs would reserve and zero it before finding
/// the file short): refused before reading, within 1 GiB of address space, naming the element.
#[test]
fn an_element_longer_than_its_file_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let Some(files) = copy_series(dir.path()) else {
        return;
    };
    let mut bytes = std::fs::read(&files[4]).unwrap();
    // The last element is the pixel data (explicit VR OW): its 4-byte length sits 384·384·2 + 4 bytes
    // before the end.
    let at = bytes.len() - 384 * 384 * 2 - 4;
    assert_eq!(&bytes[at - 8..at - 4], &[0xE0, 0x7F, 0x10, 0x00]);
    bytes[at..at + 4].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    std::fs::write(&files[4], bytes).unwrap();
    let out = std::process::Command::new("bash")
        .args(["-c", "ulimit -v 1048576; exec \"$0\" inspect \"$1\""])
        .args([env!("CARGO_BIN_EXE_cloe"), dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let name = files[4].file_name().unwrap().to_str().unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(name) && err.contains("(7FE0,0010) claims 1073741824 bytes"),
        "{err}"
    );
}
