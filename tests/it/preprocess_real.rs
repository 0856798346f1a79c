//! Preprocessing on real scans against numbers computed independently with numpy/scipy
//! (tests/reference/reference.json): robust z-score, foreground box, resampling to 2 mm and back.

use crate::common;
use cloe::case::{find_case, load_case};
use cloe::io::{ReadOptions, read_volume};
use cloe::preprocess::{
    PrepareOptions, crop, foreground_bbox, grid_at_spacing, prepare, robust_zscore, uncrop,
};
use cloe::resample::{Interp, resample};
use common::{close, data, reference};

#[test]
fn robust_zscore_matches_numpy_including_the_saturated_case() {
    let reference = reference();
    for (rel, want) in reference["robust_zscore"].as_object().unwrap() {
        let Some(path) = data(rel) else { continue };
        let mut v = read_volume(&path, ReadOptions::default()).unwrap();
        let at = v.grid.index(120, 120, 77);
        assert_eq!(
            v.data[at] as f64,
            want["raw_value"].as_f64().unwrap(),
            "{rel}"
        );
        let z = robust_zscore(&mut v.data).unwrap();
        for (got, key) in [(z.lo, "lo"), (z.hi, "hi"), (z.mean, "mean"), (z.std, "std")] {
            assert!(
                close(got, want[key].as_f64().unwrap(), 1e-9),
                "{rel} {key}: {got} vs {}",
                want[key]
            );
        }
        assert!(
            close(v.data[at] as f64, want["z_value"].as_f64().unwrap(), 1e-5),
            "{rel} z"
        );
    }
}

#[test]
fn foreground_box_matches_numpy_and_crop_is_exactly_invertible() {
    let want = &reference()["foreground_bbox"];
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let case = load_case(&find_case(&dir, None).unwrap(), ReadOptions::default()).unwrap();
    let vols: Vec<_> = case.modalities.iter().flatten().collect();
    let bbox = foreground_bbox(&vols, 0).unwrap();
    let key = want.as_object().unwrap().keys().next().unwrap().clone();
    let (lo, hi) = (&want[&key]["min"], &want[&key]["max"]);
    for a in 0..3 {
        assert_eq!(bbox.start[a] as u64, lo[a].as_u64().unwrap());
        assert_eq!(bbox.end[a] as u64 - 1, hi[a].as_u64().unwrap());
    }
    let flair = vols[0];
    assert_eq!(
        &uncrop(&crop(flair, &bbox), &flair.grid, &bbox, 0.0).data,
        &flair.data
    );
}

#[test]
fn resampling_to_2mm_matches_scipy() {
    let reference = reference();
    let want = &reference["resample_2mm"]["Brats18_2013_11_1_flair"];
    let Some(path) = data(want["input"].as_str().unwrap()) else {
        return;
    };
    let v = read_volume(&path, ReadOptions::default()).unwrap();
    let grid = grid_at_spacing(&v.grid, [2.0; 3]);
    let shape: Vec<u64> = want["new_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(grid.dims.map(|d| d as u64).to_vec(), shape);
    let r = resample(&v, &grid, Interp::Linear, 0.0);
    let sum: f64 = r.data.iter().map(|&x| x as f64).sum();
    assert!(
        close(sum, want["sum"].as_f64().unwrap(), 1e-6),
        "sum {sum} vs {}",
        want["sum"]
    );
    for (key, value) in want["values_at"].as_object().unwrap() {
        let i: Vec<usize> = key.split(',').map(|s| s.parse().unwrap()).collect();
        assert!(
            close(r.at(i[0], i[1], i[2]) as f64, value.as_f64().unwrap(), 1e-5),
            "at {key}"
        );
    }
}

#[test]
fn a_prepared_case_goes_back_onto_its_own_grid() {
    let Some(dir) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let case = load_case(&find_case(&dir, None).unwrap(), ReadOptions::default()).unwrap();
    let sample = prepare(
        &case,
        PrepareOptions {
            spacing: Some(2.0),
            margin: 2,
        },
    )
    .unwrap();
    assert_eq!(sample.channels.iter().flatten().count(), 4);
    assert!(sample.zscores.iter().all(Option::is_some));
    assert_eq!(
        sample.grid.spacing().map(|s| (s * 1e6).round() / 1e6),
        [2.0; 3]
    );
    // The label map at 2 mm, taken back to 1 mm with nearest neighbours, keeps the whole tumour's
    // place: Dice of WT against the original above 0.9 (coarsening loses only the border).
    let label: Vec<f32> = sample
        .label
        .as_ref()
        .unwrap()
        .iter()
        .map(|&c| c as f32)
        .collect();
    let back = sample.to_case_grid(&label, Interp::Nearest, 0.0);
    let truth = &case.label.as_ref().unwrap().classes;
    let (mut both, mut a, mut b) = (0usize, 0usize, 0usize);
    for (x, &y) in back.iter().zip(truth) {
        let (p, t) = (*x > 0.0, y > 0);
        both += (p && t) as usize;
        a += p as usize;
        b += t as usize;
    }
    let dice = 2.0 * both as f64 / (a + b) as f64;
    assert!(dice > 0.9, "WT Dice after 2 mm round trip {dice}");
}
