//! Work that may panic deep inside a dependency (a GPU allocation failing inside Burn's wgpu backend,
//! a bug in a decoder) turned into an error the user can act on: the CLI prints one line and exits
//! with 2, the viewer shows the message and stays up. The panic's message and place come from
//! `panic_capture`'s hook.

use crate::error::{CloeError, Result};
use crate::panic_capture::{payload_text, take_last};
use std::any::Any;

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

/// The error a panic stands for: a lost GPU when one no longer answers, out of memory when its
/// message says so, else an internal error.
pub fn from_panic(payload: &(dyn Any + Send), device: &str) -> CloeError {
    let kept = take_last();
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
        let caught = crate::panic_capture::contained(|| -> u8 {
            panic!("index out of bounds: the len is 8")
        });
        assert!(caught.unwrap_err().starts_with("index out of bounds"));
        let p = spawn("t", || -> Result<()> { panic!("boom") });
        assert!(p.block_and_take().unwrap_err().to_string().contains("boom"));
    }
}
