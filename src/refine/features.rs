//! What the refiner knows of each voxel of the box: what the app already has. Each sequence the case
//! has (missing ones left out), its square (a class can sit in the middle of a sequence's range), and
//! its mean over the 3×3×3 neighbourhood; the fused class probabilities and their neighbourhood mean;
//! and, per expert that ran, the share of its neighbourhood each foreground class has. Every feature is
//! standardised over the box.

use super::BoxInput;

/// Features of every voxel of a box: `count` per voxel, voxel after voxel.
#[derive(Debug, Clone)]
pub struct Features {
    pub count: usize,
    pub values: Vec<f32>,
    /// What each feature is (for messages and tests).
    pub names: Vec<String>,
}

impl Features {
    /// The features of box voxel `j`.
    pub fn row(&self, j: usize) -> &[f32] {
        &self.values[j * self.count..(j + 1) * self.count]
    }
}

/// The features of the box from the case's sequences and the model's maps.
pub fn features(b: &BoxInput) -> Features {
    let mut columns: Vec<(String, Vec<f32>)> = Vec::new();
    let (names, size) = (b.profile.modalities(), b.roi.size());
    for (m, data) in b.sequences.iter().enumerate() {
        let Some(v) = data.clone() else { continue };
        let squared = standardised(v.clone()).iter().map(|x| x * x).collect();
        columns.push((format!("{}²", names[m]), squared));
        columns.push((format!("{} nbhd", names[m]), box_mean(&v, size)));
        columns.push((names[m].to_string(), v));
    }
    let classes = b.profile.classes();
    for (c, p) in b.probs.iter().enumerate() {
        columns.push((format!("p({}) nbhd", classes[c]), box_mean(p, size)));
        columns.push((format!("p({})", classes[c]), p.clone()));
    }
    for (m, expert) in b.experts.iter().enumerate() {
        let Some(labels) = expert else { continue };
        for (c, class) in classes.iter().enumerate().skip(1) {
            let is: Vec<f32> = labels
                .iter()
                .map(|&l| (l as usize == c) as u8 as f32)
                .collect();
            columns.push((
                format!("{} expert: {class} nbhd", names[m]),
                box_mean(&is, size),
            ));
        }
    }
    interleave(columns, b.roi.len())
}

/// The columns, each standardised, as rows of one voxel each.
fn interleave(columns: Vec<(String, Vec<f32>)>, n: usize) -> Features {
    let count = columns.len();
    let mut values = vec![0f32; n * count];
    let mut names = Vec::with_capacity(count);
    for (k, (name, column)) in columns.into_iter().enumerate() {
        for (j, x) in standardised(column).into_iter().enumerate() {
            values[j * count + k] = x;
        }
        names.push(name);
    }
    Features {
        count,
        values,
        names,
    }
}

/// `v` less its mean, over its standard deviation (a constant column becomes zeros).
fn standardised(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let scale = if var > 1e-12 { 1.0 / var.sqrt() } else { 0.0 };
    for x in &mut v {
        *x = ((*x as f64 - mean) * scale) as f32;
    }
    v
}

/// The mean over each voxel's 3×3×3 neighbourhood within a block of `size` (edges use the voxels
/// there are): three passes of a 3-tap mean.
pub fn box_mean(v: &[f32], size: [usize; 3]) -> Vec<f32> {
    let mut out = v.to_vec();
    let strides = [1, size[0], size[0] * size[1]];
    for axis in 0..3 {
        let (n, stride) = (size[axis], strides[axis]);
        let src = out.clone();
        for (i, o) in out.iter_mut().enumerate() {
            let at = (i / stride) % n;
            let (mut sum, mut k) = (src[i], 1.0);
            if at > 0 {
                sum += src[i - stride];
                k += 1.0;
            }
            if at + 1 < n {
                sum += src[i + stride];
                k += 1.0;
            }
            *o = sum / k;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_mean_averages_the_neighbourhood_and_keeps_a_constant() {
        let size = [4, 3, 3];
        let mut v = vec![0f32; 36];
        v[1 + 4 * (1 + 3)] = 27.0;
        let m = box_mean(&v, size);
        // The centre's neighbourhood is whole (27 voxels) and holds the one non-zero voxel.
        assert!((m[1 + 4 * (1 + 3)] - 1.0).abs() < 1e-6);
        assert!(
            box_mean(&[2.0; 36], size)
                .iter()
                .all(|&x| (x - 2.0).abs() < 1e-6)
        );
    }

    #[test]
    fn standardising_gives_zero_mean_and_unit_spread() {
        let v = standardised(vec![1.0, 2.0, 3.0, 4.0]);
        assert!(v.iter().sum::<f32>().abs() < 1e-5);
        assert!((v.iter().map(|x| x * x).sum::<f32>() / 4.0 - 1.0).abs() < 1e-5);
        assert_eq!(standardised(vec![5.0; 3]), vec![0.0; 3]);
    }
}
