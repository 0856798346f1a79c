//! A self-check of a device's gradients before any training runs on it. Burn's wgpu backend on
//! lavapipe (software Vulkan) computes wrong 3-D convolution weight gradients once a stride-1
//! convolution has 32³ or more output voxels (36 % off at 32³, 92 % at 64³; inputs' gradients and
//! forward passes are right). The check computes that weight gradient on the device and by direct
//! summation on the host, and refuses the device when they disagree.

use crate::model::to_vec;
use burn::module::Param;
use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3dConfig;
use burn::prelude::*;

/// Side of the checked volume: the smallest size at which the lavapipe error shows.
const SIDE: usize = 32;
const C_OUT: usize = 4;
/// Largest accepted error relative to the largest gradient value.
const TOLERANCE: f64 = 1e-3;

/// The outcome of [`check_conv_weight_gradient`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientCheck {
    /// Largest |device − reference| over the largest |reference|.
    pub relative_error: f64,
}

impl GradientCheck {
    /// True when the device's gradient can be trusted for training.
    pub fn passed(&self) -> bool {
        self.relative_error <= TOLERANCE
    }
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            ((i.wrapping_mul(2654435761).wrapping_add(seed * 97)) % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// The weight gradient of a 3×3×3 conv (1 → 4 channels, 32³, zero padding 1) of L = Σ conv(x)·probe,
/// computed on `device` and by direct summation, compared.
pub fn check_conv_weight_gradient(device: &Device) -> GradientCheck {
    let n = SIDE * SIDE * SIDE;
    let (x, probe, w) = (values(n, 1), values(C_OUT * n, 2), values(C_OUT * 27, 3));
    let ad = device.clone().autodiff();
    let mut conv = Conv3dConfig::new([1, C_OUT], [3, 3, 3])
        .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
        .with_bias(false)
        .init(&ad);
    conv.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(w, [C_OUT, 1, 3, 3, 3]),
        &ad,
    ));
    let xt = Tensor::<5>::from_data(TensorData::new(x.clone(), [1, 1, SIDE, SIDE, SIDE]), &ad);
    let pt = Tensor::<5>::from_data(
        TensorData::new(probe.clone(), [1, C_OUT, SIDE, SIDE, SIDE]),
        &ad,
    );
    let grads = (conv.forward(xt) * pt).sum().backward();
    let got = to_vec(conv.weight.grad(&grads).expect("weight gradient"));

    // dL/dW[o, kd, kh, kw] = Σ_p probe[o, p] · x[p + k − 1] (zero outside).
    let at = |z: isize, y: isize, xx: isize| -> f64 {
        let s = SIDE as isize;
        if z < 0 || y < 0 || xx < 0 || z >= s || y >= s || xx >= s {
            0.0
        } else {
            x[((z * s + y) * s + xx) as usize] as f64
        }
    };
    let mut reference = vec![0.0f64; C_OUT * 27];
    for o in 0..C_OUT {
        for k in 0..27 {
            let (kd, kh, kw) = (
                (k / 9) as isize - 1,
                (k / 3 % 3) as isize - 1,
                (k % 3) as isize - 1,
            );
            let mut acc = 0.0;
            for z in 0..SIDE as isize {
                for y in 0..SIDE as isize {
                    for xx in 0..SIDE as isize {
                        let p = probe
                            [o * n + ((z as usize * SIDE + y as usize) * SIDE + xx as usize)]
                            as f64;
                        acc += p * at(z + kd, y + kh, xx + kw);
                    }
                }
            }
            reference[o * 27 + k] = acc;
        }
    }
    let scale = reference
        .iter()
        .map(|v| v.abs())
        .fold(0.0, f64::max)
        .max(1e-12);
    let worst = reference
        .iter()
        .zip(&got)
        .map(|(r, g)| (r - *g as f64).abs())
        .fold(0.0, f64::max);
    GradientCheck {
        relative_error: worst / scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_passes_the_gradient_check() {
        let c = check_conv_weight_gradient(&Device::flex());
        assert!(c.passed(), "{c:?}");
    }
}
