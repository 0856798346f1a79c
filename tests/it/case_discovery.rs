//! Case discovery on every naming scheme of the shared data, MSD datasets made here, and loading cases
//! onto one grid (ProstateX ADC onto the T2 grid, checked against scipy).

use crate::common;
use cloe::case::{LabelConvention, Profile, find_case, find_cases, load_case};
use cloe::io::ReadOptions;
use common::{close, data, reference};

#[test]
fn brats2018_dataset_lists_fourteen_full_cases() {
    let Some(dir) = data("brats2018") else { return };
    let cases = find_cases(&dir, None).unwrap();
    assert_eq!(cases.len(), 14);
    for c in &cases {
        assert_eq!(c.profile, Profile::Brats);
        assert_eq!(c.present(), vec!["flair", "t1c", "t1", "t2"], "{}", c.id);
        assert!(c.label.is_some(), "{}", c.id);
    }
    assert!(cases.iter().any(|c| c.id == "Brats18_TCIA10_637_1"));
}

#[test]
fn brats2018_case_loads_with_label_convention_and_region_counts() {
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let case = load_case(&find_case(&dir, None).unwrap(), ReadOptions::default()).unwrap();
    assert_eq!(case.grid.dims, [240, 240, 155]);
    assert_eq!(case.grid.axcodes(), "LPS");
    let label = case.label.as_ref().unwrap();
    assert_eq!(label.convention, LabelConvention::Brats2018);
    // nibabel: {0: 8788743, 1: 45839, 2: 73741, 4: 19677}; classes 1, 2, 3.
    let count = |c: u8| label.classes.iter().filter(|&&x| x == c).count();
    assert_eq!((count(1), count(2), count(3)), (45839, 73741, 19677));
    // Written back in the file's own convention.
    let disk = label.to_disk_volume();
    assert_eq!(disk.data.iter().filter(|&&x| x == 4.0).count(), 19677);
    assert!(case.notes.is_empty(), "{:?}", case.notes);
}

#[test]
fn brats2023_names_are_understood() {
    let Some(dir) = data("brats2023-naming") else {
        return;
    };
    let c = find_case(&dir.join("BraTS-GLI-00001-000"), None).unwrap();
    assert_eq!(
        (c.profile, c.present().len(), c.label.is_some()),
        (Profile::Brats, 4, false)
    );
    let file = |k: usize| {
        c.modalities[k]
            .as_ref()
            .unwrap()
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(file(0), "BraTS-GLI-00001-000-t2f.nii.gz");
    assert_eq!(file(2), "BraTS-GLI-00001-000-t1n.nii.gz");
}

#[test]
fn brats_toolkit_names_with_bet_and_model_outputs_ignored() {
    let Some(dir) = data("brainles-naming") else {
        return;
    };
    let cases = find_cases(&dir, None).unwrap();
    assert_eq!(cases.len(), 2);
    for c in &cases {
        assert_eq!(c.present().len(), 4, "{}", c.id);
        assert!(c.label.is_none(), "the model output is not ground truth");
        assert!(
            c.ignored
                .iter()
                .any(|(p, _)| p.to_string_lossy().contains("fusion_simple_model_ensemble"))
        );
    }
}

#[test]
fn prostatex_pairs_with_two_t2_series_and_unused_hbv() {
    let Some(dir) = data("prostatex-t2-adc") else {
        return;
    };
    let cases = find_cases(&dir, None).unwrap();
    assert_eq!(
        cases.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["ProstateX-0000", "ProstateX-0001"]
    );
    for c in &cases {
        assert_eq!(
            (c.profile, c.present()),
            (Profile::Prostate, vec!["t2", "adc"])
        );
        assert!(
            c.ignored
                .iter()
                .any(|(p, why)| p.to_string_lossy().contains("hbv") && why.contains("not used"))
        );
    }
    let t2 = cases[1].modalities[0]
        .as_ref()
        .unwrap()
        .path
        .to_string_lossy()
        .into_owned();
    assert!(
        t2.ends_with("t2w_series10.nii.gz"),
        "the later series is chosen: {t2}"
    );
    assert!(
        cases[1]
            .ignored
            .iter()
            .any(|(_, why)| why.contains("another t2 file was chosen"))
    );
}

#[test]
fn prostatex_adc_is_resampled_onto_the_t2_grid_like_scipy() {
    let Some(dir) = data("prostatex-t2-adc/ProstateX-0000") else {
        return;
    };
    let case = load_case(&find_case(&dir, None).unwrap(), ReadOptions::default()).unwrap();
    let want = &reference()["resample_adc_to_t2"]["ProstateX-0000"];
    assert_eq!(case.grid.dims, [384, 384, 19]);
    assert!(
        case.notes.iter().any(|n| n.contains("resampled ADC")),
        "{:?}",
        case.notes
    );
    let adc = case.modalities[1].as_ref().unwrap();
    // Reference: scipy map_coordinates(order=1) inside the ADC's voxel extent (half-voxel rule), 0 outside.
    let half = &want["half_voxel"];
    let sum: f64 = adc.data.iter().map(|&v| v as f64).sum();
    assert!(
        close(sum, half["sum"].as_f64().unwrap(), 1e-5),
        "sum {sum} vs {}",
        half["sum"]
    );
    let nonzero = adc.data.iter().filter(|&&v| v != 0.0).count() as f64;
    assert!(
        close(nonzero, half["nonzero"].as_f64().unwrap(), 1e-4),
        "non-zero {nonzero}"
    );
    for (key, value) in half["values_at"].as_object().unwrap() {
        let i: Vec<usize> = key.split(',').map(|s| s.parse().unwrap()).collect();
        let got = adc.at(i[0], i[1], i[2]) as f64;
        assert!(
            close(got, value.as_f64().unwrap(), 1e-4),
            "at {key}: {got} vs {value}"
        );
    }
}

#[test]
fn msd_label_alone_is_a_prostate_case() {
    let Some(dir) = data("msd-prostate-label") else {
        return;
    };
    let case = load_case(&find_case(&dir, None).unwrap(), ReadOptions::default()).unwrap();
    assert_eq!(case.profile, Profile::Prostate);
    assert_eq!(case.grid.dims, [320, 320, 15]);
    let labels = case.files[0].labels.as_ref().unwrap();
    let want = &reference()["files"]["msd-prostate-label/prostate_00_label.nii"]["label_counts"];
    for l in labels {
        assert_eq!(Some(l.voxels as u64), want[l.value.to_string()].as_u64());
    }
    assert_eq!(
        labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["background", "PZ", "TZ"]
    );
}

/// Writes a small MSD dataset: `channels` 4-D images named by dataset.json's `modality` table.
fn msd_dataset(dir: &std::path::Path, names: &[&str], channels_on_disk: usize) {
    use cloe::geometry::Affine;
    use cloe::io::{OutputType, WriteOptions, write_volumes};
    use cloe::volume::Grid;
    let modality: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (i.to_string(), (*n).into()))
        .collect();
    let json = serde_json::json!({ "name": "Prostate", "modality": modality,
        "labels": { "0": "background", "1": "PZ", "2": "TZ" } });
    std::fs::write(dir.join("dataset.json"), json.to_string()).unwrap();
    for sub in ["imagesTr", "labelsTr"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let grid = Grid::new([6, 5, 4], Affine::from_spacing([0.6, 0.6, 4.0], [0.0; 3]));
    let chans: Vec<Vec<f32>> = (0..channels_on_disk)
        .map(|c| (0..grid.len()).map(|i| (i + c * 1000) as f32).collect())
        .collect();
    let refs: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
    let opts = WriteOptions::default();
    write_volumes(
        &dir.join("imagesTr/prostate_00.nii.gz"),
        &grid,
        &refs,
        OutputType::Float32,
        &opts,
    )
    .unwrap();
    let label: Vec<f32> = (0..grid.len()).map(|i| (i % 3) as f32).collect();
    write_volumes(
        &dir.join("labelsTr/prostate_00.nii.gz"),
        &grid,
        &[&label],
        OutputType::Labels,
        &opts,
    )
    .unwrap();
}

#[test]
fn msd_four_d_dataset_is_split_into_modalities() {
    let dir = tempfile::tempdir().unwrap();
    msd_dataset(dir.path(), &["T2", "ADC"], 2);
    let cases = find_cases(dir.path(), None).unwrap();
    assert_eq!(cases.len(), 1);
    let case = load_case(&cases[0], ReadOptions::default()).unwrap();
    assert_eq!(case.profile, Profile::Prostate);
    assert_eq!(case.modalities[0].as_ref().unwrap().data[7], 7.0);
    assert_eq!(case.modalities[1].as_ref().unwrap().data[7], 1007.0);
    let label = case.label.as_ref().unwrap();
    assert_eq!(&label.classes[..4], &[0, 1, 2, 0]);
}

#[test]
fn msd_image_with_the_wrong_number_of_channels_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    msd_dataset(dir.path(), &["T2", "ADC"], 3);
    let cases = find_cases(dir.path(), None).unwrap();
    let err = load_case(&cases[0], ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("prostate_00.nii.gz")
            && err.contains("3 channels")
            && err.contains("2 modalities"),
        "{err}"
    );
}
