//! The weight gradient of a stride-1 "same" convolution as a direct kernel, the counterpart of
//! [`super::direct`]'s forward: `dw[o, i, t] = Σ_p g[o, p] · x[i, p + offset(t)]` over the output
//! positions `p`. The input is the same zero-padded copy as the forward's; the output gradient is read
//! in place where its rows are whole vectors, else copied onto the same row and slice strides (zeros
//! past each row's end), so that each row of positions is one run in both. A register block holds
//! `CO` output channels × `P` (input channel, tap) pairs as vectors of positions; per vector of
//! positions it loads `CO` gradient vectors and `P` input vectors and does `CO · P` fused
//! multiply-adds. The vectors carry over from tile to tile of rows through a small buffer and their
//! lanes are summed once per job. Jobs are (batch element, block of output channels, run of
//! z-slices), in parallel, each adding into its thread's partial gradient.

use super::direct::{Isa, Padded, ROW_QUANTUM, copy_rows};
#[cfg(target_arch = "x86_64")]
use super::simd::x86;
use super::simd::{Portable, Simd};
use super::{ConvShape, summed};
use rayon::prelude::*;
use std::borrow::Cow;

/// Floats of an input row per tile of rows (a tile's rows of every pair's input stay in L2).
const TILE_FLOATS: usize = 1024;

/// True when the weight gradient of `shape` is faster here than on the other paths (measured with
/// `cargo bench --bench conv_kernels`): with AVX2 or AVX-512, rows of at least one vector and volumes
/// up to the training patches' 64³ (on a whole case at 1.5 mm the column matrix is faster).
pub fn faster(shape: &ConvShape) -> bool {
    super::direct::applies(shape)
        && shape.input[2] >= 16
        && shape.in_voxels() <= 64 * 64 * 64
        && Isa::detected() != Isa::Plain
}

/// The weight gradient `dw` (`[C_out, C_in, taps]`) of a shape for which `direct::applies` holds.
pub fn weight_grad(shape: &ConvShape, x: &[f32], g: &[f32], dw: &mut [f32]) {
    weight_grad_with(Isa::detected(), shape, x, g, dw);
}

/// [`weight_grad`] with a given instruction set (one the CPU has: see [`Isa::available`]).
pub fn weight_grad_with(isa: Isa, shape: &ConvShape, x: &[f32], g: &[f32], dw: &mut [f32]) {
    let (ci_n, co_n, vin) = (shape.c_in, shape.c_out, shape.in_voxels());
    super::direct::check(isa, shape);
    assert_eq!(x.len(), shape.batch * ci_n * vin);
    assert_eq!(g.len(), shape.batch * co_n * vin);
    assert_eq!(dw.len(), co_n * ci_n * shape.kernel_volume());
    let co = isa.co_block_grad();
    // Jobs: (run of z-slices of about 16 Ki positions, block of output channels), the blocks of a
    // run next to each other so that both threads read the same input rows; one batch element at a
    // time, so that its padded input stays in L3.
    let [d, h, w] = shape.input;
    let per_job = (16 * 1024 / (h * w.next_multiple_of(16))).clamp(1, d);
    let (blocks, runs) = (co_n.div_ceil(co), d.div_ceil(per_job));
    let mut total = vec![0.0f32; dw.len()];
    for b in 0..shape.batch {
        let xp = Padded::new(shape, &x[b * ci_n * vin..][..ci_n * vin]);
        let gp = grad_planes(shape, &xp, &g[b * co_n * vin..][..co_n * vin], co);
        let pairs: Vec<usize> = (0..ci_n)
            .flat_map(|i| xp.offsets.iter().map(move |&o| i * xp.plane + o))
            .collect();
        let part = (0..blocks * runs)
            .into_par_iter()
            .fold(
                || vec![0.0f32; dw.len()],
                |mut acc, j| {
                    let z0 = j / blocks * per_job;
                    let job = Job {
                        shape,
                        xp: &xp,
                        gp: &gp,
                        pairs: &pairs,
                        o0: j % blocks * co,
                        z: z0..(z0 + per_job).min(d),
                    };
                    // SAFETY: `isa` is one the CPU runs.
                    unsafe {
                        match isa {
                            #[cfg(target_arch = "x86_64")]
                            Isa::Avx512 => slice_avx512(&job, &mut acc),
                            #[cfg(target_arch = "x86_64")]
                            Isa::Avx2 => slice_avx2(&job, &mut acc),
                            Isa::Plain => job.compute::<Portable, 4, 2>(&mut acc),
                            #[cfg(not(target_arch = "x86_64"))]
                            _ => unreachable!("checked: {isa:?} runs here"),
                        }
                    }
                    acc
                },
            )
            .reduce(|| vec![0.0f32; dw.len()], summed);
        total = summed(total, part);
    }
    dw.copy_from_slice(&total);
}

/// The output gradient `g` (`[C_out, D, H, W]`) as the kernel reads it: in place where its rows are
/// whole vectors and its channels whole blocks of `co`; else copied onto the padded input's row and
/// slice strides, zeros past each row's end and in the channels that round `C_out` up to whole blocks.
fn grad_planes<'a>(shape: &ConvShape, xp: &Padded, g: &'a [f32], co: usize) -> GradPlanes<'a> {
    let [d, h, w] = shape.input;
    if w.is_multiple_of(ROW_QUANTUM) && shape.c_out.is_multiple_of(co) {
        return GradPlanes {
            data: Cow::Borrowed(g),
            plane: d * h * w,
            slice: h * w,
            row: w,
        };
    }
    let plane = d * xp.slice;
    let mut data = vec![0.0f32; shape.c_out.next_multiple_of(co) * plane];
    copy_rows(shape, g, &mut data, (plane, xp.slice, xp.row), 0);
    GradPlanes {
        data: Cow::Owned(data),
        plane,
        slice: xp.slice,
        row: xp.row,
    }
}

/// The output gradient laid out by [`grad_planes`]: position `(c, z, y, x)` at
/// `c · plane + z · slice + y · row + x`.
struct GradPlanes<'a> {
    data: Cow<'a, [f32]>,
    plane: usize,
    slice: usize,
    row: usize,
}

/// One job: the contribution of a run of z-slices to a block of output channels.
struct Job<'a> {
    shape: &'a ConvShape,
    xp: &'a Padded,
    gp: &'a GradPlanes<'a>,
    /// Offset of each (input channel, tap) pair in the padded input, in `dw`'s order.
    pairs: &'a [usize],
    /// The block's first output channel.
    o0: usize,
    z: std::ops::Range<usize>,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn slice_avx512(job: &Job, acc: &mut [f32]) {
    unsafe { job.compute::<x86::Avx512, 4, 4>(acc) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn slice_avx2(job: &Job, acc: &mut [f32]) {
    unsafe { job.compute::<x86::Avx2, 2, 4>(acc) }
}

impl Job<'_> {
    /// Adds the job's contribution to `acc` (`[C_out, pairs]`). Tile by tile of rows (so that the
    /// input rows all pairs read stay in L2), for each group of `P` pairs (single pairs where fewer
    /// are left), the `CO × P` vector sums go on from where the previous tile left them (`saved`, one
    /// vector per channel and pair); their lanes are summed at the end.
    #[inline(always)]
    unsafe fn compute<S: Simd, const CO: usize, const P: usize>(&self, acc: &mut [f32]) {
        let n = self.pairs.len();
        let mut saved = vec![0.0f32; n * CO * S::LANES];
        let h = self.shape.input[1];
        let rows = (TILE_FLOATS / self.xp.row).clamp(1, h);
        for z in self.z.clone() {
            for y0 in (0..h).step_by(rows) {
                let tile = (z, y0..(y0 + rows).min(h));
                let mut p0 = 0;
                while p0 < n {
                    let at = saved[p0 * CO * S::LANES..].as_mut_ptr();
                    if n - p0 >= P {
                        unsafe { self.block::<S, CO, P>(tile.clone(), p0, at) };
                        p0 += P;
                    } else {
                        unsafe { self.block::<S, CO, 1>(tile.clone(), p0, at) };
                        p0 += 1;
                    }
                }
            }
        }
        for (p, sums) in saved.chunks_exact(CO * S::LANES).enumerate() {
            for (c, lanes) in sums.chunks_exact(S::LANES).enumerate() {
                if self.o0 + c < self.shape.c_out {
                    acc[(self.o0 + c) * n + p] += lanes.iter().sum::<f32>();
                }
            }
        }
    }

    /// Adds `g[o, ·] · x[pair, ·]` over the positions of rows `ys` of slice `z`, as vectors of
    /// lanes, to the `P × CO` vectors at `saved` (pair-major) for `CO` channels from `o0` and `P`
    /// pairs from `p0`.
    #[inline(always)]
    unsafe fn block<S: Simd, const CO: usize, const P: usize>(
        &self,
        (z, ys): (usize, std::ops::Range<usize>),
        p0: usize,
        saved: *mut f32,
    ) {
        let at_saved = |p: usize, c: usize| (p * CO + c) * S::LANES;
        // SAFETY: `saved` holds `P · CO` vectors from here (see `compute`).
        let mut acc: [[S::V; P]; CO] = std::array::from_fn(|c| {
            std::array::from_fn(|p| unsafe { S::load(saved.add(at_saved(p, c))) })
        });
        let vectors = self.shape.input[2].div_ceil(S::LANES);
        let (xs, gs) = (self.xp.data.as_ptr(), self.gp.data.as_ptr());
        let offs: [usize; P] = std::array::from_fn(|p| self.pairs[p0 + p]);
        for y in ys {
            let x_row = z * self.xp.slice + y * self.xp.row;
            let g_row = self.o0 * self.gp.plane + z * self.gp.slice + y * self.gp.row;
            for v in 0..vectors {
                let (at, g_at) = (x_row + v * S::LANES, g_row + v * S::LANES);
                // SAFETY: positions inside the rounded row, channels inside the rounded blocks; the
                // padded input holds every position plus every pair's offset.
                unsafe {
                    let gv: [S::V; CO] =
                        std::array::from_fn(|c| S::load(gs.add(g_at + c * self.gp.plane)));
                    let xv: [S::V; P] = std::array::from_fn(|p| S::load(xs.add(at + offs[p])));
                    for (acc_c, &gc) in acc.iter_mut().zip(&gv) {
                        for (a, &xp) in acc_c.iter_mut().zip(&xv) {
                            *a = S::mul_add(gc, xp, *a);
                        }
                    }
                }
            }
        }
        for (c, acc_c) in acc.iter().enumerate() {
            for (p, &a) in acc_c.iter().enumerate() {
                unsafe { S::store(a, saved.add(at_saved(p, c))) };
            }
        }
    }
}
