//! Scribble refinement with the protocol of interactive-segmentation papers: on each validation case
//! the shipped model's segmentation is the start; a simulated user draws a stroke through the centre of
//! the largest error region (labelled with its true class), the refinement runs with every stroke so
//! far, ten times. Printed: the Dice of each region after 0..10 strokes (mean over the cases), the
//! strokes to reach 85 % WT / 75 % TC / 70 % ET (NoC, capped at 10), the latency of each update
//! (median, 95th percentile), and the brush alone: the voxels the same user paints (whole error
//! regions, largest first) to reach the Dice the refinement reaches after 5 strokes. Then the same
//! user correcting one region at a time: ten strokes on TC's errors only, ten on ET's (the TC and ET
//! Dice after each).
//!
//! `cargo bench --bench refine` reads the validation cases of ../shared/data
//! (models/brats/split.md); `CLOE_REFINE_DATA=FOLDER` takes every case of a folder instead.

use cloe::case::{find_case, find_cases, load_case};
use cloe::infer::Session;
use cloe::refine::{RefineInput, RefineOptions, simulate};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

const SHARED_VALIDATION: [&str; 4] = [
    "brats2018/Brats18_2013_11_1",
    "brats2018/Brats18_CBICA_ABM_1",
    "brats2018/Brats18_TCIA10_628_1",
    "brats-extra/BraTS2021_00014",
];
const STROKES: usize = 10;
const TARGETS: [f64; 3] = [0.85, 0.75, 0.70];

fn cases() -> Vec<PathBuf> {
    if let Ok(dir) = std::env::var("CLOE_REFINE_DATA") {
        let found = find_cases(Path::new(&dir), None).expect("the cases of CLOE_REFINE_DATA");
        return found
            .into_iter()
            .map(|s| {
                s.modalities
                    .iter()
                    .flatten()
                    .next()
                    .unwrap()
                    .path
                    .parent()
                    .unwrap()
                    .to_path_buf()
            })
            .collect();
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    SHARED_VALIDATION.iter().map(|c| shared.join(c)).collect()
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// What the runs gather over the cases.
#[derive(Default)]
struct Results {
    /// Per case, the Dice of each region after 0..=STROKES strokes on the largest error anywhere.
    curves: Vec<Vec<Vec<f64>>>,
    /// Per focused region (TC, ET), per case, that region's Dice after 0..=STROKES strokes on its errors.
    focused: [Vec<Vec<f64>>; 2],
    latency: Vec<f64>,
    noc: Vec<Vec<usize>>,
    brush: Vec<Option<usize>>,
}

/// The defaults, or the knobs of `CLOE_REFINE="margin,reach,min_p,l2[,protect]"` (tuning on the
/// validation cases only).
fn options() -> RefineOptions {
    let mut opts = RefineOptions::default();
    if let Ok(knobs) = std::env::var("CLOE_REFINE") {
        let k: Vec<f64> = knobs.split(',').map(|v| v.parse().unwrap()).collect();
        (opts.margin_mm, opts.reach_mm) = (k[0], k[1]);
        (opts.min_change_probability, opts.fit.l2) = (k[2] as f32, k[3] as f32);
        opts.protect_above = k.get(4).map_or(opts.protect_above, |&p| p as f32);
    }
    opts
}

fn main() {
    let device = burn::prelude::Device::flex();
    let model = cloe::model::load_model(&cloe::app::bundled_model(), &device).unwrap();
    let opts = options();
    println!("{opts:?}");
    let mut results = Results::default();
    for dir in cases() {
        run_case(&dir, &model, &device, &opts, &mut results);
    }
    print_summary(&results);
}

/// The model on the case in `dir`, then the simulated user: anywhere, then on TC's and ET's errors.
fn run_case(
    dir: &Path,
    model: &cloe::model::CloeNet,
    device: &burn::prelude::Device,
    opts: &RefineOptions,
    results: &mut Results,
) {
    let case = load_case(&find_case(dir, None).unwrap(), Default::default()).unwrap();
    let truth = (case.label.as_ref().expect("a labelled case").classes).clone();
    let mut session = Session::new(model.clone(), &case, device.clone()).unwrap();
    let maps = session
        .segment(&case.available(), &mut |_, _| {}, &AtomicBool::new(false))
        .unwrap();
    let input = RefineInput::new(&case, &maps);
    let s = simulate::run(&input, &maps.classes, &truth, (STROKES, None), opts);
    // The same user correcting one region at a time: strokes only on TC's errors, then on ET's.
    for (r, curve) in results.focused.iter_mut().enumerate() {
        let region = &case.profile.regions()[r + 1];
        let focus = (STROKES, Some(region.classes));
        let f = simulate::run(&input, &maps.classes, &truth, focus, opts);
        let dice: Vec<f64> = f.dice.iter().map(|d| d[r + 1]).collect();
        println!("  focus on {}: {:.3?}", region.name, dice);
        curve.push(dice);
    }
    let reached: Vec<usize> = (0..3)
        .map(|r| {
            (s.dice.iter())
                .position(|d| d[r] >= TARGETS[r])
                .unwrap_or(STROKES)
        })
        .collect();
    let at5 = &s.dice[5.min(s.dice.len() - 1)];
    let painted =
        simulate::brush_voxels_to_reach(case.profile, &case.grid, &maps.classes, &truth, at5, 200);
    let stroke_voxels_5: usize = s.stroke_voxels * 5 / STROKES.max(1);
    println!(
        "{}: Dice WT/TC/ET {:.3?} -> 5 strokes {:.3?} -> 10 {:.3?}; NoC {reached:?}; \
         update median {:.2} s; brush to the 5-stroke Dice: {painted:?} voxels (strokes: about {stroke_voxels_5}); refused {}",
        case.id,
        s.dice[0],
        at5,
        s.dice.last().unwrap(),
        percentile(&mut s.seconds.clone(), 0.5),
        s.refused.len()
    );
    for (k, c) in s.classes.iter().enumerate() {
        println!("  stroke {} class {c}: Dice {:.3?}", k + 1, s.dice[k + 1]);
    }
    results.latency.extend(s.seconds.iter().copied());
    results.noc.push(reached);
    results.brush.push(painted);
    results.curves.push(s.dice);
}

/// The means over the cases: Dice after each stroke, NoC, latency, the brush.
fn print_summary(r: &Results) {
    let n = r.curves.len() as f64;
    println!(
        "\nstrokes  WT     TC     ET   (mean over {} cases)",
        r.curves.len()
    );
    for k in 0..=STROKES {
        let mean: Vec<f64> = (0..3)
            .map(|g| {
                r.curves
                    .iter()
                    .map(|c| c[k.min(c.len() - 1)][g])
                    .sum::<f64>()
                    / n
            })
            .collect();
        println!("{k:>7}  {:.3}  {:.3}  {:.3}", mean[0], mean[1], mean[2]);
    }
    println!("\nstrokes on one region's errors only: TC when correcting TC, ET when correcting ET");
    for k in 0..=STROKES {
        let at = |c: &Vec<Vec<f64>>| c.iter().map(|d| d[k.min(d.len() - 1)]).sum::<f64>() / n;
        println!(
            "{k:>7}  TC {:.3}  ET {:.3}",
            at(&r.focused[0]),
            at(&r.focused[1])
        );
    }
    let focused_noc: Vec<f64> = (0..2)
        .map(|g| {
            let reach = |c: &Vec<f64>| {
                c.iter()
                    .position(|&d| d >= TARGETS[g + 1])
                    .unwrap_or(STROKES)
            };
            r.focused[g].iter().map(|c| reach(c) as f64).sum::<f64>() / n
        })
        .collect();
    println!("NoC on one region's errors to 75 % TC / 70 % ET: {focused_noc:.1?}");
    let mean_noc: Vec<f64> = (0..3)
        .map(|g| r.noc.iter().map(|c| c[g] as f64).sum::<f64>() / n)
        .collect();
    println!("NoC to 85/75/70 % (mean, 10 when not reached): {mean_noc:.1?}");
    let mut latency = r.latency.clone();
    println!(
        "update latency (the anywhere runs): median {:.3} s, p95 {:.3} s over {} updates",
        percentile(&mut latency, 0.5),
        percentile(&mut latency, 0.95),
        latency.len()
    );
    println!("brush voxels to the 5-stroke Dice per case: {:?}", r.brush);
}
