//! DICOM input: scanning folders (or dropped files) for series, and reading a series into a volume with
//! the geometry dcm2niix gives. Built on dicom-rs (`dicom-object`, `dicom-pixeldata`); how series become
//! a case's modalities is decided in `case::dicom_study`.

mod lengths;
mod scan;
mod series;

pub use lengths::check_lengths;
pub use scan::{DicomScan, DicomSeries, SliceHeader, dicom_files_under, is_dicom_file, scan_files};
pub use series::read_series;
