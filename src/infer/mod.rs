//! Inference over a whole case, owned by one type: a [`Session`] holds the network, the prepared case and
//! the experts of every sliding window (`experts`), and fuses them for any modality subset (`fusion`),
//! back on the case's own grid. The case is cut into windows as `plan` decides (the whole case, or the
//! model's patch with half overlap) and they are blended with Gaussian weights (`windows`).
//! `cloe segment`, `cloe eval` and the viewer all run the model through a session.

mod experts;
mod fusion;
pub mod memory;
mod plan;
mod session;
mod windows;

pub use experts::ExpertCache;
pub use fusion::{CaseMaps, SampleMaps, argmax_flat, disagreement, to_case_grid};
pub use plan::{GPU_TENSOR_LIMIT, WindowBudget, WindowMode, forward_bytes_per_voxel, plan};
pub use session::Session;
pub use windows::{WindowPlan, accumulate, extract, gaussian, starts};

use crate::case::Case;
use crate::error::Result;
use crate::model::CloeNet;
use crate::preprocess::{PrepareOptions, Sample, prepare};

/// How inference runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferOptions {
    /// How the case is cut into windows.
    pub windows: WindowMode,
    /// How much neighbouring patch windows overlap (0.5: each advances by half a patch).
    pub overlap: f64,
}

impl InferOptions {
    /// The default overlap of patch windows.
    pub const OVERLAP: f64 = 0.5;
}

impl Default for InferOptions {
    fn default() -> Self {
        Self {
            windows: WindowMode::default(),
            overlap: Self::OVERLAP,
        }
    }
}

/// Prepares `case` for `net` (crop, z-score, model spacing).
pub fn prepare_for(net: &CloeNet, case: &Case) -> Result<Sample> {
    prepare(case, PrepareOptions::at_spacing(net.config().spacing_mm))
}
