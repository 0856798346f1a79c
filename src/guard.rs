//! Work that may panic deep inside a dependency (a GPU allocation failing inside Burn's wgpu backend,
//! a bug in a decoder) turned into an error the user can act on: the CLI prints one line and exits
//! with 2, the viewer shows the message and stays up. A panic's message and place are kept by a hook
//! ([`quiet_panics`]) instead of being printed over the terminal or the log.

use crate::error::{CloeError, Result};
use std::any::Any;
use std::sync::Mutex;

/// The last panic's message and place, kept by the hook of [`quiet_panics`].
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Words of the messages with which Burn, cubecl and wgpu report an allocation that failed.
const MEMORY_WORDS: [&str; 9] = [
    "out of memory",
    "outofmemory",
    "out-of-memory",
    "buffertoobig",
    "memory allocation",
    "allocation failed",
    "can't allocate",
    "cannot allocate",
    "failed to allocate",
];

/// Keeps panics' messages for [`guarded`] instead of printing them (they reach the user as an
/// error); `RUST_BACKTRACE` set keeps the standard report as well.
pub fn quiet_panics() {
    let standard = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text = format!("{}{at}", payload_text(info.payload()));
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        if std::env::var("RUST_BACKTRACE").is_ok_and(|v| v != "0") {
            standard(info);
        }
    }));
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The error a panic stands for: a lost GPU when one no longer answers, out of memory when its
/// message says so, else an internal error.
pub fn from_panic(payload: &(dyn Any + Send), device: &str) -> CloeError {
    let kept = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
    let text = kept.unwrap_or_else(|| payload_text(payload));
    // The first line says what happened; backtraces and "Caused by" blocks follow it.
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let memory_line = text.lines().find(|l| {
        let lower = l.to_ascii_lowercase();
        MEMORY_WORDS.iter().any(|w| lower.contains(w))
    });
    // A GPU counts as lost when this failure is the one that finds it gone: a later panic (on the CPU
    // the work moved to, say) is reported as what it is.
    let lost_before = crate::device::gpu_lost();
    if memory_line.is_none() && !lost_before && crate::device::check_gpus_lost() {
        log::error!("the GPU was lost: {text}");
        CloeError::GpuLost
    } else if let Some(line) = memory_line {
        // The line that names the allocation says more than the first ("Error while reading data").
        CloeError::OutOfMemory {
            device: device.to_string(),
            why: line.trim().to_string(),
        }
    } else {
        CloeError::Internal(first.trim().to_string())
    }
}

/// Runs `work`, turning a panic inside it into an error ([`from_panic`]); `device` names what ran
/// it ("GPU", "CPU") for an out-of-memory message.
pub fn guarded<T>(device: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => Err(from_panic(payload.as_ref(), device)),
    }
}

/// Runs `work`, turning a panic inside it into its message (for a library call known to panic on
/// damaged input, whose failure is the input's, not a bug of ours).
pub fn contained<T>(work: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let kept = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
        let text = kept.unwrap_or_else(|| payload_text(payload.as_ref()));
        text.lines().next().unwrap_or("").trim().to_string()
    })
}

/// A promise of work on its own thread whose panic becomes an error instead of a second panic in the
/// thread that polls it.
pub fn spawn<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> poll_promise::Promise<Result<T>> {
    poll_promise::Promise::spawn_thread(name, move || guarded("device", work))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_that_say_what_to_do() {
        let oom = guarded("GPU", || -> Result<()> {
            panic!(
                "Error while reading data\nCaused by:\n  can't allocate buffer of size: 144179200"
            )
        })
        .unwrap_err();
        assert!(matches!(oom, CloeError::OutOfMemory { .. }), "{oom}");
        let msg = oom.to_string();
        assert!(
            msg.contains("the GPU ran out of memory") && msg.contains("smaller batch"),
            "{msg}"
        );
        assert!(
            msg.contains("(can't allocate buffer of size: 144179200)"),
            "{msg}"
        );
        let bug = guarded("CPU", || -> Result<()> { panic!("index out of bounds") }).unwrap_err();
        assert!(
            bug.to_string()
                .starts_with("internal error: index out of bounds"),
            "{bug}"
        );
        assert_eq!(guarded("CPU", || Ok(7)).unwrap(), 7);
        let caught = contained(|| -> u8 { panic!("index out of bounds: the len is 8") });
        assert!(caught.unwrap_err().starts_with("index out of bounds"));
        let p = spawn("t", || -> Result<()> { panic!("boom") });
        assert!(p.block_and_take().unwrap_err().to_string().contains("boom"));
    }
}
