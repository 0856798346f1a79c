//! Finding DICOM series: every file under a folder (or in a list) whose header says DICOM is read up to
//! its pixel data, and the slices are grouped by SeriesInstanceUID with what a viewer shows of a series
//! (number, description, protocol, date, image type). No pixel is decoded here; `series` does that.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How deep a folder scan descends (PACS exports nest patient / study / series folders).
const MAX_DEPTH: usize = 8;

/// The most files a folder scan looks at: opening the wrong folder (a home directory, `/`) ends at once
/// with a message instead of reading the whole disk. A large study has a few thousand files.
const MAX_FILES: usize = 20_000;

/// Folders never scanned: virtual file systems whose files can block a reader.
const SKIPPED: [&str; 4] = ["/proc", "/sys", "/dev", "/run"];

/// What one DICOM file says about its slice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceHeader {
    #[serde(serialize_with = "crate::lossy_path::path")]
    pub path: PathBuf,
    /// Rows and columns of the image (0 when the object holds no image).
    pub rows: u32,
    pub cols: u32,
    /// PixelSpacing: the distance between rows, then between columns (mm).
    pub pixel_spacing: Option<[f64; 2]>,
    /// ImageOrientationPatient: the row direction, then the column direction (LPS).
    pub orientation: Option<[f64; 6]>,
    /// ImagePositionPatient: the centre of the first voxel (LPS, mm).
    pub position: Option<[f64; 3]>,
    /// SpacingBetweenSlices or else SliceThickness (used only for a single slice).
    pub thickness: Option<f64>,
    pub instance: Option<i64>,
    /// SOPInstanceUID: what a derived object (a segmentation) references.
    pub sop_instance: String,
    pub frames: u32,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub signed: bool,
    pub transfer_syntax: String,
}

/// One series: its description and its slices (in file order; `series::read_series` sorts them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DicomSeries {
    pub uid: String,
    pub study_uid: String,
    pub patient_id: String,
    /// SeriesNumber, as the scanner console shows it.
    pub number: Option<i64>,
    pub description: String,
    pub protocol: String,
    pub sequence: String,
    /// The DICOM Modality (MR, CT, SEG, SR...).
    pub modality: String,
    pub date: String,
    pub body_part: String,
    /// ContrastBolusAgent (empty when the tag is absent).
    pub contrast_agent: String,
    pub image_type: Vec<String>,
    pub sop_class: String,
    /// FrameOfReferenceUID: the patient coordinate system the series' positions are in.
    pub frame_of_reference: String,
    pub slice_count: usize,
    #[serde(skip)]
    pub slices: Vec<SliceHeader>,
}

impl DicomSeries {
    /// The folder holding the series' files (their deepest common folder).
    pub fn folder(&self) -> PathBuf {
        let mut paths = self.slices.iter().filter_map(|s| s.path.parent());
        let Some(first) = paths.next() else {
            return PathBuf::new();
        };
        let mut common = first.to_path_buf();
        for p in paths {
            while !p.starts_with(&common) {
                if !common.pop() {
                    return PathBuf::new();
                }
            }
        }
        common
    }

    /// True when the files hold pixels (not a structured report, presentation state or DICOMDIR).
    pub fn is_image(&self) -> bool {
        self.slices.iter().all(|s| s.rows > 0 && s.cols > 0)
    }

    /// `series 10 't2_tse_tra'`, as messages name a series.
    pub fn name(&self) -> String {
        let number = self
            .number
            .map(|n| n.to_string())
            .unwrap_or_else(|| "(no number)".into());
        let what = if self.description.is_empty() {
            &self.protocol
        } else {
            &self.description
        };
        format!("series {number} '{what}'")
    }
}

/// The series found under a folder, and the files that looked like DICOM but could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DicomScan {
    /// Series in order of study, then series number.
    pub series: Vec<DicomSeries>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// True when the file starts with the DICOM Part 10 preamble (`DICM` at byte 128).
pub fn is_dicom_file(path: &Path) -> bool {
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[128..] == b"DICM"
}

/// Every DICOM file under `root` (depth-limited, hidden entries, other file systems and `/proc`-like
/// folders skipped), sorted; an error when the folder holds more files than a study would.
pub fn dicom_files_under(root: &Path) -> Result<Vec<PathBuf>, String> {
    use std::os::unix::fs::MetadataExt;
    let device = std::fs::metadata(root).map(|m| m.dev()).ok();
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden || SKIPPED.iter().any(|s| p == Path::new(s)) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            if Some(meta.dev()) != device {
                continue;
            }
            if meta.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    stack.push((p, depth + 1));
                }
            } else if meta.is_file() {
                found.push(p);
                if found.len() > MAX_FILES {
                    return Err(format!(
                        "more than {MAX_FILES} files under this folder: it is not one study; open the \
                         study's (or the patient's) own folder"
                    ));
                }
            }
        }
    }
    found.sort();
    Ok(found.into_par_iter().filter(|p| is_dicom_file(p)).collect())
}

/// Reads the headers of `files` (DICOM Part 10 files) and groups them into series.
pub fn scan_files(files: &[PathBuf]) -> DicomScan {
    let headers: Vec<Result<(SeriesKey, SliceHeader), (PathBuf, String)>> = files
        .par_iter()
        .map(|p| read_header(p).map_err(|why| (p.clone(), why)))
        .collect();
    let mut scan = DicomScan::default();
    let mut by_uid: BTreeMap<String, DicomSeries> = BTreeMap::new();
    for h in headers {
        match h {
            Ok((key, slice)) => {
                let series = by_uid.entry(key.uid.clone()).or_insert_with(|| key.into());
                series.slices.push(slice);
                series.slice_count += 1;
            }
            Err(skipped) => scan.skipped.push(skipped),
        }
    }
    scan.series = by_uid.into_values().collect();
    scan.series
        .sort_by(|a, b| (&a.study_uid, a.number, &a.uid).cmp(&(&b.study_uid, b.number, &b.uid)));
    scan
}

/// The fields shared by the slices of a series, read from one of them.
struct SeriesKey {
    uid: String,
    study_uid: String,
    patient_id: String,
    number: Option<i64>,
    description: String,
    protocol: String,
    sequence: String,
    modality: String,
    date: String,
    body_part: String,
    contrast_agent: String,
    image_type: Vec<String>,
    sop_class: String,
    frame_of_reference: String,
}

impl From<SeriesKey> for DicomSeries {
    fn from(k: SeriesKey) -> Self {
        DicomSeries {
            uid: k.uid,
            study_uid: k.study_uid,
            patient_id: k.patient_id,
            number: k.number,
            description: k.description,
            protocol: k.protocol,
            sequence: k.sequence,
            modality: k.modality,
            date: k.date,
            body_part: k.body_part,
            contrast_agent: k.contrast_agent,
            image_type: k.image_type,
            sop_class: k.sop_class,
            frame_of_reference: k.frame_of_reference,
            slice_count: 0,
            slices: Vec::new(),
        }
    }
}

/// Reads a DICOM file once, checks its element lengths ([`super::check_lengths`]) and parses the
/// same bytes (up to the pixel data with `headers_only`); also gives the file's length. The error
/// reads after the file's name ("is damaged: …").
pub(super) fn read_object(
    path: &Path,
    headers_only: bool,
) -> Result<(DefaultDicomObject, usize), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
    super::check_lengths(&bytes).map_err(|e| format!("is damaged: {e}"))?;
    let options = OpenFileOptions::new().read_preamble(ReadPreamble::Always);
    let options = if headers_only {
        options.read_until(tags::PIXEL_DATA)
    } else {
        options
    };
    let obj = options
        .from_reader(bytes.as_slice())
        .map_err(|e| format!("is not a readable DICOM file ({e})"))?;
    Ok((obj, bytes.len()))
}

fn read_header(path: &Path) -> Result<(SeriesKey, SliceHeader), String> {
    let (obj, _) = read_object(path, true)?;
    let uid = text(&obj, tags::SERIES_INSTANCE_UID);
    if uid.is_empty() {
        return Err("has no SeriesInstanceUID, so it belongs to no series".into());
    }
    let date = match text(&obj, tags::SERIES_DATE) {
        d if d.is_empty() => text(&obj, tags::STUDY_DATE),
        d => d,
    };
    let key = SeriesKey {
        uid,
        study_uid: text(&obj, tags::STUDY_INSTANCE_UID),
        patient_id: text(&obj, tags::PATIENT_ID),
        number: int(&obj, tags::SERIES_NUMBER),
        description: text(&obj, tags::SERIES_DESCRIPTION),
        protocol: text(&obj, tags::PROTOCOL_NAME),
        sequence: text(&obj, tags::SEQUENCE_NAME),
        modality: text(&obj, tags::MODALITY),
        date,
        body_part: text(&obj, tags::BODY_PART_EXAMINED),
        contrast_agent: text(&obj, tags::CONTRAST_BOLUS_AGENT),
        image_type: text(&obj, tags::IMAGE_TYPE)
            .split('\\')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        sop_class: text(&obj, tags::SOP_CLASS_UID),
        frame_of_reference: text(&obj, tags::FRAME_OF_REFERENCE_UID),
    };
    let thickness =
        float(&obj, tags::SPACING_BETWEEN_SLICES).or_else(|| float(&obj, tags::SLICE_THICKNESS));
    let slice = SliceHeader {
        path: path.to_path_buf(),
        rows: int(&obj, tags::ROWS).unwrap_or(0).max(0) as u32,
        cols: int(&obj, tags::COLUMNS).unwrap_or(0).max(0) as u32,
        pixel_spacing: floats(&obj, tags::PIXEL_SPACING),
        orientation: floats(&obj, tags::IMAGE_ORIENTATION_PATIENT),
        position: floats(&obj, tags::IMAGE_POSITION_PATIENT),
        thickness,
        instance: int(&obj, tags::INSTANCE_NUMBER),
        sop_instance: text(&obj, tags::SOP_INSTANCE_UID),
        frames: int(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as u32,
        samples_per_pixel: int(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) as u16,
        bits_allocated: int(&obj, tags::BITS_ALLOCATED).unwrap_or(0) as u16,
        signed: int(&obj, tags::PIXEL_REPRESENTATION) == Some(1),
        transfer_syntax: obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string(),
    };
    Ok((key, slice))
}

/// A string element, trimmed of DICOM's space and NUL padding ("" when absent).
fn text(obj: &DefaultDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
        .unwrap_or_default()
}

fn int(obj: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag).and_then(|e| e.to_int::<i64>().ok())
}

fn float(obj: &DefaultDicomObject, tag: Tag) -> Option<f64> {
    obj.get(tag)
        .and_then(|e| e.to_float64().ok())
        .filter(|v| v.is_finite())
}

fn floats<const N: usize>(obj: &DefaultDicomObject, tag: Tag) -> Option<[f64; N]> {
    let v = obj.get(tag)?.to_multi_float64().ok()?;
    let a: [f64; N] = v.try_into().ok()?;
    a.iter().all(|x| x.is_finite()).then_some(a)
}
