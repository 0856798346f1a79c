//! Training cases prepared once (read, foreground crop, z-score, model spacing) and kept on disk, so a
//! later run, `--resume` and `--init` start without redoing it. Each prepared case is a pair of plain
//! NIfTI files (the present modalities as a 4-D image on the model grid; the classes) and a JSON
//! sidecar, written last, which names them and says which modalities the channels are.
//!
//! Two uses. The cache (`prepared_case`): float32 `.nii` files under a key that is a SHA-256 of the
//! source files (path, size, modification time), the profile, the spacing and the crop margin, so a
//! changed file or setting prepares the case again. A prepared dataset (`prepare_dataset`, `cloe
//! prepare`): every case of a folder under its own name, compact (channels as int16 in thousandths,
//! gzipped), with a `prepared.json` manifest, so a training set travels without its sources (to a
//! lent GPU machine) and `cloe train` reads it as it is.

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
const CACHE_VERSION: u32 = 3;

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
    /// Which profile modalities the channels of `image` are, in order.
    present: Vec<bool>,
    dims: [usize; 3],
    /// The channels' file (beside the sidecar) and the factor its stored values are multiplied by.
    image: String,
    scale: f32,
    /// The classes' file, when the case has a label map.
    label: Option<String>,
}

/// How prepared cases are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// float32, uncompressed: the cache, read back exactly and fast.
    Exact,
    /// int16 thousandths, gzipped: a prepared dataset that travels (z-scores are rounded to 0.001).
    Compact,
}

/// The manifest of a prepared dataset (`prepared.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub profile: Profile,
    pub spacing_mm: f64,
    pub margin: usize,
    /// The cases, each stored under its own name.
    pub cases: Vec<String>,
}

/// The manifest's file name inside a prepared dataset.
pub const MANIFEST: &str = "prepared.json";

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
    if let Err(e) = store(dir, &key, &source.id, &grid, &case, Storage::Exact) {
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
    let sample = prepare(&load_case(source, ReadOptions::default())?, opts)?;
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
    let image = read_image(&dir.join(&sidecar.image), ReadOptions::default()).ok()?;
    if image.grid.dims != sidecar.dims
        || image.channels.len() != sidecar.present.iter().filter(|p| **p).count()
    {
        return None;
    }
    let mut stored = image.channels.into_iter();
    let channels = sidecar
        .present
        .iter()
        .map(|&p| {
            let mut c = if p { stored.next() } else { None }?;
            if sidecar.scale != 1.0 {
                c.iter_mut().for_each(|v| *v *= sidecar.scale);
            }
            Some(c)
        })
        .collect();
    let label = match &sidecar.label {
        Some(file) => {
            let l = read_image(&dir.join(file), ReadOptions::default()).ok()?;
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
        }
        None => None,
    };
    Some(SamplerCase::new(
        sidecar.profile,
        sidecar.dims,
        channels,
        label,
    ))
}

/// Writes a prepared case under `key` (the sidecar last, so a half-written entry is never read).
fn store(
    dir: &Path,
    key: &str,
    id: &str,
    grid: &Grid,
    case: &SamplerCase,
    storage: Storage,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| CloeError::write_failed(dir, &e))?;
    let opts = WriteOptions::default().overwriting(true);
    let (ext, ty, scale) = match storage {
        Storage::Exact => ("nii", OutputType::Float32, 1.0f32),
        Storage::Compact => ("nii.gz", OutputType::Int16, 0.001),
    };
    let present: Vec<Vec<f32>> = case
        .channels
        .iter()
        .flatten()
        .map(|c| c.iter().map(|v| v / scale).collect())
        .collect();
    let refs: Vec<&[f32]> = present.iter().map(Vec::as_slice).collect();
    let image = format!("{key}.{ext}");
    write_volumes(&dir.join(&image), grid, &refs, ty, &opts)?;
    let label = match &case.label {
        Some(label) => {
            let file = format!("{key}-label.{ext}");
            let l: Vec<f32> = label.iter().map(|&c| c as f32).collect();
            write_volumes(&dir.join(&file), grid, &[&l], OutputType::Labels, &opts)?;
            Some(file)
        }
        None => None,
    };
    let sidecar = Sidecar {
        version: CACHE_VERSION,
        case: id.to_string(),
        profile: case.profile,
        present: case.present().mask().to_vec(),
        dims: case.dims,
        image,
        scale,
        label,
    };
    crate::io::write_json(&dir.join(format!("{key}.json")), &sidecar, &opts)
}

/// Prepares every case of `sources` into `out` as a compact prepared dataset (see the module doc);
/// `progress(done, total)` after each case. Returns the manifest.
pub fn prepare_dataset(
    sources: &[CaseSource],
    opts: PrepareOptions,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Manifest> {
    let profile = sources
        .first()
        .map(|s| s.profile)
        .ok_or_else(|| CloeError::no_case(out, "no case to prepare"))?;
    for (i, source) in sources.iter().enumerate() {
        let (grid, case) = prepare_now(source, opts)?;
        store(out, &source.id, &source.id, &grid, &case, Storage::Compact)?;
        progress(i + 1, sources.len());
    }
    let manifest = Manifest {
        version: CACHE_VERSION,
        profile,
        spacing_mm: opts.spacing.unwrap_or(0.0),
        margin: opts.margin,
        cases: sources.iter().map(|s| s.id.clone()).collect(),
    };
    let opts = WriteOptions::default().overwriting(true);
    crate::io::write_json(&out.join(MANIFEST), &manifest, &opts)?;
    Ok(manifest)
}

/// The manifest of the prepared dataset in `dir`, or None when `dir` is not one.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| CloeError::unreadable(&path, e))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        CloeError::bad_dataset(&path, format!("not a prepared-dataset manifest: {e}"))
    })?;
    if m.version != CACHE_VERSION {
        return Err(CloeError::bad_dataset(
            &path,
            format!(
                "prepared by another version of CLoE Studio (format {}, this one reads {}): \
                 prepare the cases again",
                m.version, CACHE_VERSION
            ),
        ));
    }
    Ok(Some(m))
}

/// The case `id` of the prepared dataset in `dir`.
pub fn read_prepared(dir: &Path, id: &str) -> Result<SamplerCase> {
    read_cached(dir, id).ok_or_else(|| {
        CloeError::bad_dataset(
            dir,
            format!("the prepared case {id} is missing or damaged: prepare the cases again"),
        )
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
        store(dir.path(), "k", "case", &grid, &case, Storage::Exact).expect("stored");
        let back = read_cached(dir.path(), "k").expect("read back");
        assert_eq!(back.dims, case.dims);
        assert_eq!(back.channels, case.channels);
        assert_eq!(back.label, case.label);
        assert_eq!(back.foreground, case.foreground);
        assert!(read_cached(dir.path(), "other").is_none());
        // Compact: the same but z-scores rounded to thousandths.
        store(dir.path(), "c", "case", &grid, &case, Storage::Compact).expect("stored");
        let back = read_cached(dir.path(), "c").expect("read back");
        assert_eq!(back.label, case.label);
        for (a, b) in back
            .channels
            .iter()
            .flatten()
            .zip(case.channels.iter().flatten())
        {
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 0.0005 + 1e-6));
        }
    }
}
