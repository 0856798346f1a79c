//! A disk that fills up and a share that is read-only, made real: small tmpfs mounts (root only; in CI
//! a failure to mount fails the test). `cloe segment` into a full disk says so in plain words with the
//! path, leaves the old output whole and nothing half-written; into a read-only mount it is refused
//! before the work; the NIfTI and JSON writers the app saves with do the same; the viewer's autosave
//! on a full disk says so and keeps the edits; a training run's checkpoint on a full disk says so.

use crate::common::cloe;
use cloe::io::{WriteOptions, check_target, write_text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted on a temporary folder (read-only with `ro`), unmounted on drop.
pub(crate) struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    pub(crate) fn new(size: &str, ro: bool) -> Option<Mount> {
        let dir = tempfile::tempdir().unwrap();
        let opts = format!("size={size}{}", if ro { ",ro" } else { "" });
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(!ci, "cannot mount a tmpfs (CI runs as root and must)");
            eprintln!("skipping: mounting a tmpfs needs root");
            return None;
        }
        Some(Mount { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes the file system read-only from now on (what was put there stays readable).
    pub(crate) fn remount_read_only(&self) {
        let ok = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remounting {} read-only", self.path().display());
    }

    /// Fills the file system but for `leave` bytes.
    fn fill(&self, leave: usize) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![7u8; 4096];
        while f.write_all(&block).is_ok() {}
        drop(f);
        let len = std::fs::metadata(self.path().join("filler")).unwrap().len();
        let keep = len.saturating_sub(leave as u64);
        std::fs::OpenOptions::new()
            .write(true)
            .open(self.path().join("filler"))
            .unwrap()
            .set_len(keep)
            .unwrap();
    }

    fn leftovers(&self) -> Vec<PathBuf> {
        (std::fs::read_dir(self.path()).unwrap().flatten())
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn bundled() -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let case = root.join("assets/TCGA-DU-7294").display().to_string();
    (case, root.join("models/brats").display().to_string())
}

#[test]
fn segment_into_a_full_disk_says_so_and_keeps_the_old_output_whole() {
    let Some(disk) = Mount::new("2m", false) else {
        return;
    };
    let out = disk.path().join("labels.nii.gz");
    std::fs::write(&out, b"the labels of yesterday").unwrap();
    disk.fill(2048);
    let (case, model) = bundled();
    let target = out.display().to_string();
    let args = ["segment", &case, "--model", &model, "--out", &target];
    let (code, _, err) = cloe(&[&args[..], &["--force", "--device", "cpu"]].concat());
    assert_ne!(code, 0);
    assert!(
        err.contains("the disk is full") && err.contains(&target),
        "{err}"
    );
    assert!(!err.contains("Os {"), "a raw error: {err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"the labels of yesterday");
    assert!(disk.leftovers().is_empty(), "{:?}", disk.leftovers());
}

#[test]
fn segment_into_a_read_only_share_is_refused_before_the_work() {
    let Some(share) = Mount::new("1m", true) else {
        return;
    };
    let (case, model) = bundled();
    let target = share.path().join("labels.nii.gz").display().to_string();
    let args = ["segment", &case, "--model", &model, "--out", &target];
    let (code, out, err) = cloe(&[&args[..], &["--device", "cpu"]].concat());
    assert_ne!(code, 0);
    assert!(err.contains("read-only") && err.contains(&target), "{err}");
    assert!(out.is_empty(), "no segmentation was reported: {out}");
    // The library's check says the same to the app's save before anything is written.
    let e = check_target(Path::new(&target), &WriteOptions::default()).unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
}

#[test]
fn a_save_on_a_full_disk_keeps_the_old_file_and_leaves_nothing_behind() {
    let Some(disk) = Mount::new("1m", false) else {
        return;
    };
    let file = disk.path().join("review.csv");
    std::fs::write(&file, "old").unwrap();
    disk.fill(100);
    let big = "x".repeat(64 * 1024);
    let e = write_text(&file, &big, &WriteOptions::default().overwriting(true)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("the disk is full") && msg.contains("review.csv"),
        "{msg}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "old");
    assert!(disk.leftovers().is_empty(), "{:?}", disk.leftovers());
}

#[test]
fn an_autosave_on_a_full_disk_says_so_and_the_edits_stay() {
    let Some(disk) = Mount::new("1m", false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    crate::common::synthetic_prostate(&tmp.path().join("data"));
    let autosave = disk.path().join("autosave");
    std::fs::create_dir(&autosave).unwrap();
    disk.fill(0);
    let mut h = crate::viewer_editing::harness(&tmp.path().join("data/Synth-1"), &autosave);
    use egui_kittest::kittest::Queryable;
    h.get_by_label("Paint").click();
    h.run_steps(2);
    h.state_mut().view.as_mut().unwrap().edit.brush.class = 2;
    let centre = eframe::egui::Pos2::new(660.0, 470.0);
    let stroke = eframe::egui::vec2(30.0, 0.0);
    crate::viewer_editing::drag(&mut h, centre - stroke, centre + stroke);
    let painted = h.state().view.as_ref().unwrap().overlay.labels.clone();
    crate::viewer_editing::wait(&mut h, "the autosave's failure", |a| a.error.is_some());
    let error = h.state().error.clone().unwrap();
    assert!(
        error.contains("autosave failed") && error.contains("the disk is full"),
        "{error}"
    );
    let view = h.state().view.as_ref().unwrap();
    assert!(
        view.edit.unsaved && view.overlay.labels == painted,
        "the edits stay"
    );
    assert!(disk.leftovers().is_empty(), "{:?}", disk.leftovers());
}

#[test]
fn a_training_checkpoint_on_a_full_disk_says_so() {
    let Some(disk) = Mount::new("1m", false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    crate::common::synthetic_prostate(&data);
    disk.fill(64 * 1024);
    let out = disk.path().join("model");
    let (d, o) = (data.display().to_string(), out.display().to_string());
    let cache = tmp.path().join("prepared").display().to_string();
    let args = crate::common::train_args(&d, &o, "2", &cache);
    let (code, _, err) = cloe(&args);
    assert_ne!(code, 0);
    assert!(
        err.contains("the disk is full") && err.contains(&o),
        "{err}"
    );
    assert!(!err.contains("Os {"), "a raw error: {err}");
}
