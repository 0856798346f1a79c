//! Intensity statistics: percentiles with numpy's default (linear) rule, and the summary `cloe inspect`
//! prints for each image.

use serde::Serialize;

/// Percentiles `ps` (0–100) of `values`, as `numpy.percentile(values, ps)` with the default linear
/// method. Reorders `values`. Empty input gives NaN.
pub fn percentiles(values: &mut [f32], ps: &[f64]) -> Vec<f64> {
    let n = values.len();
    ps.iter()
        .map(|&p| {
            if n == 0 {
                return f64::NAN;
            }
            let rank = p.clamp(0.0, 100.0) / 100.0 * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let frac = rank - lo as f64;
            let (_, &mut lo_v, rest) = values.select_nth_unstable_by(lo, f32::total_cmp);
            let lo_v = lo_v as f64;
            if frac == 0.0 || rest.is_empty() {
                return lo_v;
            }
            let hi_v = rest.iter().copied().fold(f32::INFINITY, f32::min) as f64;
            lo_v + frac * (hi_v - lo_v)
        })
        .collect()
}

/// What `cloe inspect` reports about one image's intensities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntensityStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Voxels that are not 0 (the foreground of skull-stripped scans).
    pub nonzero: usize,
    /// Percentiles 0.5, 50 and 99.5 of the non-zero voxels.
    pub p0_5: f64,
    pub p50: f64,
    pub p99_5: f64,
}

impl IntensityStats {
    /// Summarises a volume's voxels.
    pub fn of(data: &[f32]) -> Self {
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        for &v in data {
            let v = v as f64;
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        let mut nonzero: Vec<f32> = data.iter().copied().filter(|&v| v != 0.0).collect();
        let p = percentiles(&mut nonzero, &[0.5, 50.0, 99.5]);
        Self {
            min,
            max,
            mean: sum / data.len().max(1) as f64,
            nonzero: nonzero.len(),
            p0_5: p[0],
            p50: p[1],
            p99_5: p[2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [0, 25, 50, 90, 100]) == [1, 2, 3, 7.6, 10]
        let mut v = vec![10.0, 3.0, 1.0, 4.0, 2.0];
        let p = percentiles(&mut v, &[0.0, 25.0, 50.0, 90.0, 100.0]);
        let want = [1.0, 2.0, 3.0, 7.6, 10.0];
        for (a, b) in p.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{p:?}");
        }
        assert!(percentiles(&mut [], &[50.0])[0].is_nan());
    }
}
