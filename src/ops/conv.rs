//! `conv3d`: the network's convolution. On the CPU (`flex`, with or without autodiff) it runs the
//! kernels of [`super::conv_cpu`] through a Burn backend extension with its own backward step; on any
//! other device it is Burn's `conv3d`, unchanged.

use super::conv_cpu::{self, ConvShape};
use super::counters::{self, ConvKind};
use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::ConvOptions;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::Shape;

/// The convolution operations the CPU backend implements itself. The default bodies are Burn's own
/// operations, so an autodiff backend's backward step can call them on any inner backend.
#[backend_extension(Flex, Autodiff)]
pub trait ConvOps: Backend {
    /// conv3d with bias, dilation 1, one group.
    fn cloe_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self>;

    /// The gradient of `x` given the output gradient.
    fn cloe_conv3d_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self> {
        Self::conv3d_x_backward(x, weight, grad, options(stride, padding))
    }

    /// The gradient of the weight given the output gradient.
    fn cloe_conv3d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self> {
        Self::conv3d_weight_backward(x, weight, grad, options(stride, padding))
    }
}

fn options(stride: [usize; 3], padding: [usize; 3]) -> ConvOptions<3> {
    ConvOptions::new(stride, padding, [1; 3], 1)
}

/// The geometry of a convolution of `x` by `weight`.
fn shape_of(x: &Shape, weight: &Shape, stride: [usize; 3], padding: [usize; 3]) -> ConvShape {
    ConvShape {
        batch: x[0],
        c_in: x[1],
        c_out: weight[0],
        input: [x[2], x[3], x[4]],
        kernel: [weight[2], weight[3], weight[4]],
        stride,
        pad: padding,
    }
}

/// A contiguous f32 tensor of `shape` holding `data`.
fn flex_tensor(data: Vec<f32>, shape: [usize; 5]) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(data, shape))
}

fn dims5(s: &Shape) -> [usize; 5] {
    [s[0], s[1], s[2], s[3], s[4]]
}

/// True when the CPU kernels apply: f32 tensors and a kernel the padding does not exceed.
fn cpu_kernels_apply(
    x: &FloatTensor<Flex>,
    weight: &FloatTensor<Flex>,
    other: &FloatTensor<Flex>,
    padding: [usize; 3],
) -> bool {
    let k = weight.shape();
    [x, weight, other].iter().all(|t| t.dtype() == DType::F32)
        && (0..3).all(|a| padding[a] < k[2 + a] && k[1] == x.shape()[1])
}

impl ConvOps for Flex {
    fn cloe_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self> {
        if !cpu_kernels_apply(&x, &weight, &bias, padding) {
            return Self::conv3d(x, weight, Some(bias), options(stride, padding));
        }
        let s = shape_of(&x.shape(), &weight.shape(), stride, padding);
        let [od, oh, ow] = s.output();
        let out = [s.batch, s.c_out, od, oh, ow];
        run(
            ConvKind::Forward,
            out,
            [&x, &weight, &bias],
            |[x, w, b], out| conv_cpu::forward(&s, x, w, Some(b), out),
        )
    }

    fn cloe_conv3d_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self> {
        if !cpu_kernels_apply(&x, &weight, &grad, padding) {
            return Self::conv3d_x_backward(x, weight, grad, options(stride, padding));
        }
        let s = shape_of(&x.shape(), &weight.shape(), stride, padding);
        run(
            ConvKind::DataGrad,
            dims5(&x.shape()),
            [&x, &weight, &grad],
            |[_, w, g], dx| conv_cpu::data_grad(&s, w, g, dx),
        )
    }

    fn cloe_conv3d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self> {
        if !cpu_kernels_apply(&x, &weight, &grad, padding) {
            return Self::conv3d_weight_backward(x, weight, grad, options(stride, padding));
        }
        let s = shape_of(&x.shape(), &weight.shape(), stride, padding);
        run(
            ConvKind::WeightGrad,
            dims5(&weight.shape()),
            [&x, &weight, &grad],
            |[x, _, g], dw| conv_cpu::weight_grad(&s, x, g, dw, None),
        )
    }
}

/// Runs the CPU kernel of `kind` on the f32 data of `inputs` (made contiguous) into a new tensor of
/// `shape`, timed for the profile.
fn run(
    kind: ConvKind,
    shape: [usize; 5],
    inputs: [&FloatTensor<Flex>; 3],
    kernel: impl FnOnce([&[f32]; 3], &mut [f32]),
) -> FloatTensor<Flex> {
    let inputs = inputs.map(|t| t.to_contiguous());
    let mut out = vec![0.0f32; shape.iter().product()];
    counters::timed(kind, || {
        kernel(
            [
                inputs[0].storage::<f32>(),
                inputs[1].storage::<f32>(),
                inputs[2].storage::<f32>(),
            ],
            &mut out,
        )
    });
    flex_tensor(out, shape)
}

/// The backward step of [`ConvOps::cloe_conv3d`]: the three gradients from the saved input and weight.
#[derive(Debug)]
struct ConvBackward;

impl<B: Backend + ConvOps> Backward<B, 3> for ConvBackward {
    type State = (NodeId, NodeId, [usize; 3], [usize; 3]);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, stride, padding) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        if let Some(node) = node_bias {
            // Σ over batch and space of the output gradient, per channel.
            let [b, c, d, h, w] = dims5(&grad.shape());
            let g = B::float_swap_dims(grad.clone(), 0, 1);
            let g = B::float_reshape(g, Shape::new([c, b * d * h * w]));
            let g = B::float_reshape(B::float_sum_dim(g, 1), Shape::new([c]));
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = node_weight {
            let g = B::cloe_conv3d_weight_grad(
                x.clone(),
                weight.clone(),
                grad.clone(),
                stride,
                padding,
            );
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = node_x {
            grads.register::<B>(
                node.id,
                B::cloe_conv3d_x_grad(x, weight, grad, stride, padding),
            );
        }
    }
}

impl<B: Backend + ConvOps, C: CheckpointStrategy> ConvOps for Autodiff<B, C> {
    fn cloe_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> FloatTensor<Self> {
        let forward = |x: &FloatTensor<Self>, w: &FloatTensor<Self>, b: &FloatTensor<Self>| {
            B::cloe_conv3d(
                x.primitive().clone(),
                w.primitive().clone(),
                b.primitive().clone(),
                stride,
                padding,
            )
        };
        match ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let out = forward(&x, &weight, &bias);
                prep.finish((x_state, weight_state, stride, padding), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(&x, &weight, &bias)),
        }
    }
}

/// 3-D convolution of `x` `[B, C_in, D, H, W]` by `weight` `[C_out, C_in, k, k, k]` plus `bias`, with
/// the given stride and zero padding: the CPU kernels on the CPU, Burn's `conv3d` elsewhere.
pub fn conv3d(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Tensor<1>,
    stride: [usize; 3],
    padding: [usize; 3],
) -> Tensor<5> {
    counters::note_shape(|| {
        let [b, c_in, d, h, w] = x.dims();
        (
            b,
            c_in,
            weight.dims()[0],
            [d, h, w],
            weight.dims()[2],
            stride[0],
        )
    });
    if !super::use_cpu_kernels(&x.device()) {
        return burn::tensor::module::conv3d(x, weight, Some(bias), options(stride, padding));
    }
    Tensor::from_dispatch(burn::backend::Dispatch::cloe_conv3d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        stride,
        padding,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// The output and the gradients of x, w and bias of Σ g ⊙ conv(x, w, bias).
    fn grads_of(
        conv: impl Fn(Tensor<5>, Tensor<5>, Tensor<1>) -> Tensor<5>,
        [x, w, g]: [&Tensor<5>; 3],
        bias: &Tensor<1>,
    ) -> [Vec<f32>; 4] {
        let ad = Device::flex().autodiff();
        let on_ad = |t: &Tensor<5>| Tensor::<5>::from_data(t.to_data(), &ad);
        let x = on_ad(x).require_grad();
        let w = on_ad(w).require_grad();
        let bias = Tensor::<1>::from_data(bias.to_data(), &ad).require_grad();
        let y = conv(x.clone(), w.clone(), bias.clone());
        let out = crate::ops::to_vec(y.clone());
        let grads = (y * on_ad(g)).sum().backward();
        let v = |t: Option<Tensor<5>>| crate::ops::to_vec(t.expect("a gradient"));
        [
            out,
            v(x.grad(&grads)),
            v(w.grad(&grads)),
            crate::ops::to_vec(bias.grad(&grads).expect("a gradient")),
        ]
    }

    /// Forward and all three gradients equal Burn's own convolution through autodiff.
    #[test]
    fn matches_burn_conv3d_through_autodiff() {
        let device = Device::flex();
        for (c_in, c_out, dims, k, stride) in [
            (3usize, 4usize, [7usize, 6, 9], 3usize, 1usize),
            (4, 6, [8, 7, 6], 3, 2),
            (5, 3, [4, 5, 6], 1, 1),
        ] {
            let p = k / 2;
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<5>::random([2, c_in, dims[0], dims[1], dims[2]], normal, &device);
            let w = Tensor::<5>::random([c_out, c_in, k, k, k], normal, &device);
            let bias = Tensor::<1>::random([c_out], normal, &device);
            let out_dims: Vec<usize> = dims.iter().map(|d| (d + 2 * p - k) / stride + 1).collect();
            let g = Tensor::<5>::random(
                [2, c_out, out_dims[0], out_dims[1], out_dims[2]],
                normal,
                &device,
            );
            let ours = grads_of(
                |x, w, b| conv3d(x, w, b, [stride; 3], [p; 3]),
                [&x, &w, &g],
                &bias,
            );
            let burns = grads_of(
                |x, w, b| burn::tensor::module::conv3d(x, w, Some(b), options([stride; 3], [p; 3])),
                [&x, &w, &g],
                &bias,
            );
            for (what, (a, b)) in ["output", "dx", "dw", "db"]
                .iter()
                .zip(ours.iter().zip(&burns))
            {
                let scale = b.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                let worst = a
                    .iter()
                    .zip(b)
                    .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    worst <= 1e-5 * scale.max(1.0) * 10.0,
                    "{what} k{k} s{stride}: {worst} of {scale}"
                );
            }
        }
    }
}
