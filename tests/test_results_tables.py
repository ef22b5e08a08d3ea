"""The small-set tables in docs/results.md are what benchmarks/regression_learning_curve.py --report prints from the
committed results.json files, so no table is typed by hand and every one can be regenerated."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = sorted((REPO / "docs" / "results" / "small-sets").glob("*.json"))


def learning_curve():
    spec = importlib.util.spec_from_file_location("regression_learning_curve",
                                                  REPO / "benchmarks" / "regression_learning_curve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_small_set_is_committed():
    assert [p.stem for p in RESULTS] == ["lc-default", "lc-hard", "lc-own"]


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.stem)
def test_the_docs_table_is_the_scripts(path):
    table = learning_curve().table(json.loads(path.read_text()))
    assert table in (REPO / "docs" / "results.md").read_text()


def test_a_verdict_needs_the_recipe_to_win_on_the_splits():
    """A hand-made result: the recipe wins every split by 0.10 with a spread of 0.01 (holds), and ties chance."""
    results = {"data": "x", "splits": [0, 1, 2], "sizes": [100], "cells": [
        {"split": k, "size": 100, "n_test": 20, "rows": {
            "init+ridge": {"nmse_per_emotion": 0.80 + 0.01 * k, "accuracy": 0.5},
            "colour_histogram": {"nmse_per_emotion": 0.90 + 0.02 * k, "accuracy": 0.4},
            "chance": {"nmse_per_emotion": 0.80 + 0.01 * (2 - k), "accuracy": 0.3}}} for k in range(3)]}
    row = learning_curve().table(results).splitlines()[-1]
    # differences 0.10, 0.11, 0.12: mean 0.11, s 0.01, share 20/100: SE = sqrt((1/3 + 0.2) · 1e-4) = 0.0073
    assert "| 100 | 0.810 ± 0.010 | 0.920 ± 0.020 | 0.810 ± 0.010 |" in row
    assert "holds (+0.110, bar ±0.031, 3/3)" in row  # t(0.975, 2) = 4.303; 4.303 · 0.0073 = 0.031
    assert "within noise (+0.000" in row
