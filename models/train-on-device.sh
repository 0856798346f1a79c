#!/usr/bin/env bash
# One lent GPU lease (the `device` tool, about 15 minutes) turned into training time for models/brats.
# Nothing is built there: the CLI and the training set travel in .gpu/ (ignored by git, 64 MiB in all).
#
# Prepare here, on the development machine:
#
#   echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu
#   cargo build --release && strip -o /tmp/cloe target/release/cloe && xz -T2 -c /tmp/cloe > .gpu/cloe.xz
#   cloe prepare <folder of the labelled BraTS cases> --profile brats --out .gpu/prepared    # ~30 MB
#   mkdir -p .gpu/start && cp models/brats/{config.json,model.bpk} .gpu/start/
#   # (a later lease: the config.json and model.bpk brought back by the last one)
#
# Each lease is one stage: it starts from the weights in .gpu/start (--init; a checkpoint with the
# optimizer's state would not fit in the 64 MiB beside the training set and the CLI) and runs its own
# poly schedule of ITERATIONS steps, sized to finish within TIME_LIMIT seconds.
#
# then, with carry [".gpu"] (and the Vulkan loader .gl/ of the device tool's README):
#
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; TIME_LIMIT=480 bash models/train-on-device.sh
#
# What comes back under $OUT is the run folder (config.json, model.bpk: the best validated weights,
# train-log.csv, train-options.json) and lease.txt (the GPU, its gradient check, the end
# of the log): keep it for the next lease and log the stage in models/brats/README.md.
set -uo pipefail
out=${OUT:-/tmp/train-out}
mkdir -p "$out"
: "${TIME_LIMIT:=480}" "${ITERATIONS:=1500}" "${BATCH:=8}" "${LR:=5e-4}" "${SEED:=21}"
: "${VAL_CASES:=Brats18_2013_11_1,Brats18_CBICA_ABM_1,Brats18_TCIA10_628_1,BraTS2021_00014}"
xz -dc .gpu/cloe.xz > /tmp/cloe && chmod +x /tmp/cloe
run=/tmp/run
rm -rf "$run"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/lease.txt"
/tmp/cloe devices --device gpu --check-gradients 2>&1 | tee -a "$out/lease.txt"
/tmp/cloe train .gpu/prepared --profile brats --out "$run" --init .gpu/start \
  --val-cases "$VAL_CASES" --iterations "$ITERATIONS" --batch "$BATCH" --lr "$LR" --seed "$SEED" \
  --validate-every 200 --checkpoint-every 50 --log-every 10 --time-limit "$TIME_LIMIT" --device gpu \
  2>&1 | tail -n 40 | tee -a "$out/lease.txt"
cp "$run"/{config.json,model.bpk,train-log.csv,train-options.json} "$out"/ 2>/dev/null
ls -la "$out"
