//! What a forward and a training step ask of a GPU, counted without needing a fast one (lavapipe
//! counts what an H100 would be asked): the compute dispatches by kernel, from CubeCL's launch
//! observer (called on the launching thread for every kernel issued), and the host read-backs of
//! tensor data (this crate's own counter). Counts do not depend on the size, so a small cube is used.

use crate::case::Profile;
use crate::model::{CloeConfig, CloeNet, to_vec};
use burn::cubecl::logging::{LaunchObservation, LaunchObserver};
use burn::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Side of the cube the counts are taken on.
pub const DISPATCH_SIDE: usize = 32;

/// The counts of one phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseDispatches {
    pub dispatches: usize,
    pub read_backs: u64,
    /// Dispatches per kernel name, most first.
    pub by_kernel: Vec<(String, usize)>,
}

/// The counts of a forward of 4 modalities and of one training step (batch 1), after a warm-up of
/// each (autotuning and first-use work left out).
#[derive(Debug, Clone, Serialize)]
pub struct DispatchCounts {
    pub side: usize,
    pub forward: PhaseDispatches,
    pub step: PhaseDispatches,
}

/// Counts every kernel name issued while installed.
#[derive(Default)]
struct Counter(Mutex<BTreeMap<&'static str, usize>>);

impl LaunchObserver for Counter {
    fn launched(&self, kernel: &'static str) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(kernel).or_default() += 1;
    }
}

/// Counts `run`'s dispatches and read-backs (after one uncounted call).
fn count(mut run: impl FnMut()) -> PhaseDispatches {
    run();
    let counter = Arc::new(Counter::default());
    crate::ops::counters::reset();
    let watching = LaunchObservation::new(counter.clone());
    run();
    drop(watching);
    let read_backs = crate::ops::counters::counters().readbacks;
    let counts = counter.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut by_kernel: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(name, n)| {
            (
                burn::cubecl::config::type_name_format(
                    name,
                    burn::cubecl::config::TypeNameFormatLevel::Short,
                ),
                n,
            )
        })
        .collect();
    by_kernel.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    PhaseDispatches {
        dispatches: by_kernel.iter().map(|(_, n)| n).sum(),
        read_backs,
        by_kernel,
    }
}

/// The counts of the default BraTS network on `device` (a GPU; on the CPU nothing is dispatched).
pub fn dispatch_counts(device: &Device) -> DispatchCounts {
    let cfg = CloeConfig::for_profile(Profile::Brats);
    let side = DISPATCH_SIDE;
    let shape = [1, 1, side, side, side];
    let inputs: Vec<Option<Tensor<5>>> = (0..cfg.modalities)
        .map(|_| {
            Some(Tensor::random(
                shape,
                burn::tensor::Distribution::Normal(0.0, 1.0),
                device,
            ))
        })
        .collect();
    let net = CloeNet::new(&cfg, device);
    let forward = count(|| {
        let _ = to_vec(net.forward(&inputs).fusion.w);
    });
    let step = count(super::training_step(&cfg, &inputs, [side; 3], 1, device));
    DispatchCounts {
        side,
        forward,
        step,
    }
}

impl std::fmt::Display for DispatchCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.side;
        for (name, p) in [
            ("forward of 4 modalities", &self.forward),
            ("training step", &self.step),
        ] {
            writeln!(
                f,
                "  {name} at {s}^3: {} dispatches, {} read-backs; most: {}",
                p.dispatches,
                p.read_backs,
                p.by_kernel
                    .iter()
                    .take(6)
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        Ok(())
    }
}
