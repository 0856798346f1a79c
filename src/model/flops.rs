//! Counted floating-point work of the network: 2 · multiply-adds of every convolution and linear layer
//! (normalisation, activations, upsampling and softmax are left out: they are a few per voxel against
//! hundreds for the convolutions). Used to turn benchmark times into GFLOP/s.

use super::config::CloeConfig;

/// FLOPs of one k³ convolution from `c_in` to `c_out` channels over `voxels` output voxels.
pub fn conv_flops(k: usize, c_in: usize, c_out: usize, voxels: usize) -> f64 {
    2.0 * (k * k * k * c_in * c_out) as f64 * voxels as f64
}

impl CloeConfig {
    /// FLOPs of one encoder on an input of `voxels` voxels.
    pub fn encoder_flops(&self, voxels: usize) -> f64 {
        (0..4)
            .map(|l| {
                let v = voxels >> (3 * l);
                let c = self.level_channels(l);
                let c_in = if l == 0 {
                    1
                } else {
                    self.level_channels(l - 1)
                };
                conv_flops(3, c_in, c, v) + 2.0 * conv_flops(3, c, c, v)
            })
            .sum()
    }

    /// FLOPs of one decoder (D_sep or D_fuse) producing `voxels` voxels.
    pub fn decoder_flops(&self, voxels: usize) -> f64 {
        let levels: f64 = (1..4)
            .map(|l| {
                let v = voxels >> (3 * (l - 1));
                let (hi, lo) = (self.level_channels(l), self.level_channels(l - 1));
                conv_flops(3, hi, lo, v) + conv_flops(3, 2 * lo, lo, v) + conv_flops(1, lo, lo, v)
            })
            .sum();
        levels + conv_flops(1, self.channels, self.classes, voxels)
    }

    /// FLOPs of a full forward with `available` modalities on inputs of `voxels` voxels: the experts
    /// (encoder + D_sep each), the region head, the fusion and D_fuse.
    pub fn forward_flops(&self, voxels: usize, available: usize) -> f64 {
        let experts = available as f64 * (self.encoder_flops(voxels) + self.decoder_flops(voxels));
        experts + self.fusion_flops(voxels, available)
    }

    /// FLOPs of the fusion path alone (what a modality toggle re-runs).
    pub fn fusion_flops(&self, voxels: usize, available: usize) -> f64 {
        let region = conv_flops(1, self.channels, 1, voxels);
        let fused: f64 = (0..4)
            .map(|l| 2.0 * (available * self.level_channels(l) * (voxels >> (3 * l))) as f64)
            .sum();
        region + fused + self.decoder_flops(voxels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Profile;

    #[test]
    fn counts_by_hand() {
        // A 3×3×3 conv 16→16 at 128³: 2 · 27 · 256 · 2 097 152 = 28.99 GFLOP.
        assert_eq!(conv_flops(3, 16, 16, 128 * 128 * 128), 28_991_029_248.0);
        let c = CloeConfig {
            channels: 1,
            ..CloeConfig::for_profile(Profile::Brats)
        };
        // Level 1 of an encoder with C = 1 on 8 voxels: three 27-MAC convs per voxel (1→1): 2·27·3·8.
        // Level 2 (1 voxel, 1→2 then 2→2 twice): 2·27·(2 + 4 + 4); levels 3–4 have 0 voxels.
        assert_eq!(
            c.encoder_flops(8),
            2.0 * 27.0 * 3.0 * 8.0 + 2.0 * 27.0 * 10.0
        );
    }
}
