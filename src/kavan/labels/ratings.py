"""Per-emotion TrueSkill ratings from GIFGIF-style pairwise votes, and their [0, 1] intensity scores.

GIFGIF showed two GIFs and asked which of them shows an emotion: A, B or neither. It turned the votes into
one TrueSkill rating (mu, sigma) per GIF and emotion on a 0–50 scale and published mu / 50 as the intensity.
This module reproduces that step:

* ``votes.csv`` has the columns ``gif_a, gif_b, emotion, winner`` (others are ignored). ``winner`` is
  ``a``, ``b`` or ``neither`` (case-insensitive), or the id of ``gif_a`` or ``gif_b`` itself, as an export
  keyed by GIF may hold; the words ``a``/``b``/``neither`` are read first. ``neither`` counts as a draw.
* Each emotion is its own TrueSkill environment (``TrueSkillParams``; the defaults are the ``trueskill``
  package's, which GIFGIF used: mu 25, sigma 25/3, beta 25/6, tau 25/300, draw probability 0.10).
* Votes are applied in file order. TrueSkill is an online filter, so order matters: the same votes in
  another order give slightly different ratings. Keep the export's chronological order.
* Scores: ``mu`` normalisation gives mu / 50 (GIFGIF's), ``conservative`` gives (mu − 3·sigma) / 50, the
  usual TrueSkill lower bound; both clipped to [0, 1]. A GIF with no vote for an emotion keeps the prior:
  0.5 under ``mu``, 0 under ``conservative``.

Speed: games that share no rating (no GIF twice within one emotion) are independent, so the votes are
grouped into waves in which every vote is the next one for both of its ratings, and each wave is updated at
once with ``kavan.labels.trueskill_update``. The result is exactly that of applying the votes one by one.

Ratings already computed elsewhere (e.g. mu/sigma from the GIFGIF API) are imported with ``read_ratings``;
see its docstring for the two accepted layouts.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.core.issues import IssueLog, closest_name, well_formed_rows
from kavan.labels.csv_cells import read_cell
from kavan.labels.prior import PRIOR_SIGMA, SCALE, Predictions, prior_ratings
from kavan.labels.scores_table import write_scores
from kavan.labels.trueskill_update import TrueSkillParams, rate_1vs1

log = logging.getLogger(__name__)

VOTE_COLUMNS: tuple[str, ...] = ("gif_a", "gif_b", "emotion", "winner")
NORMALISATIONS: tuple[str, ...] = ("mu", "conservative")

_EMOTION_INDEX = {name: k for k, name in enumerate(EMOTIONS)}
_WINNER_WORDS = {"a": 1, "b": -1, "neither": 0}


@dataclass(frozen=True)
class Votes:
    """Parsed votes in file order. ``a``, ``b`` index ``ids``; ``emotion`` indexes EMOTIONS;
    ``outcome`` is 1 when gif_a won, -1 when gif_b won, 0 for neither (a draw)."""

    ids: list[str]
    a: np.ndarray
    b: np.ndarray
    emotion: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def parse_votes(path: Path, issues: IssueLog, known_ids: Iterable[str] | None = None) -> Votes:
    """Read a votes file, recording every problem in ``issues`` and leaving bad rows out.

    With ``known_ids``, votes naming other GIFs are reported as warnings: they still count (the other
    GIF is rated as an opponent) but that GIF has no media or scores in the dataset.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        issues.error("missing-votes", path, "votes file not found", "check the path")
        return _votes_from_lists([], [], [], [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        issues.error("unreadable-votes", path, f"cannot read votes file: {err}", "save it as UTF-8 CSV")
        return _votes_from_lists([], [], [], [])
    header = [name.strip() for name in rows[0]] if rows else []
    missing = [name for name in VOTE_COLUMNS if name not in header]
    for name in missing:
        guess = next((h for h in header if h not in VOTE_COLUMNS and closest_name(h, [name]) == name), None)
        fix = f"did you mean {guess!r}? Rename it to {name!r}" if guess else \
            f"the columns are {', '.join(VOTE_COLUMNS)}"
        issues.error("missing-column", path, f"required column {name!r} is missing", fix)
    if missing:
        return _votes_from_lists([], [], [], [])
    cols = [header.index(name) for name in VOTE_COLUMNS]
    known = None if known_ids is None else set(known_ids)
    a_ids: list[str] = []
    b_ids: list[str] = []
    emotions: list[int] = []
    outcomes: list[int] = []
    for line, row in well_formed_rows(path, len(header), rows[1:], issues):
        gif_a, gif_b, emotion, winner = (read_cell(row[c].strip()) for c in cols)
        parsed = _parse_vote(path, line, gif_a, gif_b, emotion, winner, issues)
        if parsed is None:
            continue
        if known is not None:
            for gif in (gif_a, gif_b):
                if gif not in known:
                    issues.warning("unknown-id", path, f"line {line}: GIF {gif!r} is not in the dataset",
                                   "the vote still counts; add the GIF or remove its votes")
        a_ids.append(gif_a)
        b_ids.append(gif_b)
        emotions.append(parsed[0])
        outcomes.append(parsed[1])
    if not any(any(cell.strip() for cell in row) for row in rows[1:]):
        issues.warning("empty-votes", path, "votes file has no votes, so every rating stays at the prior",
                       "add one row per vote")
    return _votes_from_lists(a_ids, b_ids, emotions, outcomes)


def _parse_vote(path: Path, line: int, gif_a: str, gif_b: str, emotion: str, winner: str,
                issues: IssueLog) -> tuple[int, int] | None:
    """(emotion index, outcome) of one row, or None after recording what is wrong with it."""
    if not gif_a or not gif_b:
        issues.error("empty-id", path, f"line {line}: empty GIF id", "fill in gif_a and gif_b")
        return None
    if gif_a == gif_b:
        issues.error("self-vote", path, f"line {line}: GIF {gif_a!r} is voted against itself",
                     "remove the row")
        return None
    k = _EMOTION_INDEX.get(emotion.lower())
    if k is None:
        guess = closest_name(emotion, EMOTIONS)
        issues.error("unknown-emotion", path, f"line {line}: {emotion!r} is not a GIFGIF emotion",
                     f"did you mean {guess!r}?" if guess else f"use one of {', '.join(EMOTIONS)}")
        return None
    outcome = _WINNER_WORDS.get(winner.lower())
    if outcome is None:
        outcome = 1 if winner == gif_a else -1 if winner == gif_b else None
    if outcome is None:
        issues.error("unknown-winner", path, f"line {line}: winner {winner!r} is not a, b, neither or the id "
                     "of gif_a or gif_b", "write a, b or neither")
        return None
    return k, outcome


def _votes_from_lists(a_ids: list[str], b_ids: list[str], emotions: list[int], outcomes: list[int]) -> Votes:
    ids = sorted(set(a_ids) | set(b_ids))
    index = {gif: i for i, gif in enumerate(ids)}
    return Votes(ids=ids,
                 a=np.array([index[g] for g in a_ids], dtype=np.int64),
                 b=np.array([index[g] for g in b_ids], dtype=np.int64),
                 emotion=np.array(emotions, dtype=np.int64),
                 outcome=np.array(outcomes, dtype=np.int8))


def read_votes(path: Path) -> Votes:
    """Read a votes file; KavanError naming the file, line and reason on the first bad row."""
    issues = IssueLog()
    votes = parse_votes(path, issues)
    issues.raise_if_errors()
    return votes


def _waves(cell_a: np.ndarray, cell_b: np.ndarray, n_cells: int) -> list[np.ndarray]:
    """Vote indices grouped into waves; within a wave no rating cell appears twice.

    A vote's wave is one more than the last wave of either of its cells, so every vote comes after all
    earlier votes on the same cells: updating wave by wave equals updating vote by vote in file order.
    """
    last = [0] * n_cells
    wave = []
    for ca, cb in zip(cell_a.tolist(), cell_b.tolist()):
        w = (last[ca] if last[ca] > last[cb] else last[cb]) + 1
        last[ca] = last[cb] = w
        wave.append(w)
    wave_arr = np.array(wave, dtype=np.int64)
    order = np.argsort(wave_arr, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(wave_arr[order])) + 1) if len(order) else []


def rate_votes(votes: Votes, params: TrueSkillParams = TrueSkillParams(),
               prior: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """TrueSkill mu, sigma and vote counts, each (len(votes.ids), 17), from the votes in file order.

    ``prior``: the (mu, sigma) every rating starts from, each (len(votes.ids), 17) (``kavan.labels.prior``);
    default: ``params.mu``, ``params.sigma`` for all."""
    n_emotions = len(EMOTIONS)
    n_cells = len(votes.ids) * n_emotions
    mu = np.full(n_cells, float(params.mu))
    sigma = np.full(n_cells, float(params.sigma))
    if prior is not None:
        mu = np.asarray(prior[0], dtype=np.float64).reshape(n_cells).copy()
        sigma = np.asarray(prior[1], dtype=np.float64).reshape(n_cells).copy()
    cell_a = votes.a * n_emotions + votes.emotion
    cell_b = votes.b * n_emotions + votes.emotion
    # Player 1 of each game is the winner (gif_a for a draw; the draw update is symmetric).
    first = np.where(votes.outcome == -1, cell_b, cell_a)
    second = np.where(votes.outcome == -1, cell_a, cell_b)
    drawn = votes.outcome == 0
    for idx in _waves(cell_a, cell_b, n_cells):
        i, j = first[idx], second[idx]
        mu[i], sigma[i], mu[j], sigma[j] = rate_1vs1(mu[i], sigma[i], mu[j], sigma[j], drawn[idx], params)
    n_votes = np.bincount(cell_a, minlength=n_cells) + np.bincount(cell_b, minlength=n_cells)
    shape = (len(votes.ids), n_emotions)
    return {"mu": mu.reshape(shape), "sigma": sigma.reshape(shape), "n_votes": n_votes.reshape(shape)}


def _select(ids: list[str], table: dict[str, np.ndarray], wanted: list[str] | None,
            params: TrueSkillParams, source: Path, prior: Predictions | None = None,
            prior_sigma: float = PRIOR_SIGMA) -> dict:
    """Rows of ``table`` for ``wanted`` (default: all ``ids``); GIFs absent from the source get the prior (the
    model's where ``prior`` has a prediction)."""
    if wanted is None:
        return {"ids": list(ids), **table}
    wanted = list(wanted)
    if len(set(wanted)) != len(wanted):
        raise KavanError("the id list names a GIF more than once", source)
    index = {gif: i for i, gif in enumerate(ids)}
    rows = np.array([index.get(gif, -1) for gif in wanted], dtype=np.int64)
    absent = int((rows < 0).sum())
    if absent:
        log.warning("%s: %d of %d GIFs have no entry; they keep the prior mu=%g, sigma=%g",
                    source, absent, len(wanted), params.mu, params.sigma)
    unused = len(set(ids) - set(wanted))
    if unused:
        log.info("%s: %d GIFs are rated but not in the id list; their ratings are not output", source, unused)
    shape = (len(wanted), len(EMOTIONS))
    start = {"mu": np.full(shape, float(params.mu)), "sigma": np.full(shape, float(params.sigma)),
             "n_votes": np.zeros(shape, dtype=np.int64)}
    if prior is not None:
        start["mu"], start["sigma"] = prior_ratings(prior.intensities(wanted), prior_sigma, params)
    present = rows >= 0
    selected: dict = {"ids": wanted}
    for key, value in table.items():
        selected[key] = start[key].astype(value.dtype)
        selected[key][present] = value[rows[present]]
    return selected


def ratings_from_votes(votes_csv: Path, ids: list[str] | None = None,
                       params: TrueSkillParams = TrueSkillParams(), require_votes: bool = False,
                       prior: Predictions | None = None, prior_sigma: float = PRIOR_SIGMA) -> dict:
    """TrueSkill ratings from a votes file.

    Returns ``{"ids", "mu", "sigma", "n_votes"}``; the arrays are (len(ids), 17) in EMOTIONS order. ``ids``
    defaults to every GIF in the votes, sorted. Votes on GIFs outside ``ids`` still count (they rate the
    opponents); GIFs of ``ids`` with no votes keep the prior. With ``require_votes`` a file without any vote
    is a KavanError: ``kavan scores`` would otherwise write a scores file that is empty, or all prior, and
    looks like a result.

    ``prior``: a model's predictions (``kavan.labels.prior``); every rating with a prediction then starts from
    mu = 50 · prediction, sigma = ``prior_sigma`` instead of GIFGIF's prior, so the scores mix the model's
    judgement with the votes (docs/labelling.md measures what that costs when the model is wrong).
    """
    votes = read_votes(votes_csv)
    if require_votes and not len(votes):
        raise KavanError("no votes: the file has no rows after its header, so there is nothing to rate; add one "
                         f"row per vote ({', '.join(VOTE_COLUMNS)})", votes_csv)
    start = None if prior is None else prior_ratings(prior.intensities(votes.ids), prior_sigma, params)
    table = rate_votes(votes, params, start)
    draws = float((votes.outcome == 0).mean()) if len(votes) else 0.0
    log.info("%s: %d votes on %d GIFs (%.1f%% neither)", votes_csv, len(votes), len(votes.ids), 100 * draws)
    selected = _select(votes.ids, table, ids, params, Path(votes_csv), prior, prior_sigma)
    unvoted = int((selected["n_votes"] == 0).sum())
    if unvoted:
        log.info("%s: %d of %d GIF/emotion pairs have no vote and keep the prior", votes_csv, unvoted,
                 selected["n_votes"].size)
    return selected


def read_ratings(ratings_csv: Path, ids: list[str] | None = None,
                 params: TrueSkillParams = TrueSkillParams()) -> dict:
    """Import ratings computed elsewhere, in the dict layout of ``ratings_from_votes`` (n_votes is 0).

    Two layouts, told apart by the header:

    * long: columns ``id, emotion, mu, sigma``, one row per GIF and emotion; pairs not listed keep the prior;
    * wide: ``id`` and, for every emotion, ``<emotion>_mu`` and ``<emotion>_sigma``.

    mu and sigma are on GIFGIF's 0–50 scale; sigma must be positive.
    """
    ratings_csv = Path(ratings_csv)
    issues = IssueLog()
    try:
        with open(ratings_csv, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise KavanError(f"cannot read ratings file: {err}", ratings_csv) from None
    if not rows:
        raise KavanError("ratings file is empty", ratings_csv)
    header = [name.strip() for name in rows[0]]
    if {"emotion", "mu", "sigma"} <= set(header):
        table = _ratings_long(ratings_csv, header, rows[1:], issues, params)
    elif any(name.endswith("_mu") for name in header):
        table = _ratings_wide(ratings_csv, header, rows[1:], issues)
    else:
        raise KavanError("unknown ratings layout: expected columns id, emotion, mu, sigma (long) or id, "
                         "<emotion>_mu, <emotion>_sigma (wide)", ratings_csv)
    issues.raise_if_errors()
    gif_ids = table.pop("ids")
    return _select(gif_ids, table, ids, params, ratings_csv)


def _number(path: Path, line: int, name: str, cell: str, issues: IssueLog, positive: bool) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or (positive and value <= 0):
        need = "a positive number" if positive else "a finite number"
        issues.error("bad-rating", path, f"line {line}: {name} = {cell.strip()!r} is not {need}",
                     f"write {need}")
        return None
    return value


def _ratings_long(path: Path, header: list[str], rows: list[list[str]], issues: IssueLog,
                  params: TrueSkillParams) -> dict:
    if "id" not in header:
        raise KavanError("required column 'id' is missing", path)
    cols = [header.index(name) for name in ("id", "emotion", "mu", "sigma")]
    values: dict[str, dict[int, tuple[float, float]]] = {}
    for line, row in well_formed_rows(path, len(header), rows, issues):
        gif, emotion, mu_cell, sigma_cell = (row[c].strip() for c in cols)
        k = _EMOTION_INDEX.get(emotion.lower())
        if not gif or k is None:
            issues.error("bad-row", path, f"line {line}: empty id or unknown emotion {emotion!r}",
                         f"emotions are {', '.join(EMOTIONS)}")
            continue
        if k in values.get(gif, {}):
            issues.error("duplicate-rating", path, f"line {line}: {gif}/{emotion} is rated twice",
                         "keep one row per GIF and emotion")
            continue
        mu = _number(path, line, "mu", mu_cell, issues, positive=False)
        sigma = _number(path, line, "sigma", sigma_cell, issues, positive=True)
        if mu is not None and sigma is not None:
            values.setdefault(gif, {})[k] = (mu, sigma)
    ids = sorted(values)
    mu_arr = np.full((len(ids), len(EMOTIONS)), float(params.mu))
    sigma_arr = np.full((len(ids), len(EMOTIONS)), float(params.sigma))
    for i, gif in enumerate(ids):
        for k, (mu, sigma) in values[gif].items():
            mu_arr[i, k], sigma_arr[i, k] = mu, sigma
    unrated = mu_arr.size - sum(len(v) for v in values.values())
    if unrated:
        log.warning("%s: %d GIF/emotion pairs are not listed; they keep the prior", path, unrated)
    return {"ids": ids, "mu": mu_arr, "sigma": sigma_arr, "n_votes": np.zeros(mu_arr.shape, dtype=np.int64)}


def _ratings_wide(path: Path, header: list[str], rows: list[list[str]], issues: IssueLog) -> dict:
    names = ["id", *(f"{e}_{part}" for e in EMOTIONS for part in ("mu", "sigma"))]
    for name in names:
        if name not in header:
            guess = closest_name(name, [h for h in header if h not in names])
            issues.error("missing-column", path, f"required column {name!r} is missing",
                         f"did you mean {guess!r}?" if guess else "add it")
    issues.raise_if_errors()
    cols = [header.index(name) for name in names]
    ids: list[str] = []
    seen: set[str] = set()
    mu_rows, sigma_rows = [], []
    for line, row in well_formed_rows(path, len(header), rows, issues):
        gif = row[cols[0]].strip()
        if not gif or gif in seen:
            issues.error("bad-row", path, f"line {line}: empty or repeated id {gif!r}", "keep one row per GIF")
            continue
        cells = [_number(path, line, names[k], row[c], issues, positive=k % 2 == 0)
                 for k, c in enumerate(cols[1:], start=1)]
        seen.add(gif)
        if None not in cells:
            ids.append(gif)
            mu_rows.append(cells[0::2])
            sigma_rows.append(cells[1::2])
    order = np.argsort(ids, kind="stable")
    shape = (len(ids), len(EMOTIONS))
    return {"ids": [ids[i] for i in order],
            "mu": np.array(mu_rows, dtype=np.float64).reshape(shape)[order],
            "sigma": np.array(sigma_rows, dtype=np.float64).reshape(shape)[order],
            "n_votes": np.zeros(shape, dtype=np.int64)}


def _check_method(method: str) -> None:
    if method not in NORMALISATIONS:
        raise KavanError(f"unknown normalisation {method!r}; use one of {', '.join(NORMALISATIONS)}")


def normalise_ratings(mu: np.ndarray, sigma: np.ndarray, method: str = "mu") -> np.ndarray:
    """Scores in [0, 1]: mu / 50 (``mu``) or (mu − 3·sigma) / 50 (``conservative``), clipped."""
    _check_method(method)
    raw = mu if method == "mu" else mu - 3 * sigma
    return np.clip(np.asarray(raw, dtype=np.float64) / SCALE, 0.0, 1.0)


def write_rating_scores(ratings: dict, scores_csv: Path, normalise: str = "mu") -> None:
    """Write the scores.csv of a ratings dict (from ``ratings_from_votes`` or ``read_ratings``)."""
    scores = normalise_ratings(ratings["mu"], ratings["sigma"], normalise)
    write_scores(Path(scores_csv), ratings["ids"], scores)
    log.info("%s: wrote %d GIFs (%s normalisation)", scores_csv, len(ratings["ids"]), normalise)


def votes_to_scores(votes_csv: Path, scores_csv: Path, ids: list[str], normalise: str = "mu",
                    params: TrueSkillParams = TrueSkillParams()) -> None:
    """Turn a votes file into a scores.csv for ``ids`` (in that order), values in [0, 1].

    GIFs with no vote for an emotion get the prior's score (0.5 with ``mu`` normalisation).
    """
    _check_method(normalise)
    write_rating_scores(ratings_from_votes(votes_csv, ids, params), scores_csv, normalise)
