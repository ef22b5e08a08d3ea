#!/usr/bin/env bash
# The paper setting on a GPU, in one go: speed of the model and of the loader (benchmarks/paper_settings_speed.py),
# then one split of the paper's MTL row (ResNet-50 end to end, T = 8, 224 px, augmentation on) trained and tested
# on a 2,000-GIF SynthGIF set, with the GPU's memory sampled while it trains.
#
#   bash benchmarks/gpu_check.sh OUT [WEIGHTS]
#
# OUT receives speed.md / speed.json, synth.log, train.log, gpu-memory.csv and the run folder. WEIGHTS: a local
# ResNet-50 ImageNet checkpoint (torchvision's resnet50-0676ba61.pth); without it the backbone starts from random
# weights (the speed is the same; the accuracy is not the paper's). Nothing is downloaded. Environment: PYTHON
# (default .venv/bin/python), N_GIFS (default 2000), EPOCHS (default: the config's 30), WORKERS (loader workers,
# default 8; the speed benchmark prints how many keep up with the model).
set -euo pipefail
out=${1:?usage: gpu_check.sh OUT [WEIGHTS]}
weights=${2:-none}
py=${PYTHON:-.venv/bin/python}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.csv"

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
