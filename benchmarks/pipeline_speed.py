"""Is `kavan predict` bounded by its slowest stage? Decode-only, model-only and end-to-end times on the same files.

    KAVAN_REAL_GIFS=../shared/data/real-gifs .venv/bin/python benchmarks/pipeline_speed.py \\
        [--checkpoint MODEL | --config bench/mtl-softatt-hslstm] [--synth DIR --n-synth 60] [--repeat 3]
        [--batch-size 4] [--workers 1] [--passes 3] [--out results.json]
    .venv/bin/python benchmarks/pipeline_speed.py --report results.json

For each file set (the real GIFs listed --repeat times; the first --n-synth GIFs of a SynthGIF set) and for torch
threads 1 and 2, each timed --passes times (median) after a warm-up:

- decode only: kavan.predict.batch's DataLoader (the same --workers decoding processes, the same batches and
  collation) iterated with no model;
- model only: the same clips, decoded and transformed beforehand, through the full model (Predictor.forward), and
  through the bare backbone alone;
- end to end: kavan.predict.predict_files, what `kavan predict` does after loading the model.

Reported: the ratio end to end / max(decode only, model only), 1.0 when the pipeline is bounded by its slowest
stage and 2.0 when the stages run one after the other; and the older figure end to end / bare backbone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from _measure import measure_or_report
from kavan.showcase.demo import real_gif_folder


def timed(function, passes: int) -> float:
    function()  # warm-up: worker start, allocator, first forward
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_set(predictor, paths: list[str], args: argparse.Namespace, threads: int) -> dict:
    from torch.utils.data import DataLoader

    from kavan.predict import BatchSettings, predict_files
    from kavan.predict.batch import _Files, collate

    torch.set_num_threads(threads)
    preparer = predictor.preparer()
    clips = [preparer(p).inputs for p in paths]
    batches = [torch.stack(clips[i:i + args.batch_size]) for i in range(0, len(clips), args.batch_size)]
    settings = BatchSettings(args.batch_size, args.workers)

    def decode_only() -> None:
        loader = DataLoader(_Files(paths, preparer), batch_size=args.batch_size, num_workers=args.workers,
                            collate_fn=collate)
        for _ in loader:
            pass

    def model_only() -> None:
        for batch in batches:
            predictor.forward(batch)

    @torch.inference_mode()
    def backbone_only() -> None:
        for batch in batches:
            predictor.model.backbone(batch.flatten(0, 1))

    def end_to_end() -> None:
        for _ in predict_files(predictor, paths, settings, progress=False):
            pass

    row = {"threads": threads, "files": len(paths), "decode_s": timed(decode_only, args.passes),
           "model_s": timed(model_only, args.passes), "backbone_s": timed(backbone_only, args.passes),
           "end_to_end_s": timed(end_to_end, args.passes)}
    row["ratio"] = row["end_to_end_s"] / max(row["decode_s"], row["model_s"])
    row["ratio_to_backbone"] = row["end_to_end_s"] / row["backbone_s"]
    return row


def measure(args: argparse.Namespace) -> dict:
    from kavan.predict import load

    folder = real_gif_folder()
    if folder is None:
        raise SystemExit("real GIFs not found: set KAVAN_REAL_GIFS")
    checkpoint = args.checkpoint
    if args.config:
        sys.path.insert(0, str(Path(__file__).parent))
        from predict_speed import random_model_file

        checkpoint = random_model_file(args.config, tempfile.mkdtemp(prefix="kavan-pipeline-"))
    predictor = load(checkpoint, "cpu")
    sets = {"real GIFs": [str(p) for p in sorted(folder.glob("*.gif"))] * args.repeat}
    if args.synth:
        sets[f"SynthGIF ({Path(args.synth).name})"] = [str(p) for p in sorted(Path(args.synth, "gifs").glob("*.gif"))
                                                      ][:args.n_synth]
    rows = [{"set": name, **measure_set(predictor, paths, args, threads)}
            for name, paths in sets.items() for threads in (1, 2)]
    return {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "model": args.config or Path(checkpoint).name,
            "batch_size": args.batch_size, "workers": args.workers, "passes": args.passes,
            "load_before": os.getloadavg(), "rows": rows}


def table(result: dict) -> str:
    lines = [f"model: {result['model']}; batches of {result['batch_size']}, {result['workers']} decoding worker(s), "
             f"median of {result['passes']} passes; machine: {result['machine']}, load average before "
             f"{result['load_before'][0]:.2f}", "",
             "| files | threads | decode only (s) | model only (s) | bare backbone (s) | end to end (s) | "
             "end to end / max(decode, model) | end to end / bare backbone |", "|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row['set']}, {row['files']} | {row['threads']} | {row['decode_s']:.2f} | "
                     f"{row['model_s']:.2f} | {row['backbone_s']:.2f} | {row['end_to_end_s']:.2f} | "
                     f"{row['ratio']:.2f} | {row['ratio_to_backbone']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="demo-out/model.safetensors")
    parser.add_argument("--config", help="a model of this config with random weights instead of --checkpoint")
    parser.add_argument("--synth", help="a SynthGIF set; its first --n-synth GIFs are a second file set")
    parser.add_argument("--n-synth", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", help="write the numbers here (JSON)")
    parser.add_argument("--report", help="print the table of a JSON file written by --out")
    measure_or_report(parser.parse_args(), measure, table)


if __name__ == "__main__":
    main()
