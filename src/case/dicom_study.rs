//! DICOM studies as cases: the series of a folder are grouped by study (one case per study), each series
//! is mapped to a profile modality by the rules below, and the user can override any choice
//! (`--series t2=6` on the command line, a menu in the viewer).
//!
//! Rules, on the lower-cased words of SeriesDescription, ProtocolName and SequenceName and on ImageType:
//! 1. no pixels (SR, presentation state, DICOMDIR...) → not an image, listed;
//! 2. `localizer`/`scout`/`survey` (or ImageType LOCALIZER) → a localizer, listed;
//! 3. `adc` (or ImageType ADC) → ADC;
//! 4. `trace`/`tracew`/`bval`/`dwi`/`diff`/`hbv`/`b800`… (or ImageType TRACEW) → diffusion-weighted, listed;
//! 5. `flair`/`tirm`/`dark-fluid` → FLAIR;
//! 6. a word starting `t2` (not T2*: `t2star`, `t2*`, `swi`, `ffe`) → T2;
//! 7. a word starting `t1`, or `mprage`/`spgr`/`bravo`/`tfl`/`vibe` → T1c when ContrastBolusAgent is set
//!    or a word says contrast (`post`, `gd`, `+c`, `ce`, `t1c`, `t1ce`, `t1gd`, `contrast`, `km`), else T1;
//! 8. anything else → unknown, listed, never guessed.
//!
//! When several series map to one modality the highest series number (the latest acquisition) is used,
//! as for NIfTI files named `_series6`/`_series10`; the others are listed with how to choose them.

use super::naming::{Role, Seq, classify};
use super::profile::{Evidence, Profile};
use super::source::{CaseSource, ModalitySource};
use crate::error::{CloeError, Result, Setting};
use crate::io::dicom::{DicomSeries, SEGMENTATION_STORAGE, dicom_files_under, scan_files};
use crate::io::is_volume_path;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the rules make of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesGuess {
    Image(Seq),
    /// Understood but used by no profile (the reason).
    Unused(&'static str),
    Unknown,
}

/// Maps a series to a modality by the rules of the module documentation.
pub fn guess_series(s: &DicomSeries) -> SeriesGuess {
    if s.sop_class == SEGMENTATION_STORAGE {
        return SeriesGuess::Unused("a segmentation (SEG): read as the case's labels");
    }
    if !s.is_image() {
        return SeriesGuess::Unused("not an image");
    }
    let text = format!("{} {} {}", s.description, s.protocol, s.sequence).to_ascii_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '*'))
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let starts = |p: &str| words.iter().any(|w| w.starts_with(p));
    let typed = |t: &str| s.image_type.iter().any(|x| x.eq_ignore_ascii_case(t));
    if typed("LOCALIZER") || has("localizer") || has("scout") || has("survey") || starts("loc_") {
        return SeriesGuess::Unused("a localizer");
    }
    if typed("ADC") || starts("adc") || words.iter().any(|w| w.ends_with("adc")) {
        return SeriesGuess::Image(Seq::Adc);
    }
    let dwi = [
        "trace", "tracew", "bval", "dwi", "diff", "hbv", "b800", "b1000", "b1400",
    ];
    if typed("TRACEW")
        || dwi.iter().any(|d| starts(d))
        || words
            .iter()
            .any(|w| w.starts_with("ep2d") && w.contains("diff"))
    {
        return SeriesGuess::Unused("a diffusion-weighted (b-value) image");
    }
    if starts("flair") || has("tirm") || has("dark") || text.contains("dark-fluid") {
        return SeriesGuess::Image(Seq::Flair);
    }
    let t2_star = has("t2*") || starts("t2star") || has("swi") || has("ffe");
    if starts("t2") && !t2_star {
        return SeriesGuess::Image(Seq::T2);
    }
    let t1_words = ["mprage", "spgr", "bravo", "tfl", "vibe"];
    if starts("t1") || t1_words.iter().any(|w| starts(w)) {
        let contrast_words = [
            "post", "gd", "+c", "ce", "t1c", "t1ce", "t1gd", "contrast", "km", "t1+c",
        ];
        let contrast = !s.contrast_agent.is_empty()
            || contrast_words.iter().any(|w| has(w))
            || words
                .iter()
                .any(|w| w.ends_with("+c") || w.ends_with("_gd"));
        return SeriesGuess::Image(if contrast { Seq::T1c } else { Seq::T1 });
    }
    SeriesGuess::Unknown
}

/// Every DICOM study under `root`, one case per study.
pub fn find_dicom_cases(root: &Path, forced: Option<Profile>) -> Result<Vec<CaseSource>> {
    let files = dicom_files_under(root).map_err(|why| CloeError::no_case(root, why))?;
    cases_of(root, &files, forced)
}

/// The DICOM studies of an explicit list of files (dropped on the window).
pub fn dicom_cases_from_files(
    files: &[PathBuf],
    forced: Option<Profile>,
) -> Result<Vec<CaseSource>> {
    let origin = files
        .first()
        .and_then(|f| f.parent())
        .unwrap_or(Path::new("."));
    cases_of(origin, files, forced)
}

fn cases_of(origin: &Path, files: &[PathBuf], forced: Option<Profile>) -> Result<Vec<CaseSource>> {
    let (dicom, nifti): (Vec<PathBuf>, Vec<PathBuf>) =
        files.iter().cloned().partition(|f| !is_volume_path(f));
    if dicom.is_empty() {
        return Ok(Vec::new());
    }
    let scan = scan_files(&dicom);
    if scan.series.is_empty() {
        let (path, why) = scan.skipped.first().cloned().unwrap_or_default();
        return Err(CloeError::BadDicom {
            path: origin.to_path_buf(),
            why: format!(
                "{} DICOM files but none could be read (first: {}: {why})",
                dicom.len(),
                path.display()
            ),
        });
    }
    let mut studies: BTreeMap<(String, String), Vec<DicomSeries>> = BTreeMap::new();
    for s in scan.series {
        studies
            .entry((s.patient_id.clone(), s.study_uid.clone()))
            .or_default()
            .push(s);
    }
    let several_per_patient = |pid: &str| studies.keys().filter(|(p, _)| p == pid).count() > 1;
    let mut cases = Vec::new();
    for ((pid, _), series) in &studies {
        let mut id = sanitize(pid);
        if id.is_empty() {
            id = origin
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "dicom".into());
        }
        if several_per_patient(pid) {
            id = format!("{id}_{}", series[0].date);
        }
        let mut case = build(id, series.clone(), forced, origin);
        case.ignored.extend(
            scan.skipped
                .iter()
                .filter(|(p, _)| p.starts_with(study_folder(series)))
                .cloned(),
        );
        case.label = seg_of(series).or_else(|| label_beside(study_folder(series), &nifti));
        cases.push(case);
    }
    // Series the rules could not map are left for the user to choose (MODALITY=NUMBER); only when no
    // case has an image at all is there nothing to choose.
    let nothing_to_choose = |c: &CaseSource| {
        c.modalities.iter().all(Option::is_none) && !c.dicom.iter().any(DicomSeries::is_image)
    };
    if cases.iter().all(nothing_to_choose) {
        let listed: Vec<String> = cases
            .iter()
            .flat_map(|c| c.dicom.iter())
            .map(|s| format!("{} ({})", s.name(), s.modality))
            .take(6)
            .collect();
        return Err(CloeError::BadDicom {
            path: origin.to_path_buf(),
            why: format!(
                "no DICOM series is one of the modalities a profile uses (found {}); \
                 choose the series of each modality (MODALITY=NUMBER)",
                listed.join(", ")
            ),
        });
    }
    Ok(cases)
}

/// Sets the series (by SeriesNumber) of one modality of a DICOM case, e.g. `t2` = 6.
pub fn choose_series(source: &mut CaseSource, key: &str, number: i64) -> Result<()> {
    let profile = source.profile;
    let i = profile
        .modality_index(&key.to_ascii_lowercase())
        .ok_or_else(|| {
            CloeError::setting(
                Setting::Series,
                format!(
                    "'{key}' is not a {profile} modality (choose one of {})",
                    profile.modalities().join(", ")
                ),
            )
        })?;
    if source.dicom.is_empty() {
        return Err(CloeError::setting(
            Setting::Series,
            format!(
                "a series was chosen for a modality, but case {} is made of NIfTI files, not DICOM \
                 series",
                source.id
            ),
        ));
    }
    let series = source
        .dicom
        .iter()
        .find(|s| s.number == Some(number) && s.is_image())
        .ok_or_else(|| {
            CloeError::setting(
                Setting::Series,
                format!(
                    "case {} has no image series number {number} (it has {})",
                    source.id,
                    source
                        .dicom
                        .iter()
                        .filter(|s| s.is_image())
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?
        .clone();
    source.modalities[i] = Some(ModalitySource {
        path: series.folder(),
        channel: None,
        series: Some(series.uid.clone()),
    });
    source.ignored = unused_series(source);
    Ok(())
}

/// Applies `--series MODALITY=NUMBER` choices (as typed) to a case.
pub fn apply_series_choices(source: &mut CaseSource, choices: &[String]) -> Result<()> {
    for arg in choices {
        let (key, number) = parse_series_choice(arg)?;
        choose_series(source, &key, number)?;
    }
    Ok(())
}

/// The modality each series of a DICOM case is used as (display name), or `None`.
pub fn series_roles(source: &CaseSource) -> Vec<(&DicomSeries, Option<&'static str>)> {
    source
        .dicom
        .iter()
        .map(|s| {
            let role = (0..source.modalities.len())
                .find(|&m| source.series_of(m).is_some_and(|x| x.uid == s.uid))
                .map(|m| source.profile.modality_display()[m]);
            (s, role)
        })
        .collect()
}

/// Parses `MODALITY=NUMBER` (the `--series` argument).
pub fn parse_series_choice(arg: &str) -> Result<(String, i64)> {
    let bad = || {
        CloeError::setting(
            Setting::Series,
            format!("a series is chosen as MODALITY=SERIES_NUMBER (e.g. t2=6), not '{arg}'"),
        )
    };
    let (key, number) = arg.split_once('=').ok_or_else(bad)?;
    let number = number.trim().parse().map_err(|_| bad())?;
    Ok((key.trim().to_string(), number))
}

fn build(
    id: String,
    series: Vec<DicomSeries>,
    forced: Option<Profile>,
    origin: &Path,
) -> CaseSource {
    let guesses: Vec<SeriesGuess> = series.iter().map(guess_series).collect();
    let decided = forced.or_else(|| decide_profile(&series, &guesses, origin));
    let profile = decided.unwrap_or(Profile::DEFAULT);
    let mut modalities: Vec<Option<ModalitySource>> = vec![None; profile.modalities().len()];
    for (i, slot) in modalities.iter_mut().enumerate() {
        let best = series
            .iter()
            .zip(&guesses)
            .filter(|(_, g)| {
                matches!(g, SeriesGuess::Image(seq) if profile.modality_index(seq.key()) == Some(i))
            })
            .max_by_key(|(s, _)| (s.number, s.uid.clone()))
            .map(|(s, _)| s);
        *slot = best.map(|s| ModalitySource {
            path: s.folder(),
            channel: None,
            series: Some(s.uid.clone()),
        });
    }
    let mut case = CaseSource {
        id,
        profile,
        modalities,
        label: None,
        ignored: Vec::new(),
        profile_guessed: decided.is_none(),
        convention: None,
        dicom: series,
    };
    case.ignored = unused_series(&case);
    case
}

/// Every series of the case that no modality uses, with the reason.
fn unused_series(case: &CaseSource) -> Vec<(PathBuf, String)> {
    let profile = case.profile;
    let used: Vec<&str> = case
        .modalities
        .iter()
        .flatten()
        .filter_map(|m| m.series.as_deref())
        .collect();
    case.dicom
        .iter()
        .filter(|s| !used.contains(&s.uid.as_str()))
        .map(|s| {
            let why = match guess_series(s) {
                SeriesGuess::Image(seq) => match profile.modality_index(seq.key()) {
                    Some(i) => format!(
                        "{} is also {}; another series was chosen (choose this one as {}={})",
                        s.name(),
                        profile.modality_display()[i],
                        seq.key(),
                        s.number.unwrap_or_default()
                    ),
                    None => format!("{} ({}) is not a {profile} modality", s.name(), seq.key()),
                },
                SeriesGuess::Unused(what) => {
                    format!("{} is {what}, not used by the {profile} model", s.name())
                }
                SeriesGuess::Unknown => format!(
                    "{}: its description does not say which sequence it is; choose it as \
                     MODALITY={}",
                    s.name(),
                    s.number.unwrap_or_default()
                ),
            };
            (s.folder(), why)
        })
        .collect()
}

fn decide_profile(
    series: &[DicomSeries],
    guesses: &[SeriesGuess],
    origin: &Path,
) -> Option<Profile> {
    let mut evidence = Evidence::default();
    for g in guesses {
        match g {
            SeriesGuess::Image(seq) => evidence.sequences.push(seq.key()),
            SeriesGuess::Unused(kind) => evidence.unused.push(kind),
            SeriesGuess::Unknown => {}
        }
    }
    evidence.body_parts = series.iter().map(|s| s.body_part.as_str()).collect();
    evidence.paths.push(origin.to_string_lossy().into_owned());
    Profile::decide(&evidence)
}

/// The deepest folder holding every file of the study.
fn study_folder(series: &[DicomSeries]) -> &Path {
    series
        .iter()
        .flat_map(|s| s.slices.iter())
        .filter_map(|s| s.path.parent())
        .reduce(common_prefix)
        .unwrap_or(Path::new(""))
}

fn common_prefix<'a>(a: &'a Path, b: &'a Path) -> &'a Path {
    let mut c = a;
    while !b.starts_with(c) {
        match c.parent() {
            Some(p) => c = p,
            None => return Path::new(""),
        }
    }
    c
}

/// The file of the study's DICOM SEG (the last of them when there are several).
fn seg_of(series: &[DicomSeries]) -> Option<PathBuf> {
    (series.iter().rev())
        .find(|s| s.sop_class == SEGMENTATION_STORAGE)
        .and_then(|s| s.slices.first())
        .map(|slice| slice.path.clone())
}

/// A NIfTI label map named like one (`*_seg.nii.gz`, `*_label.nii`) in the study's folder.
fn label_beside(folder: &Path, dropped: &[PathBuf]) -> Option<PathBuf> {
    let in_folder = std::fs::read_dir(folder)
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut labels: Vec<PathBuf> = in_folder
        .into_iter()
        .chain(dropped.iter().cloned())
        .filter(|p| p.is_file() && is_volume_path(p))
        .filter(|p| classify(p).is_some_and(|n| n.role == Role::Label))
        .collect();
    labels.sort();
    labels.dedup();
    labels.pop()
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(description: &str, image_type: &str, contrast: &str) -> DicomSeries {
        DicomSeries {
            uid: "1.2.3".into(),
            study_uid: "1.2".into(),
            patient_id: "P".into(),
            number: Some(1),
            description: description.into(),
            protocol: String::new(),
            sequence: String::new(),
            modality: "MR".into(),
            date: String::new(),
            body_part: String::new(),
            contrast_agent: contrast.into(),
            image_type: image_type.split('\\').map(str::to_string).collect(),
            sop_class: "1.2.840.10008.5.1.4.1.1.4".into(),
            frame_of_reference: "1.2.4".into(),
            slice_count: 1,
            slices: vec![crate::io::dicom::SliceHeader {
                path: "x.dcm".into(),
                rows: 2,
                cols: 2,
                pixel_spacing: None,
                orientation: None,
                position: None,
                thickness: None,
                instance: None,
                sop_instance: "1.2.3.1".into(),
                frames: 1,
                samples_per_pixel: 1,
                bits_allocated: 16,
                signed: false,
                transfer_syntax: String::new(),
            }],
        }
    }

    #[test]
    fn descriptions_scanners_write_map_to_the_right_modality() {
        use SeriesGuess::*;
        let g = |d: &str, t: &str, c: &str| guess_series(&series(d, t, c));
        assert_eq!(g("t2_tse_tra", "ORIGINAL\\PRIMARY\\M", ""), Image(Seq::T2));
        assert_eq!(g("AX T2 FSE", "ORIGINAL", ""), Image(Seq::T2));
        assert_eq!(
            g("ep2d_diff_tra_DYNDIST_ADC", "DERIVED\\ADC", ""),
            Image(Seq::Adc)
        );
        assert_eq!(g("dADC_b50_800", "DERIVED", ""), Image(Seq::Adc));
        assert_eq!(
            g("ep2d_diff_tra_CALC_BVAL", "DERIVED\\DIFFUSION\\TRACEW", ""),
            Unused("a diffusion-weighted (b-value) image")
        );
        assert_eq!(g("AX FLAIR", "ORIGINAL", ""), Image(Seq::Flair));
        assert_eq!(
            g("t2_tirm_tra_dark-fluid", "ORIGINAL", ""),
            Image(Seq::Flair)
        );
        assert_eq!(g("t1_mprage_sag", "ORIGINAL", ""), Image(Seq::T1));
        assert_eq!(g("t1_mprage_sag", "ORIGINAL", "Gadovist"), Image(Seq::T1c));
        assert_eq!(g("AX T1 POST", "ORIGINAL", ""), Image(Seq::T1c));
        assert_eq!(g("T1+C 3D", "ORIGINAL", ""), Image(Seq::T1c));
        assert_eq!(
            g("t2_swi_tra", "ORIGINAL", ""),
            Unknown,
            "T2*/SWI is not T2"
        );
        assert_eq!(
            g("localizer", "ORIGINAL\\PRIMARY\\LOCALIZER", ""),
            Unused("a localizer")
        );
        assert_eq!(g("PD_tse", "ORIGINAL", ""), Unknown);
        let mut report = series("Dose report", "", "");
        report.slices[0].rows = 0;
        assert_eq!(guess_series(&report), Unused("not an image"));
    }

    #[test]
    fn series_choices_parse_or_say_what_they_expect() {
        assert_eq!(parse_series_choice("t2=6").unwrap(), ("t2".to_string(), 6));
        assert_eq!(
            parse_series_choice(" ADC = 8 ").unwrap(),
            ("ADC".to_string(), 8)
        );
        for bad in ["t2", "t2=six", "=", "t2:6"] {
            let e = parse_series_choice(bad).unwrap_err().to_string();
            assert!(e.contains("MODALITY=SERIES_NUMBER"), "{e}");
        }
    }
}
