//! `Volume`: one 3-D scalar image on a grid (voxels in x-fastest order, shape, affine), the unit every
//! other module passes around.

use crate::geometry::{Affine, WorldBox};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The largest field of view an MRI scan has along any axis, mm (scanner bores are under 1 m wide).
pub const MAX_FIELD_OF_VIEW_MM: f64 = 2000.0;

/// The farthest an image's origin lies from the scanner's centre, mm (a patient is within a metre).
pub const MAX_ORIGIN_MM: f64 = 100_000.0;

/// A regular voxel grid placed in the world by an affine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Voxel counts along the three axes (x, y, z as stored on disk).
    pub dims: [usize; 3],
    /// Voxel index to world (mm, RAS+).
    pub affine: Affine,
}

impl Grid {
    /// A grid of `dims` voxels placed by `affine`.
    pub fn new(dims: [usize; 3], affine: Affine) -> Self {
        Self { dims, affine }
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// True for a grid without voxels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Linear index of voxel (x, y, z); x runs fastest, as in NIfTI files.
    #[inline]
    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        x + self.dims[0] * (y + self.dims[1] * z)
    }

    /// Voxel spacing in mm.
    pub fn spacing(&self) -> [f64; 3] {
        self.affine.spacing()
    }

    /// Volume of one voxel in ml.
    pub fn voxel_ml(&self) -> f64 {
        self.spacing().iter().product::<f64>() / 1000.0
    }

    /// Orientation codes, e.g. `"LPS"`.
    pub fn axcodes(&self) -> String {
        self.affine.axcodes()
    }

    /// The world box the grid covers.
    pub fn world_box(&self) -> WorldBox {
        WorldBox::of_grid(self.dims, &self.affine)
    }

    /// Refuses a grid wider than any MRI scan (more than [`MAX_FIELD_OF_VIEW_MM`] along an axis): a
    /// damaged voxel size or unit, which would otherwise make the model's grid enormous.
    pub fn check_field_of_view(&self) -> Result<(), String> {
        // Along the voxel axes (a world box would lose a long axis to rounding next to a far origin).
        let spacing = self.spacing();
        let size: [f64; 3] = std::array::from_fn(|a| spacing[a] * self.dims[a] as f64);
        let origin: [f64; 3] = std::array::from_fn(|a| self.affine.0[a][3]);
        if let Some(far) = origin
            .iter()
            .find(|t| !t.is_finite() || t.abs() > MAX_ORIGIN_MM)
        {
            return Err(format!(
                "its origin lies {far:.3e} mm from the scanner's centre (at most {MAX_ORIGIN_MM} mm): \
                 the header's offsets (qoffset, srow) are damaged"
            ));
        }
        if size
            .iter()
            .all(|s| s.is_finite() && *s <= MAX_FIELD_OF_VIEW_MM)
        {
            return Ok(());
        }
        Err(format!(
            "its field of view is {:.0}x{:.0}x{:.0} mm, larger than any MRI scan (at most {} mm along \
             an axis): the voxel size (pixdim and its unit, PixelSpacing or the slice positions) is \
             damaged",
            size[0], size[1], size[2], MAX_FIELD_OF_VIEW_MM
        ))
    }

    /// True when both grids have the same shape and (to 1e-4 mm) the same affine.
    pub fn same_as(&self, other: &Grid) -> bool {
        self.dims == other.dims
            && self
                .affine
                .0
                .iter()
                .flatten()
                .zip(other.affine.0.iter().flatten())
                .all(|(a, b)| (a - b).abs() < 1e-4)
    }
}

/// Where a volume's affine came from, in the order NIfTI readers try them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AffineSource {
    /// The sform rows (sform_code > 0).
    Sform,
    /// The quaternion qform (qform_code > 0, sform_code = 0).
    Qform,
    /// Neither code set: spacing from pixdim only (ANALYZE-style, orientation unknown).
    Pixdim,
    /// Built from a DICOM series (orientation, positions and pixel spacing).
    Dicom,
    /// Made by this program (a resampled or cropped volume).
    Derived,
}

/// What the file said about a volume, kept for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeInfo {
    /// The file it was read from, if any.
    #[serde(serialize_with = "crate::lossy_path::option")]
    pub path: Option<PathBuf>,
    /// On-disk datatype, e.g. `int16`.
    pub datatype: String,
    /// Which header field gave the affine.
    pub affine_source: AffineSource,
    /// Voxels that were NaN in the file (set to 0 when allowed).
    pub nan_voxels: usize,
    /// Voxels that were ±Inf in the file (set to 0 when allowed).
    pub inf_voxels: usize,
}

impl VolumeInfo {
    /// Info for a volume computed by this program.
    pub fn derived(datatype: &str) -> Self {
        Self {
            path: None,
            datatype: datatype.to_string(),
            affine_source: AffineSource::Derived,
            nan_voxels: 0,
            inf_voxels: 0,
        }
    }
}

/// A 3-D scalar image: voxels as f32 (after `scl_slope`/`scl_inter`), x fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub grid: Grid,
    pub data: Vec<f32>,
    pub info: VolumeInfo,
}

impl Volume {
    /// A volume from its parts; `data.len()` must equal the grid's voxel count.
    pub fn new(grid: Grid, data: Vec<f32>, info: VolumeInfo) -> Self {
        assert_eq!(grid.len(), data.len(), "voxel count must match the grid");
        Self { grid, data, info }
    }

    /// A volume of zeros on `grid`.
    pub fn zeros(grid: Grid, datatype: &str) -> Self {
        Self::new(grid, vec![0.0; grid.len()], VolumeInfo::derived(datatype))
    }

    /// The same grid and info, other voxels.
    pub fn with_data(&self, data: Vec<f32>) -> Self {
        Self::new(self.grid, data, self.info.clone())
    }

    /// Voxel value at (x, y, z).
    #[inline]
    pub fn at(&self, x: usize, y: usize, z: usize) -> f32 {
        self.data[self.grid.index(x, y, z)]
    }

    /// Shape of the grid.
    pub fn dims(&self) -> [usize; 3] {
        self.grid.dims
    }
}
