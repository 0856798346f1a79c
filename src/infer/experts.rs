//! The expert paths of a whole case: every present modality's encoder and D_sep over the windows of a
//! [`WindowPlan`], kept window by window (`ExpertCache`) so the fusion can be re-run for any subset
//! without running an encoder again.

use super::windows::{WindowPlan, extract};
use crate::case::{Profile, Subset};
use crate::error::{CloeError, Result};
use crate::model::{CloeNet, Expert, pad, volume_tensor};
use crate::preprocess::Sample;
use burn::prelude::*;
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
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<ExpertCache> {
    let mut experts = Vec::new();
    let (dims, windows) = for_each_window(
        net,
        &sample,
        device,
        plan,
        progress,
        cancel,
        &mut |_, row| experts.push(row),
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

/// Runs the experts of every window in turn and hands each window's row (one expert per modality,
/// `None` where missing) to `each`, without keeping them; returns the padded grid and the window
/// origins. Progress and cancel as for [`compute_experts`].
pub(super) fn for_each_window(
    net: &CloeNet,
    sample: &Sample,
    device: &Device,
    plan: WindowPlan,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
    each: &mut dyn FnMut([usize; 3], Vec<Option<Expert>>),
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
    for (i, origin) in windows.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(CloeError::Cancelled);
        }
        let inputs: Vec<Option<Tensor<5>>> = padded
            .iter()
            .map(|c| {
                c.as_ref().map(|c| {
                    volume_tensor(&extract(c, dims, *origin, plan.size), plan.size, device)
                })
            })
            .collect();
        each(*origin, net.experts(&inputs));
        progress(i + 1, windows.len());
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
