//! The network's configuration: every number of the architecture and the losses is a field here, saved
//! as `config.json` next to the weights.

use crate::case::Profile;
use crate::postprocess::PostProcess;
use serde::{Deserialize, Serialize};

/// Switches of the paper's Table 3 ablation. All on is CLoE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ablation {
    /// Modality Expert Consistency loss (eq. 3).
    pub mec: bool,
    /// Region Expert Consistency loss (eq. 5).
    pub rec: bool,
    /// The learned gating MLP; off: w ∝ u + v over the available experts.
    pub gating: bool,
    /// Consistency-weighted fusion; off: a plain mean of the available experts' features.
    pub weighted_fusion: bool,
}

impl Default for Ablation {
    fn default() -> Self {
        Self {
            mec: true,
            rec: true,
            gating: true,
            weighted_fusion: true,
        }
    }
}

/// What the gating MLP sees of the consistency scores (u_m, v_m).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateInput {
    /// The scores as they are (eq. 7). Trained, the experts' scores differ by about 0.01 while their
    /// common part is about 0.9: the gradient reaching the shared MLP is the softmax-weighted sum of
    /// per-expert terms that nearly cancel, so the gate barely learns and its weights stay uniform.
    #[default]
    Raw,
    /// Each score standardised over the sample's available experts (zero mean, unit spread; all zero
    /// when the experts agree exactly), so the MLP sees which expert is more consistent than the others.
    Standardized,
}

/// Loss weights of eq. 8–11 and the contrastive term's own constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    /// α: weight of L_ECL in L_total.
    pub alpha: f64,
    /// β: weight of L_contrast in L_total.
    pub beta: f64,
    /// η: weight of the mutual-consistency part of L_ECL.
    pub eta: f64,
    /// λ_rec: weight of REC against MEC.
    pub lambda_rec: f64,
    /// τ: temperature of the contrastive log-sigmoid terms.
    pub tau: f64,
    /// γ: weight of the reconstruction and KL terms inside L_contrast.
    pub gamma: f64,
    /// Weight of the KL term relative to the L1 reconstruction.
    pub kl: f64,
    /// Weight of the region-map supervision (`loss::region_supervision`); 0 is the paper's CLoE.
    #[serde(default)]
    pub region: f64,
    /// Weight of a soft Dice on the profile's evaluated regions (for BraTS WT, TC, ET as sums of the
    /// class probabilities) beside the per-class one, in every segmentation term (nnU-Net's
    /// region-based training, kept on the paper's softmax outputs); 0 is the paper's CLoE.
    #[serde(default)]
    pub region_dice: f64,
}

impl LossWeights {
    /// The paper's weights (α = 1, β = 0.1, η = 0.1, λ_rec = 1) and DC-Seg's constants.
    pub const DEFAULT: LossWeights = LossWeights {
        alpha: 1.0,
        beta: 0.1,
        eta: 0.1,
        lambda_rec: 1.0,
        tau: 1.0,
        gamma: 1.0,
        kl: 0.01,
        region: 0.0,
        region_dice: 0.0,
    };
}

impl Default for LossWeights {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The CLoE network's shape and training constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloeConfig {
    /// The version of this file's layout ([`CloeConfig::FORMAT`]); configs saved before it existed
    /// read as 1. A later format is refused with "update CLoE Studio".
    #[serde(default = "CloeConfig::first_format")]
    pub format: u32,
    /// Which profile the model serves (fixes the modalities and classes).
    pub profile: Profile,
    /// Number of modalities M (4 for BraTS, 2 for prostate).
    pub modalities: usize,
    /// Number of classes K, background included.
    pub classes: usize,
    /// Base channels C: the levels have C·(1, 2, 4, 8).
    pub channels: usize,
    /// Slope of the LeakyReLU.
    pub leaky_slope: f64,
    /// Hidden width of the gating MLP (2 → hidden → 1).
    pub gate_hidden: usize,
    /// Channels of the content code and size of the style code (L_contrast).
    pub content_channels: usize,
    pub style_dim: usize,
    /// ε of the cosine similarity (eq. 2).
    pub cosine_eps: f64,
    /// Model spacing in mm (isotropic) and patch size in voxels (cube).
    pub spacing_mm: f64,
    pub patch: usize,
    pub ablation: Ablation,
    pub loss: LossWeights,
    /// What the gate sees of (u, v); models saved before this switch read as `raw`.
    #[serde(default)]
    pub gate_input: GateInput,
    /// Deep supervision of the fusion decoder (nnU-Net): 1×1×1 heads on its 1/4- and 1/2-resolution
    /// levels, trained against the downsampled target; inference reads only the full resolution. Off in
    /// models saved before this switch.
    #[serde(default)]
    pub deep_supervision: bool,
    /// The region head π sees context (a change to the paper, whose π is one 1×1×1 convolution of the
    /// averaged shallow features f1): the averaged f1, f2 and f3, the deeper two upsampled to full
    /// resolution, through a 1×1×1 conv block before π. Off in models saved before this switch.
    #[serde(default)]
    pub region_context: bool,
    /// What is done to a segmentation after the network (chosen on validation cases by
    /// `cloe eval --fit-postprocessing`; nothing for a model without the decision).
    #[serde(default, skip_serializing_if = "PostProcess::is_none")]
    pub postprocess: PostProcess,
}

impl CloeConfig {
    /// The config layout this version writes and the newest it reads.
    pub const FORMAT: u32 = 1;

    fn first_format() -> u32 {
        1
    }

    /// Base channels of the default model.
    pub const DEFAULT_CHANNELS: usize = 8;
    /// Patch side of the default model: 48³ costs half a 64³ step on the CPU (benches/README.md) and is
    /// what the shipped model uses.
    pub const DEFAULT_PATCH: usize = 48;
    /// Model spacing of the default model, mm.
    pub const DEFAULT_SPACING_MM: f64 = 2.0;

    /// The default model of a profile: 2 mm, 48³ patches, C = 8. Every other default of the CLI, the
    /// Training page and the benchmarks comes from here and from `TrainOptions`.
    pub fn for_profile(profile: Profile) -> Self {
        Self {
            format: Self::FORMAT,
            profile,
            modalities: profile.modalities().len(),
            classes: profile.classes().len(),
            channels: Self::DEFAULT_CHANNELS,
            leaky_slope: 0.2,
            gate_hidden: 16,
            content_channels: 8,
            style_dim: 8,
            cosine_eps: 1e-8,
            spacing_mm: Self::DEFAULT_SPACING_MM,
            patch: Self::DEFAULT_PATCH,
            ablation: Ablation::default(),
            loss: LossWeights::DEFAULT,
            gate_input: GateInput::Raw,
            deep_supervision: false,
            region_context: false,
            postprocess: PostProcess::none(),
        }
    }

    /// Channels of level `l` (0-based): C·2^l.
    pub fn level_channels(&self, l: usize) -> usize {
        self.channels << l
    }

    /// Checks that weights saved with `other` fit a network built from `self` (same profile, channels,
    /// gate and contrast-head sizes); spacing, patch, losses and ablations may differ. The message names
    /// the first field that differs.
    pub fn same_architecture(&self, other: &CloeConfig) -> Result<(), String> {
        let fields = [
            ("modalities", self.modalities, other.modalities),
            ("classes", self.classes, other.classes),
            ("channels", self.channels, other.channels),
            ("gate_hidden", self.gate_hidden, other.gate_hidden),
            (
                "content_channels",
                self.content_channels,
                other.content_channels,
            ),
            ("style_dim", self.style_dim, other.style_dim),
        ];
        if self.profile != other.profile {
            return Err(format!(
                "the profile is {} here but {} in the other model",
                self.profile, other.profile
            ));
        }
        match fields.iter().find(|(_, a, b)| a != b) {
            Some((name, a, b)) => Err(format!("{name} is {a} here but {b} in the other model")),
            None => Ok(()),
        }
    }

    /// Checks the numbers make a network; the message says which field is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.modalities != self.profile.modalities().len() {
            return Err(format!(
                "modalities is {} but the {} profile has {}",
                self.modalities,
                self.profile,
                self.profile.modalities().len()
            ));
        }
        if self.classes != self.profile.classes().len() {
            return Err(format!(
                "classes is {} but the {} profile has {}",
                self.classes,
                self.profile,
                self.profile.classes().len()
            ));
        }
        if self.channels == 0
            || self.gate_hidden == 0
            || self.content_channels == 0
            || self.style_dim == 0
        {
            return Err(
                "channels, gate_hidden, content_channels and style_dim must be positive".into(),
            );
        }
        if self.patch == 0 || !self.patch.is_multiple_of(8) {
            return Err(format!(
                "patch is {}; it must be a positive multiple of 8 (three halvings)",
                self.patch
            ));
        }
        if self.spacing_mm.is_nan() || self.spacing_mm <= 0.0 {
            return Err(format!(
                "spacing_mm is {}; it must be positive",
                self.spacing_mm
            ));
        }
        Ok(())
    }
}
