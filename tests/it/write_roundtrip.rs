//! Label and probability maps written on a case's own grid come back with the same geometry and values.

use crate::common;
use cloe::case::{find_case, load_case};
use cloe::io::{
    OutputType, ReadOptions, WriteOptions, read_image, read_volume, write_volume, write_volumes,
};
use common::data;

#[test]
fn a_brats_label_map_round_trips_with_its_affine_and_convention() {
    let Some(dir) = data("brats2018/Brats18_CBICA_ABM_1") else {
        return;
    };
    let source = find_case(&dir, None).unwrap();
    let case = load_case(&source, ReadOptions::default()).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("labels.nii.gz");
    let disk = case.label.as_ref().unwrap().to_disk_volume();
    write_volume(
        &out,
        &disk,
        OutputType::Labels,
        &WriteOptions::protecting(source.input_files()),
    )
    .unwrap();
    let back = read_volume(&out, ReadOptions::default()).unwrap();
    let original = read_volume(source.label.as_ref().unwrap(), ReadOptions::default()).unwrap();
    assert_eq!(back.data, original.data);
    assert_eq!(back.info.datatype, "uint8");
    assert!(
        back.grid.same_as(&original.grid),
        "{:?} vs {:?}",
        back.grid,
        original.grid
    );
    // Writing onto an input is refused even with overwrite allowed.
    let opts = WriteOptions::protecting(source.input_files()).overwriting(true);
    assert!(
        write_volume(
            source.label.as_ref().unwrap(),
            &disk,
            OutputType::Labels,
            &opts
        )
        .is_err()
    );
}

#[test]
fn an_oblique_prostate_grid_round_trips_through_sform_and_qform() {
    let Some(dir) = data("prostatex-t2-adc/ProstateX-0000") else {
        return;
    };
    let case = load_case(&find_case(&dir, None).unwrap(), ReadOptions::default()).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("probs.nii");
    let p0: Vec<f32> = (0..case.grid.len()).map(|i| (i % 7) as f32 / 7.0).collect();
    let p1: Vec<f32> = p0.iter().map(|v| 1.0 - v).collect();
    write_volumes(
        &out,
        &case.grid,
        &[&p0, &p1],
        OutputType::Float32,
        &WriteOptions::default(),
    )
    .unwrap();
    let back = read_image(&out, ReadOptions::default()).unwrap();
    assert_eq!(back.channels.len(), 2);
    assert_eq!(back.channels[1], p1);
    assert!(back.grid.same_as(&case.grid));
    // The qform alone (what some viewers read) gives the same grid to 1e-4 mm.
    let mut bytes = std::fs::read(&out).unwrap();
    bytes[254..256].copy_from_slice(&0i16.to_le_bytes()); // sform_code = 0
    std::fs::write(&out, bytes).unwrap();
    let q = read_image(&out, ReadOptions::default()).unwrap();
    assert_eq!(q.info.affine_source, cloe::volume::AffineSource::Qform);
    for r in 0..3 {
        for c in 0..4 {
            assert!(
                (q.grid.affine.0[r][c] - case.grid.affine.0[r][c]).abs() < 1e-3,
                "[{r}][{c}]"
            );
        }
    }
}

#[test]
fn a_qform_quaternion_longer_than_one_is_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.nii");
    let grid = cloe::volume::Grid::new(
        [4, 5, 6],
        cloe::geometry::Affine::from_spacing([1.0, 1.0, 1.0], [0.0; 3]),
    );
    let data = vec![1.0f32; grid.len()];
    write_volumes(
        &out,
        &grid,
        &[&data],
        OutputType::Float32,
        &WriteOptions::default(),
    )
    .unwrap();
    let mut bytes = std::fs::read(&out).unwrap();
    bytes[254..256].copy_from_slice(&0i16.to_le_bytes()); // sform_code = 0
    for (at, v) in [(256, 0.8f32), (260, 0.6), (264, 0.5)] {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes()); // quatern_b, c, d: 1.25 squared
    }
    std::fs::write(&out, &bytes).unwrap();
    let e = read_image(&out, ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("quaternion") && e.contains("1.25") && e.contains("q.nii"),
        "{e}"
    );
    // A unit quaternion within float rounding reads.
    for (at, v) in [(256, 0.6f32), (260, 0.8), (264, 0.0)] {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&out, &bytes).unwrap();
    assert!(read_image(&out, ReadOptions::default()).is_ok());
}
