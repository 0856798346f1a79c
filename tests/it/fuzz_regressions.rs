//! Replays every input the fuzzers found a bug with (`tests/fuzz/regressions/<target>/`), through the
//! same entry points the fuzz targets call (`cloe::fuzz_entry`): each must end in an answer (a value or a
//! refusal), without a panic, within a few seconds. The bugs they found are listed in
//! `tests/fuzz/README.md`.

use cloe::fuzz_entry;
use std::path::Path;
use std::time::{Duration, Instant};

fn replay(target: &str, run: impl Fn(&[u8], &Path) -> cloe::Result<()>) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/regressions")
        .join(target);
    let scratch = tempfile::tempdir().unwrap();
    let mut n = 0;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let t = Instant::now();
        let answer = run(&data, &scratch.path().join("s"));
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}: took {:?}",
            path.display(),
            t.elapsed()
        );
        if let Err(e) = answer {
            // A refusal says something: one line with what is wrong.
            assert!(!e.to_string().trim().is_empty(), "{}", path.display());
        }
        n += 1;
    }
    n
}

#[test]
fn inputs_the_fuzzers_found_are_answered_without_a_panic() {
    let n = replay("nifti_file", fuzz_entry::nifti_file)
        + replay("nifti_header", |d, _| fuzz_entry::nifti_header(d))
        + replay("case_folder", fuzz_entry::case_folder)
        + replay("dicom_folder", fuzz_entry::dicom_folder)
        + replay("dicom_seg", fuzz_entry::dicom_seg);
    eprintln!("{n} regression inputs replayed");
}

#[test]
fn the_file_joining_format_round_trips() {
    let files: [&[u8]; 3] = [b"first", b"", b"third"];
    let joined = fuzz_entry::join_files(&files);
    assert_eq!(fuzz_entry::split_files(&joined), files.to_vec());
    // More pieces than a case can have: the rest stays in the last file.
    let many = fuzz_entry::join_files(&[b"x".as_slice(); 8]);
    let parts = fuzz_entry::split_files(&many);
    assert_eq!(parts.len(), fuzz_entry::MAX_FILES);
    assert!(parts[fuzz_entry::MAX_FILES - 1].starts_with(b"x--cloe"));
}
