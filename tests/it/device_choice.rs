//! `auto` chooses the device by measurement (issue 25): with lavapipe as the only GPU, the CPU wins and
//! `cloe devices` says why with both figures; the figures are kept per machine and reused; a
//! measurement saying the GPU is faster makes `auto` take the GPU; a forced choice is obeyed.

use crate::common::cloe_env;
use serde_json::Value;

/// `cloe devices --json` with the measurement kept in `cache`; `extra` arguments after it.
fn devices(cache: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec!["devices", "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = cloe_env(&args, &[("CLOE_DEVICE_CACHE", cache.to_str().unwrap())]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn software_adapter(v: &Value) -> Option<String> {
    v["adapters"]
        .as_array()?
        .iter()
        .find(|a| a["kind"] == "Cpu")
        .and_then(|a| a["name"].as_str().map(str::to_string))
}

/// The figures of `v`, by name.
fn figures(v: &Value) -> Vec<(String, Option<f64>)> {
    v["measured"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| {
                    (
                        x["name"].as_str().unwrap().to_string(),
                        x["seconds"].as_f64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn auto_measures_once_takes_the_faster_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("nested/devices.json");
    let first = devices(&cache, &[]);
    let Some(lavapipe) = software_adapter(&first) else {
        // CI installs lavapipe (mesa-vulkan-drivers): there, a missing adapter is a failure.
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "no software Vulkan adapter: {first}"
        );
        return;
    };
    // Both measured; the CPU is faster than lavapipe on the same cores and is chosen, with why.
    let measured = figures(&first);
    assert_eq!(measured.len(), 2, "{first}");
    assert_eq!(measured[0].0, "CPU");
    assert_eq!(measured[1].0, lavapipe);
    let (cpu, soft) = (measured[0].1.unwrap(), measured[1].1.unwrap());
    assert!(cpu < soft, "{first}");
    assert!(
        first["selected"].as_str().unwrap().starts_with("CPU"),
        "{first}"
    );
    let why = first["why"].as_str().unwrap();
    assert!(
        why.contains("CPU is the fastest") && why.contains(&lavapipe),
        "{why}"
    );
    // Kept for the next process: the same figures, not measured again.
    assert!(cache.exists());
    assert_eq!(figures(&devices(&cache, &[])), measured);
    // A measurement that says the GPU is faster (as on a workstation with a real GPU) makes auto
    // take it; a kept record of another machine or version is measured again.
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    record["measured"][0]["seconds"] = 9.0.into();
    record["measured"][1]["seconds"] = 0.5.into();
    std::fs::write(&cache, record.to_string()).unwrap();
    let gpu = devices(&cache, &[]);
    assert!(
        gpu["selected"].as_str().unwrap().starts_with("GPU: "),
        "{gpu}"
    );
    assert!(
        gpu["why"]
            .as_str()
            .unwrap()
            .contains(&format!("{lavapipe} is the fastest")),
        "{gpu}"
    );
    // The same measurement taken in the background while the app worked serves the app only: the
    // command line measures again.
    record["provisional"] = true.into();
    std::fs::write(&cache, record.to_string()).unwrap();
    let remeasured = devices(&cache, &[]);
    assert!(
        remeasured["selected"].as_str().unwrap().starts_with("CPU"),
        "{remeasured}"
    );
    record["key"] = "cloe 0.0.0; another machine".into();
    std::fs::write(&cache, record.to_string()).unwrap();
    let again = devices(&cache, &[]);
    assert!(
        again["selected"].as_str().unwrap().starts_with("CPU"),
        "{again}"
    );
    assert_ne!(figures(&again)[1].1, Some(0.5));
}

#[test]
fn a_forced_choice_is_obeyed_without_measuring() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("devices.json");
    let cpu = devices(&cache, &["--device", "cpu"]);
    assert!(
        cpu["selected"].as_str().unwrap().starts_with("CPU"),
        "{cpu}"
    );
    assert_eq!(cpu["why"], "asked for");
    assert!(!cache.exists(), "a forced choice measures nothing");
    if software_adapter(&cpu).is_some() {
        let gpu = devices(&cache, &["--device", "gpu"]);
        assert!(
            gpu["selected"].as_str().unwrap().starts_with("GPU: "),
            "{gpu}"
        );
        assert!(
            gpu["why"].as_str().unwrap().starts_with("asked for"),
            "{gpu}"
        );
    }
}
