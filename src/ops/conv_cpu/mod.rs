//! 3-D convolution on the CPU for the network's layers (f32, NCDHW, groups 1, dilation 1): forward,
//! weight gradient and input gradient, each as an im2col of a tile of output rows followed by one GEMM
//! (the `gemm` crate, runtime-dispatched AVX2/AVX-512), in parallel over tiles with rayon; stride-1
//! convolutions that keep the size (most of the network's) skip the im2col where that is faster (the
//! weight gradient from 8 input channels, the forward from 16): one GEMM per kernel tap on a
//! zero-padded copy of the input ([`shifted`]).
//!
//! Why not Burn's own CPU path: `burn-flex` builds its im2col element by element from a single-threaded
//! channels-last copy, and it has no weight gradient of its own (Burn's generic one runs a convolution
//! whose kernel is the whole feature map). Here the im2col rows are built straight from NCDHW rows with
//! slice copies, the column matrix keeps output positions contiguous so the GEMM writes its result in
//! place, a 1×1×1 convolution uses the input itself as its column matrix, and the input gradient of a
//! stride-1 convolution is the forward convolution of the output gradient with the flipped, transposed
//! kernel. Everything is checked against direct summation in the tests below.

use gemm::{Parallelism, gemm};
use rayon::prelude::*;
use std::sync::OnceLock;

mod direct;
mod direct_grad;
mod shifted;
mod simd;

/// The geometry of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    /// Input `[D, H, W]`.
    pub input: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    /// Zero padding before and after each axis.
    pub pad: [usize; 3],
}

impl ConvShape {
    /// A convolution with a cubic kernel of side `k`, the same stride on every axis and the padding
    /// `k / 2` (size-keeping at stride 1).
    pub fn cubic(
        batch: usize,
        [c_in, c_out]: [usize; 2],
        input: [usize; 3],
        k: usize,
        stride: usize,
    ) -> Self {
        Self {
            batch,
            c_in,
            c_out,
            input,
            kernel: [k; 3],
            stride: [stride; 3],
            pad: [k / 2; 3],
        }
    }

    /// Output `[D, H, W]`.
    pub fn output(&self) -> [usize; 3] {
        std::array::from_fn(|a| {
            (self.input[a] + 2 * self.pad[a]).saturating_sub(self.kernel[a]) / self.stride[a] + 1
        })
    }

    fn kernel_volume(&self) -> usize {
        self.kernel.iter().product()
    }

    /// Rows of the column matrix: C_in · kd · kh · kw (the weight's row length).
    pub fn k_len(&self) -> usize {
        self.c_in * self.kernel_volume()
    }

    pub fn in_voxels(&self) -> usize {
        self.input.iter().product()
    }

    pub fn out_voxels(&self) -> usize {
        self.output().iter().product()
    }

    /// True when the input itself is the column matrix (1×1×1, stride 1, no padding).
    fn is_pointwise(&self) -> bool {
        self.kernel == [1; 3] && self.stride == [1; 3] && self.pad == [0; 3]
    }

    /// Output rows (z, y) per tile, so that a tile's column matrix stays near 512 KiB (in L2).
    fn rows_per_tile(&self) -> usize {
        const TARGET_FLOATS: usize = 128 * 1024;
        let [od, oh, ow] = self.output();
        (TARGET_FLOATS / (self.k_len() * ow).max(1)).clamp(1, od * oh)
    }

    /// The shape whose forward computes this one's input gradient (stride 1 only): the output
    /// gradient convolved with the flipped, transposed kernel, padded by k − 1 − p.
    fn transposed(&self) -> ConvShape {
        ConvShape {
            batch: self.batch,
            c_in: self.c_out,
            c_out: self.c_in,
            input: self.output(),
            kernel: self.kernel,
            stride: [1; 3],
            pad: std::array::from_fn(|a| self.kernel[a] - 1 - self.pad[a]),
        }
    }
}

/// A raw pointer that may cross rayon's threads; every use writes a region no other task touches.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the `Send` wrapper and not the raw field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// The tiles of one batch element: `(batch, first output row, row count)`.
fn tiles(shape: &ConvShape) -> Vec<(usize, usize, usize)> {
    let [od, oh, _] = shape.output();
    let rows = od * oh;
    let per = shape.rows_per_tile();
    (0..shape.batch)
        .flat_map(|b| {
            (0..rows)
                .step_by(per)
                .map(move |r| (b, r, per.min(rows - r)))
        })
        .collect()
}

/// Fills `col` (`[K, n]`, n = rows · W_out, output positions contiguous) with the input values each
/// output position of rows `row0..row0+rows` of batch element `b` sees through each kernel tap.
fn im2col(shape: &ConvShape, x: &[f32], b: usize, row0: usize, rows: usize, col: &mut [f32]) {
    let [d, h, w] = shape.input;
    let [_, oh, ow] = shape.output();
    let [kd, kh, kw] = shape.kernel;
    let [sd, sh, sw] = shape.stride;
    let [pd, ph, pw] = shape.pad;
    let n = rows * ow;
    let mut k = 0;
    for ci in 0..shape.c_in {
        let plane0 = (b * shape.c_in + ci) * d * h * w;
        for kz in 0..kd {
            for ky in 0..kh {
                for kx in 0..kw {
                    let dst_row = &mut col[k * n..(k + 1) * n];
                    // Output columns whose input column lies inside: ox·sw + kx − pw ∈ [0, w).
                    let lo = (pw.saturating_sub(kx)).div_ceil(sw).min(ow);
                    let hi = ((w + pw).saturating_sub(kx)).div_ceil(sw).clamp(lo, ow);
                    for r in 0..rows {
                        let (oz, oy) = ((row0 + r) / oh, (row0 + r) % oh);
                        let dst = &mut dst_row[r * ow..(r + 1) * ow];
                        let iz = (oz * sd + kz) as isize - pd as isize;
                        let iy = (oy * sh + ky) as isize - ph as isize;
                        if iz < 0 || iz >= d as isize || iy < 0 || iy >= h as isize {
                            dst.fill(0.0);
                            continue;
                        }
                        let src = &x[plane0 + (iz as usize * h + iy as usize) * w..][..w];
                        dst[..lo].fill(0.0);
                        dst[hi..].fill(0.0);
                        let first = lo * sw + kx - pw;
                        if sw == 1 {
                            dst[lo..hi].copy_from_slice(&src[first..first + (hi - lo)]);
                        } else {
                            for (o, v) in dst[lo..hi].iter_mut().enumerate() {
                                *v = src[first + o * sw];
                            }
                        }
                    }
                    k += 1;
                }
            }
        }
    }
}

/// The column matrix `[K, n]` of a tile `(batch, first row, rows)` as (pointer, distance between its
/// rows): the input itself for a pointwise convolution, else the im2col built in `col`.
fn columns(
    shape: &ConvShape,
    x: &[f32],
    (b, row0, rows): (usize, usize, usize),
    col: &mut Vec<f32>,
) -> (*const f32, isize) {
    let (p, n) = (shape.out_voxels(), rows * shape.output()[2]);
    if shape.is_pointwise() {
        return (
            x[b * shape.c_in * p + row0 * shape.output()[2]..].as_ptr(),
            p as isize,
        );
    }
    col.resize(shape.k_len() * n, 0.0);
    im2col(shape, x, b, row0, rows, col);
    (col.as_ptr(), n as isize)
}

/// `dst[i, j] (+)= Σ_k lhs[i, k] · rhs[k, j]` on raw strided matrices (row stride, column stride).
#[allow(clippy::too_many_arguments)]
fn matmul(
    [m, n, k]: [usize; 3],
    dst: (*mut f32, isize, isize),
    accumulate: bool,
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
) {
    // SAFETY: callers pass pointers and strides that stay inside their buffers for these sizes,
    // and `dst` does not overlap `lhs` or `rhs`.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.0,
            dst.2,
            dst.1,
            accumulate,
            lhs.0,
            lhs.2,
            lhs.1,
            rhs.0,
            rhs.2,
            rhs.1,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// The ways a convolution is computed, in the order they were added: through a column matrix, a GEMM
/// per kernel tap ([`shifted`]), or the direct kernel ([`direct`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConvPath {
    Im2col,
    Shifted,
    Direct,
}

impl ConvPath {
    pub const ALL: [ConvPath; 3] = [ConvPath::Im2col, ConvPath::Shifted, ConvPath::Direct];

    /// True when this path computes `shape`: its forward (and so the stride-1 input gradient) and its
    /// weight gradient.
    pub fn takes(self, shape: &ConvShape) -> bool {
        match self {
            ConvPath::Im2col => true,
            ConvPath::Shifted => shifted::applies(shape),
            ConvPath::Direct => direct::applies(shape),
        }
    }

    /// The newest path allowed, from `CLOE_CONV` (`im2col`, `shifted`, `direct`; to compare them):
    /// unset, each shape takes the path measured fastest for it.
    fn allowed() -> ConvPath {
        static PATH: OnceLock<ConvPath> = OnceLock::new();
        *PATH.get_or_init(|| match std::env::var("CLOE_CONV") {
            Ok(v) if v.eq_ignore_ascii_case("im2col") => ConvPath::Im2col,
            Ok(v) if v.eq_ignore_ascii_case("shifted") => ConvPath::Shifted,
            Ok(v) if !v.eq_ignore_ascii_case("direct") => {
                eprintln!(
                    "CLOE_CONV={v:?} is not im2col, shifted or direct: every path is allowed"
                );
                ConvPath::Direct
            }
            _ => ConvPath::Direct,
        })
    }
}

/// The forward convolution: `out` (`[B, C_out, D', H', W']`) = conv(`x`, `w`) + `bias`.
pub fn forward(shape: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    forward_via(forward_path(shape), shape, x, w, bias, out);
}

/// The path [`forward`] takes for `shape`: the fastest measured of those `CLOE_CONV` allows.
pub fn forward_path(shape: &ConvShape) -> ConvPath {
    let allowed = ConvPath::allowed();
    if allowed >= ConvPath::Direct && direct::faster_forward(shape) {
        ConvPath::Direct
    } else if allowed >= ConvPath::Shifted && shifted::faster_forward(shape) {
        ConvPath::Shifted
    } else {
        ConvPath::Im2col
    }
}

/// [`forward`] on a given path, one that [`ConvPath::takes`] the shape (to compare them).
pub fn forward_via(
    path: ConvPath,
    shape: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    assert_eq!(x.len(), shape.batch * shape.c_in * shape.in_voxels());
    assert_eq!(w.len(), shape.c_out * shape.k_len());
    assert_eq!(out.len(), shape.batch * shape.c_out * shape.out_voxels());
    assert!(bias.is_none_or(|b| b.len() == shape.c_out));
    assert!(path.takes(shape), "{path:?} does not take {shape:?}");
    match path {
        ConvPath::Im2col => im2col_forward(shape, x, w, bias, out),
        ConvPath::Shifted => shifted::forward(shape, x, w, bias, out),
        ConvPath::Direct => direct::forward(shape, x, w, bias, out),
    }
}

/// [`forward`] through a column matrix per tile of output rows.
fn im2col_forward(shape: &ConvShape, x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let (kl, p) = (shape.k_len(), shape.out_voxels());
    let ow = shape.output()[2];
    let out_ptr = SharedMut(out.as_mut_ptr());
    tiles(shape)
        .into_par_iter()
        .for_each_init(Vec::new, |col, (b, row0, rows)| {
            let (n, start) = (rows * ow, row0 * ow);
            let (lhs, lhs_cs) = columns(shape, x, (b, row0, rows), col);
            let dst = unsafe { out_ptr.get().add(b * shape.c_out * p + start) };
            if let Some(bias) = bias {
                for (c, &v) in bias.iter().enumerate() {
                    unsafe { std::slice::from_raw_parts_mut(dst.add(c * p), n) }.fill(v);
                }
            }
            // outᵀ[n, C_out] = colᵀ[n, K] · wᵀ[K, C_out], written in place (rows of `out` are channels).
            matmul(
                [n, shape.c_out, kl],
                (dst, 1, p as isize),
                bias.is_some(),
                (lhs, 1, lhs_cs),
                (w.as_ptr(), 1, kl as isize),
            );
        });
}

/// The weight gradient `dw` (`[C_out, C_in, kd, kh, kw]`) and bias gradient `db` (`[C_out]`) of the
/// convolution of `x`, given the output gradient `g`.
pub fn weight_grad(
    shape: &ConvShape,
    x: &[f32],
    g: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
) {
    if let Some(db) = db {
        assert_eq!(g.len(), shape.batch * shape.c_out * shape.out_voxels());
        bias_grad(shape, g, db);
    }
    weight_grad_via(weight_grad_path(shape), shape, x, g, dw);
}

/// The path [`weight_grad`] takes for `shape`: the fastest measured of those `CLOE_CONV` allows.
pub fn weight_grad_path(shape: &ConvShape) -> ConvPath {
    let allowed = ConvPath::allowed();
    if allowed >= ConvPath::Direct && direct_grad::faster(shape) {
        ConvPath::Direct
    } else if allowed >= ConvPath::Shifted && shifted::faster_weight_grad(shape) {
        ConvPath::Shifted
    } else {
        ConvPath::Im2col
    }
}

/// [`weight_grad`]'s `dw` on a given path, one that [`ConvPath::takes`] the shape.
pub fn weight_grad_via(path: ConvPath, shape: &ConvShape, x: &[f32], g: &[f32], dw: &mut [f32]) {
    assert_eq!(x.len(), shape.batch * shape.c_in * shape.in_voxels());
    assert_eq!(g.len(), shape.batch * shape.c_out * shape.out_voxels());
    assert_eq!(dw.len(), shape.c_out * shape.k_len());
    assert!(path.takes(shape), "{path:?} does not take {shape:?}");
    match path {
        ConvPath::Im2col => im2col_weight_grad(shape, x, g, dw),
        ConvPath::Shifted => shifted::weight_grad(shape, x, g, dw),
        ConvPath::Direct => direct_grad::weight_grad(shape, x, g, dw),
    }
}

/// [`weight_grad`]'s `dw` through a column matrix per tile of output rows.
fn im2col_weight_grad(shape: &ConvShape, x: &[f32], g: &[f32], dw: &mut [f32]) {
    let (kl, p, co) = (shape.k_len(), shape.out_voxels(), shape.c_out);
    let ow = shape.output()[2];
    let partial = tiles(shape)
        .into_par_iter()
        .fold(
            || (vec![0.0f32; co * kl], Vec::new()),
            |(mut acc, mut col), (b, row0, rows)| {
                let (n, start) = (rows * ow, row0 * ow);
                let (lhs, lhs_rs) = columns(shape, x, (b, row0, rows), &mut col);
                let g = g[b * co * p + start..].as_ptr();
                // dwᵀ[K, C_out] += col[K, n] · gᵀ[n, C_out], a block of K's rows at a time.
                for (k0, km) in dot_blocks(kl, co) {
                    matmul(
                        [km, co, n],
                        (acc[k0..].as_mut_ptr(), 1, kl as isize),
                        true,
                        (lhs.wrapping_offset(k0 as isize * lhs_rs), lhs_rs, 1),
                        (g, 1, p as isize),
                    );
                }
                (acc, col)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(|| vec![0.0f32; co * kl], summed);
    dw.copy_from_slice(&partial);
}

/// Blocks `(first row, rows)` of the weight gradient's `K` rows. Both of its operands run along the
/// summed axis (the column matrix's rows and the output gradient's channels are contiguous runs of
/// output positions), which `gemm` takes as dot products held in registers when a call's result has
/// at most 256 elements; as one call it would instead repack both operands across that axis, at a
/// third of the forward's rate (`cloe bench --profile`). Wider outputs than 256 channels stay one call.
fn dot_blocks(k_len: usize, c_out: usize) -> impl Iterator<Item = (usize, usize)> {
    const DOT_ELEMENTS: usize = 256;
    let rows = if c_out > DOT_ELEMENTS {
        k_len
    } else {
        (DOT_ELEMENTS / c_out.max(1)).min(k_len)
    };
    (0..k_len)
        .step_by(rows.max(1))
        .map(move |k0| (k0, rows.min(k_len - k0)))
}

/// `a + b`, elementwise: how the partial weight gradients of rayon's tasks are combined.
fn summed(mut a: Vec<f32>, b: Vec<f32>) -> Vec<f32> {
    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
    a
}

/// The bias gradient: the output gradient summed over batch and space, per channel.
fn bias_grad(shape: &ConvShape, g: &[f32], db: &mut [f32]) {
    let (p, co) = (shape.out_voxels(), shape.c_out);
    db.par_iter_mut().enumerate().for_each(|(c, v)| {
        *v = (0..shape.batch)
            .map(|b| {
                g[(b * co + c) * p..][..p]
                    .iter()
                    .map(|&x| x as f64)
                    .sum::<f64>()
            })
            .sum::<f64>() as f32;
    });
}

/// The input gradient `dx` (`[B, C_in, D, H, W]`) of the convolution with weights `w`, given the
/// output gradient `g`.
pub fn data_grad(shape: &ConvShape, w: &[f32], g: &[f32], dx: &mut [f32]) {
    assert_eq!(dx.len(), shape.batch * shape.c_in * shape.in_voxels());
    if shape.stride == [1; 3] {
        let t = shape.transposed();
        forward(&t, g, &flip_transpose(shape, w), None, dx);
    } else {
        data_grad_col2im(shape, w, g, dx);
    }
}

/// `w` `[C_out, C_in, kd, kh, kw]` → `[C_in, C_out, kd, kh, kw]` with every kernel reversed.
fn flip_transpose(shape: &ConvShape, w: &[f32]) -> Vec<f32> {
    let kv = shape.kernel_volume();
    let mut t = vec![0.0f32; w.len()];
    for co in 0..shape.c_out {
        for ci in 0..shape.c_in {
            let src = &w[(co * shape.c_in + ci) * kv..][..kv];
            let dst = &mut t[(ci * shape.c_out + co) * kv..][..kv];
            for (k, v) in src.iter().enumerate() {
                dst[kv - 1 - k] = *v;
            }
        }
    }
    t
}

/// Input gradient of a strided convolution: per block of input channels (in parallel, so no two tasks
/// write the same voxel), columns = wᵀ · g for a tile of output rows, scattered back onto the input.
fn data_grad_col2im(shape: &ConvShape, w: &[f32], g: &[f32], dx: &mut [f32]) {
    let (kv, kl, p, co) = (
        shape.kernel_volume(),
        shape.k_len(),
        shape.out_voxels(),
        shape.c_out,
    );
    let [d, h, wd] = shape.input;
    let [_, oh, ow] = shape.output();
    let [kd, kh, kw] = shape.kernel;
    let [sd, sh, sw] = shape.stride;
    let [pd, ph, pw] = shape.pad;
    let vin = shape.in_voxels();
    let per = shape.rows_per_tile() * shape.c_in; // the columns of one input channel are kv rows
    let rows_total = shape.output()[0] * oh;
    dx.fill(0.0);
    let dx_ptr = SharedMut(dx.as_mut_ptr());
    (0..shape.batch * shape.c_in)
        .into_par_iter()
        .for_each_init(Vec::new, |cols, bc| {
            let (b, ci) = (bc / shape.c_in, bc % shape.c_in);
            let plane = unsafe { std::slice::from_raw_parts_mut(dx_ptr.get().add(bc * vin), vin) };
            for row0 in (0..rows_total).step_by(per) {
                let rows = per.min(rows_total - row0);
                let n = rows * ow;
                cols.resize(kv * n, 0.0);
                // cols[kv, n] = w[:, ci]ᵀ[kv, C_out] · g[C_out, n].
                matmul(
                    [kv, n, co],
                    (cols.as_mut_ptr(), n as isize, 1),
                    false,
                    (w[ci * kv..].as_ptr(), 1, kl as isize),
                    (g[b * co * p + row0 * ow..].as_ptr(), p as isize, 1),
                );
                let mut k = 0;
                for kz in 0..kd {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            for r in 0..rows {
                                let (oz, oy) = ((row0 + r) / oh, (row0 + r) % oh);
                                let iz = (oz * sd + kz) as isize - pd as isize;
                                let iy = (oy * sh + ky) as isize - ph as isize;
                                if iz < 0 || iz >= d as isize || iy < 0 || iy >= h as isize {
                                    continue;
                                }
                                let dst = &mut plane[(iz as usize * h + iy as usize) * wd..][..wd];
                                let src = &cols[k * n + r * ow..][..ow];
                                for (ox, v) in src.iter().enumerate() {
                                    let ix = (ox * sw + kx) as isize - pw as isize;
                                    if ix >= 0 && (ix as usize) < wd {
                                        dst[ix as usize] += v;
                                    }
                                }
                            }
                            k += 1;
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests;
