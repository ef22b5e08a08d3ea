"""What face glimpses cost at prediction: the glimpse row against the full model on the real GIFs, and the peak
memory of a 1,000-frame GIF.

    .venv/bin/python benchmarks/glimpse_cost.py [--full CONFIG_OR_MODEL] [--glimpse CONFIG_OR_MODEL]
        [--repeat 3] [--passes 5] [--frames 1000] [--out docs/results/glimpse/cost.json]
    .venv/bin/python benchmarks/glimpse_cost.py --report docs/results/glimpse/cost.json

Each model is a model file, or a shipped config (default: bench/mtl-softatt-hslstm and
bench/mtl-softatt-hslstm-glimpse) made into a model file with random weights (the cost does not depend on the
weights). Speed: the real GIFs ($KAVAN_REAL_GIFS: ../shared/data/real-gifs here), each listed --repeat times, are
predicted end to end as `kavan predict` does (kavan.predict.predict_files, one decoding worker, batches of 4), the
two models alternating for --passes passes after a warm-up each; reported per model: the wall-clock seconds of
every pass, their median and the CPU seconds (this process and its finished workers), and the ratios glimpse /
full of the medians and of the fastest passes. Goal: at most 1.5. Memory: benchmarks/predict_speed.py's probe
(a generated 480 x 360 GIF of --frames frames, predicted in fresh processes by kavan.load(...).predict and by the
batch path), for the glimpse model. Goal: under 1 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import torch

from _measure import add_result_options, cpu_seconds, measure_or_report
from kavan.config import config_file
from kavan.predict import BatchSettings, load, predict_files
from kavan.showcase.demo import real_gif_folder
from predict_speed import memory, random_model_file


def model_file(name: str, folder: str) -> str:
    """A model file as given, or one with random weights for a config file or shipped config name."""
    if name.endswith(".safetensors"):
        return name
    path = random_model_file(str(config_file(name)), folder)
    os.replace(path, kept := os.path.join(folder, name.replace("/", "_") + ".safetensors"))
    return kept


def measure(args: argparse.Namespace) -> dict:
    folder = real_gif_folder()
    if folder is None:
        raise SystemExit("real GIFs not found: set KAVAN_REAL_GIFS")
    paths = [str(p) for p in sorted(folder.glob("*.gif"))] * args.repeat
    settings = BatchSettings(batch_size=4, workers=1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kavan-bench-") as scratch:
        models = {"full": model_file(args.full, scratch), "glimpse": model_file(args.glimpse, scratch)}
        predictors = {name: load(path, "cpu") for name, path in models.items()}

        def run(name: str) -> tuple[float, float]:
            start, cpu = time.perf_counter(), cpu_seconds()
            for _ in predict_files(predictors[name], paths, settings, progress=False):
                pass
            return time.perf_counter() - start, cpu_seconds() - cpu

        for name in models:  # warm-up
            run(name)
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
        for _ in range(args.passes):
            for name in models:
                timings[name].append(run(name))
        mem = memory(models["glimpse"], args.frames) if args.frames else None
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
                         f"{torch.get_num_threads()} torch threads",
              "load_average": [list(load_before), list(os.getloadavg())], "files": len(paths),
              "models": {"full": args.full, "glimpse": args.glimpse}, "passes": {}}
    for name, runs in timings.items():
        result["passes"][name] = {"wall_s": [round(s, 3) for s, _ in runs], "cpu_s": [round(c, 3) for _, c in runs],
                                  "median_wall_s": round(statistics.median(s for s, _ in runs), 3),
                                  "median_cpu_s": round(statistics.median(c for _, c in runs), 3)}
    full, glimpse = result["passes"]["full"], result["passes"]["glimpse"]
    result["ratio_of_medians"] = round(glimpse["median_wall_s"] / full["median_wall_s"], 3)
    result["ratio_of_fastest"] = round(min(glimpse["wall_s"]) / min(full["wall_s"]), 3)
    result["cpu_ratio"] = round(glimpse["median_cpu_s"] / full["median_cpu_s"], 3)
    if mem is not None:
        result["memory"] = {"n_frames": mem["n_frames"], "api_peak_rss_mb": round(mem["api"]["peak_rss_mb"]),
                            "batch_peak_pss_total_mb": round(mem["batch"]["peak_pss_total_mb"])}
    return result


def table(result: dict) -> str:
    full, glimpse = result["passes"]["full"], result["passes"]["glimpse"]
    lines = [f"Machine: {result['machine']}; load average {result['load_average'][0][0]:.2f} before, "
             f"{result['load_average'][1][0]:.2f} after; {result['files']} files per pass.", "",
             "| model | wall-clock seconds per pass | median | CPU seconds (median) |", "|---|---|---|---|"]
    for name, passes in (("full", full), ("glimpse", glimpse)):
        lines.append(f"| `{result['models'][name]}` | {' / '.join(f'{s:.2f}' for s in passes['wall_s'])} | "
                     f"{passes['median_wall_s']:.2f} | {passes['median_cpu_s']:.1f} |")
    lines += ["", f"Glimpse / full: **{result['ratio_of_medians']:.2f}×** (medians), "
                  f"{result['ratio_of_fastest']:.2f}× (fastest passes), {result['cpu_ratio']:.2f}× in CPU seconds."]
    if "memory" in result:
        m = result["memory"]
        lines += ["", f"{m['n_frames']}-frame 480 × 360 GIF, glimpse model: peak RSS {m['api_peak_rss_mb']} MB "
                      f"(kavan.load(...).predict), peak PSS {m['batch_peak_pss_total_mb']} MB (batch path, main + "
                      "worker)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", default="bench/mtl-softatt-hslstm")
    parser.add_argument("--glimpse", default="bench/mtl-softatt-hslstm-glimpse")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--frames", type=int, default=1000, help="0: skip the memory probe")
    add_result_options(parser)
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
