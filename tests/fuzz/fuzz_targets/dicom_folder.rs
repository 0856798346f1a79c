//! Fuzz target: bytes through `cloe::fuzz_entry::dicom_folder` (see that module); any error is a right answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::LazyLock;

/// A scratch folder of this process's own, in memory where the system has /dev/shm.
static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| {
    let base = PathBuf::from("/dev/shm");
    let base = if base.is_dir() { base } else { std::env::temp_dir() };
    base.join(format!("cloe-fuzz-dicom_folder-{}", std::process::id()))
});

fuzz_target!(|data: &[u8]| {
    let _ = cloe::fuzz_entry::dicom_folder(data, &SCRATCH);
});
