#!/usr/bin/env bash
# There: one sweep, each cell's seeds as one vmapped population, within BUDGET seconds (default
# 480), then its report and per-run records in $OUT/<name>/ (report.md, report.csv,
# runs.jsonl.gz, figures) and the log in $OUT/<name>.log. Copy $OUT/<name>/ under docs/ and
# `python -m experiments.report --records=docs/.../runs.jsonl.gz` regenerates it here. A sweep cut
# by the budget leaves no report (its runs are lost with the machine): size it to fit. The sweep
# runs in WORKDIR (default /tmp/sweeps/<name>).
#   device run: command="bash device/sweep.sh configs/pacgan.py:ring,cpu pacgan_ring",
#               carry=[".whl"], timeout_s=BUDGET + 90
set -u
cd "$(dirname "$0")/.."
source device/env.sh
config=$1
name=${2:-sweep}
workdir=${WORKDIR:-/tmp/sweeps/$name}
nvidia-smi --query-gpu=name,driver_version --format=csv >"$OUT/$name.log" 2>&1
start=$SECONDS
timeout "${BUDGET:-480}" "$PYTHON" -m experiments.sweep --config="$config" --workdir="$workdir" --population 2>&1 |
  grep -v "has no dataset_info.json" | tail -60 | tee -a "$OUT/$name.log"
echo "sweep: $((SECONDS - start)) s" | tee -a "$OUT/$name.log"
"$PYTHON" -m experiments.report --workdir="$workdir" --out="$OUT/$name" 2>&1 | tail -30 | tee -a "$OUT/$name.log"
