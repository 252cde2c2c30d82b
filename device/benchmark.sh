#!/usr/bin/env bash
# There: the one command of a visit to the lent H200 (DESIGN.md, accelerator notes). Installs the
# wheels of device/wheels.sh, then runs benchmarks.accelerator's groups in order, each
# in its own process under its own time limit and all within $BUDGET seconds, each group's rows
# as $OUT/<group>.json and every table in $OUT/log.txt (what a killed group printed stays there).
# The group `profile` is benchmarks.profile_step instead (where the step's time goes):
# $OUT/profile.json and its traces as $OUT/xplanes.tgz; `layers` is benchmarks.conv_layers on
# the 64 px DCGAN's four layer shapes, bfloat16, batch 128, both of our forms beside PyTorch's.
# A group named `<group>@cmdbuf` runs again with XLA's command buffers taking loops and
# conditionals too (a compiled call's whole step loop replayed as CUDA graphs, not launched
# kernel by kernel from the host), its rows in $OUT/cmdbuf/<group>.json.
#   device run: command="bash device/benchmark.sh", carry=[".whl"], timeout_s=BUDGET + 60
#   arguments:  group:seconds ... (default below); BUDGET (default 560); ACCEL_ARGS, PROFILE_ARGS
#               (e.g. --smoke; split on spaces: an --only with spaces needs the module called directly)
set -u
cd "$(dirname "$0")/.."
source device/env.sh
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw \
  --format=csv >"$OUT/log.txt" 2>&1
deadline=$((SECONDS + ${BUDGET:-560}))
groups=("$@")
# Limits from the H200's build times (~15 s a DCGAN compile, ~30 s the first of a process):
[ ${#groups[@]} -gt 0 ] || groups=(dcgan64:200 batch:210 population:120 reuse64:100 calls:90 autotune:150 dcgan32:150)
CMDBUF=--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL
for spec in "${groups[@]}"; do
  group=${spec%%:*}
  flags=${XLA_FLAGS:-} json=$OUT
  if [ "${group%@cmdbuf}" != "$group" ]; then
    group=${group%@cmdbuf} flags="$flags $CMDBUF" json=$OUT/cmdbuf
    mkdir -p "$json"
  fi
  limit=$((${spec##*:} < deadline - SECONDS ? ${spec##*:} : deadline - SECONDS))
  if [ "$limit" -lt 30 ]; then
    echo "skipped $group: ${limit}s left of the budget" | tee -a "$OUT/log.txt"
    continue
  fi
  echo "== $group (limit ${limit}s${flags:+, XLA_FLAGS=$flags})" | tee -a "$OUT/log.txt"
  if [ "$group" = profile ]; then
    command=(benchmarks.profile_step --out="$OUT/profile" ${PROFILE_ARGS:-})
  elif [ "$group" = layers ]; then
    command=(benchmarks.conv_layers --shapes="64,3,64|32,64,128|16,128,256|8,256,512" --batch=128
      --dtype=bfloat16 --forms=custom_vjp,flax --rounds=3)
  else
    command=(benchmarks.accelerator --groups="$group" --json="$json" ${ACCEL_ARGS:-})
  fi
  XLA_FLAGS=$flags timeout "$limit" "$PYTHON" -m "${command[@]}" 2>&1 | grep -v "has no dataset_info.json" |
    tee -a "$OUT/log.txt"
done
if [ -d "$OUT/profile" ]; then  # what comes back is at most 8 files
  mv "$OUT/profile/profile.json" "$OUT/" 2>/dev/null
  tar czf "$OUT/xplanes.tgz" -C "$OUT/profile" . && rm -r "$OUT/profile"
fi
