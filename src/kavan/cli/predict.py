"""`kavan predict PATH... --checkpoint CKPT`: emotions, quadrant and attention pictures for GIFs, videos and images.

One file gives one JSON object on stdout (indented); several files (or any folder, walked recursively) give JSON
Lines, one per file, streamed as each batch is done. A file that cannot be read gives {"path", "error"} and the
batch goes on; the exit code is 1 when any file failed, else 0. ``--out FILE.jsonl`` appends the lines to a
file instead (each line written whole and flushed, the file locked against a second run), ``--resume`` skips the
paths already in it. ``--shard I/N`` takes one N-th of the files (by a hash of each path, so adding files moves
none of the others; one --out file per shard, each resumable). ``--overlay DIR`` and ``--chart DIR`` write each file's pictures before its line. An argument
that cannot work (a folder option naming a file, a batch size of 0, ...) is one line on stderr naming it and exit
code 2, as argparse's own usage errors, checked before the model is loaded. Schema and details: docs/predict.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from contextlib import closing
from typing import TYPE_CHECKING

from kavan.cli._common import add_no_progress
from kavan.core.errors import KavanError
from kavan.core.shards import in_shard, parse_shard

if TYPE_CHECKING:
    import torch

    from kavan.predict.batch import FileResult
    from kavan.predict.inputs import InputFile
    from kavan.predict.jsonl import JsonLinesOutput

NAME = "predict"
HELP = "predict the 17 emotion intensities and the quadrant of GIFs, videos and images (JSON), with pictures"

log = logging.getLogger(__name__)

# Exit code of a bad argument, as argparse gives for its own usage errors.
USAGE_ERROR = 2


class ArgumentError(KavanError):
    """An argument that cannot work whatever the files hold; the command exits with USAGE_ERROR."""


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
    parser.add_argument("--shard", default="1/1", metavar="I/N",
                        help="predict only shard I of N (1 <= I <= N) of the files, chosen by a hash of each path "
                             "(stable as files are added), e.g. one per cluster job, each with its own --out")
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu, cuda or cuda:N")
    parser.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                        help="torch (default), or onnxruntime for an ONNX file from `kavan export --onnx` "
                             "(the [onnx] extra)")
    add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    from kavan.core.workers import Interrupted, stop_on_signals

    try:
        with stop_on_signals():
            return _predict(args)
    except ArgumentError as err:
        print(f"kavan {NAME}: error: {err}", file=sys.stderr)
        return USAGE_ERROR
    except Interrupted as err:  # every record written is a whole line; --resume goes on from there
        print(f"kavan {NAME}: {err}: every line written is whole; rerun with --out FILE --resume to go on",
              file=sys.stderr)
        return err.exit_code


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse arguments that cannot work before the model is loaded, so a mistake costs no time and leaves no
    half-written output: each refusal names the argument, its value and the reason."""
    if args.resume and not args.out:
        raise ArgumentError("--resume needs --out FILE.jsonl (the file to resume)")
    if args.batch_size < 1:
        raise ArgumentError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.workers < 0:
        raise ArgumentError(f"--workers {args.workers}: must be 0 (decode in the main process) or more")
    try:
        args.shard_range = parse_shard(args.shard)
    except KavanError as err:
        raise ArgumentError(err.reason) from None
    for option in ("--overlay", "--chart"):
        folder = getattr(args, option[2:])
        if folder is None:
            continue
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise ArgumentError(f"{option} {folder}: is a file, not a folder")
        _check_creatable(option, folder)
    if args.out is not None:
        if os.path.isdir(args.out):
            raise ArgumentError(f"--out {args.out}: is a folder; give a file name such as predictions.jsonl")
        _check_creatable("--out", args.out)


def _check_creatable(option: str, path: str) -> None:
    """No folder above ``path`` is a file, so the folders it needs can be made."""
    above = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(above):
        above = os.path.dirname(above)
    if not os.path.isdir(above):
        raise ArgumentError(f"{option} {path}: cannot be created, {above} is a file")


def _device(name: str) -> torch.device:
    """The torch device of --device, refused as an argument error when torch does not know it."""
    from kavan.predict.predictor import resolve_device

    try:
        return resolve_device(name)
    except KavanError as err:
        raise ArgumentError(f"--device {name}: {err.reason}") from None


def _write_picture(write: Callable[..., None], path: str, *content: object) -> None:
    """Write one picture; a file system that refuses it (full, read-only) stops the run with one line naming it."""
    try:
        write(path, *content)
    except OSError as err:
        raise KavanError(f"cannot write picture ({err.strerror or err})", path) from None


def _record(result: FileResult, names: dict[str, InputFile], args: argparse.Namespace,
            output: JsonLinesOutput | None, single: bool) -> int:
    """Write one file's pictures, then its record (so a record means its pictures exist); 1 when it failed."""
    from kavan.predict import write_chart, write_overlay
    from kavan.predict.inputs import picture_path

    if result.analysis is None:
        log.warning("%s: %s", result.path, result.error)
    else:
        item = names[result.path]
        if args.overlay and result.analysis.attention is not None:
            _write_picture(write_overlay, picture_path(args.overlay, item, "overlay.gif"), result.analysis.attention)
        if args.chart:
            _write_picture(write_chart, picture_path(args.chart, item, "chart.png"), result.analysis.prediction)
    record = result.to_json()
    if output is not None:
        output.write(record)
    else:
        sys.stdout.write(json.dumps(record, indent=2 if single else None, allow_nan=False) + "\n")
        sys.stdout.flush()
    return 0 if result.analysis is not None else 1


def _predict(args: argparse.Namespace) -> int:
    from kavan.predict import BatchSettings, load, predict_files
    from kavan.predict.inputs import MEDIA_EXTENSIONS, expand_inputs
    from kavan.predict.jsonl import JsonLinesOutput, path_key

    check_arguments(args)
    device = _device(args.device)
    items = expand_inputs(args.paths)
    if not items:
        extensions = ", ".join(sorted(suffix.lstrip(".") for suffix in MEDIA_EXTENSIONS))
        raise KavanError(f"no media files found in {', '.join(args.paths)} (extensions: {extensions})")
    sharded = args.shard_range != (1, 1)
    if sharded:
        found = len(items)
        items = [item for item in items if in_shard(item.path, args.shard_range)]
        log.info("shard %s: %d of %d files", args.shard, len(items), found)
    predictor = load(args.checkpoint, device, backend=args.backend)
    if args.overlay and not predictor.has_attention:
        raise KavanError("--overlay needs a model with attention (model.attention.enabled is false)",
                         args.checkpoint)
    output = JsonLinesOutput(args.out, args.resume) if args.out else None
    try:
        if output is not None and output.done:
            before = len(items)
            items = [item for item in items if path_key(item.path) not in output.done]
            log.info("%s: %d of %d files already recorded, skipped", args.out, before - len(items), before)
        single = output is None and len(args.paths) == 1 and not os.path.isdir(args.paths[0]) and not sharded
        settings = BatchSettings(args.batch_size, args.workers if len(items) > 1 else 0, keep_frames=bool(args.overlay))
        names = {item.path: item for item in items}
        failed = 0
        # Closed before an error propagates, so the progress bar ends before the error line is printed.
        with closing(predict_files(predictor, [item.path for item in items], settings,
                                   progress=len(items) > 1 and not args.no_progress)) as results:
            for result in results:
                failed += _record(result, names, args, output, single)
    finally:
        if output is not None:
            output.close()
    if failed:
        log.info("%d of %d files could not be read", failed, len(items))
    return 1 if failed else 0
