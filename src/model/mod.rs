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

pub use crate::ops::{to_vec, upsample2x};
pub use blocks::{ConvBlock, Decoder, Encoder, Features};
pub use config::{Ablation, CloeConfig, GateInput, LossWeights};
pub use consistency::{Consistency, consistency, cosine};
pub use contrast_head::{Codes, ContrastHead, block_mean};
pub use flops::conv_flops;
pub use gating::Gate;
pub use input::{pad, round_up, volume_tensor};
pub use network::{CloeNet, Expert, Fusion, Prediction, one_modality_at_a_time};
pub use persist::{
    CONFIG_FILE, WEIGHTS_FILE, load_config, load_model, model_name, save_config, save_model,
};
