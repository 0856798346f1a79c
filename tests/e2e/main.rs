//! The real app driven as a person drives it: the `cloe` binary in a real window under Xvfb, real X
//! input events (xdotool), each step checked from outside by screenshots and by the files the app writes.
//! The egui_kittest tests (`tests/it`) inject egui events directly and missed bugs a person meets in a
//! real window (a Ctrl+Z lost when Ctrl came and went within one frame; a wheel notch stepping five
//! slices); this suite is what catches those. One test at a time: each owns an X server and an app.

#[path = "../common/mod.rs"]
mod common;

mod layout;
mod package;
mod refine;
mod training;
mod viewer;
mod worklist;
mod x11;

/// Serialises the tests of this crate: two apps and two model runs at once only slow each other down.
pub static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
