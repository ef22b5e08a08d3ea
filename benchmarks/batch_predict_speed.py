"""Batch prediction throughput on one device and backend: GIFs per second of `kavan predict` over the real GIFs.

    .venv/bin/python benchmarks/batch_predict_speed.py [--checkpoint MODEL | --config bench/mtl-softatt-hslstm]
        [--device cpu|cuda] [--backends torch onnxruntime] [--batch-size 16] [--workers 2] [--repeat 5]
        [--json OUT.json]

The real GIFs (../shared/data/real-gifs or $KAVAN_REAL_GIFS), each listed --repeat times, go through
kavan.predict.predict_files (decoding workers, batched forwards: what `kavan predict DIR` does after loading the
model) once as a warm-up and once timed, for each backend asked for: torch on --device, and ONNX Runtime on the
model exported by kavan.predict.onnx (its CUDA provider when installed and --device is cuda; a backend that cannot
run here is reported as skipped with the reason). Prints a Markdown table (the device's name included).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from kavan.showcase.demo import real_gif_folder


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({os.cpu_count()} cores)"


def time_backend(predictor, paths: list[str], batch_size: int, workers: int) -> float:
    from kavan.predict import BatchSettings, predict_files

    settings = BatchSettings(batch_size, workers)
    for _ in predict_files(predictor, paths[:batch_size * 2], settings, progress=False):
        pass
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in predict_files(predictor, paths, settings, progress=False):
        pass
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--config", default="bench/mtl-softatt-hslstm",
                        help="a model of this config with random weights (when no --checkpoint)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    from kavan.predict import load

    folder = real_gif_folder()
    if folder is None:
        raise SystemExit("real GIFs not found: set KAVAN_REAL_GIFS")
    paths = [str(p) for p in sorted(folder.glob("*.gif"))] * args.repeat
    work = tempfile.mkdtemp(prefix="kavan-batch-speed-")
    checkpoint = args.checkpoint
    if checkpoint is None:
        sys.path.insert(0, str(Path(__file__).parent))
        from predict_speed import random_model_file

        checkpoint = random_model_file(args.config, work)
    rows = []
    for backend in args.backends:
        try:
            if backend == "torch":
                predictor = load(checkpoint, args.device)
            else:
                from kavan.predict.onnx import export_onnx, load_onnx

                onnx_path = os.path.join(work, "model.onnx")
                if not os.path.exists(onnx_path):
                    export_onnx(checkpoint, onnx_path)
                predictor = load_onnx(onnx_path)
                providers = predictor.session.get_providers()
                if args.device.startswith("cuda") and "CUDAExecutionProvider" not in providers:
                    raise RuntimeError(f"ONNX Runtime has no CUDA provider here (providers: {', '.join(providers)})")
            rows.append({"backend": backend, "gifs_s": time_backend(predictor, paths, args.batch_size, args.workers)})
        except (ImportError, RuntimeError) as err:
            rows.append({"backend": backend, "skipped": f"{type(err).__name__}: {err}"})
    result = {"device": args.device, "device_name": device_name(args.device), "gifs": len(paths),
              "batch_size": args.batch_size, "workers": args.workers, "model": args.checkpoint or args.config,
              "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['device_name']}: {len(paths)} GIFs, batches of {args.batch_size}, {args.workers} decoding workers, "
          f"model {result['model']}\n")
    print("| backend | GIFs/s |\n|---|---|")
    for row in rows:
        print(f"| {row['backend']} | {row['gifs_s']:.1f} |" if "gifs_s" in row else
              f"| {row['backend']} | skipped: {row['skipped']} |")


if __name__ == "__main__":
    main()
