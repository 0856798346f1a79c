//! InstanceNorm (no affine) + LeakyReLU, with an optional residual added after, on the GPU, and its
//! input gradient. A row (one channel of one sample) is summed by several workgroups when it is long
//! (a pass for the partial sums, then a pass that reads them and normalises: two dispatches forward,
//! three backward), or by one workgroup that does every pass itself when one has enough to do (a
//! row of at most 4,096 values: one dispatch each way).
//!
//! The sums are of `x − shift`, `shift` being the row's first value, so that the variance from
//! Σv² − (Σv)²/n does not cancel away when the mean is large against σ.

mod kernels;

use super::{Layout, UNITS, output_like, packed};
use burn::backend::wgpu::CubeTensor;
use burn::cubecl::prelude::*;
use burn::cubecl::server::Handle;
use kernels::{
    NormStridesLaunch, grad_from_partials, grad_in_one, grad_moments, norm_from_partials,
    norm_in_one, row_moments,
};

/// Workgroups per row of `n` values: about 16 values per unit, at most 64 workgroups (a unit reads
/// every group's partial sums).
fn groups_for(n: usize) -> usize {
    n.div_ceil(UNITS * 16).clamp(1, 64)
}

/// The sizes of a launch over `x` `[B, C, D, H, W]`: rows, values per row, workgroups per row.
struct Rows {
    rows: usize,
    n: usize,
    channels: usize,
    groups: usize,
}

impl Rows {
    fn of(x: &CubeTensor) -> Self {
        let s = x.meta.shape();
        let n = s[2] * s[3] * s[4];
        Self {
            rows: s[0] * s[1],
            n,
            channels: s[1],
            groups: groups_for(n),
        }
    }

    fn count(&self) -> CubeCount {
        CubeCount::Static(self.groups as u32, self.rows as u32, 1)
    }

    /// Launches [`row_moments`] over `x` (`layout`): its partial sums, a pair per workgroup.
    fn moments(&self, x: &CubeTensor, layout: Layout) -> (Handle, usize) {
        let partial = self.partials(x);
        // SAFETY (every launch here): each kernel indexes its tensors through `at` with the strides
        // of their packed layouts and `n`, `channels` of `x`'s shape, and its partial sums by row
        // and workgroup, all within the buffers made for them.
        unsafe {
            row_moments::launch_unchecked(
                &x.client,
                self.count(),
                workgroup(),
                x.clone().into_buffer_arg(),
                raw(&partial),
                self.n,
                self.channels,
                layout.arg(),
                UNITS,
            );
        }
        partial
    }

    /// A buffer for a pair of partial sums per workgroup.
    fn partials(&self, x: &CubeTensor) -> (Handle, usize) {
        let len = self.rows * self.groups * 2;
        (x.client.empty(len * size_of::<f32>()), len)
    }
}

fn workgroup() -> CubeDim {
    CubeDim::new_1d(UNITS as u32)
}

/// A raw buffer of `len` f32 as a kernel argument.
fn raw((handle, len): &(Handle, usize)) -> BufferArg {
    // SAFETY: `len` is the buffer's length in f32 (`Rows::partials`).
    unsafe { BufferArg::from_raw_parts(handle.clone(), *len) }
}

/// A tensor's buffer as a kernel argument.
fn arg(t: &CubeTensor) -> BufferArg {
    t.clone().into_buffer_arg()
}

fn strides_arg(x: Layout, skip: Layout, y: Layout) -> NormStridesLaunch {
    NormStridesLaunch {
        x: x.arg(),
        skip: skip.arg(),
        y: y.arg(),
    }
}

/// InstanceNorm (no affine, `eps`) + LeakyReLU (`slope`) of an f32 tensor, plus `skip` (same
/// shape) if given: one dispatch for rows of up to 4,096 values, two above.
pub fn norm_leaky_relu(
    x: CubeTensor,
    skip: Option<CubeTensor>,
    eps: f64,
    slope: f64,
) -> CubeTensor {
    let (x, xl) = packed(x);
    let with_skip = skip.is_some();
    let (skip, kl) = skip.map_or((x.clone(), xl), packed);
    let r = Rows::of(&x);
    let (y, yl) = output_like(&x, xl);
    let strides = strides_arg(xl, kl, yl);
    let (client, eps, slope) = (&x.client, eps as f32, slope as f32);
    let (n, channels) = (r.n, r.channels);
    unsafe {
        if r.groups == 1 {
            norm_in_one::launch_unchecked(
                client,
                r.count(),
                workgroup(),
                arg(&x),
                arg(&skip),
                arg(&y),
                n,
                channels,
                strides,
                eps,
                slope,
                UNITS,
                with_skip,
            );
        } else {
            let partial = r.moments(&x, xl);
            norm_from_partials::launch_unchecked(
                client,
                r.count(),
                workgroup(),
                arg(&x),
                arg(&skip),
                raw(&partial),
                arg(&y),
                n,
                channels,
                strides,
                eps,
                slope,
                UNITS,
                with_skip,
            );
        }
    }
    y
}

/// The input gradient of [`norm_leaky_relu`] at `x` given the output gradient `dy` (the residual's
/// gradient is `dy` itself): one dispatch for rows of up to 4,096 values, three above.
pub fn norm_leaky_relu_grad(x: CubeTensor, dy: CubeTensor, eps: f64, slope: f64) -> CubeTensor {
    let (x, xl) = packed(x);
    let (dy, gl) = packed(dy);
    let r = Rows::of(&x);
    let (dx, dl) = output_like(&x, xl);
    let strides = || strides_arg(xl, gl, dl);
    let (client, eps, slope) = (&x.client, eps as f32, slope as f32);
    let (n, channels) = (r.n, r.channels);
    unsafe {
        if r.groups == 1 {
            grad_in_one::launch_unchecked(
                client,
                r.count(),
                workgroup(),
                arg(&x),
                arg(&dy),
                arg(&dx),
                n,
                channels,
                strides(),
                eps,
                slope,
                UNITS,
            );
            return dx;
        }
        let partial = r.moments(&x, xl);
        let grad_partial = r.partials(&x);
        grad_moments::launch_unchecked(
            client,
            r.count(),
            workgroup(),
            arg(&x),
            arg(&dy),
            raw(&partial),
            raw(&grad_partial),
            n,
            channels,
            strides(),
            eps,
            slope,
            UNITS,
        );
        grad_from_partials::launch_unchecked(
            client,
            r.count(),
            workgroup(),
            arg(&x),
            arg(&dy),
            raw(&partial),
            raw(&grad_partial),
            arg(&dx),
            n,
            channels,
            strides(),
            eps,
            slope,
            UNITS,
        );
    }
    dx
}
