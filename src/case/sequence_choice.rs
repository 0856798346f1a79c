//! The user's word on what a file holds where its name does not say (`anatomical.nii`) or it holds
//! several volumes (a 4-D file): `MODALITY`, `MODALITY=FILE`, either with `@VOLUME`. The CLI's `--as`
//! and the viewer's "Which sequence?" prompt both end here; [`files_to_name`] lists what the user
//! must still say before a case can be read.

use super::profile::Profile;
use super::source::{CaseSource, ModalitySource};
use crate::error::{CloeError, Result, Setting};
use crate::io::{ReadOptions, read_image};
use std::path::{Path, PathBuf};

/// Why discovery left a volume file out: its name says no sequence ([`CaseSource::ignored`]).
pub(crate) const UNNAMED: &str = "the name does not say which sequence it is";

/// One `--as` argument, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceChoice {
    /// The modality key as typed (`t1c`, `T1ce`, `adc`).
    pub key: String,
    /// The file it is about; `None`: the case's only unnamed file, or the modality's own file.
    pub file: Option<PathBuf>,
    /// The volume of a 4-D file (from 0).
    pub volume: Option<usize>,
}

impl SequenceChoice {
    /// The choice as the CLI takes it back (`t2=scan.nii@3`).
    pub fn to_arg(&self) -> String {
        let mut s = self.key.clone();
        if let Some(f) = &self.file {
            s.push('=');
            s.push_str(&f.to_string_lossy());
        }
        if let Some(v) = self.volume {
            s.push_str(&format!("@{v}"));
        }
        s
    }
}

/// Parses `MODALITY`, `MODALITY=FILE`, with an optional `@VOLUME` (`t1c`, `t2@3`, `adc=b.nii.gz@0`).
pub fn parse_sequence_choice(arg: &str) -> Result<SequenceChoice> {
    let (rest, volume) = match arg.rsplit_once('@') {
        Some((rest, n)) if !n.trim().is_empty() => match n.trim().parse() {
            Ok(n) => (rest, Some(n)),
            Err(_) => (arg, None),
        },
        _ => (arg, None),
    };
    let (key, file) = match rest.split_once('=') {
        Some((k, f)) => (k, Some(PathBuf::from(f.trim()))),
        None => (rest, None),
    };
    let key = key.trim();
    if key.is_empty() || file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
        return Err(CloeError::setting(
            Setting::Sequence,
            format!(
                "a file's sequence is said as MODALITY or MODALITY=FILE, with @VOLUME for a 4-D file \
                 (e.g. t1c, t2=scan.nii.gz@0), not '{arg}'"
            ),
        ));
    }
    Ok(SequenceChoice {
        key: key.to_string(),
        file,
        volume,
    })
}

/// Applies `--as` choices (as typed) to a case: each named file becomes that modality's image (the
/// chosen volume of a 4-D file), and a case whose profile was only guessed takes the profile of the
/// modality (`adc`: prostate).
pub fn apply_sequence_choices(source: &mut CaseSource, choices: &[String]) -> Result<()> {
    for arg in choices {
        choose_sequence(source, &parse_sequence_choice(arg)?)?;
    }
    Ok(())
}

/// Applies one [`SequenceChoice`].
pub fn choose_sequence(source: &mut CaseSource, choice: &SequenceChoice) -> Result<()> {
    let m = modality_slot(source, &choice.key)?;
    let file = match &choice.file {
        Some(f) => chosen_file(source, f)?,
        None => default_file(source, m, &choice.key)?,
    };
    source.ignored.retain(|(p, _)| !same_file(p, &file));
    source.modalities[m] = Some(ModalitySource {
        path: file,
        channel: choice.volume,
        series: None,
    });
    Ok(())
}

/// The files named in `source.ignored` as unnamed.
pub fn unnamed_files(source: &CaseSource) -> Vec<&Path> {
    (source.ignored.iter())
        .filter(|(_, why)| why == UNNAMED)
        .map(|(p, _)| p.as_path())
        .collect()
}

/// The index of modality `key` in the case's profile; a guessed profile without that modality gives
/// way to one that has it while the case has no image yet.
fn modality_slot(source: &mut CaseSource, key: &str) -> Result<usize> {
    if let Some(m) = source.profile.modality_index(key) {
        source.profile_guessed = false;
        return Ok(m);
    }
    let empty = source.modalities.iter().all(Option::is_none) && source.dicom.is_empty();
    let other = Profile::with_modality(key).next();
    if let (true, true, Some(p)) = (source.profile_guessed, empty, other) {
        source.profile = p;
        source.profile_guessed = false;
        source.modalities = vec![None; p.modalities().len()];
        return Ok(p.modality_index(key).expect("the profile has it"));
    }
    let keys = |p: Profile| p.modalities().join(", ");
    Err(CloeError::setting(
        Setting::Sequence,
        format!(
            "'{key}' is not a modality of the {} case {} ({}); the profiles' modalities are {}",
            source.profile,
            source.id,
            keys(source.profile),
            Profile::ALL.map(|p| format!("{p}: {}", keys(p))).join("; ")
        ),
    ))
}

/// The file a choice names, which must exist and be a volume file.
fn chosen_file(source: &CaseSource, file: &Path) -> Result<PathBuf> {
    // A bare name may be one of the case's files.
    let known = (source.ignored.iter().map(|(p, _)| p.clone()))
        .chain(source.modalities.iter().flatten().map(|m| m.path.clone()))
        .find(|p| {
            same_file(p, file) || (file.parent() == Some(Path::new("")) && p.ends_with(file))
        });
    let path = known.unwrap_or_else(|| file.to_path_buf());
    let meta = std::fs::metadata(&path).map_err(|e| CloeError::unreadable(&path, e))?;
    if !meta.is_file() || !crate::io::is_volume_path(&path) {
        return Err(CloeError::setting(
            Setting::Sequence,
            format!("{} is not an image file (.nii, .nii.gz)", path.display()),
        ));
    }
    Ok(path)
}

/// The file a choice without one is about: the case's only unnamed file, else the modality's own.
fn default_file(source: &CaseSource, m: usize, key: &str) -> Result<PathBuf> {
    let unnamed = unnamed_files(source);
    if let [only] = unnamed.as_slice() {
        return Ok(only.to_path_buf());
    }
    let own = source.modalities[m].as_ref().filter(|s| s.series.is_none());
    match (unnamed.len(), own) {
        (0, Some(own)) => Ok(own.path.clone()),
        (0, None) => Err(CloeError::setting(
            Setting::Sequence,
            format!(
                "case {} has no file for {key} and none whose name says nothing: name the file \
                 as {key}=FILE",
                source.id
            ),
        )),
        _ => Err(CloeError::setting(
            Setting::Sequence,
            format!(
                "case {} has {} files whose names say no sequence ({}): say which is {key} as \
                 {key}=FILE",
                source.id,
                unnamed.len(),
                names(&unnamed)
            ),
        )),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn names(files: &[&Path]) -> String {
    (files.iter().map(|f| f.display().to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A file the user must say something about before the case can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileToName {
    pub path: PathBuf,
    /// The modality it already is (a 4-D file named for one), else `None`.
    pub modality: Option<usize>,
    /// How many volumes it holds.
    pub volumes: usize,
}

/// What the user must still say about a case's files: its unnamed files when no file has a sequence
/// yet, and every 4-D file used as a modality without a chosen volume (these are read to count their
/// volumes). Empty when the case can be read as it is.
pub fn files_to_name(source: &CaseSource) -> Result<Vec<FileToName>> {
    let msd = source.convention.is_some();
    let mut out = Vec::new();
    if source.modalities.iter().all(Option::is_none) && source.label.is_none() {
        for f in unnamed_files(source) {
            out.push(FileToName {
                path: f.to_path_buf(),
                modality: None,
                volumes: volume_count(f)?,
            });
        }
    }
    for (m, s) in source.modalities.iter().enumerate() {
        let Some(s) = s
            .as_ref()
            .filter(|s| s.series.is_none() && s.channel.is_none())
        else {
            continue;
        };
        let volumes = if msd { 1 } else { volume_count(&s.path)? };
        if volumes > 1 {
            out.push(FileToName {
                path: s.path.clone(),
                modality: Some(m),
                volumes,
            });
        }
    }
    Ok(out)
}

fn volume_count(path: &Path) -> Result<usize> {
    let opts = ReadOptions::default();
    Ok(read_image(path, opts)?.channels.len())
}

/// The error of a case that cannot be read until the user names a file's sequence or volume.
pub fn unnamed_error(source: &CaseSource, file: &Path, volumes: usize) -> CloeError {
    let keys = |p: Profile| p.modalities().join(" ");
    let keys_of_profile = source.profile.modalities();
    let example = (source.modalities.iter())
        .position(|m| m.as_ref().is_some_and(|m| m.path == file))
        .map_or(keys_of_profile[0], |m| keys_of_profile[m]);
    let why = if volumes > 1 {
        format!(
            "it holds {volumes} volumes (a 4-D image): choose the one to use as MODALITY@VOLUME, \
             e.g. {example}@0"
        )
    } else {
        format!(
            "the file name does not say which sequence it is: choose it as MODALITY ({}), e.g. \
             {example}, or name the file like CASE_{example}.nii.gz",
            Profile::ALL.map(|p| format!("{p}: {}", keys(p))).join("; ")
        )
    };
    CloeError::setting(Setting::Sequence, format!("{}: {why}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_or_say_what_they_expect() {
        let c = |key: &str, file: Option<&str>, volume| SequenceChoice {
            key: key.into(),
            file: file.map(PathBuf::from),
            volume,
        };
        assert_eq!(parse_sequence_choice("t1c").unwrap(), c("t1c", None, None));
        assert_eq!(
            parse_sequence_choice(" t2@3").unwrap(),
            c("t2", None, Some(3))
        );
        assert_eq!(
            parse_sequence_choice("adc=dir/b@x.nii.gz@0").unwrap(),
            c("adc", Some("dir/b@x.nii.gz"), Some(0))
        );
        assert_eq!(
            parse_sequence_choice("flair=a@b.nii").unwrap(),
            c("flair", Some("a@b.nii"), None)
        );
        for arg in ["t2=6", "adc=b.nii@1"] {
            assert_eq!(parse_sequence_choice(arg).unwrap().to_arg(), arg);
        }
        for bad in ["", "=a.nii", "t1=", "@2"] {
            let e = parse_sequence_choice(bad).unwrap_err().to_string();
            assert!(e.contains("MODALITY=FILE"), "{bad}: {e}");
        }
    }
}
