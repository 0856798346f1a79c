//! DICOM in, on the original ProstateX series of the shared data: every series against dcm2niix's
//! conversion (tests/reference/dicom_reference.json: shape, spacing, affine within 1e-3 mm, voxel sum
//! and sampled voxels) and against the SimpleITK conversions beside them (every voxel); studies as
//! cases (profile, modality rules, the two T2 series of ProstateX-0001 and the choice between them);
//! a folder of studies as a dataset; the CLI on a study; the viewer showing T2 with ADC resampled.

use crate::common::{self, data};
use cloe::case::{apply_series_choices, find_case, find_cases, load_case};
use cloe::geometry::Affine;
use cloe::io::dicom::{dicom_files_under, read_series, scan_files};
use cloe::io::{ReadOptions, read_volume};
use cloe::volume::Volume;
use std::path::Path;

const STUDIES: &str = "prostatex-t2-adc/original_dicom";

fn dicom_reference() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/dicom_reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("dicom_reference.json")).unwrap()
}

/// The one series stored in `folder`, read into a volume.
fn read_folder(folder: &Path) -> Volume {
    let scan = scan_files(&dicom_files_under(folder).unwrap());
    assert!(scan.skipped.is_empty(), "skipped: {:?}", scan.skipped);
    assert_eq!(scan.series.len(), 1, "{}", folder.display());
    read_series(&scan.series[0]).unwrap()
}

fn affine_of(v: &serde_json::Value) -> Affine {
    Affine(std::array::from_fn(|r| {
        std::array::from_fn(|c| v[r][c].as_f64().unwrap())
    }))
}

#[test]
fn every_series_matches_dcm2niix() {
    let reference = dicom_reference();
    let series = reference["series"].as_object().unwrap();
    assert_eq!(series.len(), 7, "seven series in the two studies");
    for (rel, r) in series {
        let Some(folder) = data(rel) else { return };
        let v = read_folder(&folder);
        let mut ours = v.grid.dims.to_vec();
        let mut theirs: Vec<usize> = r["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{rel}: shape");
        let (mut sp, mut their_sp) = (v.grid.spacing().to_vec(), Vec::new());
        for x in r["spacing"].as_array().unwrap() {
            their_sp.push(x.as_f64().unwrap());
        }
        sp.sort_by(f64::total_cmp);
        their_sp.sort_by(f64::total_cmp);
        for (a, b) in sp.iter().zip(&their_sp) {
            assert!(
                (a - b).abs() < 1e-4,
                "{rel}: spacing {sp:?} vs {their_sp:?}"
            );
        }
        // dcm2niix's voxel centres are voxel centres of ours, within 1e-3 mm, with the same values.
        let inverse = v.grid.affine.inverse().unwrap();
        for s in r["samples"].as_array().unwrap() {
            let world: [f64; 3] = std::array::from_fn(|a| s["world"][a].as_f64().unwrap());
            let ijk = inverse.apply(world).map(f64::round);
            let back = v.grid.affine.apply(ijk);
            let error = (0..3)
                .map(|a| (back[a] - world[a]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                error < 1e-3,
                "{rel}: {world:?} is {error} mm from our voxel centre"
            );
            let idx = v
                .grid
                .index(ijk[0] as usize, ijk[1] as usize, ijk[2] as usize);
            assert_eq!(
                v.data[idx] as f64,
                s["value"].as_f64().unwrap(),
                "{rel} at {ijk:?}"
            );
        }
        let sum: f64 = v.data.iter().map(|&x| x as f64).sum();
        assert!(
            common::close(sum, r["sum"].as_f64().unwrap(), 1e-9),
            "{rel}: sum"
        );
        // The reference affine, mapped onto ours, is a flip/permutation of voxel axes.
        let map = inverse.compose(&affine_of(&r["affine"]));
        for row in &map.0[..3] {
            for &x in &row[..3] {
                assert!(
                    x.abs() < 1e-4 || (x.abs() - 1.0).abs() < 1e-4,
                    "{rel}: {map:?}"
                );
            }
        }
    }
}

#[test]
fn every_voxel_and_the_affine_match_the_simpleitk_conversions() {
    let pairs = [
        (
            "ProstateX-0000/07-07-2011/4.000000-t2tsetra-00702",
            "ProstateX-0000/ProstateX-0000_t2w.nii.gz",
        ),
        (
            "ProstateX-0000/07-07-2011/7.000000-ep2ddifftraDYNDISTADC-48780",
            "ProstateX-0000/ProstateX-0000_adc.nii.gz",
        ),
        (
            "ProstateX-0001/07-08-2011/6.000000-t2tsetra-76610",
            "ProstateX-0001/ProstateX-0001_t2w_series6.nii.gz",
        ),
        (
            "ProstateX-0001/07-08-2011/10.000000-t2tsetra-17541",
            "ProstateX-0001/ProstateX-0001_t2w_series10.nii.gz",
        ),
    ];
    for (series, nifti) in pairs {
        let (Some(folder), Some(file)) = (
            data(&format!("{STUDIES}/{series}")),
            data(&format!("prostatex-t2-adc/{nifti}")),
        ) else {
            return;
        };
        let ours = read_folder(&folder);
        let theirs = read_volume(&file, ReadOptions::default()).unwrap();
        assert_eq!(ours.grid.dims, theirs.grid.dims, "{series}");
        for r in 0..3 {
            for c in 0..4 {
                let (a, b) = (ours.grid.affine.0[r][c], theirs.grid.affine.0[r][c]);
                assert!(
                    (a - b).abs() < 1e-3,
                    "{series}: affine [{r}][{c}] {a} vs {b}"
                );
            }
        }
        assert!(ours.data == theirs.data, "{series}: voxels differ");
    }
}

#[test]
fn a_study_is_a_prostate_case_and_the_second_t2_series_can_be_chosen() {
    let Some(study) = data(&format!("{STUDIES}/ProstateX-0001")) else {
        return;
    };
    let source = find_case(&study, None).unwrap();
    assert_eq!(source.id, "ProstateX-0001");
    assert_eq!(source.profile, cloe::case::Profile::Prostate);
    assert!(!source.profile_guessed, "the ADC series says prostate");
    let numbers: Vec<Option<i64>> = source.dicom.iter().map(|s| s.number).collect();
    assert_eq!(
        numbers,
        [Some(6), Some(8), Some(9), Some(10)],
        "all four series found"
    );
    // Both T2 series are found; the default is the latest, as for NIfTI files named _series6/_series10.
    assert_eq!(source.series_of(0).unwrap().number, Some(10));
    assert_eq!(source.series_of(1).unwrap().number, Some(8), "ADC");
    let why: Vec<&str> = source.ignored.iter().map(|(_, w)| w.as_str()).collect();
    assert!(
        why.iter()
            .any(|w| w.contains("series 6") && w.contains("as t2=6")),
        "{why:?}"
    );
    assert!(
        why.iter()
            .any(|w| w.contains("series 9") && w.contains("diffusion")),
        "{why:?}"
    );

    let case = load_case(&source, ReadOptions::default()).unwrap();
    assert_eq!(
        case.grid.dims,
        [384, 384, 19],
        "the T2 grid is the reference"
    );
    let adc = case.modalities[1].as_ref().unwrap();
    assert_eq!(adc.grid.dims, case.grid.dims, "ADC resampled onto T2");
    assert!(case.files.iter().any(|f| f.role == "adc" && f.resampled));

    let mut other = source.clone();
    apply_series_choices(&mut other, &["t2=6".into()]).unwrap();
    assert_eq!(other.series_of(0).unwrap().number, Some(6));
    let err = apply_series_choices(&mut other, &["t2=7".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no image series number 7") && err.contains("series 10"),
        "{err}"
    );
    let err = apply_series_choices(&mut other, &["flair=6".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a prostate modality"), "{err}");
    let err = apply_series_choices(&mut other, &["t2:6".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("MODALITY=SERIES_NUMBER"), "{err}");
}

#[test]
fn a_folder_of_studies_is_a_dataset_of_cases() {
    let Some(root) = data(STUDIES) else { return };
    let cases = find_cases(&root, None).unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["ProstateX-0000", "ProstateX-0001"]);
    for c in &cases {
        assert_eq!(c.present(), ["t2", "adc"], "{}", c.id);
    }
    // One file of a study opens its whole folder.
    let one = root.join("ProstateX-0000/07-07-2011/4.000000-t2tsetra-00702/1-01.dcm");
    let source = find_case(&one, None).unwrap();
    assert_eq!(source.present(), ["t2"], "only the series beside the file");
}

#[test]
fn cli_inspect_takes_a_study_and_a_series_choice() {
    let Some(study) = data(&format!("{STUDIES}/ProstateX-0001")) else {
        return;
    };
    let s = study.to_str().unwrap();
    let (code, out, err) = common::cloe(&["inspect", s, "--series", "t2=6"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("t2     6.000000-t2tsetra-76610"), "{out}");
    assert!(out.contains("→ T2") && out.contains("→ ADC"), "{out}");
    let (code, _, err) = common::cloe(&["inspect", s, "--series", "adc=99"]);
    assert_eq!(code, 2);
    assert!(err.contains("no image series number 99"), "{err}");
}

#[test]
fn the_viewer_opens_each_study_with_adc_on_the_t2_grid_and_switches_the_t2_series() {
    use cloe::app::ViewerApp;
    use egui_kittest::kittest::Queryable;
    for id in ["ProstateX-0000", "ProstateX-0001"] {
        let Some(study) = data(&format!("{STUDIES}/{id}")) else {
            return;
        };
        let mut h = egui_kittest::Harness::builder()
            .with_size(eframe::egui::Vec2::new(1200.0, 800.0))
            .build_ui_state(
                |ui, app: &mut ViewerApp| app.show(ui),
                ViewerApp::new(Some(study)),
            );
        let loaded = |h: &mut egui_kittest::Harness<'static, ViewerApp>| {
            let t = std::time::Instant::now();
            while h.state().is_loading() && t.elapsed().as_secs() < 60 {
                h.step();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            h.step();
            h.step();
        };
        loaded(&mut h);
        let view = h
            .state()
            .view
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}", h.state().error));
        assert_eq!(view.case.id, id);
        assert_eq!(view.case.grid.dims, [384, 384, 19]);
        let adc = view.case.modalities[1].as_ref().expect("ADC shown");
        assert_eq!(adc.grid.dims, view.case.grid.dims, "ADC resampled onto T2");
        h.get_by_label("DICOM series");
        if id == "ProstateX-0001" {
            // The T2 menu shows the default (series 10); choosing series 6 reloads the case with it.
            h.get_by_value("series 10 't2_tse_tra'").click();
            h.step();
            h.step();
            h.get_by_label_contains("series 6 't2_tse_tra' · 19 slices")
                .click();
            let t = std::time::Instant::now();
            let t2_series = |h: &egui_kittest::Harness<'static, ViewerApp>| {
                let view = h.state().view.as_ref().unwrap();
                view.case.source.series_of(0).unwrap().number
            };
            while t2_series(&h) != Some(6) && t.elapsed().as_secs() < 60 {
                h.step();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let source = &h.state().view.as_ref().unwrap().case.source;
            assert_eq!(source.series_of(0).unwrap().number, Some(6));
        }
    }
}
