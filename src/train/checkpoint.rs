//! Training checkpoints in `MODEL_DIR/checkpoint/`: the weights, the optimizer's state and the loop's own
//! state (step, best validation). A checkpoint is written whole into `checkpoint.new/` and swapped in
//! by renaming folders, so a run killed at any moment (SIGKILL included) leaves a whole checkpoint to
//! resume from: `checkpoint/`, or while a swap was under way `checkpoint.new/` or `checkpoint.old/`.

use crate::error::{CloeError, Result};
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

/// Saves weights, optimizer and loop state as one whole checkpoint.
pub fn save(
    model_dir: &Path,
    model: &CloeNet,
    optim: &ModuleOptimizer,
    state: &LoopState,
) -> Result<()> {
    let (current, new, old) = (
        dir(model_dir),
        model_dir.join("checkpoint.new"),
        model_dir.join("checkpoint.old"),
    );
    let failed = |p: &Path, e: &(dyn std::error::Error + 'static)| CloeError::write_failed(p, e);
    // A `checkpoint.new/` left by a killed run is incomplete or older than what follows: replace it.
    let _ = std::fs::remove_dir_all(&new);
    std::fs::create_dir_all(&new).map_err(|e| failed(&new, &e))?;
    let w = new.join("model.bpk");
    model
        .clone()
        .save_file(w.clone())
        .map_err(|e| failed(&w, &e))?;
    let o = new.join("optimizer.bpk");
    optim.save(&o).map_err(|e| failed(&o, &e))?;
    // state.json last: a folder holding it is whole.
    let json =
        serde_json::to_string_pretty(state).map_err(|e| CloeError::Internal(e.to_string()))?;
    let s = new.join("state.json");
    std::fs::write(&s, json).map_err(|e| failed(&s, &e))?;
    for f in [&w, &o, &s] {
        std::fs::File::open(f)
            .and_then(|f| f.sync_all())
            .map_err(|e| failed(f, &e))?;
    }
    if current.is_dir() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&current, &old).map_err(|e| failed(&current, &e))?;
    }
    std::fs::rename(&new, &current).map_err(|e| failed(&current, &e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// The whole checkpoint to resume from: `checkpoint/`, else (a swap was interrupted) `checkpoint.new/`,
/// else `checkpoint.old/`.
fn whole(model_dir: &Path) -> PathBuf {
    [
        dir(model_dir),
        model_dir.join("checkpoint.new"),
        model_dir.join("checkpoint.old"),
    ]
    .into_iter()
    .find(|d| d.join("state.json").is_file())
    .unwrap_or_else(|| dir(model_dir))
}

/// Loads a checkpoint into `model` and `optim` (built from the same config) and returns the loop state.
pub fn load(
    model_dir: &Path,
    model: CloeNet,
    optim: ModuleOptimizer,
) -> Result<(CloeNet, ModuleOptimizer, LoopState)> {
    let d = whole(model_dir);
    let s = d.join("state.json");
    let text = std::fs::read_to_string(&s).map_err(|e| {
        CloeError::bad_model(
            &s,
            format!(
                "cannot resume: missing or unreadable ({e}); start a new run instead of resuming"
            ),
        )
    })?;
    let state: LoopState =
        serde_json::from_str(&text).map_err(|e| CloeError::bad_model(&s, e.to_string()))?;
    let w = d.join("model.bpk");
    let model = model
        .try_load_file(w.clone())
        .map_err(|e| CloeError::bad_model(&w, format!("cannot resume from it: {e}")))?;
    let o = d.join("optimizer.bpk");
    let optim = optim
        .load(&o)
        .map_err(|e| CloeError::bad_model(&o, format!("cannot resume from it: {e}")))?;
    Ok((model, optim, state))
}
