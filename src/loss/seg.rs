//! Segmentation losses on probabilities (eq. 8–9, as RFNet): weighted cross-entropy with class weight
//! 1 − class share in the patch (probabilities clamped to [0.005, 1]), and soft Dice over all classes.

use burn::prelude::*;

/// Smoothing of the soft Dice ratio (keeps a class absent from both sides at Dice 1).
const DICE_EPS: f64 = 1e-5;

/// One-hot targets `[B, K, D, H, W]` from training classes stored x fastest per sample (as `Sample`
/// holds them), so `spatial` = the tensor's `[D, H, W]` = the grid's `[nz, ny, nx]`.
pub fn one_hot(
    classes: &[u8],
    batch: usize,
    spatial: [usize; 3],
    k: usize,
    device: &Device,
) -> Tensor<5> {
    let n: usize = spatial.iter().product();
    assert_eq!(classes.len(), batch * n, "one class per voxel");
    let mut data = vec![0.0f32; batch * k * n];
    for b in 0..batch {
        for (i, &c) in classes[b * n..(b + 1) * n].iter().enumerate() {
            data[(b * k + (c as usize).min(k - 1)) * n + i] = 1.0;
        }
    }
    Tensor::from_data(
        TensorData::new(data, [batch, k, spatial[0], spatial[1], spatial[2]]),
        device,
    )
}

/// Per sample and class sums over the spatial dimensions: `[B, K]`.
fn spatial_sum(x: Tensor<5>) -> Tensor<2> {
    let [b, k, _, _, _] = x.dims();
    x.reshape([b as i64, k as i64, -1])
        .sum_dim(2)
        .reshape([b, k])
}

/// Weighted cross-entropy, class weight 1 − (share of the class in the target), averaged over voxels.
pub fn weighted_ce(probs: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
    let [b, k, d, h, w] = target.dims();
    let n = (d * h * w) as f64;
    let weight: Tensor<5> = spatial_sum(target.clone())
        .div_scalar(n)
        .neg()
        .add_scalar(1.0)
        .reshape([b, k, 1, 1, 1]);
    let ce = (target * probs.clamp(0.005, 1.0).log() * weight.detach())
        .sum_dim(1)
        .neg();
    ce.mean()
}

/// Soft Dice loss: 1 − mean over classes and batch of (2·Σ p·y + ε) / (Σ p + Σ y + ε).
pub fn soft_dice(probs: Tensor<5>, target: Tensor<5>) -> Tensor<1> {
    let inter = spatial_sum(probs.clone() * target.clone());
    let denom = spatial_sum(probs) + spatial_sum(target);
    let dice = inter.mul_scalar(2.0).add_scalar(DICE_EPS) / denom.add_scalar(DICE_EPS);
    dice.mean().neg().add_scalar(1.0)
}

/// The class probabilities and one-hot target `[B, K, D, H, W]` summed over each region's classes:
/// `[B, R, D, H, W]` (for BraTS WT = NCR + ED + ET, TC = NCR + ET, ET).
fn region_sums(x: Tensor<5>, regions: &[&[u8]]) -> Tensor<5> {
    let parts = regions
        .iter()
        .map(|classes| {
            classes
                .iter()
                .map(|&c| x.clone().narrow(1, c as usize, 1))
                .reduce(|a, b| a + b)
                .expect("a region has classes")
        })
        .collect();
    Tensor::cat(parts, 1)
}

/// Soft Dice loss on regions made of classes (nnU-Net's region-based training on softmax outputs):
/// 1 − mean over regions of the soft Dice of the summed probabilities against the region, each taken
/// over the whole batch (nnU-Net's batch Dice: a patch without the region does not make its term 1).
pub fn region_soft_dice(probs: Tensor<5>, target: Tensor<5>, regions: &[&[u8]]) -> Tensor<1> {
    let (p, y) = (region_sums(probs, regions), region_sums(target, regions));
    let inter = spatial_sum(p.clone() * y.clone()).sum_dim(0);
    let denom = (spatial_sum(p) + spatial_sum(y)).sum_dim(0);
    let dice = inter.mul_scalar(2.0).add_scalar(DICE_EPS) / denom.add_scalar(DICE_EPS);
    dice.mean().neg().add_scalar(1.0)
}

/// `x` `[B, K, D, H, W]` averaged over 2×2×2 blocks (sides even): a one-hot target becomes the class
/// shares of each coarser voxel, the target of a deep-supervision head.
pub fn downsample_target(x: Tensor<5>) -> Tensor<5> {
    let [b, k, d, h, w] = x.dims();
    let x = x.reshape([b * k * d / 2, 2, h * w]).mean_dim(1);
    let x = x.reshape([b * k * d / 2 * h / 2, 2, w]).mean_dim(1);
    x.reshape([b * k * d / 2 * h / 2 * w / 2, 2])
        .mean_dim(1)
        .reshape([b, k, d / 2, h / 2, w / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(v: Vec<f32>, shape: [usize; 5]) -> Tensor<5> {
        Tensor::from_data(TensorData::new(v, shape), &Device::flex())
    }

    #[test]
    fn region_dice_by_hand() {
        // Two voxels, classes background / NCR / ED / ET: voxel 0 is ED, voxel 1 is ET.
        let target = tensor(vec![0., 0., 0., 0., 1., 0., 0., 1.], [1, 4, 1, 1, 2]);
        let probs = tensor(
            vec![0.1, 0.0, 0.2, 0.2, 0.6, 0.2, 0.1, 0.6],
            [1, 4, 1, 1, 2],
        );
        // WT = {1, 2, 3}: p = (0.9, 1.0), y = (1, 1): 2·1.9 / (1.9 + 2). TC = {1, 3}: p = (0.3, 0.8),
        // y = (0, 1): 2·0.8 / (1.1 + 1). ET = {3}: p = (0.1, 0.6), y = (0, 1): 2·0.6 / (0.7 + 1).
        let regions: [&[u8]; 3] = [&[1, 2, 3], &[1, 3], &[3]];
        let want = 1.0 - (3.8 / 3.9 + 1.6 / 2.1 + 1.2 / 1.7) / 3.0;
        let got = crate::model::to_vec(region_soft_dice(probs, target, &regions))[0] as f64;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn a_downsampled_target_holds_the_class_shares_of_each_block() {
        // One class, a 2×2×4 volume (z, y, x): x = 0..4 with the value x in z = 0, 0 in z = 1.
        let v: Vec<f32> = (0..16)
            .map(|i| if i < 8 { (i % 4) as f32 } else { 0.0 })
            .collect();
        let got = crate::model::to_vec(downsample_target(tensor(v, [1, 1, 2, 2, 4])));
        // Blocks x ∈ {0, 1} and {2, 3}: (0 + 1) · 2 / 8 and (2 + 3) · 2 / 8.
        assert_eq!(got, vec![0.25, 1.25]);
    }
}
