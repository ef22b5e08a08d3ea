"""Prediction speed and memory: end to end against the bare backbone, and a 1,000-frame GIF's peak memory.

    .venv/bin/python benchmarks/predict_speed.py --checkpoint demo-out/model.safetensors [--repeat 3]
        [--batch-size 4] [--workers 1] [--passes 5] [--frames 1000] [--skip-memory]
    .venv/bin/python benchmarks/predict_speed.py --checkpoint demo-out/model.safetensors --threads-check
    .venv/bin/python benchmarks/predict_speed.py --config paper/mtl-softatt-hslstm --skip-memory

1. Speed. The real GIFs (../shared/data/real-gifs, or $KAVAN_REAL_GIFS), each listed --repeat times, are predicted
   end to end with kavan.predict.predict_files (DataLoader workers decode while the model runs; exactly what
   `kavan predict` does after loading the model). The same T sampled frames of every file, decoded and
   transformed beforehand, then go through the bare backbone alone in the same batches (B GIFs x T frames per
   forward). Ratio = end-to-end seconds / backbone seconds; the target is <= 1.15. Each side is timed --passes
   times, alternating; the ratio of the medians and the ratio of the fastest passes are reported (on a shared
   machine the fastest pass is the one least disturbed by other processes). The CPU seconds of each side (this process plus its finished
   DataLoader workers) are reported too: their ratio is the extra work prediction does beyond the backbone
   (decoding, transforming, the temporal module and heads), which other processes on the machine do not change,
   whereas the wall-clock ratio also depends on whether a free core is there to hide the decoding.
2. Memory. A 1,000-frame 480 x 360 GIF with a full-frame change on every frame is generated (streamed to disk,
   never held whole), then predicted in fresh processes: (a) Predictor.predict, in one process; (b)
   predict_files with one decoding worker, as `kavan predict` runs. Reported: the process's peak RSS (VmHWM;
   getrusage's ru_maxrss is not used because Linux carries it over from the parent across exec), the worker's
   peak RSS, the peak of main + worker PSS sampled every 20 ms (pages shared after the fork counted once), the
   tracemalloc peak (Python and numpy allocations made while predicting) and, on a GPU,
   torch.cuda.max_memory_allocated. Target: < 1 GB.

--config times a model of that config with random weights instead (the paper's ResNet-50 model, say).

3. --threads-check alone: the model after the backbone (attention, LSTMs, heads) on one batch of features, and
   the backbone on one batch of frames, with 2 and 1 torch threads (the reason kavan.predict runs the former
   with one thread on the CPU).

Prints Markdown tables, the machine, torch's thread count and the load average before and after (other
processes share the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from _measure import cpu_seconds
from kavan.predict import BatchSettings, load, predict_files
from kavan.showcase.demo import real_gif_folder


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def speed(checkpoint: str, repeat: int, batch_size: int, workers: int, passes: int) -> dict:
    folder = real_gif_folder()
    if folder is None:
        raise SystemExit("real GIFs not found: set KAVAN_REAL_GIFS")
    paths = [str(p) for p in sorted(folder.glob("*.gif"))] * repeat
    predictor = load(checkpoint, "auto")
    preparer = predictor.preparer()
    clips = [preparer.from_path(p).inputs for p in paths]  # the same sampled frames, decoded beforehand
    batches = [torch.stack(clips[i:i + batch_size]) for i in range(0, len(clips), batch_size)]
    backbone = predictor.model.backbone
    settings = BatchSettings(batch_size=batch_size, workers=workers)

    def end_to_end() -> tuple[float, float]:
        start, cpu = time.perf_counter(), cpu_seconds()
        for _ in predict_files(predictor, paths, settings, progress=False):
            pass
        return time.perf_counter() - start, cpu_seconds() - cpu  # the workers have exited: their time counts

    @torch.inference_mode()
    def bare_backbone() -> tuple[float, float]:
        start, cpu = time.perf_counter(), cpu_seconds()
        for batch in batches:
            backbone(batch.flatten(0, 1).to(predictor.device))
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start, cpu_seconds() - cpu

    end_to_end()  # warm-up: worker start, allocator, first forward
    bare_backbone()
    e2e, bare = [], []
    for _ in range(passes):
        e2e.append(end_to_end())
        bare.append(bare_backbone())
    wall = (statistics.median(s for s, _ in e2e), statistics.median(s for s, _ in bare))
    cpu = (statistics.median(c for _, c in e2e), statistics.median(c for _, c in bare))
    return {"files": len(paths), "frames": len(paths) * predictor.t, "device": str(predictor.device),
            "backbone": predictor.config.model.backbone, "input_size": predictor.config.model.input_size,
            "batch_size": batch_size, "workers": workers, "end_to_end_s": [s for s, _ in e2e],
            "backbone_s": [s for s, _ in bare], "ratio": wall[0] / wall[1],
            "ratio_of_fastest": min(s for s, _ in e2e) / min(s for s, _ in bare), "cpu_s": cpu,
            "cpu_ratio": cpu[0] / cpu[1]}


def threads_check(checkpoint: str, batch_size: int) -> list[tuple[int, float, float]]:
    """(threads, ms per batch of the model after the backbone, ms per batch of the backbone), twice per setting:
    why Predictor.forward runs the attention, LSTMs and heads with one thread on the CPU."""
    predictor = load(checkpoint, "cpu")
    model, t = predictor.model, predictor.t
    size = predictor.config.model.input_size
    features = model.encode_frames(torch.randn(1, t, 3, size, size)).expand(batch_size, -1, -1, -1, -1).contiguous()
    frames = torch.randn(batch_size * t, 3, size, size)
    before = torch.get_num_threads()
    rows = []
    with torch.inference_mode():
        for threads in (2, 1, 2, 1):
            torch.set_num_threads(threads)
            model(features=features)
            start = time.perf_counter()
            for _ in range(5):
                model(features=features)
            rest = (time.perf_counter() - start) / 5
            start = time.perf_counter()
            model.backbone(frames)
            rows.append((threads, 1000 * rest, 1000 * (time.perf_counter() - start)))
    torch.set_num_threads(before)
    return rows


def write_long_gif(path: Path, n_frames: int, width: int = 480, height: int = 360) -> None:
    """A GIF whose every frame changes everywhere (a moving gradient and a moving block), streamed to disk."""
    y, x = np.mgrid[0:height, 0:width]

    def frames():
        for k in range(n_frames):
            image = np.empty((height, width, 3), np.uint8)
            image[..., 0] = (x + 3 * k) % 256
            image[..., 1] = (y + 5 * k) % 256
            image[..., 2] = (x + y + 7 * k) % 256
            top, left = (7 * k) % (height - 60), (11 * k) % (width - 80)
            image[top:top + 60, left:left + 80] = 255
            yield Image.fromarray(image).quantize(64)

    stream = frames()
    first = next(stream)
    first.save(path, save_all=True, append_images=stream, duration=40, loop=0)


MEMORY_PROBE = r"""
import json, os, sys, threading, time, tracemalloc, torch
from kavan.predict import BatchSettings, load, predict_files

def kib(path, key):
    try:
        with open(path) as handle:
            return next((int(line.split()[1]) for line in handle if line.startswith(key)), 0)
    except OSError:
        return 0

def children():
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if handle.read().rsplit(")", 1)[1].split()[1] == me:
                        yield entry
            except (OSError, IndexError):
                pass

peak = {"pss_total_kib": 0, "worker_hwm_kib": 0}
done = threading.Event()

def sample():
    while not done.is_set():
        kids = list(children())
        total = kib("/proc/self/smaps_rollup", "Pss:") + sum(kib(f"/proc/{k}/smaps_rollup", "Pss:") for k in kids)
        peak["pss_total_kib"] = max(peak["pss_total_kib"], total)
        for k in kids:
            peak["worker_hwm_kib"] = max(peak["worker_hwm_kib"], kib(f"/proc/{k}/status", "VmHWM:"))
        time.sleep(0.02)

checkpoint, gif, mode = sys.argv[1:4]
backend = sys.argv[4] if len(sys.argv) > 4 else "torch"
predictor = load(checkpoint, "auto", backend=backend)
if predictor.device.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
after_load = kib("/proc/self/status", "VmRSS:")
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
tracemalloc.start()
started = time.perf_counter()
if mode == "api":
    result = predictor.predict(gif)
else:
    (item,) = list(predict_files(predictor, [gif], BatchSettings(batch_size=1, workers=1), progress=False))
    result = item.analysis.prediction
seconds = time.perf_counter() - started
_, traced = tracemalloc.get_traced_memory()
done.set()
sampler.join()
print(json.dumps({
    "frames_used": result.frames_used,
    "seconds": seconds,
    "rss_after_load_mb": after_load / 1024,
    "peak_rss_mb": kib("/proc/self/status", "VmHWM:") / 1024,
    "worker_peak_rss_mb": peak["worker_hwm_kib"] / 1024,
    "peak_pss_total_mb": peak["pss_total_kib"] / 1024,
    "tracemalloc_peak_mb": traced / 2**20,
    "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
}))
"""


def memory(checkpoint: str, n_frames: int, backend: str = "torch") -> dict:
    """Peak memory of predicting a generated n_frames GIF, in fresh processes (the module docstring, 2.);
    ``backend``: kavan.load's (``onnxruntime`` with an ONNX file)."""
    with tempfile.TemporaryDirectory() as folder:
        gif = Path(folder) / "long.gif"
        write_long_gif(gif, n_frames)
        results = {"gif_bytes": gif.stat().st_size, "n_frames": n_frames, "backend": backend}
        for mode in ("api", "batch"):
            out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, checkpoint, str(gif), mode, backend],
                                 capture_output=True, text=True, check=True)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def random_model_file(config_path: str, folder: str) -> str:
    """A model file with random weights for a config (speed does not depend on the weights)."""
    from kavan.config import load_config
    from kavan.models import KAVAN
    from kavan.models.storage import save_model

    config = load_config(config_path, ["model.weights=none"])
    path = os.path.join(folder, "random-model.safetensors")
    save_model(path, KAVAN(config.model), config, {"note": f"random weights from {config_path}, for timing only"})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="demo-out/model.safetensors")
    parser.add_argument("--config", help="time a model of this config with random weights instead of --checkpoint "
                                         "(e.g. paper/mtl-softatt-hslstm: ResNet-50, the paper's backbone)")
    parser.add_argument("--repeat", type=int, default=3, help="times each real GIF is listed (default 3)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--threads-check", action="store_true",
                        help="only time the model after the backbone, and the backbone, with 1 and 2 threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kavan-bench-") as scratch:
        if args.config:
            args.checkpoint = random_model_file(args.config, scratch)
        report(args)


def report(args: argparse.Namespace) -> None:
    """Run what the arguments ask for and print its tables."""
    if args.threads_check:
        print(f"load average before: {load_average()}\n")
        print(f"| torch threads | attention + LSTMs + heads, ms per batch of {args.batch_size} | "
              f"backbone, ms per {args.batch_size} clips |")
        print("|---|---|---|")
        for threads, rest, backbone in threads_check(args.checkpoint, args.batch_size):
            print(f"| {threads} | {rest:.0f} | {backbone:.0f} |")
        print(f"\nload average after: {load_average()}")
        return

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads; load average before: {load_average()}")
    result = speed(args.checkpoint, args.repeat, args.batch_size, args.workers, args.passes)
    print("\n| files | frames | device | backbone | batch | workers | end to end (s) | bare backbone (s) | "
          "ratio of medians | ratio of fastest | CPU s, end to end / backbone (medians) | CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {result['files']} | {result['frames']} | {result['device']} | {result['backbone']} "
          f"{result['input_size']}² | {result['batch_size']} | {result['workers']} | "
          f"{' / '.join(f'{s:.2f}' for s in result['end_to_end_s'])} | "
          f"{' / '.join(f'{s:.2f}' for s in result['backbone_s'])} | {result['ratio']:.3f} | "
          f"{result['ratio_of_fastest']:.3f} | "
          f"{result['cpu_s'][0]:.1f} / {result['cpu_s'][1]:.1f} | {result['cpu_ratio']:.3f} |")
    if not args.skip_memory:
        mem = memory(args.checkpoint, args.frames)
        print(f"\n{mem['n_frames']}-frame 480x360 GIF ({mem['gif_bytes'] / 1e6:.1f} MB), frames used "
              f"{mem['api']['frames_used']}")
        print("\n| mode | seconds | RSS after load (MB) | peak RSS, main (MB) | peak RSS, worker (MB) | "
              "peak PSS, main + worker (MB) | tracemalloc peak (MB) | CUDA peak (MB) |")
        print("|---|---|---|---|---|---|---|---|")
        for mode in ("api", "batch"):
            m = mem[mode]
            worker = f"{m['worker_peak_rss_mb']:.0f}" if mode == "batch" else "-"
            cuda = "-" if m["cuda_peak_mb"] is None else f"{m['cuda_peak_mb']:.0f}"
            print(f"| {mode} | {m['seconds']:.1f} | {m['rss_after_load_mb']:.0f} | {m['peak_rss_mb']:.0f} | {worker} | "
                  f"{m['peak_pss_total_mb']:.0f} | {m['tracemalloc_peak_mb']:.1f} | {cuda} |")
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
