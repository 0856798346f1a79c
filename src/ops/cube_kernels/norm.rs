//! InstanceNorm (no affine) + LeakyReLU, with an optional residual added after, on the GPU, and its
//! input gradient. A row (one channel of one sample) is summed by several workgroups when it is long
//! (a pass for the partial sums, then a pass that reads them and normalises: two dispatches forward,
//! three backward), or by one workgroup that does every pass itself when one has enough to do (a
//! row of at most 4,096 values: one dispatch each way).
//!
//! The sums are of `x − shift`, `shift` being the row's first value, so that the variance from
//! Σv² − (Σv)²/n does not cancel away when the mean is large against σ.

// Kernels take their tensors, sizes and strides one by one.
#![allow(clippy::too_many_arguments)]

use super::{Layout, Strides, UNITS, at, output_like, packed};
use burn::backend::wgpu::CubeTensor;
use burn::cubecl;
use burn::cubecl::prelude::*;
use burn::cubecl::server::Handle;

/// Workgroups per row of `n` values: about 16 values per unit, at most 64 workgroups (a unit reads
/// every group's partial sums).
fn groups_for(n: usize) -> usize {
    n.div_ceil(UNITS * 16).clamp(1, 64)
}

/// `a` and `b` summed over the workgroup (shared memory, a tree), for every unit.
#[cube]
fn workgroup_sums(a: f32, b: f32, #[comptime] units: usize) -> (f32, f32) {
    let unit = UNIT_POS as usize;
    let mut sa = Shared::<[f32]>::new_slice(units);
    let mut sb = Shared::<[f32]>::new_slice(units);
    sa[unit] = a;
    sb[unit] = b;
    sync_cube();
    let mut half = units.runtime() / 2;
    while half > 0 {
        if unit < half {
            sa[unit] += sa[unit + half];
            sb[unit] += sb[unit + half];
        }
        sync_cube();
        half /= 2;
    }
    (sa[0], sb[0])
}

/// μ and 1/σ (biased variance, `eps` inside the root) from the sums of `x − shift` and of its
/// square over `n` values.
#[cube]
fn stats_of(shift: f32, s: f32, s2: f32, n: usize, eps: f32) -> (f32, f32) {
    let nf = f32::cast_from(n);
    let m = s / nf;
    let var = f32::max(s2 / nf - m * m, 0.0f32);
    (shift + m, 1.0f32 / f32::sqrt(var + eps))
}

/// The totals of row `row`'s `groups` pairs of partial sums.
#[cube]
fn partial_totals(partial: &[f32], row: usize, groups: usize) -> (f32, f32) {
    let mut s = 0.0f32;
    let mut s2 = 0.0f32;
    for g in 0..groups {
        s += partial[(row * groups + g) * 2];
        s2 += partial[(row * groups + g) * 2 + 1];
    }
    (s, s2)
}

/// This unit's sums of `x − shift` and of its square over values `start`, `start + step`, … of
/// row `row`.
#[cube]
fn unit_moments(
    x: &[f32],
    row: usize,
    start: usize,
    step: usize,
    n: usize,
    channels: usize,
    xs: &Strides,
    shift: f32,
) -> (f32, f32) {
    let mut s = 0.0f32;
    let mut s2 = 0.0f32;
    let mut i = start;
    while i < n {
        let v = x[at(row, i, channels, xs)] - shift;
        s += v;
        s2 += v * v;
        i += step;
    }
    (s, s2)
}

/// g = ∂L/∂ĥ (the output gradient through the activation) at ĥ.
#[cube]
fn through_activation(d: f32, h: f32, slope: f32) -> f32 {
    if h < 0.0f32 { d * slope } else { d }
}

/// This unit's sums of g and of g · ĥ over its values of row `row`.
#[cube]
fn unit_grad_sums(
    x: &[f32],
    dy: &[f32],
    row: usize,
    start: usize,
    step: usize,
    n: usize,
    channels: usize,
    xs: &Strides,
    gs: &Strides,
    mean: f32,
    rstd: f32,
    slope: f32,
) -> (f32, f32) {
    let mut s1 = 0.0f32;
    let mut s2 = 0.0f32;
    let mut i = start;
    while i < n {
        let h = (x[at(row, i, channels, xs)] - mean) * rstd;
        let g = through_activation(dy[at(row, i, channels, gs)], h, slope);
        s1 += g;
        s2 += g * h;
        i += step;
    }
    (s1, s2)
}

/// y = LeakyReLU((x − μ) / σ), plus `skip` where `with_skip`, over this unit's values.
#[cube]
fn apply_norm(
    x: &[f32],
    skip: &[f32],
    y: &mut [f32],
    row: usize,
    start: usize,
    step: usize,
    n: usize,
    channels: usize,
    strides: &NormStrides,
    mean: f32,
    rstd: f32,
    slope: f32,
    #[comptime] with_skip: bool,
) {
    let mut i = start;
    while i < n {
        let h = (x[at(row, i, channels, &strides.x)] - mean) * rstd;
        let mut v = if h < 0.0f32 { h * slope } else { h };
        if with_skip {
            v += skip[at(row, i, channels, &strides.skip)];
        }
        y[at(row, i, channels, &strides.y)] = v;
        i += step;
    }
}

/// dx = (g − a − ĥ · b) / σ over this unit's values (a, b the row means of g and g · ĥ).
#[cube]
fn apply_grad(
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    row: usize,
    start: usize,
    step: usize,
    n: usize,
    channels: usize,
    strides: &NormStrides,
    mean: f32,
    rstd: f32,
    a: f32,
    b: f32,
    slope: f32,
) {
    let mut i = start;
    while i < n {
        let h = (x[at(row, i, channels, &strides.x)] - mean) * rstd;
        let g = through_activation(dy[at(row, i, channels, &strides.skip)], h, slope);
        dx[at(row, i, channels, &strides.y)] = rstd * (g - a - h * b);
        i += step;
    }
}

/// The strides of a norm's three tensors: its input, the other input (the residual forward, the
/// output gradient backward) and its output.
#[derive(CubeType, CubeLaunch, Clone, Copy)]
struct NormStrides {
    x: Strides,
    skip: Strides,
    y: Strides,
}

/// μ and 1/σ of row `row`, summed by this one workgroup (this unit from value `start` on, every
/// `units`-th).
#[cube]
fn stats_in_one(
    x: &[f32],
    row: usize,
    start: usize,
    n: usize,
    channels: usize,
    xs: &Strides,
    eps: f32,
    #[comptime] units: usize,
) -> (f32, f32) {
    let shift = x[at(row, 0, channels, xs)];
    let (s, s2) = unit_moments(x, row, start, units, n, channels, xs, shift);
    let (s, s2) = workgroup_sums(s, s2, units);
    stats_of(shift, s, s2, n, eps)
}

/// μ and 1/σ of row `row` from the partial sums [`row_moments`] wrote.
#[cube]
fn stats_from_partials(
    x: &[f32],
    partial: &[f32],
    row: usize,
    n: usize,
    channels: usize,
    xs: &Strides,
    eps: f32,
) -> (f32, f32) {
    let shift = x[at(row, 0, channels, xs)];
    let (s, s2) = partial_totals(partial, row, CUBE_COUNT_X as usize);
    stats_of(shift, s, s2, n, eps)
}

/// The first and step of this unit's values in a row shared by `CUBE_COUNT_X` workgroups.
#[cube]
fn unit_share(#[comptime] units: usize) -> (usize, usize) {
    let start = CUBE_POS_X as usize * units + UNIT_POS as usize;
    (start, CUBE_COUNT_X as usize * units)
}

/// Partial sums of `x − shift` and its square, a pair per workgroup (group `CUBE_POS_X` of row
/// `CUBE_POS_Y`).
#[cube(launch_unchecked)]
fn row_moments(
    x: &[f32],
    partial: &mut [f32],
    n: usize,
    channels: usize,
    xs: Strides,
    #[comptime] units: usize,
) {
    let row = CUBE_POS_Y as usize;
    let (start, step) = unit_share(units);
    let shift = x[at(row, 0, channels, &xs)];
    let (s, s2) = unit_moments(x, row, start, step, n, channels, &xs, shift);
    let (s, s2) = workgroup_sums(s, s2, units);
    if UNIT_POS == 0 {
        let slot = (row * CUBE_COUNT_X as usize + CUBE_POS_X as usize) * 2;
        partial[slot] = s;
        partial[slot + 1] = s2;
    }
}

/// The normalisation from the partial sums of [`row_moments`].
#[cube(launch_unchecked)]
fn norm_from_partials(
    x: &[f32],
    skip: &[f32],
    partial: &[f32],
    y: &mut [f32],
    n: usize,
    channels: usize,
    strides: NormStrides,
    eps: f32,
    slope: f32,
    #[comptime] units: usize,
    #[comptime] with_skip: bool,
) {
    let row = CUBE_POS_Y as usize;
    let (start, step) = unit_share(units);
    let (mean, rstd) = stats_from_partials(x, partial, row, n, channels, &strides.x, eps);
    apply_norm(
        x, skip, y, row, start, step, n, channels, &strides, mean, rstd, slope, with_skip,
    );
}

/// The whole normalisation of a row by one workgroup.
#[cube(launch_unchecked)]
fn norm_in_one(
    x: &[f32],
    skip: &[f32],
    y: &mut [f32],
    n: usize,
    channels: usize,
    strides: NormStrides,
    eps: f32,
    slope: f32,
    #[comptime] units: usize,
    #[comptime] with_skip: bool,
) {
    let row = CUBE_POS_Y as usize;
    let start = UNIT_POS as usize;
    let (mean, rstd) = stats_in_one(x, row, start, n, channels, &strides.x, eps, units);
    apply_norm(
        x, skip, y, row, start, units, n, channels, &strides, mean, rstd, slope, with_skip,
    );
}

/// Backward: partial sums of g and g · ĥ per workgroup, μ and σ from [`row_moments`]'s.
#[cube(launch_unchecked)]
fn grad_moments(
    x: &[f32],
    dy: &[f32],
    partial: &[f32],
    grad_partial: &mut [f32],
    n: usize,
    channels: usize,
    strides: NormStrides,
    eps: f32,
    slope: f32,
    #[comptime] units: usize,
) {
    let row = CUBE_POS_Y as usize;
    let (start, step) = unit_share(units);
    let (mean, rstd) = stats_from_partials(x, partial, row, n, channels, &strides.x, eps);
    let (xs, gs) = (&strides.x, &strides.skip);
    let (s1, s2) = unit_grad_sums(
        x, dy, row, start, step, n, channels, xs, gs, mean, rstd, slope,
    );
    let (s1, s2) = workgroup_sums(s1, s2, units);
    if UNIT_POS == 0 {
        let slot = (row * CUBE_COUNT_X as usize + CUBE_POS_X as usize) * 2;
        grad_partial[slot] = s1;
        grad_partial[slot + 1] = s2;
    }
}

/// Backward: dx from both sets of partial sums.
#[cube(launch_unchecked)]
fn grad_from_partials(
    x: &[f32],
    dy: &[f32],
    partial: &[f32],
    grad_partial: &[f32],
    dx: &mut [f32],
    n: usize,
    channels: usize,
    strides: NormStrides,
    eps: f32,
    slope: f32,
    #[comptime] units: usize,
) {
    let row = CUBE_POS_Y as usize;
    let (start, step) = unit_share(units);
    let groups = CUBE_COUNT_X as usize;
    let (mean, rstd) = stats_from_partials(x, partial, row, n, channels, &strides.x, eps);
    let (g1, g2) = partial_totals(grad_partial, row, groups);
    let nf = f32::cast_from(n);
    apply_grad(
        x,
        dy,
        dx,
        row,
        start,
        step,
        n,
        channels,
        &strides,
        mean,
        rstd,
        g1 / nf,
        g2 / nf,
        slope,
    );
}

/// Backward of a row by one workgroup: μ and σ, the sums of g and g · ĥ, then dx.
#[cube(launch_unchecked)]
fn grad_in_one(
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    n: usize,
    channels: usize,
    strides: NormStrides,
    eps: f32,
    slope: f32,
    #[comptime] units: usize,
) {
    let row = CUBE_POS_Y as usize;
    let start = UNIT_POS as usize;
    let (mean, rstd) = stats_in_one(x, row, start, n, channels, &strides.x, eps, units);
    let (xs, gs) = (&strides.x, &strides.skip);
    let (g1, g2) = unit_grad_sums(
        x, dy, row, start, units, n, channels, xs, gs, mean, rstd, slope,
    );
    let (g1, g2) = workgroup_sums(g1, g2, units);
    let nf = f32::cast_from(n);
    apply_grad(
        x,
        dy,
        dx,
        row,
        start,
        units,
        n,
        channels,
        &strides,
        mean,
        rstd,
        g1 / nf,
        g2 / nf,
        slope,
    );
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
