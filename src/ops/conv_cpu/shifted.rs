//! Stride-1 "same" convolutions (odd kernel, padding k / 2) without a column matrix: the input is
//! copied once into a zero-padded volume, and every kernel tap is one GEMM on that volume read at the
//! tap's offset, accumulated into the output tile (27 GEMMs of depth C_in for a 3×3×3 kernel, instead
//! of one GEMM of depth 27·C_in over an im2col 27 times the input's size). Positions are the padded
//! volume's linear indices, so a tap's operand is the same strided matrix shifted by a constant; the
//! positions that fall on the padding ring are computed and dropped (a few per cent). The weight
//! gradient is the same per tap: the output gradient, padded the same way with zeros on the ring,
//! against the padded input at the tap's offset, as dot products.

use super::{ConvShape, SharedMut, dot_blocks, matmul, summed};
use rayon::prelude::*;

/// Positions per tile, so that a tile's output and the input rows it reads stay in L2.
const TILE_FLOATS: usize = 64 * 1024;

/// True when `shape` is a convolution this module computes: stride 1, an odd kernel larger than one
/// voxel, and the padding that keeps the size (so that every tap's offset is the same for all
/// positions of the padded volume).
pub fn applies(shape: &ConvShape) -> bool {
    shape.stride == [1; 3]
        && shape.in_voxels() > 0
        && shape.kernel != [1; 3]
        && (0..3).all(|a| shape.kernel[a] % 2 == 1 && shape.pad[a] == shape.kernel[a] / 2)
}

/// True when the forward of `shape` is faster here than through the im2col (measured per layer with
/// `cloe bench --profile`, `CLOE_CONV=im2col` for the other path): a deep enough tap GEMM (at least
/// 16 input channels, no fewer than output channels) on a volume of at least 16³.
pub fn faster_forward(shape: &ConvShape) -> bool {
    applies(shape)
        && shape.c_in >= 16
        && shape.c_in >= shape.c_out
        && shape.in_voxels() >= 16 * 16 * 16
}

/// True when the weight gradient of `shape` is faster here (same measurement): 8 or more input
/// channels, so that each tap's dot products cover a block of channels.
pub fn faster_weight_grad(shape: &ConvShape) -> bool {
    applies(shape) && shape.c_in >= 8
}

/// The padded volume of one batch element and the offsets of the kernel's taps in it.
struct Padded {
    /// `[D + 2p, H + 2p, W + 2p]`.
    dims: [usize; 3],
    /// Linear offset of each tap `(kz, ky, kx)` from the output position it serves.
    offsets: Vec<isize>,
    /// The first and one past the last linear position of an interior (output) voxel.
    range: (usize, usize),
}

impl Padded {
    fn new(shape: &ConvShape) -> Self {
        let [d, h, w] = shape.input;
        let [pd, ph, pw] = shape.pad;
        let dims = [d + 2 * pd, h + 2 * ph, w + 2 * pw];
        let (sz, sy) = ((dims[1] * dims[2]) as isize, dims[2] as isize);
        let [kd, kh, kw] = shape.kernel;
        let mut offsets = Vec::with_capacity(kd * kh * kw);
        for kz in 0..kd {
            for ky in 0..kh {
                for kx in 0..kw {
                    offsets.push(
                        (kz as isize - pd as isize) * sz
                            + (ky as isize - ph as isize) * sy
                            + (kx as isize - pw as isize),
                    );
                }
            }
        }
        let first = (pd * dims[1] + ph) * dims[2] + pw;
        let last = ((d - 1 + pd) * dims[1] + (h - 1 + ph)) * dims[2] + (w - 1 + pw);
        Self {
            dims,
            offsets,
            range: (first, last + 1),
        }
    }

    fn voxels(&self) -> usize {
        self.dims.iter().product()
    }

    /// Tiles `(first position, length)` of the interior range, lengths a multiple of 16 but the last.
    fn tiles(&self, channels: usize) -> Vec<(usize, usize)> {
        let per = (TILE_FLOATS / channels.max(1)).max(256) / 16 * 16;
        let (first, end) = self.range;
        (first..end)
            .step_by(per)
            .map(|q| (q, per.min(end - q)))
            .collect()
    }

    /// `channels` planes of `[D, H, W]` from `src` into a zeroed padded copy.
    fn pad(&self, shape: &ConvShape, src: &[f32], channels: usize) -> Vec<f32> {
        let [d, h, w] = shape.input;
        let [pd, ph, pw] = shape.pad;
        let (vp, [_, hp, wp]) = (self.voxels(), self.dims);
        let mut out = vec![0.0f32; channels * vp];
        out.par_chunks_mut(vp).enumerate().for_each(|(c, plane)| {
            let src = &src[c * d * h * w..][..d * h * w];
            for z in 0..d {
                for y in 0..h {
                    let at = ((z + pd) * hp + y + ph) * wp + pw;
                    plane[at..at + w].copy_from_slice(&src[(z * h + y) * w..][..w]);
                }
            }
        });
        out
    }

    /// Calls `row(position in the padded volume, voxel index of the unpadded volume, length)` for
    /// each run of interior voxels inside positions `q0..q0 + len`.
    fn interior_runs(
        &self,
        shape: &ConvShape,
        (q0, len): (usize, usize),
        mut row: impl FnMut(usize, usize, usize),
    ) {
        let [d, h, w] = shape.input;
        let [pd, ph, pw] = shape.pad;
        let [_, hp, wp] = self.dims;
        let (zy0, zy1) = (q0 / wp, (q0 + len - 1) / wp);
        for zy in zy0..=zy1 {
            let (zp, yp) = (zy / hp, zy % hp);
            if zp < pd || zp >= d + pd || yp < ph || yp >= h + ph {
                continue;
            }
            let start = (zy * wp + pw).max(q0);
            let end = (zy * wp + pw + w).min(q0 + len);
            if start < end {
                let voxel = ((zp - pd) * h + yp - ph) * w + (start - zy * wp - pw);
                row(start, voxel, end - start);
            }
        }
    }
}

/// `w` `[C_out, C_in, taps]` → `[taps, C_in, C_out]`: each tap's `[C_in, C_out]` row-major.
fn per_tap(shape: &ConvShape, w: &[f32]) -> Vec<f32> {
    let (ci_n, co_n, kv) = (shape.c_in, shape.c_out, shape.kernel_volume());
    let mut t = vec![0.0f32; w.len()];
    for co in 0..co_n {
        for ci in 0..ci_n {
            for k in 0..kv {
                t[(k * ci_n + ci) * co_n + co] = w[(co * ci_n + ci) * kv + k];
            }
        }
    }
    t
}

/// The forward convolution (see [`super::forward`]) of a shape for which [`applies`] holds.
pub fn forward(shape: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let geo = Padded::new(shape);
    let (ci_n, co_n, vp) = (shape.c_in, shape.c_out, geo.voxels());
    let vin = shape.in_voxels();
    let wt = per_tap(shape, w);
    let out_ptr = SharedMut(out.as_mut_ptr());
    for b in 0..shape.batch {
        let xp = geo.pad(shape, &x[b * ci_n * vin..][..ci_n * vin], ci_n);
        geo.tiles(ci_n + co_n)
            .into_par_iter()
            .for_each_init(Vec::new, |acc, (q0, len)| {
                acc.clear();
                acc.resize(co_n * len, 0.0);
                // acc[len, C_out] (positions contiguous) += xp[q0 + off ..][len, C_in] · wt[tap].
                for (tap, &off) in geo.offsets.iter().enumerate() {
                    matmul(
                        [len, co_n, ci_n],
                        (acc.as_mut_ptr(), 1, len as isize),
                        tap > 0,
                        (xp[(q0 as isize + off) as usize..].as_ptr(), 1, vp as isize),
                        (wt[tap * ci_n * co_n..].as_ptr(), co_n as isize, 1),
                    );
                }
                let dst = unsafe { out_ptr.get().add(b * co_n * vin) };
                geo.interior_runs(shape, (q0, len), |q, voxel, n| {
                    for co in 0..co_n {
                        let src = &acc[co * len + q - q0..][..n];
                        let row =
                            unsafe { std::slice::from_raw_parts_mut(dst.add(co * vin + voxel), n) };
                        match bias {
                            Some(bias) => {
                                row.iter_mut().zip(src).for_each(|(o, v)| *o = v + bias[co])
                            }
                            None => row.copy_from_slice(src),
                        }
                    }
                });
            });
    }
}

/// The weight gradient `dw` (`[C_out, C_in, taps]`; see [`super::weight_grad`], which adds the bias
/// gradient) of a shape for which [`applies`] holds.
pub fn weight_grad(shape: &ConvShape, x: &[f32], g: &[f32], dw: &mut [f32]) {
    let geo = Padded::new(shape);
    let (ci_n, co_n, kv, vp) = (shape.c_in, shape.c_out, shape.kernel_volume(), geo.voxels());
    let vin = shape.in_voxels();
    let mut total = vec![0.0f32; kv * co_n * ci_n];
    for b in 0..shape.batch {
        let xp = geo.pad(shape, &x[b * ci_n * vin..][..ci_n * vin], ci_n);
        // The output gradient on the padded grid: zeros on the ring, so its positions add nothing.
        let gp = geo.pad(shape, &g[b * co_n * vin..][..co_n * vin], co_n);
        let part = geo
            .tiles(ci_n + co_n)
            .into_par_iter()
            .fold(
                || vec![0.0f32; kv * co_n * ci_n],
                |mut acc, (q0, len)| {
                    // acc[tap][C_out, C_in] += gp[C_out, len] · xp[q0 + off ..]ᵀ[len, C_in], as dot
                    // products over the positions, a block of C_out rows at a time.
                    for (tap, &off) in geo.offsets.iter().enumerate() {
                        let xs = xp[(q0 as isize + off) as usize..].as_ptr();
                        for (c0, cm) in dot_blocks(co_n, ci_n) {
                            matmul(
                                [cm, ci_n, len],
                                (
                                    acc[(tap * co_n + c0) * ci_n..].as_mut_ptr(),
                                    ci_n as isize,
                                    1,
                                ),
                                true,
                                (gp[c0 * vp + q0..].as_ptr(), vp as isize, 1),
                                (xs, 1, vp as isize),
                            );
                        }
                    }
                    acc
                },
            )
            .reduce(|| vec![0.0f32; kv * co_n * ci_n], summed);
        total = summed(total, part);
    }
    for tap in 0..kv {
        for co in 0..co_n {
            for ci in 0..ci_n {
                dw[(co * ci_n + ci) * kv + tap] = total[(tap * co_n + co) * ci_n + ci];
            }
        }
    }
}
