//! The CLoE network on the CPU (Burn `flex`): the default CPU model (C = 8, 2 mm) forward on a full
//! cropped BraTS case with all four modalities, one training step at 64³, the re-fusion a modality toggle
//! runs as a share of a full forward, and one 3×3×3 conv 16→16 at 128³ as the kernel-level reference.
//! GFLOP/s come from the counted convolution FLOPs (`CloeConfig::forward_flops`).
//!
//! `cargo bench --bench network` (reads ../shared/data). Set `CLOE_BENCH_DEVICE=gpu` for wgpu.

use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3dConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use cloe::case::{Profile, find_case, load_case};
use cloe::device::{DeviceChoice, select};
use cloe::io::ReadOptions;
use cloe::loss::{cloe_loss, one_hot};
use cloe::model::{CloeConfig, CloeNet, conv_flops, pad, round_up, to_vec, volume_tensor};
use cloe::preprocess::{PrepareOptions, prepare};
use std::path::Path;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Times `f` `runs` times after one warm-up; returns the median seconds. `f` must finish its device work.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
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

fn main() {
    let choice = std::env::var("CLOE_BENCH_DEVICE")
        .ok()
        .map(|s| DeviceChoice::parse(&s).unwrap());
    let compute = select(Some(choice.unwrap_or(DeviceChoice::Cpu))).unwrap();
    let device = compute.device.clone();
    println!("network benchmarks on {}", compute.label);

    // Kernel reference: one 3×3×3 conv 16→16 at 128³.
    let conv = Conv3dConfig::new([16, 16], [3, 3, 3])
        .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
        .init(&device);
    let x = Tensor::<5>::random(
        [1, 16, 128, 128, 128],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let t_conv = time(3, || {
        let _ = to_vec(conv.forward(x.clone()).narrow(4, 0, 1).sum());
    });
    let f_conv = conv_flops(3, 16, 16, 128 * 128 * 128);
    println!(
        "  conv3d 16->16 3x3x3 at 128^3      median {t_conv:.3} s   {:.1} GFLOP/s",
        f_conv / t_conv / 1e9
    );
    drop(x);

    // The default CPU model on a full cropped BraTS case at 2 mm.
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brats2018/Brats18_2013_11_1");
    let case = load_case(&find_case(&dir, None).unwrap(), ReadOptions::default()).unwrap();
    let cfg = CloeConfig::for_profile(Profile::Brats);
    let sample = prepare(
        &case,
        PrepareOptions {
            spacing: Some(cfg.spacing_mm),
            margin: 2,
        },
    );
    let dims = round_up(sample.grid.dims, 8);
    let inputs: Vec<Option<Tensor<5>>> = sample
        .channels
        .iter()
        .map(|c| {
            c.as_ref()
                .map(|c| volume_tensor(&pad(c, sample.grid.dims, dims, 0.0), dims, &device))
        })
        .collect();
    let net = CloeNet::new(&cfg, &device);
    let voxels: usize = dims.iter().product();
    let t_fwd = time(3, || {
        let p = net.forward(&inputs);
        let _ = to_vec(p.fusion.w);
    });
    let f_fwd = cfg.forward_flops(voxels, 4);
    println!(
        "  forward, C=8, 4 modalities, {}x{}x{} (cropped case at 2 mm)  median {t_fwd:.3} s   {:.1} GFLOP/s ({:.1} GFLOP counted)",
        dims[0],
        dims[1],
        dims[2],
        f_fwd / t_fwd / 1e9,
        f_fwd / 1e9
    );

    // Re-fusion: experts cached, one modality switched off.
    let experts: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(m, x)| net.expert(m, x.clone().unwrap()))
        .collect();
    let t_fuse = time(3, || {
        let refs = [
            Some(&experts[0]),
            None,
            Some(&experts[2]),
            Some(&experts[3]),
        ];
        let _ = to_vec(net.fuse(&refs).w);
    });
    println!(
        "  re-fusion after a toggle (3 of 4)    median {t_fuse:.3} s   {:.0} % of a full forward",
        100.0 * t_fuse / t_fwd
    );
    drop(experts);
    let rss_inference = peak_rss_mib();

    // One training step at 64³, all four modalities, on the autodiff device.
    let ad = device.autodiff();
    let mut model = CloeNet::new(&cfg, &ad);
    let mut optim = AdamConfig::new().init();
    let p = cfg.patch;
    let patch: Vec<Option<Tensor<5>>> = inputs
        .iter()
        .map(|x| {
            x.as_ref().map(|x| {
                x.clone()
                    .narrow(2, 0, p.min(dims[2]))
                    .narrow(3, 0, p)
                    .narrow(4, 0, p)
                    .to_device(&ad)
            })
        })
        .collect();
    let classes = vec![0u8; p * p * p.min(dims[2])];
    let target = one_hot(&classes, 1, [p.min(dims[2]), p, p], cfg.classes, &ad);
    let t_step = time(3, || {
        let pred = model.forward(&patch);
        let terms = cloe_loss(&model, &pred, &patch, target.clone());
        let grads = GradientsParams::from_grads(terms.total.backward(), &model);
        model = optim.step(2e-4, model.clone(), grads);
        let _ = to_vec(terms.total);
    });
    let f_step = 3.0 * cfg.forward_flops(p * p * p.min(dims[2]), 4);
    println!(
        "  training step at {p}^3, 4 modalities  median {t_step:.3} s   {:.1} GFLOP/s (3x forward FLOPs)   {:.0} steps/hour",
        f_step / t_step / 1e9,
        3600.0 / t_step
    );
    println!(
        "  peak RSS: {rss_inference:.0} MiB after inference, {:.0} MiB after training steps",
        peak_rss_mib()
    );
}
