//! "Export measurements" in the viewer writes what its panel shows, as CSV and JSON, with the CLI's
//! figures: on a shared BraTS case, the ground truth's region volumes equal `cloe inspect`'s label
//! volumes, and the shipped model's segmentation, loaded as the overlay, has the volumes, Dice, HD95
//! and lesions of `cloe segment --report` on the same case.

use crate::common::{cloe, data};
use crate::viewer_editing::wait;
use cloe::app::ViewerApp;
use cloe::metrics::MeasurementReport;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::Path;

fn json_of(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Exports the measurements of the overlay shown to `stem`.csv/.json once they are measured.
fn export(h: &mut Harness<'static, ViewerApp>, stem: &Path) -> (MeasurementReport, String) {
    wait(h, "the measurements", |a| {
        a.view.as_ref().is_some_and(|v| v.measure.done())
    });
    h.state_mut().export.field = stem.with_extension("csv").display().to_string();
    h.run_steps(2);
    h.get_by_label("Export measurements").click();
    h.run_steps(2);
    assert_eq!(h.state().error, None);
    let report: MeasurementReport =
        serde_json::from_str(&std::fs::read_to_string(stem.with_extension("json")).unwrap())
            .unwrap();
    let csv = std::fs::read_to_string(stem.with_extension("csv")).unwrap();
    assert_eq!(csv, report.to_csv(), "the CSV says what the JSON says");
    (report, csv)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn exported_measurements_equal_inspect_and_segment() {
    let Some(case) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (seg, report) = (tmp.path().join("seg.nii.gz"), tmp.path().join("r.json"));
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/brats");
    let (code, _, err) = cloe(&[
        "segment",
        case.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        seg.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cloe(&["inspect", case.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let inspected: serde_json::Value = serde_json::from_str(&out).unwrap();

    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 1000.0))
        .build_eframe(|_| ViewerApp::new(Some(case.clone())));
    wait(&mut h, "the case", |a| a.view.is_some() && !a.is_loading());
    // The ground truth: its region volumes are sums of inspect's label volumes (BraTS 2018 values:
    // WT = 1, 2, 4; TC = 1, 4; ET = 4).
    let (truth, csv) = export(&mut h, &tmp.path().join("truth"));
    assert!(csv.starts_with(MeasurementReport::CSV_HEADER), "{csv}");
    let label = (inspected["files"].as_array().unwrap().iter())
        .find(|f| f["role"] == "label")
        .unwrap();
    let ml_of = |values: &[u64]| -> f64 {
        (label["labels"].as_array().unwrap().iter())
            .filter(|l| values.contains(&l["value"].as_u64().unwrap()))
            .map(|l| l["ml"].as_f64().unwrap())
            .sum()
    };
    for (region, values) in [("WT", &[1, 2, 4][..]), ("TC", &[1, 4]), ("ET", &[4])] {
        let got = truth.region(region).unwrap().ml;
        assert!(close(got, ml_of(values)), "{region}: {got} vs inspect");
    }
    assert!(!truth.lesions.is_empty());

    // The model's segmentation as the overlay: the figures of `cloe segment --report`.
    h.state_mut().overlay_field = seg.display().to_string();
    h.get_by_label("Load labels").click();
    h.run_steps(2);
    let (shown, _) = export(&mut h, &tmp.path().join("model"));
    let cli: MeasurementReport =
        serde_json::from_value(json_of(&report)["measurements"].clone()).unwrap();
    assert_eq!(shown.regions.len(), cli.regions.len());
    for (a, b) in shown.regions.iter().zip(&cli.regions) {
        assert_eq!(a.region, b.region);
        assert!(close(a.ml, b.ml), "{a:?} {b:?}");
        assert!(close(a.dice.unwrap(), b.dice.unwrap()), "{a:?} {b:?}");
        assert!(close(a.hd95_mm.unwrap(), b.hd95_mm.unwrap()), "{a:?} {b:?}");
    }
    assert_eq!(shown.lesions, cli.lesions);
}
