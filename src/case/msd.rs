//! Medical Segmentation Decathlon datasets: `dataset.json` with the channel names (`modality`, or
//! nnU-Net v2's `channel_names`) and labels, 4-D images in `imagesTr`/`imagesTs`, labels in `labelsTr`.

use super::naming::seq_of_channel_name;
use super::profile::{Evidence, LabelConvention, Profile};
use super::source::{CaseSource, ModalitySource};
use crate::error::{CloeError, Result};
use crate::io::{is_volume_path, volume_stem};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `dataset.json` says: the profile, which profile modality each channel is, the label convention.
#[derive(Debug, Clone, PartialEq)]
pub struct MsdLayout {
    pub profile: Profile,
    /// For each channel of the 4-D images, the profile modality index it holds.
    pub channels: Vec<usize>,
    pub convention: LabelConvention,
}

/// Reads and checks `dir/dataset.json`.
pub fn read_layout(dir: &Path, forced: Option<Profile>) -> Result<MsdLayout> {
    let path = dir.join("dataset.json");
    let text = std::fs::read_to_string(&path).map_err(|e| CloeError::unreadable(&path, e))?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| CloeError::bad_dataset(&path, format!("is not valid JSON: {e}")))?;
    let names = json
        .get("modality")
        .or_else(|| json.get("channel_names"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            CloeError::bad_dataset(&path, "has no \"modality\" (or \"channel_names\") table")
        })?;
    let mut by_index: BTreeMap<usize, String> = BTreeMap::new();
    for (k, v) in names {
        let i = k.parse::<usize>().map_err(|_| {
            CloeError::bad_dataset(&path, format!("channel key {k:?} is not a number"))
        })?;
        by_index.insert(i, v.as_str().unwrap_or_default().to_string());
    }
    let seqs = by_index
        .values()
        .map(|name| {
            seq_of_channel_name(name).ok_or_else(|| {
                CloeError::bad_dataset(
                    &path,
                    format!("channel {name:?} is not a sequence CLoE knows"),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let profile = match forced {
        Some(p) => p,
        None => {
            let sequences = seqs.iter().map(|s| s.key()).collect();
            let evidence = Evidence {
                sequences,
                ..Evidence::default()
            };
            Profile::decide(&evidence).unwrap_or(Profile::DEFAULT)
        }
    };
    let channels = seqs
        .iter()
        .map(|s| {
            profile.modality_index(s.key()).ok_or_else(|| {
                CloeError::bad_dataset(
                    &path,
                    format!("channel {} is not a {profile} modality", s.key()),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // MSD Task01 numbers edema 1 and non-enhancing tumour 2, unlike BraTS.
    let edema_is_one = json
        .get("labels")
        .and_then(|l| l.get("1"))
        .and_then(Value::as_str)
        .is_some_and(|s| s.to_ascii_lowercase().contains("edema"));
    let convention = match profile {
        Profile::Brats if edema_is_one => LabelConvention::MsdBrainTumour,
        p => p.default_convention(),
    };
    Ok(MsdLayout {
        profile,
        channels,
        convention,
    })
}

/// Lists the cases of an MSD dataset: every image in `imagesTr` and `imagesTs`.
pub fn find_msd_cases(dir: &Path, forced: Option<Profile>) -> Result<Vec<CaseSource>> {
    let layout = read_layout(dir, forced)?;
    let mut cases = Vec::new();
    for split in ["imagesTr", "imagesTs"] {
        let Ok(entries) = std::fs::read_dir(dir.join(split)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_msd_image(p))
            .collect();
        files.sort();
        for image in files {
            let id = volume_stem(&image);
            let label = ["nii.gz", "nii"]
                .iter()
                .map(|ext| dir.join("labelsTr").join(format!("{id}.{ext}")))
                .find(|p| p.is_file());
            let mut modalities = vec![None; layout.profile.modalities().len()];
            for (channel, &m) in layout.channels.iter().enumerate() {
                modalities[m] = Some(ModalitySource {
                    path: image.clone(),
                    channel: Some(channel),
                    series: None,
                });
            }
            cases.push(CaseSource {
                id,
                profile: layout.profile,
                modalities,
                label,
                ignored: Vec::new(),
                profile_guessed: false,
                convention: Some(layout.convention),
                dicom: Vec::new(),
            });
        }
    }
    if cases.is_empty() {
        return Err(CloeError::bad_dataset(
            dir,
            "dataset.json is here but imagesTr/ and imagesTs/ hold no NIfTI images",
        ));
    }
    Ok(cases)
}

fn is_msd_image(p: &Path) -> bool {
    let hidden = p
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
    is_volume_path(p) && !hidden
}
