//! The model fitted to the strokes on the fly: a linear correction of what is known already. Each
//! voxel's class logits are a fixed offset (the log of its prior class probabilities: the current
//! labels and the model's fused probabilities) plus, per class, a weight per feature and a bias; the
//! correction is fitted to the strokes by full-batch Adam with an L2 penalty on every weight, so that
//! where the strokes say nothing the prior stands. Small enough to fit in tens of milliseconds on 2
//! cores, and its fit on the strokes themselves says when the features cannot tell two classes apart.

use super::features::Features;
use rayon::prelude::*;

/// One training voxel: its box index, class and weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub voxel: usize,
    pub class: u8,
    pub weight: f32,
}

/// How the fit runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    pub iterations: usize,
    pub learning_rate: f32,
    /// L2 penalty on the weights (not the biases).
    pub l2: f32,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            iterations: 150,
            learning_rate: 0.1,
            l2: 0.05,
        }
    }
}

/// Softmax regression over `classes` classes and `features` features, on top of per-voxel offsets.
#[derive(Debug, Clone)]
pub struct Softmax {
    classes: usize,
    features: usize,
    /// Per class: the weights, then the bias.
    weights: Vec<f32>,
}

impl Softmax {
    /// Fits the classes of `samples` from their features and offsets (`classes` per voxel).
    pub fn fit(
        x: &Features,
        offsets: &[f32],
        samples: &[Sample],
        classes: usize,
        opts: FitOptions,
    ) -> Self {
        let mut model = Self {
            classes,
            features: x.count,
            weights: vec![0.0; classes * (x.count + 1)],
        };
        let total: f32 = samples.iter().map(|s| s.weight).sum::<f32>().max(1e-12);
        let mut adam = Adam::new(model.weights.len());
        for _ in 0..opts.iterations {
            let mut grad = model.gradient(x, offsets, samples);
            for (k, g) in grad.iter_mut().enumerate() {
                *g = *g / total + opts.l2 * model.weights[k];
            }
            adam.step(&mut model.weights, &grad, opts.learning_rate);
        }
        model
    }

    /// The summed weighted gradient of the cross-entropy over `samples`.
    fn gradient(&self, x: &Features, offsets: &[f32], samples: &[Sample]) -> Vec<f32> {
        let stride = self.features + 1;
        samples
            .par_chunks(512)
            .map(|chunk| {
                let mut g = vec![0f32; self.weights.len()];
                let mut p = vec![0f32; self.classes];
                for s in chunk {
                    let row = x.row(s.voxel);
                    self.posterior(row, self.offsets_of(offsets, s.voxel), &mut p);
                    for (k, pk) in p.iter().enumerate() {
                        let d = s.weight * (pk - (k == s.class as usize) as u8 as f32);
                        let gk = &mut g[k * stride..(k + 1) * stride];
                        for (gi, xi) in gk.iter_mut().zip(row) {
                            *gi += d * xi;
                        }
                        gk[self.features] += d;
                    }
                }
                g
            })
            .reduce(
                || vec![0f32; self.weights.len()],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            )
    }

    fn offsets_of<'a>(&self, offsets: &'a [f32], voxel: usize) -> &'a [f32] {
        &offsets[voxel * self.classes..(voxel + 1) * self.classes]
    }

    /// The class probabilities of one voxel's features and offsets, into `out`.
    pub fn posterior(&self, row: &[f32], offsets: &[f32], out: &mut [f32]) {
        let stride = self.features + 1;
        for (k, o) in out.iter_mut().enumerate() {
            let w = &self.weights[k * stride..(k + 1) * stride];
            let linear = w[self.features] + w.iter().zip(row).map(|(a, b)| a * b).sum::<f32>();
            *o = offsets[k] + linear;
        }
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for o in out.iter_mut() {
            *o = (*o - max).exp();
            sum += *o;
        }
        out.iter_mut().for_each(|o| *o /= sum);
    }

    /// The most likely class of every voxel of `x`, with its probability.
    pub fn predict(&self, x: &Features, offsets: &[f32]) -> Vec<(u8, f32)> {
        let n = x.values.len() / x.count.max(1);
        (0..n)
            .into_par_iter()
            .map_init(
                || vec![0f32; self.classes],
                |p, j| {
                    self.posterior(x.row(j), self.offsets_of(offsets, j), p);
                    let (k, &best) = (p.iter().enumerate())
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .expect("at least one class");
                    (k as u8, best)
                },
            )
            .collect()
    }
}

/// Adam's moments.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, w: &mut [f32], g: &[f32], lr: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t += 1;
        let (c1, c2) = (1.0 - B1.powi(self.t), 1.0 - B2.powi(self.t));
        for i in 0..w.len() {
            self.m[i] = B1 * self.m[i] + (1.0 - B1) * g[i];
            self.v[i] = B2 * self.v[i] + (1.0 - B2) * g[i] * g[i];
            w[i] -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(rows: &[[f32; 2]]) -> Features {
        Features {
            count: 2,
            values: rows.iter().flatten().copied().collect(),
            names: vec!["a".into(), "b".into()],
        }
    }

    #[test]
    fn it_learns_a_class_that_one_feature_separates() {
        // Class 1 where the second feature is high; the first is noise.
        let rows: Vec<[f32; 2]> = (0..200)
            .map(|i| {
                [
                    ((i * 37) % 11) as f32 / 5.0 - 1.0,
                    if i % 2 == 0 { 1.0 } else { -1.0 },
                ]
            })
            .collect();
        let x = features(&rows);
        let samples: Vec<Sample> = (0..200)
            .map(|i| Sample {
                voxel: i,
                class: (i % 2 == 0) as u8,
                weight: 1.0,
            })
            .collect();
        let offsets = vec![0f32; 400];
        let model = Softmax::fit(&x, &offsets, &samples, 2, FitOptions::default());
        let predicted = model.predict(&x, &offsets);
        assert!((0..200).all(|i| predicted[i].0 == (i % 2 == 0) as u8));
        assert!(predicted.iter().all(|p| p.1 > 0.8));
    }
}
