//! Dice and HD95 on real label maps against scipy (tests/reference: medpy/BraTS-style surfaces and
//! scipy's distance_transform_edt with the voxel spacing).

use crate::common;
use cloe::io::{ReadOptions, read_volume};
use cloe::metrics::{dice, hd95};
use common::{close, data, reference};

fn mask(rel: &str, values: &[f32]) -> Option<(Vec<bool>, [usize; 3], [f64; 3])> {
    let v = read_volume(&data(rel)?, ReadOptions::default()).unwrap();
    Some((
        v.data.iter().map(|x| values.contains(x)).collect(),
        v.grid.dims,
        v.grid.spacing(),
    ))
}

#[test]
fn brats_regions_match_scipy() {
    let reference = reference();
    let want = &reference["surface_metrics"];
    let Some((tc1, dims, sp)) = mask(
        "brats2018/Brats18_2013_11_1/Brats18_2013_11_1_seg.nii.gz",
        &[1.0, 4.0],
    ) else {
        return;
    };
    let (wt1, _, _) = mask(
        "brats2018/Brats18_2013_11_1/Brats18_2013_11_1_seg.nii.gz",
        &[1.0, 2.0, 4.0],
    )
    .unwrap();
    let (tc2, _, _) = mask(
        "brats2018/Brats18_2013_3_1/Brats18_2013_3_1_seg.nii.gz",
        &[1.0, 4.0],
    )
    .unwrap();
    for (name, a, b) in [
        ("tc_vs_wt_same_case", &tc1, &wt1),
        ("tc_vs_tc_other_case", &tc1, &tc2),
    ] {
        let (d, h) = (dice(a, b), hd95(a, b, dims, sp));
        assert!(
            close(d, want[name]["dice"].as_f64().unwrap(), 1e-9),
            "{name} dice {d}"
        );
        assert!(
            close(h, want[name]["hd95"].as_f64().unwrap(), 1e-5),
            "{name} hd95 {h} vs {}",
            want[name]["hd95"]
        );
    }
}

#[test]
fn anisotropic_prostate_zones_match_scipy() {
    let reference = reference();
    let want = &reference["surface_metrics"]["pz_vs_tz_msd_prostate"];
    let Some((pz, dims, sp)) = mask("msd-prostate-label/prostate_00_label.nii", &[1.0]) else {
        return;
    };
    let (tz, _, _) = mask("msd-prostate-label/prostate_00_label.nii", &[2.0]).unwrap();
    let h = hd95(&pz, &tz, dims, sp);
    assert!(
        close(h, want["hd95"].as_f64().unwrap(), 1e-5),
        "hd95 {h} vs {}",
        want["hd95"]
    );
    assert_eq!(dice(&pz, &tz), want["dice"].as_f64().unwrap());
}
