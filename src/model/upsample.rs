//! Trilinear ×2 upsampling of `[B, C, D, H, W]` tensors (Burn 0.22 has no 3-D interpolation).
//!
//! Chosen over a transposed convolution: it has no weights, no checkerboard artefacts, and it is what
//! RFNet's decoders do. Half-pixel centres (PyTorch's `align_corners=False`): along each axis output
//! `2i` is `0.75·x[i] + 0.25·x[i−1]` and `2i+1` is `0.75·x[i] + 0.25·x[i+1]`, with the edge voxel repeated.
//! Built from slices, concatenation and a reshape, so autodiff gives its exact gradient.

use burn::prelude::*;

/// Doubles the three spatial dimensions of `x` with trilinear interpolation.
pub fn upsample2x(x: Tensor<5>) -> Tensor<5> {
    let x = upsample_axis(x, 2);
    let x = upsample_axis(x, 3);
    upsample_axis(x, 4)
}

/// Doubles one axis (2, 3 or 4) of a 5-D tensor.
fn upsample_axis(x: Tensor<5>, axis: usize) -> Tensor<5> {
    let n = x.dims()[axis];
    let (prev, next) = if n == 1 {
        (x.clone(), x.clone())
    } else {
        let first = x.clone().narrow(axis, 0, 1);
        let last = x.clone().narrow(axis, n - 1, 1);
        (
            Tensor::cat(vec![first, x.clone().narrow(axis, 0, n - 1)], axis),
            Tensor::cat(vec![x.clone().narrow(axis, 1, n - 1), last], axis),
        )
    };
    let mut shape = x.dims();
    shape[axis] *= 2;
    let even = x.clone().mul_scalar(0.75) + prev.mul_scalar(0.25);
    let odd = x.mul_scalar(0.75) + next.mul_scalar(0.25);
    // Interleave: stack on a new axis right after `axis` ([.., n, 2, ..]), then merge the two.
    let pairs: Tensor<6> = Tensor::stack(vec![even, odd], axis + 1);
    pairs.reshape(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<5>) -> Vec<f32> {
        crate::model::to_vec(t)
    }

    #[test]
    fn matches_pytorch_trilinear_align_corners_false() {
        let device = Device::flex();
        // torch.nn.functional.interpolate(x, scale_factor=2, mode="linear", align_corners=False) of
        // [1, 2, 4] is [1.0, 1.25, 1.75, 2.5, 3.5, 4.0].
        let x = Tensor::<5>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 4.0], [1, 1, 1, 1, 3]),
            &device,
        );
        let y = upsample2x(x);
        assert_eq!(y.dims(), [1, 1, 2, 2, 6]);
        assert_eq!(&values(y)[..6], &[1.0, 1.25, 1.75, 2.5, 3.5, 4.0]);
    }

    #[test]
    fn is_separable_across_axes_and_channels() {
        let device = Device::flex();
        // A 2x2x2 cube with value = 4z + 2y + x, two channels (second = 10x first).
        let base: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let mut data = base.clone();
        data.extend(base.iter().map(|v| v * 10.0));
        let x = Tensor::<5>::from_data(TensorData::new(data, [1, 2, 2, 2, 2]), &device);
        let y = values(upsample2x(x));
        // Along each axis 2 values [a, b] become [a, 0.75a+0.25b, 0.25a+0.75b, b]; the function is
        // linear, so output (z, y, x) = 4·fz + 2·fy + fx with f = [0, 0.25, 0.75, 1].
        let f = [0.0f32, 0.25, 0.75, 1.0];
        for z in 0..4 {
            for yy in 0..4 {
                for xx in 0..4 {
                    let want = 4.0 * f[z] + 2.0 * f[yy] + f[xx];
                    let at = (z * 4 + yy) * 4 + xx;
                    assert!(
                        (y[at] - want).abs() < 1e-6,
                        "({z},{yy},{xx}) {} vs {want}",
                        y[at]
                    );
                    assert!((y[64 + at] - 10.0 * want).abs() < 1e-5);
                }
            }
        }
    }
}
