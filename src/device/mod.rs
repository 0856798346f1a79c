//! Choosing where the network runs: the CPU through Burn's `flex` backend or a GPU through wgpu. `auto`
//! takes whichever ran a small forward fastest on this machine (`speed`: measured once per machine and
//! version, kept in the user's cache folder); a machine without any adapter is the CPU at once.
//! Adapters are enumerated first, so no tensor operation ever finds out that there is no GPU.
//! `--device cpu|gpu|auto` or `CLOE_DEVICE` overrides the choice. A GPU lost
//! while the process runs (a driver reset, a device removed) is remembered: from then on `auto` means
//! the CPU and `gpu` says why it cannot be had.

use crate::error::{CloeError, Result, Setting};
use burn::prelude::{Device, DeviceKind};
use burn::tensor::wgpu::wgpu;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

mod speed;
pub use speed::{CACHE_ENV, Measured, PROBE_SIDE, SpeedRecord, cache_path, machine_key};

/// What `auto` times on each device: seconds of a small forward of the network (`PROBE_SIDE`³, four
/// modalities), stopping after the warm-up when that alone took longer than the second argument.
pub type Probe = fn(&Device, f64) -> f64;

/// The probe `auto` measures with, registered by the front ends ([`set_probe`]): it runs the network,
/// a layer above this module. Without one, `auto` takes a hardware GPU when there is one.
static PROBE: OnceLock<Probe> = OnceLock::new();

/// Registers the probe `auto` times the devices with (once; later calls keep the first).
pub fn set_probe(probe: Probe) {
    let _ = PROBE.set(probe);
}

/// Set once a GPU of this process was lost ([`mark_gpu_lost`]).
static GPU_LOST: AtomicBool = AtomicBool::new(false);

/// A fault for tests: the GPU is destroyed this many milliseconds after it is opened, the way a driver
/// reset or an unplugged device loses it.
pub const LOSE_GPU_ENV: &str = "CLOE_FAULT_LOSE_GPU_AFTER_MS";

/// Records that the GPU stopped working: later choices go to the CPU (wgpu never gives a lost device
/// back, and every later call on it fails).
fn mark_gpu_lost() {
    GPU_LOST.store(true, Ordering::SeqCst);
}

/// True once a GPU of this process was lost.
pub fn gpu_lost() -> bool {
    GPU_LOST.load(Ordering::SeqCst)
}

/// The GPU devices this process opened.
static OPENED_GPUS: Mutex<Vec<Device>> = Mutex::new(Vec::new());

/// After work failed: whether a GPU this process opened no longer works (remembered, see
/// [`gpu_lost`]). Each one is asked for a small sum; a lost device fails even that.
pub fn check_gpus_lost() -> bool {
    if gpu_lost() {
        return true;
    }
    let gpus = OPENED_GPUS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let lost = gpus.iter().any(|device| {
        let answer = crate::panic_capture::contained(|| {
            // A computed value, not a copy: a destroyed device can still hand back bytes.
            let twos = burn::tensor::Tensor::<1>::ones([1024], device) * 2.0;
            let sum = twos.sum().try_into_data().ok();
            sum.and_then(|d| d.try_to_vec::<f32>().ok()) == Some(vec![2048.0])
        });
        answer != Ok(true)
    });
    if lost {
        mark_gpu_lost();
    }
    lost
}

/// What the user asked for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The device that ran a small forward fastest on this machine (measured once, kept).
    #[default]
    Auto,
    /// The CPU (Burn `flex`, multi-threaded).
    Cpu,
    /// A GPU through wgpu; a software adapter (lavapipe) is accepted when it is the only one.
    Gpu,
}

impl DeviceChoice {
    /// Reads `CLOE_DEVICE` (`auto`, `cpu`, `gpu`); `None` when unset.
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var("CLOE_DEVICE") {
            Ok(v) => Self::parse(&v).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Parses `auto`, `cpu` or `gpu`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" | "wgpu" => Ok(Self::Gpu),
            other => Err(CloeError::setting(
                Setting::Device,
                format!(
                    "device {other:?} is not one of auto, cpu, gpu (the device setting, or \
                     CLOE_DEVICE)"
                ),
            )),
        }
    }
}

/// A wgpu adapter as the system reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdapterSummary {
    pub name: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` (software) or `Other`.
    pub kind: String,
    pub backend: String,
    pub driver: String,
}

impl AdapterSummary {
    /// True for a real GPU (not a software rasteriser such as lavapipe).
    pub fn is_hardware(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "DiscreteGpu" | "IntegratedGpu" | "VirtualGpu"
        )
    }
}

/// The device the network runs on, and how to name it to the user.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub device: Device,
    /// `true` for wgpu, `false` for the CPU.
    pub is_gpu: bool,
    /// E.g. `GPU: NVIDIA H100 (Vulkan)` or `CPU (flex, 16 threads)`.
    pub label: String,
    /// Why this device: asked for, or what `auto` measured.
    pub why: String,
}

impl ComputeDevice {
    fn because(mut self, why: impl Into<String>) -> Self {
        self.why = why.into();
        self
    }
}

/// When `auto` measures the devices it has no figures for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Now, before choosing (the command line: a second or two, once per machine).
    Now,
    /// In the background: the CPU is used meanwhile and the next choice takes the faster (the app).
    InBackground,
    /// Now, even when figures are kept (`cloe devices --measure`).
    Again,
}

/// True for Burn's CPU backend (`flex`), false for a GPU.
pub fn is_cpu(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        burn::backend::DispatchDevice::Flex(_)
    )
}

/// The wgpu adapters of this machine (Vulkan, Metal, DX12), without opening any device.
pub fn adapters() -> Vec<AdapterSummary> {
    static CACHE: OnceLock<Vec<AdapterSummary>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            let list = block_on(instance.enumerate_adapters(backends));
            list.iter()
                .map(|a| {
                    let info = a.get_info();
                    AdapterSummary {
                        name: info.name,
                        kind: format!("{:?}", info.device_type),
                        backend: format!("{:?}", info.backend),
                        driver: info.driver,
                    }
                })
                .collect()
        })
        .clone()
}

/// Picks the device for `choice` (or `CLOE_DEVICE` when `choice` is `None`), measuring the devices now
/// if `auto` has no figures for this machine. Each kind of device is set up once per process and
/// shared.
pub fn select(choice: Option<DeviceChoice>) -> Result<ComputeDevice> {
    select_with(choice, Measure::Now)
}

/// [`select`], with `measure` saying when `auto` measures the devices it has no figures for.
pub fn select_with(choice: Option<DeviceChoice>, measure: Measure) -> Result<ComputeDevice> {
    let choice = match choice {
        Some(c) => c,
        None => DeviceChoice::from_env()?.unwrap_or_default(),
    };
    if gpu_lost() {
        return match choice {
            DeviceChoice::Gpu => Err(CloeError::setting(
                Setting::Device,
                "the GPU stopped working earlier in this session (a driver reset or a device \
                 removed); restart CLoE Studio to use it again, or choose the CPU",
            )),
            DeviceChoice::Auto | DeviceChoice::Cpu => {
                Ok(cpu().because("the GPU stopped working earlier in this session"))
            }
        };
    }
    static CHOSEN: OnceLock<Mutex<HashMap<DeviceChoice, ComputeDevice>>> = OnceLock::new();
    let mut chosen = CHOSEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(d) = chosen.get(&choice).filter(|_| measure != Measure::Again) {
        return Ok(d.clone());
    }
    let all = adapters();
    let hardware = all.iter().find(|a| a.is_hardware());
    let device = match (choice, hardware) {
        (DeviceChoice::Cpu, _) => cpu().because("asked for"),
        (DeviceChoice::Auto, _) => match auto(&all, measure)? {
            (device, true) => device,
            (device, false) => return Ok(device),
        },
        (DeviceChoice::Gpu, Some(a)) => gpu(a, &all)?.because("asked for"),
        (DeviceChoice::Gpu, None) => match all.iter().find(|a| a.kind == "Cpu") {
            Some(soft) => gpu(soft, &all)?.because("asked for; the only adapter is a software one"),
            None => {
                return Err(CloeError::setting(
                    Setting::Device,
                    "no GPU adapter was found (no Vulkan, Metal or DX12 driver); install the GPU \
                     driver, or choose the CPU",
                ));
            }
        },
    };
    chosen.insert(choice, device.clone());
    Ok(device)
}

/// `auto`: the fastest device measured on this machine, and whether that is final (`false`: the CPU
/// while the measurement runs in the background).
fn auto(all: &[AdapterSummary], measure: Measure) -> Result<(ComputeDevice, bool)> {
    if all.is_empty() {
        return Ok((cpu().because("auto: no GPU adapter on this machine"), true));
    }
    let Some(&probe) = PROBE.get() else {
        let device = match all.iter().find(|a| a.is_hardware()) {
            Some(a) => gpu(a, all)?,
            None => cpu(),
        };
        return Ok((
            device.because("auto: a hardware GPU when there is one (not measured)"),
            true,
        ));
    };
    let key = machine_key(all);
    // A record lists the CPU and then every adapter its key names; one measured in the background
    // (while the app worked) serves the app, and the command line measures again.
    let kept = kept_measurement(all).filter(|r| measure == Measure::InBackground || !r.provisional);
    let record = match (kept, measure) {
        (Some(record), Measure::Now | Measure::InBackground) => record,
        (_, Measure::InBackground) => {
            static MEASURING: AtomicBool = AtomicBool::new(false);
            if !MEASURING.swap(true, Ordering::SeqCst) {
                let all = all.to_vec();
                std::thread::spawn(move || {
                    let record = SpeedRecord {
                        provisional: true,
                        ..measure_all(&all, key, probe)
                    };
                    speed::keep(&record);
                    MEASURING.store(false, Ordering::SeqCst);
                });
            }
            let why = "auto: the CPU while the devices are measured in the background (the next \
                       model load takes the faster)";
            return Ok((cpu().because(why), false));
        }
        _ => {
            let record = measure_all(all, key, probe);
            speed::keep(&record);
            record
        }
    };
    // A kept record lists the CPU, then the adapters its key names; one edited by hand may not.
    let device = match record.fastest().checked_sub(1).and_then(|i| all.get(i)) {
        None => cpu(),
        Some(adapter) => gpu(adapter, all)?,
    };
    Ok((device.because(record.why()), true))
}

/// The measurement kept for this machine and version (`adapters` are its adapters): the CPU and
/// then every adapter, as `measure_all` lists them; None when there is none or it does not fit.
pub fn kept_measurement(adapters: &[AdapterSummary]) -> Option<SpeedRecord> {
    speed::cached(&machine_key(adapters)).filter(|r| r.measured.len() == adapters.len() + 1)
}

/// The probe on the CPU and on every adapter.
fn measure_all(all: &[AdapterSummary], key: String, probe: Probe) -> SpeedRecord {
    let mut candidates = vec![("CPU".to_string(), Ok(cpu()))];
    for a in all {
        candidates.push((a.name.clone(), gpu(a, all).map_err(|e| e.to_string())));
    }
    speed::measure(key, candidates, probe)
}

fn cpu() -> ComputeDevice {
    ComputeDevice {
        device: Device::flex(),
        is_gpu: false,
        label: format!("CPU (flex, {} threads)", rayon::current_num_threads()),
        why: String::new(),
    }
}

/// The GPU of `adapter`, opened once per process (wgpu's runtime refuses a second registration of
/// the same device; the measurement, a forced choice and `auto` may all ask for it).
fn gpu(adapter: &AdapterSummary, all: &[AdapterSummary]) -> Result<ComputeDevice> {
    static OPEN: Mutex<Vec<(AdapterSummary, ComputeDevice)>> = Mutex::new(Vec::new());
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, device)) = open.iter().find(|(a, _)| a == adapter) {
        return Ok(device.clone());
    }
    let device = open_gpu(adapter, all)?;
    open.push((adapter.clone(), device.clone()));
    Ok(device)
}

fn open_gpu(adapter: &AdapterSummary, all: &[AdapterSummary]) -> Result<ComputeDevice> {
    let nth = all
        .iter()
        .filter(|a| a.kind == adapter.kind)
        .position(|a| a == adapter)
        .unwrap_or(0);
    let kind = match adapter.kind.as_str() {
        "DiscreteGpu" => DeviceKind::DiscreteGpu(nth),
        "IntegratedGpu" => DeviceKind::IntegratedGpu(nth),
        "VirtualGpu" => DeviceKind::VirtualGpu(nth),
        _ => DeviceKind::Cpu,
    };
    let (device, setup) = Device::wgpu_options()
        .device_kind(kind)
        .init_with_setup()
        .map_err(|e| {
            CloeError::setting(
                Setting::Device,
                format!(
                    "the GPU {} could not be opened: {e}; choose the CPU as the device",
                    adapter.name
                ),
            )
        })?;
    lose_when_asked(setup.device);
    OPENED_GPUS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(device.clone());
    let soft = if adapter.is_hardware() {
        ""
    } else {
        ", software: slow"
    };
    Ok(ComputeDevice {
        device,
        is_gpu: true,
        label: format!("GPU: {} ({}{soft})", adapter.name, adapter.backend),
        why: String::new(),
    })
}

/// With [`LOSE_GPU_ENV`] set, destroys `device` after that many milliseconds (a test of what a lost
/// GPU does to the work running on it).
fn lose_when_asked(device: wgpu::Device) {
    let Some(ms) = std::env::var(LOSE_GPU_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return;
    };
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        log::warn!("{LOSE_GPU_ENV}: destroying the GPU device");
        device.destroy();
    });
}

/// Polls a future that completes without waiting (wgpu's native enumeration does).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_bad_ones_explain_themselves() {
        assert_eq!(DeviceChoice::parse("GPU").unwrap(), DeviceChoice::Gpu);
        assert_eq!(DeviceChoice::parse("cpu").unwrap(), DeviceChoice::Cpu);
        let e = DeviceChoice::parse("tpu").unwrap_err().to_string();
        assert!(e.contains("auto, cpu, gpu"), "{e}");
    }

    #[test]
    fn cpu_is_always_available() {
        let d = select(Some(DeviceChoice::Cpu)).unwrap();
        assert!(!d.is_gpu);
        assert!(d.label.starts_with("CPU"));
    }
}
