//! The viewer's label export and autosave killed with SIGKILL at random moments, in a real process
//! exporting and autosaving a BraTS case's edited labels over and over: every file the user can find
//! afterwards is either absent, the old one or the whole new one (the same bytes as an export that
//! finished), never a torn one, and a later export is not tripped by what the killed ones left.

use crate::common::{child_test, data, in_child};
use cloe::app::autosave_path;
use cloe::render::Plane;
use std::io::BufRead;
use std::path::{Path, PathBuf};

const CHILD: &str = "viewer_export_killed::viewer_exporting_until_killed";

/// The child's folders, the name its exports start with, and whether it stops after one export and
/// autosave.
fn exporter(
    tmp: &Path,
    case: &Path,
    exports: &Path,
    prefix: &str,
    once: bool,
) -> std::process::Command {
    let mut cmd = child_test(
        CHILD,
        &[
            ("CLOE_TEST_CASE", case.to_str().unwrap()),
            ("CLOE_TEST_AUTOSAVE", tmp.join("autosave").to_str().unwrap()),
            ("CLOE_TEST_EXPORTS", exports.to_str().unwrap()),
            ("CLOE_TEST_PREFIX", prefix),
            ("CLOE_TEST_ONCE", if once { "1" } else { "0" }),
        ],
    );
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    cmd
}

/// The files a user sees in `dir` (not the hidden temporaries of killed writes), and how many of those.
fn listing(dir: &Path) -> (Vec<PathBuf>, usize) {
    let mut shown = Vec::new();
    let mut hidden = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            hidden += 1;
        } else {
            shown.push(entry.path());
        }
    }
    (shown, hidden)
}

#[test]
fn label_export_and_autosave_killed_at_random_moments_leave_old_or_whole_files() {
    let Some(case) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // The reference: one export and one autosave that finished.
    let first = tmp.path().join("exports-0");
    let done = exporter(tmp.path(), &case, &first, "labels", true)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stdout)
    );
    let whole_export = std::fs::read(first.join("labels-0.nii.gz")).unwrap();
    let (autosaves, _) = listing(&tmp.path().join("autosave"));
    assert_eq!(autosaves.len(), 1, "{autosaves:?}");
    let autosave = autosaves[0].clone();
    let whole_autosave = std::fs::read(&autosave).unwrap();
    let old_autosave = b"an older autosave".to_vec();

    let mut seed = 4242u64;
    let (mut exported, mut temporaries) = (0, 0);
    let mut autosave_states = std::collections::BTreeSet::new();
    for run in 1..=12 {
        std::fs::write(&autosave, &old_autosave).unwrap();
        let exports = tmp.path().join(format!("exports-{run}"));
        let mut child = exporter(tmp.path(), &case, &exports, "labels", false)
            .spawn()
            .unwrap();
        // The kill comes while the export loop runs: after its first line (printed after the test
        // harness's own "test NAME ... "), at a random moment.
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let started = lines.any(|l| l.is_ok_and(|l| l.ends_with("exported 0")));
        assert!(started, "the child exported nothing");
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(std::time::Duration::from_millis((seed >> 33) % 1500));
        child.kill().unwrap();
        child.wait().unwrap();

        let (files, hidden) = listing(&exports);
        temporaries += hidden + listing(&tmp.path().join("autosave")).1;
        for file in &files {
            assert!(
                std::fs::read(file).unwrap() == whole_export,
                "{} is torn",
                file.display()
            );
        }
        exported += files.len();
        let now = std::fs::read(&autosave).unwrap();
        assert!(
            now == old_autosave || now == whole_autosave,
            "the autosave is torn ({} bytes)",
            now.len()
        );
        autosave_states.insert(now == whole_autosave);
    }
    eprintln!(
        "{exported} whole exports, {temporaries} temporaries of killed writes, autosave states seen \
         (true = new): {autosave_states:?}"
    );
    assert!(
        temporaries > 0,
        "no kill landed inside a write: the test did not test"
    );
    // A later export into a folder holding a killed one's temporary (when a kill left one there)
    // and the autosave of the same case are not tripped by what the kills left.
    let littered = (1..=12)
        .map(|run| tmp.path().join(format!("exports-{run}")))
        .max_by_key(|d| listing(d).1)
        .unwrap();
    let later = exporter(tmp.path(), &case, &littered, "later", true)
        .output()
        .unwrap();
    assert!(later.status.success());
    assert_eq!(
        std::fs::read(littered.join("later-0.nii.gz")).unwrap(),
        whole_export
    );
    assert_eq!(std::fs::read(&autosave).unwrap(), whole_autosave);
}

#[test]
#[ignore = "runs in its own process, started by label_export_and_autosave_killed_at_random_moments_leave_old_or_whole_files"]
fn viewer_exporting_until_killed() {
    if !in_child() {
        return;
    }
    let var = |name: &str| PathBuf::from(std::env::var(name).unwrap());
    let (case, exports) = (var("CLOE_TEST_CASE"), var("CLOE_TEST_EXPORTS"));
    let autosave_dir = var("CLOE_TEST_AUTOSAVE");
    let prefix = std::env::var("CLOE_TEST_PREFIX").unwrap();
    std::fs::create_dir_all(&exports).unwrap();
    let mut h = crate::viewer_editing::harness(&case, &autosave_dir);
    // An edit: a TC dab in the middle of the brain.
    let view = h.state_mut().view.as_mut().unwrap();
    view.edit.brush.class = 2;
    view.paint(Plane::Axial, [120, 120, 77]);
    view.edit.end_stroke();
    assert!(view.edit.unsaved);
    // Then labels that compress poorly (pseudo-random classes), so that most of each cycle is spent
    // writing files and the kills land inside writes, not in the conversions between them.
    let mut state = 1u64;
    for c in view.overlay.labels.as_mut().unwrap().iter_mut() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *c = (state >> 62) as u8;
    }
    view.overlay.version += 1;
    let once = std::env::var("CLOE_TEST_ONCE").is_ok_and(|v| v == "1");
    for i in 0.. {
        let app = h.state_mut();
        app.export_labels(&exports.join(format!("{prefix}-{i}.nii.gz")))
            .unwrap();
        // The same labels as a newer version: the autosave is written again.
        app.view.as_mut().unwrap().overlay.version += 1;
        app.flush_autosave();
        let view = app.view.as_ref().unwrap();
        assert!(autosave_path(&autosave_dir, view).is_file());
        println!("exported {i}");
        if once {
            break;
        }
    }
}
