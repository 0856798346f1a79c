//! Paths in JSON reports written as their text even when they are not UTF-8 (a folder named in
//! Latin-1 on a Linux disk, say): serde refuses such a path and would lose the whole report, so the
//! fields that hold paths serialise through these (`#[serde(serialize_with = …)]`), with U+FFFD where a
//! byte is not UTF-8.

use serde::Serializer;
use std::path::{Path, PathBuf};

/// One path.
pub fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// A path that may be absent.
pub fn option<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_some(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// Paths each with a reason (files ignored and why).
pub fn with_reasons<S: Serializer>(v: &[(PathBuf, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|(p, why)| (p.to_string_lossy(), why)))
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    #[derive(serde::Serialize)]
    struct Report {
        #[serde(serialize_with = "super::path")]
        file: std::path::PathBuf,
        #[serde(serialize_with = "super::option")]
        label: Option<std::path::PathBuf>,
        #[serde(serialize_with = "super::with_reasons")]
        ignored: Vec<(std::path::PathBuf, String)>,
    }

    #[test]
    fn a_latin1_path_is_written_not_refused() {
        let caf = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"/data/caf\xe9/t1.nii"));
        let r = Report {
            file: caf.clone(),
            label: Some(caf.clone()),
            ignored: vec![(caf, "why".into())],
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"file":"/data/caf\ufffd/t1.nii","label":"/data/caf\ufffd/t1.nii","ignored":[["/data/caf\ufffd/t1.nii","why"]]}"#
                .replace("\\ufffd", "\u{fffd}")
        );
    }
}
