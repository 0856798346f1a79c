//! Entry points that take raw bytes, for the fuzz targets in `tests/fuzz` and for the test that replays
//! the inputs they found (`tests/it/fuzz_regressions.rs`). Each writes the bytes as files into a scratch
//! folder and runs them through the same readers a user's files go through. An `Err` is a right answer;
//! a panic, a hang or an allocation beyond what the bytes can honestly hold is a bug.
//!
//! Several files travel in one input, cut at [`FILE_SEPARATOR`]; the first byte of a case input picks
//! the names the files get (which profile's naming, gzipped or not).

use crate::case::{find_case, load_case};
use crate::error::Result;
use crate::io::{ReadOptions, header_grid, read_image};
use crate::preprocess::{PrepareOptions, prepare};
use std::path::{Path, PathBuf};

/// A scratch folder of this process's own for `target`, in memory where the system has /dev/shm.
pub fn scratch_dir(target: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    base.join(format!("cloe-fuzz-{target}-{}", std::process::id()))
}

/// For a fuzz target's start: libFuzzer's panic hook aborts on every panic, also on one the readers
/// catch on purpose (`panic_capture::contained` around dicom-rs's pixel decoders); this hook only prints, so
/// a panic still crashes the run exactly when nothing catches it.
pub fn report_panics_without_aborting() {
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
}

/// What separates the files of one input.
pub const FILE_SEPARATOR: &[u8] = b"--cloe-fuzz-file--";

/// At most this many files are taken from one input (a BraTS case and its label map).
pub const MAX_FILES: usize = 6;

/// File names a case input can give its files, chosen by its first byte.
const NAMINGS: [[&str; MAX_FILES]; 4] = [
    [
        "c_t1.nii",
        "c_t1ce.nii",
        "c_t2.nii",
        "c_flair.nii",
        "c_seg.nii",
        "c_extra.nii",
    ],
    [
        "p_t2w.nii",
        "p_adc.nii",
        "p_label.nii",
        "p_hbv.nii",
        "p_t2w_series9.nii",
        "p_seg.nii",
    ],
    [
        "B-t1n.nii",
        "B-t1c.nii",
        "B-t2w.nii",
        "B-t2f.nii",
        "B-seg.nii",
        "B-t1c_series3.nii",
    ],
    [
        "x_fla.nii",
        "x_t1.nii",
        "x_t1c.nii",
        "x_t2.nii",
        "x_seg.nii",
        "x_t2_2.nii",
    ],
];

/// The files of one input, cut at [`FILE_SEPARATOR`] (at most [`MAX_FILES`]).
pub fn split_files(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() + 1 < MAX_FILES {
        match rest
            .windows(FILE_SEPARATOR.len())
            .position(|w| w == FILE_SEPARATOR)
        {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + FILE_SEPARATOR.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

/// Joins files into one input (for seed corpora and tests).
pub fn join_files(files: &[&[u8]]) -> Vec<u8> {
    files.join(FILE_SEPARATOR)
}

/// Empties (or makes) the scratch folder.
fn fresh(scratch: &Path) -> std::io::Result<()> {
    if scratch.exists() {
        std::fs::remove_dir_all(scratch)?;
    }
    std::fs::create_dir_all(scratch)
}

fn write(path: PathBuf, bytes: &[u8]) -> PathBuf {
    // The scratch folder is ours; failing to write there is the harness's fault, not the input's.
    std::fs::write(&path, bytes).expect("the fuzz scratch folder must be writable");
    path
}

/// A NIfTI file's bytes (gzipped or not) through the reader, then the header-to-grid path.
pub fn nifti_file(data: &[u8], scratch: &Path) -> Result<()> {
    fresh(scratch).expect("the fuzz scratch folder must be writable");
    let name = if data.starts_with(&[0x1f, 0x8b]) {
        "image.nii.gz"
    } else {
        "image.nii"
    };
    let path = write(scratch.join(name), data);
    let image = read_image(&path, ReadOptions::default())?;
    // What every caller does next: world coordinates of the corners, and the inverse.
    let grid = image.grid;
    let far = grid.dims.map(|d| d as f64 - 1.0);
    let _ = grid.affine.apply(far);
    let _ = grid.affine.inverse();
    Ok(())
}

/// A header's 348 bytes (or fewer) through the header checks and the header-to-affine path, without a
/// file.
pub fn nifti_header(data: &[u8]) -> Result<()> {
    let header = match nifti::NiftiHeader::from_reader(data) {
        Ok(h) => h,
        // The nifti crate's own refusals (short input, bad magic) are fine answers.
        Err(e) => {
            return Err(crate::CloeError::bad_header(
                Path::new("<fuzz>"),
                e.to_string(),
            ));
        }
    };
    let grid = header_grid(Path::new("<fuzz>"), &header)?;
    let _ = grid.affine.inverse();
    let _ = grid.spacing();
    Ok(())
}

/// Up to six files named like one case (the first byte picks the naming and whether names end in
/// `.gz`), found, loaded and prepared at the default model's spacing as `segment` does.
pub fn case_folder(data: &[u8], scratch: &Path) -> Result<()> {
    fresh(scratch).expect("the fuzz scratch folder must be writable");
    let Some((&layout, rest)) = data.split_first() else {
        return Ok(());
    };
    let names = &NAMINGS[layout as usize % NAMINGS.len()];
    let gz = layout & 0x80 != 0;
    for (i, bytes) in split_files(rest).into_iter().enumerate() {
        let name = if gz {
            format!("{}.gz", names[i])
        } else {
            names[i].to_string()
        };
        write(scratch.join(name), bytes);
    }
    let source = find_case(scratch, None)?;
    let case = load_case(&source, ReadOptions::default())?;
    prepare(
        &case,
        PrepareOptions::at_spacing(crate::model::CloeConfig::DEFAULT_SPACING_MM),
    )?;
    Ok(())
}

/// Up to six files of a DICOM folder, found as a study, its series read and the case loaded.
pub fn dicom_folder(data: &[u8], scratch: &Path) -> Result<()> {
    fresh(scratch).expect("the fuzz scratch folder must be writable");
    let files: Vec<PathBuf> = split_files(data)
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| write(scratch.join(format!("IM{i:04}.dcm")), bytes))
        .collect();
    // The study as a case (what `view` opens), and every other image series on its own (what
    // `--series` can pick); without a case, every series the scan finds.
    let series = match find_case(scratch, None) {
        Ok(source) => {
            let loaded = load_case(&source, ReadOptions::default());
            let used: Vec<&str> = source
                .modalities
                .iter()
                .flatten()
                .filter_map(|m| m.series.as_deref())
                .collect();
            for s in source
                .dicom
                .iter()
                .filter(|s| !used.contains(&s.uid.as_str()))
            {
                let _ = crate::io::dicom::read_series(s);
            }
            return loaded.map(drop);
        }
        Err(_) => crate::io::dicom::scan_files(&files).series,
    };
    for s in series.iter().filter(|s| s.is_image()) {
        let _ = crate::io::dicom::read_series(s);
    }
    Ok(())
}

/// A DICOM SEG (the input's last file) with the series it was made on (the files before it): the
/// folder found and loaded as a case, where the SEG becomes the case's labels (read and placed on the
/// case's grid as "Load labels" does); a SEG that the folder's scan does not take as the labels is
/// read on its own. The SEG is parsed once either way.
pub fn dicom_seg(data: &[u8], scratch: &Path) -> Result<()> {
    fresh(scratch).expect("the fuzz scratch folder must be writable");
    let mut files = split_files(data);
    let seg_bytes = files.pop().unwrap_or_default();
    for (i, bytes) in files.into_iter().enumerate() {
        write(scratch.join(format!("IM{i:04}.dcm")), bytes);
    }
    let seg = write(scratch.join("SEG.dcm"), seg_bytes);
    let source = find_case(scratch, None);
    let as_labels = (source.as_ref()).is_ok_and(|s| s.label.as_deref() == Some(seg.as_path()));
    if !as_labels {
        crate::io::dicom::read_seg(&seg)?;
    }
    load_case(&source?, ReadOptions::default()).map(drop)
}
