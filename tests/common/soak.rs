//! The soak loop of issue 30, shared by `tests/it/soak.rs` and `benches/soak.rs`: one app opens the
//! bundled case again and again, the shipped model segments each opening, every fourth saves its labels;
//! the process's resident memory is read after each opening.

use cloe::app::ViewerApp;
use eframe::egui;
use egui_kittest::Harness;
use std::path::Path;
use std::time::{Duration, Instant};

/// The resident memory of this process in MB (Linux: /proc/self/statm), after glibc has handed the
/// heap memory it keeps free back to the system: what the process holds, not what its allocator
/// caches (which swings by hundreds of MB from one opening to the next with the 1.5 mm model).
pub fn resident_mb() -> f64 {
    cloe::allocator::hand_back();
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0 / 1e6
}

/// Opens the bundled case `n` times in one app with the shipped model; returns the resident memory
/// after each opening's segmentation has shown. Saves go to `out`. The allocator is set as the `cloe`
/// binary sets it (the caller runs this in a process of its own).
pub fn soak(n: usize, out: &Path) -> Vec<f64> {
    cloe::allocator::keep_buffers();
    let mut app = ViewerApp::new(None);
    app.models.shipped = Some(cloe::app::bundled_model());
    app.autosave.dir = Some(out.join("autosave"));
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut ViewerApp| app.show(ui), app);
    let mut resident = Vec::new();
    for i in 0..n {
        h.state_mut().open(cloe::app::bundled_case());
        h.step();
        let t = Instant::now();
        while !segmented(h.state()) {
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "opening {i} timed out"
            );
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        h.run_steps(3);
        if i % 4 == 3 {
            let file = out.join(format!("labels-{i}.nii.gz"));
            h.state().export_labels(&file).expect("labels saved");
        }
        resident.push(resident_mb());
    }
    resident
}

fn segmented(a: &ViewerApp) -> bool {
    !a.is_loading()
        && a.view.is_some()
        && (a.models.model.as_ref()).is_some_and(|m| m.maps.is_some() && !m.busy())
}
