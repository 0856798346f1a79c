//! The CLoE network: conv kernel reference, forward on a cropped BraTS case, re-fusion, training step
//! (see `cloe::bench`). `cargo bench --bench network`; `CLOE_BENCH_DEVICE=gpu` for wgpu; reads
//! ../shared/data.

use cloe::bench::{BenchOptions, network_bench};
use cloe::case::Profile;
use cloe::device::{DeviceChoice, select};
use cloe::model::CloeConfig;
use std::path::Path;

fn main() {
    let choice = std::env::var("CLOE_BENCH_DEVICE")
        .ok()
        .map(|s| DeviceChoice::parse(&s).expect("auto, cpu or gpu"));
    let compute = select(Some(choice.unwrap_or(DeviceChoice::Cpu))).expect("device");
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brats2018/Brats18_2013_11_1");
    let report = network_bench(
        &case,
        &compute,
        &CloeConfig::for_profile(Profile::Brats),
        BenchOptions::default(),
    )
    .expect("benchmark");
    println!("{report}");
}
