//! Saving and loading a model folder: `config.json` (the [`CloeConfig`]) and `model.bpk` (the weights,
//! Burn's burnpack format). Loading weights that do not fit the config is an error that says so.

use super::config::CloeConfig;
use super::network::CloeNet;
use crate::error::{CloeError, Result};
use crate::io::{WriteOptions, atomic_write};
use burn::prelude::*;
use std::path::{Path, PathBuf};

/// File names inside a model folder.
pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.bpk";

/// Writes `config.json` and the weights into `dir` (created if needed), each atomically.
pub fn save_model(model: &CloeNet, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| CloeError::write_failed(dir, &e))?;
    save_config(model.config(), dir)?;
    let weights = dir.join(WEIGHTS_FILE);
    let opts = WriteOptions::default().overwriting(true);
    atomic_write(&weights, &opts, |tmp| {
        (model.clone().save_file(tmp)).map_err(|e| crate::error::plain_text(&e.to_string()))
    })
}

/// Writes `dir/config.json` atomically (a model's post-processing decision, say, beside its weights).
pub fn save_config(config: &CloeConfig, dir: &Path) -> Result<()> {
    let opts = WriteOptions::default().overwriting(true);
    crate::io::write_json(&dir.join(CONFIG_FILE), config, &opts)
}

/// A model's name as outputs record it (a DICOM SEG's algorithm name): "CLoE" and its folder's name.
pub fn model_name(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    format!("CLoE {}", name.unwrap_or_default())
}

/// Reads `dir/config.json`.
pub fn load_config(dir: &Path) -> Result<CloeConfig> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| CloeError::unreadable(&path, e))?;
    // The format first: a newer config may not parse as this version's at all.
    let format = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format").and_then(serde_json::Value::as_u64));
    if let Some(f) = format.filter(|&f| f > CloeConfig::FORMAT as u64) {
        return Err(CloeError::bad_model(
            &path,
            format!(
                "written by a newer CLoE Studio (config format {f}; this version reads format {} \
                 and older): update CLoE Studio to use this model",
                CloeConfig::FORMAT
            ),
        ));
    }
    let config: CloeConfig = serde_json::from_str(&text)
        .map_err(|e| CloeError::bad_model(&path, format!("not a CLoE model config: {e}")))?;
    config
        .validate()
        .map_err(|why| CloeError::bad_model(&path, why))?;
    Ok(config)
}

/// Loads the model in `dir` onto `device`.
pub fn load_model(dir: &Path, device: &Device) -> Result<CloeNet> {
    let config = load_config(dir)?;
    let weights: PathBuf = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        return Err(CloeError::bad_model(
            &weights,
            "missing: the model folder has no weights",
        ));
    }
    let net = CloeNet::to_load(&config, device)
        .try_load_file(weights.clone())
        .map_err(|e| {
            let why = e.to_string();
            let damaged = ["truncated", "magic", "Invalid", "corrupt"]
                .iter()
                .any(|w| why.contains(w));
            CloeError::bad_model(
                &weights,
                if damaged {
                    format!(
                        "damaged or not a CLoE weights file ({why}); copy the model folder again"
                    )
                } else {
                    format!(
                        "these weights do not match {} ({why}); keep a model's config.json and \
                         model.bpk together",
                        dir.join(CONFIG_FILE).display()
                    )
                },
            )
        })?;
    Ok(crate::ops::weights_for_device(net, device))
}
