//! The expert paths of a whole case: every present modality's encoder and D_sep over sliding windows
//! of the model's patch, kept window by window (`ExpertCache`) so the fusion can be re-run for any
//! subset without running an encoder again.

use super::InferOptions;
use super::windows::{extract, origins};
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
    /// The sample grid padded to at least one patch per axis.
    pub dims: [usize; 3],
    pub patch: usize,
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
    opts: InferOptions,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<ExpertCache> {
    let mut experts = Vec::new();
    let (dims, windows) = for_each_window(
        net,
        &sample,
        device,
        opts,
        progress,
        cancel,
        &mut |_, row| experts.push(row),
    )?;
    Ok(ExpertCache {
        profile: net.config().profile,
        sample,
        dims,
        patch: net.config().patch,
        windows,
        experts,
    })
}

/// The padded grid of `sample` for `net`'s patch (at least one patch per axis).
pub(super) fn padded_dims(net: &CloeNet, sample: &Sample) -> [usize; 3] {
    let p = net.config().patch;
    sample.grid.dims.map(|d| d.max(p))
}

/// Runs the experts of every window in turn and hands each window's row (one expert per modality,
/// `None` where missing) to `each`, without keeping them; returns the padded grid and the window
/// origins. Progress and cancel as for [`compute_experts`].
pub(super) fn for_each_window(
    net: &CloeNet,
    sample: &Sample,
    device: &Device,
    opts: InferOptions,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
    each: &mut dyn FnMut([usize; 3], Vec<Option<Expert>>),
) -> Result<([usize; 3], Vec<[usize; 3]>)> {
    let p = net.config().patch;
    let dims = padded_dims(net, sample);
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
    let windows = origins(dims, p, opts.overlap);
    for (i, origin) in windows.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(CloeError::Cancelled);
        }
        let inputs: Vec<Option<Tensor<5>>> = padded
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|c| volume_tensor(&extract(c, dims, *origin, p), [p; 3], device))
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
