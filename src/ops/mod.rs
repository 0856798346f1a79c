//! The network's heavy operations with kernels of the project's own: on the CPU, where Burn's backend
//! is slow, 3-D convolution (forward, weight and input gradients), InstanceNorm + LeakyReLU and
//! trilinear ×2 upsampling; on a GPU, where Burn launches many small kernels, the norm and the
//! upsampling as CubeCL kernels (`cube_kernels`) and the convolution weights stored as Burn's GPU
//! convolution reads them (`weight_layout`). Every function here gives the same result as Burn's
//! operation (tests) and runs Burn's operation where its kernels are switched off.

mod conv;
pub mod conv_cpu;
pub mod counters;
mod cube_kernels;
mod norm_act;
mod upsample;
mod weight_layout;

pub use conv::{ConvOps, conv3d};
pub use norm_act::{NormActOps, instance_norm_leaky_relu, instance_norm_leaky_relu_add};
pub use upsample::{UpsampleOps, upsample2x};
pub use weight_layout::weights_for_device;

use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3d;
use burn::prelude::*;
use std::cell::Cell;
use std::sync::OnceLock;

/// A tensor's values as `Vec<f32>` (any float dtype is converted).
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    counters::count_readback();
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("a float tensor reads back as f32")
}

thread_local! {
    static CPU_KERNELS_OFF: Cell<bool> = const { Cell::new(false) };
    static GPU_KERNELS_OFF: Cell<bool> = const { Cell::new(false) };
}

/// Whether environment variable `name` says `off`, read once per name.
fn env_off(name: &'static str, cell: &'static OnceLock<bool>) -> bool {
    *cell.get_or_init(|| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case("off")))
}

/// Switches the CPU kernels on or off for operations called from this thread (off: Burn's own
/// operations). They are on unless `CLOE_CPU_KERNELS=off`; benchmarks and tests switch them off to
/// compare against Burn.
pub fn set_cpu_kernels(on: bool) {
    CPU_KERNELS_OFF.with(|c| c.set(!on));
}

/// True when the kernels of this module run on `device`: Burn's `flex` CPU backend (with or without
/// autodiff), kernels switched on.
pub fn use_cpu_kernels(device: &Device) -> bool {
    static ENV_OFF: OnceLock<bool> = OnceLock::new();
    !env_off("CLOE_CPU_KERNELS", &ENV_OFF)
        && !CPU_KERNELS_OFF.with(Cell::get)
        && crate::device::is_cpu(device)
}

/// Switches the GPU kernels ([`cube_kernels`]) on or off for operations called from this thread
/// (off: Burn's own operations). They are on unless `CLOE_GPU_KERNELS=off`; the parity tests switch
/// them off to compare against Burn.
pub fn set_gpu_kernels(on: bool) {
    GPU_KERNELS_OFF.with(|c| c.set(!on));
}

/// True when this module's own kernels run on `device`: the CPU kernels on the CPU, the CubeCL
/// kernels on a GPU, each unless switched off. (Only the convolution has no GPU kernel of its own.)
pub fn use_own_kernels(device: &Device) -> bool {
    static ENV_OFF: OnceLock<bool> = OnceLock::new();
    if crate::device::is_cpu(device) {
        return use_cpu_kernels(device);
    }
    !env_off("CLOE_GPU_KERNELS", &ENV_OFF) && !GPU_KERNELS_OFF.with(Cell::get)
}

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
