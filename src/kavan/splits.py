"""Seeded train/test splits of a dataset, and split files.

The paper reports the mean over 5 random 80/20 splits. ``make_splits`` draws ONE seeded permutation of the
sorted ids and places it on a circle: id at permutation position p sits at p / n. Split k's test set is the
arc [k / S, k / S + (1 − train_fraction)) (S = n_splits, wrapping round), its training set the rest. So:

* every split is a uniformly random train/test split of the requested size (±1 id);
* with S · (1 − train_fraction) = 1 (the default 5 × 20 %) the arcs tile the circle: the test sets are
  disjoint and every id is tested exactly once (5-fold cross-validation); with more splits each id is
  tested about S · (1 − train_fraction) times;
* the same ids, seed and settings give the same splits on every machine (numpy's PCG64 ``default_rng``).
  Adding or removing a GIF reshuffles every split: for published numbers, save the splits to a file.

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

from kavan.errors import KavanError

log = logging.getLogger(__name__)

Split = tuple[list[str], list[str]]


def make_splits(ids: list[str], n_splits: int = 5, seed: int = 0, train_fraction: float = 0.8) -> list[Split]:
    """``n_splits`` (train_ids, test_ids) pairs, each list sorted; see the module docstring."""
    if n_splits < 1:
        raise KavanError(f"n_splits must be at least 1, got {n_splits}")
    if not 0.0 < train_fraction < 1.0:
        raise KavanError(f"train_fraction must be strictly between 0 and 1, got {train_fraction}")
    ordered = sorted(set(ids))
    n = len(ordered)
    test_share = 1 - Fraction(train_fraction).limit_denominator(1_000_000)
    position = np.empty(n, dtype=np.int64)
    position[np.random.default_rng(seed).permutation(n)] = np.arange(n)
    splits = []
    for k in range(n_splits):
        # (p/n − k/S) mod 1 < share, in integers: ((p·S − k·n) mod n·S) · den < num · n · S
        offset = (position * n_splits - k * n) % (n * n_splits)
        in_test = offset * test_share.denominator < test_share.numerator * n * n_splits
        test = [gif for gif, t in zip(ordered, in_test) if t]
        train = [gif for gif, t in zip(ordered, in_test) if not t]
        if not test or not train:
            raise KavanError(f"{n} GIFs are too few for a {float(train_fraction):g} train fraction: split {k} "
                             "would have an empty train or test set")
        splits.append((train, test))
    return splits


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
