//! CLoE Studio: reading multimodal MRI when some sequences are missing.
//!
//! The data path: files ──[`io`]──▶ [`volume::Volume`] ──[`case`]──▶ [`case::Case`] (one grid, profile,
//! label map) ──[`preprocess`]──▶ [`preprocess::Sample`] (cropped, z-scored, model spacing) ──▶ network.
//! The CLI ([`cli`]) and the app call the same functions.

pub mod allocator;
pub mod app;
pub mod backend_check;
pub mod bench;
pub mod case;
pub mod cli;
pub mod device;
pub mod device_probe;
pub mod edit;
pub mod error;
pub mod eval;
pub mod export_prediction;
pub mod fuzz_entry;
pub mod geometry;
pub mod guard;
pub mod infer;
pub mod inspect;
pub mod io;
pub mod loss;
pub mod lossy_path;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod panic_capture;
pub mod postprocess;
pub mod preprocess;
pub mod refine;
pub mod render;
pub mod resample;
pub mod resources;
pub mod stats;
pub mod surface;
pub mod train;
pub mod volume;
pub mod worklist;

pub use error::{CloeError, Result};
