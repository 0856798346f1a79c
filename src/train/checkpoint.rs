//! Training checkpoints in `MODEL_DIR/checkpoint/`: the weights, the optimizer's state and the loop's own
//! state (step, best validation), each written atomically, so a killed run resumes where it stopped.

use crate::error::{CloeError, Result};
use crate::io::{WriteOptions, atomic_write};
use crate::model::CloeNet;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The loop's state at a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Steps completed.
    pub step: usize,
    pub best_score: Option<f64>,
    pub best_step: Option<usize>,
    pub seed: u64,
    pub train_cases: Vec<String>,
    pub val_cases: Vec<String>,
}

/// The checkpoint folder of a model folder.
pub fn dir(model_dir: &Path) -> PathBuf {
    model_dir.join("checkpoint")
}

/// Saves weights, optimizer and loop state.
pub fn save(
    model_dir: &Path,
    model: &CloeNet,
    optim: &ModuleOptimizer,
    state: &LoopState,
) -> Result<()> {
    let d = dir(model_dir);
    std::fs::create_dir_all(&d).map_err(|e| CloeError::unwritable(&d, e.to_string()))?;
    let w = d.join("model.bpk");
    model
        .clone()
        .save_file(w.clone())
        .map_err(|e| CloeError::unwritable(&w, e.to_string()))?;
    let o = d.join("optimizer.bpk");
    optim
        .save(&o)
        .map_err(|e| CloeError::unwritable(&o, e.to_string()))?;
    let json =
        serde_json::to_string_pretty(state).map_err(|e| CloeError::Invalid(e.to_string()))?;
    atomic_write(
        &d.join("state.json"),
        &WriteOptions::default().overwriting(true),
        |tmp| std::fs::write(tmp, &json).map_err(|e| e.to_string()),
    )
}

/// Loads a checkpoint into `model` and `optim` (built from the same config) and returns the loop state.
pub fn load(
    model_dir: &Path,
    model: CloeNet,
    optim: ModuleOptimizer,
) -> Result<(CloeNet, ModuleOptimizer, LoopState)> {
    let d = dir(model_dir);
    let s = d.join("state.json");
    let text = std::fs::read_to_string(&s).map_err(|e| {
        CloeError::Invalid(format!(
            "cannot resume: {} is missing or unreadable ({e}); start a new run instead of resuming",
            s.display()
        ))
    })?;
    let state: LoopState = serde_json::from_str(&text)
        .map_err(|e| CloeError::Invalid(format!("{}: {e}", s.display())))?;
    let w = d.join("model.bpk");
    let model = model
        .try_load_file(w.clone())
        .map_err(|e| CloeError::Invalid(format!("cannot resume from {}: {e}", w.display())))?;
    let o = d.join("optimizer.bpk");
    let optim = optim
        .load(&o)
        .map_err(|e| CloeError::Invalid(format!("cannot resume from {}: {e}", o.display())))?;
    Ok((model, optim, state))
}
