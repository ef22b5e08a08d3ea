"""`kavan predict --out FILE.jsonl [--resume]`: an append-only JSON Lines file that a killed run leaves usable.

Each record is one line written by one unbuffered ``write`` (a single system call) and then flushed to disk
(fsync), so a run killed at any moment leaves whole lines, at worst followed by one torn line if the machine
itself went down mid-write. ``--resume`` reads the file first: a torn last line (no newline at the end, or not
JSON) is cut off with a warning, and every path already recorded (a prediction or an error) is skipped.
An existing file without ``--resume`` is refused rather than overwritten. A complete line that is not a JSON
object with a "path" is an error: the file is probably not a `kavan predict` output, and appending to it would
mix two things.

A run holds an exclusive lock on the file (``fcntl.flock``) from before it reads the recorded paths until it
ends: two runs resuming the same file would otherwise both read the same recorded paths and both append the rest,
so every path left would be written twice. A second run finds the lock taken and is refused before it writes.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Any, BinaryIO

from kavan.core.errors import KavanError

log = logging.getLogger(__name__)


_EXISTS = "exists; pass --resume to skip the files already in it, or choose another --out"


def path_key(path: str) -> str:
    """How paths are compared on resume: absolute, normalised (relative paths resolve against the cwd)."""
    return os.path.normpath(os.path.abspath(path))


def recorded_paths(path: Path) -> set[str]:
    """The path keys already in the file; cuts a torn last line off the file (see the module docstring)."""
    blob = path.read_bytes()
    end = blob.rfind(b"\n") + 1
    lines = blob[:end].splitlines()
    tail = blob[end:]
    done: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise KavanError(f"line {number} is not a JSON object with a \"path\": this does not look like a "
                             "kavan predict output; choose another --out", path)
        done.add(path_key(record["path"]))
    if tail:
        log.warning("%s: the last line is incomplete (%d bytes, a run was cut off while writing it); removing it",
                    path, len(tail))
        with open(path, "r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    return done


def _open(path: Path, resume: bool) -> BinaryIO:
    """The file opened for appending; without ``resume`` it must not exist yet (another run may just have made it)."""
    try:
        return open(path, "ab" if resume else "xb", buffering=0)
    except FileExistsError:
        raise KavanError(_EXISTS, path) from None
    except OSError as err:
        raise KavanError(f"cannot write ({err.strerror or err})", path) from None


def _lock(handle: BinaryIO, path: Path) -> None:
    """Take the exclusive lock without waiting: a second writer is refused, not queued, because two runs started
    on one file are a mistake to report at once, not to hide behind an hour of waiting."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
            raise KavanError("is being written by another kavan predict run (it holds the file's lock); wait "
                             "for that run to end, then run again with --resume", path) from None
        # A file system without locks (some network mounts) must not make --out unusable.
        log.warning("%s: cannot lock the file (%s); make sure no other run writes to it", path,
                    err.strerror or err)


class JsonLinesOutput:
    """The --out file: ``done`` holds the path keys recorded before this run; ``write`` appends one record.

    The file stays open and locked until ``close`` (see the module docstring).
    """

    def __init__(self, path: str | os.PathLike[str], resume: bool):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise KavanError("is not a regular file; choose a file name for --out", self.path)
        if self.path.exists() and not resume:
            raise KavanError(_EXISTS, self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise KavanError(f"cannot create its folder ({err.strerror or err})", self.path) from None
        self._handle = _open(self.path, resume)
        try:
            _lock(self._handle, self.path)
            self.done: set[str] = recorded_paths(self.path) if resume else set()
        except BaseException:
            self._handle.close()
            raise

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write((json.dumps(record, allow_nan=False) + "\n").encode("utf-8"))  # JSON has no NaN
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonLinesOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
