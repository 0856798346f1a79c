//! Where a fine-tuning run (`--init`) starts: the weights of another model folder of the same
//! architecture, with a fresh head wherever the new run changes what that head sees or learns.

use crate::error::{CloeError, Result};
use crate::model::CloeNet;
use burn::prelude::*;
use std::path::Path;

/// The weights of the model in `dir` loaded into `model` (built from this run's config). The gating
/// MLP starts afresh when the run changes what it sees (`gate_input`: weights fitted to raw scores
/// mean nothing for standardised ones), and the region head π when the run starts supervising r
/// (`loss.region` from 0 to more: trained by L_REC alone, π holds r near 0 where the experts agree).
pub fn initial_weights(model: CloeNet, dir: &Path, device: &Device) -> Result<CloeNet> {
    let theirs = crate::model::load_config(dir)?;
    model.config().same_architecture(&theirs).map_err(|why| {
        CloeError::Mismatch(format!(
            "cannot start from {}: {why}; train a model of the same size, or start from random \
             weights",
            dir.display()
        ))
    })?;
    let ours = model.config().clone();
    // Parts one model has and the other has not (deep-supervision heads, π's context): new ones start
    // afresh, dropped ones are left behind.
    let added = (ours.deep_supervision && !theirs.deep_supervision)
        || (ours.region_context && !theirs.region_context);
    let dropped = (theirs.deep_supervision && !ours.deep_supervision)
        || (theirs.region_context && !ours.region_context);
    let weights = dir.join(crate::model::WEIGHTS_FILE);
    let cannot = |e: &dyn std::fmt::Display| {
        CloeError::bad_model(
            &weights,
            format!("cannot read the weights to start from: {e}"),
        )
    };
    let record = burn::store::ModuleRecord::load(&weights).map_err(|e| cannot(&e))?;
    let mut model = model
        .try_load_record(record.allow_partial(added).allow_unused(dropped))
        .map_err(|e| cannot(&e))?;
    if theirs.gate_input != ours.gate_input {
        model = model.with_new_gate(device);
    }
    let supervised_anew = theirs.loss.region == 0.0 && ours.loss.region > 0.0;
    if supervised_anew || theirs.region_context != ours.region_context {
        model = model.with_new_region_head(device);
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Profile, Subset};
    use crate::model::{CloeConfig, GateInput, save_model, to_vec};

    fn tiny(region: f64) -> CloeConfig {
        let mut cfg = CloeConfig {
            channels: 2,
            gate_hidden: 4,
            content_channels: 2,
            style_dim: 2,
            patch: 16,
            gate_input: GateInput::Standardized,
            ..CloeConfig::for_profile(Profile::Brats)
        };
        cfg.loss.region = region;
        cfg
    }

    /// Experts' probabilities, region map and gating weights of `net` on fixed inputs.
    fn outputs(net: &CloeNet, device: &Device) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let x: Vec<Tensor<5>> = (0..4)
            .map(|m| {
                let v: Vec<f32> = (0..16 * 16 * 16)
                    .map(|i| ((i * (7 + m) % 23) as f32 - 11.0) / 7.0)
                    .collect();
                Tensor::from_data(TensorData::new(v, [1, 1, 16, 16, 16]), device)
            })
            .collect();
        let p = net.forward_masked(&x, &Subset::from_mask(Profile::Brats, &[true; 4]));
        let experts = p.experts.iter().flatten();
        let experts = experts.flat_map(|e| to_vec(e.probs.clone())).collect();
        (experts, to_vec(p.fusion.region), to_vec(p.fusion.w))
    }

    #[test]
    fn the_region_head_starts_afresh_only_when_r_becomes_supervised() {
        let device = Device::flex();
        device.seed(9);
        let dir = tempfile::tempdir().unwrap();
        let saved = CloeNet::new(&tiny(0.0), &device);
        save_model(&saved, dir.path()).unwrap();
        let (experts, region, w) = outputs(&saved, &device);
        let start = |cfg: CloeConfig| {
            let fresh = CloeNet::new(&cfg, &device);
            outputs(
                &initial_weights(fresh, dir.path(), &device).unwrap(),
                &device,
            )
        };
        // The same job: every weight is the saved one.
        assert_eq!(
            start(tiny(0.0)),
            (experts.clone(), region.clone(), w.clone())
        );
        // Supervising r: a new region head (a new r), the experts as saved. (The gate sees v, which
        // is computed with r, so w is not compared.)
        let (e, r, _) = start(tiny(0.5));
        assert_eq!(e, experts);
        assert_ne!(r, region);
    }

    #[test]
    fn new_parts_start_afresh_and_dropped_parts_are_left_behind() {
        let device = Device::flex();
        device.seed(10);
        let dir = tempfile::tempdir().unwrap();
        let saved = CloeNet::new(&tiny(0.5), &device);
        save_model(&saved, dir.path()).unwrap();
        let (experts, region, _) = outputs(&saved, &device);
        // Deep supervision and π's context added: the experts as saved, a new r, and the deep heads'
        // logits at 1/4 and 1/2 of the patch.
        let mut richer = tiny(0.5);
        (richer.deep_supervision, richer.region_context) = (true, true);
        let grown = initial_weights(CloeNet::new(&richer, &device), dir.path(), &device).unwrap();
        let (e, r, _) = outputs(&grown, &device);
        assert_eq!(e, experts);
        assert_ne!(r, region);
        let x: Vec<Tensor<5>> = (0..4)
            .map(|_| Tensor::ones([1, 1, 16, 16, 16], &device))
            .collect();
        let deep: Vec<[usize; 5]> = (grown
            .forward_masked(&x, &Subset::from_mask(Profile::Brats, &[true; 4]))
            .fusion
            .deep_logits)
            .iter()
            .map(|t| t.dims())
            .collect();
        assert_eq!(deep, vec![[1, 4, 4, 4, 4], [1, 4, 8, 8, 8]]);
        // Back to the plain model from the richer one: the extra weights are left, the rest kept.
        let dir2 = tempfile::tempdir().unwrap();
        save_model(&grown, dir2.path()).unwrap();
        let plain = initial_weights(CloeNet::new(&tiny(0.5), &device), dir2.path(), &device);
        assert_eq!(outputs(&plain.unwrap(), &device).0, experts);
    }
}
