"""`kavan keypoints PATH`: estimate 70 facial keypoints with confidences, offline (MediaPipe face mesh + dlib).

PATH a dataset folder: every media file in PATH/gifs gets PATH/keypoints/<id>.safetensors (kavan.keypoints.cache);
files already done with the same backend and settings are skipped (resumable), caches made otherwise are kept;
``--force`` estimates every file again and replaces its cache (atomically, as every cache is written);
``--workers`` processes run in parallel, ``--shard i/n`` takes one n-th of the ids. Exit code 0 when no file
failed, 1 otherwise.
SIGTERM or Ctrl-C stops the run cleanly (workers stopped, only whole caches left, the summary printed, one line
on stderr) with exit code 128 + the signal's number; a second one stops it at once.

PATH a media file: prints its keypoints as JSON ({"path", "backend", "backend_version", "width", "height",
"n_frames", "frames", "faces", "faces_per_frame"}: ``frames`` holds each frame's 70 [x, y, c] of its largest
face, all zeros with no face; ``faces`` every face of every frame) and/or ``--draw OUT.png|.gif`` a picture.
Details: docs/keypoints.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from kavan.keypoints.config import BACKENDS, DETECTORS, KeypointConfig

NAME = "keypoints"
HELP = "estimate facial keypoints (70 points + confidence) for a dataset folder or one file, offline"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = KeypointConfig()
    parser.add_argument("path", type=Path, metavar="PATH", help="dataset folder (with gifs/) or one media file")
    parser.add_argument("--backend", choices=BACKENDS, default=defaults.backend,
                        help=f"keypoint backend (default {defaults.backend})")
    parser.add_argument("--detector", choices=DETECTORS, default=defaults.detector,
                        help=f"MediaPipe face detector (default {defaults.detector}; short-range is faster but "
                             "misses small faces)")
    parser.add_argument("--detect-every", type=int, default=defaults.detect_every, metavar="K",
                        help=f"run the face detector on a GIF's first frame, then every K frames and wherever "
                             f"tracking loses a face; track faces from frame to frame in between (default "
                             f"{defaults.detect_every}; 1: detect on every frame, slower)")
    parser.add_argument("--max-faces", type=int, default=defaults.max_faces,
                        help=f"faces kept per frame at most (default {defaults.max_faces})")
    parser.add_argument("--min-score", type=float, default=defaults.min_detection_score,
                        help=f"face detection score threshold (default {defaults.min_detection_score})")
    folder = parser.add_argument_group("dataset folder")
    folder.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    folder.add_argument("--shard", default="1/1", metavar="I/N",
                        help="process only shard I of N (1 <= I <= N) of the ids, e.g. one per cluster job")
    folder.add_argument("--force", action="store_true",
                        help="estimate again even where a cache exists (also replaces caches made by another "
                             "backend or with other settings, which are otherwise kept)")
    single = parser.add_argument_group("one file")
    single.add_argument("--json", action="store_true",
                        help="print the keypoints as JSON (the default for a file unless --draw is given); "
                             "for a folder, print the run's summary as JSON")
    single.add_argument("--draw", type=Path, metavar="OUT",
                        help="draw the points: OUT.png (a sheet of --frames) or OUT.gif (every frame)")
    single.add_argument("--frames", metavar="I,J,...",
                        help="frames for a .png drawing (default: the 8 TSN evaluation frames)")


def run(args: argparse.Namespace) -> int:
    from kavan.core.errors import KavanError

    config = KeypointConfig(backend=args.backend, detector=args.detector, detect_every=args.detect_every,
                            max_faces=args.max_faces, min_detection_score=args.min_score)
    if args.path.is_dir():
        if args.draw or args.frames:
            raise KavanError("--draw and --frames take a media file, not a folder", args.path)
        return _run_folder(args, config)
    if args.workers != 1 or args.shard != "1/1" or args.force:
        raise KavanError("--workers, --shard and --force take a dataset folder, not a file", args.path)
    return _run_file(args, config)


def _run_folder(args: argparse.Namespace, config: KeypointConfig) -> int:
    from kavan.core.shards import parse_shard
    from kavan.core.workers import stop_on_signals
    from kavan.keypoints.run import run_dataset

    shard = parse_shard(args.shard)
    with stop_on_signals():
        report = run_dataset(args.path, config, workers=args.workers, shard=shard, force=args.force)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        summary = report.to_json()
        sys.stdout.write(f"{args.path}: {summary['estimated']} estimated ({summary['frames']} frames"
                         + (f", {summary['frames_per_second']} frames/s" if summary["frames_per_second"] else "")
                         + f"), {summary['skipped']} already cached, {len(report.kept)} kept (other backend or "
                         f"settings; --force replaces them), {len(report.failed)} failed\n")
        for gif_id, reason in sorted(report.failed.items()):
            sys.stdout.write(f"  failed {gif_id}: {reason}\n")
    if report.interrupted:
        sys.stderr.write(f"kavan keypoints: interrupted by {report.interrupted}: every cache written is whole; "
                         "run the same command again to resume\n")
        return 128 + signal.Signals[report.interrupted].value
    return 0 if report.ok else 1


def _frame_list(text: str | None, n_frames: int, path: Path) -> list[int]:
    from kavan.core.errors import KavanError
    from kavan.media.sampling import tsn_indices

    if text is None:
        return sorted(set(tsn_indices(n_frames, 8, train=False)))
    try:
        frames = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise KavanError(f"--frames must be comma-separated frame indices, got {text!r}", path) from None
    bad = [i for i in frames if not 0 <= i < n_frames]
    if bad or not frames:
        raise KavanError(f"--frames {text!r}: the file has frames 0..{n_frames - 1}", path)
    return frames


def _run_file(args: argparse.Namespace, config: KeypointConfig) -> int:
    from kavan.keypoints.backends import Estimator
    from kavan.keypoints.draw import save_drawing
    from kavan.keypoints.json_output import record_json
    from kavan.keypoints.run import estimate_file
    from kavan.media import decode

    estimator = Estimator(config)
    try:
        record = estimate_file(args.path, estimator)
    finally:
        estimator.close()
    if args.draw:
        info = decode.probe(args.path)
        if args.draw.suffix.lower() == ".gif":
            wanted = set(range(record.n_frames))
        else:
            wanted = set(_frame_list(args.frames, record.n_frames, args.path))
        frames = [(i, rgb) for i, rgb in decode.iter_frames(args.path) if i in wanted]
        out = save_drawing(args.draw, frames, record.keypoints, info.durations_ms)
        log.info("wrote %s", out)
    if args.json or not args.draw:
        sys.stdout.write(json.dumps(record_json(str(args.path), record)) + "\n")
    return 0
