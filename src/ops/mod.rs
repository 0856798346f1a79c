//! The network's heavy operations with kernels of the project's own where Burn's CPU backend is slow:
//! 3-D convolution (forward, weight and input gradients) on the CPU. Every function here gives the same
//! result as Burn's operation (tests) and runs Burn's operation on devices the kernels do not cover.

mod conv;
pub mod conv_cpu;
pub mod profile;

pub use conv::{ConvOps, conv3d, is_cpu};

use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3d;
use burn::prelude::*;

/// `conv.forward(x)` through [`conv3d`] (CPU kernels on the CPU); Burn's module forward for the cases
/// the kernels leave out (dilation, groups, no bias).
pub fn conv3d_module(conv: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    let Some(bias) = conv.bias.as_ref() else {
        return conv.forward(x);
    };
    if conv.dilation != [1; 3] || conv.groups != 1 {
        return conv.forward(x);
    }
    let padding = match conv.padding {
        PaddingConfig3d::Valid => [0; 3],
        PaddingConfig3d::Explicit(d, h, w) => [d, h, w],
        PaddingConfig3d::Same => return conv.forward(x),
    };
    conv3d(x, conv.weight.val(), bias.val(), conv.stride, padding)
}
