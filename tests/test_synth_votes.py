"""Simulated GIFGIF votes: how many per GIF, the choice rule, the noise and lapse knobs, the CSV."""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter

import numpy as np
import pytest

from kavan.core.emotions import EMOTIONS
from kavan.synth import SynthConfig
from kavan.synth.votes import answer_votes, pairings, simulate_votes, write_votes

CLEAN = SynthConfig(vote_noise=0.0, vote_lapse=0.0, neither_level=0.3, neither_margin=0.05)


def _latents(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, len(EMOTIONS)))


@pytest.mark.parametrize("n, k", [(10, 4), (7, 3), (2, 1)])
def test_every_gif_votes_the_configured_number_of_times_per_emotion(n, k):
    ids = [f"g{i}" for i in range(n)]
    rows = simulate_votes(_latents(n), ids, dataclasses.replace(CLEAN, votes_per_gif=k), np.random.default_rng(1))
    for emotion in EMOTIONS:
        counts = Counter()
        for a, b, e, _ in rows:
            if e == emotion:
                assert a != b
                counts.update([a, b])
        if n % 2 == 0:
            assert set(counts.values()) == {k} and len(counts) == n
        else:  # the odd one out of each round votes with a random partner, who votes once more
            assert min(counts.values()) == k and sum(counts.values()) == k * (n + 1)


def test_pairings_pair_each_gif_once_per_round():
    pairs = pairings(6, 5, np.random.default_rng(0))
    assert pairs.shape == (15, 2)
    for r in range(5):
        assert sorted(pairs[3 * r:3 * r + 3].ravel().tolist()) == list(range(6))


def test_noiseless_annotator_follows_the_rule_exactly():
    lat = np.zeros((4, len(EMOTIONS)))
    lat[:, 0] = [0.9, 0.5, 0.2, 0.1]        # clear order among strong ones; 2 and 3 both weak
    lat[:, 1] = [0.6, 0.62, 0.0, 0.9]       # 0 and 1 too close
    ids = ["a0", "a1", "a2", "a3"]
    rows = simulate_votes(lat, ids, dataclasses.replace(CLEAN, votes_per_gif=6), np.random.default_rng(2))
    assert rows
    for a, b, emotion, winner in rows:
        e = EMOTIONS.index(emotion)
        la, lb = lat[ids.index(a), e], lat[ids.index(b), e]
        if max(la, lb) < 0.3 or abs(la - lb) < 0.05:
            assert winner == "neither"
        else:
            assert winner == ("a" if la > lb else "b")


def _agreement(noise: float) -> float:
    lat = _latents(60, seed=3)
    ids = [str(i) for i in range(60)]
    cfg = dataclasses.replace(CLEAN, vote_noise=noise, neither_level=0.0, neither_margin=0.0, votes_per_gif=10)
    rows = simulate_votes(lat, ids, cfg, np.random.default_rng(4))
    right = [(w == "a") == (lat[int(a), EMOTIONS.index(e)] > lat[int(b), EMOTIONS.index(e)]) for a, b, e, w in rows]
    return float(np.mean(right))


def test_more_perception_noise_means_fewer_votes_agree_with_the_latents():
    clean, some, lots = _agreement(0.0), _agreement(0.1), _agreement(0.4)
    assert clean == 1.0
    assert 0.8 < some < clean and 0.55 < lots < some - 0.05


def test_lapses_answer_at_random():
    cfg = dataclasses.replace(CLEAN, vote_lapse=1.0, votes_per_gif=20)
    rows = simulate_votes(_latents(30), [str(i) for i in range(30)], cfg, np.random.default_rng(5))
    shares = Counter(w for *_, w in rows)
    for answer in ("a", "b", "neither"):
        assert shares[answer] / len(rows) == pytest.approx(1 / 3, abs=0.03)


def test_votes_csv_has_the_gifgif_columns(tmp_path):
    rows = [("x", "y", "anger", "a"), ("y", "x", "fear", "neither")]
    write_votes(tmp_path / "votes.csv", rows)
    with open(tmp_path / "votes.csv", newline="") as fh:
        back = list(csv.reader(fh))
    assert back == [["gif_a", "gif_b", "emotion", "winner"], ["x", "y", "anger", "a"], ["y", "x", "fear", "neither"]]


def _simulate_votes_before_answer_votes(latents, ids, cfg, rng):
    """simulate_votes as it was before answer_votes was factored out of it (the reference)."""
    rows = []
    for e, emotion in enumerate(EMOTIONS):
        pairs = pairings(len(ids), cfg.votes_per_gif, rng)
        seen = latents[pairs, e] + rng.normal(0.0, cfg.vote_noise, pairs.shape)
        answer = np.where(seen[:, 0] > seen[:, 1], 0, 1)
        weak = seen.max(axis=1) < cfg.neither_level
        close = np.abs(seen[:, 0] - seen[:, 1]) < cfg.neither_margin
        answer = np.where(weak | close, 2, answer)
        lapse = rng.random(len(pairs)) < cfg.vote_lapse
        answer = np.where(lapse, rng.integers(0, 3, len(pairs)), answer)
        rows.extend((ids[a], ids[b], emotion, ("a", "b", "neither")[w]) for (a, b), w in zip(pairs.tolist(),
                                                                                          answer.tolist()))
    return rows


@pytest.mark.parametrize("n, seed", [(11, 5), (8, 0)])
def test_answer_votes_leaves_simulate_votes_output_unchanged(n, seed):
    cfg = dataclasses.replace(SynthConfig(), votes_per_gif=3, vote_noise=0.2, vote_lapse=0.1)
    ids = [f"g{i}" for i in range(n)]
    lat = _latents(n, seed)
    assert simulate_votes(lat, ids, cfg, np.random.default_rng(seed)) == \
        _simulate_votes_before_answer_votes(lat, ids, cfg, np.random.default_rng(seed))


def test_answer_votes_answers_one_vote():
    clean = dataclasses.replace(CLEAN, vote_noise=0.0)
    rng = np.random.default_rng(0)
    assert answer_votes(np.array([0.9]), np.array([0.4]), clean, rng).tolist() == [0]
    assert answer_votes(0.1, 0.2, clean, rng).tolist() == [2]
    assert answer_votes(np.array([0.5, 0.6]), np.array([0.8, 0.62]), clean, rng).tolist() == [1, 2]
