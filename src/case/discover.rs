//! Finding cases: the files of one case from a folder or a list of files, or every case of a dataset
//! folder (one sub-folder per case, a flat folder of several cases, an MSD dataset, or DICOM studies).
//! Nothing is read but names, `dataset.json` and DICOM headers here; voxels are loaded by `load`.

use super::dicom_study::{dicom_cases_from_files, find_dicom_cases};
use super::msd;
use super::naming::{Role, classify};
use super::profile::{Evidence, Profile};
use super::sequence_choice::UNNAMED;
use super::source::{CaseSource, ModalitySource};
use crate::error::{CloeError, Result};
use crate::io::dicom::is_dicom_file;
use crate::io::{is_volume_path, volume_stem};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Finds the single case at `path` (a folder of one case, or one NIfTI file), with an optional
/// profile to force. A folder of image files none of whose names says a sequence is one case of
/// unnamed files, for the user to say which is which.
pub fn find_case(path: &Path, profile: Option<Profile>) -> Result<CaseSource> {
    let mut cases = match find_cases(path, profile) {
        Err(e @ CloeError::NoCase { .. }) if path.is_dir() => {
            let (files, _) = list_dir(path)?;
            let images: Vec<PathBuf> = files.into_iter().filter(|f| is_volume_path(f)).collect();
            if images.is_empty() {
                return Err(e);
            }
            let mut case = unnamed_case(&images, profile);
            case.id = (path.file_name()).map_or(case.id, |n| n.to_string_lossy().into_owned());
            vec![case]
        }
        other => other?,
    };
    match cases.len() {
        1 => Ok(cases.remove(0)),
        n => Err(CloeError::no_case(
            path,
            format!(
                "this is a dataset of {n} cases ({}...); open one of them",
                cases
                    .iter()
                    .take(3)
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Finds one case from an explicit list of files (e.g. dropped on the window).
pub fn case_from_files(files: &[PathBuf], profile: Option<Profile>) -> Result<CaseSource> {
    let origin = files
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("."));
    for f in files {
        let meta = std::fs::metadata(f).map_err(|e| CloeError::unreadable(f, e))?;
        if meta.is_dir() {
            return Err(CloeError::unreadable(
                f,
                std::io::Error::other("it is a folder, not a file"),
            ));
        }
        if !meta.is_file() {
            return Err(CloeError::NotNifti {
                path: f.clone(),
                why: "it is not a regular file (a pipe, socket or device)".into(),
            });
        }
    }
    let mut cases = if files.iter().any(|f| !is_volume_path(f) && is_dicom_file(f)) {
        dicom_cases_from_files(files, profile)?
    } else {
        group(files, profile, origin)?
    };
    match cases.len() {
        1 => Ok(cases.remove(0)),
        0 if files.iter().all(|f| is_volume_path(f)) => Ok(unnamed_case(files, profile)),
        0 => Err(CloeError::no_case(
            origin,
            "none of these files is an image of a known format (.nii, .nii.gz, DICOM)",
        )),
        n => Err(CloeError::no_case(
            origin,
            format!("these files belong to {n} different cases; pick one case"),
        )),
    }
}

/// Lists the cases at `path`: a case folder, a dataset folder, an MSD dataset, DICOM studies or a
/// single file.
pub fn find_cases(path: &Path, profile: Option<Profile>) -> Result<Vec<CaseSource>> {
    find_cases_in(path, profile, true)
}

/// The case of one DICOM file: the study in the folder holding it when that study holds the file (a
/// file picked from a series), else the file alone (a one-slice series, or copies of one instance).
fn dicom_file_cases(path: &Path, profile: Option<Profile>) -> Result<Vec<CaseSource>> {
    let folder = path.parent().unwrap_or(Path::new("."));
    if let Ok(cases) = find_dicom_cases(folder, profile)
        && cases
            .iter()
            .any(|c| c.input_files().iter().any(|f| f == path))
        && cases.iter().all(|c| c.dicom.iter().all(unique_instances))
    {
        return Ok(cases);
    }
    dicom_cases_from_files(&[path.to_path_buf()], profile)
}

/// True when no two files of a series are the same instance (one SOPInstanceUID).
fn unique_instances(s: &crate::io::dicom::DicomSeries) -> bool {
    let mut uids: Vec<&str> = s.slices.iter().map(|x| x.sop_instance.as_str()).collect();
    uids.sort_unstable();
    uids.windows(2).all(|w| w[0] != w[1] || w[0].is_empty())
}

/// The cases of [`find_cases`] that have a label map; none is an error saying they are needed `for_what`
/// (e.g. "to evaluate on").
pub fn find_labelled_cases(
    path: &Path,
    profile: Option<Profile>,
    for_what: &str,
) -> Result<Vec<CaseSource>> {
    let labelled: Vec<CaseSource> = (find_cases(path, profile)?.into_iter())
        .filter(CaseSource::is_labelled)
        .collect();
    if labelled.is_empty() {
        let why = format!("no case with a ground-truth label map {for_what}");
        return Err(CloeError::no_case(path, why));
    }
    Ok(labelled)
}

/// [`find_cases`] from file names alone, without reading DICOM headers: quick enough to run as a
/// folder path is typed (the Training page's preview).
pub fn find_nifti_cases(path: &Path, profile: Option<Profile>) -> Result<Vec<CaseSource>> {
    find_cases_in(path, profile, false)
}

fn find_cases_in(path: &Path, profile: Option<Profile>, dicom: bool) -> Result<Vec<CaseSource>> {
    let meta = std::fs::metadata(path).map_err(|e| CloeError::unreadable(path, e))?;
    if meta.is_file() {
        if dicom && !is_volume_path(path) && is_dicom_file(path) {
            return dicom_file_cases(path, profile);
        }
        let files = [path.to_path_buf()];
        let cases = group(&files, profile, path)?;
        if cases.is_empty() && is_volume_path(path) {
            return Ok(vec![unnamed_case(&files, profile)]);
        }
        if cases.is_empty() {
            return Err(CloeError::no_case(
                path,
                "not an image file of a known format (.nii, .nii.gz, DICOM)",
            ));
        }
        return Ok(cases);
    }
    if !meta.is_dir() {
        return Err(CloeError::NotNifti {
            path: path.to_path_buf(),
            why: "it is not a regular file or a folder (a pipe, socket or device)".into(),
        });
    }
    if path.join("dataset.json").is_file() {
        return msd::find_msd_cases(path, profile);
    }
    let (files, dirs) = list_dir(path)?;
    let mut cases = if files.iter().any(|f| is_volume_path(f)) {
        group(&files, profile, path)?
    } else {
        Vec::new()
    };
    if cases.is_empty() {
        for dir in dirs {
            if dir.join("dataset.json").is_file() {
                cases.extend(msd::find_msd_cases(&dir, profile)?);
            } else if let Ok((sub, _)) = list_dir(&dir) {
                cases.extend(group(&sub, profile, &dir).unwrap_or_default());
            }
        }
    }
    if cases.is_empty() && dicom {
        cases = find_dicom_cases(path, profile)?;
    }
    if cases.is_empty() {
        return Err(CloeError::no_case(
            path,
            "no case found: expected NIfTI files named like BraTS (`_flair _t1 _t1ce _t2 _seg`, \
             `-t1n -t1c -t2w -t2f`), BraTS-Toolkit (`_fla _t1 _t1c _t2`), prostate (`_t2w _adc`), \
             an MSD dataset with dataset.json, here or one folder down, or DICOM series \
             (files with the DICM preamble) in this folder or below",
        ));
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cases)
}

fn list_dir(path: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let entries = std::fs::read_dir(path).map_err(|e| CloeError::unreadable(path, e))?;
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for entry in entries.flatten() {
        let p = entry.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        // Only folders and regular files: a pipe or a device named like an image would block a reader.
        // A link to an image that went away is kept, so the case that names it fails loudly instead
        // of being read without that sequence.
        let dangling = entry.file_type().is_ok_and(|t| t.is_symlink()) && !p.exists();
        if p.is_dir() {
            dirs.push(p)
        } else if p.is_file() || (dangling && is_volume_path(&p)) {
            files.push(p)
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}

/// Groups named files into cases by their prefix and decides each case's profile.
fn group(files: &[PathBuf], forced: Option<Profile>, origin: &Path) -> Result<Vec<CaseSource>> {
    let mut by_prefix: BTreeMap<String, Vec<(PathBuf, Role, String)>> = BTreeMap::new();
    let mut unnamed = Vec::new();
    for f in files.iter().filter(|f| is_volume_path(f)) {
        match classify(f) {
            Some(n) => {
                by_prefix
                    .entry(n.prefix)
                    .or_default()
                    .push((f.clone(), n.role, n.qualifier))
            }
            None => unnamed.push((f.clone(), UNNAMED.to_string())),
        }
    }
    let mut cases = Vec::new();
    for (prefix, members) in by_prefix {
        if !members
            .iter()
            .any(|(_, r, _)| matches!(r, Role::Image(_) | Role::Label))
        {
            continue;
        }
        let decided = forced.or_else(|| decide_profile(&members, origin));
        let mut case = build(
            prefix,
            decided.unwrap_or(Profile::DEFAULT),
            members,
            &unnamed,
        );
        case.profile_guessed = decided.is_none();
        cases.push(case);
    }
    Ok(cases)
}

/// A case of files whose names say no sequence: nothing is read until the user says which is which
/// ([`super::sequence_choice`]); its name is the first file's.
fn unnamed_case(files: &[PathBuf], forced: Option<Profile>) -> CaseSource {
    let profile = forced.unwrap_or(Profile::DEFAULT);
    CaseSource {
        id: volume_stem(&files[0]),
        profile,
        modalities: vec![None; profile.modalities().len()],
        label: None,
        ignored: (files.iter())
            .map(|f| (f.clone(), UNNAMED.to_string()))
            .collect(),
        profile_guessed: forced.is_none(),
        convention: None,
        dicom: Vec::new(),
    }
}

fn decide_profile(members: &[(PathBuf, Role, String)], origin: &Path) -> Option<Profile> {
    let mut evidence = Evidence::default();
    for (path, role, _) in members {
        match role {
            Role::Image(s) => evidence.sequences.push(s.key()),
            Role::Unused(kind) => evidence.unused.push(kind),
            _ => {}
        }
        evidence.paths.push(path.to_string_lossy().into_owned());
    }
    evidence.paths.push(origin.to_string_lossy().into_owned());
    Profile::decide(&evidence)
}

fn build(
    prefix: String,
    profile: Profile,
    members: Vec<(PathBuf, Role, String)>,
    unnamed: &[(PathBuf, String)],
) -> CaseSource {
    let mut modalities: Vec<Vec<(PathBuf, String)>> = vec![Vec::new(); profile.modalities().len()];
    let mut labels = Vec::new();
    let mut ignored: Vec<(PathBuf, String)> = unnamed.to_vec();
    for (path, role, qualifier) in members {
        match role {
            Role::Image(seq) => match profile.modality_index(seq.key()) {
                Some(i) => modalities[i].push((path, qualifier)),
                None => ignored.push((path, format!("{} is not a {profile} modality", seq.key()))),
            },
            Role::Label => labels.push((path, qualifier)),
            Role::Unused(what) => {
                ignored.push((path, format!("{what} is not used by the {profile} model")))
            }
        }
    }
    // Several files for one role (e.g. two T2 series): keep the highest series number (the latest
    // acquisition), then the last by name; list the rest.
    let mut pick = |mut candidates: Vec<(PathBuf, String)>, what: &str| {
        candidates.sort_by_key(|(p, q)| (series_number(q), p.clone()));
        let chosen = candidates.pop().map(|(p, _)| p);
        for (p, _) in candidates {
            let name = chosen
                .as_ref()
                .map(|c| c.display().to_string())
                .unwrap_or_default();
            ignored.push((
                p,
                format!("another {what} file was chosen ({name}); pass files explicitly to choose"),
            ));
        }
        chosen
    };
    let modalities = modalities
        .into_iter()
        .zip(profile.modalities())
        .map(|(c, key)| {
            pick(c, key).map(|path| ModalitySource {
                path,
                channel: None,
                series: None,
            })
        })
        .collect();
    let label = pick(labels, "label");
    CaseSource {
        id: prefix,
        profile,
        modalities,
        label,
        ignored,
        profile_guessed: false,
        convention: None,
        dicom: Vec::new(),
    }
}

/// The number in a `seriesN` qualifier (0 when there is none).
fn series_number(qualifier: &str) -> u64 {
    qualifier
        .split('_')
        .filter_map(|t| {
            t.to_ascii_lowercase()
                .strip_prefix("series")
                .and_then(|n| n.parse().ok())
        })
        .next()
        .unwrap_or(0)
}
