//! The fusion path over a case's cached experts for one modality subset, blended over the windows
//! (`SampleMaps`, on the model's grid), and the maps brought back onto the case's own grid
//! (`CaseMaps`): classes, probabilities, each expert's labels, their disagreement, the REC map, u v w.

use super::experts::ExpertCache;
use super::windows::{WindowPlan, accumulate, gaussian};
use crate::case::Subset;
use crate::error::{CloeError, Result, Setting};
use crate::model::{CloeNet, Expert, to_vec};
use crate::preprocess::{BBox, Sample, crop_data};
use crate::resample::resample_linear_many;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Maps on the padded sample grid for one availability mask.
#[derive(Debug, Clone)]
pub struct SampleMaps {
    /// Fused probabilities, one buffer per class.
    pub probs: Vec<Vec<f32>>,
    /// REC region map r.
    pub region: Vec<f32>,
    /// Each used expert's probabilities (per class); `None` for modalities not used.
    pub experts: Vec<Option<Vec<Vec<f32>>>>,
    /// Per modality u, v, w: a mean over windows weighted by each window's predicted foreground.
    pub u: Vec<f64>,
    pub v: Vec<f64>,
    pub w: Vec<f64>,
}

/// The fusion path for the modalities of `subset` the case has, over every cached window, blended
/// (without the experts' own maps: [`blend_experts`] gives those); `parallel` windows at once (their
/// single-threaded element-wise work on both cores of a 2-core machine). Once the windows that cover
/// the case once are in (the plan's first), `preview` (where given) gets the blend so far, unless
/// they are all of them. Setting `cancel` stops it between windows with [`CloeError::Cancelled`].
pub(super) fn fuse(
    net: &CloeNet,
    cache: &ExpertCache,
    subset: &Subset,
    (parallel, cancel): (usize, &AtomicBool),
    mut preview: Option<&mut dyn FnMut(SampleMaps)>,
) -> Result<SampleMaps> {
    let present = cache.present();
    let mut blend = Blend::new(net, cache.dims, cache.plan, &present, subset, false)?;
    let windows: Vec<_> = cache.windows.iter().zip(&cache.experts).collect();
    let (cover, mut done) = (cache.plan.covering(cache.dims), 0);
    for group in windows.chunks(parallel.max(1)) {
        if cancel.load(Ordering::Relaxed) {
            return Err(CloeError::Cancelled);
        }
        let fused: Vec<WindowFusion> = (group.par_iter())
            .map(|(_, row)| WindowFusion::of(net, blend.used(), row))
            .collect();
        for ((origin, row), window) in group.iter().zip(fused) {
            blend.add_fused(**origin, row, window);
        }
        let before = done;
        done += group.len();
        if before < cover
            && done >= cover
            && done < windows.len()
            && let Some(preview) = preview.as_mut()
        {
            preview(blend.snapshot());
        }
    }
    Ok(blend.finish())
}

/// Every present expert's own probabilities blended over the cached windows, per modality (`None`
/// where missing): they do not depend on the subset fused, so a session blends them once.
pub(super) fn blend_experts(
    net: &CloeNet,
    cache: &ExpertCache,
) -> Result<Vec<Option<Vec<Vec<f32>>>>> {
    let present = cache.present();
    let mut blend = Blend::new(net, cache.dims, cache.plan, &present, &present, true)?;
    for (origin, row) in cache.windows.iter().zip(&cache.experts) {
        let refs: Vec<Option<&Expert>> = row.iter().map(Option::as_ref).collect();
        blend.add_experts(*origin, &refs);
    }
    Ok(blend.finish().experts)
}

/// One window's fusion read back: probabilities `[K, window]`, the region map, u v w per modality.
pub(super) struct WindowFusion {
    probs: Vec<f32>,
    region: Vec<f32>,
    scores: [Vec<f32>; 3],
}

impl WindowFusion {
    /// The fusion of one window's experts (of the modalities `used`), read back.
    pub(super) fn of(net: &CloeNet, used: &Subset, row: &[Option<Expert>]) -> Self {
        let fusion = net.fuse(&used_experts(used, row));
        Self {
            probs: to_vec(fusion.probs),
            region: to_vec(fusion.region),
            scores: [fusion.u, fusion.v, fusion.w].map(to_vec),
        }
    }
}

/// The experts of `row` whose modality is in `used`.
fn used_experts<'a>(used: &Subset, row: &'a [Option<Expert>]) -> Vec<Option<&'a Expert>> {
    (row.iter().enumerate())
        .map(|(i, e)| e.as_ref().filter(|_| used.contains(i)))
        .collect()
}

/// The fusion of one subset blended over windows as they come (from the cache, or straight from the
/// experts when no cache is kept): Gaussian-weighted sums, normalised at the end.
pub(super) struct Blend {
    dims: [usize; 3],
    size: [usize; 3],
    used: Subset,
    g: Vec<f32>,
    ones: Vec<f32>,
    probs: Vec<Vec<f32>>,
    region: Vec<f32>,
    norm: Vec<f32>,
    experts: Vec<Option<Vec<Vec<f32>>>>,
    scores: [Vec<f64>; 3],
    total: f64,
}

impl Blend {
    /// An empty blend over the padded sample grid `dims`, windows of `plan`, for the modalities of
    /// `subset` in `present`.
    pub(super) fn new(
        net: &CloeNet,
        dims: [usize; 3],
        plan: WindowPlan,
        present: &Subset,
        subset: &Subset,
        keep_experts: bool,
    ) -> Result<Self> {
        let used = subset.intersection(present);
        if used.is_empty() {
            return Err(CloeError::setting(
                Setting::Modalities,
                "switch on at least one modality that the case has",
            ));
        }
        let cfg = net.config();
        let (k, m) = (cfg.classes, cfg.modalities);
        let n: usize = dims.iter().product();
        let experts = (0..m)
            .map(|i| (keep_experts && used.contains(i)).then(|| vec![vec![0.0; n]; k]))
            .collect();
        Ok(Self {
            dims,
            size: plan.size,
            used,
            g: gaussian(plan.size),
            ones: vec![1.0; plan.voxels()],
            probs: vec![vec![0.0; n]; k],
            region: vec![0.0; n],
            norm: vec![0.0; n],
            experts,
            scores: [vec![0.0; m], vec![0.0; m], vec![0.0; m]],
            total: 0.0,
        })
    }

    /// Adds the K class blocks of one window (`[K, window]`, x fastest) into per-class buffers.
    fn add_classes(&self, acc: &mut [Vec<f32>], origin: [usize; 3], data: &[f32]) {
        let block = self.g.len();
        for (c, buf) in acc.iter_mut().enumerate() {
            let part = &data[c * block..(c + 1) * block];
            accumulate(buf, self.dims, origin, self.size, part, &self.g);
        }
    }

    /// The modalities fused.
    pub(super) fn used(&self) -> &Subset {
        &self.used
    }

    /// Adds the fusion of the window at `origin` (and, where kept, the used experts of `row`).
    pub(super) fn add_fused(
        &mut self,
        origin: [usize; 3],
        row: &[Option<Expert>],
        w: WindowFusion,
    ) {
        let mut probs = std::mem::take(&mut self.probs);
        self.add_classes(&mut probs, origin, &w.probs);
        self.probs = probs;
        let (dims, size) = (self.dims, self.size);
        accumulate(&mut self.region, dims, origin, size, &w.region, &self.g);
        self.add_experts(origin, &used_experts(&self.used, row));
        // Case-level scores: windows weighted by how much foreground they predict.
        let block = self.g.len();
        let weight = w.probs[block..].iter().map(|&x| x as f64).sum::<f64>() + 1e-3 * block as f64;
        for (acc, t) in self.scores.iter_mut().zip(w.scores) {
            for (a, x) in acc.iter_mut().zip(t) {
                *a += weight * x as f64;
            }
        }
        self.total += weight;
    }

    /// Adds the window at `origin` to the blending weights, and the probabilities of each expert
    /// in `refs` whose maps are kept.
    fn add_experts(&mut self, origin: [usize; 3], refs: &[Option<&Expert>]) {
        let (dims, size) = (self.dims, self.size);
        accumulate(&mut self.norm, dims, origin, size, &self.ones, &self.g);
        let mut experts = std::mem::take(&mut self.experts);
        for (slot, e) in experts.iter_mut().zip(refs) {
            if let (Some(acc), Some(e)) = (slot.as_mut(), e) {
                self.add_classes(acc, origin, &to_vec(e.probs.clone()));
            }
        }
        self.experts = experts;
    }

    /// The blended maps, normalised by the summed window weights.
    pub(super) fn finish(self) -> SampleMaps {
        let Self {
            probs,
            region,
            norm,
            experts,
            scores,
            total,
            ..
        } = self;
        normalised(probs, region, experts, scores, total, &norm)
    }

    /// The maps blended so far, normalised as [`finish`](Self::finish) does (a voxel no window has
    /// reached yet is 0): once the covering windows are in, a whole first result.
    pub(super) fn snapshot(&self) -> SampleMaps {
        let (probs, region) = (self.probs.clone(), self.region.clone());
        let (experts, scores) = (self.experts.clone(), self.scores.clone());
        normalised(probs, region, experts, scores, self.total, &self.norm)
    }
}

/// Blended sums divided by the summed window weights `norm`, and the case-level scores by `total`.
fn normalised(
    mut probs: Vec<Vec<f32>>,
    mut region: Vec<f32>,
    mut experts: Vec<Option<Vec<Vec<f32>>>>,
    scores: [Vec<f64>; 3],
    total: f64,
    norm: &[f32],
) -> SampleMaps {
    let normalise = |buf: &mut Vec<f32>| {
        buf.iter_mut()
            .zip(norm)
            .for_each(|(x, n)| *x /= n.max(1e-12))
    };
    probs.iter_mut().for_each(normalise);
    normalise(&mut region);
    experts.iter_mut().flatten().flatten().for_each(normalise);
    let [u, v, w] = scores.map(|s| s.into_iter().map(|x| x / total).collect::<Vec<f64>>());
    SampleMaps {
        probs,
        region,
        experts,
        u,
        v,
        w,
    }
}

/// Maps on the case's own grid.
#[derive(Debug, Clone)]
pub struct CaseMaps {
    /// Training class per voxel (argmax of the fused probabilities).
    pub classes: Vec<u8>,
    /// Fused probabilities per class.
    pub probs: Vec<Vec<f32>>,
    pub region: Vec<f32>,
    /// Each used expert's own label map.
    pub experts: Vec<Option<Vec<u8>>>,
    /// Expert disagreement per voxel: the variance across the used experts' class probabilities,
    /// averaged over classes (0 with fewer than two experts or when expert maps were not kept).
    pub disagreement: Vec<f32>,
    pub u: Vec<f64>,
    pub v: Vec<f64>,
    pub w: Vec<f64>,
}

impl CaseMaps {
    /// Mean disagreement over the voxels the fused prediction calls foreground (None without any).
    pub fn mean_disagreement_in_tumour(&self) -> Option<f64> {
        let (sum, n) = self
            .classes
            .iter()
            .zip(&self.disagreement)
            .filter(|(c, _)| **c > 0)
            .fold((0.0f64, 0usize), |(s, n), (_, d)| (s + *d as f64, n + 1));
        (n > 0).then(|| sum / n as f64)
    }
}

/// Variance across experts of each class probability, averaged over classes, per voxel.
pub fn disagreement(experts: &[&Vec<Vec<f32>>]) -> Vec<f32> {
    let Some(first) = experts.first() else {
        return Vec::new();
    };
    let (k, n, e) = (first.len(), first[0].len(), experts.len() as f32);
    let mut out = vec![0.0f32; n];
    if experts.len() < 2 {
        return out;
    }
    for c in 0..k {
        for (i, o) in out.iter_mut().enumerate() {
            let mean = experts.iter().map(|x| x[c][i]).sum::<f32>() / e;
            let var = experts
                .iter()
                .map(|x| (x[c][i] - mean).powi(2))
                .sum::<f32>()
                / e;
            *o += var / k as f32;
        }
    }
    out
}

/// Brings sample-grid maps back onto the case grid (outside the crop: background).
/// `dims` is the padded sample grid the maps are on.
pub fn to_case_grid(sample: &Sample, dims: [usize; 3], maps: &SampleMaps) -> CaseMaps {
    let probs = classes_to_case_grid(sample, dims, &maps.probs);
    let experts = (maps.experts.iter())
        .map(|e| e.as_ref().map(|e| expert_labels(sample, dims, e)))
        .collect();
    let kept: Vec<&Vec<Vec<f32>>> = maps.experts.iter().flatten().collect();
    CaseMaps {
        classes: argmax(&probs),
        region: back_to_case_grid(sample, dims, &[&maps.region], &[0.0]).remove(0),
        disagreement: disagreement_on_case_grid(sample, dims, &kept),
        probs,
        experts,
        u: maps.u.clone(),
        v: maps.v.clone(),
        w: maps.w.clone(),
    }
}

/// Maps of the padded sample grid `dims` on the case grid in one pass, `fills[c]` outside the crop.
fn back_to_case_grid(
    sample: &Sample,
    dims: [usize; 3],
    maps: &[&[f32]],
    fills: &[f32],
) -> Vec<Vec<f32>> {
    let unpadded: Vec<Vec<f32>> = (maps.iter())
        .map(|m| crop_data(m, dims, &BBox::full(sample.grid.dims)))
        .collect();
    let refs: Vec<&[f32]> = unpadded.iter().map(Vec::as_slice).collect();
    resample_linear_many(&refs, &sample.grid, &sample.case_grid, fills)
}

/// Per-class probabilities on the case grid: outside the crop, background.
fn classes_to_case_grid(sample: &Sample, dims: [usize; 3], probs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let refs: Vec<&[f32]> = probs.iter().map(Vec::as_slice).collect();
    let fills: Vec<f32> = (0..probs.len())
        .map(|c| if c == 0 { 1.0 } else { 0.0 })
        .collect();
    back_to_case_grid(sample, dims, &refs, &fills)
}

/// One expert's labels on the case grid, from its per-class probabilities on the sample grid.
pub(super) fn expert_labels(sample: &Sample, dims: [usize; 3], probs: &[Vec<f32>]) -> Vec<u8> {
    argmax(&classes_to_case_grid(sample, dims, probs))
}

/// The disagreement of `experts` (their probabilities on the sample grid) on the case grid: 0 with
/// fewer than two.
pub(super) fn disagreement_on_case_grid(
    sample: &Sample,
    dims: [usize; 3],
    experts: &[&Vec<Vec<f32>>],
) -> Vec<f32> {
    if experts.len() < 2 {
        return vec![0.0; sample.case_grid.len()];
    }
    back_to_case_grid(sample, dims, &[&disagreement(experts)], &[0.0]).remove(0)
}

/// Per voxel, the class of the largest probability (the first on a tie), from one buffer per class.
pub fn argmax(probs: &[Vec<f32>]) -> Vec<u8> {
    let classes: Vec<&[f32]> = probs.iter().map(Vec::as_slice).collect();
    argmax_of(&classes)
}

/// [`argmax`] of `[K, n]` probabilities in one buffer (a network output read back).
pub fn argmax_flat(probs: &[f32], k: usize) -> Vec<u8> {
    let classes: Vec<&[f32]> = probs.chunks(probs.len() / k.max(1)).collect();
    argmax_of(&classes)
}

fn argmax_of(classes: &[&[f32]]) -> Vec<u8> {
    (0..classes[0].len())
        .map(|i| {
            let mut best = 0;
            for c in 1..classes.len() {
                if classes[c][i] > classes[best][i] {
                    best = c;
                }
            }
            best as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreement_by_hand() {
        // Two experts, two classes, two voxels: they agree on voxel 0 and split on voxel 1.
        let a = vec![vec![1.0, 1.0], vec![0.0, 0.0]];
        let b = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        // Voxel 1: each class has values {1, 0}: variance 0.25; averaged over 2 classes: 0.25.
        assert_eq!(disagreement(&[&a, &b]), vec![0.0, 0.25]);
        assert_eq!(disagreement(&[&a]), vec![0.0, 0.0]);
    }
}
