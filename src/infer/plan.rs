//! How a case is cut into windows for the network. `Patch` is nnU-Net's: cubes of the model's patch
//! overlapping by `--overlap` (half by default: 8 windows' worth of work per voxel). `Whole` runs the
//! cropped case as one window, or, where one window's forward would not fit in the memory at hand,
//! splits the longest side again and again until the windows fit (a few large windows), overlapping
//! by half a patch where they meet. The network is fully convolutional; what changes with
//! the window is the context InstanceNorm and the consistency scores see (the whole case instead of a
//! patch), measured on the validation cases in benches/README.md.

use super::InferOptions;
use super::windows::WindowPlan;
use crate::model::CloeConfig;
use std::fmt;

/// How inference cuts a case into windows.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    /// Cubes of the model's patch overlapping by `--overlap` (nnU-Net's sliding window: half).
    #[default]
    Patch,
    /// The whole cropped case in one window, or the fewest large windows that fit in memory.
    Whole,
}

impl fmt::Display for WindowMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Patch => "patch",
            Self::Whole => "whole",
        })
    }
}

/// Floats per voxel of one modality's four encoder feature levels (C·2^l channels at 1/2^l
/// resolution): what an expert keeps for the fusion, and what the fusion blends.
pub(super) fn feature_floats(cfg: &CloeConfig) -> f64 {
    (0..4)
        .map(|l| cfg.level_channels(l) as f64 / 8f64.powi(l as i32))
        .sum()
}

/// Bytes one window's forward holds at its peak, per voxel of the window, with `present` modalities:
/// every expert's four feature levels and its logits and probabilities (kept until the fusion), the
/// fused features, and the full-resolution activations of one decoder level (upsampled, concatenated
/// skip, convolution output, residual). An upper bound: on the bundled case as one window it says
/// 258 MB, and the process peaked 126 MB above the patch windows' run (benches/README.md).
pub fn forward_bytes_per_voxel(cfg: &CloeConfig, present: usize) -> u64 {
    let (features, k) = (feature_floats(cfg), cfg.classes as f64);
    let experts = present as f64 * (features + 2.0 * k);
    let fusion = features + 6.0 * cfg.channels as f64 + 2.0 * k;
    ((experts + fusion) * 4.0).ceil() as u64
}

/// The largest tensor of a window's forward, bytes per voxel: on a GPU, D_sep decodes every expert
/// stacked along the batch, and its first level concatenates 2C channels.
fn largest_tensor_bytes_per_voxel(cfg: &CloeConfig, present: usize) -> u64 {
    (present * 2 * cfg.channels * 4) as u64
}

/// What a window may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowBudget {
    /// Bytes one window's forward may hold at its peak.
    pub forward: u64,
    /// Bytes the largest single tensor may have (a GPU's storage-buffer binding), where limited.
    pub tensor: Option<u64>,
}

/// A GPU binding every adapter offers (wgpu's default `max_storage_buffer_binding_size`).
pub const GPU_TENSOR_LIMIT: u64 = 128 << 20;

/// The windows `opts` ask for over a sample of `dims` (before padding) with `present` modalities.
pub fn plan(
    cfg: &CloeConfig,
    dims: [usize; 3],
    present: usize,
    opts: InferOptions,
    budget: WindowBudget,
) -> WindowPlan {
    let p = cfg.patch;
    if opts.windows == WindowMode::Patch {
        return WindowPlan::cubes(p, opts.overlap.clamp(0.0, 0.95));
    }
    let (per_voxel, per_tensor) = (
        forward_bytes_per_voxel(cfg, present),
        largest_tensor_bytes_per_voxel(cfg, present),
    );
    let fits = |voxels: usize| {
        voxels as u64 * per_voxel <= budget.forward
            && budget
                .tensor
                .is_none_or(|t| voxels as u64 * per_tensor <= t)
    };
    let dims = dims.map(|d| d.max(p));
    let seam = p / 2;
    let mut pieces = [1usize; 3];
    loop {
        let size = [0, 1, 2].map(|a| side(dims[a], pieces[a], seam, p));
        let step = [0, 1, 2].map(|a| {
            if pieces[a] == 1 {
                size[a]
            } else {
                size[a] - seam
            }
        });
        let plan = WindowPlan { size, step };
        if fits(plan.voxels()) || size.iter().all(|&s| s <= p) {
            return plan;
        }
        // Split the longest side once more.
        let longest = (0..3).max_by_key(|&a| (size[a], a)).unwrap_or(0);
        pieces[longest] += 1;
    }
}

/// The side of each of `k` windows covering `n` voxels with `seam` voxels shared between neighbours,
/// rounded up to a multiple of 8 (three halvings), at least `p`, at most `n` rounded up.
fn side(n: usize, k: usize, seam: usize, p: usize) -> usize {
    let whole = n.div_ceil(8) * 8;
    let each = (n + (k - 1) * seam).div_ceil(k).div_ceil(8) * 8;
    each.clamp(p.min(whole), whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Profile;

    fn whole() -> InferOptions {
        InferOptions {
            windows: WindowMode::Whole,
            ..InferOptions::default()
        }
    }

    fn unlimited() -> WindowBudget {
        WindowBudget {
            forward: u64::MAX,
            tensor: None,
        }
    }

    #[test]
    fn a_case_that_fits_is_one_window_padded_to_a_multiple_of_8() {
        let cfg = CloeConfig::for_profile(Profile::Brats);
        let plan = plan(&cfg, [75, 90, 61], 4, whole(), unlimited());
        assert_eq!(plan.size, [80, 96, 64]);
        let dims = plan.padded([75, 90, 61]);
        assert_eq!(dims, [80, 96, 64]);
        assert_eq!(plan.origins(dims), vec![[0, 0, 0]]);
        // Smaller than a patch: padded to the patch, as the patch windows are.
        let small = super::plan(&cfg, [20, 30, 40], 4, whole(), unlimited());
        assert_eq!(small.size, [48; 3]);
    }

    #[test]
    fn the_patch_mode_is_nnunets_half_overlap() {
        let cfg = CloeConfig::for_profile(Profile::Brats);
        let patch = InferOptions {
            windows: WindowMode::Patch,
            overlap: 0.5,
        };
        let plan = super::plan(&cfg, [75, 90, 61], 4, patch, unlimited());
        assert_eq!(plan, WindowPlan::cubes(48, 0.5));
        assert_eq!(plan.step, [24; 3]);
        let quarter = InferOptions {
            overlap: 0.25,
            ..patch
        };
        assert_eq!(
            super::plan(&cfg, [75, 90, 61], 4, quarter, unlimited()).step,
            [36; 3]
        );
    }

    #[test]
    fn a_tight_budget_splits_the_longest_side_with_a_seam_of_half_a_patch() {
        let cfg = CloeConfig::for_profile(Profile::Brats);
        let dims = [80, 160, 64];
        let per_voxel = forward_bytes_per_voxel(&cfg, 4);
        // Room for a bit more than half the case: two windows along y.
        let budget = WindowBudget {
            forward: per_voxel * (80 * 96 * 64),
            tensor: None,
        };
        let plan = plan(&cfg, dims, 4, whole(), budget);
        // (160 + 24) / 2 = 92, rounded up to 96; they advance by 96 − 24 = 72, the last flush.
        assert_eq!(plan.size, [80, 96, 64]);
        let origins = plan.origins(plan.padded(dims));
        assert_eq!(origins, vec![[0, 0, 0], [0, 64, 0]]);
        // Every voxel is covered.
        let covered = (0..160).all(|y| origins.iter().any(|o| y >= o[1] && y < o[1] + 96));
        assert!(covered);
        // A GPU's binding limit splits too; a budget below one patch leaves patch-sized windows.
        let gpu = WindowBudget {
            forward: u64::MAX,
            tensor: Some(largest_tensor_bytes_per_voxel(&cfg, 4) * 80 * 80 * 64),
        };
        assert!(super::plan(&cfg, dims, 4, whole(), gpu).voxels() <= 80 * 80 * 64);
        let tiny = WindowBudget {
            forward: 1,
            tensor: None,
        };
        let plan = super::plan(&cfg, dims, 4, whole(), tiny);
        assert!(plan.size.iter().all(|&s| s == 48), "{plan:?}");
    }

    #[test]
    fn modes_print_as_the_cli_names_them() {
        use clap::ValueEnum;
        for mode in WindowMode::value_variants() {
            let name = mode.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name, Some(mode.to_string()));
        }
    }
}
