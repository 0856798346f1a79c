//! DICOM input and segmentations out: scanning folders (or dropped files) for series, reading a series
//! into a volume with the geometry dcm2niix gives, and DICOM SEG written on a series' grid. Built on dicom-rs (`dicom-object`, `dicom-pixeldata`); how series become
//! a case's modalities is decided in `case::dicom_study`.

mod lengths;
mod scan;
mod seg;
mod seg_read;
mod seg_write;
mod series;

pub use lengths::check_lengths;
pub use scan::{DicomScan, DicomSeries, SliceHeader, dicom_files_under, is_dicom_file, scan_files};
pub use seg::{Algorithm, Code, SEGMENTATION_STORAGE, sorted_slices};
pub use seg_read::{SegFrame, SegObject, SegSegment, is_seg_file, read_seg};
pub use seg_write::{SegInfo, SegWritten, Segment, write_seg};
pub use series::read_series;
