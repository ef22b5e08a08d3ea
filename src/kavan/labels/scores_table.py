"""The ``scores.csv`` file of a dataset: an ``id`` column and one column per GIFGIF emotion.

Columns are matched by name (any order; ``kavan`` writes ``id`` then ``kavan.core.emotions.EMOTIONS`` order).
Every row must have a non-empty, unique id and 17 finite numbers. Extra columns are allowed and ignored
(a warning), so a file can carry notes such as a source URL. Reading is lenient: every problem goes into an
``IssueLog`` so ``kavan data check`` can list them all; the dataset loader then fails on the first error.

Whether the numbers are already in [0, 1] or raw TrueSkill mu on GIFGIF's 0–50 scale is declared by the
dataset (see ``kavan.data.dataset``); this module checks the range it is given.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.core.issues import IssueLog, closest_name, well_formed_rows
from kavan.labels.csv_cells import formula_safe, read_cell

ID_COLUMN = "id"
COLUMNS: tuple[str, ...] = (ID_COLUMN, *EMOTIONS)
# Values this far past the end of the declared range are taken as rounding and clipped, not reported.
RANGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ScoresTable:
    """The rows of a scores file that parsed: ids in file order, values (n, 17) float64 in EMOTIONS order."""

    ids: list[str]
    values: np.ndarray


def parse_scores(path: Path, log: IssueLog, unit: bool = True) -> ScoresTable:
    """Read ``path`` into a ScoresTable, recording every problem in ``log``.

    With ``unit`` (scores declared in [0, 1]) values outside [0, 1] are errors and values within
    RANGE_TOLERANCE of it are clipped into it; otherwise (raw TrueSkill mu) any finite value is accepted and
    the caller maps it to [0, 1]. Rows with any problem are left out of the table.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        log.error("missing-scores", path, "scores file not found",
                  "write scores.csv with an `id` column and one column per emotion (see docs/data.md)")
        return ScoresTable([], np.zeros((0, len(EMOTIONS))))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        log.error("unreadable-scores", path, f"cannot read scores file: {err}", "save it as UTF-8 CSV")
        return ScoresTable([], np.zeros((0, len(EMOTIONS))))
    if not rows:
        log.error("empty-scores", path, "scores file is empty",
                  f"the first line must be the header: {','.join(COLUMNS)}")
        return ScoresTable([], np.zeros((0, len(EMOTIONS))))
    header = [name.strip() for name in rows[0]]
    positions = _check_header(path, header, log)
    if positions is None:
        return ScoresTable([], np.zeros((0, len(EMOTIONS))))
    return _parse_rows(path, rows[1:], len(header), positions, log, unit)


def _check_header(path: Path, header: list[str], log: IssueLog) -> list[int] | None:
    """Positions of id and the 17 emotions in the header, or None when any is missing or doubled."""
    ok = True
    for name in sorted({n for n in header if header.count(n) > 1}):
        log.error("duplicate-column", path, f"column {name!r} appears {header.count(name)} times",
                  "keep one column per name")
        ok = False
    extra = [n for n in header if n not in COLUMNS]
    for name in COLUMNS:
        if name in header:
            continue
        guess = next((e for e in extra if closest_name(e, [name]) == name), None)
        if guess is not None:
            log.error("wrong-column", path, f"column {guess!r} is not an expected name",
                      f"did you mean {name!r}? Rename the column to {name!r}")
            extra.remove(guess)
        else:
            log.error("missing-column", path, f"required column {name!r} is missing",
                      f"add it; the columns are {', '.join(COLUMNS)}")
        ok = False
    for name in extra:
        guess = closest_name(name, COLUMNS)
        hint = f" (did you mean {guess!r}? that column is present already)" if guess else ""
        log.warning("extra-column", path, f"column {name!r} is not an emotion and is ignored{hint}",
                    "remove it if it was meant to be a score")
    return [header.index(name) for name in COLUMNS] if ok else None


def _parse_rows(path: Path, rows: list[list[str]], width: int, positions: list[int], log: IssueLog,
                unit: bool) -> ScoresTable:
    ids: list[str] = []
    values: list[list[float]] = []
    first_line: dict[str, int] = {}
    for line, row in well_formed_rows(path, width, rows, log):
        gif_id = read_cell(row[positions[0]].strip())
        if not gif_id:
            log.error("empty-id", path, f"line {line}: empty id", "give every row the GIF's file name stem")
            continue
        if gif_id in first_line:
            log.error("duplicate-id", path, f"line {line}: id {gif_id!r} already on line {first_line[gif_id]}",
                      "keep one row per GIF")
            continue
        first_line[gif_id] = line
        numbers = _parse_values(path, line, gif_id, [row[p] for p in positions[1:]], log, unit)
        if numbers is not None:
            ids.append(gif_id)
            values.append(numbers)
    if not first_line:
        log.error("empty-scores", path, "scores file has a header but no rows", "add one row per GIF")
    array = np.array(values, dtype=np.float64).reshape(len(values), len(EMOTIONS))
    return ScoresTable(ids, np.clip(array, 0.0, 1.0) if unit else array)


def _parse_values(path: Path, line: int, gif_id: str, cells: list[str], log: IssueLog,
                  unit: bool) -> list[float] | None:
    numbers: list[float] = []
    ok = True
    for emotion, cell in zip(EMOTIONS, cells):
        try:
            value = float(cell)
        except ValueError:
            log.error("bad-score", path, f"line {line} ({gif_id}): {emotion} = {cell!r} is not a number",
                      "write a decimal number")
            ok = False
            continue
        if not math.isfinite(value):
            log.error("nan-score", path, f"line {line} ({gif_id}): {emotion} is {cell.strip()}",
                      "fill in the score, or drop the GIF from scores.csv and gifs/")
            ok = False
        elif unit and not -RANGE_TOLERANCE <= value <= 1 + RANGE_TOLERANCE:
            log.error("score-out-of-range", path, f"line {line} ({gif_id}): {emotion} = {value:g} is outside "
                      "[0, 1], the range dataset.yaml declares (`scores: unit`, the default)",
                      "if the file holds raw TrueSkill mu on the 0-50 scale, write `scores: trueskill` in "
                      "dataset.yaml; otherwise fix the value")
            ok = False
        numbers.append(value)
    return numbers if ok else None


def write_scores(path: Path, ids: list[str], scores: np.ndarray) -> None:
    """Write ``scores`` (n, 17) in EMOTIONS order as a scores.csv with an ``id`` column (formula-safe:
    kavan.labels.csv_cells), 6 decimals."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(ids), len(EMOTIONS)):
        raise ValueError(f"expected scores of shape ({len(ids)}, {len(EMOTIONS)}), got {scores.shape}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(COLUMNS)
            for gif_id, row in zip(ids, scores):
                writer.writerow([formula_safe(gif_id), *(f"{v:.6f}" for v in row)])
    except OSError as err:
        raise KavanError(f"cannot write scores file: {err.strerror or err}", path) from None
