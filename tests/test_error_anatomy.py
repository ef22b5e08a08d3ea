"""benchmarks/error_anatomy.py: the flattest GIFs' share of the per-GIF loss weight, the error of face and face-less
GIFs against the mean predictor, and what the labels allow, each on hand-made numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def anatomy():
    spec = importlib.util.spec_from_file_location("error_anatomy", REPO / "benchmarks" / "error_anatomy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Scores:
    def __init__(self, ids, scores):
        self.ids, self.scores = list(ids), np.asarray(scores, dtype=float)

    def rows(self, ids):
        return [self.ids.index(i) for i in ids]


def test_the_flattest_gifs_weight_by_hand():
    # spreads: g0 2 * 0.5^2 = 0.5 (scores 0, 1), g1 2 * 0.05^2 = 0.005 (0.45, 0.55), g2..g19 0.5 each
    scores = [[0.0, 1.0], [0.45, 0.55]] + [[0.0, 1.0]] * 18
    data = Scores([f"g{k}" for k in range(20)], scores)
    kinds = {f"g{k}": "no_face" if k == 1 else "one_face" for k in range(20)}
    flat = anatomy().flat_weight(data, kinds)
    # weights 1/0.005 = 200 against 19 x 2 = 38: the flattest 5 % (1 GIF) carries 200 / 238
    assert flat["n_gifs"] == 1 and flat["no_face"] == 1
    assert flat["weight_share"] == pytest.approx(200 / 238)


def test_error_against_the_mean_predictor_by_kind():
    data = Scores(["a", "b", "c", "d"], [[0.2, 0.4], [0.4, 0.6], [0.0, 0.0], [1.0, 1.0]])
    kinds = {"a": "one_face", "b": "two_faces", "c": "one_face", "d": "no_face"}
    # training mean over a, b: (0.3, 0.5); test c (face) and d (face-less)
    predictions = SimpleNamespace(ids=["c", "d"], targets=np.array([[0.0, 0.0], [1.0, 1.0]]),
                                  intensities=np.array([[0.15, 0.25], [0.3, 0.5]]))
    out = anatomy().error_by_kind(data, kinds, predictions, ["a", "b"])
    assert out["face"] == pytest.approx((0.15 ** 2 + 0.25 ** 2) / (0.3 ** 2 + 0.5 ** 2))  # half the mean's error
    assert out["no_face"] == pytest.approx(1.0)  # predicted the mean: no better than it


def test_labels_that_are_a_linear_map_of_the_latents_allow_almost_everything():
    rng = np.random.default_rng(0)
    hidden = {f"g{k}": rng.normal(size=3) for k in range(200)}
    mix = rng.normal(size=(3, 17))
    scores = {i: 0.5 + 0.1 * v @ mix for i, v in hidden.items()}
    data = Scores(list(hidden), [scores[i] for i in hidden])
    ids = list(hidden)
    assert anatomy().label_ceiling(data, hidden, ids[:150], ids[150:]) < 0.01
    noisy = Scores(ids, [scores[i] + rng.normal(scale=0.1, size=17) for i in ids])  # votes' noise as large as signal
    assert 0.3 < anatomy().label_ceiling(noisy, hidden, ids[:150], ids[150:]) < 0.8


def test_the_docs_table_is_the_scripts_report():
    import json

    # the block holds every committed anatomy file, in name order
    results = [json.loads(path.read_text()) for path in sorted((REPO / "docs" / "results" / "anatomy").glob("*.json"))]
    assert len(results) >= 2
    docs = (REPO / "docs" / "results.md").read_text()
    assert docs.split("<!-- anatomy-report -->\n")[1].split("<!-- /anatomy-report -->")[0] == anatomy().table(results)
