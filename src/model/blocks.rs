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
        x.clone() + self.res_b.forward(self.res_a.forward(x))
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
