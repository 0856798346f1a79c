//! The integration tests in one crate, so burn, eframe and wgpu are linked once for all of them (the
//! CLI training test, whose in-process run needs the device's random generator to itself while it
//! initialises a model, is its own crate: `tests/cli_model.rs`). Shared helpers: `tests/common`.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
pub(crate) mod bad_model;
mod case_discovery;
mod cohort_runs;
mod device_choice;
mod device_faults;
mod dicom_bad_input;
mod dicom_real;
mod dicom_seg;
mod full_disk;
mod fuzz_regressions;
mod gpu_kernels;
mod inspect_cli;
mod io_real_data;
mod large_volume;
mod layers;
mod measurements_out;
mod metrics_real;
mod model_losses;
mod model_network;
mod peer_files;
mod preprocess_real;
mod refine;
mod shipped_model;
mod soak;
mod unnamed_files;
mod viewer;
mod viewer_bad_input;
mod viewer_editing;
mod viewer_export_killed;
mod viewer_gpu;
mod viewer_model;
mod viewer_read_only;
mod viewer_sequences;
mod viewer_surface;
mod viewer_training;
mod viewer_two_windows;
mod viewer_work_at_once;
mod viewer_worklist;
mod wgpu_gradients;
mod wgpu_parity;
mod write_roundtrip;
