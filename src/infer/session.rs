//! `Session`: one model on one case. It checks once that the model fits the case's profile, prepares the
//! case for the model (crop, z-score, model spacing), plans its windows for the memory at hand, runs
//! the experts of every window once, and then fuses them for any subset of the modalities the case
//! has, back on the case's grid.

use super::experts::{ExpertCache, compute_experts, for_each_window};
use super::fusion::{
    Blend, CaseMaps, SampleMaps, WindowFusion, blend_experts, disagreement_on_case_grid,
    expert_labels, fuse, to_case_grid,
};
use super::windows::WindowPlan;
use super::{InferOptions, memory, plan, prepare_for};
use crate::case::{Case, Subset};
use crate::error::{CloeError, Result};
use crate::model::{CloeNet, Expert};
use crate::preprocess::Sample;
use burn::prelude::*;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// What a session has done so far.
#[derive(Debug, Clone)]
enum Stage {
    Prepared(Sample),
    Experts(ExpertCache),
}

/// Each present expert's own maps, which no modality switch changes: blended once, at the first
/// fusion that shows them.
#[derive(Debug, Clone)]
struct ExpertMaps {
    /// Per modality, its probabilities per class on the padded sample grid.
    probs: Vec<Option<Vec<Vec<f32>>>>,
    /// Per modality, its labels on the case grid.
    labels: Vec<Option<Vec<u8>>>,
}

/// A model on a case.
#[derive(Debug, Clone)]
pub struct Session {
    net: CloeNet,
    device: Device,
    present: Subset,
    plan: WindowPlan,
    /// How many windows run at once.
    parallel: usize,
    stage: Stage,
    experts: OnceLock<ExpertMaps>,
    /// The last fusions on the sample grid, the newest last: switching back to a subset is at once.
    recent: Arc<Mutex<RecentFusions>>,
}

/// Fusions by subset, the most recently used last.
type RecentFusions = Vec<(Subset, Arc<SampleMaps>)>;

/// Puts `entry` at position `at` of the recent fusions (the last is the newest) and lets the oldest
/// go past [`KEPT_FUSIONS`].
fn keep(list: &mut RecentFusions, at: usize, entry: (Subset, Arc<SampleMaps>)) {
    list.insert(at, entry);
    if list.len() > KEPT_FUSIONS {
        list.remove(0);
    }
}

/// How many fusions a session keeps for switching back and ahead ([`memory`] counts them): the one
/// shown, the sets one switch away from it (four for BraTS, see [`Session::prefetch`]) and one more.
pub const KEPT_FUSIONS: usize = 6;

impl Session {
    /// An error when `net` is for another profile than `case` (what [`Session::new`] checks first).
    pub fn fits(net: &CloeNet, case: &Case) -> Result<()> {
        if net.config().profile != case.profile {
            return Err(CloeError::Mismatch(format!(
                "the model is for {} cases but {} is a {} case",
                net.config().profile,
                case.id,
                case.profile
            )));
        }
        Ok(())
    }

    /// Prepares `case` for `net` on `device`, to keep every window's experts for the modality
    /// switches; an error when the model is for another profile or the case needs more memory than
    /// the machine has free.
    pub fn new(net: CloeNet, case: &Case, device: Device) -> Result<Self> {
        Self::with_options(net, case, device, InferOptions::default(), true)
    }

    /// As [`Session::new`], for one fusion only ([`Session::segment_once`]): no experts are kept, so
    /// a case too large for the cache still fits.
    pub fn for_one_subset(net: CloeNet, case: &Case, device: Device) -> Result<Self> {
        Self::with_options(net, case, device, InferOptions::default(), false)
    }

    /// A session with `opts`, keeping every window's experts (`cache`) or not.
    pub fn with_options(
        net: CloeNet,
        case: &Case,
        device: Device,
        opts: InferOptions,
        cache: bool,
    ) -> Result<Self> {
        Self::fits(&net, case)?;
        let sample = prepare_for(&net, case)?;
        let (cfg, dims) = (net.config(), sample.grid.dims);
        let present = case.available().indices().count();
        let cpu = crate::device::is_cpu(&device);
        let free = memory::available();
        let budget = memory::window_budget(cfg, dims, &case.grid, present, cache, cpu, free);
        let plan = plan(cfg, dims, present, opts, budget);
        // Refused now, with the figure, rather than killed by the system halfway: on a GPU the expert
        // cache and the forward live in the GPU's memory, the rest in the machine's.
        let mut need = memory::estimate(cfg, dims, &case.grid, present, &plan);
        if !cache {
            need.kept_fusions = 0;
        }
        if !cache || !cpu {
            need.expert_cache = 0;
        }
        let parallel = memory::parallel_windows(&need, cpu, free);
        need.forward *= parallel as u64;
        if !cpu {
            need.forward = 0;
        }
        memory::check(&case.id, &need, free)?;
        Ok(Self {
            net,
            device,
            present: case.available(),
            plan,
            parallel,
            stage: Stage::Prepared(sample),
            experts: OnceLock::new(),
            recent: Arc::default(),
        })
    }

    /// How the case is cut into windows.
    pub fn plan(&self) -> &WindowPlan {
        &self.plan
    }

    /// How many windows the case is cut into.
    pub fn window_count(&self) -> usize {
        let sample = match &self.stage {
            Stage::Prepared(sample) => sample,
            Stage::Experts(cache) => &cache.sample,
        };
        self.plan.origins(self.plan.padded(sample.grid.dims)).len()
    }

    /// The network.
    pub fn net(&self) -> &CloeNet {
        &self.net
    }

    /// The modalities the case has.
    pub fn present(&self) -> &Subset {
        &self.present
    }

    /// True once the experts have run.
    pub fn has_experts(&self) -> bool {
        matches!(self.stage, Stage::Experts(_))
    }

    /// Runs the experts of every present modality over every window (once; later calls return at
    /// once). `progress(done, total)` after each window; `cancel` stops between windows with
    /// [`CloeError::Cancelled`], and the session can run them again.
    pub fn run_experts(
        &mut self,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<()> {
        let Stage::Prepared(sample) = &self.stage else {
            return Ok(());
        };
        let cache = compute_experts(
            &self.net,
            sample.clone(),
            &self.device,
            self.plan,
            self.parallel,
            progress,
            cancel,
        )?;
        self.stage = Stage::Experts(cache);
        Ok(())
    }

    fn cache(&self) -> Result<&ExpertCache> {
        match &self.stage {
            Stage::Experts(cache) => Ok(cache),
            Stage::Prepared(_) => Err(CloeError::Internal(
                "the experts have not run on this case yet".into(),
            )),
        }
    }

    /// The fusion for `subset` on the case's grid: classes (post-processed as the model's config says),
    /// probabilities, each used expert's labels (with `keep_experts`) and their disagreement, the REC
    /// map, u v w.
    pub fn fuse(&self, subset: &Subset, keep_experts: bool) -> Result<CaseMaps> {
        self.fuse_previewed(subset, keep_experts, None)
    }

    /// As [`Session::fuse`]; when the fusion runs (it was not kept), `preview` (where given) gets a
    /// first look at it as [`Session::segment_previewed`] does, once the windows that cover the case
    /// once are in.
    pub fn fuse_previewed(
        &self,
        subset: &Subset,
        keep_experts: bool,
        preview: Option<&mut dyn FnMut(CaseMaps)>,
    ) -> Result<CaseMaps> {
        let cache = self.cache()?;
        // The first look is brought to the case grid only for a caller who shows it.
        let mut look = preview.map(|preview| {
            move |maps: SampleMaps| preview(self.on_case_grid(&cache.sample, cache.dims, &maps))
        });
        let look = look.as_mut().map(|f| f as &mut dyn FnMut(SampleMaps));
        let maps = self.fusion(cache, subset, look)?;
        let mut out = self.on_case_grid(&cache.sample, cache.dims, &maps);
        if keep_experts {
            let experts = self.expert_maps(cache)?;
            let used = subset.intersection(&self.present);
            let on = |i: usize| used.contains(i);
            out.experts = (experts.labels.iter().enumerate())
                .map(|(i, labels)| labels.clone().filter(|_| on(i)))
                .collect();
            let kept: Vec<&Vec<Vec<f32>>> = (experts.probs.iter().enumerate())
                .filter_map(|(i, probs)| probs.as_ref().filter(|_| on(i)))
                .collect();
            out.disagreement = disagreement_on_case_grid(&cache.sample, cache.dims, &kept);
        }
        Ok(out)
    }

    /// The fusion of the modalities of `subset` the case has, on the sample grid: kept from a recent
    /// call, or run over the cached windows (with a first look for `preview`).
    fn fusion(
        &self,
        cache: &ExpertCache,
        subset: &Subset,
        preview: Option<&mut dyn FnMut(SampleMaps)>,
    ) -> Result<Arc<SampleMaps>> {
        let used = subset.intersection(&self.present);
        {
            let mut list = self.recent();
            if let Some(at) = list.iter().position(|(s, _)| *s == used) {
                let entry = list.remove(at);
                let maps = entry.1.clone();
                list.push(entry);
                return Ok(maps);
            }
        }
        let never = AtomicBool::new(false);
        let work = (self.parallel, &never);
        let maps = Arc::new(fuse(&self.net, cache, &used, work, preview)?);
        let mut list = self.recent();
        let newest = list.len();
        keep(&mut list, newest, (used, maps.clone()));
        Ok(maps)
    }

    /// The list of recent fusions (a panic elsewhere cannot leave it half-changed: taken as it is).
    fn recent(&self) -> std::sync::MutexGuard<'_, RecentFusions> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fuses ahead of time the sets one modality switch away from `shown` (see
    /// [`Subset::one_switch_away`]) that are not kept yet, so that the reader's next toggle finds its
    /// fusion ready; they are kept behind the fusion shown, which stays the newest. Meant for a worker
    /// thread while the reader looks at `shown`: `cancel` (set when they toggle) stops it between
    /// windows with [`CloeError::Cancelled`]. Returns how many sets it fused.
    pub fn prefetch(&self, shown: &Subset, cancel: &AtomicBool) -> Result<usize> {
        let cache = self.cache()?;
        let shown = shown.intersection(&self.present);
        let mut fused = 0;
        for next in shown.one_switch_away(&self.present) {
            if self.recent().iter().any(|(s, _)| *s == next) {
                continue;
            }
            let work = (self.parallel, cancel);
            let maps = Arc::new(fuse(&self.net, cache, &next, work, None)?);
            let mut list = self.recent();
            // Behind the newest (the one shown), ahead of older ones, which go first.
            let behind_newest = list.len().saturating_sub(1);
            keep(&mut list, behind_newest, (next, maps));
            fused += 1;
        }
        Ok(fused)
    }

    /// The experts' own maps, blended and brought to the case grid at the first call.
    fn expert_maps(&self, cache: &ExpertCache) -> Result<&ExpertMaps> {
        if let Some(maps) = self.experts.get() {
            return Ok(maps);
        }
        let probs = blend_experts(&self.net, cache)?;
        let labels = (probs.iter())
            .map(|p| {
                p.as_ref()
                    .map(|p| expert_labels(&cache.sample, cache.dims, p))
            })
            .collect();
        Ok(self.experts.get_or_init(|| ExpertMaps { probs, labels }))
    }

    /// Sample maps back on the case grid, post-processed as the model's config says.
    fn on_case_grid(&self, sample: &Sample, dims: [usize; 3], maps: &SampleMaps) -> CaseMaps {
        let mut maps = to_case_grid(sample, dims, maps);
        let cfg = self.net.config();
        cfg.postprocess
            .apply(cfg.profile, &mut maps.classes, sample.case_grid.dims);
        maps
    }

    /// The experts and the fusion for `subset` window by window, keeping no experts: what `cloe
    /// segment` does (one subset), in the memory of the maps alone. With `keep_experts`, also every
    /// used expert's map and their disagreement; gives what [`Session::segment`] gives.
    pub fn segment_once(
        &self,
        subset: &Subset,
        keep_experts: bool,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<CaseMaps> {
        let sample = match &self.stage {
            Stage::Prepared(sample) => sample,
            Stage::Experts(_) => return self.fuse(subset, keep_experts),
        };
        let dims = self.plan.padded(sample.grid.dims);
        let mut blend = Blend::new(
            &self.net,
            dims,
            self.plan,
            &self.present,
            subset,
            keep_experts,
        )?;
        self.fuse_each_window(sample, &mut blend, (progress, cancel), |_, _| {})?;
        Ok(self.on_case_grid(sample, dims, &blend.finish()))
    }

    /// Runs the experts of every window of `sample`, fuses each window into `blend` at once, and hands
    /// the window's experts to `each` with the blend so far; returns the window origins. Progress and
    /// cancel as for [`Session::run_experts`].
    fn fuse_each_window(
        &self,
        sample: &Sample,
        blend: &mut Blend,
        (progress, cancel): (&mut dyn FnMut(usize, usize), &AtomicBool),
        mut each: impl FnMut(&Blend, Vec<Option<Expert>>),
    ) -> Result<Vec<[usize; 3]>> {
        let (net, used) = (&self.net, blend.used().clone());
        let (_, windows) = for_each_window(
            net,
            sample,
            &self.device,
            (self.plan, self.parallel),
            (progress, cancel),
            |row| {
                let fused = WindowFusion::of(net, &used, &row);
                (row, fused)
            },
            |origin, (row, fused)| {
                blend.add_fused(origin, &row, fused);
                each(blend, row);
            },
        )?;
        Ok(windows)
    }

    /// The experts, then the fusion for `subset` with every expert's map: the viewer's first
    /// inference (as [`Session::segment_previewed`], without a first look).
    pub fn segment(
        &mut self,
        subset: &Subset,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<CaseMaps> {
        self.segment_previewed(subset, progress, cancel, None)
    }

    /// As [`Session::segment`], fusing each window as soon as its experts have run: once the windows
    /// that cover the case once are in (the plan puts them first), `preview` gets the fusion so far on
    /// the case grid (without the experts' own maps), a whole first result that the remaining
    /// windows only refine. Not called when those windows are all of them (nor computed without a
    /// `preview`).
    pub fn segment_previewed(
        &mut self,
        subset: &Subset,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
        mut preview: Option<&mut dyn FnMut(CaseMaps)>,
    ) -> Result<CaseMaps> {
        if let Stage::Prepared(sample) = &self.stage {
            let dims = self.plan.padded(sample.grid.dims);
            let mut blend = Blend::new(&self.net, dims, self.plan, &self.present, subset, false)?;
            let (cover, total) = (self.plan.covering(dims), self.window_count());
            let mut experts = Vec::with_capacity(total);
            let work = (progress, cancel);
            let windows = self.fuse_each_window(sample, &mut blend, work, |blend, row| {
                experts.push(row);
                if experts.len() == cover
                    && cover < total
                    && let Some(preview) = preview.as_mut()
                {
                    preview(self.on_case_grid(sample, dims, &blend.snapshot()));
                }
            })?;
            let used = blend.used().clone();
            let cache = ExpertCache {
                profile: self.net.config().profile,
                sample: sample.clone(),
                dims,
                plan: self.plan,
                windows,
                experts,
            };
            let fused = Arc::new(blend.finish());
            self.stage = Stage::Experts(cache);
            let mut list = self.recent();
            let newest = list.len();
            keep(&mut list, newest, (used, fused));
        }
        self.fuse(subset, true)
    }
}
