"""The ONNX Runtime backend against torch: parity on real and SynthGIF clips, speed at 1 and 2 threads, install size.

    .venv/bin/python benchmarks/onnx_backend.py [--checkpoint MODEL | --config bench/mtl-softatt-hslstm]
        [--synth DIR] [--n-synth 50] [--repeat 3] [--batch-size 4] [--passes 3] [--out results.json]
    .venv/bin/python benchmarks/onnx_backend.py --report results.json

1. Parity. The model is exported (kavan.predict.onnx.export_onnx, checked on the real GIFs), then every real GIF
   (../shared/data/real-gifs or $KAVAN_REAL_GIFS) and the first --n-synth GIFs of a SynthGIF set go through both
   backends: the largest absolute difference of the 17 intensities, the quadrant logits and the attention cells
   over all of them, against kavan.predict.onnx.TOLERANCE.
2. Speed. The real GIFs, each listed --repeat times, decoded and transformed beforehand (the same clips for both),
   through the network in batches of --batch-size: GIFs per second for torch (Predictor.forward: the backbone
   with torch's threads, the rest with one, as `kavan predict` runs it) and for ONNX Runtime (one session, its
   intra-op threads set), at 1 and 2 threads; the median of --passes passes after a warm-up.
3. Memory. A generated --frames-frame GIF (benchmarks/predict_speed.py's) predicted in fresh processes on each
   backend: the peak RSS of Predictor.predict, and of `kavan predict`'s route with one decoding worker (main +
   worker PSS). Target: under 1 GB.
4. Size. What a deployment without torch would install: the installed size of onnxruntime and its dependencies
   (numpy, protobuf, flatbuffers, sympy ...) against torch's and torchvision's (with their CUDA libraries), read
   from this environment's site-packages.

--config times a model of that config with random weights (parity and speed do not depend on the weights).
Prints Markdown tables and writes the numbers as JSON (--out); --report prints the tables of a JSON file.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _measure import measure_or_report
from kavan.showcase.demo import real_gif_folder

ORT_ONLY = ("onnxruntime", "numpy", "protobuf", "flatbuffers", "sympy", "mpmath", "packaging", "coloredlogs",
            "humanfriendly")
TORCH = ("torch", "torchvision", "triton", "nvidia-*", "cuda-*")


def installed_mb(patterns: tuple[str, ...]) -> dict[str, float]:
    """MB on disk of the installed distributions whose names match ``patterns`` (a trailing * is a prefix)."""
    sizes: dict[str, float] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"].lower()
        if not any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns):
            continue
        total = 0
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
        sizes[name] = total / 1e6
    return sizes


def clips_of(predictor, paths: list[str]) -> list[torch.Tensor]:
    preparer = predictor.preparer()
    return [preparer(p).inputs for p in paths]


def parity(torch_side, onnx_side, paths: list[str]) -> dict[str, float]:
    worst = {"intensities": 0.0, "quadrant_logits": 0.0, "attention": 0.0}
    for clip in clips_of(torch_side, paths):
        a, b = torch_side.forward(clip[None]), onnx_side.forward(clip[None])
        for key in worst:
            if a[key] is not None:
                worst[key] = max(worst[key], float(np.abs(a[key] - b[key]).max()))
    return worst


def gifs_per_second(predictor, batches: list[torch.Tensor], passes: int) -> float:
    predictor.forward(batches[0])  # warm-up
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        for batch in batches:
            predictor.forward(batch)
        times.append(time.perf_counter() - start)
    return sum(len(b) for b in batches) / statistics.median(times)


def measure(args: argparse.Namespace) -> dict:
    from kavan.predict import load
    from kavan.predict.onnx import TOLERANCE, export_onnx, load_onnx

    folder = real_gif_folder()
    if folder is None:
        raise SystemExit("real GIFs not found: set KAVAN_REAL_GIFS")
    real = [str(p) for p in sorted(folder.glob("*.gif"))]
    work = tempfile.mkdtemp(prefix="kavan-onnx-bench-")
    checkpoint = args.checkpoint
    if args.config:
        sys.path.insert(0, str(Path(__file__).parent))
        from predict_speed import random_model_file

        checkpoint = random_model_file(args.config, work)
    onnx_path = os.path.join(work, "model.onnx")
    start = time.perf_counter()
    export = export_onnx(checkpoint, onnx_path, real[:4])
    export_s = time.perf_counter() - start
    torch_side = load(checkpoint, "cpu")
    synth = sorted(Path(args.synth, "gifs").glob("*.gif"))[:args.n_synth] if args.synth else []
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load_before": os.getloadavg(),
              "model": args.config or os.path.basename(checkpoint), "backbone": torch_side.config.model.backbone,
              "input_size": torch_side.config.model.input_size, "t": torch_side.t, "export_s": export_s,
              "export": {**export.to_json(), "path": "model.onnx"}, "tolerance": TOLERANCE}
    onnx_side = load_onnx(onnx_path)
    result["parity_real"] = {"n": len(real), **parity(torch_side, onnx_side, real)}
    if synth:
        result["parity_synth"] = {"n": len(synth), "data": Path(args.synth).name,
                                  **parity(torch_side, onnx_side, [str(p) for p in synth])}
    clips = clips_of(torch_side, real * args.repeat)
    batches = [torch.stack(clips[i:i + args.batch_size]) for i in range(0, len(clips), args.batch_size)]
    speed = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        speed.append({"threads": threads, "torch_gifs_s": gifs_per_second(torch_side, batches, args.passes),
                      "onnxruntime_gifs_s": gifs_per_second(load_onnx(onnx_path, threads=threads), batches,
                                                            args.passes)})
    result["speed"] = {"gifs": len(clips), "batch_size": args.batch_size, "passes": args.passes, "rows": speed}
    result["install_mb"] = {"onnxruntime_side": installed_mb(ORT_ONLY), "torch_side": installed_mb(TORCH)}
    if args.frames:
        sys.path.insert(0, str(Path(__file__).parent))
        from predict_speed import memory

        result["memory"] = {"torch": memory(checkpoint, args.frames, "torch"),
                            "onnxruntime": memory(onnx_path, args.frames, "onnxruntime")}
    result["load_after"] = os.getloadavg()
    return result


def tables(result: dict) -> str:
    lines = [f"model: {result['model']} ({result['backbone']}, {result['input_size']} px, T = {result['t']}); "
             f"machine: {result['machine']}; load average before {result['load_before'][0]:.2f}, after "
             f"{result['load_after'][0]:.2f}; export {result['export_s']:.0f} s", "",
             "| clips | n | intensities | quadrant logits | attention | tolerance |", "|---|---|---|---|---|---|"]
    for key, name in (("parity_real", "real GIFs"), ("parity_synth", "SynthGIF GIFs")):
        if key in result:
            p = result[key]
            lines.append(f"| {name} | {p['n']} | {p['intensities']:.1e} | {p['quadrant_logits']:.1e} | "
                         f"{p['attention']:.1e} | {result['tolerance']:g} |")
    lines += ["", "| threads | torch GIFs/s | ONNX Runtime GIFs/s | ONNX Runtime / torch |", "|---|---|---|---|"]
    for row in result["speed"]["rows"]:
        lines.append(f"| {row['threads']} | {row['torch_gifs_s']:.1f} | {row['onnxruntime_gifs_s']:.1f} | "
                     f"{row['onnxruntime_gifs_s'] / row['torch_gifs_s']:.2f} |")
    sizes = result["install_mb"]
    ort, tor = sum(sizes["onnxruntime_side"].values()), sum(sizes["torch_side"].values())
    lines += ["", f"installed: onnxruntime and its dependencies {ort:.0f} MB "
                  f"({', '.join(f'{k} {v:.0f}' for k, v in sorted(sizes['onnxruntime_side'].items()))}); "
                  f"torch, torchvision and their CUDA libraries {tor:.0f} MB"]
    if "memory" in result:
        lines += ["", "| backend | 1 file, Predictor.predict: peak RSS | `kavan predict` (1 worker): main + worker PSS "
                      "| seconds |", "|---|---|---|---|"]
        for backend, m in result["memory"].items():
            lines.append(f"| {backend} ({m['n_frames']}-frame GIF) | {m['api']['peak_rss_mb']:.0f} MB | "
                         f"{m['batch']['peak_pss_total_mb']:.0f} MB | {m['api']['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="demo-out/model.safetensors")
    parser.add_argument("--config", help="time a model of this config with random weights instead of --checkpoint")
    parser.add_argument("--synth", help="a SynthGIF set whose first --n-synth GIFs are checked too")
    parser.add_argument("--n-synth", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--frames", type=int, default=1000,
                        help="peak memory of a GIF of this many frames on each backend (0 skips it)")
    parser.add_argument("--out", help="write the numbers here (JSON)")
    parser.add_argument("--report", help="print the tables of a JSON file written by --out")
    measure_or_report(parser.parse_args(), measure, tables)


if __name__ == "__main__":
    main()
