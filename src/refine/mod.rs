//! Scribble refinement: a few strokes, each labelled with a class ("this is enhancing tumour", "not
//! tumour"), correct the segmentation around them. A softmax regression is fitted on the fly to the
//! stroke voxels (and, with a small weight, to the current labels of the box as the prior), on what the
//! app already has of each voxel: the sequences present, the fused probabilities and the experts'
//! votes ([`features`]). Its prediction replaces the labels only inside the box the strokes define
//! ([`Roi`]) and only where the change is connected to a stroke of the class it changes to, so a stroke
//! never changes a far lesion. When the strokes of two classes cannot be told apart by these features
//! (a sequence that would separate them is missing), the refiner says so instead of guessing.
//!
//! The app's Refine mode, `cloe refine` and the benchmark's simulated user ([`simulate`]) call
//! [`refine`].

mod classifier;
mod features;
mod limits;
mod roi;
pub mod simulate;

pub use classifier::{FitOptions, Sample, Softmax};
pub use features::{Features, box_mean, features};
pub use roi::Roi;

use crate::case::{Case, Profile};
use crate::error::{CloeError, Result};
use crate::infer::CaseMaps;
use crate::volume::Grid;
use limits::{class_reach, drawn_over, keep_connected};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One stroke: the class it says its voxels are (0: background, "not tumour") and the voxels (grid
/// indices, x fastest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scribble {
    pub class: u8,
    pub voxels: Vec<usize>,
}

/// What the refiner reads of a case: its grid and profile, the sequences present (None where
/// missing), and the model's fused probabilities and experts' label maps on the case grid.
pub struct RefineInput<'a> {
    pub grid: Grid,
    pub profile: Profile,
    pub sequences: Vec<Option<&'a [f32]>>,
    pub probs: &'a [Vec<f32>],
    pub experts: &'a [Option<Vec<u8>>],
}

impl<'a> RefineInput<'a> {
    /// The case's sequences and the model's maps on it.
    pub fn new(case: &'a Case, maps: &'a CaseMaps) -> Self {
        Self {
            grid: case.grid,
            profile: case.profile,
            sequences: (case.modalities.iter())
                .map(|m| m.as_ref().map(|v| v.data.as_slice()))
                .collect(),
            probs: &maps.probs,
            experts: &maps.experts,
        }
    }

    /// The names of the sequences the case lacks.
    fn missing(&self) -> Vec<&'static str> {
        let names = self.profile.modalities();
        (self.sequences.iter().enumerate())
            .filter(|(_, s)| s.is_none())
            .map(|(m, _)| names[m])
            .collect()
    }
}

/// How a refinement runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineOptions {
    /// How far beyond the strokes' bounding box the labels may change.
    pub margin_mm: f64,
    /// How sure the prior is of the current labels: their class gets this probability, mixed half and
    /// half with the model's fused probabilities.
    pub label_confidence: f32,
    /// Below this share of its stroke voxels fitted to their class, a class counts as not separable.
    pub min_stroke_fit: f32,
    /// A voxel changes class only where the correction gives the new class at least this probability.
    pub min_change_probability: f32,
    /// A voxel changes to a class only within this distance of that class's strokes' bounding box.
    pub reach_mm: f64,
    /// Voxels the model gave their current class with at least this probability keep it against a
    /// change that takes a region away (ET to NCR/NET, tumour to background; stroke voxels excepted).
    /// A change that adds a region (edema to ET) is the user overruling the model and is not held.
    pub protect_above: f32,
    pub fit: FitOptions,
}

impl Default for RefineOptions {
    fn default() -> Self {
        Self {
            margin_mm: 15.0,
            label_confidence: 0.8,
            min_stroke_fit: 0.6,
            min_change_probability: 0.6,
            reach_mm: 10.0,
            protect_above: 0.8,
            fit: FitOptions::default(),
        }
    }
}

/// A refinement's result.
#[derive(Debug, Clone)]
pub struct Refined {
    /// The labels after it (every voxel of the grid; outside the box as they were).
    pub labels: Vec<u8>,
    /// Voxels whose class changed.
    pub changed: usize,
    pub roi: Roi,
    pub seconds: f64,
}

/// What one refinement reads, cut to its box and owned (so a worker thread can take it): the box's
/// sequences, maps, current labels and the class each stroke gives its voxels.
#[derive(Debug, Clone)]
pub struct BoxInput {
    pub roi: Roi,
    /// Voxel spacing in mm.
    pub spacing: [f64; 3],
    pub profile: Profile,
    /// The names of the sequences the case lacks (for the refusal's words).
    pub missing: Vec<&'static str>,
    pub sequences: Vec<Option<Vec<f32>>>,
    pub probs: Vec<Vec<f32>>,
    pub experts: Vec<Option<Vec<u8>>>,
    pub current: Vec<u8>,
    pub marks: Vec<Option<u8>>,
}

impl RefineInput<'_> {
    /// The box of `scribbles` grown by `margin_mm`, with what a refinement reads of it.
    pub fn boxed(
        &self,
        current: &[u8],
        scribbles: &[Scribble],
        margin_mm: f64,
    ) -> Result<BoxInput> {
        check(self, current, scribbles)?;
        let all = scribbles.iter().flat_map(|s| s.voxels.iter().copied());
        let roi = Roi::around(all, &self.grid, margin_mm)
            .ok_or_else(|| CloeError::Refused("draw a stroke first".into()))?;
        Ok(BoxInput {
            roi,
            spacing: self.grid.spacing(),
            profile: self.profile,
            missing: self.missing(),
            sequences: (self.sequences.iter())
                .map(|s| s.map(|s| roi.cut(s)))
                .collect(),
            probs: self.probs.iter().map(|p| roi.cut(p)).collect(),
            experts: (self.experts.iter())
                .map(|e| e.as_ref().map(|e| roi.cut(e)))
                .collect(),
            current: roi.cut(current),
            marks: stroke_marks(scribbles, &roi),
        })
    }
}

impl BoxInput {
    /// Writes the box's `refined` labels into `labels` (the whole grid); returns the voxels changed.
    pub fn apply(&self, refined: &[u8], labels: &mut [u8]) -> usize {
        let mut changed = 0;
        for (j, &c) in refined.iter().enumerate() {
            let i = self.roi.grid_index(j);
            changed += (labels[i] != c) as usize;
            labels[i] = c;
        }
        changed
    }
}

/// Refines `current` (training classes on the case grid) with `scribbles`.
pub fn refine(
    input: &RefineInput,
    current: &[u8],
    scribbles: &[Scribble],
    opts: &RefineOptions,
) -> Result<Refined> {
    let t = Instant::now();
    let boxed = input.boxed(current, scribbles, opts.margin_mm)?;
    let refined = refine_box(&boxed, opts)?;
    let mut labels = current.to_vec();
    let changed = boxed.apply(&refined, &mut labels);
    Ok(Refined {
        labels,
        changed,
        roi: boxed.roi,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// The refined labels of the box: the classifier fitted to the strokes and the prior, its prediction
/// kept where connected to a stroke of its class; refused when the strokes cannot be separated.
pub fn refine_box(b: &BoxInput, opts: &RefineOptions) -> Result<Vec<u8>> {
    let fit = Fitted {
        x: features(b),
        offsets: prior_offsets(b, opts.label_confidence),
        samples: stroke_samples(&b.marks),
    };
    check_separable(b, &fit, opts)?;
    let classes = b.profile.classes().len();
    let model = Softmax::fit(&fit.x, &fit.offsets, &fit.samples, classes, opts.fit);
    let predicted = model.predict(&fit.x, &fit.offsets);
    let reach = class_reach(b, opts.reach_mm);
    let over = drawn_over(b);
    let takes_away = takes_region_away(b.profile);
    let proposed: Vec<u8> = (predicted.iter().zip(&b.marks).enumerate())
        .map(|(j, (&(c, p), &mark))| {
            let (c, was) = (c as usize, b.current[j] as usize);
            let sure =
                takes_away[was][c] && b.probs.get(was).is_some_and(|q| q[j] >= opts.protect_above);
            let allowed = p >= opts.min_change_probability
                && reach[c].is_some_and(|r| r.local_index(j).is_some())
                && over[c][was]
                && !sure;
            let c = c as u8;
            mark.unwrap_or(if allowed { c } else { b.current[j] })
        })
        .collect();
    Ok(keep_connected(
        &b.current,
        &proposed,
        &b.marks,
        b.roi.size(),
    ))
}

/// `[was][to]`: whether changing a voxel from class `was` to `to` takes it out of a region it was in
/// (BraTS: ET to NCR/NET, the core to edema, tumour to background; prostate: PZ to TZ and back).
fn takes_region_away(profile: Profile) -> Vec<Vec<bool>> {
    let k = profile.classes().len() as u8;
    (0..k)
        .map(|was| {
            (0..k)
                .map(|to| {
                    let mut regions = profile.regions().iter();
                    regions.any(|r| r.classes.contains(&was) && !r.classes.contains(&to))
                })
                .collect()
        })
        .collect()
}

/// Refuses strokes that name no class of the profile or fall off the grid, and labels of another size.
fn check(input: &RefineInput, current: &[u8], scribbles: &[Scribble]) -> Result<()> {
    let (n, classes) = (input.grid.len(), input.profile.classes());
    if current.len() != n {
        return Err(CloeError::Refused(format!(
            "the labels have {} voxels; the case has {n}",
            current.len()
        )));
    }
    let maps_fit = input.probs.len() == classes.len()
        && input.probs.iter().all(|p| p.len() == n)
        && (input.experts.iter().flatten()).all(|e| e.len() == n)
        && (input.sequences.iter().flatten()).all(|s| s.len() == n);
    if !maps_fit {
        return Err(CloeError::Refused(
            "the model's maps are not of this case: run the model on it first".into(),
        ));
    }
    if let Some(s) = scribbles.iter().find(|s| s.class as usize >= classes.len()) {
        return Err(CloeError::Refused(format!(
            "a stroke says class {}; the {} classes are 0..{} ({})",
            s.class,
            input.profile.name(),
            classes.len() - 1,
            classes.join(", ")
        )));
    }
    if scribbles.iter().flat_map(|s| &s.voxels).any(|&i| i >= n) {
        return Err(CloeError::Refused(
            "a stroke lies outside the case's grid".into(),
        ));
    }
    Ok(())
}

/// Per box voxel, the class a stroke gives it (the last stroke wins).
fn stroke_marks(scribbles: &[Scribble], roi: &Roi) -> Vec<Option<u8>> {
    let mut marks = vec![None; roi.len()];
    for s in scribbles {
        for &i in &s.voxels {
            if let Some(j) = roi.local_index(i) {
                marks[j] = Some(s.class);
            }
        }
    }
    marks
}

/// The stroke voxels, each class weighing the same in all.
fn stroke_samples(marks: &[Option<u8>]) -> Vec<Sample> {
    let mut per_class = [0usize; 256];
    marks
        .iter()
        .flatten()
        .for_each(|&c| per_class[c as usize] += 1);
    (marks.iter().enumerate())
        .filter_map(|(j, m)| m.map(|c| (j, c)))
        .map(|(voxel, class)| Sample {
            voxel,
            class,
            weight: 1.0 / per_class[class as usize] as f32,
        })
        .collect()
}

/// Per box voxel and class, the log of the prior probability: the current label at `confidence`
/// (the rest shared by the other classes), averaged with the model's fused probabilities.
fn prior_offsets(b: &BoxInput, confidence: f32) -> Vec<f32> {
    let k = b.profile.classes().len();
    let other = (1.0 - confidence) / (k - 1).max(1) as f32;
    let mut out = Vec::with_capacity(b.current.len() * k);
    for (j, &c) in b.current.iter().enumerate() {
        for class in 0..k {
            let label = if class == c as usize {
                confidence
            } else {
                other
            };
            let fused = b.probs.get(class).map_or(label, |p| p[j]);
            out.push((0.5 * (label + fused)).max(1e-4).ln());
        }
    }
    out
}

/// Refuses when a correction fitted to half of each class's stroke voxels (every other one) gives the
/// other half too little of their own class on average: then the features do not tell that class from
/// the one it took them for, and a fit to all of them would only learn the strokes' noise.
fn check_separable(b: &BoxInput, fit: &Fitted, opts: &RefineOptions) -> Result<()> {
    let classes = b.profile.classes();
    let k = classes.len();
    let mut seen = vec![0usize; k];
    let (mut half, mut held) = (Vec::new(), Vec::new());
    for s in &fit.samples {
        let c = s.class as usize;
        seen[c] += 1;
        if seen[c] % 2 == 1 {
            half.push(*s)
        } else {
            held.push(*s)
        }
    }
    let model = Softmax::fit(&fit.x, &fit.offsets, &half, k, opts.fit);
    let (mut mean, mut count, mut p) = (vec![vec![0f64; k]; k], vec![0usize; k], vec![0f32; k]);
    for s in &held {
        let c = s.class as usize;
        model.posterior(
            fit.x.row(s.voxel),
            &fit.offsets[s.voxel * k..(s.voxel + 1) * k],
            &mut p,
        );
        (mean[c].iter_mut().zip(&p)).for_each(|(m, p)| *m += *p as f64);
        count[c] += 1;
    }
    for c in (0..k).filter(|&c| count[c] > 0) {
        let own = mean[c][c] / count[c] as f64;
        if own >= opts.min_stroke_fit as f64 {
            continue;
        }
        let other = (0..k)
            .filter(|&o| o != c)
            .max_by(|&a, &b| mean[c][a].total_cmp(&mean[c][b]))
            .expect("two classes at least");
        let without = if b.missing.is_empty() {
            String::new()
        } else {
            format!(" ({} missing)", b.missing.join(", "))
        };
        return Err(CloeError::Refused(format!(
            "the strokes cannot tell {} from {} with the sequences this case has{without}: \
             fitted to half of the strokes, the other half of the {} stroke is {:.0} % {}; \
             not refined",
            classes[c],
            classes[other],
            classes[c],
            100.0 * own,
            classes[c]
        )));
    }
    Ok(())
}

/// The features, offsets and samples a correction is fitted on.
struct Fitted {
    x: Features,
    offsets: Vec<f32>,
    samples: Vec<Sample>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;

    const DIMS: [usize; 3] = [24, 24, 12];

    /// Two blocks of tumour side by side (x 4..12: NCR/NET, x 12..20: ET) in noise; both bright on
    /// FLAIR, only the ET block bright on T1c. The model's maps say nothing (uniform probabilities)
    /// and its labels call both blocks NCR/NET.
    struct Synthetic {
        sequences: Vec<Vec<f32>>,
        probs: Vec<Vec<f32>>,
        truth: Vec<u8>,
        current: Vec<u8>,
    }

    fn synthetic() -> Synthetic {
        let n = DIMS.iter().product();
        let mut state = 12345u64;
        let mut noise = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
        };
        let (mut truth, mut current) = (vec![0u8; n], vec![0u8; n]);
        let mut sequences = vec![vec![0f32; n]; 4];
        for i in 0..n {
            let (x, y, z) = (i % 24, (i / 24) % 24, i / 576);
            let tumour = (4..20).contains(&x) && (6..18).contains(&y) && (3..9).contains(&z);
            let et = tumour && x >= 12;
            truth[i] = if et { 3 } else { tumour as u8 };
            current[i] = tumour as u8;
            for (m, s) in sequences.iter_mut().enumerate() {
                let bright = (m == 0 && tumour) || (m == 1 && et);
                s[i] = noise() + if bright { 3.0 } else { 0.0 };
            }
        }
        Synthetic {
            sequences,
            probs: vec![vec![0.25; n]; 4],
            truth,
            current,
        }
    }

    fn input<'a>(s: &'a Synthetic, without: Option<usize>) -> RefineInput<'a> {
        RefineInput {
            grid: Grid::new(DIMS, Affine::from_spacing([1.0; 3], [0.0; 3])),
            profile: Profile::Brats,
            sequences: (s.sequences.iter().enumerate())
                .map(|(m, v)| (Some(m) != without).then_some(v.as_slice()))
                .collect(),
            probs: &s.probs,
            experts: &[],
        }
    }

    /// The ET and NCR/NET strokes of the synthetic case, refined with every sequence.
    fn refine_both(s: &Synthetic) -> Refined {
        let strokes = [stroke(3, 13..19), stroke(1, 5..11)];
        let r = refine(
            &input(s, None),
            &s.current,
            &strokes,
            &RefineOptions::default(),
        );
        r.map_err(|e| e.to_string()).unwrap()
    }

    /// A line along x in the slice z = 6, row y = 12.
    fn stroke(class: u8, xs: std::ops::Range<usize>) -> Scribble {
        let voxels = xs.map(|x| x + 24 * (12 + 24 * 6)).collect();
        Scribble { class, voxels }
    }

    #[test]
    fn strokes_find_the_sequence_that_separates_two_classes() {
        let s = synthetic();
        let r = refine_both(&s);
        let dice = crate::metrics::region_dice(Profile::Brats, &r.labels, &s.truth);
        let before = crate::metrics::region_dice(Profile::Brats, &s.current, &s.truth);
        assert!(
            before[2] == 0.0 && dice[2] > 0.9,
            "ET Dice {before:?} -> {dice:?}"
        );
        // Nothing outside the tumour's neighbourhood changes.
        assert!((r.labels.iter().zip(&s.current)).all(|(a, b)| a == b || *b > 0 || *a == 0));
    }

    #[test]
    fn a_sure_model_yields_to_a_stroke_that_adds_a_region_not_to_one_that_takes_one_away() {
        let mut s = synthetic();
        // The model is sure that the whole tumour is NCR/NET.
        for (i, &c) in s.current.iter().enumerate() {
            if c == 1 {
                (0..4).for_each(|k| s.probs[k][i] = if k == 1 { 0.91 } else { 0.03 });
            }
        }
        let et = refine_both(&s);
        let dice = crate::metrics::region_dice(Profile::Brats, &et.labels, &s.truth);
        assert!(
            dice[2] > 0.9,
            "an ET stroke overrules the sure model: {dice:?}"
        );
        // Edema drawn over the T1c-bright half takes the core away there: held where the model was
        // sure, so only the stroke's own voxels change; with the protection off the half changes.
        let strokes = [stroke(2, 13..19), stroke(1, 5..11)];
        let edema = |opts: &RefineOptions| {
            let r = refine(&input(&s, None), &s.current, &strokes, opts).unwrap();
            r.labels.iter().filter(|&&c| c == 2).count()
        };
        assert_eq!(edema(&RefineOptions::default()), 6);
        let unprotected = RefineOptions {
            protect_above: 1.1,
            ..RefineOptions::default()
        };
        assert!(edema(&unprotected) > 100, "{}", edema(&unprotected));
    }

    #[test]
    fn without_that_sequence_it_says_it_cannot_separate_them() {
        let s = synthetic();
        let strokes = [stroke(3, 13..19), stroke(1, 5..11)];
        let e = refine(
            &input(&s, Some(1)),
            &s.current,
            &strokes,
            &RefineOptions::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no refusal".into());
        assert!(
            e.contains("cannot tell") && e.contains("t1c missing"),
            "{e}"
        );
    }

    #[test]
    fn changes_stay_in_the_box_and_connected_to_a_stroke() {
        let mut s = synthetic();
        // A second ET-like block (NCR/NET in the labels, bright on FLAIR and T1c) apart from the
        // tumour by two rows of background, within the stroke's reach: not connected, not changed.
        let far = |i: usize| {
            let (x, y, z) = (i % 24, (i / 24) % 24, i / 576);
            (12..20).contains(&x) && (20..23).contains(&y) && (3..9).contains(&z)
        };
        for i in (0..s.current.len()).filter(|&i| far(i)) {
            s.current[i] = 1;
            s.sequences[0][i] += 3.0;
            s.sequences[1][i] += 3.0;
        }
        let r = refine_both(&s);
        assert!(r.changed > 0);
        assert!(
            (0..s.current.len())
                .filter(|&i| far(i))
                .all(|i| r.labels[i] == 1),
            "the far block keeps its labels"
        );
        let e = refine(
            &input(&s, None),
            &s.current,
            &[Scribble {
                class: 9,
                voxels: vec![0],
            }],
            &RefineOptions::default(),
        );
        assert!(e.err().is_some_and(|e| e.to_string().contains("class 9")));
    }
}
