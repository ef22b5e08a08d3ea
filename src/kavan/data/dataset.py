"""The one loader for every dataset folder, synthetic or real (GIFGIF-style).

Layout (docs/data.md has the full description)::

    <root>/
      scores.csv              id + one column per emotion (kavan.labels.scores_table)
      gifs/<id>.gif|.mp4|.webm  one media file per id
      dataset.yaml            optional: `scores: unit` (default) or `scores: trueskill`
      keypoints/<id>.safetensors  optional keypoint caches (kavan.keypoints.cache)
      votes.csv               optional pairwise votes (kavan.labels.ratings)

``scores: unit`` means scores.csv already holds intensities in [0, 1]; ``scores: trueskill`` means raw
TrueSkill mu on GIFGIF's 0–50 scale, which the loader divides by 50 and clips to [0, 1] (GIFGIF's own
normalisation). Unit is the default because it is what ``kavan scores`` writes; a value above 1 in a folder
declared unit is an error that points at the declaration.

Loading checks the cheap things (declaration, scores table, that every id has exactly one media file) and
fails with a KavanError on the first problem; ``kavan data check`` runs the same checks plus decoding every
file and reports all problems at once.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import yaml

from kavan.core.emotions import quadrant_index
from kavan.core.errors import KavanError
from kavan.core.issues import IssueLog, closest_name
from kavan.core.yamlfile import load_yaml
from kavan.data.splits import Split, make_splits, read_split_file
from kavan.keypoints import cache as keypoint_cache
from kavan.labels.ratings import SCALE
from kavan.labels.scores_table import parse_scores
from kavan.media import decode
from kavan.media.layout import MEDIA_DIR, MEDIA_SUFFIXES, broken_link

log = logging.getLogger(__name__)

CONFIG_FILE = "dataset.yaml"
SCORES_FILE = "scores.csv"
VOTES_FILE = "votes.csv"
SCORE_SCALES: tuple[str, ...] = ("unit", "trueskill")


@dataclass(frozen=True)
class DatasetConfig:
    """What ``dataset.yaml`` declares. ``scores``: ``unit`` ([0, 1]) or ``trueskill`` (raw mu, 0–50)."""

    scores: str = "unit"


def read_dataset_config(root: Path, issues: IssueLog) -> DatasetConfig:
    """The folder's dataset.yaml (defaults when there is none), recording problems in ``issues``."""
    path = Path(root) / CONFIG_FILE
    if not path.is_file():
        return DatasetConfig()
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        issues.error("bad-config", path, f"cannot read dataset.yaml: {err}", "fix the YAML or delete the file")
        return DatasetConfig()
    if data is None:
        return DatasetConfig()
    if not isinstance(data, dict):
        issues.error("bad-config", path, "dataset.yaml must be a mapping such as `scores: unit`",
                     "rewrite the file as `key: value` lines")
        return DatasetConfig()
    known = [f.name for f in fields(DatasetConfig)]
    for key in data:
        if key not in known:
            guess = closest_name(str(key), known)
            issues.warning("unknown-config-key", path, f"key {key!r} is not used and is ignored",
                           f"did you mean {guess!r}?" if guess else f"known keys: {', '.join(known)}")
    scores = data.get("scores", DatasetConfig.scores)
    if scores not in SCORE_SCALES:
        issues.error("bad-config", path, f"scores: {scores!r} is not one of {', '.join(SCORE_SCALES)}",
                     "write `scores: unit` for values in [0, 1] or `scores: trueskill` for raw mu (0-50)")
        return DatasetConfig()
    return DatasetConfig(scores=scores)


def to_unit_scores(values: np.ndarray, config: DatasetConfig, path: Path, issues: IssueLog) -> np.ndarray:
    """Scores in [0, 1] from the table's values under the folder's declaration."""
    if config.scores == "unit":
        return values
    outside = int(((values < 0) | (values > SCALE)).sum())
    if outside:
        issues.warning("score-clipped", path, f"{outside} TrueSkill value(s) lie outside [0, {SCALE:g}] and "
                       "are clipped to [0, 1] after dividing by 50", "nothing to do if that is expected")
    if values.size and values.max() <= 1.0:
        issues.warning("scale-suspect", path, "dataset.yaml declares `scores: trueskill` but every value is "
                       "at most 1", "if the scores are already in [0, 1], write `scores: unit`")
    return np.clip(values / SCALE, 0.0, 1.0)


def scan_media(root: Path, ids: list[str], issues: IssueLog) -> dict[str, Path]:
    """The media file of each id under ``root/gifs``; missing, doubled and extra files go into ``issues``, and so
    do broken symbolic links, by that name: an error when the link is the only media file of an id of scores.csv
    (the GIF has no media), a warning otherwise (the link is ignored)."""
    media_dir = Path(root) / MEDIA_DIR
    if not media_dir.is_dir():
        issues.error("missing-media-folder", media_dir, "media folder not found",
                     f"put one file per GIF in {MEDIA_DIR}/ named <id>{'|'.join(MEDIA_SUFFIXES)}")
        return {}
    wanted = set(ids)
    found: dict[str, list[Path]] = {}
    broken: list[tuple[Path, str]] = []
    for entry in sorted(os.scandir(media_dir), key=lambda e: e.name):
        path = Path(entry.path)
        if (link := broken_link(path)) is not None:
            broken.append((path, link))
        elif entry.is_file() and path.suffix.lower() in MEDIA_SUFFIXES:
            found.setdefault(path.stem, []).append(path)
        else:
            issues.warning("extra-file", path, f"not a media file ({', '.join(MEDIA_SUFFIXES)}) and is ignored",
                           "move it out of gifs/")
    unlinked = set()  # ids of scores.csv whose only media file is a broken link
    for path, link in broken:
        if path.suffix.lower() in MEDIA_SUFFIXES and path.stem in wanted and path.stem not in found:
            unlinked.add(path.stem)
            issues.error("broken-link", path, f"{link}: id {path.stem!r} has no media file",
                         "point the link at the file again, or remove it and the id's row from scores.csv")
        else:
            issues.warning("broken-link", path, f"{link}, ignored", "remove it, or point it at the file again")
    media: dict[str, Path] = {}
    for gif_id, paths in found.items():
        if len(paths) > 1:
            issues.error("duplicate-media", paths[0], f"id {gif_id!r} has {len(paths)} media files: "
                         + ", ".join(p.name for p in paths), "keep one file per id")
        elif gif_id not in wanted:
            issues.warning("extra-media", paths[0], "no row in scores.csv, so the file is not used",
                           "add a row for it or remove the file")
        else:
            media[gif_id] = paths[0]
    for gif_id in ids:
        if gif_id not in found and gif_id not in unlinked:
            issues.error("missing-media", media_dir / f"{gif_id}.gif", f"scores.csv has id {gif_id!r} but no "
                         "media file has that name", "add the file or remove the row from scores.csv")
    return media


class Dataset:
    """A dataset folder: ids (sorted), scores (n, 17) float32 in [0, 1], quadrants (n,), media and keypoints."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        if not self.root.is_dir():
            raise KavanError("dataset folder not found", self.root)
        issues = IssueLog()
        self.config = read_dataset_config(self.root, issues)
        scores_path = self.root / SCORES_FILE
        table = parse_scores(scores_path, issues, unit=self.config.scores == "unit")
        unit = to_unit_scores(table.values, self.config, scores_path, issues)
        self._media = scan_media(self.root, table.ids, issues)
        issues.raise_if_errors()
        if issues.warnings:
            log.warning("%s: %d warning(s), e.g. %s; run `kavan data check %s` for all",
                        self.root, issues.count("warning"), issues.warnings[0], self.root)
        order = np.argsort(table.ids, kind="stable")
        self.ids: list[str] = [table.ids[i] for i in order]
        self.scores: np.ndarray = unit[order].astype(np.float32)
        self.quadrants: np.ndarray = quadrant_index(self.scores)
        self._row = {gif_id: i for i, gif_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, {len(self)} GIFs, scores: {self.config.scores})"

    def rows(self, ids: list[str]) -> np.ndarray:
        """Row indices (into ``ids``, ``scores``, ``quadrants``) of the given ids."""
        unknown = [gif_id for gif_id in ids if gif_id not in self._row]
        if unknown:
            raise KavanError(f"{len(unknown)} id(s) not in the dataset, e.g. {', '.join(unknown[:5])}", self.root)
        return np.array([self._row[gif_id] for gif_id in ids], dtype=np.int64)

    def media_path(self, gif_id: str) -> Path:
        """The media file of ``gif_id``."""
        try:
            return self._media[gif_id]
        except KeyError:
            raise KavanError(f"no GIF with id {gif_id!r} in the dataset", self.root) from None

    def media_info(self, gif_id: str) -> decode.MediaInfo:
        """Format, size, frame count and durations of ``gif_id``'s media (decodes no pixels)."""
        return decode.probe(self.media_path(gif_id))

    def frames(self, gif_id: str, indices: list[int]) -> np.ndarray:
        """Frames ``indices`` of ``gif_id`` as (len(indices), H, W, 3) uint8 RGB."""
        return decode.read_frames(self.media_path(gif_id), indices)

    def keypoints(self, gif_id: str) -> keypoint_cache.KeypointRecord | None:
        """The cached keypoints of ``gif_id``, or None when the dataset has no cache file for it."""
        if gif_id not in self._row:
            raise KavanError(f"no GIF with id {gif_id!r} in the dataset", self.root)
        path = keypoint_cache.cache_path(self.root, gif_id)
        return keypoint_cache.load(path) if path.is_file() else None

    def splits(self, n_splits: int = 5, seed: int = 0, train_fraction: float = 0.8,
               mode: str = "random") -> list[Split]:
        """Seeded (train_ids, test_ids) splits, ``mode`` ``random`` or ``folds``; the algorithms are described in
        ``kavan.data.splits``."""
        return make_splits(self.ids, n_splits=n_splits, seed=seed, train_fraction=train_fraction, mode=mode)

    def read_split_file(self, path: str | os.PathLike[str]) -> list[Split]:
        """The splits in a JSON split file, checked against this dataset's ids (format in ``kavan.data.splits``)."""
        return read_split_file(Path(path), self.ids)
