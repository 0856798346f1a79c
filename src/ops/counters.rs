//! What `cloe bench --profile` reads back: how often and how long the CPU convolution kernels ran
//! (forward, weight gradient, input gradient), how many read-backs of tensor data the crate made, and
//! which convolution shapes the network ran. Counters are process-wide atomics, cheap enough to stay on.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// The three kinds of convolution work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKind {
    Forward = 0,
    WeightGrad = 1,
    DataGrad = 2,
}

static CALLS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
static NANOS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
static READBACKS: AtomicU64 = AtomicU64::new(0);
static RECORDING: AtomicBool = AtomicBool::new(false);
static SHAPES: Mutex<BTreeMap<ConvKey, usize>> = Mutex::new(BTreeMap::new());

/// A convolution's shape as the network runs it: `(batch, c_in, c_out, [D, H, W] in, kernel, stride)`.
pub type ConvKey = (usize, usize, usize, [usize; 3], usize, usize);

/// Counters since the last [`reset`].
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Counters {
    /// Calls and seconds of the CPU kernels, by [`ConvKind`].
    pub calls: [u64; 3],
    pub seconds: [f64; 3],
    /// Tensor read-backs through `model::to_vec` (a device synchronisation each on a GPU).
    pub readbacks: u64,
}

/// Zeroes the counters.
pub fn reset() {
    for a in CALLS.iter().chain(&NANOS) {
        a.store(0, Ordering::Relaxed);
    }
    READBACKS.store(0, Ordering::Relaxed);
}

/// The counters now.
pub fn counters() -> Counters {
    Counters {
        calls: std::array::from_fn(|k| CALLS[k].load(Ordering::Relaxed)),
        seconds: std::array::from_fn(|k| NANOS[k].load(Ordering::Relaxed) as f64 * 1e-9),
        readbacks: READBACKS.load(Ordering::Relaxed),
    }
}

/// Runs `f` as one timed kernel call of `kind`.
pub(crate) fn timed<T>(kind: ConvKind, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    NANOS[kind as usize].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    CALLS[kind as usize].fetch_add(1, Ordering::Relaxed);
    out
}

/// Counts one read-back of tensor data.
pub(crate) fn count_readback() {
    READBACKS.fetch_add(1, Ordering::Relaxed);
}

/// Starts recording the shapes of the convolutions the network runs (any device), from empty.
pub fn record_shapes() {
    SHAPES.lock().unwrap_or_else(|e| e.into_inner()).clear();
    RECORDING.store(true, Ordering::Relaxed);
}

/// Stops recording and returns each shape with how often it ran.
pub fn recorded_shapes() -> Vec<(ConvKey, usize)> {
    RECORDING.store(false, Ordering::Relaxed);
    let shapes = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
    shapes.iter().map(|(k, n)| (*k, *n)).collect()
}

/// Notes one convolution of shape `key` when recording.
pub(crate) fn note_shape(key: impl FnOnce() -> ConvKey) {
    if RECORDING.load(Ordering::Relaxed) {
        *SHAPES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key())
            .or_insert(0) += 1;
    }
}
