//! The expert paths of a whole case: every present modality's encoder and D_sep over the windows of a
//! [`WindowPlan`], kept window by window (`ExpertCache`) so the fusion can be re-run for any subset
//! without running an encoder again.

use super::windows::{WindowPlan, extract};
use crate::case::{Profile, Subset};
use crate::error::{CloeError, Result};
use crate::model::{CloeNet, Expert, pad, volume_tensor};
use crate::preprocess::Sample;
use burn::prelude::*;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// A case's experts, window by window, on the model's grid.
#[derive(Debug, Clone)]
pub struct ExpertCache {
    pub profile: Profile,
    pub sample: Sample,
    /// The sample grid padded to at least one window per axis.
    pub dims: [usize; 3],
    pub plan: WindowPlan,
    pub windows: Vec<[usize; 3]>,
    /// `experts[window][modality]`, `None` where the modality is missing from the case.
    pub experts: Vec<Vec<Option<Expert>>>,
}

/// Runs every available modality's expert over every window. `progress(done, total)` is called after each
/// window; setting `cancel` stops between windows with [`CloeError::Cancelled`].
pub(super) fn compute_experts(
    net: &CloeNet,
    sample: Sample,
    device: &Device,
    plan: WindowPlan,
    parallel: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<ExpertCache> {
    let mut experts = Vec::new();
    let (dims, windows) = for_each_window(
        net,
        &sample,
        device,
        (plan, parallel),
        (progress, cancel),
        |row| row,
        |_, row| experts.push(row),
    )?;
    Ok(ExpertCache {
        profile: net.config().profile,
        sample,
        dims,
        plan,
        windows,
        experts,
    })
}

/// Runs the experts of every window and `work` on each window's row (one expert per modality, `None`
/// where missing), `parallel` windows at once, and hands what `work` gives to `each` in the windows'
/// order; returns the padded grid and the window origins. Progress and cancel as for
/// [`compute_experts`].
pub(super) fn for_each_window<T: Send>(
    net: &CloeNet,
    sample: &Sample,
    device: &Device,
    (plan, parallel): (WindowPlan, usize),
    (progress, cancel): (&mut dyn FnMut(usize, usize), &AtomicBool),
    work: impl Fn(Vec<Option<Expert>>) -> T + Sync,
    mut each: impl FnMut([usize; 3], T),
) -> Result<([usize; 3], Vec<[usize; 3]>)> {
    let dims = plan.padded(sample.grid.dims);
    let padded: Vec<Option<Vec<f32>>> = sample
        .channels
        .iter()
        .map(|c| c.as_ref().map(|c| pad(c, sample.grid.dims, dims, 0.0)))
        .collect();
    if padded.iter().all(Option::is_none) {
        return Err(CloeError::Refused(
            "the case has no image to segment".into(),
        ));
    }
    let windows = plan.origins(dims);
    let mut done = 0;
    for group in windows.chunks(parallel.max(1)) {
        if cancel.load(Ordering::Relaxed) {
            return Err(CloeError::Cancelled);
        }
        let done_here: Vec<T> = (group.par_iter())
            .map(|origin| {
                let inputs: Vec<Option<Tensor<5>>> = (padded.iter())
                    .map(|c| {
                        let window = c.as_ref()?;
                        let voxels = extract(window, dims, *origin, plan.size);
                        Some(volume_tensor(&voxels, plan.size, device))
                    })
                    .collect();
                work(net.experts(&inputs))
            })
            .collect();
        for (origin, result) in group.iter().zip(done_here) {
            each(*origin, result);
            done += 1;
            progress(done, windows.len());
        }
    }
    Ok((dims, windows))
}

impl ExpertCache {
    /// Modalities the case has (and so could be switched on).
    pub fn present(&self) -> Subset {
        let on: Vec<bool> = self
            .experts
            .first()
            .map(|row| row.iter().map(Option::is_some).collect())
            .unwrap_or_else(|| vec![false; self.profile.modalities().len()]);
        Subset::from_mask(self.profile, &on)
    }
}
