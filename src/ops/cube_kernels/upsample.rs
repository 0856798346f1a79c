//! Trilinear ×2 upsampling and its adjoint on the GPU, one dispatch each: a unit per output value
//! reading the 8 inputs around it, and a unit per input value gathering from the outputs it feeds.

use super::{Layout, Strides, new_dense, packed, per_value};
use burn::backend::wgpu::CubeTensor;
use burn::cubecl;
use burn::cubecl::prelude::*;
use burn::tensor::Shape;

/// The second source of output `o` along an axis of `n` inputs (the first is `o / 2`): the one
/// before for an even `o`, the one after for an odd one, the edge repeated.
#[cube]
fn neighbour(o: usize, n: usize) -> usize {
    let i = o / 2;
    let mut j = i;
    if o % 2 == 1 {
        if i + 1 < n {
            j = i + 1;
        }
    } else if i > 0 {
        j = i - 1;
    }
    j
}

/// The weight of output `o` on input `i` along an axis of `n` inputs: 0.75 from its first source,
/// 0.25 from its second (both, at an edge).
#[cube]
fn tap(o: usize, i: usize, n: usize) -> f32 {
    let mut w = 0.0f32;
    if o / 2 == i {
        w += 0.75f32;
    }
    if neighbour(o, n) == i {
        w += 0.25f32;
    }
    w
}

/// Splits the dense index `e` of a `[B, C, D, H, W]` tensor stored channels-last (NDHWC) or not
/// (NCDHW) into (b, c, z, y, x).
#[cube]
fn split5(
    e: usize,
    channels: usize,
    d: usize,
    h: usize,
    w: usize,
    #[comptime] channels_last: bool,
) -> (usize, usize, usize, usize, usize) {
    let mut t = e;
    let mut c = 0;
    if channels_last {
        c = t % channels;
        t /= channels;
    }
    let x = t % w;
    t /= w;
    let y = t % h;
    t /= h;
    let z = t % d;
    t /= d;
    if !channels_last {
        c = t % channels;
        t /= channels;
    }
    (t, c, z, y, x)
}

/// Trilinear ×2 upsampling, one unit per output value (written densely in the input's kind of
/// layout), reading the 8 inputs around it.
#[cube(launch_unchecked)]
fn upsample2x_kernel(
    x: &[f32],
    y: &mut [f32],
    total: usize,
    channels: usize,
    d: usize,
    h: usize,
    w: usize,
    xs: Strides,
    #[comptime] channels_last: bool,
) {
    let e = ABSOLUTE_POS;
    if e >= total {
        terminate!();
    }
    let (b, c, z, yy, xx) = split5(e, channels, 2 * d, 2 * h, 2 * w, channels_last);
    let base = b * xs.batch + c * xs.channel;
    let (z0, z1) = (z / 2, neighbour(z, d));
    let (y0, y1) = (yy / 2, neighbour(yy, h));
    let (x0, x1) = (xx / 2, neighbour(xx, w));
    let near = 0.75f32 * lerp_row(x, base, (z0 * h + y0) * w, x0, x1, xs.spatial)
        + 0.25f32 * lerp_row(x, base, (z0 * h + y1) * w, x0, x1, xs.spatial);
    let far = 0.75f32 * lerp_row(x, base, (z1 * h + y0) * w, x0, x1, xs.spatial)
        + 0.25f32 * lerp_row(x, base, (z1 * h + y1) * w, x0, x1, xs.spatial);
    let v = 0.75f32 * near + 0.25f32 * far;
    y[e] = v;
}

/// 0.75 · x[row + x0] + 0.25 · x[row + x1] (spatial indices; `step` the spatial stride).
#[cube]
fn lerp_row(x: &[f32], base: usize, row: usize, x0: usize, x1: usize, step: usize) -> f32 {
    0.75f32 * x[base + (row + x0) * step] + 0.25f32 * x[base + (row + x1) * step]
}

/// The adjoint of [`upsample2x_kernel`]: one unit per input value, gathering from the up to 4 × 4
/// × 4 outputs it contributes to.
#[cube(launch_unchecked)]
fn upsample2x_adjoint(
    dy: &[f32],
    dx: &mut [f32],
    total: usize,
    channels: usize,
    d: usize,
    h: usize,
    w: usize,
    gs: Strides,
    #[comptime] channels_last: bool,
) {
    let e = ABSOLUTE_POS;
    if e >= total {
        terminate!();
    }
    let (b, c, z, yy, xx) = split5(e, channels, d, h, w, channels_last);
    let base = b * gs.batch + c * gs.channel;
    let mut v = 0.0f32;
    // Outputs 2i − 1 … 2i + 2 along each axis (shifted by one to stay unsigned).
    for a in 0..4usize {
        let oz = 2 * z + a;
        if oz >= 1 && oz <= 2 * d {
            let wz = tap(oz - 1, z, d);
            for bb in 0..4usize {
                let oy = 2 * yy + bb;
                if oy >= 1 && oy <= 2 * h {
                    let wy = wz * tap(oy - 1, yy, h);
                    for cc in 0..4usize {
                        let ox = 2 * xx + cc;
                        if ox >= 1 && ox <= 2 * w {
                            let wt = wy * tap(ox - 1, xx, w);
                            let o = ((oz - 1) * 2 * h + (oy - 1)) * 2 * w + (ox - 1);
                            v += wt * dy[base + o * gs.spatial];
                        }
                    }
                }
            }
        }
    }
    dx[e] = v;
}

/// Trilinear ×2 upsampling of an f32 `[B, C, D, H, W]` tensor: one dispatch.
pub fn upsample2x(x: CubeTensor) -> CubeTensor {
    let (x, xl) = packed(x);
    let s = x.meta.shape().clone();
    let channels_last = xl == Layout::channels_last(&s);
    let out_shape = Shape::new([s[0], s[1], 2 * s[2], 2 * s[3], 2 * s[4]]);
    let (y, _) = new_dense(&x, out_shape, channels_last);
    let (count, dim, total) = per_value(&y);
    unsafe {
        upsample2x_kernel::launch_unchecked(
            &x.client,
            count,
            dim,
            x.clone().into_buffer_arg(),
            y.clone().into_buffer_arg(),
            total,
            s[1],
            s[2],
            s[3],
            s[4],
            xl.arg(),
            channels_last,
        );
    }
    y
}

/// The input gradient of [`upsample2x`] given the output gradient `dy`: one dispatch.
pub fn upsample2x_grad(dy: CubeTensor) -> CubeTensor {
    let (dy, gl) = packed(dy);
    let s = dy.meta.shape().clone();
    let channels_last = gl == Layout::channels_last(&s);
    let in_shape = Shape::new([s[0], s[1], s[2] / 2, s[3] / 2, s[4] / 2]);
    let (dx, _) = new_dense(&dy, in_shape.clone(), channels_last);
    let (count, dim, total) = per_value(&dx);
    unsafe {
        upsample2x_adjoint::launch_unchecked(
            &dy.client,
            count,
            dim,
            dy.clone().into_buffer_arg(),
            dx.clone().into_buffer_arg(),
            total,
            s[1],
            in_shape[2],
            in_shape[3],
            in_shape[4],
            gl.arg(),
            channels_last,
        );
    }
    dx
}
