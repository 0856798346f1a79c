//! The training loop itself: a [`Run`] holds the network, the optimizer, the loop's state and its
//! log; it starts fresh, from `--init` weights or from a checkpoint, takes one step at a time (the
//! step's patches cut on the device, the forward, every loss term, the backward, AdamW with the small
//! heads at their own learning rate), validates and keeps the best model, writes checkpoints, and ends
//! with a summary. [`train`] drives it.

use super::checkpoint::{self, LoopState};
use super::clock::ActiveClock;
use super::device_cases::DeviceCases;
use super::sampler::{SamplerCase, draw_batch, step_rng};
use super::validate::validate;
use super::{TrainEvent, TrainOptions, TrainSummary, init, load_cases, training_device};
use crate::case::Subset;
use crate::error::{CloeError, Result};
use crate::io::WriteOptions;
use crate::loss::{LossValues, cloe_loss};
use crate::model::{CloeNet, save_model};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

type Optim = ModuleOptimizer;

/// One training run in progress.
struct Run<'a> {
    opts: &'a TrainOptions,
    /// The device of the validation (the training device without autodiff).
    device: Device,
    /// The network (taken out only while the optimizer steps it).
    model: Option<CloeNet>,
    optim: Optim,
    state: LoopState,
    /// The log's rows so far (`train-log.csv`, written whole at every checkpoint).
    log: String,
    log_path: PathBuf,
}

/// One step's figures.
struct Stepped {
    lr: f64,
    losses: Option<LossValues>,
    subset: Subset,
}

impl<'a> Run<'a> {
    /// A run of `opts` on `device`: fresh weights, the `--init` model's, or the checkpoint's when
    /// resuming (whose cases and split must be these).
    fn begin(
        opts: &'a TrainOptions,
        device: Device,
        train_ids: &[String],
        val_ids: &[String],
    ) -> Result<Self> {
        let ad = device.clone().autodiff();
        ad.seed(opts.seed);
        // Stored for the device below, once the weights to start from are loaded.
        let mut model = CloeNet::to_load(&opts.config, &ad);
        if let Some(dir) = opts.init.as_ref().filter(|_| !opts.resume) {
            model = init::initial_weights(model, dir, &ad)?;
        }
        // Decoupled weight decay (AdamW): with Adam's L2 term the decay dominates the normalised
        // update of parameters whose loss gradients are tiny, and it drove the gating MLP's weights
        // towards zero.
        let optim = AdamWConfig::new()
            .with_weight_decay(opts.weight_decay as f32)
            .init();
        let state = LoopState {
            step: 0,
            best_score: None,
            best_step: None,
            seed: opts.seed,
            train_cases: train_ids.to_vec(),
            val_cases: val_ids.to_vec(),
        };
        let out = &opts.out_dir;
        std::fs::create_dir_all(out).map_err(|e| CloeError::write_failed(out, &e))?;
        // What a killed run of this folder was writing when it died.
        crate::io::remove_stale_temporaries(out);
        let mut run = Self {
            opts,
            device,
            model: Some(model),
            optim,
            state,
            log: String::new(),
            log_path: out.join("train-log.csv"),
        };
        if opts.resume {
            run.resume()?;
        }
        // Weights read from a file come stored as the CPU reads them.
        let model = run.model.take().expect("the network");
        run.model = Some(crate::ops::weights_for_device(model, &ad));
        if run.log.is_empty() {
            let names = LossValues::NAMES.join(",");
            let _ = writeln!(run.log, "step,lr,seconds,subset,{names},val_score");
        }
        save_options(opts)?;
        Ok(run)
    }

    /// The network.
    fn net(&self) -> &CloeNet {
        self.model
            .as_ref()
            .expect("the network is back after every step")
    }

    /// Takes the checkpoint's weights, optimizer and state, and the log up to it.
    fn resume(&mut self) -> Result<()> {
        let model = self.model.take().expect("a network to load into");
        let optim = std::mem::replace(&mut self.optim, fresh());
        let (m, o, s) = checkpoint::load(&self.opts.out_dir, model, optim)?;
        if s.train_cases != self.state.train_cases || s.val_cases != self.state.val_cases {
            return Err(CloeError::Mismatch(
                "cannot resume: the cases or their split differ from the checkpoint's".into(),
            ));
        }
        (self.model, self.optim, self.state) = (Some(m), o, s);
        let old = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        for line in old.lines() {
            let step = line.split(',').next().and_then(|s| s.parse::<usize>().ok());
            if step.is_none_or(|s| s <= self.state.step) {
                let _ = writeln!(self.log, "{line}");
            }
        }
        Ok(())
    }

    /// One optimisation step on the patches the step's seed draws.
    fn step(&mut self, cases: &[SamplerCase], on_device: &DeviceCases) -> Result<Stepped> {
        let (opts, step) = (self.opts, self.state.step);
        let mut rng = step_rng(opts.seed, step);
        let p = opts.config.patch;
        let specs = draw_batch(cases, p, opts.tumour_fraction, opts.batch, &mut rng);
        let (inputs, target) = on_device.batch(cases, &specs);
        let pred = self.net().forward(&inputs);
        let terms = cloe_loss(self.net(), &pred, &inputs, target, &mut rng);
        let logged = (step + 1).is_multiple_of(opts.log_every) || step + 1 == opts.iterations;
        let losses = logged.then(|| terms.values());
        if let Some(total) = losses.map(|l| l.total).filter(|t| !t.is_finite()) {
            return Err(CloeError::Diverged { step, value: total });
        }
        let mut grads = terms.total.backward();
        let lr = opts.lr_at(step);
        // The optimizer takes the network by value: moved out (a clone would keep a second reference
        // to every parameter, and the update could not reuse their buffers).
        let mut model = self
            .model
            .take()
            .expect("the network is back after every step");
        if opts.head_lr_scale != 1.0 {
            let heads = model.take_head_gradients(&mut grads);
            model = self.optim.step(lr * opts.head_lr_scale, model, heads);
        }
        let rest = GradientsParams::from_grads(grads, &model);
        self.model = Some(self.optim.step(lr, model, rest));
        self.state.step += 1;
        let subset = specs[0].subset.clone();
        Ok(Stepped { lr, losses, subset })
    }

    /// The log's row of the step just taken.
    fn row(&self, s: &Stepped, seconds: f64) -> String {
        let mut row = format!(
            "{},{:.6e},{seconds:.3},{}",
            self.state.step,
            s.lr,
            s.subset.bits()
        );
        let values = (s.losses.map(|l| l.values())).unwrap_or([f64::NAN; LossValues::NAMES.len()]);
        for v in values {
            if v.is_nan() {
                row.push(',');
            } else {
                let _ = write!(row, ",{v:.6}");
            }
        }
        row
    }

    /// After a step: validation (keeping the best model) or, without validation cases, the model
    /// itself every checkpoint; the log row; a checkpoint every `checkpoint_every` steps and at the end.
    fn after_step(
        &mut self,
        row: String,
        val_cases: &[SamplerCase],
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<()> {
        let opts = self.opts;
        let step = self.state.step;
        let last = step == opts.iterations;
        let every = |n: usize| step.is_multiple_of(n.max(1)) || last;
        let mut val_score = String::new();
        if !val_cases.is_empty() && every(opts.validate_every) {
            val_score = format!("{:.6}", self.validate(val_cases, on_event)?);
        } else if val_cases.is_empty() && every(opts.checkpoint_every) {
            save_model(&self.net().valid(), &opts.out_dir)?;
        }
        let _ = writeln!(self.log, "{row},{val_score}");
        if every(opts.checkpoint_every) {
            self.checkpoint(on_event)?;
        }
        Ok(())
    }

    /// Writes the log, then the checkpoint: a run killed between the two resumes from the previous
    /// checkpoint and trims the log back to it, never the other way round.
    fn checkpoint(&self, on_event: &mut dyn FnMut(TrainEvent)) -> Result<()> {
        write_text(&self.log_path, &self.log)?;
        checkpoint::save(&self.opts.out_dir, self.net(), &self.optim, &self.state)?;
        on_event(TrainEvent::Checkpoint {
            step: self.state.step,
        });
        Ok(())
    }

    /// Validates, keeps the model when it is the best so far, reports; returns the score.
    fn validate(
        &mut self,
        val_cases: &[SamplerCase],
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<f64> {
        let net = self.net().valid();
        let validation = validate(&net, val_cases, &self.device);
        let state = &mut self.state;
        let best = state.best_score.is_none_or(|b| validation.score > b);
        if best {
            state.best_score = Some(validation.score);
            state.best_step = Some(state.step);
            save_model(&net, &self.opts.out_dir)?;
        }
        let score = validation.score;
        let step = state.step;
        on_event(TrainEvent::Validated {
            step,
            validation,
            best,
        });
        Ok(score)
    }

    /// A run stopped before its last step: the model where it stopped is validated (or saved, without
    /// validation cases) and checkpointed.
    fn stopped(
        &mut self,
        val_cases: &[SamplerCase],
        on_event: &mut dyn FnMut(TrainEvent),
    ) -> Result<()> {
        let opts = self.opts;
        if val_cases.is_empty() {
            save_model(&self.net().valid(), &opts.out_dir)?;
        } else if !self.state.step.is_multiple_of(opts.validate_every.max(1)) {
            // Validate where the run stopped, so a better last model is not lost.
            self.validate(val_cases, on_event)?;
        }
        self.checkpoint(on_event)
    }
}

/// An optimizer with no state yet (what `resume` swaps out for the checkpoint's).
fn fresh() -> Optim {
    AdamWConfig::new().init()
}

/// Runs (or resumes) training. `on_event` sees every event; setting `cancel` stops after the current
/// step with a checkpoint.
pub fn train(
    opts: &TrainOptions,
    on_event: &mut dyn FnMut(TrainEvent),
    cancel: &AtomicBool,
) -> Result<TrainSummary> {
    opts.check()?;
    let (compute, note) = training_device(opts.device)?;
    let ((train_cases, train_ids), (val_cases, val_ids)) = load_cases(opts)?;
    let mut run = Run::begin(opts, compute.device.clone(), &train_ids, &val_ids)?;
    on_event(TrainEvent::Ready(super::Ready {
        train: train_ids,
        val: val_ids,
        device: compute.label.clone(),
        note,
        start_step: run.state.step,
    }));
    let (p, k) = (opts.config.patch, opts.config.classes);
    // The training cases go to the device once; each step cuts its patches there.
    let ad = compute.device.clone().autodiff();
    let on_device = DeviceCases::upload(&train_cases, p, k, &ad);
    let clock = ActiveClock::start();
    let first_step = run.state.step;
    let mut cancelled = false;
    while run.state.step < opts.iterations {
        let out_of_time = (opts.time_limit_seconds).is_some_and(|l| clock.seconds() >= l);
        if cancel.load(Ordering::Relaxed) || out_of_time {
            cancelled = true;
            break;
        }
        let started = clock.seconds();
        let stepped = run.step(&train_cases, &on_device)?;
        let seconds = clock.seconds() - started;
        let done = run.state.step - first_step;
        let row = run.row(&stepped, seconds);
        on_event(TrainEvent::Step {
            step: run.state.step,
            total: opts.iterations,
            lr: stepped.lr,
            losses: stepped.losses,
            subset: stepped.subset,
            seconds,
            eta_seconds: clock.seconds() / done as f64 * (opts.iterations - run.state.step) as f64,
        });
        run.after_step(row, &val_cases, on_event)?;
    }
    if cancelled && run.state.step > first_step {
        run.stopped(&val_cases, on_event)?;
    }
    write_text(&run.log_path, &run.log)?;
    if !opts.out_dir.join(crate::model::WEIGHTS_FILE).exists() {
        save_model(&run.net().valid(), &opts.out_dir)?;
    }
    Ok(TrainSummary {
        steps: run.state.step,
        cancelled,
        best_score: run.state.best_score,
        seconds: clock.seconds(),
        device: compute.label,
    })
}

/// Writes `text` to `path` atomically, replacing it.
fn write_text(path: &std::path::Path, text: &str) -> Result<()> {
    crate::io::write_text(path, text, &WriteOptions::default().overwriting(true))
}

/// Writes the run's options beside the model (`train-options.json`) for the record.
fn save_options(opts: &TrainOptions) -> Result<()> {
    let path = opts.out_dir.join("train-options.json");
    crate::io::write_json(&path, opts, &WriteOptions::default().overwriting(true))
}
