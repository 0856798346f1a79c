//! Sliding windows over a volume: a [`WindowPlan`] (window size and step per axis; the last window flush
//! with the far edge; the windows that cover the volume once come first), and nnU-Net's Gaussian
//! importance map (σ = 1/8 of each side) for blending.

/// Window origins along an axis of `n` voxels for windows of `w` advancing by `step` (the last window
/// flush with the far edge); `n ≥ w`.
pub fn starts(n: usize, w: usize, step: usize) -> Vec<usize> {
    assert!(n >= w, "the volume is padded to the window first");
    let step = step.max(1);
    let mut s: Vec<usize> = (0..).map(|i| i * step).take_while(|&o| o + w < n).collect();
    s.push(n - w);
    s.dedup();
    s
}

/// The fewest of `starts` (sorted, the last flush with the far edge) whose windows of `w` leave no gap:
/// from the first, each next one the farthest that still meets the windows before it.
fn covering(starts: &[usize], w: usize) -> Vec<usize> {
    let mut out = vec![starts[0]];
    let last = *starts.last().unwrap_or(&0);
    while let Some(&at) = out.last().filter(|&&at| at < last) {
        let next = (starts.iter().copied())
            .filter(|&s| s > at && s <= at + w)
            .max()
            .unwrap_or(last);
        out.push(next);
    }
    out
}

/// How a volume is cut into windows: their size and how far each advances, per axis `[x, y, z]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPlan {
    pub size: [usize; 3],
    pub step: [usize; 3],
}

impl WindowPlan {
    /// Cubes of `p` overlapping by `overlap` (0.5: each advances by half a cube), as nnU-Net does.
    pub fn cubes(p: usize, overlap: f64) -> Self {
        let step = ((p as f64 * (1.0 - overlap)).round() as usize).max(1);
        Self {
            size: [p; 3],
            step: [step; 3],
        }
    }

    /// Voxels in one window.
    pub fn voxels(&self) -> usize {
        self.size.iter().product()
    }

    /// The volume `dims` padded so that every window fits (each side at least the window's).
    pub fn padded(&self, dims: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| dims[a].max(self.size[a]))
    }

    /// Every window origin `[x, y, z]` over `dims` (already [`padded`](Self::padded)): first the
    /// [`covering`](Self::covering) windows, which cover the volume once, then the others (each group
    /// z slowest, x fastest). Blended in this order, the maps are whole after the covering windows
    /// and only refined by the rest.
    pub fn origins(&self, dims: [usize; 3]) -> Vec<[usize; 3]> {
        let all = self.axis_starts(dims);
        let cover: [Vec<usize>; 3] = [0, 1, 2].map(|a| covering(&all[a], self.size[a]));
        let first = grid(&cover);
        let rest = (grid(&all).into_iter()).filter(|o| !first.contains(o));
        first.iter().copied().chain(rest).collect()
    }

    /// How many windows come first in [`origins`](Self::origins) and cover the volume once.
    pub fn covering(&self, dims: [usize; 3]) -> usize {
        let all = self.axis_starts(dims);
        [0, 1, 2]
            .map(|a| covering(&all[a], self.size[a]).len())
            .iter()
            .product()
    }

    /// The window starts along each axis.
    fn axis_starts(&self, dims: [usize; 3]) -> [Vec<usize>; 3] {
        [0, 1, 2].map(|a| starts(dims[a], self.size[a], self.step[a]))
    }
}

/// Every origin `[x, y, z]` of the starts per axis, z slowest, x fastest.
fn grid([sx, sy, sz]: &[Vec<usize>; 3]) -> Vec<[usize; 3]> {
    let mut out = Vec::with_capacity(sx.len() * sy.len() * sz.len());
    for &z in sz {
        for &y in sy {
            for &x in sx {
                out.push([x, y, z]);
            }
        }
    }
    out
}

/// The Gaussian importance map of a window of `size` (x fastest), σ = 1/8 of each side, peak 1,
/// floored at the smallest positive value so every voxel keeps some weight (as nnU-Net does).
pub fn gaussian(size: [usize; 3]) -> Vec<f32> {
    let axis = |p: usize| -> Vec<f64> {
        let sigma = p as f64 / 8.0;
        let c = (p as f64 - 1.0) / 2.0;
        (0..p)
            .map(|i| (-((i as f64 - c).powi(2)) / (2.0 * sigma * sigma)).exp())
            .collect()
    };
    let [gx, gy, gz] = size.map(axis);
    let mut out = Vec::with_capacity(size.iter().product());
    for z in &gz {
        for y in &gy {
            out.extend(gx.iter().map(|x| (x * y * z) as f32));
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

/// Copies the block of `size` at `origin` out of a `dims` buffer (x fastest).
pub fn extract(data: &[f32], dims: [usize; 3], origin: [usize; 3], size: [usize; 3]) -> Vec<f32> {
    let mut out = Vec::with_capacity(size.iter().product());
    for z in origin[2]..origin[2] + size[2] {
        for y in origin[1]..origin[1] + size[1] {
            let row = dims[0] * (y + dims[1] * z) + origin[0];
            out.extend_from_slice(&data[row..row + size[0]]);
        }
    }
    out
}

/// Adds `weight · block` (a block of `size`) into `acc` at `origin`.
pub fn accumulate(
    acc: &mut [f32],
    dims: [usize; 3],
    origin: [usize; 3],
    size: [usize; 3],
    block: &[f32],
    weight: &[f32],
) {
    let (w, mut i) = (size[0], 0);
    for z in origin[2]..origin[2] + size[2] {
        for y in origin[1]..origin[1] + size[1] {
            let row = dims[0] * (y + dims[1] * z) + origin[0];
            for (a, (b, g)) in acc[row..row + w]
                .iter_mut()
                .zip(block[i..i + w].iter().zip(&weight[i..i + w]))
            {
                *a += b * g;
            }
            i += w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_volume_with_half_overlap() {
        assert_eq!(starts(64, 64, 32), vec![0]);
        assert_eq!(starts(80, 64, 32), vec![0, 16]);
        assert_eq!(starts(160, 64, 32), vec![0, 32, 64, 96]);
        let plan = WindowPlan::cubes(64, 0.5);
        assert_eq!(plan.step, [32; 3]);
        assert_eq!(plan.origins([80, 64, 64]), vec![[0, 0, 0], [16, 0, 0]]);
        assert_eq!(plan.padded([40, 70, 64]), [64, 70, 64]);
    }

    #[test]
    fn the_covering_windows_come_first_and_cover_the_volume() {
        // 104 voxels in windows of 64 by 32: starts 0, 32, 40; 0 and 40 cover it.
        assert_eq!(covering(&[0, 32, 40], 64), vec![0, 40]);
        assert_eq!(covering(&[0], 64), vec![0]);
        // Windows of 4 by 1 over 12 voxels: 0, 4, 8 (each meets the one before).
        assert_eq!(covering(&starts(12, 4, 1), 4), vec![0, 4, 8]);
        let plan = WindowPlan::cubes(64, 0.5);
        let dims = [104, 120, 104];
        let origins = plan.origins(dims);
        assert_eq!(origins.len(), 27);
        assert_eq!(plan.covering(dims), 8);
        let mut sorted = origins.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 27, "every window once");
        // The first 8 leave no voxel uncovered.
        let mut hit = vec![0u8; dims.iter().product()];
        for o in &origins[..8] {
            let ones = vec![1.0; plan.voxels()];
            let mut acc = vec![0.0f32; hit.len()];
            accumulate(&mut acc, dims, *o, plan.size, &ones, &ones);
            hit.iter_mut()
                .zip(&acc)
                .for_each(|(h, a)| *h |= (*a > 0.0) as u8);
        }
        assert!(hit.iter().all(|&h| h == 1));
        // The bundled case's grid: 8 of 12.
        assert_eq!(plan.covering([96, 112, 96]), 8);
        assert_eq!(plan.origins([96, 112, 96]).len(), 12);
    }

    #[test]
    fn gaussian_peaks_in_the_middle_and_is_positive() {
        let g = gaussian([8; 3]);
        let centre = g[3 + 8 * (3 + 8 * 3)];
        assert!(g.iter().all(|&v| v > 0.0 && v <= centre));
        assert_eq!(g[0], g[7 + 8 * (7 + 8 * 7)]);
        // A window longer in x: σ grows with the side, so 3.5 voxels off centre along x weigh more
        // than 3.5 voxels off centre along y (centres at 7.5 and 3.5).
        let g = gaussian([16, 8, 8]);
        assert_eq!(g.len(), 16 * 8 * 8);
        let at = |x: usize, y: usize| g[x + 16 * (y + 8 * 3)];
        assert!(at(4, 3) > 10.0 * at(7, 0), "{} {}", at(4, 3), at(7, 0));
    }

    #[test]
    fn extract_and_accumulate_are_inverse_on_one_window() {
        let dims = [4, 4, 4];
        let data: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let block = extract(&data, dims, [1, 2, 0], [2; 3]);
        assert_eq!(block, vec![9.0, 10.0, 13.0, 14.0, 25.0, 26.0, 29.0, 30.0]);
        assert_eq!(
            extract(&data, dims, [0, 3, 1], [3, 1, 1]),
            vec![28.0, 29.0, 30.0]
        );
        let mut acc = vec![0.0; 64];
        accumulate(&mut acc, dims, [1, 2, 0], [2; 3], &block, &[1.0; 8]);
        assert_eq!(acc[9], 9.0);
        assert_eq!(acc.iter().sum::<f32>(), block.iter().sum::<f32>());
    }
}
