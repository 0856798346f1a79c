//! Convolution weights stored channels-last on a GPU. Burn's GPU convolution runs on channels-last
//! (NDHWC) tensors and copies any weight whose input channels are not innermost before every call:
//! one copy kernel per k > 1 convolution per forward, more in a training step. A weight stored
//! channels-last (the same logical `[C_out, C_in, k, k, k]` tensor, its values in
//! `[C_out, k, k, k, C_in]` order) goes in as it is. Values, gradients and saved files are unchanged.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;

/// Re-stores every 5-D parameter with a kernel larger than 1×1×1 channels-last.
struct ChannelsLast;

impl ModuleMapper for ChannelsLast {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D != 5 {
            return param;
        }
        param.map(|t| {
            if t.dims()[2..].iter().all(|&k| k == 1) {
                return t;
            }
            let device = t.device();
            let trained = t.is_require_grad();
            let to_last: [usize; D] = std::array::from_fn(|i| [0, 2, 3, 4, 1][i]);
            let back: [usize; D] = std::array::from_fn(|i| [0, 4, 1, 2, 3][i]);
            let values = t.permute(to_last).into_data();
            let t = Tensor::<D>::from_data(values, &device).permute(back);
            if trained { t.require_grad() } else { t }
        })
    }
}

/// `module` with its convolution weights stored for `device`: channels-last on a GPU, unchanged on
/// the CPU (whose kernels read NCDHW).
pub fn weights_for_device<M: Module>(module: M, device: &Device) -> M {
    if crate::device::is_cpu(device) {
        return module;
    }
    module.map(&mut ChannelsLast)
}
