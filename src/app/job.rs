//! The app's one kind of background work. A [`Job`] runs a closure on a worker thread of its own
//! (`guard::spawn`: a panic there becomes an error, never a second panic on the UI thread), shares a
//! progress count and a cancel flag with it through a [`Worker`], and is polled once per frame: it
//! hands back the result when the work has ended. Reading a case, the model's experts and fusions,
//! the measurements, the autosave, the 3-D meshes, the training run and the Training page's check of
//! the cases are all jobs.

use crate::error::Result;
use poll_promise::Promise;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// What the work sees of its job: where to report progress, and whether it was asked to stop.
#[derive(Clone, Default)]
pub struct Worker {
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
    cancel: Arc<AtomicBool>,
}

impl Worker {
    /// Reports `done` of `total` steps.
    pub fn report(&self, done: usize, total: usize) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// The flag the library's long computations read between steps.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }
}

/// Work on a worker thread, with its progress and cancel flag.
pub struct Job<T: Send + 'static> {
    promise: Promise<Result<T>>,
    worker: Worker,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a thread named `name`.
    pub fn spawn(name: &str, work: impl FnOnce(&Worker) -> Result<T> + Send + 'static) -> Self {
        let worker = Worker::default();
        let theirs = worker.clone();
        Self {
            promise: crate::guard::spawn(name, move || work(&theirs)),
            worker,
        }
    }

    /// Starts `work` as [`Job::spawn`] does, for work the reader did not ask for (a case fetched
    /// ahead, fusions ahead of a toggle): its parallel parts run on [`background_pool`], whose
    /// threads the system schedules after the UI's, so that frames and the reader's own requests
    /// keep their pace on a machine with few cores.
    pub fn spawn_background(
        name: &str,
        work: impl FnOnce(&Worker) -> Result<T> + Send + 'static,
    ) -> Self {
        Self::spawn(name, move |worker| match background_pool() {
            Some(pool) => pool.install(|| work(worker)),
            None => work(worker),
        })
    }

    /// The job in `slot`, taken out once its work has ended: its result (None while it runs, and when
    /// the slot is empty).
    pub fn poll(slot: &mut Option<Self>) -> Option<Result<T>> {
        let job = slot.take()?;
        match job.promise.try_take() {
            Ok(result) => Some(result),
            Err(promise) => {
                *slot = Some(Self { promise, ..job });
                None
            }
        }
    }

    /// Waits for the work to end (the app is closing, or another case replaces this one).
    pub fn wait(self) -> Result<T> {
        self.promise.block_and_take()
    }
}

impl<T: Send + 'static> Job<T> {
    /// Steps done and in all, as the work last reported them.
    pub fn progress(&self) -> (usize, usize) {
        let w = &self.worker;
        (
            w.done.load(Ordering::Relaxed),
            w.total.load(Ordering::Relaxed),
        )
    }

    /// True once the work has ended (its result waits for [`Job::poll`]).
    pub fn finished(&self) -> bool {
        self.promise.ready().is_some()
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.worker.cancel.store(true, Ordering::Relaxed);
    }
}

/// A pool as large as rayon's global one whose threads run at a lower priority (nice 10 on Linux,
/// where a thread's priority is its own; elsewhere the same as the others). `None` if the system
/// refused the threads: the work then runs on the global pool.
fn background_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("cloe-background-{i}"))
            .start_handler(|_| lower_this_threads_priority())
            .build()
            .ok()
    })
    .as_ref()
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: plain system calls on this thread's own id; a refusal leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CloeError;

    fn finish<T: Send + 'static>(mut slot: Option<Job<T>>) -> Result<T> {
        loop {
            if let Some(r) = Job::poll(&mut slot) {
                assert!(slot.is_none(), "a finished job leaves its slot");
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_job_reports_progress_and_stops_when_cancelled() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let job = Job::spawn("test-job", move |w| {
            w.report(1, 3);
            let _ = rx.recv();
            let mut steps = 1;
            while !w.cancel_flag().load(Ordering::Relaxed) && steps < 1_000_000 {
                steps += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Ok(steps)
        });
        while job.progress() != (1, 3) {
            std::thread::yield_now();
        }
        let mut slot = Some(job);
        assert!(
            Job::poll(&mut slot).is_none(),
            "still waiting for the channel"
        );
        slot.as_ref().unwrap().cancel();
        tx.send(()).unwrap();
        let steps = finish(slot).unwrap();
        assert!(steps < 1_000_000, "cancelled after {steps} steps");
    }

    #[test]
    fn a_panic_in_the_work_is_an_error() {
        let job = Job::<()>::spawn("test-panic", |_| panic!("index out of bounds"));
        let e = finish(Some(job)).unwrap_err();
        assert!(matches!(e, CloeError::Internal(_)), "{e}");
        assert!(Job::<()>::poll(&mut None).is_none());
    }
}
