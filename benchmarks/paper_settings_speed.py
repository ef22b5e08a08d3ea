"""Training speed at the paper's settings: the model alone, the data pipeline alone, and the workers it needs.

    .venv/bin/python benchmarks/paper_settings_speed.py [--device auto|cpu|cuda] [--batch B] [--steps N]
        [--max-workers W] [--synth-n 48] [--real-gifs DIR] [--json FILE]
    KAVAN_REAL_GIFS=DIR .venv/bin/python benchmarks/paper_settings_speed.py   # DIR: a folder of real GIFs

The paper's MTL Soft-Att + HS-LSTM row, the shipped config paper/mtl-softatt-hslstm: ResNet-50 trained end to
end, T = 8 TSN frames at 224x224, the training augmentation (random crop + flip) on. The backbone gets random weights
(model.weights=none), so nothing is downloaded: speed does not depend on the weights' values.

1. Model alone: optimiser steps of KAVAN on synthetic batches of B GIFs x T frames (random normalised frames,
   random keypoint heatmaps and targets), through the trainer's own step (kavan.training.trainer.train_step:
   forward, total_loss with the training split's TargetStats, backward, gradient clipping, AdamW, schedule),
   with the backbone's weights channels-last as the trainer stores them. Warm-up steps are not timed. Autocast
   off, and where the device has it AMP: bf16 on the CPU; fp16 (with a GradScaler) and bf16 on CUDA. Reported:
   frames/s, GIFs/s and on CUDA the peak GPU memory (torch.cuda.max_memory_allocated). Defaults: on the CPU
   batch 2, 1 warm-up + 2 timed steps (a short run); on CUDA batch 16 (the config's batch), 3 warm-up + 10.
2. Data pipeline alone: kavan.data.loader.ClipDataset at training settings (decoding, TSN's random frames,
   crop + flip, keypoint heatmaps) through a DataLoader of batch B with 0 (the main process), 1, ...,
   --max-workers worker processes, pinned memory on CUDA, on two sources: a SynthGIF set generated in a temporary
   folder (default preset, --synth-n GIFs, with keypoints, so heatmaps are made) and the real GIFs of --real-gifs
   or $KAVAN_REAL_GIFS (no keypoints file: no heatmaps; skipped when neither is given; files that cannot be read
   are left out and named). Each loader is timed from the arrival of its first batch for about 3 s and at least
   one whole pass over the set (the set is repeated, each pass with new random frames and crops, as epochs
   are); frames/s = GIFs x T / s. Workers run one torch thread each; the main process runs torch's default
   count, which on cores that other processes keep busy can make it much slower than one worker.
3. Workers needed: for each model throughput of 1., the fewest measured loader workers (>= 1: a main-process
   loader runs in series with the model, it never overlaps it) whose frames/s keeps up with the model's; when
   none does, ceil(model frames/s / per-worker frames/s of the fastest measured worker count), marked
   extrapolated.

The two halves are measured apart: on a CPU-only machine training runs both on the same cores, so the model's
steps and the loader's workers slow each other down there. Prints Markdown tables, the device, torch's version
and thread count, and the load average before and after (other processes share the cores); --json FILE writes
the raw numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Subset

from kavan.config import KavanConfig, load_config
from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.data.dataset import MEDIA_DIR, SCORES_FILE, Dataset
from kavan.data.loader import Clip, ClipDataset, prepare_clips
from kavan.labels.scores_table import write_scores
from kavan.models import KAVAN, feature_shape
from kavan.synth import generate_dataset, resolve
from kavan.training.distributed import Distributed
from kavan.training.losses import TargetStats
from kavan.training.setup import channels_last, grad_scaler, parameter_groups
from kavan.training.trainer import train_step

CONFIG = "paper/mtl-softatt-hslstm"  # a shipped config (kavan configs list)
PIPELINE_SECONDS = 3.0  # each loader's timed run aims at about this long: long enough to hide worker start-up
SEED = 0


def paper_config(amp: str = "off") -> KavanConfig:
    """The paper's MTL row with random backbone weights (nothing to download) and the given autocast."""
    return load_config(CONFIG, ["model.weights=none", f"train.amp='{amp}'"])  # quoted: YAML reads off as false


def pick_device(name: str) -> torch.device:
    """--device: auto takes CUDA when there is one, as train.device auto does."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def device_name(device: torch.device) -> str:
    """A readable name of the device the model runs on (the GPU's, or the CPU model from /proc/cpuinfo)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def amp_settings(device: torch.device) -> list[str]:
    """The train.amp values this device can run: fp32 always; bf16 on the CPU and on GPUs that have it; fp16 on
    CUDA only (train.amp fp16 refuses the CPU)."""
    if device.type != "cuda":
        return ["off", "bf16"]
    return ["off", "fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def synthetic_batch(batch: int, t: int, size: int, cells: int, device: torch.device) -> dict[str, torch.Tensor]:
    """A batch shaped like ClipDataset's (what train_step reads): the values do not change the cost. Pinned on
    CUDA, as the DataLoader's pin_memory gives it, so each step pays the same host-to-device copy as training."""
    generator = torch.Generator().manual_seed(SEED)
    values = {
        "frames": torch.randn(batch, t, 3, size, size, generator=generator),
        "heatmaps": torch.softmax(torch.randn(batch, t, cells * cells, generator=generator), -1).view(
            batch, t, cells, cells),
        "has_heatmap": torch.rand(batch, t, generator=generator) > 0.3,
        "intensities": torch.rand(batch, len(EMOTIONS), generator=generator),
    }
    return {k: v.pin_memory() for k, v in values.items()} if device.type == "cuda" else values


def time_model(amp: str, device: torch.device, batch: int, warmup: int, steps: int) -> dict[str, Any]:
    """Frames/s of training steps under one autocast setting, on a fresh model and optimiser (so no setting
    inherits another's state or cached allocations)."""
    config = paper_config(amp)
    torch.manual_seed(SEED)
    model = channels_last(KAVAN(config.model).to(device))
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.train.lr,
                                  weight_decay=config.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = grad_scaler(amp, device)
    stats = TargetStats.of(np.random.default_rng(SEED).random((256, len(EMOTIONS))), device)
    data = synthetic_batch(batch, config.model.t, config.model.input_size, model.cells, device)
    single = Distributed(0, 1, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    # what train_step reads of a run (kavan.training.setup.Run): the rest of a run is not needed to time a step
    run = SimpleNamespace(net=model, config=config, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                          trainable=trainable, dist=single, target_stats=stats)

    def step() -> dict[str, float]:
        return train_step(run, data)

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()["total"]  # the step returns the loss as Python floats: it waits for the device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    frames = steps * batch * config.model.t
    result = {"amp": amp, "batch": batch, "t": config.model.t, "warmup_steps": warmup, "steps": steps,
              "seconds": seconds, "s_per_step": seconds / steps, "frames_per_s": frames / seconds,
              "gifs_per_s": steps * batch / seconds, "last_loss": loss,
              "peak_gpu_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}
    model = optimizer = scheduler = data = None  # free them (the step closure holds them) before emptying caches
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def synth_folder(out: Path, n: int) -> Path:
    """A default-preset SynthGIF set: realistic frame sizes and motion, with keypoint caches (so heatmaps)."""
    generate_dataset(out, n, SEED, resolve("default", []), workers=1, progress=False)
    return out


def real_folder(out: Path, source: Path) -> Path:
    """A dataset folder over the real GIFs: gifs/<id>.gif links to the files and a scores.csv of constant 0.5
    (scores do not change what the pipeline costs). There is no keypoints folder, so no heatmaps are made."""
    files = sorted(p for p in source.iterdir() if p.suffix.lower() == ".gif" and p.is_file())
    if not files:
        raise SystemExit(f"no .gif files in {source}")
    (out / MEDIA_DIR).mkdir(parents=True)
    for path in files:
        (out / MEDIA_DIR / f"{path.stem}.gif").symlink_to(path.resolve())
    ids = [path.stem for path in files]
    write_scores(out / SCORES_FILE, ids, np.full((len(ids), len(EMOTIONS)), 0.5))
    return out


def usable_clips(dataset: Dataset, config: KavanConfig, cells: int) -> tuple[list[Clip], dict[str, str], float]:
    """The clips that load, the files left out with why, and the seconds one pass over the usable clips took in
    one thread. prepare_clips leaves out what cannot be probed; a file that probes but fails to decode is left out
    here, so one bad file cannot stop a loader. The pass also warms the file cache and sizes the timed runs; it
    runs one torch thread, as a DataLoader worker does."""
    prepared = prepare_clips(dataset, dataset.ids, progress=False)
    excluded = dict(prepared.excluded)
    probe = ClipDataset(dataset, prepared.clips, config.model.t, config.model.input_size, cells, config.data,
                        train=True, seed=SEED)
    clips = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        for index, clip in enumerate(prepared.clips):
            try:
                probe[index]
            except (KavanError, OSError, ValueError) as err:
                excluded[clip.gif_id] = str(err)
                continue
            clips.append(clip)
    finally:
        torch.set_num_threads(threads)
    return clips, excluded, time.perf_counter() - start


def repeated(dataset: Dataset, clips: list[Clip], config: KavanConfig, cells: int, n_gifs: int) -> Subset:
    """``n_gifs`` training samples: as many passes over the clips as needed, each pass a ClipDataset of its own
    epoch, so every pass draws new TSN frames, crops and flips (as the epochs of a training run do). Building a
    pass reads nothing, so a generous ``n_gifs`` costs nothing until the samples are loaded."""
    passes = math.ceil(n_gifs / len(clips))
    parts = []
    for epoch in range(passes):
        part = ClipDataset(dataset, clips, config.model.t, config.model.input_size, cells, config.data,
                           train=True, seed=SEED)
        part.set_epoch(epoch)
        parts.append(part)
    return Subset(ConcatDataset(parts), range(n_gifs))


def time_loader(samples: Subset, batch: int, workers: int, pin: bool, t: int, min_gifs: int) -> dict[str, Any]:
    """Frames/s of one DataLoader over ``samples``, timed from its first batch (worker start-up excluded) until
    PIPELINE_SECONDS have passed and at least ``min_gifs`` GIFs (a whole pass, so that long and short files
    weigh as in an epoch) have arrived, or the samples run out."""
    loader = DataLoader(samples, batch_size=batch, shuffle=False, num_workers=workers, pin_memory=pin)
    iterator = iter(loader)
    first = len(next(iterator)["frames"])
    start = time.perf_counter()
    gifs = 0
    for loaded in iterator:
        gifs += len(loaded["frames"])
        if gifs >= min_gifs and time.perf_counter() - start >= PIPELINE_SECONDS:
            break
    seconds = time.perf_counter() - start
    del iterator  # stops the workers
    return {"workers": workers, "gifs": gifs, "skipped_first": first, "seconds": seconds,
            "frames_per_s": gifs * t / seconds, "gifs_per_s": gifs / seconds}


def time_source(name: str, folder: Path, config: KavanConfig, cells: int, batch: int, max_workers: int,
                pin: bool) -> dict[str, Any]:
    """The pipeline's frames/s on one dataset folder for 0..max_workers loader workers."""
    dataset = Dataset(folder)
    clips, excluded, probe_seconds = usable_clips(dataset, config, cells)
    media = f"{dataset.root / MEDIA_DIR}{os.sep}"
    excluded = {gif_id: reason.replace(media, "") for gif_id, reason in excluded.items()}  # no temporary paths
    if not clips:
        raise SystemExit(f"{name}: no usable GIF ({len(excluded)} left out: {excluded})")
    rate = len(clips) / probe_seconds  # GIFs/s of one process with one thread
    runs = []
    for workers in range(max_workers + 1):
        # room for 4x the GIFs the run should need at the probe's rate; the run stops on time, not on this
        n_gifs = batch + max(2 * len(clips), math.ceil(4 * PIPELINE_SECONDS * rate * max(1, workers)))
        runs.append(time_loader(repeated(dataset, clips, config, cells, n_gifs), batch, workers, pin,
                                config.model.t, len(clips)))
    frames = [clip.n_frames for clip in clips]
    sizes = sorted((clip.width * clip.height, clip.width, clip.height) for clip in clips)
    return {"source": name, "files": len(dataset), "usable": len(clips), "excluded": excluded,
            "with_keypoints": sum(clip.has_keypoints for clip in clips), "frames_min": min(frames),
            "frames_max": max(frames), "size_min": list(sizes[0][1:]), "size_max": list(sizes[-1][1:]),
            "probe_s_one_thread": probe_seconds, "runs": runs}


def workers_needed(model_fps: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fewest measured workers (>= 1) whose frames/s reaches ``model_fps``; else an extrapolation from the
    fastest measured worker count's per-worker rate."""
    with_workers = [run for run in runs if run["workers"] >= 1] or runs  # --max-workers 0: the main process
    for run in sorted(with_workers, key=lambda r: r["workers"]):
        if run["frames_per_s"] >= model_fps:
            return {"workers": max(1, run["workers"]), "extrapolated": False}
    best = max(with_workers, key=lambda r: r["frames_per_s"])
    per_worker = best["frames_per_s"] / max(1, best["workers"])
    return {"workers": math.ceil(model_fps / per_worker), "extrapolated": True,
            "from_workers": best["workers"], "per_worker_fps": per_worker}


def print_model(runs: list[dict[str, Any]], device: torch.device) -> None:
    cuda = device.type == "cuda"
    print("| autocast | batch (GIFs x T) | timed steps | s per step | frames/s | GIFs/s |"
          + (" peak GPU memory (GiB) |" if cuda else ""))
    print("|---|---|---|---|---|---|" + ("---|" if cuda else ""))
    for r in runs:
        print(f"| {'fp32 (off)' if r['amp'] == 'off' else r['amp']} | {r['batch']} x {r['t']} | {r['steps']} | "
              f"{r['s_per_step']:.2f} | {r['frames_per_s']:.1f} | {r['gifs_per_s']:.2f} |"
              + (f" {r['peak_gpu_gib']:.1f} |" if cuda else ""))


def print_pipeline(sources: list[dict[str, Any]], threads: int) -> None:
    print("| source | GIFs used | frames per GIF | frame size (smallest to largest) | keypoint heatmaps |")
    print("|---|---|---|---|---|")
    for s in sources:
        heatmaps = (f"yes ({s['with_keypoints']} of {s['usable']} GIFs)" if s["with_keypoints"]
                    else "no (no keypoints file)")
        frames = str(s["frames_min"])
        if s["frames_min"] != s["frames_max"]:
            frames += f"–{s['frames_max']}"
        size = f"{s['size_min'][0]}x{s['size_min'][1]}"
        if s["size_min"] != s["size_max"]:
            size += f" to {s['size_max'][0]}x{s['size_max'][1]}"
        print(f"| {s['source']} | {s['usable']} of {s['files']} | {frames} | {size} | {heatmaps} |")
    left_out = [f"{s['source']}: left out {gif_id}: {reason}"
                for s in sources for gif_id, reason in s["excluded"].items()]
    if left_out:
        print("\n" + "\n".join(left_out))
    print("\n| source | loader workers | GIFs timed | s | GIFs/s | frames/s |")
    print("|---|---|---|---|---|---|")
    for s in sources:
        for r in s["runs"]:
            who = f"0 (main process, {threads} torch threads)" if r["workers"] == 0 else str(r["workers"])
            print(f"| {s['source']} | {who} | {r['gifs']} | {r['seconds']:.1f} | {r['gifs_per_s']:.1f} | "
                  f"{r['frames_per_s']:.0f} |")


def print_needed(needed: list[dict[str, Any]], names: list[str]) -> None:
    print("| model (autocast) | model frames/s | " + " | ".join(f"workers needed: {n}" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for row in needed:
        cells = []
        for name in names:
            need = row["needs"].get(name)
            if need is None:
                cells.append("not measured")
            elif need["extrapolated"]:
                source = need["from_workers"] or "the main process"
                cells.append(f"{need['workers']} (extrapolated from {source})")
            else:
                cells.append(str(need["workers"]))
        print(f"| {'fp32 (off)' if row['amp'] == 'off' else row['amp']} | {row['model_fps']:.1f} | "
              + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--batch", type=int, help="GIFs per batch (default: 16 on CUDA, 2 on the CPU)")
    parser.add_argument("--steps", type=int, help="timed optimiser steps (default: 10 on CUDA, 2 on the CPU)")
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1,
                        help="loader workers measured: 0..this (default: the CPU count)")
    parser.add_argument("--synth-n", type=int, default=48, help="GIFs in the generated SynthGIF set")
    parser.add_argument("--real-gifs", help="folder of real GIFs (default: $KAVAN_REAL_GIFS; none: skipped)")
    parser.add_argument("--json", help="write the raw numbers to this file")
    args = parser.parse_args()
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    batch = args.batch or (16 if cuda else 2)
    steps = args.steps or (10 if cuda else 2)
    warmup = 3 if cuda else 1
    real = args.real_gifs or os.environ.get("KAVAN_REAL_GIFS")
    logging.getLogger("kavan.data.loader").setLevel(logging.ERROR)  # files left out are listed with the tables
    config = paper_config()
    _, cells = feature_shape(config.model.backbone, config.model.input_size, config.model.cut_after)
    results: dict[str, Any] = {
        "config": CONFIG, "overrides": ["model.weights=none"], "device": str(device),
        "device_name": device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_before": load_average(),
    }
    print(f"# Training speed at the paper's settings: {results['config']}\n")
    print(f"ResNet-50 end to end (random weights), T = {config.model.t}, {config.model.input_size} px, "
          f"augmentation {'on' if config.data.augment else 'off'}, K = {cells}. Device {device} "
          f"({results['device_name']}), torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} CPUs; load average before {' '.join(map(str, results['load_before']))}.\n")

    results["model"] = [time_model(amp, device, batch, warmup, steps) for amp in amp_settings(device)]
    print(f"## Model alone (forward, losses, backward, AdamW; {warmup} warm-up step(s) not timed)\n")
    print_model(results["model"], device)

    sources = []
    with tempfile.TemporaryDirectory() as tmp:
        synth = synth_folder(Path(tmp) / "synthgif", args.synth_n)
        sources.append(time_source("SynthGIF", synth, config, cells, batch, args.max_workers, cuda))
        if real:
            folder = real_folder(Path(tmp) / "real", Path(real))
            sources.append(time_source("real GIFs", folder, config, cells, batch, args.max_workers, cuda))
    results["pipeline"] = sources
    print(f"\n## Data pipeline alone (ClipDataset, training transform, DataLoader batch {batch}"
          f"{', pinned memory' if cuda else ''}; workers run 1 torch thread each; timed after the first batch)\n")
    print_pipeline(sources, results["threads"])
    if not real:
        print("\nreal GIFs: skipped (give --real-gifs DIR or set KAVAN_REAL_GIFS)")

    names = [s["source"] for s in sources] + ([] if real else ["real GIFs"])
    results["workers_needed"] = [
        {"amp": m["amp"], "model_fps": m["frames_per_s"],
         "needs": {s["source"]: workers_needed(m["frames_per_s"], s["runs"]) for s in sources}}
        for m in results["model"]]
    print("\n## Loader workers that keep up with the model (the fewest measured with frames/s >= the model's)\n")
    print_needed(results["workers_needed"], names)

    results["load_after"] = load_average()
    print(f"\nload average before {' '.join(map(str, results['load_before']))}, "
          f"after {' '.join(map(str, results['load_after']))}; torch threads {torch.get_num_threads()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
