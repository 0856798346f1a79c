//! The Debian package as an administrator installs it and a user runs it: `cargo deb --no-build`
//! packs the binary this test run built, `apt-get install` installs it, and from the installed paths
//! alone (run from an empty folder, so nothing of the checkout is found) `cloe --version` answers,
//! `cloe segment` of a shared case with the installed model writes the same labels as the checkout's
//! binary and model, the app opens on the demo case with the model's overlay, a `.nii.gz` is offered
//! to CLoE Studio, lintian finds no error, the portable tarball holds the same files, and `apt-get
//! remove` leaves nothing under /usr/share/cloe.
//!
//! It installs a system package, so it runs only where that is wanted: in CI (`CI=true`, where a
//! missing tool is a failure) or with `CLOE_PACKAGE_TEST=1`; elsewhere it says so and returns.

use crate::common::data;
use crate::layout::*;
use crate::viewer::overlay_pixels;
use crate::x11::{App, Screen, tools_present};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn wanted() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let asked = std::env::var("CLOE_PACKAGE_TEST").is_ok_and(|v| v == "1");
    if !(ci || asked) {
        eprintln!("skipping the package test: it installs a .deb (CI=true or CLOE_PACKAGE_TEST=1)");
        return false;
    }
    let root = run_ok(Command::new("id").arg("-u"));
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
    };
    let missing: Vec<&str> = [
        "cargo-deb",
        "apt-get",
        "lintian",
        "xdg-mime",
        "mimetype",
        "desktop-file-validate",
    ]
    .into_iter()
    .filter(|t| !have(t).is_ok_and(|o| o.status.success()))
    .collect();
    assert!(
        missing.is_empty() && stdout(&root).trim() == "0",
        "the package test needs root and {missing:?} (.ci/run installs them)"
    );
    true
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `cmd`; panics with its output unless it succeeds.
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `cargo deb --no-build` into `dir`: the package of the binary this test run built.
fn build_deb(dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = run_ok(
        Command::new(cargo)
            .args(["deb", "--no-build", "--output"])
            .arg(dir)
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    );
    let mut files = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path());
    let deb = files.find(|p| p.extension().is_some_and(|e| e == "deb"));
    deb.unwrap_or_else(|| panic!("no .deb in {}: {}", dir.display(), stdout(&out)))
}

/// The label map `binary` writes for `case` with `model`, run in `cwd`.
fn segment(binary: &Path, case: &Path, model: &Path, out: &Path, cwd: &Path) -> Vec<f32> {
    run_ok(
        Command::new(binary)
            .arg("segment")
            .arg(case)
            .arg("--model")
            .arg(model)
            .arg("--out")
            .arg(out)
            .args(["--device", "cpu"])
            .current_dir(cwd),
    );
    let v = cloe::io::read_volume(out, Default::default()).expect("a label map");
    v.data.to_vec()
}

#[test]
fn the_deb_installs_runs_from_its_own_paths_and_removes_cleanly() {
    let _one = crate::ONE_AT_A_TIME.lock();
    if !wanted() || !tools_present() {
        return;
    }
    let Some(case) = data("brats2018/Brats18_2013_11_1") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("elsewhere");
    std::fs::create_dir(&empty).unwrap();
    let deb = build_deb(tmp.path());
    let lint = Command::new("lintian")
        .args(["--fail-on", "error", "--no-tag-display-limit"])
        .arg(&deb)
        .output()
        .unwrap();
    assert!(lint.status.success(), "lintian: {}", stdout(&lint));
    run_ok(
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .arg(&deb),
    );

    let installed = Path::new("/usr/bin/cloe");
    let version = stdout(&run_ok(Command::new(installed).arg("--version")));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    let model = Path::new("/usr/share/cloe/models/brats");
    let from_package = segment(
        installed,
        &case,
        model,
        &tmp.path().join("a.nii.gz"),
        &empty,
    );
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let from_checkout = segment(
        Path::new(env!("CARGO_BIN_EXE_cloe")),
        &case,
        &checkout.join("models/brats"),
        &tmp.path().join("b.nii.gz"),
        checkout,
    );
    assert!(
        from_package == from_checkout,
        "the installed model segments as the checkout's"
    );

    // The app from the menu (no argument): the demo case and the model, found under /usr/share/cloe.
    let screen = Screen::start("package");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let mut app = App::launch_binary(&screen, installed, &[], &home, &empty);
    app.hover(NEUTRAL);
    app.settle(Duration::from_millis(1500), Duration::from_secs(180));
    let shown = app.snap("installed-app");
    assert!(
        overlay_pixels(&shown, AXIAL) > 500,
        "the model's overlay on the demo case"
    );
    app.key("ctrl+q");
    assert!(app.wait_exit(Duration::from_secs(20)), "Ctrl+Q closes");
    drop(app);

    // The desktop entry is valid, and a .nii.gz is offered to CLoE Studio.
    run_ok(
        Command::new("desktop-file-validate").arg("/usr/share/applications/cloe-studio.desktop"),
    );
    let nifti = run_ok(
        Command::new("xdg-mime")
            .args(["query", "filetype"])
            .arg(case.join("Brats18_2013_11_1_flair.nii.gz")),
    );
    assert_eq!(stdout(&nifti).trim(), "application/x-nifti-gz");
    let app_for =
        run_ok(Command::new("xdg-mime").args(["query", "default", "application/x-nifti-gz"]));
    assert_eq!(stdout(&app_for).trim(), "cloe-studio.desktop");

    // The tarball: the same files, and its launcher runs.
    let script = checkout.join("assets/linux/make-tarball.sh");
    let tarball = stdout(&run_ok(Command::new(script).arg(&deb).arg(tmp.path())));
    let unpacked = tmp.path().join("tar");
    std::fs::create_dir(&unpacked).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(tarball.trim())
            .arg("-C")
            .arg(&unpacked),
    );
    let root = std::fs::read_dir(&unpacked)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let launched = stdout(&run_ok(
        Command::new(root.join("cloe-studio")).arg("--version"),
    ));
    assert_eq!(launched, version);
    assert!(root.join("share/cloe/models/brats/model.bpk").is_file());

    run_ok(Command::new("apt-get").args(["remove", "-y", "-qq", "cloe"]));
    assert!(
        !Path::new("/usr/share/cloe").exists(),
        "apt-get remove left /usr/share/cloe"
    );
    assert!(!installed.exists(), "apt-get remove left /usr/bin/cloe");
}
