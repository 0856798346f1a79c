//! Robust z-score per modality: statistics of the foreground (non-zero) voxels after clipping to the
//! 0.5th–99.5th percentiles, so that a saturated scanner range or a few hot voxels cannot skew them.

use crate::stats::percentiles;
use serde::{Deserialize, Serialize};

/// What a z-score did, kept to report and to invert.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    /// Clipping bounds (percentiles of the foreground).
    pub lo: f64,
    pub hi: f64,
    /// Mean and standard deviation of the clipped foreground.
    pub mean: f64,
    pub std: f64,
    /// Foreground voxels used.
    pub voxels: usize,
}

/// Percentiles the z-score clips to.
pub const CLIP_PERCENTILES: [f64; 2] = [0.5, 99.5];

/// Z-scores `data` in place: foreground voxels (non-zero and finite) become `(clip(x) − mean) / std`;
/// background and non-finite voxels become 0. Returns the statistics, or `None` if there is no
/// foreground.
pub fn robust_zscore(data: &mut [f32]) -> Option<ZScore> {
    let is_fg = |v: f32| v != 0.0 && v.is_finite();
    let mut fg: Vec<f32> = data.iter().copied().filter(|&v| is_fg(v)).collect();
    if fg.is_empty() {
        data.iter_mut().for_each(|v| *v = 0.0);
        return None;
    }
    let p = percentiles(&mut fg, &CLIP_PERCENTILES);
    let (lo, hi) = (p[0], p[1]);
    let clip = |v: f32| (v as f64).clamp(lo, hi);
    let n = fg.len() as f64;
    let mean = fg.iter().map(|&v| clip(v)).sum::<f64>() / n;
    let var = fg.iter().map(|&v| (clip(v) - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt().max(1e-8);
    for v in data.iter_mut() {
        *v = if is_fg(*v) {
            ((clip(*v) - mean) / std) as f32
        } else {
            0.0
        };
    }
    Some(ZScore {
        lo,
        hi,
        mean,
        std,
        voxels: fg.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_foreground_and_empty_volumes_do_not_blow_up() {
        let mut v = vec![0.0, 5.0, 5.0, 0.0];
        let z = robust_zscore(&mut v).unwrap();
        assert_eq!(z.mean, 5.0);
        assert!(v.iter().all(|x| x.is_finite() && *x == 0.0));
        let mut empty = vec![0.0; 4];
        assert!(robust_zscore(&mut empty).is_none());
    }

    #[test]
    fn non_finite_voxels_do_not_poison_the_statistics() {
        let mut clean: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        let mut dirty = clean.clone();
        dirty.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        let a = robust_zscore(&mut clean).unwrap();
        let b = robust_zscore(&mut dirty).unwrap();
        assert_eq!(a, b);
        assert!(dirty.iter().all(|x| x.is_finite()));
    }
}
