//! Fuzz target: a header's bytes through the header checks and the header-to-affine path
//! (`cloe::fuzz_entry::nifti_header`); any error is a right answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cloe::fuzz_entry::nifti_header(data);
});
