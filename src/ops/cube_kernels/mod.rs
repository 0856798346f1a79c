//! The network's own GPU kernels, written in CubeCL (compiled to WGSL on wgpu, to CUDA or HIP
//! elsewhere): InstanceNorm + LeakyReLU forward and backward, and trilinear ×2 upsampling with its
//! adjoint. Burn runs each of these as a chain of reductions, copies and element-wise kernels (a conv
//! block's norm and activation: a copy to make the convolution's channels-last output contiguous,
//! two reductions, two element-wise passes; an upsampling's backward: 22 dispatches); here a norm is
//! one dispatch each way, or two forward and three backward for rows of over 4,096 values
//! (`norm`), an upsampling one each way (`upsample`).
//!
//! Every kernel reads and writes through strides, so the channels-last tensors Burn's convolutions
//! give are read in place and the outputs keep their layout (the next convolution then needs no copy).

use burn::backend::wgpu::CubeTensor;
use burn::cubecl;
use burn::cubecl::prelude::*;
use burn::cubecl::zspace::metadata::Metadata;
use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;

mod norm;
mod upsample;

pub use norm::{norm_leaky_relu, norm_leaky_relu_grad};
pub use upsample::{upsample2x, upsample2x_grad};

/// Units (threads) of every workgroup here; a power of two for the tree reductions.
const UNITS: usize = 256;

/// Where a `[B, C, D, H, W]` tensor's values are: batch and channel strides, and the stride of
/// the flattened spatial index (the three spatial axes packed, as in NCDHW and in NDHWC).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Layout {
    batch: usize,
    channel: usize,
    spatial: usize,
}

impl Layout {
    /// The layout of `t`, if its spatial axes are packed.
    fn of(t: &CubeTensor) -> Option<Self> {
        let s = t.meta.strides();
        let d = t.meta.shape();
        let packed = s[4] > 0 && s[3] == d[4] * s[4] && s[2] == d[3] * s[3];
        packed.then_some(Self {
            batch: s[0],
            channel: s[1],
            spatial: s[4],
        })
    }

    /// Dense channels-last (NDHWC) for `shape`.
    fn channels_last(shape: &Shape) -> Self {
        let (c, n) = (shape[1], shape[2] * shape[3] * shape[4]);
        Self {
            batch: n * c,
            channel: 1,
            spatial: c,
        }
    }

    /// Dense NCDHW for `shape`.
    fn contiguous(shape: &Shape) -> Self {
        let n = shape[2] * shape[3] * shape[4];
        Self {
            batch: shape[1] * n,
            channel: n,
            spatial: 1,
        }
    }

    /// The (batch, channel, spatial) strides as a kernel argument.
    fn arg(self) -> StridesLaunch {
        StridesLaunch {
            batch: self.batch,
            channel: self.channel,
            spatial: self.spatial,
        }
    }

    fn strides(self, shape: &Shape) -> Vec<usize> {
        let (h, w) = (shape[3], shape[4]);
        vec![
            self.batch,
            self.channel,
            h * w * self.spatial,
            w * self.spatial,
            self.spatial,
        ]
    }
}

/// `t` with packed spatial axes (a copy only if they are not), and its layout.
fn packed(t: CubeTensor) -> (CubeTensor, Layout) {
    match Layout::of(&t) {
        Some(layout) => (t, layout),
        None => {
            let t = into_contiguous(t);
            let layout = Layout::contiguous(t.meta.shape());
            (t, layout)
        }
    }
}

/// A new tensor of `like`'s shape, dense channels-last if `like` is (`layout`), else NCDHW; and its
/// layout.
fn output_like(like: &CubeTensor, layout: Layout) -> (CubeTensor, Layout) {
    let shape = like.meta.shape().clone();
    new_dense(
        like,
        shape,
        layout == Layout::channels_last(like.meta.shape()),
    )
}

/// A kernel's view of a [`Layout`].
#[derive(CubeType, CubeLaunch, Clone, Copy)]
struct Strides {
    batch: usize,
    channel: usize,
    spatial: usize,
}

/// Offset of element `i` of row `row` (= batch · channels + channel) in a tensor whose batch,
/// channel and spatial strides are `strides`.
#[cube]
fn at(row: usize, i: usize, channels: usize, strides: &Strides) -> usize {
    (row / channels) * strides.batch + (row % channels) * strides.channel + i * strides.spatial
}

/// A new tensor of `shape` on `like`'s device, dense channels-last if `channels_last`, else NCDHW;
/// and its layout.
fn new_dense(like: &CubeTensor, shape: Shape, channels_last: bool) -> (CubeTensor, Layout) {
    let layout = if channels_last {
        Layout::channels_last(&shape)
    } else {
        Layout::contiguous(&shape)
    };
    let handle = like.client.empty(shape.num_elements() * like.dtype.size());
    let strides = layout.strides(&shape);
    let meta = Metadata::new(shape, strides);
    let out = CubeTensor::new(
        like.client.clone(),
        handle,
        meta,
        like.device.clone(),
        like.dtype,
    );
    (out, layout)
}

/// Launches one unit per value of `out` (1-D workgroups of [`UNITS`]).
fn per_value(out: &CubeTensor) -> (CubeCount, CubeDim, usize) {
    let total = out.meta.shape().num_elements();
    let cubes = total.div_ceil(UNITS);
    // Workgroup counts are capped at 65,535 per axis: spread them over two.
    let (x, y) = (cubes.min(65_535), cubes.div_ceil(65_535));
    (
        CubeCount::Static(x as u32, y as u32, 1),
        CubeDim::new_1d(UNITS as u32),
        total,
    )
}
