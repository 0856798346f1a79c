//! Segmenting a case with a model for a chosen set of modalities, and writing what the CLI and the app
//! export: the label map in the case's own label convention and grid, probabilities, each expert's
//! label map, the REC region map, and a JSON report of u, v, w per modality.

use crate::case::{Case, LabelConvention, Profile};
use crate::error::{CloeError, Result};
use crate::infer::{
    CaseMaps, ExpertCache, InferOptions, compute_experts, fuse, prepare_for, to_case_grid,
};
use crate::io::{OutputType, WriteOptions, write_volumes};
use crate::model::CloeNet;
use burn::prelude::*;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Parses `flair,t1c` into an availability mask over `profile`'s modalities.
pub fn parse_modalities(profile: Profile, list: &str) -> Result<Vec<bool>> {
    let mut mask = vec![false; profile.modalities().len()];
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let i = profile.modality_index(name).ok_or_else(|| {
            CloeError::Invalid(format!(
                "{name} is not a {profile} modality (use {})",
                profile.modalities().join(", ")
            ))
        })?;
        mask[i] = true;
    }
    if !mask.iter().any(|&m| m) {
        return Err(CloeError::Invalid("--modalities names no modality".into()));
    }
    Ok(mask)
}

/// One modality in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ModalityReport {
    pub modality: String,
    pub present: bool,
    pub used: bool,
    pub u: f64,
    pub v: f64,
    pub w: f64,
}

/// The JSON report of `cloe segment`.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentReport {
    pub case: String,
    pub profile: Profile,
    pub device: String,
    pub seconds: f64,
    pub modalities: Vec<ModalityReport>,
    /// Voxels and ml of each on-disk label value in the written map.
    pub labels: Vec<(u8, usize, f64)>,
}

/// Runs the experts of every present modality, then the fusion for `mask`.
pub fn segment_case(
    net: &CloeNet,
    case: &Case,
    device: &Device,
    mask: &[bool],
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<(CaseMaps, ExpertCache)> {
    if net.config().profile != case.profile {
        return Err(CloeError::Invalid(format!(
            "the model is for {} cases but {} is a {} case",
            net.config().profile,
            case.id,
            case.profile
        )));
    }
    let cache = compute_experts(
        net,
        prepare_for(net, case),
        device,
        InferOptions::default(),
        progress,
        cancel,
    )?;
    let maps = to_case_grid(&cache, &fuse(net, &cache, mask, true)?);
    Ok((maps, cache))
}

/// The convention a case's outputs are written in: its label map's, else the profile's default.
pub fn output_convention(case: &Case) -> LabelConvention {
    case.label
        .as_ref()
        .map(|l| l.convention)
        .unwrap_or(case.profile.default_convention())
}

/// Writes the label map (on-disk convention) to `path`; returns the (value, voxels, ml) counts.
pub fn write_labels(
    path: &Path,
    case: &Case,
    classes: &[u8],
    opts: &WriteOptions,
) -> Result<Vec<(u8, usize, f64)>> {
    let conv = output_convention(case);
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
        std::fs::create_dir_all(dir).map_err(|e| CloeError::unwritable(dir, e.to_string()))?;
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
