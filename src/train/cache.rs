//! Training cases prepared once (read, foreground crop, z-score, model spacing) and kept on disk, so a
//! later run, `--resume` and `--init` start without redoing it. Each prepared case is a pair of plain
//! NIfTI files (`KEY.nii`: the present modalities as a 4-D float32 image on the model grid;
//! `KEY-label.nii`: the classes) and `KEY.json`, written last, which says which modalities the channels
//! are. The key is a SHA-256 of the source files (path, size, modification time), the profile, the
//! spacing and the crop margin, so a changed file or setting prepares the case again.

use super::sampler::SamplerCase;
use crate::case::{CaseSource, Profile, load_case};
use crate::error::{CloeError, Result};
use crate::io::{OutputType, ReadOptions, WriteOptions, read_image, write_volumes};
use crate::preprocess::{PrepareOptions, prepare};
use crate::volume::Grid;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Bumped when what is stored or how cases are prepared changes.
const CACHE_VERSION: u32 = 2;

/// Where prepared cases go by default: the user's cache folder (`~/.cache/cloe/prepared` on Linux).
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("cloe").join("prepared"))
}

/// The sidecar of a prepared case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sidecar {
    version: u32,
    case: String,
    profile: Profile,
    /// Which profile modalities the channels of `KEY.nii` are, in order.
    present: Vec<bool>,
    has_label: bool,
    dims: [usize; 3],
}

/// The cache key of `source` prepared with `opts`.
fn key(source: &CaseSource, opts: &PrepareOptions) -> Result<String> {
    let mut h = Sha256::new();
    h.update(CACHE_VERSION.to_le_bytes());
    h.update(source.profile.to_string().as_bytes());
    h.update(opts.spacing.unwrap_or(0.0).to_le_bytes());
    h.update(opts.margin.to_le_bytes());
    for f in source.input_files() {
        let meta = std::fs::metadata(&f).map_err(|e| CloeError::unreadable(&f, e))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let path = f.canonicalize().unwrap_or(f);
        h.update(path.to_string_lossy().as_bytes());
        h.update(meta.len().to_le_bytes());
        h.update(modified.to_le_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Prepares `source` as the network sees it, through the cache in `dir` when one is given: read back
/// when present, else prepared and stored (a cache that cannot be written is skipped, not an error).
pub fn prepared_case(
    source: &CaseSource,
    opts: PrepareOptions,
    dir: Option<&Path>,
) -> Result<SamplerCase> {
    let Some(dir) = dir else {
        return Ok(prepare_now(source, opts)?.1);
    };
    let key = key(source, &opts)?;
    if let Some(case) = read_cached(dir, &key) {
        return Ok(case);
    }
    let (grid, case) = prepare_now(source, opts)?;
    if let Err(e) = store(dir, &key, &source.id, &grid, &case) {
        log::warn!(
            "could not keep the prepared case {} in {}: {e}",
            source.id,
            dir.display()
        );
    }
    Ok(case)
}

/// The case prepared now, with its grid at the model spacing.
fn prepare_now(source: &CaseSource, opts: PrepareOptions) -> Result<(Grid, SamplerCase)> {
    let sample = prepare(&load_case(source, ReadOptions::default())?, opts);
    let case = SamplerCase::new(
        source.profile,
        sample.grid.dims,
        sample.channels,
        sample.label,
    );
    Ok((sample.grid, case))
}

/// The cached case under `key`, or None when it is missing, incomplete or unreadable.
fn read_cached(dir: &Path, key: &str) -> Option<SamplerCase> {
    let sidecar: Sidecar =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{key}.json"))).ok()?)
            .ok()?;
    if sidecar.version != CACHE_VERSION {
        return None;
    }
    let image = read_image(&dir.join(format!("{key}.nii")), ReadOptions::default()).ok()?;
    if image.grid.dims != sidecar.dims
        || image.channels.len() != sidecar.present.iter().filter(|p| **p).count()
    {
        return None;
    }
    let mut stored = image.channels.into_iter();
    let channels = sidecar
        .present
        .iter()
        .map(|&p| if p { stored.next() } else { None })
        .collect();
    let label = if sidecar.has_label {
        let l = read_image(
            &dir.join(format!("{key}-label.nii")),
            ReadOptions::default(),
        )
        .ok()?;
        if l.grid.dims != sidecar.dims {
            return None;
        }
        Some(
            l.channels
                .into_iter()
                .next()?
                .iter()
                .map(|&c| c as u8)
                .collect(),
        )
    } else {
        None
    };
    Some(SamplerCase::new(
        sidecar.profile,
        sidecar.dims,
        channels,
        label,
    ))
}

/// Writes a prepared case under `key` (the sidecar last, so a half-written entry is never read).
fn store(dir: &Path, key: &str, id: &str, grid: &Grid, case: &SamplerCase) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| CloeError::unwritable(dir, e.to_string()))?;
    let opts = WriteOptions::default().overwriting(true);
    let present: Vec<&[f32]> = case.channels.iter().flatten().map(Vec::as_slice).collect();
    write_volumes(
        &dir.join(format!("{key}.nii")),
        grid,
        &present,
        OutputType::Float32,
        &opts,
    )?;
    if let Some(label) = &case.label {
        let l: Vec<f32> = label.iter().map(|&c| c as f32).collect();
        write_volumes(
            &dir.join(format!("{key}-label.nii")),
            grid,
            &[&l],
            OutputType::Labels,
            &opts,
        )?;
    }
    let sidecar = Sidecar {
        version: CACHE_VERSION,
        case: id.to_string(),
        profile: case.profile,
        present: case.present().mask().to_vec(),
        has_label: case.label.is_some(),
        dims: case.dims,
    };
    let json =
        serde_json::to_string_pretty(&sidecar).map_err(|e| CloeError::Invalid(e.to_string()))?;
    crate::io::atomic_write(&dir.join(format!("{key}.json")), &opts, |tmp| {
        std::fs::write(tmp, &json).map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_reads_back_as_it_was_stored() {
        let dir = tempfile::tempdir().expect("temp dir");
        let case = SamplerCase::new(
            Profile::Brats,
            [3, 2, 2],
            vec![
                Some((0..12).map(|i| i as f32 * 0.5 - 1.0).collect()),
                None,
                Some(vec![0.25; 12]),
                None,
            ],
            Some(vec![0, 1, 2, 3, 0, 0, 1, 1, 2, 2, 3, 3]),
        );
        let grid = Grid::new(
            case.dims,
            crate::geometry::Affine::from_spacing([2.0; 3], [0.0; 3]),
        );
        store(dir.path(), "k", "case", &grid, &case).expect("stored");
        let back = read_cached(dir.path(), "k").expect("read back");
        assert_eq!(back.dims, case.dims);
        assert_eq!(back.channels, case.channels);
        assert_eq!(back.label, case.label);
        assert_eq!(back.foreground, case.foreground);
        assert!(read_cached(dir.path(), "other").is_none());
    }
}
