"""What several commands share: the ``--set`` option, the progress switch, and the command line a run records."""

from __future__ import annotations

import argparse
import logging

from kavan.core.overrides import as_arguments


def add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``; kavan.core.overrides parses the items."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def command_line(name: str, args: argparse.Namespace, options: list[str], extra: list[str] | None = None) -> list[str]:
    """The command as a list of words, rebuilt from the parsed arguments (for run.json and results files):
    ``options`` in order, then ``extra`` words, then the ``--set`` items."""
    words = ["kavan", name]
    for option in options:
        value = getattr(args, option.replace("-", "_"))
        if value is None or value is False or value == []:
            continue
        flag = f"--{option}"
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            words.extend(word for item in value for word in (flag, str(item)))
        else:
            words.extend([flag, str(value)])
    return words + list(extra or []) + as_arguments(getattr(args, "overrides", []))


def serve_until_interrupted(server) -> int:
    """Run a web server until Ctrl-C, then close its socket; the exit status of `kavan serve` and `kavan label`."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logging.getLogger("kavan.cli").info("stopped")
    finally:
        server.server_close()
    return 0
