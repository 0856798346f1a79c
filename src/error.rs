//! The crate's error type: every failure names the file (where there is one), what is wrong and what to do.

use std::path::{Path, PathBuf};

/// Errors of the CLoE library. Each message is meant to be read by a clinician or a researcher:
/// it names the file, says what is wrong and, where possible, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CloeError {
    /// The file could not be opened or read at all.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is readable but is not a NIfTI file we understand.
    #[error("{path} is not a NIfTI-1 file: {why}")]
    NotNifti { path: PathBuf, why: String },
    /// The header parses but describes something impossible or unsupported.
    #[error("{path} has an invalid header: {why}")]
    BadHeader { path: PathBuf, why: String },
    /// The file ends before the voxel data does, or the gzip stream is damaged.
    #[error("{path} is truncated or damaged: {why}. Copy the file again from its source")]
    Truncated { path: PathBuf, why: String },
    /// NaN or infinite voxels in an image.
    #[error(
        "{path} has {nan} NaN and {inf} infinite voxels out of {total}, refused as asked \
         (without that, they are read as 0, background)"
    )]
    NonFinite {
        path: PathBuf,
        nan: usize,
        inf: usize,
        total: usize,
    },
    /// A label map whose labelled voxels lie partly outside the case's grid (resampling would lose them).
    #[error(
        "{outside} of the {labelled} labelled voxels of {path} lie outside the grid of {reference} \
         (the label map covers another field of view): it is probably not this case's label map"
    )]
    LabelsOutside {
        path: PathBuf,
        outside: usize,
        labelled: usize,
        reference: String,
    },
    /// A label map holds values outside the profile's convention.
    #[error(
        "{path} is not a {profile} label map: unexpected label values {values} (expected one of {expected})"
    )]
    UnexpectedLabels {
        path: PathBuf,
        profile: String,
        values: String,
        expected: String,
    },
    /// Two volumes of one case do not share any part of space.
    #[error(
        "{moving} does not overlap {reference} in world space \
         (bounding boxes {moving_box} and {reference_box} mm): are they from the same patient and session?"
    )]
    NoOverlap {
        moving: PathBuf,
        reference: PathBuf,
        moving_box: String,
        reference_box: String,
    },
    /// A folder or file list in which no case could be recognised.
    #[error("{path}: {why}")]
    NoCase { path: PathBuf, why: String },
    /// An MSD-style dataset whose files disagree with its dataset.json.
    #[error("{path}: {why}")]
    BadDataset { path: PathBuf, why: String },

    /// A DICOM series that cannot be made into one volume (missing slices, mixed stacks, no image).
    #[error("{path}: {why}")]
    BadDicom { path: PathBuf, why: String },
    /// An output cannot be written where the user asked.
    #[error("cannot write {path}: {why}")]
    Unwritable { path: PathBuf, why: String },
    /// A setting the user chose does not fit (a modality the case lacks, a series number it does not
    /// have, a device that is not there, training numbers that make no run). `setting` names it, so
    /// the CLI can add its flag and the app points at its field.
    #[error("{why}")]
    Setting { setting: Setting, why: String },
    /// A model folder that cannot be used: no weights, a damaged file, a config of a newer version, a
    /// checkpoint that cannot be resumed from.
    #[error("{path}: {why}")]
    BadModel { path: PathBuf, why: String },
    /// The model and the data do not go together (a model of another profile, weights of another
    /// size, a checkpoint of other cases).
    #[error("{0}")]
    Mismatch(String),
    /// Training diverged: the loss stopped being a number.
    #[error("the loss became {value} at step {step}; lower the learning rate")]
    Diverged { step: usize, value: f64 },
    /// The work would need more memory than this machine has (found out before it starts).
    #[error("{0}")]
    TooLarge(String),
    /// The action cannot be done now (no case open, unsaved edits in the way, nothing to export).
    #[error("{0}")]
    Refused(String),
    /// The user stopped a long computation before it finished.
    #[error("cancelled")]
    Cancelled,
    /// The compute device could not allocate what the work needs (a GPU out of memory, say).
    #[error(
        "the {device} ran out of memory ({why}); use a smaller batch or patch, choose the CPU as the \
         device, or close other programs that use it"
    )]
    OutOfMemory { device: String, why: String },
    /// The GPU stopped working under the work (a driver reset, a device removed); it stays lost for
    /// the rest of the process.
    #[error(
        "the GPU stopped working during the computation (its driver was reset or the device was removed), \
         so the work was not finished; run it again with the CPU as the device, or restart once the \
         GPU is back"
    )]
    GpuLost,
    /// A bug: something panicked inside the program or a library it uses.
    #[error("internal error: {0}; please report it with the command or the steps that led here")]
    Internal(String),
    /// The standard output is closed or full.
    #[error("cannot write to the standard output: {0}")]
    Output(#[source] std::io::Error),
}

/// The settings an error can name (see [`CloeError::Setting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The modalities to use.
    Modalities,
    /// The DICOM series chosen for a modality (MODALITY=NUMBER).
    Series,
    /// What a NIfTI file holds, where its name does not say, or its volume (MODALITY=FILE@VOLUME).
    Sequence,
    /// The compute device.
    Device,
    /// The share of a batch's cases one task takes (I/N).
    Shard,
    /// The training run's numbers (steps, patches per step, learning rates).
    Training,
    /// The validation cases of a training run.
    ValidationCases,
    /// The folder a model is written to.
    OutputFolder,
}

/// The crate's result type.
pub type Result<T, E = CloeError> = std::result::Result<T, E>;

impl CloeError {
    /// An [`CloeError::Unreadable`] for `path`.
    pub fn unreadable(path: &Path, source: std::io::Error) -> Self {
        Self::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A [`CloeError::BadHeader`] for `path`.
    pub fn bad_header(path: &Path, why: impl Into<String>) -> Self {
        Self::BadHeader {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }

    /// A [`CloeError::NoCase`] for `path`.
    pub fn no_case(path: &Path, why: impl Into<String>) -> Self {
        Self::NoCase {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }

    /// A [`CloeError::BadDataset`] for `path`.
    pub fn bad_dataset(path: &Path, why: impl Into<String>) -> Self {
        Self::BadDataset {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }

    /// A [`CloeError::Setting`].
    pub fn setting(setting: Setting, why: impl Into<String>) -> Self {
        Self::Setting {
            setting,
            why: why.into(),
        }
    }

    /// A [`CloeError::BadModel`] for `path`.
    pub fn bad_model(path: &Path, why: impl Into<String>) -> Self {
        Self::BadModel {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }

    /// The file at `path` could not be written because of `e`, said in plain words ([`plain_why`]).
    pub fn write_failed(path: &Path, e: &(dyn std::error::Error + 'static)) -> Self {
        Self::unwritable(path, plain_why(e))
    }

    /// A [`CloeError::Unwritable`] for `path`.
    pub fn unwritable(path: &Path, why: impl Into<String>) -> Self {
        Self::Unwritable {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }
}

/// Why a write failed, in plain words: the I/O error anywhere in `e`'s chain of sources (or, from a
/// library that keeps only its text, the "(os error N)" in it), named as a full disk, a read-only file
/// system or a missing permission with what to do; else `e`'s own text.
pub fn plain_why(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(e);
    while let Some(c) = cause {
        let io = c.downcast_ref::<std::io::Error>();
        if let Some(plain) = io.and_then(|io| plain_kind(io.kind())) {
            return plain.to_string();
        }
        cause = c.source();
    }
    plain_text(&e.to_string())
}

/// [`plain_why`] of an error a library handed over as text alone.
pub fn plain_text(text: &str) -> String {
    let code = (text.rsplit_once("(os error "))
        .and_then(|(_, rest)| rest.split(')').next()?.parse::<i32>().ok());
    let kind = code.map(|c| std::io::Error::from_raw_os_error(c).kind());
    kind.and_then(plain_kind)
        .map_or_else(|| text.to_string(), str::to_string)
}

fn plain_kind(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind::*;
    Some(match kind {
        StorageFull => "the disk is full; free some space or choose a folder on another disk",
        QuotaExceeded => "your disk quota is used up; free some space or choose another disk",
        ReadOnlyFilesystem => "the disk or share is read-only; choose another folder",
        PermissionDenied => "you may not write there; choose a folder you own",
        FileTooLarge => "the file is larger than this disk or your account allows",
        _ => return None,
    })
}

#[cfg(test)]
mod plain_why_tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named_in_plain_words_even_when_wrapped() {
        let full = std::io::Error::from_raw_os_error(28);
        assert!(plain_why(&full).starts_with("the disk is full"));
        let ro = std::io::Error::from_raw_os_error(30);
        assert!(plain_why(&ro).contains("read-only"));
        let wrapped = CloeError::Output(std::io::Error::from_raw_os_error(28));
        assert!(plain_why(&wrapped).starts_with("the disk is full"));
        let other = std::io::Error::other("something else");
        assert_eq!(plain_why(&other), "something else");
        let text =
            "Record I/O error: cannot write to 'x.tmp': No space left on device (os error 28)";
        assert!(plain_text(text).starts_with("the disk is full"));
        assert_eq!(plain_text("(os error 2)"), "(os error 2)");
    }
}
