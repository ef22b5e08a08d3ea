"""Estimating keypoints for one file or a whole dataset folder, resumably, in parallel, in shards.

``estimate_file`` decodes every frame of a GIF or video (kavan.media.decode, as a browser shows it) and runs the
estimator over them in order (faces are detected every ``detect_every`` frames and tracked in between). Every frame, not only those TSN evaluation sampling takes: training draws a random frame
from each of the T segments, so any frame can be picked, and the feature cache (``data.cache_frames: all``)
keeps every frame too.

``run_dataset`` does that for every media file in ``DIR/gifs/`` and writes ``DIR/keypoints/<id>.safetensors``
through kavan.keypoints.cache (temporary file + rename: a kill never leaves a partial cache). A GIF whose cache
already loads and was made by the same backend, version and settings is skipped, so a killed run resumes where
it stopped; a cache made by another backend or with other settings (SynthGIF's simulated detector, an earlier
run with --max-faces 4) is kept unless ``force``; a damaged one is estimated again. ``shard=(i, n)`` keeps the ids whose hash falls in shard i of n: stable whatever the file listing
order and whichever machine runs it, so n machines (or cluster jobs) can share one folder. A file that fails
(a broken symbolic link included) is reported with its reason and the run goes on.

Worker processes die with the run (kavan.core.workers.die_with_parent), however it ends. Inside
kavan.core.workers.stop_on_signals, SIGTERM or SIGINT stops the run cleanly: the GIFs under way are dropped (their
workers are stopped; a cache is only ever renamed into place whole), and the report says it was interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kavan.core.errors import KavanError
from kavan.core.shards import in_shard
from kavan.core.workers import Interrupted, die_with_parent, ignore_interrupts
from kavan.keypoints import cache as keypoint_cache
from kavan.keypoints.config import KeypointConfig
from kavan.keypoints.landmarks import N_POINTS
from kavan.media import decode
from kavan.media.layout import MEDIA_DIR, MEDIA_SUFFIXES

log = logging.getLogger(__name__)

STALE_TEMP_SECONDS = 600
"""A cache temporary file older than this is left over from a killed run (a write takes milliseconds)."""


def estimate_file(path: str | os.PathLike[str], estimator) -> keypoint_cache.KeypointRecord:
    """Keypoints of every frame of one media file: (frames, faces, 70, 3), at least one face slot."""
    info = decode.probe(path)
    per_frame = [faces.array() for faces in estimator.sequence(rgb for _, rgb in decode.iter_frames(path))]
    if len(per_frame) != info.n_frames:
        raise KavanError(f"decoded {len(per_frame)} frames but the file declares {info.n_frames}", path)
    slots = max([1] + [len(faces) for faces in per_frame])
    keypoints = np.zeros((len(per_frame), slots, N_POINTS, 3), np.float32)
    for f, faces in enumerate(per_frame):
        keypoints[f, :len(faces)] = faces
    return keypoint_cache.KeypointRecord(keypoints=keypoints, backend=estimator.name,
                                         backend_version=estimator.version, width=info.width,
                                         height=info.height)


def dataset_media(root: Path) -> tuple[dict[str, Path], list[KavanError]]:
    """Every media file under ``root/gifs`` by id (file stem), and an error for each id with several files or
    whose file is a broken symbolic link (a folder of links to a GIF store is common; a link whose target moved
    would otherwise vanish from the run without a word)."""
    media_dir = root / MEDIA_DIR
    if not media_dir.is_dir():
        raise KavanError(f"no {MEDIA_DIR}/ folder: a dataset keeps its media in {MEDIA_DIR}/<id>.gif", root)
    found: dict[str, list[Path]] = {}
    for entry in os.scandir(media_dir):
        path = Path(entry.path)
        if path.suffix.lower() in MEDIA_SUFFIXES and (entry.is_file() or _broken_link(path)):
            found.setdefault(path.stem, []).append(path)
    media, errors = {}, []
    for gif_id, paths in sorted(found.items()):
        if len(paths) == 1 and _broken_link(paths[0]):
            errors.append(KavanError(f"broken symbolic link: its target {os.readlink(paths[0])} does not exist",
                                     paths[0]))
        elif len(paths) == 1:
            media[gif_id] = paths[0]
        else:
            errors.append(KavanError(f"id {gif_id!r} has {len(paths)} media files "
                                     f"({', '.join(sorted(p.name for p in paths))}); keep one", paths[0]))
    return media, errors


def _broken_link(path: Path) -> bool:
    """Whether ``path`` is a symbolic link whose target does not exist (``exists`` follows links)."""
    return path.is_symlink() and not path.exists()


def existing_cache(cache: Path) -> keypoint_cache.KeypointRecord | None:
    """The valid keypoint file at ``cache``, or None when there is none or it is damaged (then it is redone)."""
    if not cache.is_file():
        return None
    try:
        return keypoint_cache.load(cache)
    except KavanError as err:
        log.warning("%s; estimating again", err)
        return None


def remove_stale_temporaries(cache_dir: Path, now: float | None = None) -> int:
    """Delete temporary cache files a killed run left behind (older than STALE_TEMP_SECONDS); their count."""
    if not cache_dir.is_dir():
        return 0
    now = time.time() if now is None else now
    removed = 0
    for path in cache_dir.glob(".*.safetensors.*.tmp"):
        try:
            if now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


@dataclass
class RunReport:
    """What a dataset run did: ids estimated, skipped (cached by the same backend and settings), kept (cached by
    another backend or other settings, left alone without ``force``; with what made them) and failed (why);
    ``interrupted``: the signal that stopped the run early ("SIGTERM"), None for a run that went to its end."""

    estimated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0
    interrupted: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and self.interrupted is None

    def to_json(self) -> dict:
        return {"estimated": len(self.estimated), "skipped": len(self.skipped), "kept": self.kept,
                "failed": self.failed, "interrupted": self.interrupted,
                "frames": self.frames, "seconds": round(self.seconds, 2),
                "frames_per_second": round(self.frames / self.seconds, 1) if self.frames and self.seconds > 0
                else None}


# --- worker side: one estimator per process -------------------------------------------------------------

_ESTIMATOR = None


def _load_estimator(config: KeypointConfig) -> None:
    global _ESTIMATOR
    from kavan.keypoints.backends import Estimator

    _ESTIMATOR = Estimator(config)


def _init_worker(config: KeypointConfig, parent_pid: int) -> None:
    """A worker process: dies with the run (an orphan would wait for work forever, holding its models), leaves
    Ctrl-C to the parent, which stops it, then loads its own estimator."""
    die_with_parent(parent_pid)
    ignore_interrupts()
    _load_estimator(config)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's workers now, dropping the GIFs under way: a stopped run redoes them next time, while
    waiting for them could take as long as the longest GIF. A stopped worker leaves no partial cache (caches are
    renamed into place whole) but may leave a temporary file, which a later run removes once it is stale.
    The pool offers no public way to reach its processes, hence ``_processes``."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def _job(gif_id: str, media: Path, cache: Path) -> tuple[str, int, str | None]:
    """Estimate and save one file; (id, frames, None) or (id, 0, reason)."""
    try:
        record = estimate_file(media, _ESTIMATOR)
        keypoint_cache.save(cache, record)
    except KavanError as err:
        return gif_id, 0, err.reason
    except (MemoryError, RuntimeError, ValueError) as err:  # a library failing on one file must not stop the rest
        return gif_id, 0, f"{type(err).__name__}: {err}"
    return gif_id, record.n_frames, None


def _results(jobs: list[tuple[str, Path, Path]], config: KeypointConfig, workers: int
             ) -> Iterator[tuple[str, int, str | None]]:
    if not jobs:
        return
    if workers == 1:
        _load_estimator(config)
        try:
            for job in jobs:
                yield _job(*job)
        finally:
            _ESTIMATOR.close()
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=(config, os.getpid()))
    try:
        futures = {pool.submit(_job, *job): job[0] for job in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool as err:  # a worker died in native code: report, the rerun resumes
                yield futures[future], 0, f"worker process died ({err})"
    except BaseException:  # interrupted, an error, or the caller stopped reading: nobody wants the rest
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_dataset(root: str | os.PathLike[str], config: KeypointConfig = KeypointConfig(), workers: int = 1,
                shard: tuple[int, int] = (1, 1), force: bool = False, progress: bool = True) -> RunReport:
    """Estimate and cache the keypoints of every media file of the dataset folder ``root`` (see module doc)."""
    root = Path(root)
    if workers < 1:
        raise KavanError(f"--workers must be >= 1, got {workers}")
    report = RunReport()
    try:
        media, jobs = _plan(root, config, shard, force, report)
        _estimate(media, jobs, config, workers, progress, report)
    except Interrupted as stop:  # any workers are stopped by now: leaving _estimate stops them
        report.interrupted = stop.signal_name
    return report


def _plan(root: Path, config: KeypointConfig, shard: tuple[int, int], force: bool, report: RunReport
          ) -> tuple[dict[str, Path], list[tuple[str, Path, Path]]]:
    """The shard's media files by id and the (id, media, cache) jobs left to do; records in ``report`` the files
    that cannot be used and the caches skipped or kept."""
    from kavan.keypoints.backends import backend_version

    media, errors = dataset_media(root)
    for err in errors:
        if in_shard(Path(err.path).stem, shard):
            log.warning("%s", err)
            report.failed[Path(err.path).stem] = err.reason
    cache_dir = root / "keypoints"
    removed = remove_stale_temporaries(cache_dir)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run in %s", removed, cache_dir)
    version = backend_version(config)
    jobs = []
    for gif_id, path in media.items():
        if not in_shard(gif_id, shard):
            continue
        cache = keypoint_cache.cache_path(root, gif_id)
        record = None if force else existing_cache(cache)
        if record is None:
            jobs.append((gif_id, path, cache))
        elif record.backend == config.backend and record.backend_version == version:
            report.skipped.append(gif_id)
        else:
            report.kept[gif_id] = f"{record.backend} {record.backend_version}"
    log.info("%s: %d media files, shard %d/%d: %d to estimate, %d already cached", root, len(media), *shard,
             len(jobs), len(report.skipped))
    if report.kept:
        log.warning("%d cache(s) made by another backend or with other settings are kept (e.g. %s: %s); "
                    "--force replaces them", len(report.kept), *next(iter(report.kept.items())))
    return media, jobs


def _estimate(media: dict[str, Path], jobs: list[tuple[str, Path, Path]], config: KeypointConfig, workers: int,
              progress: bool, report: RunReport) -> None:
    """Run the jobs, recording each outcome in ``report`` as it comes. However this ends (an exception, a
    signal), the results generator is closed, which stops its workers before anything else happens."""
    start = time.perf_counter()
    results = _results(jobs, config, min(workers, max(1, len(jobs))))
    try:
        with contextlib.closing(results), \
                tqdm(total=len(jobs), desc="keypoints", unit="gif", disable=None if progress else True) as bar:
            for gif_id, frames, reason in results:
                if reason is None:
                    report.estimated.append(gif_id)
                    report.frames += frames
                else:
                    log.warning("%s: %s", media[gif_id], reason)
                    report.failed[gif_id] = reason
                bar.update(1)
                bar.set_postfix(frames=report.frames, failed=len(report.failed))
    finally:
        report.seconds = time.perf_counter() - start
