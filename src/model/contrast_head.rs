//! The heads behind L_contrast (DC-Seg style, eq. 10): from a modality's deepest features, a content code
//! (a spatial map), a style code (a Gaussian latent: mean, log-variance, sample), and a small decoder that
//! reconstructs the modality at 1/8 resolution from the content modulated by the style.

use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

/// Codes of one modality.
#[derive(Debug, Clone)]
pub struct Codes {
    /// Content code `[B, Cc, d, h, w]` (anatomy: should agree across modalities).
    pub content: Tensor<5>,
    /// Style latent mean and log-variance `[B, S]`, and the sample used `[B, S]`.
    pub mu: Tensor<2>,
    pub logvar: Tensor<2>,
    pub style: Tensor<2>,
    /// The modality reconstructed at the resolution of the deepest level `[B, 1, d, h, w]`.
    pub reconstruction: Tensor<5>,
}

/// Content, style and reconstruction heads, shared by all modalities.
#[derive(Module, Debug)]
pub struct ContrastHead {
    content: Conv3d,
    style: Linear,
    film: Linear,
    recon: Conv3d,
    style_dim: usize,
}

impl ContrastHead {
    pub fn new(
        deep_channels: usize,
        content_channels: usize,
        style_dim: usize,
        device: &Device,
    ) -> Self {
        Self {
            content: Conv3dConfig::new([deep_channels, content_channels], [1, 1, 1]).init(device),
            style: LinearConfig::new(deep_channels, 2 * style_dim).init(device),
            film: LinearConfig::new(style_dim, content_channels).init(device),
            recon: Conv3dConfig::new([content_channels, 1], [1, 1, 1]).init(device),
            style_dim,
        }
    }

    /// Codes from the deepest features f4 `[B, C8, d, h, w]`. With `noise` (`[B, S]`, standard normal:
    /// training) the style latent is sampled as μ + noise·σ, otherwise it is the mean.
    pub fn forward(&self, f4: Tensor<5>, noise: Option<Tensor<2>>) -> Codes {
        let [b, c, _, _, _] = f4.dims();
        let content = crate::ops::conv3d_module(&self.content, f4.clone());
        let pooled: Tensor<2> = f4
            .reshape([b as i64, c as i64, -1])
            .mean_dim(2)
            .reshape([b, c]);
        let stats = self.style.forward(pooled);
        let mu = stats.clone().narrow(1, 0, self.style_dim);
        let logvar = stats
            .narrow(1, self.style_dim, self.style_dim)
            .clamp(-10.0, 10.0);
        let style = match noise {
            Some(noise) => mu.clone() + noise * logvar.clone().mul_scalar(0.5).exp(),
            None => mu.clone(),
        };
        let [_, cc, _, _, _] = content.dims();
        let scale: Tensor<5> = self.film.forward(style.clone()).reshape([b, cc, 1, 1, 1]);
        let reconstruction =
            crate::ops::conv3d_module(&self.recon, content.clone() * scale.add_scalar(1.0));
        Codes {
            content,
            mu,
            logvar,
            style,
            reconstruction,
        }
    }
}

/// Mean over non-overlapping `f`³ blocks of `[B, C, D, H, W]` (sides divisible by `f`).
pub fn block_mean(x: Tensor<5>, f: usize) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    let x: Tensor<5> = x.reshape([b * c, d / f, f, h, w]).mean_dim(2);
    let x: Tensor<5> = x.reshape([b * c, d / f, h / f, f, w]).mean_dim(3);
    let x: Tensor<5> = x.reshape([b * c, d / f, h / f, w / f, f]).mean_dim(4);
    x.reshape([b, c, d / f, h / f, w / f])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_mean_by_hand() {
        let x = Tensor::<5>::from_data(
            TensorData::new(
                (0..8).map(|i| i as f32).collect::<Vec<_>>(),
                [1, 1, 2, 2, 2],
            ),
            &Device::flex(),
        );
        assert_eq!(crate::model::to_vec(block_mean(x, 2)), vec![3.5]);
    }
}
