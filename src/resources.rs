//! Where the shipped model and the demo case are, for a run from a source checkout and for an
//! installed package alike: `$CLOE_DATA_DIR`, the working folder, `share/cloe` beside the binary's
//! folder (`/usr/bin/cloe` finds `/usr/share/cloe`, a portable tarball's `bin/cloe` its own
//! `share/cloe`), then the source tree the binary was built from.

use std::path::{Path, PathBuf};

/// The folders searched for `models/` and `assets/`, in order.
pub fn data_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("CLOE_DATA_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::new());
    if let Some(prefix) = (std::env::current_exe().ok())
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
    {
        dirs.push(prefix.join("share").join("cloe"));
    }
    dirs.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    dirs
}

/// `rel` under the first of [`data_dirs`] that holds it; `rel` itself (under the working folder)
/// when none does, so that the error names the path a user would look at.
pub fn find(rel: &Path) -> PathBuf {
    (data_dirs().into_iter())
        .map(|d| d.join(rel))
        .find(|p| p.exists())
        .unwrap_or_else(|| rel.to_path_buf())
}

/// The bundled demo case (`assets/TCGA-DU-7294`).
pub fn bundled_case() -> PathBuf {
    find(&Path::new("assets").join("TCGA-DU-7294"))
}

/// The shipped BraTS model (`models/brats`).
pub fn bundled_model() -> PathBuf {
    find(&Path::new("models").join("brats"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_tree_is_searched_last_and_a_missing_path_names_itself() {
        let dirs = data_dirs();
        assert_eq!(dirs.last().unwrap(), Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(bundled_model().join("config.json").is_file());
        let missing = Path::new("models").join("no-such-model");
        assert_eq!(find(&missing), missing);
    }
}
