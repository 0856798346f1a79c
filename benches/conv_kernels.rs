//! The CPU convolution kernels one by one, on the shapes of a training step of the BraTS network at
//! 64³ and of a whole-case forward (C = 8, batch 2): each path that computes a shape (`ConvPath`), forward and weight gradient,
//! the fastest of 9 timed runs after a warm-up (all of a shape's runs taking turns), and (*) the path the dispatcher takes.
//! `cargo bench --bench conv_kernels`; no data needed.

use cloe::ops::conv_cpu::{
    ConvPath, ConvShape, forward_path, forward_via, weight_grad_path, weight_grad_via,
};
use std::time::Instant;

/// `(C_in, C_out, input, kernel, stride)` of the network's 3-D convolutions in a training step at
/// 64³, and the two largest of a whole-case forward at 1.5 mm (104x120x104).
const SHAPES: [(usize, usize, [usize; 3], usize, usize); 13] = [
    (1, 8, [64; 3], 3, 1),
    (8, 8, [64; 3], 3, 1),
    (16, 8, [64; 3], 3, 1),
    (8, 16, [64; 3], 3, 2),
    (16, 16, [32; 3], 3, 1),
    (32, 16, [32; 3], 3, 1),
    (16, 32, [32; 3], 3, 2),
    (32, 32, [16; 3], 3, 1),
    (64, 32, [16; 3], 3, 1),
    (32, 64, [16; 3], 3, 2),
    (64, 64, [8; 3], 3, 1),
    (8, 8, [104, 120, 104], 3, 1),
    (16, 8, [104, 120, 104], 3, 1),
];

/// The fastest of `RUNS` timed runs of each job after a warm-up, the jobs taking turns so that a slow
/// spell of the machine falls on all of them.
fn fastest(jobs: &mut [Box<dyn FnMut() + '_>]) -> Vec<f64> {
    const RUNS: usize = 9;
    jobs.iter_mut().for_each(|f| f());
    let mut best = vec![f64::INFINITY; jobs.len()];
    for _ in 0..RUNS {
        for (f, b) in jobs.iter_mut().zip(&mut best) {
            let t = Instant::now();
            f();
            *b = b.min(t.elapsed().as_secs_f64());
        }
    }
    best
}

fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

fn main() {
    println!("conv kernels, batch 2, fastest of 9 taking turns (GFLOP/s in brackets)");
    println!(
        "{:<28} {:<10} {:>22} {:>22}",
        "shape", "path", "forward", "weight grad"
    );
    for (c_in, c_out, input, k, stride) in SHAPES {
        let shape = ConvShape::cubic(2, [c_in, c_out], input, k, stride);
        let x = values(shape.batch * c_in * shape.in_voxels());
        let w = values(c_out * shape.k_len());
        let g = values(shape.batch * c_out * shape.out_voxels());
        let gflop = 2.0 * (shape.batch * c_out * shape.out_voxels() * shape.k_len()) as f64 / 1e9;
        let name = format!(
            "{c_in:>2}->{c_out:<2} {}x{}x{} k{k} s{stride}",
            input[0], input[1], input[2]
        );
        // One job per (path, forward or weight gradient) that the path computes, in this order.
        let kinds: Vec<(ConvPath, bool)> = ConvPath::ALL
            .into_iter()
            .flat_map(|p| [(p, true), (p, false)])
            .filter(|&(p, _)| p.takes(&shape))
            .collect();
        let mut bufs: Vec<Vec<f32>> = kinds
            .iter()
            .map(|&(_, fwd)| vec![0.0f32; if fwd { g.len() } else { w.len() }])
            .collect();
        let mut jobs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
        for (&(path, fwd), buf) in kinds.iter().zip(&mut bufs) {
            let (x, w, g, shape) = (&x, &w, &g, &shape);
            jobs.push(if fwd {
                Box::new(move || forward_via(path, shape, x, w, None, buf))
            } else {
                Box::new(move || weight_grad_via(path, shape, x, g, buf))
            });
        }
        let times = fastest(&mut jobs);
        let time = |path, fwd| {
            kinds
                .iter()
                .position(|&k| k == (path, fwd))
                .map(|i| times[i])
        };
        let cells = ConvPath::ALL.map(|p| [time(p, true), time(p, false)]);
        for (path, [f, wg]) in ConvPath::ALL.into_iter().zip(cells) {
            if f.is_none() && wg.is_none() {
                continue;
            }
            let cell = |s: Option<f64>| match s {
                Some(s) => format!("{:.4} s ({:>5.1})", s, gflop / s),
                None => "-".to_string(),
            };
            let taken = |p| if p == path { "*" } else { " " };
            let (tf, tw) = (taken(forward_path(&shape)), taken(weight_grad_path(&shape)));
            let p = format!("{path:?}");
            println!(
                "{name:<28} {p:<10} {:>22}{tf} {:>22}{tw}",
                cell(f),
                cell(wg)
            );
        }
    }
}
