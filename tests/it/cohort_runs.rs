//! Cohort runs keep going: `evaluate` over a folder checks every case's files before the work (a
//! dangling link is named at once) and a case that fails to load mid-run is reported and skipped while
//! the rest are evaluated. Synthetic prostate cases, a small untrained model (the mechanism is under
//! test, not the model).

use crate::common::synthetic_prostate;
use cloe::case::unreadable_cases;
use cloe::case::{Profile, find_labelled_cases};
use cloe::eval::evaluate;
use cloe::model::CloeNet;
use std::sync::atomic::AtomicBool;

#[test]
fn a_dangling_link_and_a_truncated_file_are_skipped_and_the_rest_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synthetic_prostate(&data);
    // Synth-1's ADC: a link to a file that went away; Synth-2's label: cut short.
    let adc = data.join("Synth-1/Synth-1_adc.nii.gz");
    std::fs::remove_file(&adc).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("gone.nii.gz"), &adc).unwrap();
    let label = data.join("Synth-2/Synth-2_label.nii.gz");
    let bytes = std::fs::read(&label).unwrap();
    std::fs::write(&label, &bytes[..bytes.len() / 2]).unwrap();

    let sources = find_labelled_cases(&data, Some(Profile::Prostate), "to evaluate on").unwrap();
    let before = unreadable_cases(&sources);
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].0 == "Synth-1" && before[0].1.contains("Synth-1_adc.nii.gz"));

    let cfg = crate::common::small_prostate_config();
    let device = burn::prelude::Device::flex();
    let net = CloeNet::new(&cfg, &device);
    let no = AtomicBool::new(false);
    let table = evaluate(
        &net,
        &data,
        &device,
        Default::default(),
        &mut |_, _| {},
        &no,
    )
    .unwrap();
    assert_eq!(table.cases, ["Synth-0"]);
    let skipped: Vec<&str> = table.skipped.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(skipped, ["Synth-1", "Synth-2"]);
    assert!(
        table.skipped[1].1.contains("Synth-2_label.nii.gz"),
        "{:?}",
        table.skipped[1]
    );
    assert!(table.to_markdown().contains("Skipped Synth-2"));
    assert!(!table.rows.is_empty());
}
