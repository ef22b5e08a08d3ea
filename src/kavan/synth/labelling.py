"""A simulated labelling session: SynthGIF's annotator answers the questions a ``PairSelector`` asks.

``simulate_votes`` (kavan.synth.votes) pairs GIFs by GIFGIF's random rounds, all at once. Here the pairs come one
at a time from ``kavan.labels.pairing.PairSelector`` with any of its strategies (random, active, asap) and an
optional model prior, and each answer is drawn from the annotator of ``kavan.synth.votes.answer_votes`` (perception
noise, lapses, "neither") and fed back to the selector before the next question, as on the labelling page with one
annotator. It is what benchmarks/active_pairing.py measures, and what an end-to-end benchmark uses to make the votes
a labelling session would have collected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.labels.pairing import PairSelector
from kavan.labels.prior import PRIOR_SIGMA
from kavan.synth.config import SynthConfig
from kavan.synth.votes import ANSWERS, answer_votes

Vote = tuple[str, str, str, str]


def labelling_steps(latents: np.ndarray, cfg: SynthConfig, strategy: str = "active", prior: np.ndarray | None = None,
                    votes_per_gif: float = 5.0, *, seed: int = 0, ids: Sequence[str] | None = None,
                    emotions: Sequence[str] | None = None, prior_sigma: float = PRIOR_SIGMA,
                    **selector_options) -> Iterator[tuple[Vote, PairSelector]]:
    """Yield each vote (gif_a, gif_b, emotion, winner) with the selector right after it has observed it.

    latents: (n, n_emotions) true intensities in [0, 1]. prior: the same shape, a model's predicted intensities
    (NaN: none) or None. votes_per_gif: the budget, in votes each GIF takes part in per emotion on average; the
    session asks round(votes_per_gif · n / 2 · n_emotions) questions. ids default to g0..g{n-1}, emotions to the
    first n_emotions of EMOTIONS. seed seeds both the selector and the annotator (separate streams).
    ``selector_options`` go to PairSelector (e.g. ``batch=True`` for ASAP's batch mode).
    """
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2 or latents.shape[0] < 2 or latents.shape[1] < 1:
        raise KavanError(f"latents must be (n GIFs >= 2, n emotions >= 1), got shape {latents.shape}")
    n, n_emotions = latents.shape
    ids = [f"g{i}" for i in range(n)] if ids is None else list(ids)
    emotions = list(EMOTIONS[:n_emotions]) if emotions is None else list(emotions)
    if len(ids) != n or len(emotions) != n_emotions:
        raise KavanError(f"{len(ids)} ids and {len(emotions)} emotions for latents of shape {latents.shape}")
    if not (np.isfinite(votes_per_gif) and votes_per_gif >= 0):
        raise KavanError(f"the vote budget must be a finite number >= 0, got {votes_per_gif}")
    selector = PairSelector(ids, emotions, strategy=strategy, seed=seed, prior=prior, prior_sigma=prior_sigma,
                            **selector_options)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    gif = {g: k for k, g in enumerate(ids)}
    emo = {e: k for k, e in enumerate(emotions)}
    for _ in range(int(round(votes_per_gif * n / 2 * n_emotions))):
        a, b, e = selector.next()
        i, j, k = gif[a], gif[b], emo[e]
        winner = ANSWERS[int(answer_votes(latents[[i], k], latents[[j], k], cfg, rng)[0])]
        selector.observe(a, b, e, winner)
        yield (a, b, e, winner), selector


def simulate_labelling(latents: np.ndarray, cfg: SynthConfig, strategy: str = "active",
                       prior: np.ndarray | None = None, votes_per_gif: float = 5.0, **options) -> list[Vote]:
    """The votes (gif_a, gif_b, emotion, winner) of a simulated session, in the order they were cast; the arguments
    are ``labelling_steps``'. ``kavan.synth.votes.write_votes`` writes them as a votes.csv."""
    return [vote for vote, _ in labelling_steps(latents, cfg, strategy, prior, votes_per_gif, **options)]


__all__ = ["labelling_steps", "simulate_labelling"]
