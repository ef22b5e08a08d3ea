"""The two split modes of kavan.data.splits: independent random splits (the default, the paper's protocol) and
disjoint folds (what every seeded split was before data.split_mode existed), and how reports name them."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest

from kavan.core.errors import KavanError
from kavan.data.splits import describe_splits, make_splits
from kavan.experiments.reporting import splits_line

IDS = [f"gif{i:02d}" for i in range(20)]
HUNDRED = [f"g{i:03d}" for i in range(100)]

# Test sets of make_splits(IDS, 5, seed, 0.8) in folds mode, recorded from the circle construction before split
# modes existed and checked by hand: numpy.random.default_rng(0).permutation(20) is
# [4 19 6 2 | 13 16 3 11 | 10 8 0 12 | 7 5 18 17 | 14 9 1 15] and split k tests the ids at positions 4k..4k+3;
# default_rng(7) gives [3 8 12 13 | 14 16 10 15 | 1 6 0 7 | 4 18 5 19 | 17 2 9 11]. Old results stay reproducible
# only while these stay the same.
FOLDS_SEED0 = [
    ["gif02", "gif04", "gif06", "gif19"],
    ["gif03", "gif11", "gif13", "gif16"],
    ["gif00", "gif08", "gif10", "gif12"],
    ["gif05", "gif07", "gif17", "gif18"],
    ["gif01", "gif09", "gif14", "gif15"],
]
FOLDS_SEED7 = [
    ["gif03", "gif08", "gif12", "gif13"],
    ["gif10", "gif14", "gif15", "gif16"],
    ["gif00", "gif01", "gif06", "gif07"],
    ["gif04", "gif05", "gif18", "gif19"],
    ["gif02", "gif09", "gif11", "gif17"],
]
# 23 ids (sorted as strings), 4.6 per test set: arcs of 4 or 5
FOLDS_ODD_SEED0 = [
    ["x12", "x18", "x19", "x5", "x7"],
    ["x10", "x11", "x14", "x6", "x8"],
    ["x0", "x16", "x2", "x9"],
    ["x13", "x15", "x20", "x3", "x4"],
    ["x1", "x17", "x21", "x22"],
]


@pytest.mark.parametrize(("ids", "seed", "expected"), [(IDS, 0, FOLDS_SEED0), (IDS, 7, FOLDS_SEED7),
                                                       ([f"x{i}" for i in range(23)], 0, FOLDS_ODD_SEED0)])
def test_folds_mode_gives_the_splits_of_before(ids, seed, expected):
    splits = make_splits(ids, n_splits=5, seed=seed, train_fraction=0.8, mode="folds")
    assert [test for _, test in splits] == expected
    for train, test in splits:
        assert train == sorted(set(ids) - set(test))


@pytest.mark.parametrize("ids", [IDS, HUNDRED, [f"x{i}" for i in range(23)]])
def test_random_splits_have_the_right_sizes_and_cover_every_id(ids):
    n_test = {20: 4, 100: 20, 23: 5}[len(ids)]  # round(0.2 · n), 4.6 rounds to 5
    splits = make_splits(ids, n_splits=5, seed=0, train_fraction=0.8)
    assert len(splits) == 5
    for train, test in splits:
        assert len(test) == n_test and len(train) == len(ids) - n_test
        assert set(train) | set(test) == set(ids) and set(train).isdisjoint(test)
        assert train == sorted(train) and test == sorted(test)


def test_random_splits_are_deterministic_and_differ_from_each_other():
    splits = make_splits(HUNDRED, n_splits=5, seed=0)
    assert splits == make_splits(list(reversed(HUNDRED)), n_splits=5, seed=0, mode="random")
    assert splits != make_splits(HUNDRED, n_splits=5, seed=1)
    assert len({tuple(test) for _, test in splits}) == 5
    # split k does not depend on how many splits are asked for
    assert make_splits(HUNDRED, n_splits=3, seed=0) == splits[:3]
    # pinned, the same on every machine: numpy.random.SeedSequence(0).spawn(5)[k] seeds split k, and the first 4
    # positions of its permutation of range(20) are [10 8 19 16], [16 11 6 7], [12 4 13 17], [11 2 10 3],
    # [16 3 7 19]
    assert [test for _, test in make_splits(IDS, n_splits=5, seed=0)] == [
        ["gif08", "gif10", "gif16", "gif19"],
        ["gif06", "gif07", "gif11", "gif16"],
        ["gif04", "gif12", "gif13", "gif17"],
        ["gif02", "gif03", "gif10", "gif11"],
        ["gif03", "gif07", "gif16", "gif19"],
    ]


def test_random_test_sets_overlap_unlike_folds():
    random_tests = [set(test) for _, test in make_splits(HUNDRED, n_splits=5, seed=0)]
    assert any(a & b for a, b in combinations(random_tests, 2))
    counts = Counter(gif for test in random_tests for gif in test)
    assert max(counts.values()) > 1 and len(counts) < 100  # some GIFs tested twice, others never
    fold_tests = [set(test) for _, test in make_splits(HUNDRED, n_splits=5, seed=0, mode="folds")]
    assert not any(a & b for a, b in combinations(fold_tests, 2)) and set().union(*fold_tests) == set(HUNDRED)


def test_unknown_mode_is_refused():
    with pytest.raises(KavanError, match="split mode must be one of random, folds"):
        make_splits(IDS, mode="kfold")


def test_reports_name_the_split_mode():
    assert describe_splits(5, 0.8, "random") == "5 random 80/20 splits (seeded; test sets may overlap)"
    assert describe_splits(5, 0.8, "folds") == "5 disjoint folds (seeded, 80/20; every GIF tested once)"
    assert describe_splits(10, 0.8, "folds").startswith("10 80/20 splits cut from one permutation")
    source = {"n_splits": 5, "split_seed": 0, "train_fraction": 0.8, "split_mode": "random", "val_fraction": 0.0}
    assert splits_line(source) == "- splits: 5 random 80/20 splits (seeded; test sets may overlap), split seed 0\n"
    assert splits_line({**source, "split_mode": "folds"}).startswith("- splits: 5 disjoint folds")
    # results.json written before split_mode existed: its seeded splits were folds
    old = {key: value for key, value in source.items() if key != "split_mode"}
    assert splits_line(old) == ("- splits: 5 disjoint folds (seeded, 80/20; every GIF tested once), split seed 0 "
                                "(recorded before data.split_mode existed: folds)\n")
    assert splits_line(None) == ""
