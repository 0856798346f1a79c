//! `instance_norm_leaky_relu`: InstanceNorm without affine (biased variance, ε inside the root) followed
//! by LeakyReLU, the pair after every convolution of the network. On the CPU it is one kernel: a pass for
//! each channel's mean and variance and a pass that normalises and activates, and a backward of three
//! passes from the saved input, instead of Burn's eight element-wise passes each way. On a GPU it is
//! the CubeCL kernels of [`super::cube_kernels`] (one or two dispatches forward, one or three backward,
//! instead of Burn's seven and about twenty). With the kernels switched off, Burn's `InstanceNorm` and
//! `leaky_relu`.

use burn::backend::AutodiffBackend;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn_cubecl::CubeBackend;
use rayon::prelude::*;

/// The fused normalisation and activation, on the CPU and GPU backends.
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait NormActOps: Backend {
    #[fusion(dtype = x, shape = x)]
    fn cloe_norm_leaky(x: FloatTensor<Self>, epsilon: f64, slope: f64) -> FloatTensor<Self>;

    /// `cloe_norm_leaky(x) + skip` (a residual connection): the sum in the same pass.
    #[fusion(dtype = x, shape = x)]
    fn cloe_norm_leaky_add(
        x: FloatTensor<Self>,
        skip: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self>;

    /// The input gradient at `x` given the output gradient `dy` (that of `skip` is `dy`).
    #[fusion(dtype = x, shape = x)]
    fn cloe_norm_leaky_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self>;
}

/// Per-channel mean and 1/σ of `x` (`channels` rows of `n` values), in f64.
fn stats(x: &[f32], n: usize, epsilon: f64) -> Vec<(f64, f64)> {
    x.par_chunks(n)
        .map(|c| {
            let (s, s2) = c.iter().fold((0.0f64, 0.0f64), |(s, s2), &v| {
                let v = v as f64;
                (s + v, s2 + v * v)
            });
            let mean = s / n as f64;
            let var = (s2 / n as f64 - mean * mean).max(0.0);
            (mean, 1.0 / (var + epsilon).sqrt())
        })
        .collect()
}

/// y = LeakyReLU((x − μ_c) / σ_c) over rows of `n` values per (batch, channel), plus `skip` (as long
/// as `x`) where given, in the same pass.
pub fn forward_cpu(
    x: &[f32],
    skip: Option<&[f32]>,
    n: usize,
    epsilon: f64,
    slope: f64,
) -> Vec<f32> {
    let st = stats(x, n, epsilon);
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .zip(st)
        .enumerate()
        .for_each(|(row, ((y, x), (mean, rstd)))| {
            let (m, r, s) = (mean as f32, rstd as f32, slope as f32);
            let act = |v: f32| {
                let h = (v - m) * r;
                if h < 0.0 { h * s } else { h }
            };
            match skip.map(|k| &k[row * n..(row + 1) * n]) {
                None => y.iter_mut().zip(x).for_each(|(o, &v)| *o = act(v)),
                Some(k) => (y.iter_mut().zip(x).zip(k)).for_each(|((o, &v), &k)| *o = act(v) + k),
            }
        });
    y
}

/// The input gradient of [`forward_cpu`] given the output gradient `dy`.
pub fn backward_cpu(x: &[f32], dy: &[f32], n: usize, epsilon: f64, slope: f64) -> Vec<f32> {
    let st = stats(x, n, epsilon);
    let mut dx = vec![0.0f32; x.len()];
    dx.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(dy.par_chunks(n)))
        .zip(st)
        .for_each(|((dx, (x, dy)), (mean, rstd))| {
            let (m, r, s) = (mean as f32, rstd as f32, slope as f32);
            // Gradient of the normalised value ĥ: dy through the activation.
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for (&v, &g) in x.iter().zip(dy) {
                let h = (v - m) * r;
                let gh = if h < 0.0 { g * s } else { g };
                s1 += gh as f64;
                s2 += (gh * h) as f64;
            }
            let (a, b) = ((s1 / n as f64) as f32, (s2 / n as f64) as f32);
            for ((o, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
                let h = (v - m) * r;
                let gh = if h < 0.0 { g * s } else { g };
                *o = r * (gh - a - h * b);
            }
        });
    dx
}

/// Values per (batch, channel) of a `[B, C, …]` shape.
fn per_channel(shape: &burn::tensor::Shape) -> usize {
    shape.num_elements() / (shape[0] * shape[1]).max(1)
}

impl NormActOps for Flex {
    fn cloe_norm_leaky(x: FloatTensor<Self>, epsilon: f64, slope: f64) -> FloatTensor<Self> {
        let shape = x.shape();
        let x = x.to_contiguous();
        let y = forward_cpu(
            x.storage::<f32>(),
            None,
            per_channel(&shape),
            epsilon,
            slope,
        );
        FloatTensor::<Flex>::from_data(TensorData::new(y, shape))
    }

    fn cloe_norm_leaky_add(
        x: FloatTensor<Self>,
        skip: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self> {
        let shape = x.shape();
        let (x, skip) = (x.to_contiguous(), skip.to_contiguous());
        let (x, skip) = (x.storage::<f32>(), Some(skip.storage::<f32>()));
        let y = forward_cpu(x, skip, per_channel(&shape), epsilon, slope);
        FloatTensor::<Flex>::from_data(TensorData::new(y, shape))
    }

    fn cloe_norm_leaky_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self> {
        let shape = x.shape();
        let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
        let n = per_channel(&shape);
        let dx = backward_cpu(x.storage::<f32>(), dy.storage::<f32>(), n, epsilon, slope);
        FloatTensor::<Flex>::from_data(TensorData::new(dx, shape))
    }
}

impl NormActOps for CubeBackend {
    fn cloe_norm_leaky(x: FloatTensor<Self>, epsilon: f64, slope: f64) -> FloatTensor<Self> {
        super::cube_kernels::norm_leaky_relu(x, None, epsilon, slope)
    }

    fn cloe_norm_leaky_add(
        x: FloatTensor<Self>,
        skip: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self> {
        super::cube_kernels::norm_leaky_relu(x, Some(skip), epsilon, slope)
    }

    fn cloe_norm_leaky_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self> {
        super::cube_kernels::norm_leaky_relu_grad(x, dy, epsilon, slope)
    }
}

/// The backward step: the input gradient from the saved input.
#[derive(Debug)]
struct NormActBackward;

impl<B: NormActOps> Backward<B, 1> for NormActBackward {
    type State = (NodeId, f64, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [Some(node)] = ops.parents else {
            return;
        };
        let dy = grads.consume::<B>(&ops.node);
        let (x_state, epsilon, slope) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        grads.register::<B>(node.id, B::cloe_norm_leaky_grad(x, dy, epsilon, slope));
    }
}

/// The backward step of the norm with a residual: the input gradient from the saved input, the
/// residual's gradient the output's.
#[derive(Debug)]
struct NormActAddBackward;

impl<B: NormActOps> Backward<B, 2> for NormActAddBackward {
    type State = (NodeId, f64, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let dy = grads.consume::<B>(&ops.node);
        let (x_state, epsilon, slope) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let [x_node, skip_node] = ops.parents;
        if let Some(node) = skip_node {
            grads.register::<B>(node.id, dy.clone());
        }
        if let Some(node) = x_node {
            grads.register::<B>(node.id, B::cloe_norm_leaky_grad(x, dy, epsilon, slope));
        }
    }
}

impl<B: NormActOps, C: CheckpointStrategy> NormActOps for Autodiff<B, C> {
    fn cloe_norm_leaky(x: FloatTensor<Self>, epsilon: f64, slope: f64) -> FloatTensor<Self> {
        let forward =
            |x: &FloatTensor<Self>| B::cloe_norm_leaky(x.primitive().clone(), epsilon, slope);
        match NormActBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let y = forward(&x);
                prep.finish((x_state, epsilon, slope), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(&x)),
        }
    }

    fn cloe_norm_leaky_add(
        x: FloatTensor<Self>,
        skip: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self> {
        let forward = |x: &FloatTensor<Self>, skip: &FloatTensor<Self>| {
            let (x, skip) = (x.primitive().clone(), skip.primitive().clone());
            B::cloe_norm_leaky_add(x, skip, epsilon, slope)
        };
        match NormActAddBackward
            .prepare::<C>([x.node(), skip.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let y = forward(&x, &skip);
                prep.finish((x_state, epsilon, slope), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(&x, &skip)),
        }
    }

    /// The gradient as a constant (its own gradient is not tracked; training needs first
    /// derivatives only).
    fn cloe_norm_leaky_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> FloatTensor<Self> {
        let (x, dy) = (x.primitive().clone(), dy.primitive().clone());
        Self::from_inner(B::cloe_norm_leaky_grad(x, dy, epsilon, slope))
    }
}

/// InstanceNorm (no affine, `epsilon`) then LeakyReLU (`slope`) of `x` `[B, C, D, H, W]`: the fused
/// kernels on the CPU and the GPU for f32, `norm` and Burn's `leaky_relu` where they are off.
pub fn instance_norm_leaky_relu(
    x: Tensor<5>,
    norm: &burn::nn::InstanceNorm,
    slope: f64,
) -> Tensor<5> {
    if !super::use_own_kernels(&x.device()) || x.dtype() != DType::F32 || norm.gamma.is_some() {
        return leaky_relu(norm.forward(x), slope);
    }
    Tensor::from_dispatch(burn::backend::Dispatch::cloe_norm_leaky(
        x.into_dispatch(),
        norm.epsilon,
        slope,
    ))
}

/// `instance_norm_leaky_relu(x, norm, slope) + skip` (a residual connection), the sum in the same
/// pass where the kernels run.
pub fn instance_norm_leaky_relu_add(
    x: Tensor<5>,
    skip: Tensor<5>,
    norm: &burn::nn::InstanceNorm,
    slope: f64,
) -> Tensor<5> {
    if !super::use_own_kernels(&x.device()) || x.dtype() != DType::F32 || norm.gamma.is_some() {
        return skip + leaky_relu(norm.forward(x), slope);
    }
    Tensor::from_dispatch(burn::backend::Dispatch::cloe_norm_leaky_add(
        x.into_dispatch(),
        skip.into_dispatch(),
        norm.epsilon,
        slope,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::InstanceNormConfig;
    use burn::tensor::Distribution;

    /// Output and input gradient equal Burn's InstanceNorm + leaky_relu through autodiff.
    #[test]
    fn matches_burn_through_autodiff() {
        let ad = Device::flex().autodiff();
        let norm = InstanceNormConfig::new(3).with_affine(false).init(&ad);
        let normal = Distribution::Normal(0.5, 2.0);
        let x = Tensor::<5>::random([2, 3, 5, 6, 7], normal, &Device::flex());
        let g = Tensor::<5>::random([2, 3, 5, 6, 7], normal, &Device::flex());
        let run = |fused: bool| {
            let x = Tensor::<5>::from_data(x.to_data(), &ad).require_grad();
            let y = if fused {
                instance_norm_leaky_relu(x.clone(), &norm, 0.2)
            } else {
                leaky_relu(norm.forward(x.clone()), 0.2)
            };
            let grads = (y.clone() * Tensor::from_data(g.to_data(), &ad))
                .sum()
                .backward();
            (
                crate::ops::to_vec(y),
                crate::ops::to_vec(x.grad(&grads).expect("a gradient")),
            )
        };
        let (ours, burns) = (run(true), run(false));
        for (what, a, b) in [("y", &ours.0, &burns.0), ("dx", &ours.1, &burns.1)] {
            let worst = a
                .iter()
                .zip(b)
                .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(worst < 2e-5, "{what}: {worst}");
        }
    }
}
