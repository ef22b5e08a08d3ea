"""Seeded train/test splits of a dataset, and split files.

The paper reports the mean over 5 random 80/20 splits. ``make_splits`` has two modes (``data.split_mode``):

``random`` (the default, the paper's protocol): split k is an independent random split. Its own seeded
permutation of the sorted ids (``default_rng(SeedSequence(seed, spawn_key=(k,)))``: child stream k of ``seed``,
numpy's way of deriving independent streams, the same as ``SeedSequence(seed).spawn(n)[k]``) puts its first
round(n · (1 − train_fraction)) ids (half rounded up) in the test set, the rest in the training set. Every split
has the same sizes; the test sets of different splits are drawn independently, so they may overlap (with
5 × 20 % some GIFs are tested twice or more, others never), as in the paper.

``folds``: ONE seeded permutation of the sorted ids (``default_rng(seed)``) is placed on a circle: id at
permutation position p sits at p / n. Split k's test set is the arc [k / S, k / S + (1 − train_fraction))
(S = n_splits, wrapping round), its training set the rest. So every split is a uniformly random train/test split
of the requested size (±1 id); with S · (1 − train_fraction) = 1 (the default 5 × 20 %) the arcs tile the
circle: the test sets are disjoint and every id is tested exactly once (5-fold cross-validation); with more
splits each id is tested about S · (1 − train_fraction) times. This was the only construction before
``split_mode`` existed, and gives the same splits for the same ids and seed as it did then.

In both modes each list is sorted, and the same ids, seed and settings give the same splits on every machine
(numpy's PCG64 ``default_rng``). Adding or removing a GIF reshuffles every split: for published numbers, save
the splits to a file.

A split file is JSON, either one split ``{"train": [ids], "test": [ids]}`` or several
``{"splits": [{"train": [...], "test": [...]}, ...]}``. Reading checks that every id exists in the dataset,
that no id is listed twice or in both parts, and that neither part is empty. Ids in neither part are left out.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np

from kavan.core.errors import KavanError

log = logging.getLogger(__name__)

Split = tuple[list[str], list[str]]


SPLIT_MODES = ("random", "folds")


def make_splits(ids: list[str], n_splits: int = 5, seed: int = 0, train_fraction: float = 0.8,
                mode: str = "random") -> list[Split]:
    """``n_splits`` (train_ids, test_ids) pairs, each list sorted; ``mode`` ``random`` or ``folds`` (see the module
    docstring)."""
    if mode not in SPLIT_MODES:
        raise KavanError(f"split mode must be one of {', '.join(SPLIT_MODES)}, got {mode!r}")
    if n_splits < 1:
        raise KavanError(f"n_splits must be at least 1, got {n_splits}")
    if not 0.0 < train_fraction < 1.0:
        raise KavanError(f"train_fraction must be strictly between 0 and 1, got {train_fraction}")
    ordered = sorted(set(ids))
    test_share = 1 - Fraction(train_fraction).limit_denominator(1_000_000)
    make = _random_split if mode == "random" else _fold_split
    splits = []
    for k in range(n_splits):
        train, test = make(ordered, k, n_splits, seed, test_share)
        if not test or not train:
            raise KavanError(f"{len(ordered)} GIFs are too few for a {float(train_fraction):g} train fraction: "
                             f"split {k} would have an empty train or test set")
        splits.append((train, test))
    return splits


def _random_split(ordered: list[str], k: int, n_splits: int, seed: int, test_share: Fraction) -> Split:
    """Split k of ``random`` mode: its own permutation, seeded by (seed, k); the first round(n · share) ids test."""
    n = len(ordered)
    n_test = (2 * n * test_share.numerator + test_share.denominator) // (2 * test_share.denominator)
    in_test = np.zeros(n, dtype=bool)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
    in_test[rng.permutation(n)[:n_test]] = True
    return ([gif for gif, t in zip(ordered, in_test) if not t], [gif for gif, t in zip(ordered, in_test) if t])


def _fold_split(ordered: list[str], k: int, n_splits: int, seed: int, test_share: Fraction) -> Split:
    """Split k of ``folds`` mode: arc k of the one permutation (seeded by ``seed``) placed on a circle."""
    n = len(ordered)
    position = np.empty(n, dtype=np.int64)
    position[np.random.default_rng(seed).permutation(n)] = np.arange(n)
    # (p/n − k/S) mod 1 < share, in integers: ((p·S − k·n) mod n·S) · den < num · n · S
    offset = (position * n_splits - k * n) % (n * n_splits)
    in_test = offset * test_share.denominator < test_share.numerator * n * n_splits
    return ([gif for gif, t in zip(ordered, in_test) if not t], [gif for gif, t in zip(ordered, in_test) if t])


def describe_splits(n_splits: int, train_fraction: float, mode: str) -> str:
    """The protocol in words for reports: "5 random 80/20 splits (seeded; test sets may overlap)" or
    "5 disjoint folds (seeded, 80/20; every GIF tested once)"."""
    share = 1 - Fraction(train_fraction).limit_denominator(1_000_000)
    sizes = f"{float(100 * (1 - share)):.3g}/{float(100 * share):.3g}"
    if n_splits == 1:
        return f"1 {'random ' if mode == 'random' else ''}{sizes} split (seeded)"
    if mode == "random":
        return f"{n_splits} random {sizes} splits (seeded; test sets may overlap)"
    if share * n_splits == 1:
        return f"{n_splits} disjoint folds (seeded, {sizes}; every GIF tested once)"
    return (f"{n_splits} {sizes} splits cut from one permutation (seeded, folds mode; each GIF tested about "
            f"{float(share * n_splits):.3g} times)")


def write_split_file(path: Path, splits: list[Split]) -> None:
    """Write splits as ``{"splits": [{"train": [...], "test": [...]}, ...]}``."""
    payload = {"splits": [{"train": list(train), "test": list(test)} for train, test in splits]}
    try:
        Path(path).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    except OSError as err:
        raise KavanError(f"cannot write split file: {err.strerror or err}", path) from None


def read_split_file(path: Path, ids: list[str]) -> list[Split]:
    """The splits of a split file, checked against the dataset's ``ids``; KavanError on any problem."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise KavanError(f"cannot read split file: {err.strerror or err}", path) from None
    except (UnicodeDecodeError, ValueError) as err:
        raise KavanError(f"not a JSON split file: {err}", path) from None
    if isinstance(payload, dict) and "splits" in payload and isinstance(payload["splits"], list):
        entries = payload["splits"]
    elif isinstance(payload, dict) and {"train", "test"} <= set(payload):
        entries = [payload]
    else:
        raise KavanError('expected {"train": [...], "test": [...]} or {"splits": [{"train": ..., "test": ...}]}',
                         path)
    if not entries:
        raise KavanError("split file holds no split", path)
    known = set(ids)
    return [_check_split(path, k, entry, known) for k, entry in enumerate(entries)]


def _check_split(path: Path, k: int, entry: object, known: set[str]) -> Split:
    where = f"split {k}"
    if not isinstance(entry, dict) or not {"train", "test"} <= set(entry):
        raise KavanError(f'{where}: expected an object with "train" and "test" lists', path)
    parts = []
    for part in ("train", "test"):
        names = entry[part]
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            raise KavanError(f"{where}: {part!r} must be a list of id strings", path)
        if not names:
            raise KavanError(f"{where}: {part!r} is empty", path)
        doubled = sorted(x for x, count in Counter(names).items() if count > 1)
        if doubled:
            raise KavanError(f"{where}: {part!r} lists {', '.join(doubled[:5])} more than once", path)
        unknown = sorted(set(names) - known)
        if unknown:
            raise KavanError(f"{where}: {part!r} names {len(unknown)} GIF(s) not in the dataset, e.g. "
                             f"{', '.join(unknown[:5])}; fix the ids or use the matching dataset", path)
        parts.append(sorted(names))
    both = sorted(set(parts[0]) & set(parts[1]))
    if both:
        raise KavanError(f"{where}: {len(both)} id(s) are in both train and test, e.g. {', '.join(both[:5])}",
                         path)
    unused = len(known) - len(parts[0]) - len(parts[1])
    if unused:
        log.info("%s: %s leaves %d GIF(s) of the dataset out", path, where, unused)
    return parts[0], parts[1]
