//! Direct stride-1 "same" convolution (odd kernel, padding k / 2) for the network's narrow layers,
//! where a GEMM per tap is too thin to fill the registers (8–16 channels: a tap's GEMM has depth 8).
//! The input is copied once into a zero-padded volume whose rows are rounded up to whole vectors of
//! 16 floats; each output row is then computed in blocks of `CO` output channels × `V` vectors of 16
//! positions held in registers for the whole sum over input channels and taps: per tap, `V` unaligned
//! loads of the padded input at the tap's offset and `CO · V` fused multiply-adds with one weight each.
//! Nothing is packed per call but the weights (`[C_out / CO, C_in, taps, CO]`, a few KiB).
//!
//! The register block is chosen per instruction set at run time (AVX-512: 8 channels × 2 vectors of
//! 16, i.e. 16 of its 32 registers; AVX2 with FMA: 4 × 2 vectors of 8, 8 of its 16; otherwise the
//! same block of plain arrays, left to the compiler). Positions past the row's end are computed on the
//! rounding's zeros and dropped.

#[cfg(target_arch = "x86_64")]
use super::simd::x86;
use super::simd::{Portable, Simd};
use super::{ConvShape, SharedMut};
use rayon::prelude::*;

/// Padded rows are a whole number of these positions (a multiple of every instruction set's vector).
pub(super) const ROW_QUANTUM: usize = 16;

/// The instruction sets this kernel is compiled for; [`Isa::detected`] picks the best present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
    Plain,
}

impl Isa {
    /// The best instruction set of this CPU (checked once).
    pub fn detected() -> Isa {
        static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *ISA.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
                if avx2 && is_x86_feature_detected!("avx512f") {
                    return Isa::Avx512;
                }
                if avx2 {
                    return Isa::Avx2;
                }
            }
            Isa::Plain
        })
    }

    /// True when this CPU runs code compiled for `self` (every set below the detected one).
    pub fn runs_here(self) -> bool {
        match Isa::detected() {
            Isa::Avx512 => true,
            Isa::Avx2 => self != Isa::Avx512,
            Isa::Plain => self == Isa::Plain,
        }
    }

    /// Every instruction set this CPU runs (the tests check each).
    #[cfg(test)]
    pub fn available() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Plain]
            .into_iter()
            .filter(|isa| isa.runs_here())
            .collect()
    }

    /// Output channels per register block of the forward.
    pub(super) fn co_block(self) -> usize {
        match self {
            Isa::Avx512 => 8,
            Isa::Avx2 | Isa::Plain => 4,
        }
    }

    /// Output channels per register block of the weight gradient.
    pub(super) fn co_block_grad(self) -> usize {
        match self {
            Isa::Avx512 | Isa::Plain => 4,
            Isa::Avx2 => 2,
        }
    }
}

/// True when `shape` is a convolution this module computes (the same as the shifted path's).
pub fn applies(shape: &ConvShape) -> bool {
    super::shifted::applies(shape)
}

/// True when the forward of `shape` is faster here than on the other paths (measured per layer with
/// `cargo bench --bench conv_kernels`): with AVX2 or AVX-512, rows of at least one vector of 16
/// (at 8³ half of each vector would be the rounding's zeros); never without them (`gemm`'s own SSE
/// kernels are faster than the compiler's code for the plain block).
pub fn faster_forward(shape: &ConvShape) -> bool {
    applies(shape) && shape.input[2] >= 16 && Isa::detected() != Isa::Plain
}

/// One batch element's padded input and what the kernel needs to walk it.
pub(super) struct Padded {
    pub(super) data: Vec<f32>,
    /// Floats between rows (`[.., .., row]`), between z-slices and between channels.
    pub(super) row: usize,
    pub(super) slice: usize,
    pub(super) plane: usize,
    /// Offset of each tap from the first input value a position's window reads.
    pub(super) offsets: Vec<usize>,
}

impl Padded {
    /// `x` (`[C, D, H, W]`) padded by `shape.pad` on every side, each row rounded up to whole vectors.
    pub(super) fn new(shape: &ConvShape, x: &[f32]) -> Self {
        let [d, h, w] = shape.input;
        let [pd, ph, pw] = shape.pad;
        let row = w.next_multiple_of(ROW_QUANTUM) + 2 * pw;
        let slice = (h + 2 * ph) * row;
        let plane = (d + 2 * pd) * slice;
        let mut data = vec![0.0f32; shape.c_in * plane];
        let first = pd * slice + ph * row + pw;
        copy_rows(shape, x, &mut data, (plane, slice, row), first);
        let [kd, kh, kw] = shape.kernel;
        let offsets = (0..kd * kh * kw)
            .map(|t| (t / (kh * kw)) * slice + (t / kw % kh) * row + t % kw)
            .collect();
        Self {
            data,
            row,
            slice,
            plane,
            offsets,
        }
    }
}

/// Copies `src` (`[C, D, H, W]` of `shape.input`, as many channels as it holds) row by row into
/// `dst`, where channel `c`, voxel `(z, y, x)` goes to `c · plane + first + z · slice + y · row + x`.
pub(super) fn copy_rows(
    shape: &ConvShape,
    src: &[f32],
    dst: &mut [f32],
    (plane, slice, row): (usize, usize, usize),
    first: usize,
) {
    let [d, h, w] = shape.input;
    let channels = src.len() / (d * h * w);
    dst.par_chunks_mut(plane)
        .take(channels)
        .enumerate()
        .for_each(|(c, dst)| {
            let src = &src[c * d * h * w..][..d * h * w];
            for z in 0..d {
                for y in 0..h {
                    let at = first + z * slice + y * row;
                    dst[at..at + w].copy_from_slice(&src[(z * h + y) * w..][..w]);
                }
            }
        });
}

/// `w` (`[C_out, C_in, taps]`) → `[C_out / co, C_in, taps, co]`, zeros past the last channel.
fn packed_weights(shape: &ConvShape, w: &[f32], co: usize) -> Vec<f32> {
    let (ci_n, co_n, kv) = (shape.c_in, shape.c_out, shape.kernel_volume());
    let blocks = co_n.div_ceil(co);
    let mut p = vec![0.0f32; blocks * ci_n * kv * co];
    for o in 0..co_n {
        for ci in 0..ci_n {
            for t in 0..kv {
                p[((o / co * ci_n + ci) * kv + t) * co + o % co] = w[(o * ci_n + ci) * kv + t];
            }
        }
    }
    p
}

/// The forward convolution (see [`super::forward`]) of a shape for which [`applies`] holds.
pub fn forward(shape: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    forward_with(Isa::detected(), shape, x, w, bias, out);
}

/// [`forward`] with a given instruction set (one the CPU has: see [`Isa::available`]).
pub fn forward_with(
    isa: Isa,
    shape: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let (ci_n, co_n, vin) = (shape.c_in, shape.c_out, shape.in_voxels());
    check(isa, shape);
    assert_eq!(x.len(), shape.batch * ci_n * vin);
    assert_eq!(w.len(), co_n * ci_n * shape.kernel_volume());
    assert_eq!(out.len(), shape.batch * co_n * vin);
    assert!(bias.is_none_or(|b| b.len() == co_n));
    let co = isa.co_block();
    let wp = packed_weights(shape, w, co);
    let out_ptr = SharedMut(out.as_mut_ptr());
    let padded: Vec<Padded> = (0..shape.batch)
        .map(|b| Padded::new(shape, &x[b * ci_n * vin..][..ci_n * vin]))
        .collect();
    let (blocks, depth) = (co_n.div_ceil(co), shape.input[0]);
    (0..shape.batch * blocks * depth)
        .into_par_iter()
        .for_each(|job| {
            let (b, block, z) = (job / (blocks * depth), job / depth % blocks, job % depth);
            let xp = &padded[b];
            let slice = Slice {
                shape,
                xp,
                w: &wp[block * ci_n * xp.offsets.len() * co..],
                bias,
                first: block * co,
                z,
                out: SharedMut(unsafe { out_ptr.get().add(b * co_n * vin) }),
            };
            // SAFETY: `isa` is one the CPU runs; each job writes its own channels of its own slice.
            unsafe {
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => slice_avx512(&slice),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => slice_avx2(&slice),
                    Isa::Plain => slice.compute::<Portable, 4, 2>(),
                    #[cfg(not(target_arch = "x86_64"))]
                    _ => unreachable!("checked: {isa:?} runs here"),
                }
            }
        });
}

/// Panics unless `shape` is one the direct kernels compute and `isa` one this CPU runs (the kernels
/// read and write through raw pointers sized by both).
pub(super) fn check(isa: Isa, shape: &ConvShape) {
    assert!(applies(shape), "the direct kernels do not take {shape:?}");
    assert!(isa.runs_here(), "this CPU does not run {isa:?}");
}

/// One job: a z-slice of the output for one block of output channels.
struct Slice<'a> {
    shape: &'a ConvShape,
    xp: &'a Padded,
    /// The block's packed weights `[C_in, taps, CO]`.
    w: &'a [f32],
    bias: Option<&'a [f32]>,
    /// The block's first output channel.
    first: usize,
    z: usize,
    /// The batch element's output `[C_out, D, H, W]`.
    out: SharedMut,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn slice_avx512(s: &Slice) {
    unsafe { s.compute::<x86::Avx512, 8, 2>() }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn slice_avx2(s: &Slice) {
    unsafe { s.compute::<x86::Avx2, 4, 2>() }
}

impl Slice<'_> {
    /// The slice, row by row, in blocks of `CO` channels × `V` vectors of positions (the row's last
    /// blocks one vector at a time where fewer than `V` are left).
    #[inline(always)]
    unsafe fn compute<S: Simd, const CO: usize, const V: usize>(&self) {
        let xp = self.xp;
        let vectors = self.shape.input[2].div_ceil(S::LANES);
        for y in 0..self.shape.input[1] {
            let row = self.z * xp.slice + y * xp.row;
            let mut v0 = 0;
            while v0 < vectors {
                let at = row + v0 * S::LANES;
                if vectors - v0 >= V {
                    let acc = unsafe { self.block::<S, CO, V>(at) };
                    unsafe { self.store::<S, CO, V>(&acc, y, v0 * S::LANES) };
                    v0 += V;
                } else {
                    let acc = unsafe { self.block::<S, CO, 1>(at) };
                    unsafe { self.store::<S, CO, 1>(&acc, y, v0 * S::LANES) };
                    v0 += 1;
                }
            }
        }
    }

    /// `CO` output channels × `V` vectors of positions whose windows start at `at` of the padded
    /// input, summed over input channels and taps in registers.
    #[inline(always)]
    unsafe fn block<S: Simd, const CO: usize, const V: usize>(&self, at: usize) -> [[S::V; V]; CO] {
        let mut acc = [[unsafe { S::zero() }; V]; CO];
        let taps = self.xp.offsets.len();
        let src = self.xp.data.as_ptr();
        let w = self.w.as_ptr();
        for ci in 0..self.shape.c_in {
            let base = at + ci * self.xp.plane;
            let wc = ci * taps * CO;
            for (t, &off) in self.xp.offsets.iter().enumerate() {
                // SAFETY: the padded row holds the rounded-up vectors plus the kernel's reach; the
                // packed weights hold `C_in · taps · CO` values per block.
                unsafe {
                    let p = src.add(base + off);
                    let xs: [S::V; V] = std::array::from_fn(|v| S::load(p.add(v * S::LANES)));
                    let wt = w.add(wc + t * CO);
                    for (c, acc_c) in acc.iter_mut().enumerate() {
                        let wv = S::splat(*wt.add(c));
                        for (a, &x) in acc_c.iter_mut().zip(&xs) {
                            *a = S::mul_add(wv, x, *a);
                        }
                    }
                }
            }
        }
        acc
    }

    /// Writes a block's channels (those that exist) and positions `x0..` (those inside the row) to
    /// the output, adding the bias.
    #[inline(always)]
    unsafe fn store<S: Simd, const CO: usize, const V: usize>(
        &self,
        acc: &[[S::V; V]; CO],
        y: usize,
        x0: usize,
    ) {
        let [d, h, w] = self.shape.input;
        let n = (V * S::LANES).min(w - x0);
        let mut tmp = [0.0f32; 64];
        for (c, acc_c) in acc.iter().enumerate() {
            let o = self.first + c;
            if o >= self.shape.c_out {
                break;
            }
            for (v, &a) in acc_c.iter().enumerate() {
                unsafe { S::store(a, tmp.as_mut_ptr().add(v * S::LANES)) };
            }
            let b = self.bias.map_or(0.0, |b| b[o]);
            let at = ((o * d + self.z) * h + y) * w + x0;
            // SAFETY: channel `o`, slice `z`, row `y`, positions x0..x0 + n of this batch element.
            let dst = unsafe { std::slice::from_raw_parts_mut(self.out.get().add(at), n) };
            dst.iter_mut().zip(&tmp).for_each(|(o, v)| *o = v + b);
        }
    }
}
