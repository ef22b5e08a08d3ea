"""`kavan info PATH...`: describe media files, one JSON object per line on stdout.

Each line is {"path", "format", "width", "height", "n_frames", "durations_ms", "loop"} (see
`kavan.media.decode.MediaInfo`), or {"path", "error"} for a file that cannot be read; the batch goes on with the
next file. Exit code 0 when every file was read, 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from kavan.core.errors import KavanError

NAME = "info"
HELP = "print format, size, frame count, frame durations and loop count of GIFs, videos and images (JSON lines)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="media files (GIF, MP4/WebM, PNG/JPEG/WebP)")


def run(args: argparse.Namespace) -> int:
    from kavan.media.decode import probe

    failed = 0
    for path in args.paths:
        try:
            record = probe(path).to_json()
        except KavanError as err:
            log.warning("%s", err)
            record = {"path": path, "error": err.reason}
            failed += 1
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
    if failed:
        log.info("%d of %d files could not be read", failed, len(args.paths))
    return 1 if failed else 0
