"""TrueSkill labels from votes: agreement with the trueskill package, file handling, recovery of known latents."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import trueskill
from scipy.stats import spearmanr

from helpers.vote_simulation import VoteSimulation, simulate_votes, write_votes
from kavan.cli import main
from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.labels.ratings import (
    SCALE,
    normalise_ratings,
    rate_votes,
    ratings_from_votes,
    read_ratings,
    read_votes,
    votes_to_scores,
)
from kavan.labels.trueskill_update import TrueSkillParams, rate_1vs1

HAPPY = EMOTIONS.index("happiness")
SAD = EMOTIONS.index("sadness")


def _votes_file(tmp_path: Path, rows: list[tuple[str, ...]], name: str = "votes.csv") -> Path:
    path = tmp_path / name
    write_votes(path, rows)
    return path


def _reference(rows: list[tuple[str, str, str, str]],
               params: TrueSkillParams) -> dict[tuple[str, str], trueskill.Rating]:
    """Ratings from trueskill.rate_1vs1 applied vote by vote, one environment per emotion."""
    env = params.environment()
    ratings: dict[tuple[str, str], trueskill.Rating] = {}
    for gif_a, gif_b, emotion, winner in rows:
        ra = ratings.get((gif_a, emotion), env.create_rating())
        rb = ratings.get((gif_b, emotion), env.create_rating())
        if winner == "b":
            rb, ra = trueskill.rate_1vs1(rb, ra, env=env)
        else:
            ra, rb = trueskill.rate_1vs1(ra, rb, drawn=winner == "neither", env=env)
        ratings[(gif_a, emotion)], ratings[(gif_b, emotion)] = ra, rb
    return ratings


@pytest.mark.parametrize("params", [TrueSkillParams(),
                                    TrueSkillParams(mu=20.0, sigma=6.0, beta=3.0, tau=0.5, draw_probability=0.3)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_trueskill_rate_1vs1_on_random_sequences(tmp_path, params, seed):
    rng = np.random.default_rng(seed)
    gifs = [f"g{i}" for i in range(12)]
    emotions = ["anger", "happiness", "surprise"]
    rows = []
    for _ in range(600):
        a, b = rng.choice(len(gifs), size=2, replace=False)
        rows.append((gifs[a], gifs[b], emotions[rng.integers(3)], ["a", "b", "neither"][rng.integers(3)]))
    result = ratings_from_votes(_votes_file(tmp_path, rows), params=params)
    reference = _reference(rows, params)
    assert result["ids"] == sorted(gifs)
    for i, gif in enumerate(result["ids"]):
        for k, emotion in enumerate(EMOTIONS):
            expected = reference.get((gif, emotion), params.environment().create_rating())
            assert abs(result["mu"][i, k] - expected.mu) < 1e-9
            assert abs(result["sigma"][i, k] - expected.sigma) < 1e-9
    # the long sequences drive sigma well below the prior, so the tails of v and w were exercised
    assert result["sigma"][:, [EMOTIONS.index(e) for e in emotions]].max() < 0.5 * params.sigma


def test_first_vote_from_the_prior_gives_the_published_trueskill_numbers(tmp_path):
    # trueskill's documentation: from (25, 8.333) a win gives (29.396, 7.171) and (20.604, 7.171),
    # a draw gives (25.000, 6.458) to both.
    path = _votes_file(tmp_path, [("x", "y", "happiness", "a"), ("x", "y", "sadness", "neither")])
    r = ratings_from_votes(path)
    assert r["ids"] == ["x", "y"]
    np.testing.assert_allclose(r["mu"][:, HAPPY], [29.396, 20.604], atol=5e-4)
    np.testing.assert_allclose(r["sigma"][:, HAPPY], [7.171, 7.171], atol=5e-4)
    np.testing.assert_allclose(r["mu"][:, SAD], [25.0, 25.0], atol=1e-12)
    np.testing.assert_allclose(r["sigma"][:, SAD], [6.458, 6.458], atol=5e-4)
    untouched = [k for k in range(len(EMOTIONS)) if k not in (HAPPY, SAD)]
    assert np.all(r["mu"][:, untouched] == 25.0) and np.allclose(r["sigma"][:, untouched], 25 / 3)
    assert r["n_votes"][:, HAPPY].tolist() == [1, 1] and r["n_votes"][:, untouched].sum() == 0


def test_winner_may_be_a_word_in_any_case_or_the_gif_id(tmp_path):
    words = ratings_from_votes(_votes_file(tmp_path, [("x", "y", "fear", "b"), ("y", "z", "fear", "a")], "w.csv"))
    ids = ratings_from_votes(_votes_file(tmp_path, [("x", "y", "Fear", "y"), ("y", "z", "fear", "A")], "i.csv"))
    np.testing.assert_array_equal(words["mu"], ids["mu"])
    k = EMOTIONS.index("fear")
    assert words["mu"][1, k] > words["mu"][0, k] and words["mu"][1, k] > words["mu"][2, k]


def test_vote_order_matters(tmp_path):
    rows = [("x", "y", "pride", "a"), ("y", "z", "pride", "a"), ("z", "x", "pride", "a"),
            ("x", "z", "pride", "neither")]
    forward = ratings_from_votes(_votes_file(tmp_path, rows, "f.csv"))
    backward = ratings_from_votes(_votes_file(tmp_path, rows[::-1], "b.csv"))
    assert np.abs(forward["mu"] - backward["mu"]).max() > 0.1


def test_votes_on_gifs_outside_the_id_list_still_rate_the_opponents(tmp_path):
    path = _votes_file(tmp_path, [("x", "outsider", "guilt", "a"), ("outsider", "y", "guilt", "a")])
    full = ratings_from_votes(path)
    chosen = ratings_from_votes(path, ids=["y", "x", "nobody"])
    assert chosen["ids"] == ["y", "x", "nobody"]
    np.testing.assert_array_equal(chosen["mu"][:2], full["mu"][[2, 1]])
    assert np.all(chosen["mu"][2] == 25.0) and np.all(chosen["n_votes"][2] == 0)


def test_votes_to_scores_writes_unit_scores_with_the_prior_for_unvoted_gifs(tmp_path):
    votes = _votes_file(tmp_path, [("x", "y", "happiness", "a")])
    out = tmp_path / "scores.csv"
    votes_to_scores(votes, out, ["y", "x", "z"])
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["id", *EMOTIONS]
    assert [r[0] for r in rows[1:]] == ["y", "x", "z"]
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert values[0, HAPPY] == pytest.approx(20.604168 / 50, abs=1e-6)
    assert values[1, HAPPY] == pytest.approx(29.395832 / 50, abs=1e-6)
    assert np.all(values[2] == 0.5) and np.all(np.delete(values, HAPPY, axis=1) == 0.5)

    votes_to_scores(votes, out, ["x", "z"], normalise="conservative")
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    x = [float(v) for v in rows[1][1:]]
    assert x[HAPPY] == pytest.approx((29.395832 - 3 * 7.171475) / 50, abs=1e-6)
    assert all(float(v) == 0.0 for v in rows[2][1:])  # the prior's lower bound 25 - 3·25/3 = 0


def test_an_empty_votes_file_leaves_every_gif_at_the_prior(tmp_path):
    votes = _votes_file(tmp_path, [])
    out = tmp_path / "scores.csv"
    votes_to_scores(votes, out, ["x", "y"])
    lines = out.read_text().splitlines()
    assert lines[1:] == [",".join(["x", *["0.500000"] * 17]), ",".join(["y", *["0.500000"] * 17])]


def test_normalisation_clips_to_the_unit_interval():
    mu = np.array([-3.0, 0.0, 25.0, 50.0, 61.0])
    np.testing.assert_allclose(normalise_ratings(mu, np.ones(5)), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(normalise_ratings(mu, np.ones(5), "conservative"), [0, 0, 0.44, 0.94, 1])
    with pytest.raises(KavanError, match="unknown normalisation"):
        normalise_ratings(mu, np.ones(5), "rank")
    assert SCALE == 50.0


@pytest.mark.parametrize("row, message", [
    (("x", "y", "happyness", "a"), r"line 3: 'happyness' is not a GIFGIF emotion; did you mean 'happiness'"),
    (("x", "y", "anger", "c"), r"line 3: winner 'c' is not a, b, neither"),
    (("x", "x", "anger", "a"), r"line 3: GIF 'x' is voted against itself"),
    (("x", "", "anger", "a"), r"line 3: empty GIF id"),
])
def test_bad_vote_rows_name_the_file_and_line(tmp_path, row, message):
    path = _votes_file(tmp_path, [("x", "y", "anger", "a"), row])
    with pytest.raises(KavanError, match=message) as err:
        read_votes(path)
    assert err.value.path == str(path)


def test_missing_vote_column_suggests_the_closest_name(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("gif_a,gif_b,emotion,winer\nx,y,anger,a\n")
    with pytest.raises(KavanError, match=r"'winner' is missing; did you mean 'winer'"):
        read_votes(path)


def test_huge_upset_is_clamped_where_trueskill_raises():
    env = TrueSkillParams().environment()
    with pytest.raises(FloatingPointError):
        trueskill.rate_1vs1(trueskill.Rating(0, 1), trueskill.Rating(400, 1), env=env)
    mu1, s1, mu2, s2 = rate_1vs1(np.array([0.0]), np.array([1.0]), np.array([400.0]), np.array([1.0]),
                                 np.array([False]), TrueSkillParams())
    assert np.isfinite([mu1, s1, mu2, s2]).all()
    assert mu1[0] > 0 and mu2[0] < 400  # the winner rises, the loser falls
    assert s1[0] == pytest.approx(math.hypot(1.0, TrueSkillParams().tau))  # w clipped to 0: sigma only widens by tau


def test_read_ratings_long_and_wide_layouts_agree(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("id,emotion,mu,sigma\nx,happiness,40,2\nx,anger,10,3\ny,happiness,20,4\n")
    wide = tmp_path / "wide.csv"
    header = ["id", *(f"{e}_{p}" for e in EMOTIONS for p in ("mu", "sigma"))]
    with open(wide, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for gif, cells in (("y", {"happiness": (20, 4)}), ("x", {"happiness": (40, 2), "anger": (10, 3)})):
            writer.writerow([gif, *(v for e in EMOTIONS for v in cells.get(e, (25, 25 / 3)))])
    a, b = read_ratings(long), read_ratings(wide)
    assert a["ids"] == b["ids"] == ["x", "y"]
    np.testing.assert_allclose(a["mu"], b["mu"])
    np.testing.assert_allclose(a["sigma"], b["sigma"])
    assert a["mu"][0, HAPPY] == 40 and a["sigma"][0, EMOTIONS.index("anger")] == 3 and a["mu"][1, SAD] == 25
    assert normalise_ratings(a["mu"], a["sigma"])[0, HAPPY] == pytest.approx(0.8)


def test_read_ratings_rejects_bad_values(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("id,emotion,mu,sigma\nx,happiness,40,0\n")
    with pytest.raises(KavanError, match=r"line 2: sigma = '0' is not a positive number"):
        read_ratings(path)
    path.write_text("gif,score\nx,3\n")
    with pytest.raises(KavanError, match="unknown ratings layout"):
        read_ratings(path)


def _mean_spearman(votes_per_gif: int, seed: int, tmp_path: Path, n_gifs: int = 60) -> float:
    rng = np.random.default_rng(seed)
    ids = [f"gif{i:03d}" for i in range(n_gifs)]
    latents = rng.random((n_gifs, len(EMOTIONS)))
    rows = simulate_votes(ids, latents, VoteSimulation(votes_per_gif=votes_per_gif), rng)
    ratings = rate_votes(read_votes(_votes_file(tmp_path, rows, f"v{votes_per_gif}-{seed}.csv")))
    assert len(rows) == n_gifs // 2 * votes_per_gif * len(EMOTIONS)
    return float(np.mean([spearmanr(latents[:, k], ratings["mu"][:, k])[0] for k in range(len(EMOTIONS))]))


def test_trueskill_recovers_the_latent_order_better_with_more_votes(tmp_path):
    spearman = {n: np.mean([_mean_spearman(n, seed, tmp_path) for seed in range(3)]) for n in (2, 5, 20)}
    assert spearman[20] >= 0.9
    assert spearman[2] < spearman[5] < spearman[20]
    assert spearman[2] < 0.85  # two votes per GIF leave the order far from known


def test_scores_command_from_votes_and_from_ratings(tmp_path):
    votes = _votes_file(tmp_path, [("x", "y", "happiness", "a")])
    ids = tmp_path / "ids.txt"
    ids.write_text("# wanted\ny\n\nx\n")
    out = tmp_path / "scores.csv"
    assert main(["scores", str(votes), "--out", str(out), "--ids", str(ids)]) == 0
    lines = out.read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["id", "y", "x"]
    assert float(lines[2].split(",")[1 + HAPPY]) == pytest.approx(0.587917, abs=1e-6)

    ratings = tmp_path / "ratings.csv"
    ratings.write_text("id,emotion,mu,sigma\nx,happiness,40,2\n")
    assert main(["scores", "--from-ratings", str(ratings), "--out", str(out), "--normalise", "conservative"]) == 0
    assert float(out.read_text().splitlines()[1].split(",")[1 + HAPPY]) == pytest.approx(34 / 50)


def test_scores_command_needs_exactly_one_source(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["scores", "--out", str(out)]) == 1
    assert "exactly one" in capsys.readouterr().err
    assert main(["scores", str(tmp_path / "missing.csv"), "--out", str(out)]) == 1
    assert "votes file not found" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("ids", [False, True], ids=["all-rated", "id-list"])
def test_scores_command_refuses_a_votes_file_without_votes(tmp_path, capsys, ids):
    votes = tmp_path / "votes.csv"
    votes.write_text("gif_a,gif_b,emotion,winner\n\n")
    id_list = tmp_path / "ids.txt"
    id_list.write_text("x\ny\n")
    out = tmp_path / "scores.csv"
    assert main(["scores", str(votes), "--out", str(out), *(["--ids", str(id_list)] if ids else [])]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"kavan scores: error: {votes}: no votes: the file has no rows after its header, so "
                                "there is nothing to rate; add one row per vote (gif_a, gif_b, emotion, winner)"]
    assert not out.exists()
