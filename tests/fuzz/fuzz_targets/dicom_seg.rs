//! Fuzz target: bytes through `cloe::fuzz_entry::dicom_seg` (see that module); any error is a right answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

static SCRATCH: std::sync::LazyLock<std::path::PathBuf> =
    std::sync::LazyLock::new(|| cloe::fuzz_entry::scratch_dir("dicom_seg"));

fuzz_target!(
    init: cloe::fuzz_entry::report_panics_without_aborting(),
    |data: &[u8]| {
        let _ = cloe::fuzz_entry::dicom_seg(data, &SCRATCH);
    }
);
