#!/usr/bin/env bash
# The GPU figures of benches/README.md in one run on a lent GPU machine (the `device` tool; about 15
# minutes per session, so nothing is built there). Prepare here, on the development machine:
#
#   mkdir -p .gpu/case && echo /.gpu/ >> .git/info/exclude
#   cargo build --release && strip -o .gpu/cloe target/release/cloe
#   cargo build --release --features autotune --target-dir target/tuned \
#     && strip -o .gpu/cloe-tuned target/tuned/release/cloe
#   cp ../shared/data/brats2018/Brats18_2013_11_1/* .gpu/case/
#   cargo bench --bench viewer --no-run && cp "$(ls -t target/release/deps/viewer-* | grep -v '\.d$' | head -1)" .gpu/viewer-bench
#   (and the Vulkan loader debs as .gl/, see the device tool's README)
#
# then run it there with carry [".gpu", ".gl"]:
#
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; bash benches/gpu_session.sh
#
# Each binary is timed on the same warm machine, one after the other: the default build (Burn's
# kernels with fusion, the default) against the same with autotune, training steps of 1 and 8 patches at 48³, C = 8, and the
# whole-case forward, with --profile for where the time goes.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
case_dir=.gpu/case
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
for bin in cloe cloe-tuned; do
  [ -x ".gpu/$bin" ] || { echo "missing .gpu/$bin" | tee -a "$out/summary.txt"; continue; }
  {
    echo "== $bin"
    ".gpu/$bin" devices --device gpu --check-gradients
    ".gpu/$bin" bench "$case_dir" --device gpu --patch 48 --runs 3 --batch 1 --profile
    ".gpu/$bin" bench "$case_dir" --device gpu --patch 48 --runs 3 --batch 8
  } 2>&1 | tee "$out/$bin.txt"
done
# The project's GPU kernels (norm + activation, upsampling) against Burn's operations for the same.
if [ -x .gpu/cloe ]; then
  CLOE_GPU_KERNELS=off .gpu/cloe bench "$case_dir" --device gpu --patch 48 --runs 3 --batch 1 --profile \
    2>&1 | tee "$out/cloe-burn-ops.txt"
fi
# The viewer's frame times on the GPU (issue 13): three views with shader slicing and CPU slicing, and
# with the 3-D view open (egui_kittest's offscreen wgpu renderer on the machine's adapter; no display).
if [ -x .gpu/viewer-bench ]; then
  CLOE_BENCH_CASE=.gpu/case CLOE_BENCH_ROOT=. .gpu/viewer-bench --bench 2>&1 | tee "$out/viewer.txt"
fi
