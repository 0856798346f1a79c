//! Sliding windows over a volume: window origins with a given overlap (the last window flush with the
//! far edge), and nnU-Net's Gaussian importance map (σ = 1/8 of the window) for blending.

/// Window origins along an axis of `n` voxels for windows of `p` with `overlap` (0..1); `n ≥ p`.
pub fn starts(n: usize, p: usize, overlap: f64) -> Vec<usize> {
    assert!(n >= p, "the volume is padded to the window first");
    let step = ((p as f64 * (1.0 - overlap)).round() as usize).max(1);
    let mut s: Vec<usize> = (0..).map(|i| i * step).take_while(|&o| o + p < n).collect();
    s.push(n - p);
    s.dedup();
    s
}

/// Every window origin `[x, y, z]` of a volume `dims` (each ≥ p).
pub fn origins(dims: [usize; 3], p: usize, overlap: f64) -> Vec<[usize; 3]> {
    let (sx, sy, sz) = (
        starts(dims[0], p, overlap),
        starts(dims[1], p, overlap),
        starts(dims[2], p, overlap),
    );
    let mut out = Vec::new();
    for &z in &sz {
        for &y in &sy {
            for &x in &sx {
                out.push([x, y, z]);
            }
        }
    }
    out
}

/// The p³ Gaussian importance map (x fastest), σ = p/8, peak 1, floored at the smallest positive value
/// so every voxel keeps some weight (as nnU-Net does).
pub fn gaussian(p: usize) -> Vec<f32> {
    let sigma = p as f64 / 8.0;
    let c = (p as f64 - 1.0) / 2.0;
    let g1: Vec<f64> = (0..p)
        .map(|i| (-((i as f64 - c).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let mut out = Vec::with_capacity(p * p * p);
    for z in 0..p {
        for y in 0..p {
            for x in 0..p {
                out.push((g1[x] * g1[y] * g1[z]) as f32);
            }
        }
    }
    let min_pos = out
        .iter()
        .copied()
        .filter(|&v| v > 0.0)
        .fold(f32::INFINITY, f32::min);
    out.iter_mut().for_each(|v| *v = v.max(min_pos));
    out
}

/// Copies the p³ block at `origin` out of a `[nx, ny, nz]` buffer.
pub fn extract(data: &[f32], dims: [usize; 3], origin: [usize; 3], p: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(p * p * p);
    for z in origin[2]..origin[2] + p {
        for y in origin[1]..origin[1] + p {
            let row = dims[0] * (y + dims[1] * z) + origin[0];
            out.extend_from_slice(&data[row..row + p]);
        }
    }
    out
}

/// Adds `weight · block` into `acc` at `origin` (and `weight` into `norm` when given).
pub fn accumulate(
    acc: &mut [f32],
    dims: [usize; 3],
    origin: [usize; 3],
    p: usize,
    block: &[f32],
    weight: &[f32],
) {
    let mut i = 0;
    for z in origin[2]..origin[2] + p {
        for y in origin[1]..origin[1] + p {
            let row = dims[0] * (y + dims[1] * z) + origin[0];
            for (a, (b, w)) in acc[row..row + p]
                .iter_mut()
                .zip(block[i..i + p].iter().zip(&weight[i..i + p]))
            {
                *a += b * w;
            }
            i += p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_volume_with_half_overlap() {
        assert_eq!(starts(64, 64, 0.5), vec![0]);
        assert_eq!(starts(80, 64, 0.5), vec![0, 16]);
        assert_eq!(starts(160, 64, 0.5), vec![0, 32, 64, 96]);
        assert_eq!(origins([80, 64, 64], 64, 0.5).len(), 2);
    }

    #[test]
    fn gaussian_peaks_in_the_middle_and_is_positive() {
        let g = gaussian(8);
        let centre = g[3 + 8 * (3 + 8 * 3)];
        assert!(g.iter().all(|&v| v > 0.0 && v <= centre));
        assert_eq!(g[0], g[7 + 8 * (7 + 8 * 7)]);
    }

    #[test]
    fn extract_and_accumulate_are_inverse_on_one_window() {
        let dims = [4, 4, 4];
        let data: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let block = extract(&data, dims, [1, 2, 0], 2);
        assert_eq!(block, vec![9.0, 10.0, 13.0, 14.0, 25.0, 26.0, 29.0, 30.0]);
        let mut acc = vec![0.0; 64];
        accumulate(&mut acc, dims, [1, 2, 0], 2, &block, &[1.0; 8]);
        assert_eq!(acc[9], 9.0);
        assert_eq!(acc.iter().sum::<f32>(), block.iter().sum::<f32>());
    }
}
