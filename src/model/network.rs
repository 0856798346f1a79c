//! The CLoE network (paper §2, Fig. 1): one encoder per modality, the weight-shared expert decoder, the
//! region head, consistency-driven gating, multiscale weighted fusion and the fusion decoder. The expert
//! path (per modality) and the fusion path run separately, so a viewer can cache experts and re-fuse
//! when a modality is switched on or off without running any encoder again.

use super::blocks::{ConvBlock, Decoder, Encoder, Features};
use super::config::CloeConfig;
use super::consistency::{Consistency, consistency};
use super::contrast_head::{Codes, ContrastHead};
use super::gating::Gate;
use crate::case::Subset;
use burn::module::{ModuleVisitor, Param, ParamId};
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Gradients;
use burn::tensor::activation::{sigmoid, softmax};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while [`one_modality_at_a_time`] runs.
static ONE_AT_A_TIME: AtomicBool = AtomicBool::new(false);

/// Runs `f` with the experts of an inference computed one modality after another (as in training),
/// so that the kernels' own timings add up to the time it takes (`cloe bench --profile`).
pub fn one_modality_at_a_time<T>(f: impl FnOnce() -> T) -> T {
    ONE_AT_A_TIME.store(true, Ordering::Relaxed);
    let out = f();
    ONE_AT_A_TIME.store(false, Ordering::Relaxed);
    out
}

/// The network. Build with [`CloeNet::new`]; its shape comes from a [`CloeConfig`].
#[derive(Module, Debug)]
pub struct CloeNet {
    encoders: Vec<Encoder>,
    expert_decoder: Decoder,
    fusion_decoder: Decoder,
    region_head: Conv3d,
    /// The context π sees before `region_head` when `region_context` is on.
    region_context: Option<ConvBlock>,
    /// Deep supervision heads of D_fuse (1/4 and 1/2 resolution) when `deep_supervision` is on.
    deep_heads: Vec<Conv3d>,
    gate: Gate,
    contrast: ContrastHead,
    #[module(skip)]
    config: CloeConfig,
}

/// The ids of a module's float parameters.
#[derive(Default)]
struct ParamIds(Vec<ParamId>);

impl ModuleVisitor for ParamIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id);
    }
}

/// One modality's expert: its features and its own prediction p(m).
#[derive(Debug, Clone)]
pub struct Expert {
    pub features: Features,
    /// Class logits and probabilities `[B, K, D, H, W]`.
    pub logits: Tensor<5>,
    pub probs: Tensor<5>,
}

/// The fused result for one availability pattern.
#[derive(Debug, Clone)]
pub struct Fusion {
    /// Fused class logits and probabilities `[B, K, D, H, W]`.
    pub logits: Tensor<5>,
    pub probs: Tensor<5>,
    /// REC region map r `[B, 1, D, H, W]`.
    pub region: Tensor<5>,
    /// Scores and fusion weights over all M modalities `[B, M]`, 0 for the missing ones.
    pub u: Tensor<2>,
    pub v: Tensor<2>,
    pub w: Tensor<2>,
    /// L_MEC and L_REC of the available experts `[1]`.
    pub mec: Tensor<1>,
    pub rec: Tensor<1>,
    /// Class logits of D_fuse at 1/4 and 1/2 resolution (deep supervision; empty when it is off).
    pub deep_logits: Vec<Tensor<5>>,
}

/// Everything one forward gives: the experts (None where missing) and the fusion.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub experts: Vec<Option<Expert>>,
    pub fusion: Fusion,
}

impl CloeNet {
    /// A freshly initialised network on `device` (its convolution weights stored as the device's
    /// convolutions read them: [`crate::ops::weights_for_device`]).
    pub fn new(config: &CloeConfig, device: &Device) -> Self {
        crate::ops::weights_for_device(Self::to_load(config, device), device)
    }

    /// A network whose weights are to be read from a file next: initialised, not yet stored for the
    /// device (the caller does that after loading, [`crate::ops::weights_for_device`]).
    pub(crate) fn to_load(config: &CloeConfig, device: &Device) -> Self {
        let (c, slope) = (config.channels, config.leaky_slope);
        Self {
            encoders: (0..config.modalities)
                .map(|_| Encoder::new(c, slope, device))
                .collect(),
            expert_decoder: Decoder::new(c, config.classes, slope, device),
            fusion_decoder: Decoder::new(c, config.classes, slope, device),
            region_head: Conv3dConfig::new([c, 1], [1, 1, 1]).init(device),
            region_context: config
                .region_context
                .then(|| ConvBlock::new(7 * c, c, 1, 1, slope, device)),
            deep_heads: if config.deep_supervision {
                [4 * c, 2 * c]
                    .map(|ch| Conv3dConfig::new([ch, config.classes], [1, 1, 1]).init(device))
                    .to_vec()
            } else {
                Vec::new()
            },
            gate: Gate::new(config.gate_hidden, device),
            contrast: ContrastHead::new(
                config.level_channels(3),
                config.content_channels,
                config.style_dim,
                device,
            ),
            config: config.clone(),
        }
    }

    /// The configuration the network was built from.
    pub fn config(&self) -> &CloeConfig {
        &self.config
    }

    /// The same network with another post-processing decision (the weights are shared).
    pub fn with_postprocess(mut self, postprocess: crate::postprocess::PostProcess) -> Self {
        self.config.postprocess = postprocess;
        self
    }

    /// The expert path of modality `m`: encoder Φm and the shared decoder D_sep on `x` `[B, 1, D, H, W]`.
    pub fn expert(&self, m: usize, x: Tensor<5>) -> Expert {
        self.decode_expert(self.encoders[m].forward(x))
    }

    /// D_sep on one modality's features.
    fn decode_expert(&self, features: Features) -> Expert {
        let logits = self.expert_decoder.forward(&features);
        let probs = softmax(logits.clone(), 1);
        Expert {
            features,
            logits,
            probs,
        }
    }

    /// The expert paths of every available modality (`inputs[m]` is `None` for a missing one): each
    /// modality's own encoder, then the weight-shared decoder D_sep. On a GPU, D_sep runs once on all
    /// the experts stacked along the batch (exact: every operation of the decoder is per sample), so
    /// each of its kernels is launched once, not once per modality. On the CPU there are no launches to
    /// save and the stacked activations only grow the working set (measured 12 % slower), so each
    /// expert is decoded on its own.
    pub fn experts(&self, inputs: &[Option<Tensor<5>>]) -> Vec<Option<Expert>> {
        let first = inputs.iter().flatten().next();
        let cpu_inference =
            |x: &Tensor<5>| crate::ops::use_cpu_kernels(&x.device()) && !x.is_autodiff();
        if first.is_some_and(cpu_inference) && !ONE_AT_A_TIME.load(Ordering::Relaxed) {
            // Inference on the CPU: the modalities at once, so that one's single-threaded
            // element-wise work overlaps another's convolutions.
            return (inputs.par_iter().enumerate())
                .map(|(m, x)| {
                    let x = x.as_ref()?;
                    Some(self.decode_expert(self.encoders[m].forward(x.clone())))
                })
                .collect();
        }
        let features: Vec<Option<Features>> = inputs
            .iter()
            .enumerate()
            .map(|(m, x)| x.as_ref().map(|x| self.encoders[m].forward(x.clone())))
            .collect();
        let present: Vec<&Features> = features.iter().flatten().collect();
        if present.is_empty() {
            return features.into_iter().map(|_| None).collect();
        }
        if crate::ops::use_cpu_kernels(&present[0][0].device()) {
            return features
                .into_iter()
                .map(|f| f.map(|features| self.decode_expert(features)))
                .collect();
        }
        let batch = present[0][0].dims()[0];
        let stacked: Features =
            std::array::from_fn(|l| Tensor::cat(present.iter().map(|f| f[l].clone()).collect(), 0));
        let logits = self.expert_decoder.forward(&stacked);
        let probs = softmax(logits.clone(), 1);
        let mut j = 0;
        features
            .into_iter()
            .map(|f| {
                let features = f?;
                let at = j * batch;
                j += 1;
                Some(Expert {
                    features,
                    logits: logits.clone().narrow(0, at, batch),
                    probs: probs.clone().narrow(0, at, batch),
                })
            })
            .collect()
    }

    /// The gating weights `[B, A]` the network gives experts with consistency scores u, v `[B, A]`.
    pub fn gate_weights(&self, u: Tensor<2>, v: Tensor<2>) -> Tensor<2> {
        self.gate
            .weights(u, v, self.config.ablation, self.config.gate_input)
    }

    /// The same network with a freshly initialised gating MLP (when fine-tuning changes what it sees).
    pub fn with_new_gate(mut self, device: &Device) -> Self {
        self.gate = Gate::new(self.config.gate_hidden, device);
        self
    }

    /// The same network with a freshly initialised region head π (when fine-tuning starts supervising
    /// r: weights fitted to L_REC alone hold r near 0, and Adam moves them back only lr per step).
    pub fn with_new_region_head(mut self, device: &Device) -> Self {
        let c = self.config.channels;
        self.region_head = Conv3dConfig::new([c, 1], [1, 1, 1]).init(device);
        if self.region_context.is_some() {
            let slope = self.config.leaky_slope;
            self.region_context = Some(ConvBlock::new(7 * c, c, 1, 1, slope, device));
        }
        self
    }

    /// Takes the gradients of the two small heads, the gating MLP and the region head π, out of
    /// `grads` (the training loop can step them at a learning rate of their own); the rest stay.
    pub fn take_head_gradients(&self, grads: &mut Gradients) -> GradientsParams {
        let mut ids = ParamIds::default();
        self.gate.visit(&mut ids);
        self.region_head.visit(&mut ids);
        self.region_context.visit(&mut ids);
        GradientsParams::from_params(grads, self, &ids.0)
    }

    /// The fusion path from the available experts (`experts[m]` is `None` for a missing modality):
    /// region map, consistency, gating weights, weighted multiscale fusion and D_fuse.
    /// Panics if no expert is available (callers check the availability mask first).
    pub fn fuse(&self, experts: &[Option<&Expert>]) -> Fusion {
        let available: Vec<(usize, &Expert)> = experts
            .iter()
            .enumerate()
            .filter_map(|(m, e)| e.map(|e| (m, e)))
            .collect();
        assert!(
            !available.is_empty(),
            "fusion needs at least one available modality"
        );
        let region = self.region_map(&available);
        let probs: Vec<Tensor<5>> = available.iter().map(|(_, e)| e.probs.clone()).collect();
        let Consistency { u, v, mec, rec } = consistency(&probs, &region, self.config.cosine_eps);
        let w = self.gate_weights(u.clone(), v.clone());
        // Each expert's weight `[B, 1, 1, 1, 1]`, taken out of w once for the four levels.
        let weights: Vec<Tensor<5>> = (0..available.len())
            .map(|j| w.clone().narrow(1, j, 1).reshape([w.dims()[0], 1, 1, 1, 1]))
            .collect();
        let fused: Features = std::array::from_fn(|l| {
            (available.iter().zip(&weights))
                .map(|((_, e), wj)| e.features[l].clone() * wj.clone())
                .reduce(|x, y| x + y)
                .expect("non-empty")
        });
        let (logits, coarse) = self.fusion_decoder.forward_levels(&fused);
        let deep_logits = self
            .deep_heads
            .iter()
            .zip(coarse)
            .map(|(head, x)| crate::ops::conv3d_module(head, x))
            .collect();
        let probs = softmax(logits.clone(), 1);
        let index: Vec<usize> = available.iter().map(|(m, _)| *m).collect();
        let spread = |t: Tensor<2>| scatter_columns(t, &index, self.config.modalities);
        Fusion {
            logits,
            probs,
            region,
            u: spread(u),
            v: spread(v),
            w: spread(w),
            mec,
            rec,
            deep_logits,
        }
    }

    /// The REC region map r `[B, 1, D, H, W]` of the available experts: π on their averaged shallow
    /// features f1 (the paper), or with `region_context` on the averaged f1, f2 and f3 through a conv
    /// block first.
    fn region_map(&self, available: &[(usize, &Expert)]) -> Tensor<5> {
        let a = available.len() as f64;
        let mean = |l: usize| {
            available
                .iter()
                .map(|(_, e)| e.features[l].clone())
                .reduce(|x, y| x + y)
                .expect("non-empty")
                .div_scalar(a)
        };
        let input = match &self.region_context {
            None => mean(0),
            Some(block) => block.forward_pyramid(mean(0), mean(1), mean(2)),
        };
        sigmoid(one_channel_head(&self.region_head, input))
    }

    /// The full forward: experts for the available inputs, then the fusion. `inputs[m]` is `None` for a
    /// missing modality, which is not encoded at all.
    pub fn forward(&self, inputs: &[Option<Tensor<5>>]) -> Prediction {
        let experts = self.experts(inputs);
        let refs: Vec<Option<&Expert>> = experts.iter().map(Option::as_ref).collect();
        let fusion = self.fuse(&refs);
        Prediction { experts, fusion }
    }

    /// `forward` on one tensor per modality, of which only those of `available` are used.
    pub fn forward_masked(&self, inputs: &[Tensor<5>], available: &Subset) -> Prediction {
        let masked: Vec<Option<Tensor<5>>> = (inputs.iter().enumerate())
            .map(|(m, x)| available.contains(m).then(|| x.clone()))
            .collect();
        self.forward(&masked)
    }

    /// The contrastive codes of an expert (for L_contrast); `noise` samples the style latent.
    pub fn codes(&self, expert: &Expert, noise: Option<Tensor<2>>) -> Codes {
        self.contrast.forward(expert.features[3].clone(), noise)
    }
}

/// A 1×1×1 convolution to one channel (π's head). On a GPU as a weighted sum over the channels:
/// Burn's GPU convolution gives a one-channel output stored channels-last (its channel and x strides
/// both 1), which Burn's fused element-wise kernels can read wrongly (seen on lavapipe: the sigmoid
/// of it differed from the CPU's in all but the first 4 voxels, depending on how the stream fused).
fn one_channel_head(head: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    if crate::device::is_cpu(&x.device()) {
        return crate::ops::conv3d_module(head, x);
    }
    let c = x.dims()[1];
    let logits = (x * head.weight.val().reshape([1, c, 1, 1, 1])).sum_dim(1);
    match &head.bias {
        Some(b) => logits + b.val().reshape([1, 1, 1, 1, 1]),
        None => logits,
    }
}

/// Puts the columns of `t` `[B, A]` at positions `index` of a `[B, M]` tensor, zeros elsewhere.
fn scatter_columns(t: Tensor<2>, index: &[usize], m: usize) -> Tensor<2> {
    if index.iter().copied().eq(0..m) {
        // Every modality present, in order: nothing to move.
        return t;
    }
    let b = t.dims()[0];
    let device = t.device();
    let cols: Vec<Tensor<2>> = (0..m)
        .map(|k| match index.iter().position(|&i| i == k) {
            Some(j) => t.clone().narrow(1, j, 1),
            None => Tensor::zeros([b, 1], &device),
        })
        .collect();
    Tensor::cat(cols, 1)
}
