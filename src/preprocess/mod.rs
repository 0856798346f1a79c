//! Preprocessing a case for the network: foreground crop, robust z-score per modality, resampling to
//! the model's spacing, and the way back to the case's own grid.

mod crop;
mod normalize;

pub use crop::{BBox, crop, crop_data, foreground_bbox, uncrop};
pub use normalize::robust_zscore;

use crate::case::Case;
use crate::error::{CloeError, Result};
use crate::resample::{Interp, resample_data};
use crate::volume::Grid;
use normalize::ZScore;

/// The grid covering the same field of view as `grid` at `spacing` mm (per axis).
pub fn grid_at_spacing(grid: &Grid, spacing: [f64; 3]) -> Grid {
    let old = grid.spacing();
    let dims = std::array::from_fn(|a| {
        ((grid.dims[a] as f64 * old[a] / spacing[a]).round() as usize).max(1)
    });
    Grid::new(dims, grid.affine.with_spacing(spacing))
}

/// How to prepare a case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrepareOptions {
    /// Isotropic model spacing in mm; `None` keeps the case's spacing.
    pub spacing: Option<f64>,
    /// Voxels kept around the foreground box.
    pub margin: usize,
}

impl PrepareOptions {
    /// Voxels kept around the foreground box by default.
    pub const MARGIN: usize = 2;

    /// How a model at `spacing_mm` sees a case: cropped with the default margin, resampled to its
    /// spacing.
    pub fn at_spacing(spacing_mm: f64) -> Self {
        Self {
            spacing: Some(spacing_mm),
            margin: Self::MARGIN,
        }
    }
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            spacing: None,
            margin: Self::MARGIN,
        }
    }
}

/// A case ready for the network: cropped, z-scored, at the model's spacing, with the way back.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The grid the network sees.
    pub grid: Grid,
    /// One z-scored channel per profile modality; `None` where missing.
    pub channels: Vec<Option<Vec<f32>>>,
    /// Training classes on `grid`, when the case has a label map.
    pub label: Option<Vec<u8>>,
    /// The crop box on the case grid.
    pub bbox: BBox,
    /// The case's own grid (where outputs go back to).
    pub case_grid: Grid,
    /// The z-score of each modality present.
    pub zscores: Vec<Option<ZScore>>,
}

/// The most voxels a prepared grid may have (2^25, a 322³ cube: 128 MiB per channel; a brain at 2 mm is
/// 120³, a 512×512×400 scan at 1 mm resampled to 2 mm is 256×256×200). A case whose voxel size or
/// a model whose spacing would make more is refused with the figure, before anything is allocated.
pub const MAX_SAMPLE_VOXELS: u64 = 1 << 25;

/// Refuses a grid bigger than [`MAX_SAMPLE_VOXELS`], naming its size, the memory it would take and
/// the spacings that made it.
pub fn check_sample_grid(grid: &Grid, from: &Grid, channels: usize) -> Result<()> {
    // In f64: a voxel size of kilometres makes dims whose product overflows any integer.
    let voxels: f64 = grid.dims.iter().map(|&d| d as f64).product();
    if voxels <= MAX_SAMPLE_VOXELS as f64 {
        return Ok(());
    }
    let [a, b, c] = grid.dims;
    let s = from.spacing();
    let t = grid.spacing();
    Err(CloeError::TooLarge(format!(
        "resampling the case (voxels {:.3}×{:.3}×{:.3} mm, {}×{}×{}) to {:.3} mm makes a grid of \
         {a}×{b}×{c} voxels, which would need {:.1} GiB for its {channels} channel(s); the most \
         this program prepares is {} voxels. Check the image's voxel size (pixdim, xyzt_units) or \
         the model's spacing_mm",
        s[0],
        s[1],
        s[2],
        from.dims[0],
        from.dims[1],
        from.dims[2],
        t[0],
        voxels * 4.0 * channels.max(1) as f64 / (1u64 << 30) as f64,
        MAX_SAMPLE_VOXELS
    )))
}

/// Crops `case` to its foreground, z-scores each modality and resamples to the model spacing.
/// Refuses (before allocating) a resampled grid beyond [`MAX_SAMPLE_VOXELS`].
pub fn prepare(case: &Case, opts: PrepareOptions) -> Result<Sample> {
    let present: Vec<_> = case.modalities.iter().flatten().collect();
    let bbox = foreground_bbox(&present, opts.margin).unwrap_or(BBox::full(case.grid.dims));
    let cropped_grid = bbox.grid(&case.grid);
    let grid = match opts.spacing {
        Some(s) => grid_at_spacing(&cropped_grid, [s; 3]),
        None => cropped_grid,
    };
    check_sample_grid(&grid, &cropped_grid, case.modalities.len())?;
    let (mut channels, mut zscores) = (Vec::new(), Vec::new());
    for m in &case.modalities {
        let Some(m) = m else {
            channels.push(None);
            zscores.push(None);
            continue;
        };
        let mut data = crop_data(&m.data, case.grid.dims, &bbox);
        zscores.push(robust_zscore(&mut data));
        channels.push(Some(resample_data(
            &data,
            &cropped_grid,
            &grid,
            Interp::Linear,
            0.0,
        )));
    }
    let label = case.label.as_ref().map(|l| {
        let classes: Vec<f32> = l.classes.iter().map(|&c| c as f32).collect();
        let cropped = crop_data(&classes, case.grid.dims, &bbox);
        resample_data(&cropped, &cropped_grid, &grid, Interp::Nearest, 0.0)
            .into_iter()
            .map(|c| c as u8)
            .collect()
    });
    Ok(Sample {
        grid,
        channels,
        label,
        bbox,
        case_grid: case.grid,
        zscores,
    })
}

impl Sample {
    /// Brings a map on the sample grid (a probability channel, say) back onto the case grid: values
    /// outside the crop box get `fill`.
    pub fn to_case_grid(&self, data: &[f32], interp: Interp, fill: f32) -> Vec<f32> {
        resample_data(data, &self.grid, &self.case_grid, interp, fill)
    }
}
