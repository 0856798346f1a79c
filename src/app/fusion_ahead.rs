//! Fusions computed ahead of the reader: while they look at one modality subset, a worker thread fuses
//! the subsets one switch away (`Session::prefetch`), so that their next toggle finds its fusion kept
//! and shows it at once. A toggle, a new case or another model cancels it first; it only ever uses the
//! experts already computed, and what it fuses is kept in the session, never shown by itself. It runs
//! at a lower priority than the UI ([`Job::spawn_background`]).

use super::job::Job;
use crate::case::Subset;
use crate::error::{CloeError, Result};
use crate::infer::Session;
use std::sync::Arc;

/// The fusions being computed ahead, if any.
#[derive(Default)]
pub struct FusionAhead {
    job: Option<Job<usize>>,
}

impl FusionAhead {
    /// Starts fusing the subsets one switch away from `shown` (cancelling what ran before).
    pub fn start(&mut self, session: &Arc<Session>, shown: &Subset) {
        self.cancel();
        let (session, shown) = (session.clone(), shown.clone());
        self.job = Some(Job::spawn_background("cloe-fuse-ahead", move |worker| {
            session.prefetch(&shown, worker.cancel_flag())
        }));
    }

    /// Asks the work to stop (at its next window; a toggle does not wait for it).
    pub fn cancel(&mut self) {
        if let Some(job) = self.job.take() {
            job.cancel();
        }
    }

    /// True while fusions are being computed ahead.
    pub fn running(&self) -> bool {
        self.job.as_ref().is_some_and(|job| !job.finished())
    }

    /// Takes the work's result once it has ended (a failure goes to the log only: see [`report`]).
    pub fn collect(&mut self) {
        if let Some(done) = Job::poll(&mut self.job) {
            report(done);
        }
    }
}

impl Drop for FusionAhead {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// A failure ahead of time is not the reader's: the toggle that needs the fusion meets it again and
/// shows it. Only the log hears of it here.
fn report(done: Result<usize>) {
    match done {
        Ok(_) | Err(CloeError::Cancelled) => {}
        Err(e) => eprintln!("fusing the next modality subsets ahead of time failed: {e}"),
    }
}
