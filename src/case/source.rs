//! What a case is made of before any voxel is read: which file (and channel) holds each modality, the
//! label file, the files left out and why. `discover`, `msd` and `dicom_study` produce these.

use super::profile::{LabelConvention, Profile};
use crate::io::dicom::DicomSeries;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the voxels of one modality come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModalitySource {
    #[serde(serialize_with = "crate::lossy_path::path")]
    pub path: PathBuf,
    /// The channel of a 4-D (MSD) image, if any.
    pub channel: Option<usize>,
    /// The SeriesInstanceUID of a DICOM series (in [`CaseSource::dicom`]); `path` is then its folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
}

/// The files of one case, before any voxel is read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseSource {
    /// Case name (the common file prefix, or the MSD image name).
    pub id: String,
    pub profile: Profile,
    /// One entry per profile modality, in profile order; `None` where the file is absent.
    pub modalities: Vec<Option<ModalitySource>>,
    #[serde(serialize_with = "crate::lossy_path::option")]
    pub label: Option<PathBuf>,
    /// Files seen but not used, each with the reason.
    #[serde(serialize_with = "crate::lossy_path::with_reasons")]
    pub ignored: Vec<(PathBuf, String)>,
    /// True when no file said which profile the case is, and the default (brats) was assumed.
    pub profile_guessed: bool,
    /// How labels are written, when the dataset says so (MSD); else detected from the values.
    #[serde(skip)]
    pub convention: Option<LabelConvention>,
    /// Every series of a DICOM study (empty for NIfTI cases), chosen for a modality or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dicom: Vec<DicomSeries>,
}

impl CaseSource {
    /// True when the case has a label map (to train, validate or evaluate on).
    pub fn is_labelled(&self) -> bool {
        self.label.is_some()
    }

    /// The folder the case was read from (its first sequence's).
    pub fn folder(&self) -> Option<PathBuf> {
        let first = self.modalities.iter().flatten().next()?;
        first.path.parent().map(Path::to_path_buf)
    }

    /// Every input file of the case (never to be written).
    pub fn input_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .modalities
            .iter()
            .flatten()
            .filter(|m| m.series.is_none())
            .map(|m| m.path.clone())
            .collect();
        for s in &self.dicom {
            files.extend(s.slices.iter().map(|slice| slice.path.clone()));
        }
        files.extend(self.label.clone());
        files.sort();
        files.dedup();
        files
    }

    /// The DICOM series behind modality `m`, if it comes from one.
    pub fn series_of(&self, m: usize) -> Option<&DicomSeries> {
        let uid = self.modalities.get(m)?.as_ref()?.series.as_deref()?;
        self.dicom.iter().find(|s| s.uid == uid)
    }

    /// Modality keys found in files.
    pub fn present(&self) -> Vec<&'static str> {
        self.keys(true)
    }

    /// Modality keys of the profile whose files are absent.
    pub fn missing(&self) -> Vec<&'static str> {
        self.keys(false)
    }

    fn keys(&self, present: bool) -> Vec<&'static str> {
        self.profile
            .modalities()
            .iter()
            .zip(&self.modalities)
            .filter(|(_, m)| m.is_some() == present)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// The cases of `sources` with a file that cannot be opened and read (a dangling link, a file that
/// went away, no permission, an empty file), with why: checked before any work, so a cohort run
/// says at once what it will leave out.
pub fn unreadable_cases(sources: &[CaseSource]) -> Vec<(String, String)> {
    use std::io::Read;
    let unreadable = |f: &Path| -> Option<String> {
        let mut byte = [0u8; 1];
        match std::fs::File::open(f).and_then(|mut h| h.read(&mut byte)) {
            Ok(0) => Some(format!("{} is empty", f.display())),
            Ok(_) => None,
            Err(e) => Some(format!("cannot read {}: {e}", f.display())),
        }
    };
    (sources.iter())
        .filter_map(|s| {
            let why: Vec<String> = s
                .input_files()
                .iter()
                .filter_map(|f| unreadable(f))
                .collect();
            (!why.is_empty()).then(|| (s.id.clone(), why.join("; ")))
        })
        .collect()
}
