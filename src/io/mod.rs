//! File input and output: volumes in through the table of formats (`format`: NIfTI-1), NIfTI-1 out,
//! DICOM series in, and atomic writes that never touch an input.

mod atomic;
pub mod dicom;
mod format;
mod header;
mod image;
mod nifti2;
mod nifti_read;
mod nifti_write;
pub mod owner_lock;

pub use atomic::{
    WriteOptions, atomic_write, check_folder, check_target, remove_stale_temporaries, write_json,
    write_text,
};
pub use format::{FORMATS, is_volume_path, read_image, read_volume, volume_stem};
pub use header::HeaderGeometry;
pub use image::{Image, ReadOptions, VolumeFormat};
pub use nifti_read::{Nifti1, header_grid};
pub use nifti_write::{OutputType, write_volume, write_volumes};
pub use nifti2::Nifti2;
