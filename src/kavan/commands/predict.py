"""`kavan predict PATH... --checkpoint CKPT`: emotions, quadrant and attention pictures for GIFs, videos and images.

One file gives one JSON object on stdout (indented); several files (or any folder, walked recursively) give JSON
Lines, one per file, streamed as each batch is done. A file that cannot be read gives {"path", "error"} and the
batch goes on; the exit code is 1 when any file failed, else 0. ``--out FILE.jsonl`` appends the lines to a
file instead (each line written whole and flushed), ``--resume`` skips the paths already in it. ``--overlay DIR``
and ``--chart DIR`` write each file's pictures before its line. Schema and details: docs/predict.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from kavan.errors import KavanError

NAME = "predict"
HELP = "predict the 17 emotion intensities and the quadrant of GIFs, videos and images (JSON), with pictures"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="media files (GIF, MP4/WebM, PNG/JPEG/WebP) or folders (searched recursively)")
    parser.add_argument("--checkpoint", required=True, metavar="CKPT",
                        help="trained model file (model.safetensors from kavan train or make demo)")
    parser.add_argument("--out", metavar="FILE.jsonl",
                        help="write the JSON lines to this file instead of stdout (an existing file needs --resume)")
    parser.add_argument("--resume", action="store_true", help="with --out: skip the files already recorded in it")
    parser.add_argument("--overlay", metavar="DIR", help="write <name>.overlay.gif per file: attention over the "
                                                         "sampled frames")
    parser.add_argument("--chart", metavar="DIR", help="write <name>.chart.png per file: the 17 intensities")
    parser.add_argument("--batch-size", type=int, default=4, help="clips per model forward (default 4)")
    parser.add_argument("--workers", type=int, default=1,
                        help="decoding processes beside the model (default 1; 0 decodes in the main process)")
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda or cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from kavan.predict import BatchSettings, load, predict_files, write_chart, write_overlay
    from kavan.predict.inputs import expand_inputs, picture_path
    from kavan.predict.jsonl import JsonLinesOutput, path_key

    if args.resume and not args.out:
        raise KavanError("--resume needs --out FILE.jsonl (the file to resume)")
    items = expand_inputs(args.paths)
    if not items:
        raise KavanError(f"no media files found in {', '.join(args.paths)} (extensions: gif, mp4, webm, mov, mkv, "
                         "png, jpg, jpeg, webp)")
    predictor = load(args.checkpoint, args.device)
    if args.overlay and not predictor.has_attention:
        raise KavanError("--overlay needs a model with attention (model.attention.enabled is false)",
                         args.checkpoint)
    output = JsonLinesOutput(args.out, args.resume) if args.out else None
    try:
        if output is not None and output.done:
            before = len(items)
            items = [item for item in items if path_key(item.path) not in output.done]
            log.info("%s: %d of %d files already recorded, skipped", args.out, before - len(items), before)
        single = output is None and len(args.paths) == 1 and not os.path.isdir(args.paths[0])
        settings = BatchSettings(args.batch_size, args.workers if len(items) > 1 else 0, keep_frames=bool(args.overlay))
        names = {item.path: item for item in items}
        failed = 0
        results = predict_files(predictor, [item.path for item in items], settings,
                                progress=len(items) > 1 and not args.no_progress)
        for result in results:
            if result.analysis is None:
                failed += 1
                log.warning("%s: %s", result.path, result.error)
            else:
                item = names[result.path]
                if args.overlay and result.analysis.attention is not None:
                    write_overlay(picture_path(args.overlay, item, "overlay.gif"), result.analysis.attention)
                if args.chart:
                    write_chart(picture_path(args.chart, item, "chart.png"), result.analysis.prediction)
            record = result.to_json()
            if output is not None:
                output.write(record)
            else:
                sys.stdout.write(json.dumps(record, indent=2 if single else None, allow_nan=False) + "\n")
                sys.stdout.flush()
    finally:
        if output is not None:
            output.close()
    if failed:
        log.info("%d of %d files could not be read", failed, len(items))
    return 1 if failed else 0
