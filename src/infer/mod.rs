//! Inference over a whole case, owned by one type: a [`Session`] holds the network, the prepared case and
//! the experts of every sliding window (`experts`), and fuses them for any modality subset (`fusion`),
//! back on the case's own grid. Windows have the model's patch size and Gaussian blending (`windows`).
//! `cloe segment`, `cloe eval` and the viewer all run the model through a session.

mod experts;
mod fusion;
pub mod memory;
mod session;
mod windows;

pub use experts::ExpertCache;
pub use fusion::{CaseMaps, SampleMaps, argmax_flat, disagreement, to_case_grid};
pub use session::Session;
pub use windows::{accumulate, extract, gaussian, origins, starts};

use crate::case::Case;
use crate::error::Result;
use crate::model::CloeNet;
use crate::preprocess::{PrepareOptions, Sample, prepare};

/// How inference runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferOptions {
    /// Window overlap (0.5: windows advance by half the patch).
    pub overlap: f64,
}

impl Default for InferOptions {
    fn default() -> Self {
        Self { overlap: 0.5 }
    }
}

/// Prepares `case` for `net` (crop, z-score, model spacing).
pub fn prepare_for(net: &CloeNet, case: &Case) -> Result<Sample> {
    prepare(case, PrepareOptions::at_spacing(net.config().spacing_mm))
}
