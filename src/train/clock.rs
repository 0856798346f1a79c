//! Training time that leaves out the time the process was stopped (SIGSTOP … SIGCONT while the machine
//! builds, a suspended laptop): a ticker thread wakes every 100 ms and counts a longer gap between two
//! of its wake-ups as a pause. `--time-limit`, the ETA and the logged step times use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(100);
/// A gap between two wake-ups longer than this is a pause (a loaded machine delays a wake-up by
/// milliseconds, not by a second).
const PAUSE: Duration = Duration::from_secs(1);

/// The part of a gap between two wake-ups of the ticker that the process was stopped.
fn pause_in(gap: Duration) -> Duration {
    if gap > PAUSE {
        gap - TICK
    } else {
        Duration::ZERO
    }
}

/// Seconds since the start, pauses left out.
pub struct ActiveClock {
    started: Instant,
    paused_nanos: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl ActiveClock {
    pub fn start() -> Self {
        let paused_nanos = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (paused, done) = (paused_nanos.clone(), stop.clone());
        let ticker = std::thread::Builder::new()
            .name("cloe-active-clock".into())
            .spawn(move || {
                let mut last = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    let now = Instant::now();
                    let pause = pause_in(now - last);
                    paused.fetch_add(pause.as_nanos() as u64, Ordering::Relaxed);
                    last = now;
                }
            });
        if ticker.is_err() {
            // Without the thread the clock is a plain wall clock: pauses count as training time.
            log::warn!("no thread for the training clock: pauses will count as training time");
        }
        Self {
            started: Instant::now(),
            paused_nanos,
            stop,
        }
    }

    /// Seconds since `start`, without the pauses noticed so far.
    pub fn seconds(&self) -> f64 {
        let paused = Duration::from_nanos(self.paused_nanos.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(paused).as_secs_f64()
    }
}

impl Drop for ActiveClock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_clock_counts_wall_time() {
        let clock = ActiveClock::start();
        std::thread::sleep(Duration::from_millis(300));
        let s = clock.seconds();
        assert!((0.25..1.0).contains(&s), "{s}");
    }

    #[test]
    fn only_a_long_gap_is_a_pause() {
        assert_eq!(pause_in(Duration::from_millis(130)), Duration::ZERO);
        assert_eq!(pause_in(Duration::from_millis(900)), Duration::ZERO);
        assert_eq!(
            pause_in(Duration::from_secs(60)),
            Duration::from_millis(59_900)
        );
    }
}
