//! Exact Euclidean distance transform on anisotropic grids (Felzenszwalb & Huttenlocher's lower envelope
//! of parabolas, one axis at a time), and the surface of a binary mask as BraTS tools take it (mask
//! voxels with a 6-neighbour outside the mask or the volume).

/// Squared distance transform along one line: `out[q] = min_p ((q − p)·s)² + f[p]` over finite `f[p]`.
fn squared_1d(f: &[f64], s: f64, out: &mut [f64], v: &mut Vec<usize>, z: &mut Vec<f64>) {
    v.clear();
    z.clear();
    z.push(f64::NEG_INFINITY);
    for (q, &fq) in f.iter().enumerate() {
        if !fq.is_finite() {
            continue;
        }
        let xq = q as f64 * s;
        loop {
            let Some(&p) = v.last() else {
                v.push(q);
                z.push(f64::INFINITY);
                break;
            };
            let xp = p as f64 * s;
            let sect = ((fq + xq * xq) - (f[p] + xp * xp)) / (2.0 * (xq - xp));
            let left = z[v.len() - 1];
            if sect <= left {
                v.pop();
                z.pop();
                *z.last_mut().expect("z keeps -inf") = f64::INFINITY;
                if v.is_empty() {
                    z.truncate(1);
                }
            } else {
                *z.last_mut().expect("z has the right end") = sect;
                v.push(q);
                z.push(f64::INFINITY);
                break;
            }
        }
    }
    if v.is_empty() {
        out.fill(f64::INFINITY);
        return;
    }
    let mut k = 0;
    for (q, o) in out.iter_mut().enumerate() {
        let xq = q as f64 * s;
        while z[k + 1] < xq {
            k += 1;
        }
        let xp = v[k] as f64 * s;
        *o = (xq - xp) * (xq - xp) + f[v[k]];
    }
}

/// Squared distance in mm² from every voxel to the nearest `site` voxel (∞ when there is none).
pub fn squared_distance_to(sites: &[bool], dims: [usize; 3], spacing: [f64; 3]) -> Vec<f64> {
    let mut d: Vec<f64> = sites
        .iter()
        .map(|&s| if s { 0.0 } else { f64::INFINITY })
        .collect();
    let (mut v, mut z) = (Vec::new(), Vec::new());
    for axis in 0..3 {
        let n = dims[axis];
        let stride = [1, dims[0], dims[0] * dims[1]][axis];
        let (mut line, mut out) = (vec![0.0; n], vec![0.0; n]);
        for start in 0..d.len() {
            // `start` begins a line when its coordinate along `axis` is 0.
            if !(start / stride).is_multiple_of(n) {
                continue;
            }
            for i in 0..n {
                line[i] = d[start + i * stride];
            }
            squared_1d(&line, spacing[axis], &mut out, &mut v, &mut z);
            for i in 0..n {
                d[start + i * stride] = out[i];
            }
        }
    }
    d
}

/// Mask voxels with at least one 6-neighbour outside the mask (the volume's outside counts as outside).
pub fn surface(mask: &[bool], dims: [usize; 3]) -> Vec<bool> {
    let [nx, ny, nz] = dims;
    let mut out = vec![false; mask.len()];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let i = x + nx * (y + ny * z);
                if !mask[i] {
                    continue;
                }
                let inside = |dx: isize, dy: isize, dz: isize| {
                    let (a, b, c) = (x as isize + dx, y as isize + dy, z as isize + dz);
                    a >= 0
                        && b >= 0
                        && c >= 0
                        && (a as usize) < nx
                        && (b as usize) < ny
                        && (c as usize) < nz
                        && mask[a as usize + nx * (b as usize + ny * c as usize)]
                };
                out[i] = !(inside(1, 0, 0)
                    && inside(-1, 0, 0)
                    && inside(0, 1, 0)
                    && inside(0, -1, 0)
                    && inside(0, 0, 1)
                    && inside(0, 0, -1));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_by_hand_on_an_anisotropic_grid() {
        // One site at (0, 0, 0) in a 3x2x2 grid with spacing (1, 2, 3).
        let mut sites = vec![false; 12];
        sites[0] = true;
        let d = squared_distance_to(&sites, [3, 2, 2], [1.0, 2.0, 3.0]);
        assert_eq!(d[0], 0.0);
        assert_eq!(d[2], 4.0); // (2, 0, 0): 2² mm²
        assert_eq!(d[3 + 1], 1.0 + 4.0); // (1, 1, 0)
        assert_eq!(d[6 + 3 + 2], 4.0 + 4.0 + 9.0); // (2, 1, 1)
        assert!(
            squared_distance_to(&[false; 4], [4, 1, 1], [1.0; 3])
                .iter()
                .all(|v| v.is_infinite())
        );
    }

    #[test]
    fn brute_force_agrees_with_the_transform() {
        let dims = [7, 5, 4];
        let sites: Vec<bool> = (0..140).map(|i| (i * 37 + 11) % 23 == 0).collect();
        let spacing = [0.6, 0.9, 4.0];
        let d = squared_distance_to(&sites, dims, spacing);
        for (i, &di) in d.iter().enumerate() {
            let (x, y, z) = (i % 7, i / 7 % 5, i / 35);
            let best = (0..140)
                .filter(|&j| sites[j])
                .map(|j| {
                    let (a, b, c) = (j % 7, j / 7 % 5, j / 35);
                    let dx = (x as f64 - a as f64) * spacing[0];
                    let dy = (y as f64 - b as f64) * spacing[1];
                    let dz = (z as f64 - c as f64) * spacing[2];
                    dx * dx + dy * dy + dz * dz
                })
                .fold(f64::INFINITY, f64::min);
            assert!((di - best).abs() < 1e-9, "voxel {i}: {di} vs {best}");
        }
    }

    #[test]
    fn surface_of_a_cube_is_its_shell() {
        let dims = [4, 4, 4];
        let s = surface(&[true; 64], dims);
        assert_eq!(s.iter().filter(|&&b| b).count(), 64 - 8);
    }
}
