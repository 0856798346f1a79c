//! Damaged model folders: `cloe segment` refuses each with one line naming the file and what to do
//! (exit code 2, no panic): weights cut short, weights that are not a weights file, a config.json that is
//! not JSON or names another architecture than the weights', a config from a newer version, a folder
//! without weights.

use crate::common::cloe;
use std::path::Path;

/// A copy of the shipped model in `dir`, changed by `damage`.
pub(crate) fn damaged(dir: &Path, damage: impl FnOnce(&Path)) -> String {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/brats");
    std::fs::create_dir_all(dir).unwrap();
    for f in ["config.json", "model.bpk"] {
        std::fs::copy(shipped.join(f), dir.join(f)).unwrap();
    }
    damage(dir);
    dir.to_str().unwrap().to_string()
}

fn refused(model: &str, needles: &[&str]) {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/TCGA-DU-7294");
    let out = tempfile::tempdir().unwrap();
    let labels = out.path().join("labels.nii.gz");
    let (code, _, err) = cloe(&[
        "segment",
        case.to_str().unwrap(),
        "--model",
        model,
        "--out",
        labels.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // (The graphics stack may add its own complaint about XDG_RUNTIME_DIR on a headless machine.)
    let ours = err
        .lines()
        .filter(|l| !l.contains("XDG_RUNTIME_DIR") && !l.trim().is_empty());
    assert_eq!(ours.count(), 1, "one line: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!labels.exists(), "nothing written");
}

#[test]
fn damaged_model_folders_are_refused_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str| tmp.path().join(name);
    let cut = damaged(&t("cut"), |d| {
        let bytes = std::fs::read(d.join("model.bpk")).unwrap();
        std::fs::write(d.join("model.bpk"), &bytes[..100_000]).unwrap();
    });
    refused(
        &cut,
        &["model.bpk", "damaged", "copy the model folder again"],
    );
    let noise = damaged(&t("noise"), |d| {
        let n = std::fs::metadata(d.join("model.bpk")).unwrap().len() as usize;
        let bytes: Vec<u8> = (0..n)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        std::fs::write(d.join("model.bpk"), bytes).unwrap();
    });
    refused(&noise, &["model.bpk", "copy the model folder again"]);
    let not_json = damaged(&t("not-json"), |d| {
        std::fs::write(d.join("config.json"), "{ this is not json").unwrap();
    });
    refused(&not_json, &["config.json", "not a CLoE model config"]);
    let wider = damaged(&t("wider"), |d| {
        let text = std::fs::read_to_string(d.join("config.json")).unwrap();
        let text = text.replace("\"channels\": 8", "\"channels\": 16");
        std::fs::write(d.join("config.json"), text).unwrap();
    });
    refused(&wider, &["model.bpk", "config.json", "do not match"]);
    let newer = damaged(&t("newer"), |d| {
        let text = std::fs::read_to_string(d.join("config.json")).unwrap();
        let text = text.replace(
            "\"format\": 1",
            "\"format\": 2, \"experts\": {\"kind\": \"moe\"}",
        );
        std::fs::write(d.join("config.json"), text).unwrap();
    });
    refused(
        &newer,
        &["config.json", "newer CLoE Studio", "update CLoE Studio"],
    );
    let empty = damaged(&t("no-weights"), |d| {
        std::fs::remove_file(d.join("model.bpk")).unwrap();
    });
    refused(&empty, &["model.bpk", "missing"]);
}
