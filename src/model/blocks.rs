//! The network's building blocks: a conv block (3×3×3 conv, InstanceNorm without affine, LeakyReLU), the
//! RFNet-style modality encoder (four levels, residual pairs, stride-2 down), and the U-Net decoder used
//! both as the weight-shared expert decoder D_sep and as the fusion decoder D_fuse.

use crate::ops::upsample2x;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{InstanceNorm, InstanceNormConfig, PaddingConfig3d};
use burn::prelude::*;

/// conv (k³, stride s) → InstanceNorm (no affine) → LeakyReLU.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv3d,
    norm: InstanceNorm,
    slope: f64,
}

impl ConvBlock {
    /// A block from `c_in` to `c_out` channels with kernel `k` (odd; padded to keep the size) and `stride`.
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        slope: f64,
        device: &Device,
    ) -> Self {
        let p = k / 2;
        Self {
            conv: Conv3dConfig::new([c_in, c_out], [k; 3])
                .with_stride([stride; 3])
                .with_padding(PaddingConfig3d::Explicit(p, p, p))
                .init(device),
            norm: InstanceNormConfig::new(c_out)
                .with_affine(false)
                .init(device),
            slope,
        }
    }

    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        crate::ops::instance_norm_leaky_relu(
            crate::ops::conv3d_module(&self.conv, x),
            &self.norm,
            self.slope,
        )
    }

    /// `skip + self.forward(x)` (a residual connection), the sum in the norm's pass.
    pub fn forward_add(&self, x: Tensor<5>, skip: Tensor<5>) -> Tensor<5> {
        crate::ops::instance_norm_leaky_relu_add(
            crate::ops::conv3d_module(&self.conv, x),
            skip,
            &self.norm,
            self.slope,
        )
    }

    /// A 1×1×1 block (`k = 1`, stride 1) on `x` beside `y` upsampled twice and `z` four times, as if
    /// on their concatenation along channels: each part is convolved at its own resolution with its
    /// slice of the weights and the results are upsampled and summed. That is the same (a 1×1×1
    /// convolution and trilinear upsampling are both linear, one across channels and one across
    /// voxels, so they commute) at an eighth and a sixty-fourth of the coarse parts' cost, without
    /// the upsampled channels at full resolution (and `up2(a) + up4(b)` is `up2(a + up2(b))`).
    pub fn forward_pyramid(&self, x: Tensor<5>, y: Tensor<5>, z: Tensor<5>) -> Tensor<5> {
        let weight = self.conv.weight.val();
        assert_eq!(weight.dims()[2..], [1, 1, 1], "a 1×1×1 block");
        let bias = (self.conv.bias.as_ref())
            .map(|b| b.val())
            .expect("blocks are made with a bias");
        let zero = bias.zeros_like();
        let (cx, cy, cz) = (x.dims()[1], y.dims()[1], z.dims()[1]);
        let part = |t: Tensor<5>, from: usize, n: usize, bias: Tensor<1>| {
            crate::ops::conv3d(t, weight.clone().narrow(1, from, n), bias, [1; 3], [0; 3])
        };
        let half = part(y, cx, cy, zero.clone()) + upsample2x(part(z, cx + cy, cz, zero));
        let out = part(x, 0, cx, bias) + upsample2x(half);
        crate::ops::instance_norm_leaky_relu(out, &self.norm, self.slope)
    }
}

/// One encoder level: an entry block (1→C at level 1, stride-2 down elsewhere) and a residual pair.
#[derive(Module, Debug)]
pub struct EncoderLevel {
    entry: ConvBlock,
    res_a: ConvBlock,
    res_b: ConvBlock,
}

impl EncoderLevel {
    fn new(c_in: usize, c_out: usize, stride: usize, slope: f64, device: &Device) -> Self {
        Self {
            entry: ConvBlock::new(c_in, c_out, 3, stride, slope, device),
            res_a: ConvBlock::new(c_out, c_out, 3, 1, slope, device),
            res_b: ConvBlock::new(c_out, c_out, 3, 1, slope, device),
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let x = self.entry.forward(x);
        self.res_b.forward_add(self.res_a.forward(x.clone()), x)
    }
}

/// Multi-scale features f1..f4 of one modality (full, 1/2, 1/4, 1/8 resolution).
pub type Features = [Tensor<5>; 4];

/// The encoder Φm of one modality: four levels with C·(1, 2, 4, 8) channels.
#[derive(Module, Debug)]
pub struct Encoder {
    levels: Vec<EncoderLevel>,
}

impl Encoder {
    pub fn new(channels: usize, slope: f64, device: &Device) -> Self {
        let levels = (0..4)
            .map(|l| {
                let c_in = if l == 0 { 1 } else { channels << (l - 1) };
                EncoderLevel::new(
                    c_in,
                    channels << l,
                    if l == 0 { 1 } else { 2 },
                    slope,
                    device,
                )
            })
            .collect();
        Self { levels }
    }

    /// Features of `x` (`[B, 1, D, H, W]`, sides divisible by 8).
    pub fn forward(&self, x: Tensor<5>) -> Features {
        let f1 = self.levels[0].forward(x);
        let f2 = self.levels[1].forward(f1.clone());
        let f3 = self.levels[2].forward(f2.clone());
        let f4 = self.levels[3].forward(f3.clone());
        [f1, f2, f3, f4]
    }
}

/// One decoder level: upsample, a block halving the channels, concatenation with the skip, two blocks.
#[derive(Module, Debug)]
struct DecoderLevel {
    reduce: ConvBlock,
    merge: ConvBlock,
    out: ConvBlock,
}

/// A U-Net decoder from f4 with the skips f3..f1, ending in a 1×1×1 head to K class logits.
#[derive(Module, Debug)]
pub struct Decoder {
    levels: Vec<DecoderLevel>,
    head: Conv3d,
}

impl Decoder {
    pub fn new(channels: usize, classes: usize, slope: f64, device: &Device) -> Self {
        // Level l (3, 2, 1 from the bottom) goes from C·2^l to C·2^(l-1) channels.
        let levels = (1..4)
            .rev()
            .map(|l| {
                let (hi, lo) = (channels << l, channels << (l - 1));
                DecoderLevel {
                    reduce: ConvBlock::new(hi, lo, 3, 1, slope, device),
                    merge: ConvBlock::new(2 * lo, lo, 3, 1, slope, device),
                    out: ConvBlock::new(lo, lo, 1, 1, slope, device),
                }
            })
            .collect();
        Self {
            levels,
            head: Conv3dConfig::new([channels, classes], [1, 1, 1]).init(device),
        }
    }

    /// Class logits `[B, K, D, H, W]` from the four feature levels.
    pub fn forward(&self, f: &Features) -> Tensor<5> {
        self.forward_levels(f).0
    }

    /// Class logits and the features of the two coarser decoder levels (4C channels at 1/4 resolution,
    /// 2C at 1/2), which deep supervision reads.
    pub fn forward_levels(&self, f: &Features) -> (Tensor<5>, Vec<Tensor<5>>) {
        let mut x = f[3].clone();
        let mut coarse = Vec::with_capacity(2);
        for (i, (level, skip)) in self.levels.iter().zip([&f[2], &f[1], &f[0]]).enumerate() {
            let up = level.reduce.forward(upsample2x(x));
            x = level
                .out
                .forward(level.merge.forward(Tensor::cat(vec![up, skip.clone()], 1)));
            if i < 2 {
                coarse.push(x.clone());
            }
        }
        (crate::ops::conv3d_module(&self.head, x), coarse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::to_vec;

    /// A deterministic tensor with varied values (no random generator needed).
    fn ramp(shape: [usize; 5], phase: f32, device: &Device) -> Tensor<5> {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| (i as f32 * 0.731 + phase).sin()).collect();
        Tensor::from_data(TensorData::new(data, shape), device)
    }

    /// The pyramid block and the block on the upsampled concatenation, on `device`: outputs, and the
    /// gradients of the weights and of `z` under autodiff.
    fn both_ways(device: &Device) -> [Vec<f32>; 2] {
        let block = ConvBlock::new(7 * 2, 2, 1, 1, 0.2, device);
        let x = ramp([1, 2, 8, 8, 4], 0.1, device);
        let y = ramp([1, 4, 4, 4, 2], 0.7, device);
        let mut z = ramp([1, 8, 2, 2, 1], 1.3, device);
        if device.is_autodiff() {
            z = z.require_grad();
        }
        let up4 = upsample2x(upsample2x(z.clone()));
        let input = Tensor::cat(vec![x.clone(), upsample2x(y.clone()), up4], 1);
        let way = |out: Tensor<5>| {
            let mut all = to_vec(out.clone());
            if device.is_autodiff() {
                // A loss that weighs every output differently, so each gradient entry is checked.
                let weights = ramp(out.dims(), 2.1, device);
                let grads = (out * weights).sum().backward();
                all.extend(to_vec(block.conv.weight.grad(&grads).unwrap()));
                all.extend(to_vec(z.grad(&grads).unwrap()));
            }
            all
        };
        [
            way(block.forward(input)),
            way(block.forward_pyramid(x, y, z.clone())),
        ]
    }

    #[test]
    fn a_pyramid_block_equals_the_block_on_the_upsampled_concatenation() {
        for device in [Device::flex(), Device::flex().autodiff()] {
            let [want, got] = both_ways(&device);
            assert_eq!(got.len(), want.len());
            let worst = (got.iter().zip(&want))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "largest difference {worst}");
            assert!(want.iter().any(|&v| v.abs() > 0.5), "a non-trivial output");
        }
    }
}
