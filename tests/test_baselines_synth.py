"""Both baselines end to end on a tiny SynthGIF set made by `kavan synth`: run_baseline's metrics and the features."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from kavan.baselines import BASELINES, baseline_label, baseline_module, default_config, run_baseline
from kavan.baselines.config import ColourHistogramConfig
from kavan.baselines.linear import LinearBaseline
from kavan.cli import main
from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.training import metrics


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    assert main(["synth", "--out", str(out), "--n", "30", "--seed", "3", "--set", "n_frames=8", "--workers", "1",
                 "--no-progress"]) == 0
    return out


@pytest.mark.parametrize("name", list(BASELINES))
def test_run_baseline_gives_metrics_in_range_and_equal_to_its_own_fit(synth, tmp_path_factory, name):
    dataset = Dataset(synth)
    cache = tmp_path_factory.getbasetemp() / "baseline-cache"
    train, test = dataset.splits()[0]
    result = run_baseline(name, dataset, train, test, cache, progress=False)
    assert (result["n_train"], result["n_test"]) == (24, 6)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["accuracy"] * 6 == pytest.approx(round(result["accuracy"] * 6))
    assert 0.0 < result["nmse_per_gif"] < math.inf and 0.0 < result["nmse_per_emotion"] < math.inf
    assert set(result["pearson_per_emotion"]) == set(EMOTIONS)
    assert all(-1.0 <= r <= 1.0 for r in result["pearson_per_emotion"].values() if not math.isnan(r))
    assert -1.0 <= result["pearson_mean"] <= 1.0 and result["ridge"] >= 0.0
    # The same numbers by hand from the (now cached) features.
    module = baseline_module(name)
    x_train = module.extract_features(dataset, train, cache, progress=False)
    x_test = module.extract_features(dataset, test, cache, progress=False)
    config = default_config(name)
    model = LinearBaseline(config.ridge, module.STANDARDISE).fit(x_train, dataset.scores[dataset.rows(train)])
    y_test = dataset.scores[dataset.rows(test)]
    pred = model.predict(x_test)
    assert result["accuracy"] == metrics.quadrant_accuracy(pred, y_test)
    assert result["nmse_per_gif"] == pytest.approx(metrics.nmse_per_gif(pred, y_test), rel=1e-12)
    assert result["nmse_per_emotion"] == pytest.approx(metrics.nmse_per_emotion(pred, y_test), rel=1e-12)


def test_the_ridge_face_row_is_the_ols_rows_features_with_a_gcv_penalty(synth, tmp_path_factory):
    dataset = Dataset(synth)
    cache = tmp_path_factory.getbasetemp() / "baseline-cache"
    train, test = dataset.splits()[0]
    ols = run_baseline("face_expression", dataset, train, test, cache, progress=False)
    ridge = run_baseline("face_expression_ridge", dataset, train, test, cache, progress=False)
    assert ols["ridge"] == 0.0 and ridge["ridge"] > 0.0  # chosen by generalised cross-validation
    assert baseline_module("face_expression_ridge") is baseline_module("face_expression")
    assert baseline_label("face_expression_ridge").startswith("Face expression + ridge")


def test_face_features_mark_the_synthgif_gifs_without_a_face(synth, tmp_path_factory):
    dataset = Dataset(synth)
    truth = [json.loads(line) for line in (synth / "groundtruth" / "gifs.jsonl").read_text().splitlines()]
    no_face = {m["id"] for m in truth if m["scenario"] == "no_face"}
    features = baseline_module("face_expression").extract_features(
        dataset, dataset.ids, tmp_path_factory.getbasetemp() / "baseline-cache", progress=False)
    indicator = features[:, -1]
    assert no_face and all(indicator[dataset.ids.index(i)] == 1.0 for i in no_face)
    # The Haar cascade finds the cartoon faces of most GIFs that have one.
    with_face = [k for k, i in enumerate(dataset.ids) if i not in no_face]
    assert np.mean(indicator[with_face] == 0.0) >= 0.6


def test_run_baseline_refuses_bad_requests(synth, tmp_path):
    dataset = Dataset(synth)
    ids = dataset.ids
    with pytest.raises(KavanError, match="unknown baseline"):
        run_baseline("colour", dataset, ids[:20], ids[20:], tmp_path)
    with pytest.raises(KavanError, match="both the training and the test split"):
        run_baseline("colour_histogram", dataset, ids[:20], ids[19:], tmp_path)
    with pytest.raises(KavanError, match="FaceExpressionConfig"):
        run_baseline("face_expression", dataset, ids[:20], ids[20:], tmp_path, config=ColourHistogramConfig())
    with pytest.raises(KavanError, match="at least 2 training GIFs"):
        run_baseline("colour_histogram", dataset, ids[:1], ids[20:], tmp_path)
