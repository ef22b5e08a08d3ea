"""``kavan data check``: validate a dataset folder and report every problem, not just the first.

It runs the loader's checks (``kavan.data.dataset``: dataset.yaml, scores.csv, one media file per id) in lenient
mode, then what loading skips because it is slow: decoding every frame of every media file
(``kavan.media.decode.iter_frames``, one frame in memory at a time, in worker processes; ``decode_frames=False`` reads
the headers only, ``kavan.media.decode.probe``), reading every keypoint cache and comparing its frame count and frame
size with the media, and parsing votes.csv when there is one. Errors make the folder unusable; warnings (extra
files, votes on GIFs the folder lacks, ignored columns) do not.

One cause is one error. A GIF whose scores row is rejected still has a row, and a scores.csv that cannot be
read at all says nothing about which media files belong: the media, keypoint caches and votes are then checked
against every id the file names (or every media file), instead of calling each of them extra. A column missing
from scores.csv or votes.csv is one error that says how many rows it leaves unusable.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from kavan.core.errors import KavanError
from kavan.core.issues import Issue, IssueLog
from kavan.data.dataset import (
    MEDIA_DIR,
    MEDIA_SUFFIXES,
    SCORES_FILE,
    VOTES_FILE,
    DatasetConfig,
    read_dataset_config,
    scan_media,
    to_unit_scores,
)
from kavan.keypoints import cache as keypoint_cache
from kavan.labels.ratings import parse_votes
from kavan.labels.scores_table import ID_COLUMN, parse_scores
from kavan.media import decode

log = logging.getLogger(__name__)

KEYPOINT_DIR = "keypoints"
KEYPOINT_SUFFIX = ".safetensors"
# Issues that reject a whole CSV file because of its header.
COLUMN_KINDS = ("missing-column", "wrong-column", "duplicate-column")
MEDIA_FIX = "replace the file with a readable copy, or remove it and its scores.csv row"
# Starting a worker process (importing numpy, Pillow and kavan) costs as much as decoding tens of small GIFs, so
# the automatic choice gives each worker at least this many files and decodes a small folder in this process.
FILES_PER_WORKER = 32
MAX_AUTO_WORKERS = 8


def auto_workers(n_files: int) -> int:
    """Decoding processes for ``n_files`` files: one per CPU (at most MAX_AUTO_WORKERS) and per FILES_PER_WORKER
    files; 0 (decode here) when that comes to fewer than two, since one worker only adds its start-up."""
    n = min(MAX_AUTO_WORKERS, os.cpu_count() or 1, n_files // FILES_PER_WORKER)
    return n if n >= 2 else 0


@dataclass(frozen=True)
class CheckReport:
    """The outcome of checking one folder. ``ok``: no errors, the folder can be loaded and trained on."""

    root: str
    scores_scale: str
    counts: dict[str, int]
    issues: list[Issue]
    n_errors: int
    n_warnings: int
    media_check: str = "frames"  # "frames": every frame decoded; "headers": headers only (quick)

    @property
    def ok(self) -> bool:
        return self.n_errors == 0

    def to_json(self) -> dict:
        return {
            "root": self.root,
            "ok": self.ok,
            "scores_scale": self.scores_scale,
            "counts": self.counts,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "media_check": self.media_check,
            "errors": [i.to_json() for i in self.issues if i.severity == "error"],
            "warnings": [i.to_json() for i in self.issues if i.severity == "warning"],
        }

    def render(self) -> str:
        """A readable report: counts, errors, warnings, verdict."""
        c = self.counts
        lines = [f"Dataset {self.root} (scores: {self.scores_scale})",
                 f"  {c['gifs']} GIFs in {SCORES_FILE}, {c['media_files']} media files, "
                 f"{c['readable_media']} readable, {c['keypoint_caches']} keypoint caches"
                 + (f", {c['votes']} votes" if "votes" in c else "")
                 + ("; media: every frame decoded" if self.media_check == "frames" else "; media: headers only")]
        for severity, title in (("error", "Errors"), ("warning", "Warnings")):
            chosen = [i for i in self.issues if i.severity == severity]
            if chosen:
                total = self.n_errors if severity == "error" else self.n_warnings
                lines.append(f"{title} ({total}):")
                lines.extend(f"  {severity.upper()} [{i.kind}] {i}" for i in chosen)
        verdict = "usable" if self.ok else "NOT usable: fix the errors above"
        lines.append(f"Result: {verdict} ({self.n_errors} error(s), {self.n_warnings} warning(s))")
        return "\n".join(lines)


def check_dataset(root: str | os.PathLike[str], progress: bool = True, decode_frames: bool = True,
                  workers: int | None = None) -> CheckReport:
    """Check the dataset folder ``root``; ``progress`` shows tqdm bars while files are read.

    ``decode_frames``: decode every frame of every media file, which finds a damaged frame that the header
    does not show (slow); False reads the headers only. ``workers``: processes decoding files side by side
    (0: this process; None: ``auto_workers``).
    """
    if workers is not None and workers < 0:
        raise KavanError(f"workers must be 0 or more, got {workers}")
    root = Path(root)
    issues = _CheckLog()
    counts = {"gifs": 0, "media_files": 0, "readable_media": 0, "keypoint_caches": 0}
    media_check = "frames" if decode_frames else "headers"
    if not root.is_dir():
        issues.error("missing-folder", root, "dataset folder not found", "check the path")
        return _report(root, DatasetConfig(), counts, issues, media_check)
    config = read_dataset_config(root, issues)
    scores_path = root / SCORES_FILE
    issues.count_rows_of(scores_path)
    table = parse_scores(scores_path, issues, unit=config.scores == "unit")
    to_unit_scores(table.values, config, scores_path, issues)
    ids = _dataset_ids(root, scores_path)
    media = scan_media(root, ids, issues)
    counts.update(gifs=len(table.ids), media_files=len(media))
    frames = _read_media(media, issues, progress, decode_frames, workers)
    counts["readable_media"] = len(frames)
    counts["keypoint_caches"] = _check_keypoints(root, set(ids), frames, issues, progress)
    votes_path = root / VOTES_FILE
    if votes_path.is_file():
        issues.count_rows_of(votes_path)
        counts["votes"] = len(parse_votes(votes_path, issues, known_ids=ids))
    return _report(root, config, counts, issues, media_check)


def _report(root: Path, config: DatasetConfig, counts: dict[str, int], issues: IssueLog,
            media_check: str) -> CheckReport:
    return CheckReport(root=str(root), scores_scale=config.scores, counts=counts, issues=issues.issues,
                       n_errors=issues.count("error"), n_warnings=issues.count("warning"), media_check=media_check)


class _CheckLog(IssueLog):
    """An IssueLog whose column errors say how many rows of their CSV file they leave unusable.

    A missing, misnamed or doubled column rejects every row of the file: one cause, so one error, with the
    count that shows its size (the rows are counted only when such an error comes, so a good file is read once).
    """

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, int | None] = {}

    def count_rows_of(self, path: Path) -> None:
        """Give the column errors of ``path`` its row count."""
        self._rows[str(path)] = None

    def add(self, issue: Issue) -> None:
        if issue.kind in COLUMN_KINDS and issue.path in self._rows:
            if self._rows[issue.path] is None:
                self._rows[issue.path] = _count_rows(Path(issue.path))
            n = self._rows[issue.path]
            issue = replace(issue, message=f"{issue.message} (affects all {n} row(s): none can be used)")
        super().add(issue)


def _count_rows(path: Path) -> int:
    """Non-blank CSV rows after the header."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return max(0, sum(1 for row in csv.reader(fh) if any(cell.strip() for cell in row)) - 1)
    except (OSError, UnicodeDecodeError, csv.Error):
        return 0


def _dataset_ids(root: Path, scores_path: Path) -> list[str]:
    """The ids that media, keypoint caches and votes are checked against.

    Every id scores.csv names, also on rows whose scores are rejected: those GIFs are in the dataset, and
    calling their media, caches and votes extra would add a warning per file to the one error. When the file
    names no id (missing, unreadable, no id column, no rows), every media file in gifs/ counts as a dataset GIF,
    for the same reason: the error about scores.csv is the one to report.
    """
    named = _named_ids(scores_path)
    return named if named else _media_ids(root)


def _named_ids(path: Path) -> list[str] | None:
    """The non-empty ids of scores.csv in file order, once each; None when the file or its id column is unusable."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    header = [name.strip() for name in rows[0]] if rows else []
    if header.count(ID_COLUMN) != 1:
        return None
    k = header.index(ID_COLUMN)
    return list(dict.fromkeys(row[k].strip() for row in rows[1:] if len(row) > k and row[k].strip()))


def _media_ids(root: Path) -> list[str]:
    """The ids (name stems) of the media files in gifs/, sorted."""
    try:
        entries = list(os.scandir(root / MEDIA_DIR))
    except OSError:
        return []
    return sorted({Path(e.name).stem for e in entries
                   if e.is_file() and Path(e.name).suffix.lower() in MEDIA_SUFFIXES})


def _read_media(media: dict[str, Path], issues: IssueLog, progress: bool, decode_frames: bool,
                workers: int | None) -> dict[str, decode.MediaInfo]:
    """MediaInfo of every readable media file; unreadable ones become errors, in id order whatever the workers."""
    jobs = [(gif_id, str(path), decode_frames) for gif_id, path in sorted(media.items())]
    desc = "decoding media" if decode_frames else "reading media headers"
    infos = {}
    if not decode_frames:
        workers = 0  # a header is read faster than a process starts
    elif workers is None:
        workers = auto_workers(len(jobs))
    results = _media_results(jobs, workers)
    for gif_id, info, problem in tqdm(results, total=len(jobs), desc=desc, unit="file",
                                      disable=None if progress else True):
        if info is None:
            issues.error("unreadable-media", media[gif_id], problem, MEDIA_FIX)
        else:
            infos[gif_id] = info
    return infos


def _media_results(jobs: list[tuple[str, str, bool]], workers: int
                   ) -> Iterator[tuple[str, decode.MediaInfo | None, str | None]]:
    """``_read_one`` of every job, in order: here, or in ``workers`` processes when there is more than one file.

    Workers are spawned, not forked: a forked copy of a process holding threads (tqdm's monitor, a caller's
    pool) can deadlock.
    """
    if workers == 0 or len(jobs) < 2:
        yield from map(_read_one, jobs)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=get_context("spawn"))
    try:
        done = 0
        try:
            for result in pool.map(_read_one, jobs):
                done += 1
                yield result
        except BrokenProcessPool as err:
            raise KavanError(f"a decoding process died after {done} of {len(jobs)} files ({err}); run again with "
                             "--workers 0 to find the file that crashes the decoder") from None
    finally:
        # on Ctrl-C or an error, drop the files not started yet instead of waiting for all of them
        pool.shutdown(wait=True, cancel_futures=True)


def _read_one(job: tuple[str, str, bool]) -> tuple[str, decode.MediaInfo | None, str | None]:
    """(id, MediaInfo, None) for a readable file, (id, None, problem) otherwise; runs in a worker process.

    With decode_frames every frame is decoded and dropped in turn, so memory stays at one frame whatever the
    length of the file; a failure names the frame (the GIF decoder's message already does).
    """
    gif_id, path, decode_frames = job
    try:
        info = decode.probe(path)
    except KavanError as err:
        return gif_id, None, f"cannot decode: {err.reason}"
    if not decode_frames:
        return gif_id, info, None
    decoded = 0
    try:
        for _, frame in decode.iter_frames(path):
            del frame
            decoded += 1
    except KavanError as err:
        return gif_id, None, _frame_problem(err.reason, decoded)
    except (MemoryError, RuntimeError, ValueError) as err:  # a library failing on one file must not stop the rest
        return gif_id, None, _frame_problem(f"{type(err).__name__}: {err}", decoded)
    return gif_id, info, None


def _frame_problem(reason: str, decoded: int) -> str:
    """The issue message of a decoding failure after ``decoded`` good frames, naming the frame."""
    if re.match(r"frame \d+", reason):
        return f"cannot decode: {reason}"
    return f"cannot decode: frame {decoded}: {reason}"


def _check_keypoints(root: Path, ids: set[str], media: dict[str, decode.MediaInfo], issues: IssueLog,
                     progress: bool) -> int:
    """Check every cache file against its media; returns how many caches belong to dataset GIFs."""
    folder = root / KEYPOINT_DIR
    if not folder.is_dir():
        return 0
    caches = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        path = Path(entry.path)
        if not entry.is_file() or path.suffix != KEYPOINT_SUFFIX:
            issues.warning("extra-file", path, "not a keypoint cache (<id>.safetensors) and is ignored",
                           f"move it out of {KEYPOINT_DIR}/")
        elif path.stem not in ids:
            issues.warning("extra-keypoints", path, "no row in scores.csv, so the cache is not used",
                           "remove it, or add the GIF")
        else:
            caches.append(path)
    for path in tqdm(caches, desc="reading keypoints", unit="file", disable=None if progress else True):
        try:
            record = keypoint_cache.load(path)
        except KavanError as err:
            issues.error("corrupt-keypoints", path, err.reason,
                         "delete the file and estimate the keypoints of this GIF again")
            continue
        info = media.get(path.stem)
        if info is None:
            continue
        if record.n_frames != info.n_frames:
            issues.error("keypoint-frames", path, f"{record.n_frames} frames of keypoints but the media "
                         f"{Path(info.path).name} has {info.n_frames}",
                         "the cache belongs to another version of the file: delete it and estimate again")
        elif (record.width, record.height) != (info.width, info.height):
            issues.error("keypoint-size", path, f"keypoints are for {record.width}x{record.height} frames but "
                         f"the media {Path(info.path).name} is {info.width}x{info.height}",
                         "the cache belongs to another version of the file: delete it and estimate again")
    return len(caches)
