//! L_contrast (eq. 10, after DC-Seg): content codes of the same patient pulled together through SSIM,
//! style codes of different modalities pushed apart through cosine similarity, both as log(1 + e^(−δτs));
//! plus γ·(L1 reconstruction of each modality + a KL term on its style latent). Terms are averaged over
//! the available pairs and modalities so their size does not depend on how many modalities are present.

use crate::model::{Codes, block_mean, cosine};
use burn::prelude::*;

/// SSIM stabilisers for unit-scale data (0.01², 0.03²).
const C1: f64 = 1e-4;
const C2: f64 = 9e-4;

/// Global SSIM of `a` and `b` per batch element (one window over the whole map): `[B]`.
pub fn ssim(a: Tensor<5>, b: Tensor<5>) -> Tensor<1> {
    let batch = a.dims()[0];
    let a: Tensor<2> = a.reshape([batch as i64, -1]);
    let b: Tensor<2> = b.reshape([batch as i64, -1]);
    let (ma, mb) = (a.clone().mean_dim(1), b.clone().mean_dim(1));
    let (da, db) = (a - ma.clone(), b - mb.clone());
    let va = da.clone().powi_scalar(2).mean_dim(1);
    let vb = db.clone().powi_scalar(2).mean_dim(1);
    let cov = (da * db).mean_dim(1);
    let num = (ma.clone() * mb.clone()).mul_scalar(2.0).add_scalar(C1)
        * cov.mul_scalar(2.0).add_scalar(C2);
    let den = (ma.powi_scalar(2) + mb.powi_scalar(2)).add_scalar(C1) * (va + vb).add_scalar(C2);
    (num / den).reshape([batch])
}

/// log(1 + eˣ), the soft penalty of eq. 10.
fn softplus(x: Tensor<1>) -> Tensor<1> {
    x.exp().add_scalar(1.0).log()
}

/// The parts of L_contrast, each `[1]`.
#[derive(Debug, Clone)]
pub struct ContrastTerms {
    pub content: Tensor<1>,
    pub style: Tensor<1>,
    pub reconstruction: Tensor<1>,
    pub kl: Tensor<1>,
}

/// L_contrast's parts for the available modalities' `codes` and their `inputs` `[B, 1, D, H, W]`.
pub fn contrast_terms(codes: &[Codes], inputs: &[Tensor<5>], tau: f64) -> ContrastTerms {
    let device = inputs[0].device();
    let zero = || Tensor::<1>::zeros([1], &device);
    let a = codes.len();
    let (mut content, mut style, mut pairs) = (zero(), zero(), 0usize);
    for i in 0..a {
        for j in i + 1..a {
            // Same patient: δ = +1 for content; different modalities: δ = −1 for style.
            content = content
                + softplus(
                    ssim(codes[i].content.clone(), codes[j].content.clone()).mul_scalar(-tau),
                )
                .mean();
            style = style
                + softplus(
                    cosine(codes[i].style.clone(), codes[j].style.clone(), 1e-8).mul_scalar(tau),
                )
                .mean();
            pairs += 1;
        }
    }
    if pairs > 0 {
        content = content.div_scalar(pairs as f64);
        style = style.div_scalar(pairs as f64);
    }
    let (mut reconstruction, mut kl) = (zero(), zero());
    for (c, x) in codes.iter().zip(inputs) {
        let factor = x.dims()[2] / c.reconstruction.dims()[2];
        let target = block_mean(x.clone(), factor).detach();
        reconstruction = reconstruction + (c.reconstruction.clone() - target).abs().mean();
        let kl_i = (c.logvar.clone().add_scalar(1.0)
            - c.mu.clone().powi_scalar(2)
            - c.logvar.clone().exp())
        .mean()
        .mul_scalar(-0.5);
        kl = kl + kl_i;
    }
    ContrastTerms {
        content,
        style,
        reconstruction: reconstruction.div_scalar(a as f64),
        kl: kl.div_scalar(a as f64),
    }
}
