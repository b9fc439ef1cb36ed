#!/usr/bin/env bash
# The prepared GPU check, in steps that each fit one device call (a budget of STEP_SECONDS, 8 min by
# default) and resume from a persistent working folder: a step cut short is run again and goes on
# from its checkpoints; a finished step is not redone.
#
#   workflow/scripts/gpu-reference.sh STEP        STEP: env | smoke | graphs | bench | reference | all
#
#   env        the kit's wheels unpacked if the image lacks them; card, driver, torch, CUDA; the
#              provenance of `device: auto` (must name the GPU); default float32 flags -> env.txt
#   smoke      2 epochs of each execution variant (SMOKE_VARIANTS) with torch.compile's recompile
#              log (TORCH_LOGS=recompiles) -> smoke.json, smoke/<variant>.log
#   graphs     CUDA graphs: a straight run against one SIGTERMed mid-run and resumed -> graphs.json
#              (bitwise equal or how far apart; on CUDA bitwise is not promised)
#   bench      tests/benchmarks/bench_nets.py on the kit's store against a DataLoader baseline -> bench.txt
#   reference  a short run in fp32 and in REF_OTHER (tf32 on CUDA), features and NC metrics of
#              both -> reference.json (metric by metric, relative differences), summaries, histories
#
# Build the kit first, on a CPU machine with a package index (wheels for Python 3.12 + data store):
#   python workflow/scripts/gpu_kit.py build .gpu-kit
# Environment (defaults): KIT (.gpu-kit), WORK (.gpu-work: persistent), OUT (where the small results
# are copied: $OUT of the device tool, else $WORK/out), DEVICE (cuda; cpu = the dry run: no
# nvidia-smi, no CUDA graphs, bf16 instead of tf32), PYTHON (python3), STEP_SECONDS (480), sizes:
# WIDTH (1), SMOKE_PER_CLASS (500), SMOKE_VARIANTS, BENCH_PER_CLASS (2000: 20k images, batch 128),
# BENCH_EPOCHS (2), GRAPHS_PER_CLASS (500), GRAPHS_EPOCHS (3), GRAPHS_BATCH (128), REF_PER_CLASS
# (1000), REF_EPOCHS (10).
# Tested end to end on CPU: tests/system/test_gpu_kit.py.  Time estimates on a GPU: none measured.
set -euo pipefail
STEP=${1:?step: env, smoke, graphs, bench, reference or all}
KIT=$(realpath -m "${KIT:-.gpu-kit}")
WORK=$(realpath -m "${WORK:-.gpu-work}")
RESULTS=$(realpath -m "${OUT:-$WORK/out}")
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
STEP_SECONDS=${STEP_SECONDS:-480}
WIDTH=${WIDTH:-1}
mkdir -p "$WORK" "$RESULTS"
START=$(date +%s)  # of the current step: each step has its own STEP_SECONDS
SCRIPTS=$(dirname "$(realpath "$0")")
ROOT=$(dirname "$(dirname "$SCRIPTS")")
export PYTHONUNBUFFERED=1 PYTHONPATH=$ROOT/src${PYTHONPATH:+:$PYTHONPATH}
[[ -d $WORK/site ]] && export PYTHONPATH=$PYTHONPATH:$WORK/site  # after src/, before the image's packages
[[ -f $KIT/manifest.json ]] || { echo "gpu-reference: no kit at $KIT (python workflow/scripts/gpu_kit.py build $KIT)" >&2; exit 2; }
DATA=$KIT/data.zarr
DATASET=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['dataset'])" "$KIT/manifest.json")
cuda() { [[ $DEVICE == cuda* ]]; }

left() { echo $(( STEP_SECONDS - ($(date +%s) - START) )); }
# stop (status 75: run the step again) when less than 10 s of the step's budget is left
need_time() { (( $(left) > 10 )) || { echo "gpu-reference: step budget spent; run the step again to go on" >&2; exit 75; }; }
# within CMD...: run a command within the step's budget; cut by it, exit 75 (run the step again)
within() {
    need_time
    local status=0
    timeout --signal=TERM --kill-after=60 "$(left)" "$@" || status=$?
    if (( status == 124 )); then echo "gpu-reference: cut at the step budget; run the step again to go on" >&2; exit 75; fi
    return "$status"
}

# train CONFIG RUN LOG: resumable; stopped by SIGTERM (-> a resume checkpoint) when the step's budget ends
train() {
    need_time
    local status=0
    timeout --signal=TERM --kill-after=60 "$(left)" $PY -m deepcollapse train --config "$1" --out "$2" --restart-if-changed --no-progress 2>>"$3" || status=$?
    if (( status == 124 || status == 75 )); then echo "gpu-reference: $2 stopped at the step budget; run the step again to resume" >&2; exit 75; fi
    (( status == 0 )) || { tail -3 "$3" >&2; exit "$status"; }
}

# config FILE KEY=VALUE...: a training config on the kit's store (YAML flow values)
config() {
    local file=$1; shift
    { echo "dataset: $DATASET"; echo "data: $DATA"; echo "device: $DEVICE"; echo "width: $WIDTH"; echo "save_every: 1"
      for kv in "$@"; do echo "${kv%%=*}: ${kv#*=}"; done; } > "$file"
}

step_env() {
    $PY "$SCRIPTS/gpu_kit.py" install "$KIT" "$WORK/site" | tee "$WORK/env.txt"
    [[ -d $WORK/site ]] && export PYTHONPATH=$PYTHONPATH:$WORK/site
    if cuda; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$WORK/env.txt"; fi
    $PY - "$DEVICE" <<'EOF' | tee -a "$WORK/env.txt"
import json, sys, torch, zarr
from deepcollapse.provenance import collect
device = sys.argv[1]
print(json.dumps({"python": sys.version.split()[0], "torch": torch.__version__, "torch_cuda": torch.version.cuda,
                  "cudnn": torch.backends.cudnn.version(), "zarr": zarr.__version__, "cuda_available": torch.cuda.is_available(),
                  "devices": torch.cuda.device_count(), "conv_fp32_default": str(getattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision", torch.backends.cudnn.allow_tf32)),
                  "auto": collect(device="auto")["device"]}, indent=1))
if device.startswith("cuda"):
    assert collect(device="auto")["device"].startswith("cuda"), "provenance of device 'auto' does not name the GPU"
EOF
    cp "$WORK/env.txt" "$RESULTS/"
}

step_smoke() {
    local variants=${SMOKE_VARIANTS:-"fp32 tf32 bf16 channels_last bf16+channels_last compile compile+bf16+channels_last"}
    cuda || variants=${SMOKE_VARIANTS:-"fp32 bf16 channels_last bf16+channels_last"}
    mkdir -p "$WORK/smoke"
    for v in $variants; do
        local opts=()
        [[ $v == *tf32* ]] && opts+=(precision=tf32)
        [[ $v == *bf16* ]] && opts+=(precision=bf16)
        [[ $v == *channels_last* ]] && opts+=(channels_last=true)
        [[ $v == *compile* ]] && opts+=(compile=default)
        [[ $v == *graphs* ]] && opts+=(cuda_graphs=true)
        config "$WORK/smoke/$v.yaml" "train_per_class=${SMOKE_PER_CLASS:-500}" epochs=2 "checkpoints=[2]" "${opts[@]}"
        TORCH_LOGS=recompiles train "$WORK/smoke/$v.yaml" "$WORK/smoke/$v" "$WORK/smoke/$v.log"
    done
    $PY "$SCRIPTS/gpu_kit.py" smoke-summary "$WORK/smoke" --out "$WORK/smoke.json"
    mkdir -p "$RESULTS/smoke" && cp "$WORK/smoke.json" "$RESULTS/" && cp "$WORK"/smoke/*.log "$RESULTS/smoke/"
}

step_graphs() {
    local opts=()
    cuda && opts+=(cuda_graphs=true)
    config "$WORK/graphs.yaml" "train_per_class=${GRAPHS_PER_CLASS:-500}" "epochs=${GRAPHS_EPOCHS:-3}" "checkpoints=[1]" lr_step=2 \
        "batch_size=${GRAPHS_BATCH:-128}" "${opts[@]}"
    within $PY "$SCRIPTS/gpu_kit.py" resume-check --config "$WORK/graphs.yaml" --work "$WORK/graphs" --out "$WORK/graphs.json"
    cp "$WORK/graphs.json" "$RESULTS/"
}

step_bench() {
    local args=(--data "$DATA" --device "$DEVICE" --epochs "${BENCH_EPOCHS:-2}" --width "$WIDTH" --per-class "${BENCH_PER_CLASS:-2000}")
    within $PY "$ROOT/tests/benchmarks/bench_nets.py" "${args[@]}" > "$WORK/bench.tmp"
    mv "$WORK/bench.tmp" "$WORK/bench.txt" && cat "$WORK/bench.txt" && cp "$WORK/bench.txt" "$RESULTS/"
}

step_reference() {
    local other=${REF_OTHER:-$(cuda && echo tf32 || echo bf16)} epochs=${REF_EPOCHS:-10}
    local checkpoints; checkpoints=$($PY -c "import sys; e=int(sys.argv[1]); print(sorted({0, 1, e // 2, e}))" "$epochs")
    mkdir -p "$WORK/reference"
    for p in fp32 "$other"; do
        local r=$WORK/reference/$p
        config "$r.yaml" loss=mse "train_per_class=${REF_PER_CLASS:-1000}" "test_per_class=${REF_PER_CLASS:-1000}" "epochs=$epochs" \
            "lr_step=$(( epochs / 5 > 0 ? epochs / 5 : 1 ))" "checkpoints=$checkpoints" "precision=$p"
        train "$r.yaml" "$r" "$r.log"
        [[ -d $r-metrics.zarr ]] && continue
        $PY -m deepcollapse features --run "$r" --out "$r-features.zarr" --test --no-progress 2>>"$r.log"
        $PY -m deepcollapse metrics --features "$r-features.zarr" --out "$r-metrics.zarr" --no-progress 2>>"$r.log"
        rm -rf "$r-features.zarr"  # hundreds of MB at full width; the metrics are what is compared
    done
    $PY "$SCRIPTS/gpu_kit.py" compare-metrics "$WORK/reference/fp32-metrics.zarr" "$WORK/reference/$other-metrics.zarr" \
        --names fp32 "$other" --out "$WORK/reference.json" > /dev/null
    mkdir -p "$RESULTS/reference"
    cp "$WORK/reference.json" "$RESULTS/"
    for p in fp32 "$other"; do cp "$WORK/reference/$p/history.json" "$RESULTS/reference/$p-history.json"; cp "$WORK/reference/$p/run.json" "$RESULTS/reference/$p-run.json"; done
}

run_step() {
    if [[ -f $WORK/$1.done ]]; then echo "gpu-reference: step $1 done before (rm $WORK/$1.done to redo it)"; return; fi
    local t0; t0=$(date +%s)
    START=$t0
    "step_$1"
    echo "$(( $(date +%s) - t0 ))" > "$WORK/$1.done"
    echo "gpu-reference: step $1 done in $(cat "$WORK/$1.done") s"
    cp "$WORK/$1.done" "$RESULTS/$1.seconds"
}

case $STEP in
    env|smoke|graphs|bench|reference) run_step "$STEP" ;;
    all) for s in env smoke graphs bench reference; do run_step "$s"; done ;;
    *) echo "gpu-reference: unknown step '$STEP' (env, smoke, graphs, bench, reference, all)" >&2; exit 2 ;;
esac
