//! `auto` by measurement. The same small forward (the probe: `device_probe`, registered with
//! [`super::set_probe`] by the front ends, since it runs the network, a layer above this one) is timed
//! on the CPU and on every GPU adapter, once per machine and version; the figures are kept in the
//! user's cache folder (`cloe/devices.json`, or `CLOE_DEVICE_CACHE`) and `auto` takes the fastest. A
//! software rasteriser (lavapipe) is a candidate like any other; a GPU is not faster for being a GPU
//! (Burn's kernels can lose to the CPU kernels next to it).

use super::{AdapterSummary, ComputeDevice, Probe};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the measurement is kept instead of the user's cache folder (tests, shared installs).
pub const CACHE_ENV: &str = "CLOE_DEVICE_CACHE";

/// Side of the probe's cube: small enough that a software adapter (lavapipe: about 20 s at 48³ on 2
/// cores) costs a few seconds once, large enough that a GPU's launch overheads do not hide its speed.
pub const PROBE_SIDE: usize = 32;

/// A candidate whose warm-up already took this many times the fastest figure so far is not timed
/// further: its warm-up is its figure (the probe's second argument).
const HOPELESS: f64 = 10.0;

/// One candidate's figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// `CPU` or the adapter's name.
    pub name: String,
    /// Seconds of the probe forward (the faster of two runs after a warm-up, or the warm-up alone
    /// when that was already hopeless); `None` when the device failed.
    pub seconds: Option<f64>,
    /// Why the device failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What was measured on this machine, and for which machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedRecord {
    /// The version, the CPU threads and the adapters: a different machine or version measures again.
    pub key: String,
    /// The CPU first, then the adapters in the order [`super::adapters`] lists them.
    pub measured: Vec<Measured>,
    /// Measured in the background while the app worked on the same cores: good enough for the app,
    /// measured again by the command line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

impl SpeedRecord {
    /// The index of the fastest candidate that worked (the CPU when none did).
    pub fn fastest(&self) -> usize {
        (0..self.measured.len())
            .filter_map(|i| self.measured[i].seconds.map(|s| (i, s)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i)
    }

    /// Why `auto` chose what it chose, with the figures.
    pub fn why(&self) -> String {
        let figures: Vec<String> = self
            .measured
            .iter()
            .map(|m| match (m.seconds, &m.error) {
                (Some(s), _) => format!("{} {s:.2} s", m.name),
                (None, e) => format!("{} failed ({})", m.name, e.as_deref().unwrap_or("?")),
            })
            .collect();
        let fastest = self
            .measured
            .get(self.fastest())
            .map_or("CPU", |m| m.name.as_str());
        format!(
            "auto: {fastest} is the fastest here (a {PROBE_SIDE}³ forward of 4 modalities: {})",
            figures.join(", ")
        )
    }
}

/// The key of this machine and version.
pub fn machine_key(adapters: &[AdapterSummary]) -> String {
    let gpus: Vec<String> = adapters
        .iter()
        .map(|a| format!("{} ({}, {})", a.name, a.backend, a.driver))
        .collect();
    format!(
        "cloe {}; {} CPU threads; {}",
        env!("CARGO_PKG_VERSION"),
        rayon::current_num_threads(),
        gpus.join("; ")
    )
}

/// The file the measurement is kept in: `CLOE_DEVICE_CACHE`, else the user's cache folder.
pub fn cache_path() -> Option<PathBuf> {
    match std::env::var_os(CACHE_ENV) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => dirs::cache_dir().map(|d| d.join("cloe").join("devices.json")),
    }
}

/// The kept measurement for `key`, if there is one.
pub fn cached(key: &str) -> Option<SpeedRecord> {
    let text = std::fs::read_to_string(cache_path()?).ok()?;
    let record: SpeedRecord = serde_json::from_str(&text).ok()?;
    (record.key == key).then_some(record)
}

/// Keeps `record` for the next process; a folder that cannot be written only costs a new measurement.
pub fn keep(record: &SpeedRecord) {
    let Some(path) = cache_path() else {
        return;
    };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let opts = crate::io::WriteOptions::default().overwriting(true);
    if let Err(e) = crate::io::write_json(&path, record, &opts) {
        log::warn!("the device measurement was not kept: {e}");
    }
}

/// Times `probe` on each of `candidates` (name, device or why it could not be opened), in order.
pub fn measure(
    key: String,
    candidates: Vec<(String, Result<ComputeDevice, String>)>,
    probe: Probe,
) -> SpeedRecord {
    let mut measured: Vec<Measured> = Vec::new();
    for (name, device) in candidates {
        let best = (measured.iter().filter_map(|m| m.seconds)).fold(f64::INFINITY, f64::min);
        let timed = device.and_then(|d| {
            crate::panic_capture::contained(|| probe(&d.device, HOPELESS * best))
                .map_err(|e| e.to_string())
        });
        measured.push(match timed {
            Ok(s) => Measured {
                name,
                seconds: Some(s),
                error: None,
            },
            Err(e) => Measured {
                name,
                seconds: None,
                error: Some(e),
            },
        });
    }
    SpeedRecord {
        key,
        measured,
        provisional: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(figures: &[(&str, Option<f64>)]) -> SpeedRecord {
        SpeedRecord {
            key: "k".into(),
            provisional: false,
            measured: figures
                .iter()
                .map(|(n, s)| Measured {
                    name: n.to_string(),
                    seconds: *s,
                    error: s.is_none().then(|| "lost".to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn the_fastest_that_worked_wins_and_the_why_has_every_figure() {
        let r = record(&[("CPU", Some(0.3)), ("llvmpipe", Some(4.1)), ("RTX", None)]);
        assert_eq!(r.fastest(), 0);
        let why = r.why();
        assert!(why.contains("CPU is the fastest"), "{why}");
        assert!(
            why.contains("llvmpipe 4.10 s") && why.contains("RTX failed (lost)"),
            "{why}"
        );
        assert_eq!(
            record(&[("CPU", Some(0.3)), ("H100", Some(0.05))]).fastest(),
            1
        );
        assert_eq!(record(&[("CPU", None), ("H100", None)]).fastest(), 0);
        // A record with nothing in it (a file edited by hand) names the CPU, never panics.
        assert!(record(&[]).why().contains("CPU is the fastest"));
    }

    #[test]
    fn the_key_changes_with_the_adapters() {
        let a = AdapterSummary {
            name: "llvmpipe".into(),
            kind: "Cpu".into(),
            backend: "Vulkan".into(),
            driver: "Mesa 24".into(),
        };
        assert_ne!(machine_key(&[]), machine_key(std::slice::from_ref(&a)));
        assert!(machine_key(&[a]).contains("llvmpipe (Vulkan, Mesa 24)"));
    }
}
