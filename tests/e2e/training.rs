//! The Training page in a real window: fill the form by typing, start a run from random weights on a
//! small synthetic dataset (plumbing only, no claim about real scans), stop it (a checkpoint is
//! written), start again (it resumes where it stopped), and watch the files it writes.

use crate::common::synthetic_prostate;
use crate::layout::*;
use crate::x11::{App, Screen, tools_present};
use std::path::Path;
use std::time::Duration;

/// Steps written to the run's log so far.
fn logged_steps(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("train-log.csv"))
        .map(|s| s.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn train_stop_and_resume_in_a_real_window() {
    let _one = crate::ONE_AT_A_TIME.lock();
    if !tools_present() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    synthetic_prostate(&data);
    let out = home.path().join("model");
    let screen = Screen::start("training");
    let case = data.join("Synth-0").display().to_string();
    let mut app = App::launch(&screen, &["view", &case], home.path());
    app.hover(NEUTRAL);
    app.settle(Duration::from_secs(1), Duration::from_secs(120));

    app.click(TRAINING_PAGE);
    app.fill(CASES_FIELD, &data.display().to_string());
    app.fill(START_FROM_FIELD, "");
    app.key("BackSpace");
    app.fill(WRITE_TO_FIELD, &out.display().to_string());
    app.fill(STEPS_FIELD, "1000");
    app.key("Return");
    app.hover(NEUTRAL);
    let form = app.snap("form");

    // Start: steps arrive in the run's log.
    app.click(START_STOP);
    app.hover(NEUTRAL);
    app.wait_for("the first steps", Duration::from_secs(240), |_| {
        logged_steps(&out) >= 2
    });
    let running = app.snap_now("running");
    assert!(
        crate::x11::changed(&form, &running, crate::x11::Rect(0, 300, 1280, 860)) > 500,
        "progress, loss curve"
    );

    // Stop: the run ends with a checkpoint and the log stops growing.
    app.click(START_STOP);
    app.hover(NEUTRAL);
    let checkpoint = out.join("checkpoint/state.json");
    app.wait_for("the checkpoint", Duration::from_secs(120), |_| {
        checkpoint.is_file()
    });
    std::thread::sleep(Duration::from_secs(3));
    let stopped = logged_steps(&out);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(logged_steps(&out), stopped, "no steps after Stop");
    app.snap("stopped");

    // Start again: the run resumes, its log continues from the stop (no restart from step 1).
    app.click(START_STOP);
    app.hover(NEUTRAL);
    app.wait_for("the resumed steps", Duration::from_secs(240), |_| {
        logged_steps(&out) >= stopped + 2
    });
    let log = std::fs::read_to_string(out.join("train-log.csv")).unwrap();
    let steps: Vec<usize> = (log.lines().skip(1))
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    assert!(
        steps.windows(2).all(|w| w[1] == w[0] + 1),
        "one row per step, in order, across the stop: {:?}",
        &steps[..steps.len().min(20)]
    );
    app.snap_now("resumed");
    app.click(START_STOP);
    app.hover(NEUTRAL);
    app.key("ctrl+q");
    assert!(
        app.wait_exit(Duration::from_secs(60)),
        "Ctrl+Q closes the app"
    );
}
