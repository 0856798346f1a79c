//! The GPU side of InstanceNorm + LeakyReLU (see the parent module): the row sums shared by the
//! forward and the gradient (a unit's share, a workgroup's tree in shared memory, the partial sums of
//! several workgroups) and the six kernels the host launches.

// Kernels take their tensors, sizes and strides one by one.
#![allow(clippy::too_many_arguments)]

use super::super::{Strides, at};
use burn::cubecl;
use burn::cubecl::prelude::*;

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
pub(super) struct NormStrides {
    pub(super) x: Strides,
    pub(super) skip: Strides,
    pub(super) y: Strides,
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
pub(super) fn row_moments(
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
pub(super) fn norm_from_partials(
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
pub(super) fn norm_in_one(
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
pub(super) fn grad_moments(
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
pub(super) fn grad_from_partials(
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
pub(super) fn grad_in_one(
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
