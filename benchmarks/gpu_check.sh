#!/usr/bin/env bash
# Batch prediction on this machine's CPU, and on a GPU when there is one; then, on a GPU, the paper setting in one
# go: speed of the model and of the loader (benchmarks/paper_settings_speed.py), and one split of the paper's MTL
# row (ResNet-50 end to end, T = 8, 224 px, augmentation on) trained and tested on a 2,000-GIF SynthGIF set, with
# the GPU's memory sampled while it trains.
#
#   bash benchmarks/gpu_check.sh OUT [WEIGHTS]
#
# OUT receives predict-cpu.md/.json (always), predict-gpu.md/.json, speed.md / speed.json, synth.log, train.log,
# gpu-memory.csv and the run folder (with a GPU). Batch prediction is timed by benchmarks/batch_predict_speed.py
# for torch and ONNX Runtime (its CUDA provider when installed) over the real GIFs ($KAVAN_REAL_GIFS). Without a
# GPU the script times the CPU part, says why the rest was skipped, and exits 0. WEIGHTS: a local ResNet-50
# ImageNet checkpoint (torchvision's resnet50-0676ba61.pth); without it the backbone starts from random weights
# (the speed is the same; the accuracy is not the paper's). Nothing is downloaded. Environment: PYTHON (default
# .venv/bin/python), N_GIFS (default 2000), EPOCHS (default: the config's 30), WORKERS (loader workers, default 8;
# the speed benchmark prints how many keep up with the model), REPEAT (real GIFs listed REPEAT times, default 5),
# CHECKPOINT (time this model file's prediction instead of a random bench/mtl-softatt-hslstm).
set -euo pipefail
out=${1:?usage: gpu_check.sh OUT [WEIGHTS]}
weights=${2:-none}
py=${PYTHON:-.venv/bin/python}
mkdir -p "$out"
export KAVAN_REAL_GIFS="${KAVAN_REAL_GIFS:-../shared/data/real-gifs}"

model=()
[ -n "${CHECKPOINT:-}" ] && model=(--checkpoint "$CHECKPOINT")
"$py" benchmarks/batch_predict_speed.py --device cpu --repeat "${REPEAT:-5}" "${model[@]}" \
    --json "$out/predict-cpu.json" | tee "$out/predict-cpu.md"

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "no GPU here (nvidia-smi not found): the GPU prediction timing and the paper-setting training were skipped" \
        | tee "$out/skipped.txt"
    exit 0
fi
if ! "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no GPU torch can use (torch.cuda.is_available() is false): the GPU part was skipped" | tee "$out/skipped.txt"
    exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.csv"
"$py" benchmarks/batch_predict_speed.py --device cuda --batch-size 64 --workers "${WORKERS:-8}" \
    --repeat "${REPEAT:-5}" "${model[@]}" --json "$out/predict-gpu.json" | tee "$out/predict-gpu.md"

"$py" benchmarks/paper_settings_speed.py --device cuda --json "$out/speed.json" | tee "$out/speed.md"

data="$out/syn${N_GIFS:-2000}"
[ -f "$data/scores.csv" ] || "$py" -m kavan synth --out "$data" --n "${N_GIFS:-2000}" --seed 0 > "$out/synth.log" 2>&1

nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv -l 5 > "$out/gpu-memory.csv" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT
overrides=(--set "model.weights=$weights" --set "train.workers=${WORKERS:-8}" --set train.amp=fp16)
[ -n "${EPOCHS:-}" ] && overrides+=(--set "train.epochs=$EPOCHS")
start=$(date +%s)
"$py" -m kavan train --config paper/mtl-softatt-hslstm --data "$data" --out "$out/run" --split 0 \
    --no-progress "${overrides[@]}" > "$out/train.log" 2>&1
echo "training and testing took $(( $(date +%s) - start )) s" | tee -a "$out/train.log"
"$py" - "$out/run" <<'EOF'
import csv, json, sys
run = sys.argv[1]
rows = list(csv.DictReader(open(f"{run}/log.csv")))
metrics = json.load(open(f"{run}/metrics.json"))
seconds = [float(r["seconds"]) for r in rows]
print(f"epochs {len(rows)}, {metrics['n_train']} training GIFs: {metrics['n_train'] * len(rows) / sum(seconds):.1f} "
      f"GIFs/s over all epochs (last epoch {metrics['n_train'] / seconds[-1]:.1f} GIFs/s)")
print("test:", json.dumps(metrics["test"]))
EOF
