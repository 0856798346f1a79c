//! Loading a case: reading its files, checking its label map against the profile, and putting every
//! volume on the reference modality's grid (trilinear for images, nearest for labels). NIfTI files and
//! DICOM series are read in parallel.

use super::label_files::{attach_seg, check_labels_inside, count_labels, read_label};
use super::profile::{LabelConvention, Profile};
use super::source::CaseSource;
use super::subset::Subset;
use crate::error::{CloeError, Result, Setting};
use crate::io::dicom::read_series;
use crate::io::{Image, ReadOptions, read_image};
use crate::resample::{Interp, resample, resample_data};
use crate::stats::IntensityStats;
use crate::volume::{Grid, Volume, VolumeInfo};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Share of a volume's box that must lie inside the reference grid's box.
const MIN_OVERLAP: f64 = 0.01;

/// A label map in training classes (0..K), on the case grid.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    pub grid: Grid,
    /// Training class per voxel, x fastest.
    pub classes: Vec<u8>,
    /// How the file wrote them, and how a saved map will write them back.
    pub convention: LabelConvention,
}

impl LabelMap {
    /// The map as a volume of on-disk values (for writing).
    pub fn to_disk_volume(&self) -> Volume {
        let data = self
            .classes
            .iter()
            .map(|&c| self.convention.disk_of(c) as f32)
            .collect();
        Volume::new(self.grid, data, VolumeInfo::derived("uint8"))
    }
}

/// Voxels of one on-disk label value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelCount {
    pub value: u8,
    pub name: String,
    pub voxels: usize,
    pub ml: f64,
}

/// What was read from one file of the case, on the file's own grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// Modality key, or `label`.
    pub role: String,
    #[serde(serialize_with = "crate::lossy_path::path")]
    pub path: PathBuf,
    pub channel: Option<usize>,
    /// How many volumes (channels) the file holds: more than one for a 4-D file.
    pub volumes: usize,
    pub dims: [usize; 3],
    pub spacing: [f64; 3],
    pub orientation: String,
    pub datatype: String,
    pub affine_source: crate::volume::AffineSource,
    pub nan_voxels: usize,
    pub inf_voxels: usize,
    /// True when the volume was resampled onto the reference grid.
    pub resampled: bool,
    pub intensity: Option<IntensityStats>,
    pub labels: Option<Vec<LabelCount>>,
}

/// A patient case in memory: every modality present on one grid, the optional label map.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub profile: Profile,
    /// The reference grid (T2 for prostate, the first present modality for BraTS).
    pub grid: Grid,
    /// One entry per profile modality; `None` where missing.
    pub modalities: Vec<Option<Volume>>,
    pub label: Option<LabelMap>,
    pub source: CaseSource,
    /// Per file, what it held before alignment.
    pub files: Vec<FileReport>,
    /// What was done to make the case (resampling, files ignored).
    pub notes: Vec<String>,
}

impl Case {
    /// The label convention of the case: its label map's, else the profile's default. Every label map
    /// written for the case uses it.
    pub fn convention(&self) -> LabelConvention {
        self.label
            .as_ref()
            .map(|l| l.convention)
            .unwrap_or(self.profile.default_convention())
    }

    /// The modalities the case has.
    pub fn available(&self) -> Subset {
        let on: Vec<bool> = self.modalities.iter().map(Option::is_some).collect();
        Subset::from_mask(self.profile, &on)
    }

    /// The modalities to use: those of `list` (e.g. `flair,t1c`), or every one the case has; a
    /// modality asked for that the case lacks is an error naming it.
    pub fn modalities_to_use(&self, list: Option<&str>) -> Result<Subset> {
        let present = self.available();
        let Some(list) = list else {
            return Ok(present);
        };
        let used = Subset::parse(self.profile, list)?;
        let missing = used.indices().find(|&i| !present.contains(i));
        match missing {
            Some(i) => Err(CloeError::setting(
                Setting::Modalities,
                format!(
                    "{} was asked for but the case has no {} file",
                    self.profile.modalities()[i],
                    self.profile.modality_display()[i]
                ),
            )),
            None => Ok(used),
        }
    }
}

/// Reads a case's files and aligns them on the reference grid.
pub fn load_case(source: &CaseSource, opts: ReadOptions) -> Result<Case> {
    let profile = source.profile;
    let mut notes = source_notes(source);
    let (raw, mut files, label_raw) = read_files(source, opts, &mut notes)?;
    let reference = reference_grid(profile, &raw, label_raw.as_ref().map(|(v, _)| &v.grid))
        .ok_or_else(|| nothing_read(source))?;
    let ref_path = (source.modalities.iter().flatten().next())
        .map(|m| m.path.clone())
        .or_else(|| source.label.clone())
        .unwrap_or_default();
    let on_grid = Aligning {
        reference,
        ref_path: &ref_path,
        notes: &mut notes,
        files: &mut files,
    };
    let (modalities, label) = on_grid.align(profile, raw, label_raw, source)?;
    notes.extend(files.iter().filter_map(nonfinite_note));
    let mut case = Case {
        id: source.id.clone(),
        profile,
        grid: reference,
        modalities,
        label,
        source: source.clone(),
        files,
        notes,
    };
    attach_seg(&mut case)?;
    Ok(case)
}

/// The error of a case with neither an image nor a label map: for files whose names say no sequence,
/// how to say it; for a DICOM study whose series the rules could not map, which series to choose and
/// how.
fn nothing_read(source: &CaseSource) -> CloeError {
    if let Some(file) = super::unnamed_files(source).first() {
        return super::sequence_choice::unnamed_error(source, file, 1);
    }
    let images: Vec<&crate::io::dicom::DicomSeries> =
        source.dicom.iter().filter(|s| s.is_image()).collect();
    let Some(first) = images.iter().find(|s| s.number.is_some()) else {
        return CloeError::no_case(
            Path::new(&source.id),
            "the case has neither an image nor a label map",
        );
    };
    let names: Vec<String> = images.iter().map(|s| s.name()).collect();
    let key = source.profile.modalities()[0];
    CloeError::setting(
        Setting::Series,
        format!(
            "no DICOM series of case {} says which sequence it is ({}): choose the series of a \
             modality as MODALITY=NUMBER, e.g. {key}={}",
            source.id,
            names.join(", "),
            first.number.unwrap_or_default()
        ),
    )
}

/// What a case's sources say before anything is read: files left out, a guessed profile.
fn source_notes(source: &CaseSource) -> Vec<String> {
    let mut notes: Vec<String> = (source.ignored.iter())
        .map(|(p, why)| format!("ignored {}: {why}", p.display()))
        .collect();
    if source.profile_guessed {
        notes.push(format!(
            "no file name says which kind of case this is; assumed {} (choose the profile, brats or \
             prostate, to be sure)",
            source.profile
        ));
    }
    notes
}

/// What a file's NaN or infinite voxels became, if it has any.
fn nonfinite_note(f: &FileReport) -> Option<String> {
    (f.nan_voxels + f.inf_voxels > 0).then(|| {
        format!(
            "{}: {} NaN and {} infinite voxels read as 0 (background)",
            f.path.display(),
            f.nan_voxels,
            f.inf_voxels
        )
    })
}

/// A label map as read, with the convention its values are in.
type RawLabel = Option<(Volume, LabelConvention)>;

/// Reads every distinct file at once (an MSD image once for all its channels, DICOM series, the label
/// map): the volumes per profile modality as read, a report per file, and the label map.
fn read_files(
    source: &CaseSource,
    opts: ReadOptions,
    notes: &mut Vec<String>,
) -> Result<(Vec<Option<Volume>>, Vec<FileReport>, RawLabel)> {
    let profile = source.profile;
    let mut paths: Vec<&PathBuf> = (source.modalities.iter().flatten())
        .filter(|m| m.series.is_none())
        .map(|m| &m.path)
        .collect();
    paths.dedup();
    let ((images, dicom), label_raw) = rayon::join(
        || {
            rayon::join(
                || read_images(&paths, source, opts),
                || read_dicom_series(source),
            )
        },
        || {
            // A DICOM SEG is placed on the case's grid once the case is read (`attach_seg`).
            (source.label.as_ref())
                .filter(|p| !crate::io::dicom::is_dicom_file(p))
                .map(|path| read_label(path, profile, source.convention, opts))
                .transpose()
        },
    );
    let (mut images, label_raw) = (images?, label_raw?);
    let mut dicom = dicom.map_err(|e| with_unreadable_files(e, source))?;
    let mut files = Vec::new();
    let mut raw: Vec<Option<Volume>> = Vec::new();
    for (i, (key, m)) in profile
        .modalities()
        .iter()
        .zip(&source.modalities)
        .enumerate()
    {
        let Some(m) = m else {
            raw.push(None);
            continue;
        };
        let (volume, stats, channel, volumes) = match dicom[i].take() {
            Some(volume) => {
                let series = source.series_of(i).expect("read from this series");
                let (name, n) = (series.name(), series.slice_count);
                let what = profile.modality_display()[i];
                notes.push(format!("{what} from DICOM {name} ({n} slices)"));
                let stats = IntensityStats::of(&volume.data);
                (volume, stats, None, 1)
            }
            None => {
                let (volumes, stats) =
                    (images.get_mut(&m.path)).expect("every modality's file was read");
                let c = m.channel.unwrap_or(0);
                let count = volumes.len();
                let volume = volumes[c]
                    .take()
                    .expect("each channel belongs to one modality");
                (volume, stats[c].clone(), m.channel, count)
            }
        };
        let mut file = report(key, &m.path, channel, &volume, Some(stats), None);
        file.volumes = volumes;
        files.push(file);
        raw.push(Some(volume));
    }
    Ok((raw, files, label_raw))
}

/// Puts a case's volumes onto its reference grid, noting what was resampled.
struct Aligning<'a> {
    reference: Grid,
    /// The file the reference grid comes from (messages name it).
    ref_path: &'a Path,
    notes: &'a mut Vec<String>,
    files: &'a mut Vec<FileReport>,
}

impl Aligning<'_> {
    /// The modalities (trilinear) and the label map (nearest, in training classes) on the reference.
    fn align(
        mut self,
        profile: Profile,
        raw: Vec<Option<Volume>>,
        label_raw: RawLabel,
        source: &CaseSource,
    ) -> Result<(Vec<Option<Volume>>, Option<LabelMap>)> {
        let mut modalities = Vec::new();
        for (i, v) in raw.into_iter().enumerate() {
            modalities.push(match v {
                Some(v) if !v.grid.same_as(&self.reference) => Some(self.image(profile, i, v)?),
                other => other,
            });
        }
        let label = match label_raw {
            Some((v, convention)) => Some(self.label(profile, v, convention, source)?),
            None => None,
        };
        Ok((modalities, label))
    }

    fn image(&mut self, profile: Profile, i: usize, v: Volume) -> Result<Volume> {
        let reference = self.reference;
        check_overlap(&v, &reference, self.ref_path)?;
        self.notes.push(format!(
            "resampled {} from {:?} at {} mm onto the reference grid {:?} at {} mm (trilinear)",
            profile.modality_display()[i],
            v.grid.dims,
            fmt_spacing(v.grid.spacing()),
            reference.dims,
            fmt_spacing(reference.spacing())
        ));
        mark_resampled(self.files, profile.modalities()[i]);
        Ok(resample(&v, &reference, Interp::Linear, 0.0))
    }

    fn label(
        &mut self,
        profile: Profile,
        v: Volume,
        convention: LabelConvention,
        source: &CaseSource,
    ) -> Result<LabelMap> {
        let reference = self.reference;
        let label_path = source.label.clone().unwrap_or_default();
        let counts = count_labels(&v, profile, convention);
        self.files
            .push(report("label", &label_path, None, &v, None, Some(counts)));
        let mut classes: Vec<f32> = (v.data.iter())
            .map(|&d| convention.class_of(d as u8).unwrap_or(0) as f32)
            .collect();
        if !v.grid.same_as(&reference) {
            check_overlap(&v, &reference, self.ref_path)?;
            check_labels_inside(&v, &reference, &self.ref_path.display().to_string())?;
            self.notes.push(format!(
                "resampled the label map from {:?} onto the reference grid (nearest)",
                v.grid.dims
            ));
            mark_resampled(self.files, "label");
            classes = resample_data(&classes, &v.grid, &reference, Interp::Nearest, 0.0);
        }
        Ok(LabelMap {
            grid: reference,
            classes: classes.iter().map(|&c| c as u8).collect(),
            convention,
        })
    }
}

fn fmt_spacing(s: [f64; 3]) -> String {
    format!("{:.3}x{:.3}x{:.3}", s[0], s[1], s[2])
}

fn mark_resampled(files: &mut [FileReport], role: &str) {
    if let Some(f) = files.iter_mut().rev().find(|f| f.role == role) {
        f.resampled = true;
    }
}

/// T2 for prostate (the fine grid); else the first modality present; else the label's grid.
fn reference_grid(profile: Profile, raw: &[Option<Volume>], label: Option<&Grid>) -> Option<Grid> {
    let preferred = profile
        .spec()
        .reference
        .and_then(|k| profile.modality_index(k));
    preferred
        .and_then(|i| raw[i].as_ref())
        .or_else(|| raw.iter().flatten().next())
        .map(|v| v.grid)
        .or(label.copied())
}

fn check_channels(path: &Path, image: &Image, source: &CaseSource) -> Result<()> {
    let volumes = image.channels.len();
    if source.convention.is_none() {
        // A volume of a 4-D file, chosen by the user.
        let chosen = (source.modalities.iter().flatten())
            .filter(|m| m.path == path)
            .filter_map(|m| m.channel);
        return match chosen.into_iter().find(|&c| c >= volumes) {
            Some(c) => Err(CloeError::setting(
                crate::error::Setting::Sequence,
                format!(
                    "{}: volume {c} was chosen but the file holds {volumes} (0 to {})",
                    path.display(),
                    volumes - 1
                ),
            )),
            None => Ok(()),
        };
    }
    let expected = source
        .modalities
        .iter()
        .flatten()
        .filter(|m| m.path == path)
        .count();
    if image.channels.len() != expected {
        return Err(CloeError::bad_dataset(
            path,
            format!(
                "has {} channels but dataset.json lists {expected} modalities; \
                 the image and dataset.json must agree",
                image.channels.len()
            ),
        ));
    }
    Ok(())
}

fn check_overlap(v: &Volume, reference: &Grid, ref_path: &Path) -> Result<()> {
    let (moving, fixed) = (v.grid.world_box(), reference.world_box());
    let own = moving.overlap_ml(&moving);
    if moving.overlap_ml(&fixed) < MIN_OVERLAP * own {
        return Err(CloeError::NoOverlap {
            moving: v.info.path.clone().unwrap_or_default(),
            reference: ref_path.to_path_buf(),
            moving_box: moving.to_string(),
            reference_box: fixed.to_string(),
        });
    }
    Ok(())
}

fn report(
    role: &str,
    path: &Path,
    channel: Option<usize>,
    v: &Volume,
    intensity: Option<IntensityStats>,
    labels: Option<Vec<LabelCount>>,
) -> FileReport {
    FileReport {
        role: role.to_string(),
        path: path.to_path_buf(),
        channel,
        volumes: 1,
        dims: v.grid.dims,
        spacing: v.grid.spacing(),
        orientation: v.grid.axcodes(),
        datatype: v.info.datatype.clone(),
        affine_source: v.info.affine_source,
        nan_voxels: v.info.nan_voxels,
        inf_voxels: v.info.inf_voxels,
        resampled: false,
        intensity,
        labels,
    }
}

/// Every volume of the case's NIfTI files (an MSD image once for all its channels), with statistics.
#[allow(clippy::type_complexity)]
fn read_images(
    paths: &[&PathBuf],
    source: &CaseSource,
    opts: ReadOptions,
) -> Result<HashMap<PathBuf, (Vec<Option<Volume>>, Vec<IntensityStats>)>> {
    paths
        .par_iter()
        .map(|&p| {
            let image = read_image(p, opts)?;
            if source
                .modalities
                .iter()
                .flatten()
                .any(|m| &m.path == p && m.channel.is_some())
            {
                check_channels(p, &image, source)?;
            } else if image.channels.len() != 1 {
                let volumes = image.channels.len();
                return Err(super::sequence_choice::unnamed_error(source, p, volumes));
            }
            let volumes: Vec<Option<Volume>> = image.into_volumes().into_iter().map(Some).collect();
            let stats: Vec<IntensityStats> = volumes
                .iter()
                .flatten()
                .map(|v| IntensityStats::of(&v.data))
                .collect();
            Ok((p.clone(), (volumes, stats)))
        })
        .collect()
}

/// A series that cannot be assembled (a slice missing, say) may be short of a file the scan could not
/// read: the message then names that file and why, which is the fault to fix.
fn with_unreadable_files(e: CloeError, source: &CaseSource) -> CloeError {
    let CloeError::BadDicom { path, why } = e else {
        return e;
    };
    let Some((file, reason)) = source.ignored.first() else {
        return CloeError::BadDicom { path, why };
    };
    CloeError::BadDicom {
        path,
        why: format!(
            "{why}; {} file(s) beside it could not be read, first {}: {reason}",
            source.ignored.len(),
            file.display()
        ),
    }
}

/// The volume of each modality that comes from a DICOM series (`None` for the others).
fn read_dicom_series(source: &CaseSource) -> Result<Vec<Option<Volume>>> {
    (0..source.modalities.len())
        .into_par_iter()
        .map(|i| source.series_of(i).map(read_series).transpose())
        .collect()
}
