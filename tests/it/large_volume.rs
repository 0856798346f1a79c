//! One large volume (1024 × 1024 × 256 voxels of uint8, 256 MiB on disk, 1 GiB as floats) is read, by
//! the reader alone and as a case the viewer opens, with at most twice its float size resident: the
//! file's bytes and the floats, no third copy. In a process of its own, so that its peak resident
//! memory is its own; the peak comes from the kernel (VmHWM).

use crate::common::{child_test, in_child};
use std::path::Path;

const DIMS: [usize; 3] = [1024, 1024, 256];

/// Peak resident memory of this process so far, in bytes.
fn peak_resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// A uint8 volume of `DIMS` with a gradient inside a box (the background zero, as a scan's).
fn write_big(path: &Path) {
    let mut a = ndarray::Array3::<u8>::zeros(DIMS);
    for ((x, _, z), v) in a.indexed_iter_mut() {
        if (100..900).contains(&x) && (20..200).contains(&z) {
            *v = (x % 251) as u8 + 1;
        }
    }
    nifti::writer::WriterOptions::new(path)
        .write_nifti(&a)
        .expect("write the large volume");
}

#[test]
fn a_large_volume_is_read_with_at_most_twice_its_float_size_resident() {
    let out = child_test("large_volume::read_large_in_its_own_process", &[])
        .output()
        .expect("run the reader");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("large volume:"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "runs in its own process, started by a_large_volume_is_read_with_at_most_twice_its_float_size_resident"]
fn read_large_in_its_own_process() {
    if !in_child() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("Big_flair.nii");
    write_big(&file);
    let float_size = (DIMS.iter().product::<usize>() * 4) as u64;
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    // What the test binary and the writer already hold counts against the limit, as it would in the
    // app: the limit is on the process, not on a difference.
    let before = peak_resident();
    let volume = cloe::io::read_volume(&file, Default::default()).unwrap();
    assert_eq!(volume.grid.dims, DIMS);
    assert_eq!(volume.data[150 + 1024 * (7 + 1024 * 30)], 151.0);
    drop(volume);
    let read = peak_resident();
    let source = cloe::case::find_case(tmp.path(), None).unwrap();
    let case = cloe::case::load_case(&source, Default::default()).unwrap();
    assert!(case.modalities.iter().flatten().count() == 1);
    drop(case);
    let opened = peak_resident();
    println!(
        "large volume: float size {:.2} GiB; peak resident {:.2} GiB before reading, {:.2} GiB \
         after read_volume, {:.2} GiB after opening it as a case",
        gib(float_size),
        gib(before),
        gib(read),
        gib(opened)
    );
    assert!(
        opened <= 2 * float_size,
        "{:.2} GiB resident for a volume of {:.2} GiB as floats",
        gib(opened),
        gib(float_size)
    );
}
