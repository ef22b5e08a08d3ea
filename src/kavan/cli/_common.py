"""What several commands share: the ``--set`` option, the progress switch, the command line a run records, the
argument types of the two web commands (argparse reports the option and the reason, exit code 2), and their
serve-until-Ctrl-C loop."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import threading

from kavan.core.overrides import as_arguments


def add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``; kavan.core.overrides parses the items."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` into ``args.no_progress``: the one progress switch of every command that draws bars."""
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars (on stderr)")


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


def serve_until_interrupted(server, verbose: bool = False) -> int:
    """Run a web server (kavan.serve.server.WebServer) until Ctrl-C, then close its socket; the exit status of
    `kavan serve` and `kavan label`. uvicorn's own log lines show with ``verbose`` only.

    SIGINT stops it even when the process was started with SIGINT ignored (a job a script put in the background
    inherits that), so `kill -INT` always ends a server the way Ctrl-C does."""
    from kavan.serve.server import quiet_uvicorn

    quiet_uvicorn(verbose)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logging.getLogger("kavan.cli").info("stopped")
    finally:
        server.server_close()
    return 0


def _parsed(text: str, convert, what: str):
    """``convert(text)``, or the argparse error "must be <what>" (argparse names the option; exit code 2)."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def port_number(text: str) -> int:
    """--port: a TCP port, 0..65535."""
    value = _parsed(text, int, "a whole number in 0..65535")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be in 0..65535 (0 picks a free port), got {value}")
    return value


def megabytes(text: str) -> float:
    """--max-upload-mb: a finite number of MB that allows at least one byte (nan, inf, 0 and negatives are not)."""
    value = _parsed(text, float, "a number of MB")
    if not math.isfinite(value) or value * 1e6 < 1:
        raise argparse.ArgumentTypeError(f"must be a finite number of MB of at least 0.000001, got {text!r}")
    return value


def seconds(text: str) -> float:
    """--read-timeout: a finite number of seconds > 0."""
    value = _parsed(text, float, "a number of seconds")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def count(minimum: int):
    """A type for whole-number arguments of at least ``minimum``."""

    def parse(text: str) -> int:
        value = _parsed(text, int, f"a whole number >= {minimum}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse
