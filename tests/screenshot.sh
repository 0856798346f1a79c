#!/usr/bin/env bash
# Starts the real viewer under Xvfb on a case and saves a screenshot (needs xvfb and imagemagick).
# Usage: tests/screenshot.sh [CASE_DIR] [OUT.png]
set -euo pipefail
case_dir=${1:-../shared/data/brats2018/Brats18_2013_11_1}
out=${2:-/tmp/cloe-viewer.png}
bin=${CLOE_BIN:-target/release/cloe}
export DISPLAY=:97 XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/cloe-xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
Xvfb :97 -screen 0 1400x950x24 >/dev/null 2>&1 & xvfb=$!
sleep 1
"$bin" view "$case_dir" >/dev/null 2>&1 & app=$!
sleep "${WAIT:-12}"
import -window root "$out"
kill "$app" "$xvfb" 2>/dev/null || true
echo "$out"
