//! Panics captured instead of printed: a hook ([`quiet_panics`]) keeps the last panic's message and
//! place for whoever turns it into an error, and [`contained`] runs a library call known to panic on
//! damaged input and returns its message. The bottom layer: `guard` (which tells a lost GPU and a full
//! memory apart) and the readers build on it.

use std::any::Any;
use std::sync::Mutex;

/// The last panic's message and place, kept by the hook of [`quiet_panics`].
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Keeps panics' messages for `guard::guarded` instead of printing them (they reach the user as an
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

pub fn payload_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The last panic's message and place kept by the hook, taken (None when no hook kept one).
pub fn take_last() -> Option<String> {
    LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Runs `work`, turning a panic inside it into its message (for a library call known to panic on
/// damaged input, whose failure is the input's, not a bug of ours).
pub fn contained<T>(work: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let kept = take_last();
        let text = kept.unwrap_or_else(|| payload_text(payload.as_ref()));
        text.lines().next().unwrap_or("").trim().to_string()
    })
}
