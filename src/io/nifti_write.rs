//! Writing volumes (label maps, probability maps) as NIfTI-1 on their own grid, atomically.

use super::atomic::{WriteOptions, atomic_write};
use super::header::HeaderGeometry;
use crate::error::{CloeError, Result};
use crate::volume::{Grid, Volume};
use ndarray::{Array, IxDyn, ShapeBuilder};
use nifti::NiftiHeader;
use nifti::writer::WriterOptions;
use std::path::Path;

/// The on-disk datatype of a written volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    /// Labels 0..=255, stored as uint8 (what ITK-SNAP and 3D Slicer expect of a segmentation).
    Labels,
    /// Continuous values (probabilities, heat maps), float32.
    Float32,
    /// Values rounded to int16 (the caller scales them first; compact prepared training cases).
    Int16,
}

/// Writes one volume to `path` (`.nii` or `.nii.gz`) on its own grid, atomically.
pub fn write_volume(
    path: &Path,
    volume: &Volume,
    ty: OutputType,
    opts: &WriteOptions,
) -> Result<()> {
    write_volumes(path, &volume.grid, &[&volume.data], ty, opts)
}

/// Writes one or more channels on one grid (several channels make a 4-D file), atomically.
pub fn write_volumes(
    path: &Path,
    grid: &Grid,
    channels: &[&[f32]],
    ty: OutputType,
    opts: &WriteOptions,
) -> Result<()> {
    if !super::is_volume_path(path) {
        return Err(CloeError::unwritable(
            path,
            "the name must end in .nii or .nii.gz",
        ));
    }
    if channels.is_empty() || channels.iter().any(|c| c.len() != grid.len()) {
        return Err(CloeError::Internal(format!(
            "{} channels do not match the grid {:?}",
            channels.len(),
            grid.dims
        )));
    }
    let mut header = NiftiHeader::default();
    HeaderGeometry::write_into(&grid.affine, 1, &mut header);
    header.set_description_str("CLoE Studio").ok();
    let [nx, ny, nz] = grid.dims;
    let shape: Vec<usize> = if channels.len() == 1 {
        vec![nx, ny, nz]
    } else {
        vec![nx, ny, nz, channels.len()]
    };
    atomic_write(path, opts, |tmp| {
        let writer = WriterOptions::new(tmp).reference_header(&header);
        let flat = channels.iter().flat_map(|c| c.iter().copied());
        let result = match ty {
            OutputType::Labels => {
                let data: Vec<u8> = flat.map(|v| v.round().clamp(0.0, 255.0) as u8).collect();
                let array =
                    Array::from_shape_vec(IxDyn(&shape).f(), data).map_err(|e| e.to_string())?;
                writer.write_nifti(&array)
            }
            OutputType::Float32 => {
                let data: Vec<f32> = flat.collect();
                let array =
                    Array::from_shape_vec(IxDyn(&shape).f(), data).map_err(|e| e.to_string())?;
                writer.write_nifti(&array)
            }
            OutputType::Int16 => {
                let data: Vec<i16> = flat
                    .map(|v| v.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16)
                    .collect();
                let array =
                    Array::from_shape_vec(IxDyn(&shape).f(), data).map_err(|e| e.to_string())?;
                writer.write_nifti(&array)
            }
        };
        result.map_err(|e| crate::error::plain_why(&e))
    })
}
