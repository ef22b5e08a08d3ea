"""``kavan data check``: validate a dataset folder and report every problem, not just the first.

It runs the loader's checks (``kavan.dataset``: dataset.yaml, scores.csv, one media file per id) in lenient
mode, then what loading skips because it is slow: decoding the header of every media file
(``kavan.decode.probe``), reading every keypoint cache and comparing its frame count and frame size with the
media, and parsing votes.csv when there is one. Errors make the folder unusable; warnings (extra files, votes
on GIFs the folder lacks, ignored columns) do not.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from kavan import decode, keypoint_cache
from kavan.dataset import (SCORES_FILE, VOTES_FILE, DatasetConfig, read_dataset_config, scan_media,
                           to_unit_scores)
from kavan.errors import KavanError
from kavan.issues import Issue, IssueLog
from kavan.ratings import parse_votes
from kavan.scores_table import parse_scores

log = logging.getLogger(__name__)

KEYPOINT_DIR = "keypoints"
KEYPOINT_SUFFIX = ".safetensors"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of checking one folder. ``ok``: no errors, the folder can be loaded and trained on."""

    root: str
    scores_scale: str
    counts: dict[str, int]
    issues: list[Issue]
    n_errors: int
    n_warnings: int

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
            "errors": [i.to_json() for i in self.issues if i.severity == "error"],
            "warnings": [i.to_json() for i in self.issues if i.severity == "warning"],
        }

    def render(self) -> str:
        """A readable report: counts, errors, warnings, verdict."""
        c = self.counts
        lines = [f"Dataset {self.root} (scores: {self.scores_scale})",
                 f"  {c['gifs']} GIFs in {SCORES_FILE}, {c['media_files']} media files, "
                 f"{c['readable_media']} readable, {c['keypoint_caches']} keypoint caches"
                 + (f", {c['votes']} votes" if "votes" in c else "")]
        for severity, title in (("error", "Errors"), ("warning", "Warnings")):
            chosen = [i for i in self.issues if i.severity == severity]
            if chosen:
                total = self.n_errors if severity == "error" else self.n_warnings
                lines.append(f"{title} ({total}):")
                lines.extend(f"  {severity.upper()} [{i.kind}] {i}" for i in chosen)
        verdict = "usable" if self.ok else "NOT usable: fix the errors above"
        lines.append(f"Result: {verdict} ({self.n_errors} error(s), {self.n_warnings} warning(s))")
        return "\n".join(lines)


def check_dataset(root: str | os.PathLike[str], progress: bool = True) -> CheckReport:
    """Check the dataset folder ``root``; ``progress`` shows tqdm bars while files are read."""
    root = Path(root)
    issues = IssueLog()
    counts = {"gifs": 0, "media_files": 0, "readable_media": 0, "keypoint_caches": 0}
    if not root.is_dir():
        issues.error("missing-folder", root, "dataset folder not found", "check the path")
        return _report(root, DatasetConfig(), counts, issues)
    config = read_dataset_config(root, issues)
    scores_path = root / SCORES_FILE
    table = parse_scores(scores_path, issues, unit=config.scores == "unit")
    to_unit_scores(table.values, config, scores_path, issues)
    media = scan_media(root, table.ids, issues)
    counts.update(gifs=len(table.ids), media_files=len(media))
    frames = _probe_media(media, issues, progress)
    counts["readable_media"] = len(frames)
    counts["keypoint_caches"] = _check_keypoints(root, set(table.ids), frames, issues, progress)
    votes_path = root / VOTES_FILE
    if votes_path.is_file():
        counts["votes"] = len(parse_votes(votes_path, issues, known_ids=table.ids))
    return _report(root, config, counts, issues)


def _report(root: Path, config: DatasetConfig, counts: dict[str, int], issues: IssueLog) -> CheckReport:
    return CheckReport(root=str(root), scores_scale=config.scores, counts=counts, issues=issues.issues,
                       n_errors=issues.count("error"), n_warnings=issues.count("warning"))


def _probe_media(media: dict[str, Path], issues: IssueLog, progress: bool) -> dict[str, decode.MediaInfo]:
    """MediaInfo of every readable media file; unreadable ones become errors."""
    infos = {}
    for gif_id, path in tqdm(sorted(media.items()), desc="probing media", unit="file",
                             disable=None if progress else True):
        try:
            infos[gif_id] = decode.probe(path)
        except KavanError as err:
            issues.error("unreadable-media", path, f"cannot decode: {err.reason}",
                         "replace the file with a readable copy, or remove it and its scores.csv row")
    return infos


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
