//! File input and output: NIfTI-1 volumes in and out, DICOM series in, and atomic writes that never
//! touch an input.

mod atomic;
pub mod dicom;
mod header;
mod nifti_read;
mod nifti_write;

pub use atomic::{WriteOptions, atomic_write, check_target, remove_stale_temporaries};
pub use header::HeaderGeometry;
pub use nifti_read::{NiftiImage, ReadOptions, header_grid, read_image, read_volume};
pub use nifti_write::{OutputType, write_volume, write_volumes};

/// True when the path names a NIfTI file by its extension (`.nii` or `.nii.gz`).
pub fn is_nifti_path(path: &std::path::Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".nii") || name.ends_with(".nii.gz")
}

/// The file name without `.nii` / `.nii.gz`.
pub fn nifti_stem(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    for ext in [".nii.gz", ".nii"] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name
}
