#!/usr/bin/env bash
# One prepared GPU session: the trainer benchmark, then the largest paper-scale network run the
# budget allows, with features and metrics.  Nothing here has run on a GPU yet: the CUDA paths
# (cuda_graphs, compile, bf16, channels_last) get their first test from the benchmark.
#
#   workflow/scripts/gpu-reference.sh DATA_STORE OUT_DIR [EPOCHS]
#
# DATA_STORE: a store of `deepcollapse data` made on a machine that has the files, e.g.
#   deepcollapse data --dataset fashion-mnist --root /usr/share/datasets/fashion-mnist --no-download \
#       --out .gpu-carry/fashion-mnist.zarr          # ~35 MB; carry .gpu-carry to the GPU machine
# OUT_DIR (few files, so that a device tool's $OUT brings them back): bench.txt, summary.json,
#   times.json and reference.tar.gz (card, config, logs, run.json/history.json/done.json, metrics.zarr).
# EPOCHS: the paper's 200 shortened to fit the budget (default 30); the lr step (40 of 200 epochs)
#   and the checkpoints scale with it, so the schedule keeps the paper's shape.  Full width ResNet18,
#   MSE without bias (the paper's Fig. 10 setting), batch 128, lr 0.05, weight decay 5e-4.
#
# Smoke test without a GPU: DEVICE=cpu SKIP_BENCH=1 (cuda_graphs is then off, no nvidia-smi).
#
# Time: the benchmark ~1-2 min (5 variants x 2 epochs of 60k images, compile included); training
# at the >= 36k img/s goal ~1.7 s per epoch; features + metrics ~ a few s per checkpoint.
set -euo pipefail
DATA=${1:?data store}
OUT=${2:?output directory}
EPOCHS=${3:-30}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gpu-reference.XXXX)
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
if [[ $DEVICE == cuda* ]]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$WORK/card.csv"
    GRAPHS=true
else
    echo "device $DEVICE" > "$WORK/card.csv"
    GRAPHS=false
fi

# 1. our trainer vs the torchvision DataLoader baseline at batch 128 (goal >= 3x)
if [[ -z ${SKIP_BENCH:-} ]]; then
    $PY tests/benchmarks/bench_nets.py --device "$DEVICE" --epochs 2 2>&1 | tee "$OUT/bench.txt"
fi

# 2. the paper-scale run (shortened): config from the epochs given
STEP=$(( EPOCHS / 5 > 0 ? EPOCHS / 5 : 1 ))
CHECKPOINTS=$($PY -c "import sys; e=int(sys.argv[1]); print(sorted({round(e*f) for f in (0,.005,.01,.02,.03,.05,.075,.1,.15,.2,.3,.4,.5,.6,.7,.8,.9,1)}))" "$EPOCHS")
cat > "$WORK/config.yaml" <<EOF
# Tirer & Bruna Fig. 10 setting (MSE, no bias) on Fashion-MNIST, shortened to $EPOCHS epochs
dataset: fashion-mnist
data: $DATA
loss: mse
width: 1.0
epochs: $EPOCHS
lr_step: $STEP
checkpoints: $CHECKPOINTS
device: $DEVICE
cuda_graphs: $GRAPHS
save_every: 5
EOF
RUN=$WORK/run
t0=$(date +%s.%N)
$PY -m deepcollapse train --config "$WORK/config.yaml" --out "$RUN" --restart-if-changed --no-progress 2>&1 | tee "$WORK/train.log"
t1=$(date +%s.%N)
$PY -m deepcollapse features --run "$RUN" --out "$WORK/features.zarr" --test --no-progress 2>&1 | tee "$WORK/features.log"
t2=$(date +%s.%N)
$PY -m deepcollapse metrics --features "$WORK/features.zarr" --out "$WORK/metrics.zarr" --no-progress 2>&1 | tee "$WORK/metrics.log"
t3=$(date +%s.%N)
$PY -m deepcollapse report summary --store "fashion-mnist-mse=$WORK/metrics.zarr" --along epoch --out "$OUT/summary.json"
cp "$RUN/run.json" "$RUN/history.json" "$RUN/done.json" "$OUT/summary.json" "$WORK/"
$PY -c "import json,sys; t=[float(x) for x in sys.argv[1:]]; json.dump({'train_s': t[1]-t[0], 'features_s': t[2]-t[1], 'metrics_s': t[3]-t[2]}, open('$OUT/times.json','w'))" "$t0" "$t1" "$t2" "$t3"
cp "$OUT/times.json" "$WORK/"
tar -C "$WORK" -czf "$OUT/reference.tar.gz" --exclude=run/checkpoints --exclude=features.zarr .
cat "$OUT/times.json"
