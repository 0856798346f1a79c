//! Atomic, careful writes: a temporary file in the target folder renamed over the target, after checking
//! that the folder exists and is writable, that the target is not one of the inputs, and that an existing
//! file may be replaced.

use crate::error::{CloeError, Result, plain_why};
use std::path::{Path, PathBuf};

/// What a write may and may not do.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Replace an existing file at the target path (never an input; see `protected`).
    pub overwrite: bool,
    /// Files that must never be written (the inputs of the case).
    pub protected: Vec<PathBuf>,
}

impl WriteOptions {
    /// Options that refuse to touch any of `inputs`.
    pub fn protecting(inputs: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            overwrite: false,
            protected: inputs.into_iter().collect(),
        }
    }

    /// The same options, allowing an existing (non-input) file to be replaced.
    pub fn overwriting(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }
}

/// Writes `text` to `target` atomically (see [`atomic_write`]).
pub fn write_text(target: &Path, text: &str, opts: &WriteOptions) -> Result<()> {
    atomic_write(target, opts, |tmp| {
        std::fs::write(tmp, text).map_err(|e| plain_why(&e))
    })
}

/// Writes `value` as pretty-printed JSON to `target` atomically.
pub fn write_json<T: serde::Serialize>(
    target: &Path,
    value: &T,
    opts: &WriteOptions,
) -> Result<()> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| CloeError::Internal(format!("cannot write JSON: {e}")))?;
    write_text(target, &json, opts)
}

/// Checks the target, lets `write` fill a temporary file beside it, then renames it into place.
/// The temporary file keeps the target's extension (so `.nii.gz` is still compressed) and is removed
/// when anything fails.
pub fn atomic_write(
    target: &Path,
    opts: &WriteOptions,
    write: impl FnOnce(&Path) -> std::result::Result<(), String>,
) -> Result<()> {
    check_target(target, opts)?;
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), name));
    let result = write(&tmp)
        .map_err(|why| CloeError::unwritable(target, why))
        .and_then(|()| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&tmp, target))
                .map_err(|e| CloeError::write_failed(target, &e))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes the temporary files that [`atomic_write`] calls of other processes left in `dir` when they
/// were killed mid-write (`.tmp-PID-name`); returns how many. Call it where one process owns the folder
/// (a training run's model folder).
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let ours = format!(".tmp-{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(".tmp-") && !name.starts_with(&ours) && e.path().is_file()
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that `target` can be written with `opts` (its folder exists and is writable, it is not an
/// input, it is not an existing file unless overwriting is allowed) without writing anything: commands
/// call it before long work, so a bad output path fails at once.
pub fn check_target(target: &Path, opts: &WriteOptions) -> Result<()> {
    let dir = parent_dir(target);
    let canonical_target = dir
        .canonicalize()
        .ok()
        .map(|d| d.join(target.file_name().unwrap_or_default()));
    for input in &opts.protected {
        let same = canonical_target.is_some() && input.canonicalize().ok() == canonical_target;
        if same || input == target {
            return Err(CloeError::unwritable(
                target,
                "it is one of the input files, which are never overwritten; choose another name",
            ));
        }
    }
    check_folder(&dir).map_err(|why| CloeError::unwritable(target, why))?;
    if target.is_dir() {
        return Err(CloeError::unwritable(
            target,
            "it is a folder; give a file name",
        ));
    }
    if target.exists() && !opts.overwrite {
        return Err(CloeError::unwritable(
            target,
            "the file exists; choose another name or allow replacing existing files",
        ));
    }
    Ok(())
}

/// Why nothing can be written in the folder `dir` (it does not exist, is not a folder, is read-only
/// by its permissions or its mount, or refuses this account), in plain words; `Ok` when a file can be
/// made there. Writes nothing that stays: a probe file is made and removed.
pub fn check_folder(dir: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|_| {
        format!(
            "the folder {} does not exist; create it first",
            dir.display()
        )
    })?;
    if !meta.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    if meta.permissions().readonly() {
        return Err(format!(
            "the folder {} is read-only; choose another folder",
            dir.display()
        ));
    }
    probe(dir).map_err(|e| {
        let why = crate::error::plain_why(&e);
        format!("the folder {} cannot be written: {why}", dir.display())
    })
}

/// Creates and removes an empty file in `dir`: what the permission bits do not tell (a read-only
/// mount or share, an administrator's account, an access list) shows here, before any work. Named
/// as the temporaries of atomic writes, so that one left by a process killed in between is hidden
/// like them and removed by [`remove_stale_temporaries`].
fn probe(dir: &Path) -> std::io::Result<()> {
    let file = dir.join(format!(".tmp-{}-probe", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&file)?;
    std::fs::remove_file(&file)
}
