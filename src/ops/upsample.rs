//! Trilinear ×2 upsampling of `[B, C, D, H, W]` tensors (Burn 0.22 has no 3-D interpolation).
//!
//! Chosen over a transposed convolution: it has no weights, no checkerboard artefacts, and it is what
//! RFNet's decoders do. Half-pixel centres (PyTorch's `align_corners=False`): along each axis output
//! `2i` is `0.75·x[i] + 0.25·x[i−1]` and `2i+1` is `0.75·x[i] + 0.25·x[i+1]`, with the edge voxel
//! repeated. On the CPU: one separable kernel per axis and its adjoint as the backward step. On a GPU:
//! one CubeCL kernel each way ([`super::cube_kernels`]). With the kernels switched off: per axis, two
//! `select` gathers with clamped indices and a weighted sum, so autodiff's backward is two
//! scatter-adds.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, DType, Flex, TensorMetadata, backend_extension,
};
use burn::prelude::*;
use burn::tensor::{Int, Shape};
use burn_cubecl::CubeBackend;
use rayon::prelude::*;

/// Upsampling on the CPU and GPU backends.
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait UpsampleOps: Backend {
    #[fusion(dtype = x, shape = doubled(x))]
    fn cloe_upsample2x(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The adjoint: the input gradient given the output gradient `dy`.
    #[fusion(dtype = dy, shape = halved(dy))]
    fn cloe_upsample2x_grad(dy: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// `[B, C, D, H, W]` with the spatial sides doubled.
fn doubled(s: &Shape) -> Shape {
    Shape::new([s[0], s[1], 2 * s[2], 2 * s[3], 2 * s[4]])
}

/// `[B, C, D, H, W]` with the spatial sides halved.
fn halved(s: &Shape) -> Shape {
    Shape::new([s[0], s[1], s[2] / 2, s[3] / 2, s[4] / 2])
}

/// Doubles the middle axis of `x` viewed as `[outer, n, inner]`.
fn up_axis(x: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; 2 * x.len()];
    y.par_chunks_mut(2 * n * inner)
        .zip(x.par_chunks(n * inner))
        .take(outer)
        .for_each(|(y, x)| {
            for i in 0..n {
                let row = |j: usize| &x[j * inner..(j + 1) * inner];
                let (here, prev, next) =
                    (row(i), row(i.saturating_sub(1)), row((i + 1).min(n - 1)));
                let (even, odd) = y[2 * i * inner..(2 * i + 2) * inner].split_at_mut(inner);
                for k in 0..inner {
                    even[k] = 0.75 * here[k] + 0.25 * prev[k];
                    odd[k] = 0.75 * here[k] + 0.25 * next[k];
                }
            }
        });
    y
}

/// The adjoint of [`up_axis`]: halves the middle axis of `dy` (`[outer, 2n, inner]`).
fn up_axis_adjoint(dy: &[f32], outer: usize, n: usize, inner: usize) -> Vec<f32> {
    let mut dx = vec![0.0f32; dy.len() / 2];
    dx.par_chunks_mut(n * inner)
        .zip(dy.par_chunks(2 * n * inner))
        .take(outer)
        .for_each(|(dx, dy)| {
            let row = |j: usize| &dy[j * inner..(j + 1) * inner];
            for i in 0..n {
                let (even, odd) = (row(2 * i), row(2 * i + 1));
                let (prev_j, next_j) = (i.saturating_sub(1), (i + 1).min(n - 1));
                let out = &mut dx[..];
                for k in 0..inner {
                    // Output 2i gives 0.75 to x[i] and 0.25 to x[i−1 clamped]; 2i+1 gives 0.75 to x[i]
                    // and 0.25 to x[i+1 clamped].
                    out[i * inner + k] += 0.75 * (even[k] + odd[k]);
                    out[prev_j * inner + k] += 0.25 * even[k];
                    out[next_j * inner + k] += 0.25 * odd[k];
                }
            }
        });
    dx
}

/// `[B·C, D, H, W]` → `[B·C, 2D, 2H, 2W]`, axis by axis (x, then y, then z).
pub fn forward_cpu(x: &[f32], [bc, d, h, w]: [usize; 4]) -> Vec<f32> {
    let x = up_axis(x, bc * d * h, w, 1);
    let x = up_axis(&x, bc * d, h, 2 * w);
    up_axis(&x, bc, d, 4 * h * w)
}

/// The input gradient of [`forward_cpu`] for input dims `[B·C, D, H, W]`.
pub fn backward_cpu(dy: &[f32], [bc, d, h, w]: [usize; 4]) -> Vec<f32> {
    let g = up_axis_adjoint(dy, bc, d, 4 * h * w);
    let g = up_axis_adjoint(&g, bc * d, h, 2 * w);
    up_axis_adjoint(&g, bc * d * h, w, 1)
}

fn dims4(s: &Shape) -> [usize; 4] {
    [s[0] * s[1], s[2], s[3], s[4]]
}

impl UpsampleOps for Flex {
    fn cloe_upsample2x(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let s = x.shape();
        let y = forward_cpu(x.to_contiguous().storage::<f32>(), dims4(&s));
        FloatTensor::<Flex>::from_data(TensorData::new(y, doubled(&s)))
    }

    fn cloe_upsample2x_grad(dy: FloatTensor<Self>) -> FloatTensor<Self> {
        let s = halved(&dy.shape());
        let dx = backward_cpu(dy.to_contiguous().storage::<f32>(), dims4(&s));
        FloatTensor::<Flex>::from_data(TensorData::new(dx, s))
    }
}

impl UpsampleOps for CubeBackend {
    fn cloe_upsample2x(x: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cube_kernels::upsample2x(x)
    }

    fn cloe_upsample2x_grad(dy: FloatTensor<Self>) -> FloatTensor<Self> {
        super::cube_kernels::upsample2x_grad(dy)
    }
}

#[derive(Debug)]
struct UpsampleBackward;

impl<B: UpsampleOps> Backward<B, 1> for UpsampleBackward {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [Some(node)] = ops.parents else {
            return;
        };
        let dy = grads.consume::<B>(&ops.node);
        grads.register::<B>(node.id, B::cloe_upsample2x_grad(dy));
    }
}

impl<B: UpsampleOps, C: CheckpointStrategy> UpsampleOps for Autodiff<B, C> {
    fn cloe_upsample2x(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let y = B::cloe_upsample2x(x.primitive().clone());
        UpsampleBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateless(y)
    }

    /// The adjoint as a constant (its own gradient is not tracked; training needs first
    /// derivatives only).
    fn cloe_upsample2x_grad(dy: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::cloe_upsample2x_grad(dy.primitive().clone()))
    }
}

/// Doubles the three spatial dimensions of `x` with trilinear interpolation.
pub fn upsample2x(x: Tensor<5>) -> Tensor<5> {
    if super::use_own_kernels(&x.device()) && x.dtype() == DType::F32 {
        return Tensor::from_dispatch(burn::backend::Dispatch::cloe_upsample2x(x.into_dispatch()));
    }
    let x = upsample_axis(x, 4);
    let x = upsample_axis(x, 3);
    upsample_axis(x, 2)
}

/// Doubles one axis (2, 3 or 4) with Burn operations: output j takes 0.75 of x[j / 2] and 0.25 of its
/// neighbour on the side of j (edge repeated), two gathers along the axis.
fn upsample_axis(x: Tensor<5>, axis: usize) -> Tensor<5> {
    let n = x.dims()[axis] as i64;
    let device = x.device();
    let here: Vec<i64> = (0..2 * n).map(|j| j / 2).collect();
    let side: Vec<i64> = (0..2 * n)
        .map(|j| {
            if j % 2 == 0 {
                (j / 2 - 1).max(0)
            } else {
                (j / 2 + 1).min(n - 1)
            }
        })
        .collect();
    let index =
        |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [2 * n as usize]), &device);
    x.clone().select(axis, index(here)).mul_scalar(0.75)
        + x.select(axis, index(side)).mul_scalar(0.25)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<5>) -> Vec<f32> {
        crate::ops::to_vec(t)
    }

    /// The Burn-operations form (any device) and the CPU kernel.
    fn both(x: Tensor<5>) -> [Vec<f32>; 2] {
        let burn_ops = upsample_axis(upsample_axis(upsample_axis(x.clone(), 4), 3), 2);
        [values(burn_ops), values(upsample2x(x))]
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
        for y in both(x) {
            assert_eq!(y.len(), 2 * 2 * 6);
            assert_eq!(&y[..6], &[1.0, 1.25, 1.75, 2.5, 3.5, 4.0]);
        }
    }

    #[test]
    fn is_separable_across_axes_and_channels() {
        let device = Device::flex();
        // A 2x2x2 cube with value = 4z + 2y + x, two channels (second = 10x first).
        let base: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let mut data = base.clone();
        data.extend(base.iter().map(|v| v * 10.0));
        let x = Tensor::<5>::from_data(TensorData::new(data, [1, 2, 2, 2, 2]), &device);
        // Along each axis 2 values [a, b] become [a, 0.75a+0.25b, 0.25a+0.75b, b]; the function is
        // linear, so output (z, y, x) = 4·fz + 2·fy + fx with f = [0, 0.25, 0.75, 1].
        let f = [0.0f32, 0.25, 0.75, 1.0];
        for y in both(x) {
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

    /// The CPU backward is the adjoint of the forward: ⟨g, up(x)⟩ = ⟨up*(g), x⟩, and it equals the
    /// gradient autodiff derives from the Burn-operations form.
    #[test]
    fn backward_is_the_adjoint() {
        let ad = Device::flex().autodiff();
        let normal = burn::tensor::Distribution::Normal(0.0, 1.0);
        let x = Tensor::<5>::random([2, 3, 3, 4, 5], normal, &Device::flex());
        let g = Tensor::<5>::random([2, 3, 6, 8, 10], normal, &Device::flex());
        let grad = |kernel: bool| {
            let x = Tensor::<5>::from_data(x.to_data(), &ad).require_grad();
            let y = if kernel {
                upsample2x(x.clone())
            } else {
                upsample_axis(upsample_axis(upsample_axis(x.clone(), 4), 3), 2)
            };
            let grads = (y * Tensor::from_data(g.to_data(), &ad)).sum().backward();
            values(x.grad(&grads).expect("a gradient"))
        };
        let (ours, burns) = (grad(true), grad(false));
        let worst = ours
            .iter()
            .zip(&burns)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-5, "{worst}");
        let lhs: f64 = values(g.clone() * upsample2x(x.clone()))
            .iter()
            .map(|&v| v as f64)
            .sum();
        let rhs: f64 = ours
            .iter()
            .zip(values(x))
            .map(|(a, b)| (*a * b) as f64)
            .sum();
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }
}
