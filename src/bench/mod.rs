//! Benchmarks of the network that `cloe bench` and `cargo bench --bench network` share: one 3×3×3 conv
//! 16→16 at 128³ (kernel reference, the network's path and Burn's module), a forward of the model on a
//! whole cropped case, `cloe segment`'s work on the same case by each way of cutting it into windows
//! (`segment`), the re-fusion a modality toggle runs, and one training step. GFLOP/s from the
//! counted convolution FLOPs. With `profile`, also where the time goes (`profile`).

mod breakdown;
mod dispatches;
mod segment;

pub use breakdown::{LayerTiming, NetworkProfile, PhaseProfile};
pub use dispatches::{DISPATCH_SIDE, DispatchCounts, PhaseDispatches, dispatch_counts};
pub use segment::{SegmentTiming, segment_bench};

use crate::case::{find_case, load_case};
use crate::device::ComputeDevice;
use crate::error::Result;
use crate::io::ReadOptions;
use crate::loss::{cloe_loss, one_hot};
use crate::model::{CloeConfig, CloeNet, conv_flops, pad, round_up, to_vec, volume_tensor};
use crate::ops::conv3d_module;
use crate::preprocess::{PrepareOptions, prepare};
use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3dConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkBench {
    pub device: String,
    pub conv_seconds: f64,
    pub conv_gflops: f64,
    /// The same convolution through Burn's `Conv3d::forward` (differs from the above on the CPU only).
    pub burn_conv_seconds: f64,
    pub case_dims: [usize; 3],
    pub forward_seconds: f64,
    pub forward_gflops: f64,
    pub forward_gflop: f64,
    /// `cloe segment` of the same case, per way of cutting it into windows.
    pub segment: Vec<SegmentTiming>,
    pub refuse_seconds: f64,
    /// Patches per training step.
    pub batch: usize,
    pub step_seconds: f64,
    pub step_gflops: f64,
    pub peak_rss_mib: f64,
    /// The forward and the step with Burn's operations instead of the CPU kernels (`--compare-burn`).
    pub burn_ops: Option<BurnOps>,
    pub profile: Option<NetworkProfile>,
}

/// Timings of the baseline: Burn's own operations.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BurnOps {
    pub forward_seconds: f64,
    pub step_seconds: f64,
}

/// How the benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchOptions {
    /// Timed runs per figure, after one warm-up.
    pub runs: usize,
    /// Patches per training step.
    pub batch: usize,
    /// Also profile the forward and the training step (`cloe bench --profile`).
    pub profile: bool,
    /// Also time the forward and the step with Burn's operations instead of the CPU kernels.
    pub compare_burn: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            runs: 3,
            batch: 1,
            profile: false,
            compare_burn: false,
        }
    }
}

impl std::fmt::Display for NetworkBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [x, y, z] = self.case_dims;
        writeln!(f, "network benchmarks on {}", self.device)?;
        writeln!(
            f,
            "  conv3d 16->16 3x3x3 at 128^3        median {:.3} s  {:.1} GFLOP/s",
            self.conv_seconds, self.conv_gflops
        )?;
        writeln!(
            f,
            "  the same through Burn's Conv3d        median {:.3} s  {:.1} GFLOP/s",
            self.burn_conv_seconds,
            conv_flops(3, 16, 16, 128 * 128 * 128) / self.burn_conv_seconds / 1e9
        )?;
        writeln!(
            f,
            "  forward, 4 modalities, {x}x{y}x{z}       median {:.3} s  {:.1} GFLOP/s ({:.1} GFLOP)",
            self.forward_seconds, self.forward_gflops, self.forward_gflop
        )?;
        for s in &self.segment {
            let [a, b, c] = s.size;
            writeln!(
                f,
                "  cloe segment, {} windows (overlap {}: {} of {a}x{b}x{c}) median {:.3} s ({:.2}x a \
                 forward): read {:.3}, prepare {:.3}, network and maps {:.3}, write {:.3}",
                s.windows,
                s.overlap,
                s.count,
                s.total_seconds,
                s.total_seconds / self.forward_seconds,
                s.read_seconds,
                s.prepare_seconds,
                s.network_seconds,
                s.write_seconds
            )?;
        }
        writeln!(
            f,
            "  re-fusion after a toggle (3 of 4)    median {:.3} s  ({:.0} % of a forward)",
            self.refuse_seconds,
            100.0 * self.refuse_seconds / self.forward_seconds
        )?;
        writeln!(
            f,
            "  training step, 4 modalities, batch {} median {:.3} s  {:.1} GFLOP/s  {:.0} steps/hour",
            self.batch,
            self.step_seconds,
            self.step_gflops,
            3600.0 / self.step_seconds
        )?;
        if let Some(b) = &self.burn_ops {
            writeln!(
                f,
                "  with Burn's operations instead of the CPU kernels: forward {:.3} s ({:.2}x), \
                 training step {:.3} s ({:.2}x)",
                b.forward_seconds,
                b.forward_seconds / self.forward_seconds,
                b.step_seconds,
                b.step_seconds / self.step_seconds
            )?;
        }
        write!(f, "  peak RSS {:.0} MiB", self.peak_rss_mib)?;
        if let Some(p) = &self.profile {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `f` `runs` times after one warm-up; `f` must read a result back so device work is finished.
pub fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Peak resident memory of this process in MiB (Linux; NaN elsewhere).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Runs the benchmarks with `cfg` on the BraTS case in `case_dir`.
pub fn network_bench(
    case_dir: &Path,
    compute: &ComputeDevice,
    cfg: &CloeConfig,
    opts: BenchOptions,
) -> Result<NetworkBench> {
    let (runs, batch) = (opts.runs.max(1), opts.batch.max(1));
    let device = compute.device.clone();
    let (conv_seconds, burn_conv_seconds) = conv_bench(runs, &device);
    let (dims, inputs) = case_inputs(case_dir, cfg, &device)?;
    let net = CloeNet::new(cfg, &device);
    let forward_seconds = forward_seconds(&net, &inputs, runs);
    let voxels: usize = dims.iter().product();
    let forward_gflop = cfg.forward_flops(voxels, 4) / 1e9;
    let segment = segment_modes()
        .into_iter()
        .map(|infer| segment_bench(case_dir, &net, &device, infer, runs))
        .collect::<Result<Vec<_>>>()?;
    let refuse_seconds = refuse_bench(runs, &net, &inputs);

    let p = cfg.patch;
    let [pd, ph, pw] = [p.min(dims[2]), p.min(dims[1]), p.min(dims[0])];
    let mut step = training_step(cfg, &inputs, [pd, ph, pw], batch, &device);
    let step_seconds = time(runs, &mut step);
    // The same forward and step with Burn's own operations in place of the CPU kernels.
    let burn_ops = (opts.compare_burn && crate::ops::use_cpu_kernels(&device)).then(|| {
        crate::ops::set_cpu_kernels(false);
        let forward = self::forward_seconds(&net, &inputs, runs);
        let step = time(runs, &mut step);
        crate::ops::set_cpu_kernels(true);
        BurnOps {
            forward_seconds: forward,
            step_seconds: step,
        }
    });
    let profile = opts.profile.then(|| {
        let forward = PhaseProfile::measure(|| {
            let _ = to_vec(net.forward(&inputs).fusion.w);
        });
        let step = PhaseProfile::measure(&mut step);
        NetworkProfile::new(forward, step, &device, runs)
    });
    Ok(NetworkBench {
        device: compute.label.clone(),
        conv_seconds,
        burn_conv_seconds,
        conv_gflops: conv_flops(3, 16, 16, 128 * 128 * 128) / conv_seconds / 1e9,
        case_dims: dims,
        forward_seconds,
        forward_gflops: forward_gflop / forward_seconds,
        forward_gflop,
        segment,
        refuse_seconds,
        batch,
        step_seconds,
        step_gflops: 3.0 * cfg.forward_flops(batch * pd * ph * pw, 4) / step_seconds / 1e9,
        peak_rss_mib: peak_rss_mib(),
        burn_ops,
        profile,
    })
}

/// The ways of cutting a case that `cloe segment` is timed with: patch windows overlapping by half
/// (the default) and by a quarter, and the whole case.
fn segment_modes() -> [crate::infer::InferOptions; 3] {
    use crate::infer::{InferOptions, WindowMode};
    let patch = |overlap| InferOptions {
        windows: WindowMode::Patch,
        overlap,
    };
    [
        patch(0.5),
        patch(0.25),
        InferOptions {
            windows: WindowMode::Whole,
            ..InferOptions::default()
        },
    ]
}

/// Times one 3×3×3 conv 16→16 at 128³ through the network's path and through Burn's `Conv3d`.
fn conv_bench(runs: usize, device: &Device) -> (f64, f64) {
    let conv = Conv3dConfig::new([16, 16], [3, 3, 3])
        .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
        .init(device);
    let x = Tensor::<5>::random(
        [1, 16, 128, 128, 128],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    );
    let conv_seconds = time(runs, || {
        let _ = to_vec(conv3d_module(&conv, x.clone()).narrow(4, 0, 1).sum());
    });
    let burn_conv_seconds = time(runs, || {
        let _ = to_vec(conv.forward(x.clone()).narrow(4, 0, 1).sum());
    });
    (conv_seconds, burn_conv_seconds)
}

/// The median time of one forward of `net` over the whole prepared case `inputs`, read back: the unit
/// the time of `cloe segment` and of the app's overlays is measured in.
pub fn forward_seconds(net: &CloeNet, inputs: &[Option<Tensor<5>>], runs: usize) -> f64 {
    time(runs, || {
        let _ = to_vec(net.forward(inputs).fusion.w);
    })
}

/// Loads and prepares the case in `case_dir` at `cfg`'s spacing: its dimensions padded to a multiple
/// of 8 and one input tensor per modality (`None` for a missing one).
pub fn case_inputs(
    case_dir: &Path,
    cfg: &CloeConfig,
    device: &Device,
) -> Result<([usize; 3], Vec<Option<Tensor<5>>>)> {
    let case = load_case(
        &find_case(case_dir, Some(cfg.profile))?,
        ReadOptions::default(),
    )?;
    let sample = prepare(&case, PrepareOptions::at_spacing(cfg.spacing_mm))?;
    let dims = round_up(sample.grid.dims, 8);
    let inputs = sample
        .channels
        .iter()
        .map(|c| {
            c.as_ref()
                .map(|c| volume_tensor(&pad(c, sample.grid.dims, dims, 0.0), dims, device))
        })
        .collect();
    Ok((dims, inputs))
}

/// Times the re-fusion a modality toggle runs: the experts of 3 of the 4 modalities fused again.
fn refuse_bench(runs: usize, net: &CloeNet, inputs: &[Option<Tensor<5>>]) -> f64 {
    let experts: Vec<_> = net.experts(inputs).into_iter().flatten().collect();
    time(runs, || {
        let refs = [
            Some(&experts[0]),
            None,
            Some(&experts[2]),
            Some(&experts[3]),
        ];
        let _ = to_vec(net.fuse(&refs).w);
    })
}

/// One training step of a fresh model on `batch` copies of the `[d, h, w]` corner of `inputs`, all
/// losses, Adam; each call runs one step and reads the loss back.
pub(crate) fn training_step(
    cfg: &CloeConfig,
    inputs: &[Option<Tensor<5>>],
    [d, h, w]: [usize; 3],
    batch: usize,
    device: &Device,
) -> impl FnMut() {
    let ad = device.clone().autodiff();
    let mut model = CloeNet::new(cfg, &ad);
    let mut optim = AdamConfig::new().init();
    let patch = training_patch(inputs, [d, h, w], batch, &ad);
    let target = one_hot(
        &vec![0u8; batch * d * h * w],
        batch,
        [d, h, w],
        cfg.classes,
        &ad,
    );
    let mut rng = crate::train::step_rng(0, 0);
    move || {
        let pred = model.forward(&patch);
        let terms = cloe_loss(&model, &pred, &patch, target.clone(), &mut rng);
        let grads = GradientsParams::from_grads(terms.total.backward(), &model);
        model = optim.step(2e-4, model.clone(), grads);
        let _ = to_vec(terms.total);
    }
}

/// A training batch: the corner `[d, h, w]` of every input, repeated `batch` times, on `ad`.
fn training_patch(
    inputs: &[Option<Tensor<5>>],
    [pd, ph, pw]: [usize; 3],
    batch: usize,
    ad: &Device,
) -> Vec<Option<Tensor<5>>> {
    inputs
        .iter()
        .map(|x| {
            x.as_ref().map(|x| {
                x.clone()
                    .narrow(2, 0, pd)
                    .narrow(3, 0, ph)
                    .narrow(4, 0, pw)
                    .repeat_dim(0, batch)
                    .to_device(ad)
            })
        })
        .collect()
}
