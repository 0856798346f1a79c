//! The CLoE network in Burn: configuration, building blocks, trilinear upsampling, expert consistency,
//! gating, the network with separate expert and fusion paths, contrastive heads, and model folders.

mod blocks;
mod config;
mod consistency;
mod contrast_head;
mod flops;
mod gating;
mod input;
mod network;
mod persist;

pub use crate::ops::upsample2x;
pub use blocks::{ConvBlock, Decoder, Encoder, Features};
pub use config::{Ablation, CloeConfig, LossWeights};
pub use consistency::{Consistency, consistency, cosine};
pub use contrast_head::{Codes, ContrastHead, block_mean};
pub use flops::conv_flops;
pub use gating::Gate;
pub use input::{pad, round_up, volume_tensor};
pub use network::{CloeNet, Expert, Fusion, Prediction};
pub use persist::{CONFIG_FILE, WEIGHTS_FILE, load_config, load_model, save_model};

use burn::prelude::*;

/// A tensor's values as `Vec<f32>` (any float dtype is converted).
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    crate::ops::profile::count_readback();
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("a float tensor reads back as f32")
}
