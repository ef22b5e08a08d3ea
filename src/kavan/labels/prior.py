"""A model's predicted intensities as the prior of the ratings: where the labelling starts, and (on request) the scores.

``kavan predict`` writes one JSON object per file (docs/predict.md): ``{"path", "emotions": {17 names: [0, 1]}, ...}``,
or ``{"path", "error"}`` for a file it could not read. A GIF's id is its file name without the suffix, as in a
dataset's ``gifs/<id>.gif``. ``Predictions`` holds those intensities by id; ``prior_ratings`` turns them into a
TrueSkill prior per (GIF, emotion) on the rating scale, where a score is mu / 50 (``kavan.labels.ratings``):

    prior mu = 50 · predicted intensity,   prior sigma = ``PRIOR_SIGMA`` (or the caller's)

A GIF or emotion without a prediction keeps the default prior (mu 25, sigma 25/3).

``PRIOR_SIGMA`` = 4 rating units (0.08 on the 0–1 scale), against the default 25/3: chosen by simulation
(docs/labelling.md, "Model-guided pairing"). It is about the error of a model whose predictions follow the scores
with Pearson r 0.7 (the scores' spread over GIFs is about 4 rating units on SynthGIF); a smaller sigma makes the
votes slow to correct the model's mistakes, a larger one throws the prediction away.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.labels.trueskill_update import TrueSkillParams

log = logging.getLogger(__name__)

PRIOR_SIGMA = 25 / 3
SCALE = 50.0
"""Top of GIFGIF's rating scale: a score is a rating divided by this (``kavan.labels.ratings`` uses it too)."""


@dataclass(frozen=True)
class Predictions:
    """Predicted intensities by GIF id: ``values[id]`` is a (17,) array in EMOTIONS order, each in [0, 1]."""

    values: dict[str, np.ndarray]
    source: str = ""

    def intensities(self, ids: Sequence[str], emotions: Sequence[str] = EMOTIONS) -> np.ndarray:
        """(len(ids), len(emotions)) predicted intensities; NaN where a GIF has no prediction."""
        cols = [EMOTIONS.index(e) for e in emotions]
        out = np.full((len(ids), len(cols)), np.nan)
        for row, gif in enumerate(ids):
            value = self.values.get(gif)
            if value is not None:
                out[row] = value[cols]
        missing = int(np.isnan(out[:, 0]).sum()) if len(cols) else 0
        if missing:
            log.warning("%s: %d of %d GIFs have no prediction; they keep the default prior", self.source or "prior",
                        missing, len(ids))
        return out


def prior_ratings(intensities: np.ndarray, sigma: float = PRIOR_SIGMA,
                  params: TrueSkillParams = TrueSkillParams()) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) arrays shaped like ``intensities``: 50 · intensity and ``sigma`` where there is a prediction,
    the default prior (``params.mu``, ``params.sigma``) where it is NaN."""
    if not (math.isfinite(sigma) and sigma > 0):
        raise KavanError(f"the prior sigma must be a finite number > 0, got {sigma}")
    values = np.asarray(intensities, dtype=np.float64)
    known = np.isfinite(values)
    if np.any(known & ((values < 0) | (values > 1))):
        raise KavanError("predicted intensities must lie in [0, 1]")
    mu = np.where(known, SCALE * np.where(known, values, 0.0), params.mu)
    return mu, np.where(known, sigma, params.sigma)


def predictions_from_records(records: Iterable[tuple[int, Any]], source: str) -> Predictions:
    """Predictions from (line, JSON object) pairs as ``kavan predict`` writes them; error records are skipped with a
    warning, anything else malformed is a KavanError naming the line."""
    values: dict[str, np.ndarray] = {}
    skipped = 0
    for line, record in records:
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise KavanError(f"line {line}: not a JSON object with a \"path\" (is this kavan predict's output?)", source)
        if "error" in record:
            skipped += 1
            continue
        emotions = record.get("emotions")
        if not isinstance(emotions, dict):
            raise KavanError(f"line {line}: no \"emotions\" object", source)
        row = np.array([_intensity(emotions.get(e), e, line, source) for e in EMOTIONS])
        gif = Path(record["path"]).stem
        if gif in values:
            raise KavanError(f"line {line}: a second prediction for GIF id {gif!r} (ids are file names without the "
                             "suffix; keep one file per id)", source)
        values[gif] = row
    if skipped:
        log.warning("%s: %d file(s) have an error instead of a prediction; they keep the default prior", source,
                    skipped)
    if not values:
        raise KavanError("no predictions in the file", source)
    return Predictions(values, source)


def _intensity(value: Any, emotion: str, line: int, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise KavanError(f"line {line}: emotion {emotion!r} is {value!r}, not a number in [0, 1]", source)
    return float(value)


def read_predictions(path: str | Path) -> Predictions:
    """Predictions from a ``kavan predict --out`` JSON Lines file; a torn last line (a killed run) is ignored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise KavanError(f"cannot read predictions: {err}", path) from None
    lines = text.split("\n")
    if lines and lines[-1].strip():  # no final newline: whole, or cut short by a killed run
        try:
            json.loads(lines[-1])
        except ValueError:
            log.warning("%s: the last line is incomplete; it is ignored", path)
            lines = lines[:-1]

    def records():
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except ValueError:
                    raise KavanError(f"line {number} is not JSON", path) from None

    return predictions_from_records(records(), str(path))


__all__ = ["PRIOR_SIGMA", "SCALE", "Predictions", "predictions_from_records", "prior_ratings", "read_predictions"]
