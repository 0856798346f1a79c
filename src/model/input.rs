//! Voxel buffers to tensors and back: a grid's voxels (x fastest, dims `[nx, ny, nz]`) are the tensor
//! `[1, 1, nz, ny, nx]`, so no copy reorders them. Padding to a multiple of 8 for the three halvings.

use burn::prelude::*;

/// The voxels of a `[nx, ny, nz]` grid as a `[1, 1, nz, ny, nx]` tensor.
pub fn volume_tensor(data: &[f32], dims: [usize; 3], device: &Device) -> Tensor<5> {
    Tensor::from_data(
        TensorData::new(data.to_vec(), [1, 1, dims[2], dims[1], dims[0]]),
        device,
    )
}

/// Pads a `[nx, ny, nz]` buffer with `fill` at the high end of each axis to `new_dims`.
pub fn pad(data: &[f32], dims: [usize; 3], new_dims: [usize; 3], fill: f32) -> Vec<f32> {
    let mut out = vec![fill; new_dims.iter().product()];
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            let src = dims[0] * (y + dims[1] * z);
            let dst = new_dims[0] * (y + new_dims[1] * z);
            out[dst..dst + dims[0]].copy_from_slice(&data[src..src + dims[0]]);
        }
    }
    out
}

/// Each side rounded up to a multiple of `m`.
pub fn round_up(dims: [usize; 3], m: usize) -> [usize; 3] {
    dims.map(|d| d.div_ceil(m) * m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_keeps_voxels_in_place() {
        let data: Vec<f32> = (0..6).map(|i| i as f32).collect(); // dims [3, 2, 1]
        let p = pad(&data, [3, 2, 1], [4, 2, 2], -1.0);
        assert_eq!(&p[..8], &[0.0, 1.0, 2.0, -1.0, 3.0, 4.0, 5.0, -1.0]);
        assert!(p[8..].iter().all(|&v| v == -1.0));
        assert_eq!(round_up([72, 83, 1], 8), [72, 88, 8]);
        let t = volume_tensor(&data, [3, 2, 1], &Device::flex());
        assert_eq!(t.dims(), [1, 1, 1, 2, 3]);
    }
}
