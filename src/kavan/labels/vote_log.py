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

One writer: the log holds an exclusive ``fcntl.flock`` on votes.csv itself from ``open`` to ``close``, so there
is no lock file anyone could remove; a second log on the same file is refused with a KavanError. ``remove`` (an
undo) rewrites the file atomically: the new file is written beside it, locked, fsynced and renamed over it, and
only then is the old file's lock let go. A second writer that was waiting on the old file finds, after taking its
lock, that the name now points to another file and tries again (and is refused): after opening, the lock is
always checked to be on the file the name points to. Before each append the log checks the same, so a votes.csv
removed or replaced while the log is open refuses the vote instead of writing it into a file nobody sees.

Cells are written with ``kavan.labels.csv_cells.formula_safe`` (an annotator named ``=HYPERLINK(...)`` is not a
formula when the file is opened in a spreadsheet) and read back with ``read_cell``.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import logging
import os
import stat
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kavan.core.errors import KavanError
from kavan.labels.csv_cells import formula_safe, read_cell
from kavan.labels.ratings import VOTE_COLUMNS

log = logging.getLogger(__name__)

VOTE_LOG_COLUMNS: tuple[str, ...] = (*VOTE_COLUMNS, "annotator", "timestamp")
WINNERS: tuple[str, ...] = ("a", "b", "neither")


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
    """One CSV line (ending in a newline) with the vote's value for each column, empty for columns it lacks;
    each cell formula-safe."""
    cells = vote.cells()
    for name, value in cells.items():
        if any(ch in value for ch in "\r\n\0"):
            raise KavanError(f"{name} {value!r} holds a line break or NUL, which a votes.csv cell may not")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([formula_safe(cells.get(name, "")) for name in columns])
    return buffer.getvalue().encode("utf-8")


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` names the file open as ``fd`` (False when the name is gone)."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class VoteLog:
    """The votes.csv at ``path``, opened for appending by this process alone (see the module docstring).

    Use as a context manager, or call ``close`` when done. Thread-safe: the methods hold one lock.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._mutex = threading.Lock()
        self._fd = self._take_lock()
        try:
            self.columns, self._rows = self._load()
        except BaseException:
            os.close(self._fd)
            raise
        self._closed = False

    # -- opening ----------------------------------------------------------------------------------------

    def _take_lock(self) -> int:
        """votes.csv opened for appending with an exclusive flock on it, held until close; KavanError when another
        writer holds it. The lock is checked to be on the file the name points to after it is taken (a writer
        that renamed a new file over the old one in the meantime holds the new one's), else taken again."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise KavanError(f"cannot create the folder of the votes file: {err.strerror}", self.path) from None
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as err:
                raise KavanError(f"cannot open the votes file: {err.strerror}", self.path) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise KavanError("another process is writing this votes file (is a kavan label already running on "
                                 "this folder?); stop it first", self.path) from None
            if _same_file(fd, self.path):
                return fd
            os.close(fd)  # the file was replaced while we waited: lock the one the name points to now
        raise KavanError("the votes file keeps being replaced by another process", self.path)

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
        os.ftruncate(self._fd, keep)
        os.fsync(self._fd)
        return blob[:keep]

    def _start_file(self) -> None:
        """Write the header of a new (or empty) file, durably: the file and its folder entry."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(VOTE_LOG_COLUMNS)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, buffer.getvalue().encode("utf-8"))
        os.fsync(self._fd)
        _fsync_folder(self.path.parent)

    @staticmethod
    def _vote(columns: tuple[str, ...], row: list[str]) -> Vote:
        """A row read back; cells the row lacks are empty (kavan data check reports such rows)."""
        cells = {name: (read_cell(row[k].strip()) if k < len(row) else "") for k, name in enumerate(columns)}
        return Vote(**{name: cells.get(name, "") for name in VOTE_LOG_COLUMNS})

    # -- writing ----------------------------------------------------------------------------------------

    def append(self, vote: Vote) -> None:
        """Write ``vote`` as one line and return only once it is on disk (flushed and fsynced); KavanError, and
        nothing written, when votes.csv was removed or replaced since the log opened it."""
        line = _line(self.columns, vote)
        with self._mutex:
            self._check_open()
            self._write(line)
            self._rows.append(vote)

    def _write(self, data: bytes) -> None:
        if not _same_file(self._fd, self.path):
            raise KavanError("the votes file was removed or replaced while it was open for voting; the vote was not "
                             "recorded (stop kavan label and start it again)", self.path)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)

    def undo(self, annotator: str) -> Vote | None:
        """Remove ``annotator``'s last vote (rewriting the file atomically) and return it; None when there is none.

        In a file without an annotator column only the votes appended since the log was opened are known to be
        theirs.
        """
        with self._mutex:
            self._check_open()
            index = self._last_of(annotator)
            return None if index is None else self._remove_at(index)

    def remove(self, vote: Vote) -> bool:
        """Remove this vote (the object ``append`` was given, not an equal one) from the file, rewriting it
        atomically; False when it is no longer there."""
        with self._mutex:
            self._check_open()
            index = next((k for k in range(len(self._rows) - 1, -1, -1) if self._rows[k] is vote), None)
            if index is None:
                return False
            self._remove_at(index)
            return True

    def _remove_at(self, index: int) -> Vote:
        """Rewrite the file without row ``index``: written beside it, locked, fsynced, renamed over it; then the
        old file's lock is let go. The caller holds the mutex."""
        if not _same_file(self._fd, self.path):
            raise KavanError("the votes file was removed or replaced while it was open for voting; nothing was "
                             "undone (stop kavan label and start it again)", self.path)
        rows = self._rows[:index] + self._rows[index + 1:]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.columns)
        blob = buffer.getvalue().encode("utf-8") + b"".join(_line(self.columns, row) for row in rows)
        # mkstemp's file is new and ours alone: its lock is taken at once. Its offset stays at its end, where the
        # appends that follow write.
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.fchmod(fd, stat.S_IMODE(os.fstat(self._fd).st_mode))
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            os.replace(temp, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_folder(self.path.parent)
        os.close(self._fd)  # lets go of the old file's lock only now that the name points to the new one
        self._fd = fd
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
            os.close(self._fd)

    def __enter__(self) -> VoteLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
