//! What `cloe segment` and the viewer write of a segmentation (the model runs in an `infer::Session`):
//! the label map in the case's own label convention and grid, probabilities, each expert's label map,
//! the REC region map, and a JSON report of u, v, w per modality; for a case opened from a DICOM study
//! the labels as a DICOM Segmentation object (`seg`); a folder of cases at once (`batch`).

mod batch;
mod seg;

pub use batch::{
    BatchCase, BatchModel, Shard, parse_shard, plan_batch, segment_into, write_summary,
};
pub use seg::{LabelOrigin, SegSegments, write_labels_seg};

use crate::case::{Case, Profile, Subset};
use crate::error::{CloeError, Result};
use crate::infer::CaseMaps;
use crate::io::{OutputType, WriteOptions, write_volumes};
use crate::metrics::{MeasurementReport, measure_labels};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One modality in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModalityReport {
    pub modality: String,
    pub present: bool,
    pub used: bool,
    pub u: f64,
    pub v: f64,
    pub w: f64,
}

/// The JSON report of `cloe segment`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentReport {
    pub case: String,
    pub profile: Profile,
    pub device: String,
    pub seconds: f64,
    pub modalities: Vec<ModalityReport>,
    /// Voxels and ml of each on-disk label value in the written map.
    pub labels: Vec<(u8, usize, f64)>,
    /// What the viewer's measurements panel shows of the written map: region volumes, Dice and HD95
    /// against the case's ground truth when it has one, the lesions.
    pub measurements: MeasurementReport,
    /// How the case was cut into windows for the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsReport>,
}

/// The windows a segmentation ran over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowsReport {
    pub mode: crate::infer::WindowMode,
    /// The overlap of patch windows (not used by whole-case windows, whose seams are half a patch).
    pub overlap: f64,
    pub count: usize,
    /// One window's size on the model's grid, voxels (x, y, z).
    pub size: [usize; 3],
}

impl WindowsReport {
    /// The windows `session` cuts its case into with `infer`.
    pub fn of(session: &crate::infer::Session, infer: crate::infer::InferOptions) -> Self {
        Self {
            mode: infer.windows,
            overlap: infer.overlap,
            count: session.window_count(),
            size: session.plan().size,
        }
    }
}

impl SegmentReport {
    /// The report of `maps`, made from `case` with the modalities `used`.
    pub fn new(
        case: &Case,
        used: &Subset,
        maps: &CaseMaps,
        device: String,
        seconds: f64,
        labels: Vec<(u8, usize, f64)>,
    ) -> Self {
        let present = case.available();
        let modalities = case
            .profile
            .modalities()
            .iter()
            .enumerate()
            .map(|(i, m)| ModalityReport {
                modality: m.to_string(),
                present: present.contains(i),
                used: used.contains(i),
                u: maps.u[i],
                v: maps.v[i],
                w: maps.w[i],
            })
            .collect();
        let truth = case.label.as_ref().map(|l| l.classes.as_slice());
        let measured = measure_labels(case.profile, &case.grid, &maps.classes, truth);
        let measurements =
            MeasurementReport::new(&case.id, case.profile, &case.grid, "model", &measured);
        Self {
            case: case.id.clone(),
            profile: case.profile,
            device,
            seconds,
            modalities,
            labels,
            measurements,
            windows: None,
        }
    }
}

/// Writes the label map (on-disk convention) to `path`; returns the (value, voxels, ml) counts.
pub fn write_labels(
    path: &Path,
    case: &Case,
    classes: &[u8],
    opts: &WriteOptions,
) -> Result<Vec<(u8, usize, f64)>> {
    let conv = case.convention();
    let disk: Vec<f32> = classes.iter().map(|&c| conv.disk_of(c) as f32).collect();
    write_volumes(path, &case.grid, &[&disk], OutputType::Labels, opts)?;
    let ml = case.grid.voxel_ml();
    Ok(conv
        .disk_values()
        .iter()
        .enumerate()
        .map(|(c, &v)| {
            let n = classes.iter().filter(|&&x| x as usize == c).count();
            (v, n, n as f64 * ml)
        })
        .collect())
}

/// Writes the optional outputs: 4-D probabilities, one label map per used expert in `experts_dir`,
/// and the region map.
pub fn write_extras(
    case: &Case,
    maps: &CaseMaps,
    probabilities: Option<&Path>,
    experts_dir: Option<&Path>,
    region: Option<&Path>,
    opts: &WriteOptions,
) -> Result<()> {
    if let Some(p) = probabilities {
        let chans: Vec<&[f32]> = maps.probs.iter().map(Vec::as_slice).collect();
        write_volumes(p, &case.grid, &chans, OutputType::Float32, opts)?;
    }
    if let Some(dir) = experts_dir {
        std::fs::create_dir_all(dir).map_err(|e| CloeError::write_failed(dir, &e))?;
        for (key, e) in case.profile.modalities().iter().zip(&maps.experts) {
            if let Some(classes) = e {
                write_labels(
                    &dir.join(format!("expert_{key}.nii.gz")),
                    case,
                    classes,
                    opts,
                )?;
            }
        }
    }
    if let Some(r) = region {
        write_volumes(r, &case.grid, &[&maps.region], OutputType::Float32, opts)?;
    }
    Ok(())
}
