"""benchmarks/label_to_model.py: the simulated session's vote count, the derived dataset folder (training scores
from the session's votes as `kavan scores` makes them, test scores from the original folder), and the map of
latents onto the score scale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from kavan.cli import main as kavan_main
from kavan.data.dataset import Dataset
from kavan.synth import resolve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    """The benchmark module, imported from its file (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("label_to_model", ROOT / "benchmarks" / "label_to_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def latents():
    """Latent intensities of 10 GIFs, drawn as SynthGIF's are spread: mostly faint, a few strong."""
    return np.random.default_rng(3).beta(0.6, 2.5, size=(10, 17))


@pytest.mark.parametrize("strategy", ["random", "active", "guided"])
@pytest.mark.parametrize(("budget", "expected"), [(1, 85), (2, 170), (1.5, 128)])
def test_a_session_casts_budget_times_n_over_2_times_17_votes(bench, latents, strategy, budget, expected):
    ids = [f"g{i}" for i in range(10)]
    prior = np.clip(latents + 0.05, 0, 1)
    votes = bench.simulate_session(latents, ids, resolve("default"), strategy, budget, seed=0, prior=prior)
    assert len(votes) == bench.total_votes(budget, 10) == expected
    per_gif = {}
    for a, b, emotion, _ in votes:
        for gif in (a, b):
            per_gif[gif, emotion] = per_gif.get((gif, emotion), 0) + 1
    if float(budget).is_integer() and strategy != "guided":  # balanced: `budget` votes per GIF per emotion
        assert set(per_gif.values()) == {budget}


def test_a_smaller_budget_is_the_prefix_of_a_larger_session(bench, latents):
    ids = [f"g{i}" for i in range(10)]
    cfg = resolve("default")
    long = bench.simulate_session(latents, ids, cfg, "active", 4, seed=5)
    short = bench.simulate_session(latents, ids, cfg, "active", 2, seed=5)
    assert long[:len(short)] == short


def test_the_latent_map_recovers_a_known_affine_map_exactly(bench):
    rng = np.random.default_rng(0)
    latent = rng.uniform(0, 1, size=(50, 17))
    slope, intercept = rng.uniform(0.1, 0.6, 17), rng.uniform(0.3, 0.5, 17)
    fitted = bench.latent_map(latent, latent * slope + intercept)
    np.testing.assert_allclose(fitted[0], slope, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted[1], intercept, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bench.apply_map(latent[:3], fitted), latent[:3] * slope + intercept, atol=1e-12)


def test_the_map_is_the_least_squares_line_when_the_scores_are_noisy(bench):
    rng = np.random.default_rng(1)
    latent = rng.uniform(0, 1, size=(400, 17))
    scores = 0.3 * latent + 0.45 + rng.normal(0, 0.01, size=latent.shape)
    slope, intercept = bench.latent_map(latent, scores)
    for e in (0, 16):
        expected = np.polyfit(latent[:, e], scores[:, e], 1)
        assert slope[e] == pytest.approx(expected[0], abs=1e-10)
        assert intercept[e] == pytest.approx(expected[1], abs=1e-10)


def test_the_derived_folder_holds_voted_training_scores_and_original_test_scores(bench, synth24, tmp_path):
    original = Dataset(synth24)
    train, test = original.ids[:16], original.ids[16:]
    latents = bench.rows_of(bench.read_table(synth24 / "groundtruth" / "latents.csv"), train)
    votes = bench.simulate_session(latents, train, bench.synth_config(synth24), "random", 2, seed=0)
    out = tmp_path / "derived"
    out.mkdir()
    from kavan.synth.votes import write_votes
    write_votes(out / "session.csv", votes)
    voted = bench.scores_from_votes(out / "session.csv", train)
    bench.derived_folder(out, synth24, train, voted, test, original.scores[original.rows(test)], votes)

    derived = Dataset(out)
    assert derived.ids == sorted(train + test)
    # the training scores are what `kavan scores --ids` writes for the session's votes
    (tmp_path / "ids.txt").write_text("\n".join(train) + "\n")
    assert kavan_main(["scores", str(out / "votes.csv"), "--ids", str(tmp_path / "ids.txt"),
                       "--out", str(tmp_path / "cli.csv")]) == 0
    cli = bench.read_table(tmp_path / "cli.csv")
    np.testing.assert_allclose(derived.scores[derived.rows(train)], bench.rows_of(cli, train), atol=1e-6)
    # ... and they are not the original full-vote scores (2 votes per GIF per emotion, not 24)
    assert np.abs(derived.scores[derived.rows(train)] - original.scores[original.rows(train)]).mean() > 0.005
    np.testing.assert_allclose(derived.scores[derived.rows(test)], original.scores[original.rows(test)], atol=1e-6)
    # the media and keypoints are the original files, so caches keyed by their SHA-256 are shared
    for gif in (train[0], test[-1]):
        assert derived.media_path(gif).resolve() == original.media_path(gif).resolve()
        assert (out / "keypoints" / f"{gif}.safetensors").resolve() == (
            synth24 / "keypoints" / f"{gif}.safetensors").resolve()
    assert len((out / "votes.csv").read_text().splitlines()) == 1 + bench.total_votes(2, 16)


def test_nested_subsets_match_the_learning_curve_benchmark(bench):
    spec = importlib.util.spec_from_file_location("rlc", ROOT / "benchmarks" / "regression_learning_curve.py")
    rlc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rlc)
    train = [f"g{i:03d}" for i in range(100)]
    assert bench.training_subset(train, 40, 0, 2) == rlc.nested_subsets(train, [40], 0, 2)[40]
