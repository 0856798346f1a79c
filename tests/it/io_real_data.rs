//! Every NIfTI file of the shared data read by `cloe::io`, checked against numbers computed independently
//! with nibabel/numpy (tests/reference/reference.json): shape, datatype, affine and its source,
//! orientation, intensity statistics and label counts.

use crate::common;
use cloe::io::{ReadOptions, read_volume};
use cloe::stats::IntensityStats;
use common::{close, data, reference};

#[test]
fn every_shared_file_matches_nibabel() {
    let reference = reference();
    let files = reference["files"].as_object().unwrap();
    assert!(files.len() >= 90, "reference lists {} files", files.len());
    for (rel, want) in files {
        let Some(path) = data(rel) else { continue };
        let v = read_volume(&path, ReadOptions::default()).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(v.grid.dims.to_vec(), shape, "{rel} shape");
        assert_eq!(
            v.info.datatype,
            want["datatype"].as_str().unwrap(),
            "{rel} datatype"
        );
        assert_eq!(
            format!("{:?}", v.info.affine_source).to_lowercase(),
            want["affine_source"].as_str().unwrap(),
            "{rel} affine source"
        );
        for r in 0..4 {
            for c in 0..4 {
                let w = want["affine"][r][c].as_f64().unwrap();
                assert!(
                    close(v.grid.affine.0[r][c], w, 1e-6),
                    "{rel} affine[{r}][{c}] {} vs {w}",
                    v.grid.affine.0[r][c]
                );
            }
        }
        assert_eq!(
            v.grid.axcodes(),
            want["axcodes"].as_str().unwrap(),
            "{rel} orientation"
        );
        let s = IntensityStats::of(&v.data);
        assert_eq!(s.min, want["min"].as_f64().unwrap(), "{rel} min");
        assert_eq!(s.max, want["max"].as_f64().unwrap(), "{rel} max");
        assert!(
            close(s.mean, want["mean"].as_f64().unwrap(), 1e-9),
            "{rel} mean"
        );
        assert_eq!(
            s.nonzero as u64,
            want["nonzero"].as_u64().unwrap(),
            "{rel} non-zero"
        );
        let p = &want["percentiles_nonzero"];
        for (got, key) in [(s.p0_5, "0.5"), (s.p50, "50.0"), (s.p99_5, "99.5")] {
            assert!(
                close(got, p[key].as_f64().unwrap(), 1e-9),
                "{rel} p{key}: {got} vs {}",
                p[key]
            );
        }
        if let Some(counts) = want.get("label_counts").and_then(|c| c.as_object()) {
            let mut got = std::collections::BTreeMap::new();
            for &x in &v.data {
                *got.entry(x as i64).or_insert(0u64) += 1;
            }
            for (value, count) in counts {
                assert_eq!(
                    got.get(&value.parse::<i64>().unwrap()).copied(),
                    count.as_u64(),
                    "{rel} label {value}"
                );
            }
            assert_eq!(got.len(), counts.len(), "{rel} label values");
        }
    }
}
