"""The votes.csv of a labelling session (``kavan label``): one writer, every acknowledged vote on disk.

Columns: ``gif_a, gif_b, emotion, winner, annotator, timestamp`` (``VOTE_LOG_COLUMNS``), the first four as
``kavan.labels.ratings`` reads them (it ignores the other two), ``timestamp`` in UTC (ISO 8601, seconds). A new
file gets that header. An existing votes.csv keeps its own header and column order, and each new row fills the
columns the header has: a file written before annotators were recorded (``gif_a, gif_b, emotion, winner``) stays
a four-column file, so every reader of the old file still reads it; its rows then carry no annotator, and undo
reaches only the votes cast through this log since it was opened (it knows who cast those).

Durability: ``append`` writes one whole line, flushes it and fsyncs the file before it returns, so a vote
acknowledged after ``append`` survives a crash or power loss. A crash in the middle of a write can leave a torn
last line (no final newline); opening the log cuts it off, with a warning naming the file. Cells may not hold
line breaks, so a line break always ends a row.

One writer: the log holds an exclusive ``fcntl.flock`` on ``votes.csv.lock`` beside the file from ``open`` to
``close``; a second log on the same file is refused with a KavanError. ``undo`` rewrites the file atomically
(``kavan.core.atomic``: a temporary file renamed over it) under that lock.
"""

from __future__ import annotations

import csv
import fcntl
import io
import logging
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kavan.core import atomic
from kavan.core.errors import KavanError
from kavan.labels.ratings import VOTE_COLUMNS

log = logging.getLogger(__name__)

VOTE_LOG_COLUMNS: tuple[str, ...] = (*VOTE_COLUMNS, "annotator", "timestamp")
WINNERS: tuple[str, ...] = ("a", "b", "neither")
LOCK_SUFFIX = ".lock"


def utc_now() -> str:
    """The current time as the log writes it: UTC, ISO 8601, whole seconds (``2026-01-31T12:00:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Vote:
    """One answer: which of ``gif_a`` and ``gif_b`` shows ``emotion`` more (``winner`` a, b or neither)."""

    gif_a: str
    gif_b: str
    emotion: str
    winner: str
    annotator: str = ""
    timestamp: str = ""

    def cells(self) -> dict[str, str]:
        return asdict(self)


def _line(columns: tuple[str, ...], vote: Vote) -> bytes:
    """One CSV line (ending in a newline) with the vote's value for each column, empty for columns it lacks."""
    cells = vote.cells()
    for name, value in cells.items():
        if any(ch in value for ch in "\r\n\0"):
            raise KavanError(f"{name} {value!r} holds a line break or NUL, which a votes.csv cell may not")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([cells.get(name, "") for name in columns])
    return buffer.getvalue().encode("utf-8")


class VoteLog:
    """The votes.csv at ``path``, opened for appending by this process alone (see the module docstring).

    Use as a context manager, or call ``close`` when done. Thread-safe: the methods hold one lock.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._mutex = threading.Lock()
        self._lock_fd = self._take_lock()
        try:
            self.columns, self._rows = self._load()
            self._handle = open(self.path, "ab")
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._closed = False

    # -- opening ----------------------------------------------------------------------------------------

    def _take_lock(self) -> int:
        """An exclusive flock on votes.csv.lock, held until close; KavanError when another writer holds it."""
        lock_path = self.path.with_name(self.path.name + LOCK_SUFFIX)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise KavanError(f"cannot create the lock file {lock_path.name}: {err.strerror}", self.path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise KavanError("another process is writing this votes file (is a kavan label already running on "
                             f"this folder?); stop it first, or remove {lock_path.name} if no process holds it",
                             self.path) from None
        return fd

    def _load(self) -> tuple[tuple[str, ...], list[Vote]]:
        """The header and rows of the file, after cutting off a torn last line; a new file gets its header."""
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            blob = b""
        except OSError as err:
            raise KavanError(f"cannot read the votes file: {err.strerror}", self.path) from None
        if blob and not blob.endswith(b"\n"):
            blob = self._cut_torn_line(blob)
        if not blob.strip():
            self._start_file()
            return VOTE_LOG_COLUMNS, []
        try:
            rows = list(csv.reader(io.StringIO(blob.decode("utf-8-sig"), newline="")))
        except (UnicodeDecodeError, csv.Error) as err:
            raise KavanError(f"cannot read the votes file: {err}", self.path) from None
        columns = tuple(name.strip() for name in rows[0])
        missing = [name for name in VOTE_COLUMNS if name not in columns]
        if missing:
            raise KavanError(f"the header lacks the column(s) {', '.join(missing)}; a votes file starts with "
                             f"{','.join(VOTE_LOG_COLUMNS)}", self.path)
        return columns, [self._vote(columns, row) for row in rows[1:] if any(cell.strip() for cell in row)]

    def _cut_torn_line(self, blob: bytes) -> bytes:
        """Truncate the file after its last newline (the part after it is a write a crash cut short)."""
        keep = blob.rfind(b"\n") + 1
        torn = blob[keep:].decode("utf-8", errors="replace")
        log.warning("%s: the last line %r is incomplete (a write was interrupted); it is cut off", self.path, torn)
        with open(self.path, "r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        return blob[:keep]

    def _start_file(self) -> None:
        """Write the header of a new (or empty) file, durably: the file and its folder entry."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(VOTE_LOG_COLUMNS)
        atomic.write_text(self.path, buffer.getvalue())
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _vote(columns: tuple[str, ...], row: list[str]) -> Vote:
        """A row read back; cells the row lacks are empty (kavan data check reports such rows)."""
        cells = {name: (row[k].strip() if k < len(row) else "") for k, name in enumerate(columns)}
        return Vote(**{name: cells.get(name, "") for name in VOTE_LOG_COLUMNS})

    # -- writing ----------------------------------------------------------------------------------------

    def append(self, vote: Vote) -> None:
        """Write ``vote`` as one line and return only once it is on disk (flushed and fsynced)."""
        line = _line(self.columns, vote)
        with self._mutex:
            self._check_open()
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._rows.append(vote)

    def undo(self, annotator: str) -> Vote | None:
        """Remove ``annotator``'s last vote (rewriting the file atomically) and return it; None when there is none.

        In a file without an annotator column only the votes appended since the log was opened are known to be
        theirs.
        """
        with self._mutex:
            self._check_open()
            index = self._last_of(annotator)
            if index is None:
                return None
            rows = self._rows[:index] + self._rows[index + 1:]
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(self.columns)
            text = buffer.getvalue() + b"".join(_line(self.columns, row) for row in rows).decode("utf-8")
            self._handle.close()
            try:
                atomic.write_text(self.path, text)
            finally:
                self._handle = open(self.path, "ab")
            removed = self._rows[index]
            self._rows = rows
            return removed

    def _last_of(self, annotator: str) -> int | None:
        """Index of the annotator's last vote, or None. Rows read from a file without an annotator column have
        an empty annotator, so they match no one; the rows appended since opening keep theirs in memory."""
        if not annotator:
            return None
        return next((k for k in range(len(self._rows) - 1, -1, -1) if self._rows[k].annotator == annotator), None)

    # -- reading and closing ----------------------------------------------------------------------------

    def votes(self) -> list[Vote]:
        """Every vote in the file, in file order (annotator and timestamp empty where the file has no such column
        or the row left them empty)."""
        with self._mutex:
            return list(self._rows)

    def __len__(self) -> int:
        with self._mutex:
            return len(self._rows)

    def _check_open(self) -> None:
        if self._closed:
            raise KavanError("the votes file is closed", self.path)

    def close(self) -> None:
        """Close the file and release the lock (a second close does nothing)."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._handle.close()
            os.close(self._lock_fd)

    def __enter__(self) -> VoteLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
