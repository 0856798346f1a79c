//! `cloe train`, `segment` and `eval` on a small synthetic prostate dataset made here (synthetic volumes
//! test the plumbing, never a claim about real scans): files written, geometry, label convention, the
//! report, a killed-and-resumed run that reproduces the uninterrupted one's losses, and fine-tuning with batches.

mod common;
use common::{cloe, synthetic_prostate as dataset, train_args};
use std::path::Path;

fn log_rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("train-log.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(3).collect::<Vec<_>>().join(","))
        .collect()
}

/// The next pseudo-random delay in `base..base + span` ms (a fixed LCG: the kill schedule is repeatable
/// in intent, the moments it hits vary with the machine's speed).
fn next_delay(seed: &mut u64, base: u64, span: u64) -> std::time::Duration {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    std::time::Duration::from_millis(base + (*seed >> 33) % span)
}

/// `cloe segment CASE --model MODEL --out OUT` with `extra` arguments.
fn segment(case: &Path, model: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "segment",
        case.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    cloe(&args)
}

#[test]
fn train_resume_segment_and_eval_on_a_synthetic_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let (d, a, b) = (
        data.to_str().unwrap(),
        tmp.path().join("a"),
        tmp.path().join("b"),
    );

    // Uninterrupted: 4 steps.
    // The prepared cases are kept in `cache` by the first run and read back by the others.
    let cache = tmp.path().join("prepared");
    let c = cache.to_str().unwrap();
    let (code, out, err) = cloe(&train_args(d, a.to_str().unwrap(), "4", c));
    assert_eq!(code, 0, "{out}{err}");
    // A second run into the same folder is refused (the model there is kept) unless told to replace.
    let before = std::fs::read(a.join("model.bpk")).unwrap();
    let (code, _, err) = cloe(&train_args(d, a.to_str().unwrap(), "1", c));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already holds a model"), "{err}");
    assert_eq!(std::fs::read(a.join("model.bpk")).unwrap(), before);
    for f in [
        "config.json",
        "model.bpk",
        "train-log.csv",
        "checkpoint/state.json",
        "checkpoint/optimizer.bpk",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    // The same run cancelled after its second step (as the app's Stop button does), then resumed by
    // the CLI without repeating its options: every step's losses equal the uninterrupted run's.
    let mut opts =
        cloe::train::TrainOptions::new(data.clone(), b.clone(), cloe::case::Profile::Prostate);
    opts.iterations = 4;
    opts.config.patch = 8;
    opts.config.spacing_mm = 3.0;
    opts.config.channels = 2;
    opts.val_cases = vec!["Synth-2".into()];
    opts.validate_every = 2;
    opts.checkpoint_every = 2;
    opts.seed = 5;
    opts.device = cloe::device::DeviceChoice::Cpu;
    opts.cache_dir = Some(cache.clone());
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let summary = cloe::train::train(
        &opts,
        &mut |e| {
            if let cloe::train::TrainEvent::Step { step: 2, .. } = e {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap();
    assert!(summary.cancelled && summary.steps == 2, "{summary:?}");
    // The resume names no option of the run: the network, losses, seed, validation and step count
    // come from the run's saved options.
    let resume = [
        "train",
        d,
        "--profile",
        "prostate",
        "--out",
        b.to_str().unwrap(),
        "--resume",
        "--device",
        "cpu",
        "--cache-dir",
        c,
    ];
    let (code, _, err) = cloe(&resume);
    assert_eq!(code, 0, "{err}");
    let (ra, rb) = (log_rows(&a), log_rows(&b));
    assert_eq!(ra.len(), 4);
    assert_eq!(
        ra, rb,
        "the resumed run's losses differ from the uninterrupted run's"
    );

    // Segment one case with two modalities, then with ADC only.
    let case = data.join("Synth-1");
    let labels = tmp.path().join("labels.nii.gz");
    let report = tmp.path().join("report.json");
    let experts = tmp.path().join("experts");
    let (code, out, err) = segment(
        &case,
        &a,
        &labels,
        &[
            "--report",
            report.to_str().unwrap(),
            "--experts",
            experts.to_str().unwrap(),
            "--device",
            "cpu",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let written = cloe::io::read_volume(&labels, Default::default()).unwrap();
    let input =
        cloe::io::read_volume(&case.join("Synth-1_t2w.nii.gz"), Default::default()).unwrap();
    assert!(
        written.grid.same_as(&input.grid),
        "label map on the input grid"
    );
    assert!(
        written.data.iter().all(|v| [0.0, 1.0, 2.0].contains(v)),
        "prostate convention"
    );
    assert!(
        experts.join("expert_t2.nii.gz").is_file() && experts.join("expert_adc.nii.gz").is_file()
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let w: f64 = r["modalities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["w"].as_f64().unwrap())
        .sum();
    assert!((w - 1.0).abs() < 1e-4, "{r}");
    assert_eq!(r["modalities"][0]["used"], true);
    // Region volumes: PZ and TZ each the ml of their label value.
    for (region, value) in [("PZ", 1), ("TZ", 2)] {
        let ml = r["measurements"]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["region"] == region)
            .map(|x| x["ml"].as_f64().unwrap())
            .unwrap();
        let label_ml = r["labels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x[0] == value)
            .map(|x| x[2].as_f64().unwrap())
            .unwrap();
        assert!((ml - label_ml).abs() < 1e-9, "{region}: {ml} vs {label_ml}");
    }

    let only_adc = tmp.path().join("adc.nii.gz");
    let report2 = tmp.path().join("report2.json");
    let (code, _, err) = segment(
        &case,
        &a,
        &only_adc,
        &["--modalities", "adc", "--report", report2.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report2).unwrap()).unwrap();
    assert_eq!(
        (
            r["modalities"][0]["used"].clone(),
            r["modalities"][0]["w"].as_f64()
        ),
        (serde_json::json!(false), Some(0.0))
    );
    assert_eq!(r["modalities"][1]["w"].as_f64(), Some(1.0));
    // Never over an input, and not over an existing output without --force.
    let (code, _, err) = segment(&case, &a, &labels, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("exists"), "{err}");
    let input_path = case.join("Synth-1_label.nii.gz");
    let (code, _, err) = segment(&case, &a, &input_path, &["--force"]);
    assert_eq!(code, 2);
    assert!(err.contains("input files"), "{err}");

    // Evaluate: the paper's layout for the prostate profile (T2, ADC, Full).
    let table = tmp.path().join("eval.md");
    let csv = tmp.path().join("eval.csv");
    let (code, out, err) = cloe(&[
        "eval",
        d,
        "--model",
        a.to_str().unwrap(),
        "--out",
        table.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let md = std::fs::read_to_string(&table).unwrap();
    assert!(md.contains("| region | T2 | ADC | Full | Avg |"), "{md}");
    assert!(md.contains("| PZ |") && md.contains("HD95"), "{md}");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap().lines().count(),
        1 + 3 * 3 * 2,
        "3 cases x 3 subsets x 2 regions"
    );
    assert!(md.contains("Post-processing: none."), "{md}");

    // Choosing the post-processing: every combination scored, one chosen and written into the model.
    let (code, out, err) = cloe(&[
        "eval",
        d,
        "--model",
        a.to_str().unwrap(),
        "--fit-postprocessing",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("| nothing") && out.contains("| PZ, TZ"),
        "{out}"
    );
    assert_eq!(out.matches("(chosen)").count(), 1, "{out}");
    let cfg = cloe::model::load_config(&a).unwrap();
    let chosen = if cfg.postprocess.is_none() {
        "none".to_string()
    } else {
        format!(
            "keep the largest component of {}",
            cfg.postprocess.keep_largest.join(", ")
        )
    };
    assert!(
        out.contains(&format!("Post-processing: {chosen}.")),
        "{out}"
    );

    // A model that keeps only the largest component of each zone segments with one component each.
    let mut cfg = cfg;
    cfg.postprocess.keep_largest = vec!["PZ".into(), "TZ".into()];
    cloe::model::save_config(&cfg, &a).unwrap();
    let post = tmp.path().join("post.nii.gz");
    let (code, out, err) = segment(&data.join("Synth-0"), &a, &post, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let v = cloe::io::read_volume(&post, Default::default()).unwrap();
    for zone in [1.0, 2.0] {
        let mask: Vec<bool> = v.data.iter().map(|&c| c == zone).collect();
        let (_, sizes) = cloe::postprocess::components(&mask, v.grid.dims);
        assert!(
            sizes.len() <= 2,
            "zone {zone}: {} components",
            sizes.len() - 1
        );
    }
}

#[test]
fn fine_tuning_starts_from_the_given_model_and_batches_patches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let d = data.to_str().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let cache = tmp.path().join("prepared");
    let cache = cache.to_str().unwrap();
    let (code, out, err) = cloe(&train_args(d, a.to_str().unwrap(), "2", cache));
    assert_eq!(code, 0, "{out}{err}");

    // One step of 3 patches at learning rate 0 from model a: the weights must be a's.
    let mut tune = train_args(d, b.to_str().unwrap(), "1", cache);
    tune.extend_from_slice(&["--init", a.to_str().unwrap(), "--batch", "3", "--lr", "0"]);
    let (code, out, err) = cloe(&tune);
    assert_eq!(code, 0, "{out}{err}");
    let device = burn::prelude::Device::flex();
    let (ma, mb) = (
        cloe::model::load_model(&a, &device).unwrap(),
        cloe::model::load_model(&b, &device).unwrap(),
    );
    // Fixed inputs, not the device's random generator: it is shared with the training run of the
    // other test in this process, whose style latents must see only their own seeds.
    let x: Vec<burn::prelude::Tensor<5>> = (0..2)
        .map(|m| {
            let v: Vec<f32> = (0..512)
                .map(|i| ((i * 37 + m * 11) % 17) as f32 / 8.0 - 1.0)
                .collect();
            burn::prelude::Tensor::from_data(
                burn::tensor::TensorData::new(v, [1, 1, 8, 8, 8]),
                &device,
            )
        })
        .collect();
    let probs = |m: &cloe::model::CloeNet| {
        cloe::model::to_vec(
            m.forward_masked(
                &x,
                &cloe::case::Subset::from_mask(m.config().profile, &[true, true]),
            )
            .fusion
            .probs,
        )
    };
    assert_eq!(probs(&ma), probs(&mb), "fine-tuning did not start from a");
    let options = std::fs::read_to_string(b.join("train-options.json")).unwrap();
    assert!(options.contains("\"batch\": 3"), "{options}");
    assert_eq!(log_rows(&b).len(), 1);

    // A model of another size is refused with a message that says which size differs.
    let c = tmp.path().join("c");
    let mut wrong = train_args(d, c.to_str().unwrap(), "1", cache);
    wrong.extend_from_slice(&["--init", a.to_str().unwrap()]);
    let at = wrong.iter().position(|s| *s == "--channels").unwrap();
    wrong[at + 1] = "4";
    let (code, _, err) = cloe(&wrong);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("channels is 4 here but 2"), "{err}");
}

#[test]
fn a_prepared_training_set_trains_without_its_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let prepared = tmp.path().join("prepared");
    let p = prepared.to_str().unwrap();
    let (code, out, err) = cloe(&[
        "prepare",
        data.to_str().unwrap(),
        "--profile",
        "prostate",
        "--out",
        p,
        "--spacing",
        "3",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("prepared 3 cases at 3 mm"), "{out}");
    // The sources are gone; the prepared folder alone trains.
    std::fs::remove_dir_all(&data).unwrap();
    let model = tmp.path().join("m");
    let cache = tmp.path().join("cache");
    let args = train_args(p, model.to_str().unwrap(), "2", cache.to_str().unwrap());
    let (code, out, err) = cloe(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(log_rows(&model).len(), 2);
    // Another spacing than the prepared one is refused with both named.
    let n = tmp.path().join("n");
    let mut other = train_args(p, n.to_str().unwrap(), "1", cache.to_str().unwrap());
    let at = other.iter().position(|s| *s == "--spacing").unwrap();
    other[at + 1] = "2";
    let (code, _, err) = cloe(&other);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at 3 mm") && err.contains("at 2 mm"), "{err}");
}

#[test]
fn training_killed_at_random_moments_resumes_from_whole_checkpoints_with_the_same_losses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let cache = tmp.path().join("prepared");
    let (d, c) = (data.to_str().unwrap(), cache.to_str().unwrap());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let args = |out: &Path| -> Vec<String> {
        let mut v: Vec<String> = train_args(d, out.to_str().unwrap(), "300", c)
            .into_iter()
            .map(str::to_string)
            .collect();
        let i = v.iter().position(|x| x == "--checkpoint-every").unwrap();
        v[i + 1] = "1".into();
        v
    };
    // Uninterrupted.
    let a_args = args(&a);
    let (code, _, err) = cloe(&a_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");

    // The same run killed with SIGKILL at pseudo-random moments, each time resumed from what is on disk.
    let mut seed = 12345u64;
    let mut kills = 0;
    for attempt in 0..40 {
        let whole = ["checkpoint", "checkpoint.new", "checkpoint.old"]
            .iter()
            .any(|f| b.join(f).join("state.json").is_file());
        let mut run = args(&b);
        run.push(if whole { "--resume" } else { "--replace" }.into());
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cloe"))
            .args(&run)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(next_delay(&mut seed, 40, 900));
        if child.try_wait().unwrap().is_none() && attempt < 30 {
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
            continue;
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        break;
    }
    assert!(
        kills >= 3,
        "only {kills} runs were killed: the test did not test"
    );
    let (ra, rb) = (log_rows(&a), log_rows(&b));
    let first = (0..ra.len().max(rb.len())).find(|&i| ra.get(i) != rb.get(i));
    assert!(
        first.is_none(),
        "the killed and resumed run's losses differ from the uninterrupted run's at row {first:?} \
         ({} rows against {}): {:?} vs {:?}",
        ra.len(),
        rb.len(),
        first.and_then(|i| ra.get(i)),
        first.and_then(|i| rb.get(i))
    );
    // Nothing half-written is left: no swap folders, no temporary files.
    for dir in [b.clone(), b.join("checkpoint")] {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".tmp-") && !name.starts_with("checkpoint."),
                "{name} left in {}",
                dir.display()
            );
        }
    }
    let model = cloe::model::load_model(&b, &burn::prelude::Device::flex());
    assert!(model.is_ok(), "the kept model loads: {:?}", model.err());
}

#[test]
fn segment_killed_at_random_moments_leaves_the_old_output_or_the_whole_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let (model, cache) = (tmp.path().join("model"), tmp.path().join("prepared"));
    let (code, _, err) = cloe(&train_args(
        data.to_str().unwrap(),
        model.to_str().unwrap(),
        "2",
        cache.to_str().unwrap(),
    ));
    assert_eq!(code, 0, "{err}");
    let case = data.join("Synth-1");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let (labels, probs) = (
        out_dir.join("labels.nii.gz"),
        out_dir.join("probabilities.nii.gz"),
    );
    let args: Vec<String> = [
        "segment",
        case.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        labels.to_str().unwrap(),
        "--probabilities",
        probs.to_str().unwrap(),
        "--device",
        "cpu",
        "--force",
    ]
    .map(str::to_string)
    .to_vec();
    let run = || cloe(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // The reference outputs of a whole run.
    let (code, _, err) = run();
    assert_eq!(code, 0, "{err}");
    let (new_labels, new_probs) = (
        std::fs::read(&labels).unwrap(),
        std::fs::read(&probs).unwrap(),
    );
    let (old_labels, old_probs) = (&b"old labels"[..], &b"old probabilities"[..]);
    let mut seed = 777u64;
    let mut outcomes = std::collections::BTreeSet::new();
    for _ in 0..12 {
        // The outputs start as other files ("old"); the run overwrites them (--force) and is killed.
        std::fs::write(&labels, old_labels).unwrap();
        std::fs::write(&probs, old_probs).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cloe"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(next_delay(&mut seed, 20, 400));
        let _ = child.kill();
        child.wait().unwrap();
        for (path, old, new) in [
            (&labels, old_labels, &new_labels),
            (&probs, old_probs, &new_probs),
        ] {
            let now = std::fs::read(path).unwrap();
            let whole_new = now == **new;
            assert!(
                now == old || whole_new,
                "{} is torn ({} bytes)",
                path.display(),
                now.len()
            );
            outcomes.insert(whole_new);
        }
    }
    // A whole run after the kills is not tripped by anything they left.
    let (code, _, err) = run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&labels).unwrap(), new_labels);
    eprintln!("outcomes seen (true = the new file): {outcomes:?}");
}

/// The `*.nii.gz` label maps of a batch folder, by name.
fn batch_labels(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    (std::fs::read_dir(dir).unwrap().flatten())
        .map(|e| e.path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .filter(|(name, _)| name.ends_with(".nii.gz") && !name.starts_with('.'))
        .map(|(name, p)| (name, std::fs::read(&p).unwrap()))
        .collect()
}

/// The case ids of a batch folder's summary.csv with their status.
fn summary_rows(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    (text.lines().skip(1))
        .map(|l| {
            let mut cells = l.split(',');
            let id = cells.next().unwrap().to_string();
            (id, cells.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn a_folder_of_cases_segmented_in_shards_and_after_kills_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let (model, cache) = (tmp.path().join("model"), tmp.path().join("prepared"));
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    let (code, _, err) = cloe(&train_args(d, m, "2", cache.to_str().unwrap()));
    assert_eq!(code, 0, "{err}");
    // The whole folder at once: the reference.
    let whole = tmp.path().join("whole");
    let (code, out, err) = segment(&data, &model, &whole, &["--device", "cpu"]);
    assert_eq!(code, 0, "{out}{err}");
    let reference = batch_labels(&whole);
    assert_eq!(reference.len(), 3, "{reference:?}");
    let rows = summary_rows(&whole);
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|(_, status)| status == "segmented"),
        "{rows:?}"
    );
    // Two shards cover the folder exactly once, with the same labels.
    let mut seen = std::collections::BTreeMap::new();
    for shard in ["0/2", "1/2"] {
        let dir = tmp.path().join(format!("shard{}", &shard[..1]));
        let (code, _, err) = segment(&data, &model, &dir, &["--shard", shard, "--device", "cpu"]);
        assert_eq!(code, 0, "{err}");
        for (name, bytes) in batch_labels(&dir) {
            assert!(seen.insert(name, bytes).is_none(), "a case in both shards");
        }
    }
    assert_eq!(seen, reference);
    // Killed at random moments, then run again: the rest is done and the folder is whole.
    let killed = tmp.path().join("killed");
    let args = [
        "segment",
        d,
        "--model",
        m,
        "--out",
        killed.to_str().unwrap(),
        "--device",
        "cpu",
    ];
    let mut seed = 4242u64;
    let mut partial = 0;
    for _ in 0..6 {
        let _ = std::fs::remove_dir_all(&killed);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cloe"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(next_delay(&mut seed, 5, 150));
        let _ = child.kill();
        child.wait().unwrap();
        partial += usize::from(batch_labels(&killed).len() < 3);
        let (code, out, err) = cloe(&args);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(batch_labels(&killed), reference);
        assert_eq!(summary_rows(&killed).len(), 3);
    }
    eprintln!("runs killed before the folder was whole: {partial} of 6");
    // A flag that names one case's output is refused before any work.
    let (code, _, err) = segment(&data, &model, &whole, &["--report", "r.json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--report") && err.contains("summary.csv"),
        "{err}"
    );
}
