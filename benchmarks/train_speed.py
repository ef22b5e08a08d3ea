"""Training speed at benchmark settings: feature caching, cached epochs per row, and cached vs end-to-end epochs.

    .venv/bin/python benchmarks/train_speed.py --data DIR [--e2e-gifs 64] [--epochs 2] [--threads N]
    .venv/bin/python benchmarks/train_speed.py --micro

--micro only times the two choices docs/training.md makes for speed: MobileNetV2 at 224x224 (batch 64) encoding
frames with contiguous against channels-last weights, with 1 and 2 threads; and one cached training step of the
MTL Soft-Att + HS-LSTM row (batch 32, random features) with autocast off against bf16.

On split 0 of the dataset folder DIR (e.g. `kavan synth --out DIR --n 400 --seed 0`), with the shipped
configs bench/<row> (kavan configs list):

1. fills a fresh feature cache (every frame of every GIF, MobileNetV2 at 224x224) and reports frames per second;
2. trains every benchmark row for --epochs epochs on the cached features (kavan.training.train_split, exactly
   what `kavan train` runs) and reports the last epoch's seconds (the first includes warm-up);
3. trains the MTL Soft-Att + HS-LSTM row for one epoch WITHOUT the cache on the first --e2e-gifs training GIFs,
   once with the backbone frozen (frames decoded and encoded every step) and once trainable (end to end, as the
   paper trains its ResNet-50), and reports seconds per training GIF against the cached epoch's.

Prints Markdown tables and the load average before and after (other processes share the cores).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from kavan.config import load_config
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import FeatureCache, cache_key
from kavan.data.loader import prepare_clips
from kavan.models import KAVAN
from kavan.training.losses import LossTargets, total_loss
from kavan.training.setup import frozen_encoder
from kavan.training.trainer import train_split

ROWS = ["resnet50-lstm", "softatt-lstm", "resnet50-hslstm", "softatt-hslstm", "mtl-softatt-hslstm",
        "mtl-unsupatt-hslstm"]


def epoch_seconds(run_dir: Path) -> tuple[float, int]:
    """(seconds, step) of the last epoch in a run's log.csv."""
    rows = list(csv.DictReader(open(run_dir / "log.csv")))
    steps = int(rows[-1]["step"]) - (int(rows[-2]["step"]) if len(rows) > 1 else 0)
    return float(rows[-1]["seconds"]), steps


def micro() -> None:
    """Frames/s of the backbone by layout and threads; ms per GIF of a cached step with and without bf16."""
    config = load_config("bench/mtl-softatt-hslstm")
    torch.manual_seed(0)
    model = KAVAN(config.model)
    frames = torch.randn(64, 3, 224, 224)
    print("| threads | weights layout | frames/s |")
    print("|---|---|---|")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for layout in (torch.contiguous_format, torch.channels_last):
            body = model.backbone.body.to(memory_format=layout)
            batch = frames.contiguous(memory_format=layout)
            with torch.inference_mode():
                body(batch[:8])
                start = time.perf_counter()
                body(batch)
            name = "channels-last" if layout == torch.channels_last else "contiguous"
            print(f"| {threads} | {name} | {64 / (time.perf_counter() - start):.1f} |")
    torch.set_num_threads(1)
    features = torch.randn(32, 8, model.channels, model.cells, model.cells).clamp_min(0)
    targets = LossTargets(torch.rand(32, 17), torch.softmax(torch.randn(32, 8, model.cells ** 2), -1).view(
        32, 8, model.cells, model.cells), torch.rand(32, 8) > 0.3)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    print("\n| cached step, 1 thread | ms per GIF (median of 5) |")
    print("|---|---|")
    for amp in ("off", "bf16"):
        times = []
        for _ in range(6):
            start = time.perf_counter()
            context = torch.autocast("cpu", dtype=torch.bfloat16) if amp == "bf16" else contextlib.nullcontext()
            with context:
                loss = total_loss(model(features=features), targets, config.loss)["total"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - start)
        print(f"| amp {amp} | {1000 * sorted(times[1:])[2] / 32:.2f} |")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset folder")
    parser.add_argument("--micro", action="store_true", help="only the layout/thread and autocast timings")
    parser.add_argument("--epochs", type=int, default=2, help="cached epochs per row (the last is timed)")
    parser.add_argument("--e2e-gifs", type=int, default=64, help="training GIFs in the end-to-end epochs")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.micro:
        micro()
        return
    if not args.data:
        parser.error("--data is required (or --micro)")
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    dataset = Dataset(args.data)
    config = load_config("bench/mtl-softatt-hslstm")
    results: dict = {"data": str(Path(args.data).resolve()), "n_gifs": len(dataset),
                     "threads": torch.get_num_threads(), "load_before": load_before}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache_root = tmp / "cache"
        torch.manual_seed(0)
        model = KAVAN(config.model)
        clips = prepare_clips(dataset, dataset.ids, progress=False).clips
        cache = FeatureCache(cache_root, cache_key(model, config.data.cache_frames, config.data.cache_dtype))
        start = time.perf_counter()
        cache.fill(dataset, clips, frozen_encoder(model), workers=1)
        seconds = time.perf_counter() - start
        frames = sum(clip.n_frames for clip in clips)
        size = sum(p.stat().st_size for p in cache.folder.glob("*.safetensors"))
        results["cache"] = {"seconds": seconds, "frames": frames, "frames_per_s": frames / seconds,
                            "mb": size / 1e6}
        print(f"\nfeature cache: {len(clips)} GIFs, {frames} frames in {seconds:.0f} s = {frames / seconds:.1f} "
              f"frames/s, {size / 1e6:.0f} MB\n")

        print("| row (benchmark settings) | training GIFs | s per cached epoch | ms per GIF |")
        print("|---|---|---|---|")
        results["rows"] = {}
        for row in ROWS:
            row_config = load_config(f"bench/{row}", [f"train.epochs={args.epochs}"])
            run = train_split(row_config, args.data, tmp / row, cache_dir=cache_root, progress=False)
            seconds, steps = epoch_seconds(run.run_dir)
            gifs = steps * row_config.train.batch_size
            results["rows"][row] = {"epoch_s": seconds, "gifs": gifs, "test": run.metrics["test"]}
            print(f"| {row} | {gifs} | {seconds:.1f} | {1000 * seconds / gifs:.2f} |")

        train_ids, test_ids = dataset.splits()[0]
        split_file = tmp / "subset.json"
        split_file.write_text(json.dumps({"train": train_ids[:args.e2e_gifs], "test": test_ids[:8]}))
        cached = results["rows"]["mtl-softatt-hslstm"]
        per_gif_cached = cached["epoch_s"] / cached["gifs"]
        print("\n| MTL Soft-Att + HS-LSTM, one epoch | s per training GIF | cached is faster by |")
        print("|---|---|---|")
        print(f"| cached features (frozen backbone) | {per_gif_cached:.4f} | 1x |")
        for name, frozen in (("frames, frozen backbone", "true"), ("frames, backbone trained end to end", "false")):
            overrides = ["train.epochs=1", "train.feature_cache=false", f"model.frozen={frozen}",
                         f"train.batch_size={min(config.train.batch_size, args.e2e_gifs)}", "train.workers=1"]
            run = train_split(load_config("bench/mtl-softatt-hslstm", overrides), args.data, tmp / name,
                              split_file=split_file, progress=False)
            seconds, steps = epoch_seconds(run.run_dir)
            per_gif = seconds / (steps * min(config.train.batch_size, args.e2e_gifs))
            results[name] = {"s_per_gif": per_gif, "ratio": per_gif / per_gif_cached}
            print(f"| {name} | {per_gif:.4f} | {per_gif / per_gif_cached:.0f}x |")
    results["load_after"] = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {results['load_after'][0]:.2f} {results['load_after'][1]:.2f} {results['load_after'][2]:.2f}; "
          f"torch threads {torch.get_num_threads()}")
    print(json.dumps(results, default=float))


if __name__ == "__main__":
    main()
