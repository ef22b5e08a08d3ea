"""`kavan synth`: generate the SynthGIF benchmark, or draw a preview of an existing one."""

from __future__ import annotations

import argparse
import json
import os
import time

from kavan.cli._common import add_no_progress, add_overrides

NAME = "synth"
HELP = "generate the SynthGIF procedural benchmark (GIFs, votes, scores, keypoints, ground truth)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", help="new or empty folder to write the dataset into")
    parser.add_argument("--n", type=int, metavar="N", help="number of GIFs")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--preset", default="default", help="configuration preset: default or hard")
    add_overrides(parser, "override one config value (repeatable), e.g. --set kp_jitter=0.05")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: CPU count); the output does not depend on it")
    parser.add_argument("--preview", metavar="OUT.png",
                        help="also write a contact sheet of a few GIFs with landmarks and keypoints")
    parser.add_argument("--from", dest="from_dir", metavar="DIR",
                        help="with --preview only: draw the preview of an existing SynthGIF folder")
    add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    from kavan.core.errors import KavanError
    from kavan.synth.preview import write_preview

    if args.from_dir is not None:
        if args.preview is None or args.out is not None or args.n is not None:
            raise KavanError("--from DIR draws a preview of an existing folder: give --preview OUT.png and "
                             "neither --out nor --n")
        if not os.path.isfile(os.path.join(args.from_dir, "synth.json")):
            raise KavanError("not a SynthGIF folder (no synth.json)", args.from_dir)
        path = write_preview(args.from_dir, args.preview)
        print(json.dumps({"preview": str(path)}))
        return 0
    if args.out is None or args.n is None:
        raise KavanError("give --out DIR and --n N (or --preview OUT.png --from DIR)")
    if args.workers is not None and args.workers < 1:
        raise KavanError(f"--workers must be >= 1, got {args.workers}")

    from kavan.synth import generate_dataset, resolve

    cfg = resolve(args.preset, args.overrides)
    start = time.perf_counter()
    summary = generate_dataset(args.out, args.n, args.seed, cfg, workers=args.workers, preset=args.preset,
                               overrides=args.overrides, progress=not args.no_progress)
    result = {"out": str(summary.out_dir), "n": summary.n, "votes": summary.n_votes,
              "scenarios": summary.scenarios, "seconds": round(time.perf_counter() - start, 1)}
    if args.preview is not None:
        result["preview"] = str(write_preview(summary.out_dir, args.preview))
    print(json.dumps(result))
    return 0
