"""Ray Data against `kavan predict` on one machine: GIFs per second over the same files.

    KAVAN_REAL_GIFS=../shared/data/real-gifs .venv/bin/python benchmarks/ray_throughput.py \\
        [--checkpoint MODEL | --config bench/mtl-softatt-hslstm] [--repeat 5] [--cpus 2] [--out results.json]
    .venv/bin/python benchmarks/ray_throughput.py --report results.json

The real GIFs, each linked --repeat times into one folder, are predicted (1) by kavan.predict.predict_files with
one decoding worker, batches of 4: what `kavan predict DIR --workers 1` does after loading the model; (2) by
kavan.predict.ray_data.predict_dataset on a local Ray runtime of --cpus CPUs: Ray's binary-file reader, two
RayPredictor actors of (cpus - 1) / 2 CPUs each (a CPU is left to the reader), batches of 4, JSON Lines written.
Both are timed from the first file read to the last record written, the model already loaded in (1) and loaded
by each actor in (2) (an actor's start is part of a Ray job). Ray runs its workers at niceness 15; the script
lowers its own priority to 15 first, so that both routes compete on equal terms with whatever else runs. The records of both are compared (the same paths,
intensities within 1e-5). Prints a Markdown table; --out writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _measure import measure_or_report
from kavan.showcase.demo import real_gif_folder

RAY_WORKER_NICENESS = 15


def measure(args: argparse.Namespace) -> dict:
    import ray

    niceness = os.nice(0)
    if niceness < RAY_WORKER_NICENESS:
        os.nice(RAY_WORKER_NICENESS - niceness)  # Ray's workers run at 15: both routes at the same priority

    from kavan.predict import BatchSettings, load, predict_files
    from kavan.predict.ray_data import predict_dataset, read_records

    source = real_gif_folder()
    if source is None:
        raise SystemExit("real GIFs not found: set KAVAN_REAL_GIFS")
    work = Path(tempfile.mkdtemp(prefix="kavan-ray-bench-"))
    checkpoint = args.checkpoint
    if args.config:
        sys.path.insert(0, str(Path(__file__).parent))
        from predict_speed import random_model_file

        checkpoint = random_model_file(args.config, str(work))
    folder = work / "gifs"
    folder.mkdir()
    for k in range(args.repeat):
        for gif in sorted(source.glob("*.gif")):
            (folder / f"{k}-{gif.name}").symlink_to(gif)
    paths = sorted(str(p) for p in folder.iterdir())
    predictor = load(checkpoint, "cpu")
    start = time.perf_counter()
    local = [r.to_json() for r in predict_files(predictor, paths, BatchSettings(4, 1), progress=False)]
    local_s = time.perf_counter() - start
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
        start = time.perf_counter()
        predict_dataset([str(folder)], checkpoint, str(work / "ray-out"), batch_size=4, concurrency=2,
                        num_cpus=(args.cpus - 1) / 2)
        ray_s = time.perf_counter() - start
    finally:
        ray.shutdown()
    got = read_records(work / "ray-out")
    want = sorted(local, key=lambda r: r["path"])
    same = [a["path"] for a in got] == [b["path"] for b in want] and all(
        max(abs(a["emotions"][e] - b["emotions"][e]) for e in b["emotions"]) < 1e-5 for a, b in zip(got, want))
    return {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "model": args.config or Path(checkpoint).name,
            "files": len(paths), "cpus": args.cpus, "load_before": os.getloadavg(), "kavan_predict_s": local_s,
            "ray_s": ray_s, "records_equal": same}


def table(result: dict) -> str:
    n = result["files"]
    rows = [("kavan predict --workers 1", result["kavan_predict_s"]), (f"Ray Data, {result['cpus']} local CPUs, "
                                                                      "2 actors", result["ray_s"])]
    lines = [f"model: {result['model']}; {n} GIFs; machine: {result['machine']}, load average before "
             f"{result['load_before'][0]:.2f}; records equal: {result['records_equal']}", "",
             "| route | seconds | GIFs/s | against kavan predict |", "|---|---|---|---|"]
    for name, seconds in rows:
        lines.append(f"| {name} | {seconds:.1f} | {n / seconds:.2f} | {result['kavan_predict_s'] / seconds:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="demo-out/model.safetensors")
    parser.add_argument("--config", help="a model of this config with random weights instead of --checkpoint")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--out", help="write the numbers here (JSON)")
    parser.add_argument("--report", help="print the table of a JSON file written by --out")
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
