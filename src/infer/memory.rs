//! What segmenting a case will hold in memory, estimated from the grids and the model before any work,
//! and checked against what the machine has free: a case too large for the machine is refused at once
//! with the figure it would need, instead of being killed by the system halfway through.
//!
//! The big buffers, in bytes (M present modalities, K classes, C base channels, w a window's voxels, N
//! the sample grid padded to the windows, n the case grid):
//! - the expert cache: every window keeps, per present modality, its four encoder feature levels
//!   (C·2^l channels at 1/2^l resolution) and K logits and K probabilities, as `f32`;
//! - one window's forward at its peak ([`forward_bytes_per_voxel`] · w), two where two windows run
//!   at once ([`parallel_windows`]);
//! - the fusion on the sample grid: K probabilities, the region map and the blending norm, and each
//!   expert's K probabilities for the disagreement map: (K + 2 + M·K)·4·N;
//! - with the experts kept, the last fusions kept for switching back (`KEPT_FUSIONS` of K
//!   probabilities and the region map): KEPT_FUSIONS·(K + 1)·4·N;
//! - the maps on the case grid: classes, K probabilities, region, disagreement, M expert labels, and
//!   one `f32` copy while a map is written: (1 + 4K + 4 + 4 + M + 4)·n.

use super::plan::{GPU_TENSOR_LIMIT, WindowBudget, feature_floats, forward_bytes_per_voxel};
use super::windows::WindowPlan;
use crate::error::{CloeError, Result};
use crate::model::CloeConfig;
use crate::volume::Grid;

const GIB: f64 = (1u64 << 30) as f64;

/// The estimate, by part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryEstimate {
    pub windows: usize,
    /// One window's size.
    pub window: [usize; 3],
    pub expert_cache: u64,
    /// One window's forward at its peak.
    pub forward: u64,
    pub sample_maps: u64,
    /// The fusions a session with its experts kept also keeps.
    pub kept_fusions: u64,
    pub case_maps: u64,
}

impl MemoryEstimate {
    /// The whole estimate, bytes.
    pub fn total(&self) -> u64 {
        self.expert_cache + self.forward + self.sample_maps + self.kept_fusions + self.case_maps
    }
}

/// The estimate for `present` modalities of a case on `case_grid`, prepared onto `sample_dims` and cut
/// into windows by `plan`.
pub fn estimate(
    cfg: &CloeConfig,
    sample_dims: [usize; 3],
    case_grid: &Grid,
    present: usize,
    plan: &WindowPlan,
) -> MemoryEstimate {
    let padded = plan.padded(sample_dims);
    let windows = plan.origins(padded).len();
    let block = plan.voxels() as f64;
    let features = feature_floats(cfg);
    let (k, m) = (cfg.classes as f64, present as f64);
    let kept = super::session::KEPT_FUSIONS as f64;
    let per_window = m * block * (features + 2.0 * k) * 4.0;
    let n = padded.iter().product::<usize>() as f64;
    let case = case_grid.len() as f64;
    MemoryEstimate {
        windows,
        window: plan.size,
        expert_cache: (windows as f64 * per_window) as u64,
        forward: forward_bytes_per_voxel(cfg, present) * plan.voxels() as u64,
        sample_maps: ((k + 2.0 + m * k) * 4.0 * n) as u64,
        kept_fusions: (kept * (k + 1.0) * 4.0 * n) as u64,
        case_maps: ((1.0 + 4.0 * k + 4.0 + 4.0 + m + 4.0) * case) as u64,
    }
}

/// The memory this process may still use: `CLOE_MEMORY_LIMIT_MB` when set (a cap of the user's), else
/// the system's `MemAvailable` (Linux); `None` where neither is known.
pub fn available() -> Option<u64> {
    if let Some(mb) = std::env::var("CLOE_MEMORY_LIMIT_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(mb << 20);
    }
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb << 10)
}

/// What one window may hold: on the CPU, half of what `available` leaves after the maps and (with
/// `cache`) the experts of the whole case (4 GiB in all where the free memory is not known); on a GPU,
/// 2 GiB, and no tensor over [`GPU_TENSOR_LIMIT`].
pub fn window_budget(
    cfg: &CloeConfig,
    sample_dims: [usize; 3],
    case_grid: &Grid,
    present: usize,
    cache: bool,
    cpu: bool,
    available: Option<u64>,
) -> WindowBudget {
    if !cpu {
        return WindowBudget {
            forward: 2 << 30,
            tensor: Some(GPU_TENSOR_LIMIT),
        };
    }
    let whole = WindowPlan {
        size: sample_dims,
        step: sample_dims,
    };
    let rest = estimate(cfg, sample_dims, case_grid, present, &whole);
    let experts = rest.expert_cache + rest.kept_fusions;
    let kept = rest.sample_maps + rest.case_maps + if cache { experts } else { 0 };
    WindowBudget {
        forward: available.unwrap_or(4 << 30).saturating_sub(kept) / 2,
        tensor: None,
    }
}

/// How many windows a session runs at once: on the CPU two, where the memory also holds a second
/// window's forward (the network's element-wise work runs on one core, so two windows keep a 2-core
/// machine's cores busy: `cloe segment` 0.70x the time, benches/README.md), else one; on a GPU one.
pub fn parallel_windows(e: &MemoryEstimate, cpu: bool, available: Option<u64>) -> usize {
    let second = e.total() + e.forward;
    if cpu && e.windows > 1 && available.is_none_or(|free| second <= free) {
        2
    } else {
        1
    }
}

/// Refuses `estimate` when it exceeds `available`, with the figures and what to do.
pub fn check(case: &str, e: &MemoryEstimate, available: Option<u64>) -> Result<()> {
    let Some(free) = available else {
        return Ok(());
    };
    if e.total() <= free {
        return Ok(());
    }
    let maps = (e.sample_maps + e.case_maps) as f64 / GIB;
    let without = (e.total() - e.expert_cache - e.kept_fusions) as f64 / GIB;
    let (detail, way_out) = if e.expert_cache > 0 {
        (
            format!(
                "{} windows of {}x{}x{} with every expert kept for the modality switches: {:.1} GiB; \
                 the maps: {maps:.1} GiB",
                e.windows,
                e.window[0],
                e.window[1],
                e.window[2],
                e.expert_cache as f64 / GIB
            ),
            format!("; `cloe segment` keeps no experts and needs about {without:.1} GiB"),
        )
    } else {
        (
            "the maps on the model's and the case's grids, and one window's forward".to_string(),
            String::new(),
        )
    };
    Err(CloeError::TooLarge(format!(
        "segmenting {case} needs about {:.1} GiB of memory ({detail}) but {:.1} GiB is available; \
         close other programs, use a machine with more memory, or crop the case to the region to \
         segment{way_out}",
        e.total() as f64 / GIB,
        free as f64 / GIB
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Profile;
    use crate::geometry::Affine;

    #[test]
    fn counts_by_hand_and_refuses_with_the_figures() {
        let cfg = CloeConfig::for_profile(Profile::Brats);
        let grid = Grid::new([10, 10, 10], Affine::IDENTITY);
        // One 48³ window of 4 experts: C·(1 + 2/8 + 4/64 + 8/512) + 2K = 10.625 + 8 floats per voxel.
        let e = estimate(&cfg, [40, 40, 40], &grid, 4, &WindowPlan::cubes(48, 0.5));
        assert_eq!(e.windows, 1);
        assert_eq!(e.expert_cache, (4.0 * 110_592.0 * 18.625 * 4.0) as u64);
        // Its forward: the four experts' cache plus the fusion's features (10.625), 6C and 2K floats.
        let forward: f64 = (4.0 * 18.625 + 10.625 + 48.0 + 8.0) * 4.0;
        assert_eq!(e.forward, (forward.ceil() as u64) * 110_592);
        // K + 2 + M·K = 22; six kept fusions of K + 1 maps.
        assert_eq!(e.sample_maps, (22 * 4 * 110_592) as u64);
        assert_eq!(e.kept_fusions, (6 * 5 * 4 * 110_592) as u64);
        assert_eq!(e.case_maps, (33 * 1000) as u64);
        assert!(check("c", &e, None).is_ok());
        // One window runs alone; of several, two at once where a second forward fits.
        assert_eq!(parallel_windows(&e, true, None), 1);
        let several = MemoryEstimate { windows: 8, ..e };
        let second = several.total() + several.forward;
        assert_eq!(parallel_windows(&several, true, None), 2);
        assert_eq!(parallel_windows(&several, true, Some(second)), 2);
        assert_eq!(parallel_windows(&several, true, Some(second - 1)), 1);
        assert_eq!(parallel_windows(&several, false, None), 1);
        assert!(check("c", &e, Some(e.total())).is_ok());
        let msg = check("c", &e, Some(1 << 20)).unwrap_err().to_string();
        assert!(
            msg.contains("0.0 GiB is available") && msg.contains("1 windows of 48x48x48"),
            "{msg}"
        );
        assert!(msg.contains("`cloe segment` keeps no experts"), "{msg}");
        let maps_only = MemoryEstimate {
            expert_cache: 0,
            kept_fusions: 0,
            forward: 0,
            ..e
        };
        let msg = check("c", &maps_only, Some(1)).unwrap_err().to_string();
        assert!(
            msg.contains("(the maps on the model's") && !msg.contains("windows"),
            "{msg}"
        );
    }
}
