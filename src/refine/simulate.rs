//! The simulated user of interactive-segmentation papers, for the benchmark, the CLI and the tests:
//! each stroke is a short line through the centre of the largest error region (voxels of one true
//! class labelled otherwise; with a focus on one region, only errors of that region: voxels in it
//! labelled outside it or the other way round), labelled with that true class; after each, the
//! refinement runs with every stroke so far. The brush alone is the baseline: the same user paints whole error regions, largest
//! first, and the voxels painted to reach a Dice are counted.

use super::{RefineInput, RefineOptions, Scribble, refine};
use crate::case::Profile;
use crate::metrics::region_dice;
use crate::postprocess::components;
use crate::volume::Grid;

/// The largest error region (of the region made of the classes `focus`, when given): the grid indices
/// of its voxels and the class they truly are.
pub fn largest_error(
    current: &[u8],
    truth: &[u8],
    grid: &Grid,
    classes: usize,
    focus: Option<&[u8]>,
) -> Option<(u8, Vec<usize>)> {
    let mut best: Option<(u8, Vec<usize>)> = None;
    let matters = |p: u8, t: u8| focus.is_none_or(|r| r.contains(&p) != r.contains(&t));
    for c in 0..classes as u8 {
        let mask: Vec<bool> = (current.iter().zip(truth))
            .map(|(&p, &t)| t == c && p != c && matters(p, t))
            .collect();
        let (labels, sizes) = components(&mask, grid.dims);
        let Some((largest, &size)) = sizes.iter().enumerate().skip(1).max_by_key(|(_, s)| **s)
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(_, v)| v.len() < size) {
            let voxels = (labels.iter().enumerate())
                .filter(|(_, l)| **l as usize == largest)
                .map(|(i, _)| i)
                .collect();
            best = Some((c, voxels));
        }
    }
    best
}

/// The voxel of `region` deepest inside it (the last left by repeated 6-neighbour erosion, the one
/// nearest the centroid of those), as (x, y, z).
pub fn centre(region: &[usize], dims: [usize; 3]) -> [usize; 3] {
    let at = |i: usize| {
        [
            i % dims[0],
            (i / dims[0]) % dims[1],
            i / (dims[0] * dims[1]),
        ]
    };
    let mut left: Vec<usize> = region.to_vec();
    loop {
        let set: std::collections::HashSet<usize> = left.iter().copied().collect();
        let kept: Vec<usize> = (left.iter().copied())
            .filter(|&i| {
                neighbours(at(i), dims)
                    .iter()
                    .all(|n| n.is_some_and(|n| set.contains(&n)))
            })
            .collect();
        if kept.is_empty() {
            break;
        }
        left = kept;
    }
    let n = left.len() as f64;
    let mean: [f64; 3] =
        std::array::from_fn(|a| left.iter().map(|&i| at(i)[a] as f64).sum::<f64>() / n);
    let d = |i: usize| {
        (0..3)
            .map(|a| (at(i)[a] as f64 - mean[a]).powi(2))
            .sum::<f64>()
    };
    at(*left
        .iter()
        .min_by(|&&a, &&b| d(a).total_cmp(&d(b)))
        .expect("a region"))
}

fn neighbours(v: [usize; 3], dims: [usize; 3]) -> [Option<usize>; 6] {
    let index = |v: [usize; 3]| v[0] + dims[0] * (v[1] + dims[1] * v[2]);
    let mut out = [None; 6];
    for a in 0..3 {
        let (mut lo, mut hi) = (v, v);
        if v[a] > 0 {
            lo[a] -= 1;
            out[2 * a] = Some(index(lo));
        }
        if v[a] + 1 < dims[a] {
            hi[a] += 1;
            out[2 * a + 1] = Some(index(hi));
        }
    }
    out
}

/// The simulated user's next stroke: a line of `length_mm` along x through the centre of the largest
/// error region (of the `focus` region, when given), in its axial slice, cut to the region; None when
/// nothing is wrong.
pub fn next_stroke(
    current: &[u8],
    truth: &[u8],
    grid: &Grid,
    classes: usize,
    length_mm: f64,
    focus: Option<&[u8]>,
) -> Option<Scribble> {
    let (class, region) = largest_error(current, truth, grid, classes, focus)?;
    let dims = grid.dims;
    let c = centre(&region, dims);
    let half = (0.5 * length_mm / grid.spacing()[0]).round() as isize;
    let inside: std::collections::HashSet<usize> = region.into_iter().collect();
    let voxels = (-half..=half)
        .map(|dx| c[0] as isize + dx)
        .filter(|&x| x >= 0 && (x as usize) < dims[0])
        .map(|x| x as usize + dims[0] * (c[1] + dims[1] * c[2]))
        .filter(|i| inside.contains(i))
        .collect();
    Some(Scribble { class, voxels })
}

/// One simulated session: the Dice of each region after 0, 1, … strokes, the seconds of each update,
/// the voxels the strokes cover, the updates the refiner refused, and the labels it ended with.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub dice: Vec<Vec<f64>>,
    pub labels: Vec<u8>,
    /// The class of each stroke.
    pub classes: Vec<u8>,
    pub seconds: Vec<f64>,
    pub stroke_voxels: usize,
    pub refused: Vec<String>,
}

/// Runs the simulated user for `strokes` strokes from `start` against `truth`, on the largest errors
/// anywhere or (`focus`) of the region made of those classes.
pub fn run(
    input: &RefineInput,
    start: &[u8],
    truth: &[u8],
    (strokes, focus): (usize, Option<&[u8]>),
    opts: &RefineOptions,
) -> Session {
    let classes = input.profile.classes().len();
    let mut session = Session {
        dice: vec![region_dice(input.profile, start, truth)],
        ..Session::default()
    };
    let (mut current, mut scribbles) = (start.to_vec(), Vec::new());
    for _ in 0..strokes {
        let Some(stroke) = next_stroke(&current, truth, &input.grid, classes, 10.0, focus) else {
            break;
        };
        session.stroke_voxels += stroke.voxels.len();
        session.classes.push(stroke.class);
        scribbles.push(stroke);
        match refine(input, start, &scribbles, opts) {
            Ok(r) => {
                session.seconds.push(r.seconds);
                if std::env::var("CLOE_REFINE_TRACE").is_ok() {
                    let mut t = [[0usize; 4]; 4];
                    for (a, b) in current.iter().zip(&r.labels) {
                        t[(*a as usize).min(3)][(*b as usize).min(3)] += 1;
                    }
                    eprintln!("TRACE from->to {t:?} box {:?}", r.roi.size());
                }
                current = r.labels;
            }
            Err(e) => session.refused.push(e.to_string()),
        }
        session
            .dice
            .push(region_dice(input.profile, &current, truth));
    }
    session.labels = current;
    session
}

/// Voxels the brush alone paints to bring every region to at least `target` Dice: whole error regions
/// set to their true class, largest first (at most `max_regions`); None when that is not enough.
pub fn brush_voxels_to_reach(
    profile: Profile,
    grid: &Grid,
    start: &[u8],
    truth: &[u8],
    target: &[f64],
    max_regions: usize,
) -> Option<usize> {
    let classes = profile.classes().len();
    let mut labels = start.to_vec();
    let mut painted = 0;
    for _ in 0..=max_regions {
        let dice = region_dice(profile, &labels, truth);
        if dice.iter().zip(target).all(|(d, t)| d >= t) {
            return Some(painted);
        }
        let (class, region) = largest_error(&labels, truth, grid, classes, None)?;
        painted += region.len();
        region.iter().for_each(|&i| labels[i] = class);
    }
    None
}
