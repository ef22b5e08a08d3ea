"""A model's predictions as the ratings' prior: reading `kavan predict`'s JSON Lines, the prior on the rating scale,
`kavan scores --prior`, and `--prior` given a model file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kavan
from helpers.predict_model import write_tiny_model
from kavan.cli import main
from kavan.cli._prior import load_prior
from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.labels.prior import PRIOR_SIGMA, prior_ratings, read_predictions
from kavan.labels.ratings import ratings_from_votes
from kavan.labels.trueskill_update import TrueSkillParams, rate_1vs1


def _record(path: str, value: float, **override) -> dict:
    emotions = {e: value for e in EMOTIONS}
    emotions.update(override)
    return {"path": path, "emotions": emotions, "quadrant": {"label": "x"}, "top": []}


def _write(path: Path, records: list, tail: str = "\n") -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + tail, encoding="utf-8")
    return path


def test_predictions_by_id_and_the_prior_on_the_rating_scale(tmp_path):
    path = _write(tmp_path / "p.jsonl", [_record("clips/a.gif", 0.2, fear=0.9), _record("/abs/b.mp4", 0.5),
                                         {"path": "c.gif", "error": "cannot decode"}])
    predictions = read_predictions(path)
    assert sorted(predictions.values) == ["a", "b"]
    values = predictions.intensities(["b", "a", "c"], ["fear", "anger"])
    assert values[0].tolist() == [0.5, 0.5] and values[1].tolist() == [0.9, 0.2] and np.isnan(values[2]).all()
    mu, sigma = prior_ratings(values, 4.0)
    assert mu[:2].tolist() == [[25.0, 25.0], [45.0, 10.0]] and np.all(sigma[:2] == 4.0)
    assert np.all(mu[2] == 25.0) and np.allclose(sigma[2], 25 / 3)  # no prediction: GIFGIF's prior


@pytest.mark.parametrize("records, message", [
    ([{"emotions": {}}], "not a JSON object with a \"path\""),
    ([_record("a.gif", 1.5)], "not a number in [0, 1]"),
    ([{"path": "a.gif", "emotions": {"fear": 0.1}}], "is None, not a number"),
    ([_record("x/a.gif", 0.1), _record("y/a.gif", 0.2)], "a second prediction for GIF id 'a'"),
    ([{"path": "a.gif", "error": "bad"}], "no predictions"),
])
def test_malformed_predictions_are_kavan_errors(tmp_path, records, message):
    with pytest.raises(KavanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_predictions(_write(tmp_path / "p.jsonl", records))


def test_a_torn_last_line_is_ignored_and_a_whole_one_kept(tmp_path):
    good = _write(tmp_path / "g.jsonl", [_record("a.gif", 0.1), _record("b.gif", 0.2)], tail="")
    assert sorted(read_predictions(good).values) == ["a", "b"]
    torn = tmp_path / "t.jsonl"
    torn.write_text(json.dumps(_record("a.gif", 0.1)) + "\n" + json.dumps(_record("b.gif", 0.2))[:30])
    assert sorted(read_predictions(torn).values) == ["a"]


def test_prior_sigma_must_be_positive():
    with pytest.raises(KavanError, match="prior sigma"):
        prior_ratings(np.array([[0.5]]), 0.0)
    with pytest.raises(KavanError, match=r"\[0, 1\]"):
        prior_ratings(np.array([[1.5]]))


def _votes_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["gif_a", "gif_b", "emotion", "winner"])
        writer.writerows(rows)
    return path


def test_ratings_start_from_the_prior_only_when_asked(tmp_path):
    """One vote a > b in fear: from GIFGIF's prior both start at 25; from the prior a starts at 50·0.6 = 30,
    b at 50·0.2 = 10, both with sigma PRIOR_SIGMA, and the update is TrueSkill's from there. A GIF without votes
    keeps its prior; an emotion without votes too."""
    votes = _votes_csv(tmp_path / "votes.csv", [("a", "b", "fear", "a")])
    preds = read_predictions(_write(tmp_path / "p.jsonl", [_record("a.gif", 0.6), _record("b.gif", 0.2),
                                                           _record("c.gif", 0.9)]))
    plain = ratings_from_votes(votes, ["a", "b", "c"])
    primed = ratings_from_votes(votes, ["a", "b", "c"], prior=preds)
    f = EMOTIONS.index("fear")
    p = TrueSkillParams()
    want = rate_1vs1(np.array([30.0]), np.array([PRIOR_SIGMA]), np.array([10.0]), np.array([PRIOR_SIGMA]),
                     np.array([False]), p)
    assert primed["mu"][0, f] == pytest.approx(want[0][0]) and primed["mu"][1, f] == pytest.approx(want[2][0])
    assert plain["mu"][0, f] > 25 > plain["mu"][1, f] and plain["mu"][2, f] == 25.0
    assert primed["mu"][2, f] == pytest.approx(45.0) and primed["sigma"][2, f] == pytest.approx(PRIOR_SIGMA)
    other = EMOTIONS.index("anger")
    assert primed["mu"][0, other] == pytest.approx(30.0) and plain["mu"][0, other] == 25.0


def test_kavan_scores_prior_flag(tmp_path, capsys):
    votes = _votes_csv(tmp_path / "votes.csv", [("a", "b", "fear", "a"), ("b", "a", "anger", "neither")])
    preds = _write(tmp_path / "p.jsonl", [_record("a.gif", 0.8), _record("b.gif", 0.1)])
    assert main(["scores", str(votes), "--out", str(tmp_path / "plain.csv")]) == 0
    assert main(["scores", str(votes), "--out", str(tmp_path / "primed.csv"), "--prior", str(preds)]) == 0

    def table(name):
        with open(tmp_path / name, newline="") as handle:
            return {row["id"]: row for row in csv.DictReader(handle)}

    plain, primed = table("plain.csv"), table("primed.csv")
    assert float(plain["a"]["sadness"]) == pytest.approx(0.5)  # no vote in sadness: GIFGIF's prior
    assert float(primed["a"]["sadness"]) == pytest.approx(0.8) and float(primed["b"]["sadness"]) == pytest.approx(0.1)
    assert main(["scores", str(votes), "--out", str(tmp_path / "x.csv"), "--prior-sigma", "3"]) == 1
    assert "--prior-sigma needs --prior" in capsys.readouterr().err
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    assert main(["scores", str(votes), "--out", str(tmp_path / "x.csv"), "--prior", str(model)]) == 1
    assert "kavan predict DIR/gifs --checkpoint MODEL" in capsys.readouterr().err


@pytest.mark.slow
def test_a_model_file_prior_is_the_models_predictions_of_the_folders_gifs(tmp_path):
    rng = np.random.default_rng(0)
    media = {}
    for k in range(3):
        frames = [Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)) for _ in range(2)]
        media[f"g{k}"] = tmp_path / f"g{k}.gif"
        frames[0].save(media[f"g{k}"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    model = write_tiny_model(tmp_path / "model.safetensors")
    predictions = load_prior(model, media, "cpu", workers=0)
    predictor = kavan.load(model, "cpu")
    for gif, path in media.items():
        want = np.array([predictor.predict(path).emotions[e] for e in EMOTIONS])
        assert np.allclose(predictions.values[gif], want, atol=1e-6)
