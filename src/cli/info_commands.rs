//! `cloe devices` and `cloe bench`: what the machine offers the network, and how fast the network runs
//! on it.

use super::{outln, to_json};
use crate::case::Profile;
use crate::device::{self, DeviceChoice};
use crate::error::Result;
use crate::model::CloeConfig;
use std::path::PathBuf;

/// Arguments of `cloe devices`.
#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    /// Device to select: auto (the device that ran a small forward fastest on this machine), cpu or
    /// gpu. Default: CLOE_DEVICE, else auto.
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
    /// Measure the devices again (auto keeps its figures per machine and version in the user's cache
    /// folder, or CLOE_DEVICE_CACHE).
    #[arg(long)]
    measure: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also check the selected device's convolution weight gradients against a direct computation
    /// (what training does before it trusts a GPU).
    #[arg(long)]
    check_gradients: bool,
}

/// Arguments of `cloe bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A BraTS case folder.
    case: PathBuf,
    #[arg(long, value_enum)]
    device: Option<DeviceChoice>,
    /// Base channels C of the benchmarked model.
    #[arg(long, default_value_t = CloeConfig::DEFAULT_CHANNELS)]
    channels: usize,
    /// Patch side of the training step.
    #[arg(long, default_value_t = CloeConfig::DEFAULT_PATCH)]
    patch: usize,
    /// Model spacing in mm.
    #[arg(long, default_value_t = CloeConfig::DEFAULT_SPACING_MM)]
    spacing: f64,
    /// Timed runs per figure (after one warm-up).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Patches per training step.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Also show where the forward and the training step spend their time: convolutions
    /// (forward, weight and input gradients) against everything else, read-backs, and every
    /// convolution shape timed on its own.
    #[arg(long)]
    profile: bool,
    /// Also time the forward and the training step with Burn's own CPU operations in place of
    /// the project's kernels (the baseline of the CPU speed-up; CPU only).
    #[arg(long)]
    compare_burn: bool,
    /// Only count what a forward and a training step ask of the GPU (`--device gpu`; lavapipe
    /// counts what any GPU would be asked): compute dispatches by kernel and host read-backs.
    #[arg(long)]
    dispatches: bool,
}

/// `cloe devices`.
pub fn run_devices(a: DevicesArgs) -> Result<()> {
    let adapters = device::adapters();
    let measure = if a.measure {
        device::Measure::Again
    } else {
        device::Measure::Now
    };
    let chosen = device::select_with(a.device, measure)?;
    let measured = device::kept_measurement(&adapters);
    if a.json {
        let value = serde_json::json!({
            "adapters": adapters,
            "selected": chosen.label,
            "why": chosen.why,
            "measured": measured.map(|r| r.measured),
        });
        outln!("{}", to_json(&value)?)?;
    } else {
        if adapters.is_empty() {
            outln!("no wgpu adapter")?;
        }
        for a in &adapters {
            outln!(
                "adapter  {} ({}, {}, driver {})",
                a.name,
                a.kind,
                a.backend,
                a.driver
            )?;
        }
        if let Some(r) = &measured {
            for m in &r.measured {
                match (m.seconds, &m.error) {
                    (Some(s), _) => outln!(
                        "measured {}: {s:.3} s a {}³ forward",
                        m.name,
                        device::PROBE_SIDE
                    )?,
                    (None, e) => outln!(
                        "measured {}: failed ({})",
                        m.name,
                        e.as_deref().unwrap_or("?")
                    )?,
                }
            }
        }
        outln!("selected {} ({})", chosen.label, chosen.why)?;
    }
    if a.check_gradients {
        let check = crate::backend_check::check_conv_weight_gradient(&chosen.device);
        let verdict = if check.passed() {
            "passed, training allowed"
        } else {
            "FAILED, training refused"
        };
        outln!(
            "gradient check on {}: conv3d weight gradient at 32^3 off by {:.2e} (relative): {verdict}",
            chosen.label,
            check.relative_error,
        )?;
    }
    Ok(())
}

/// `cloe bench`.
pub fn run_bench(a: BenchArgs) -> Result<()> {
    let compute = device::select(a.device)?;
    if a.dispatches {
        if !compute.is_gpu {
            return Err(crate::error::CloeError::Refused(
                "--dispatches counts what a GPU is asked to run; the CPU runs no dispatches: add \
                 --device gpu"
                    .into(),
            ));
        }
        let counts = crate::bench::dispatch_counts(&compute.device);
        return outln!("dispatches on {}\n{counts}", compute.label);
    }
    let cfg = CloeConfig {
        channels: a.channels,
        patch: a.patch,
        spacing_mm: a.spacing,
        ..CloeConfig::for_profile(Profile::Brats)
    };
    cfg.validate().map_err(|why| {
        crate::error::CloeError::setting(
            crate::error::Setting::Training,
            format!("cloe bench: {why}"),
        )
    })?;
    let opts = crate::bench::BenchOptions {
        runs: a.runs,
        batch: a.batch,
        profile: a.profile,
        compare_burn: a.compare_burn,
    };
    outln!(
        "{}",
        crate::bench::network_bench(&a.case, &compute, &cfg, opts)?
    )
}
