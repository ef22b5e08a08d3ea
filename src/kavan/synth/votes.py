"""Simulated GIFGIF annotators: pairwise votes drawn from the latent intensities.

GIFGIF's protocol shows a pair of GIFs and one emotion and asks which GIF shows it more: a, b or neither.
Here, for each emotion and each of ``votes_per_gif`` rounds, the GIFs are shuffled and paired off, so every
GIF takes part in exactly ``votes_per_gif`` votes per emotion (with an odd count, the left-over GIF of a
round is paired with a random other one, which then votes once more). The annotator perceives each GIF's
latent intensity with Gaussian noise (Thurstone's case V) and answers

* at random (a, b or neither) with probability ``vote_lapse``, else
* "neither" when both perceived intensities are below ``neither_level`` or they differ by less than
  ``neither_margin``, else
* the GIF with the larger perceived intensity.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from kavan.core.emotions import EMOTIONS
from kavan.synth.config import SynthConfig

ANSWERS = ("a", "b", "neither")
COLUMNS = ("gif_a", "gif_b", "emotion", "winner")


def pairings(n: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """(pairs, 2) GIF indices: ``rounds`` shuffles of 0..n-1, each paired off in order."""
    out = []
    for _ in range(rounds):
        perm = rng.permutation(n)
        if n % 2:
            partner = rng.choice(perm[:-1])
            perm = np.append(perm, partner)
        out.append(perm.reshape(-1, 2))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def answer_votes(latent_a: np.ndarray, latent_b: np.ndarray, cfg: SynthConfig,
                 rng: np.random.Generator) -> np.ndarray:
    """One annotator's answer per pair, as indices into ANSWERS (0 a, 1 b, 2 neither).

    ``latent_a``/``latent_b`` are the two GIFs' latent intensities for the emotion asked (1-D, one entry per
    vote; one vote is an array of length 1). The random draws come in a fixed order (perception noise, then
    lapses), so ``simulate_votes`` and the active-pairing benchmark share one annotator.
    """
    latent_a, latent_b = np.atleast_1d(latent_a), np.atleast_1d(latent_b)
    seen = np.stack([latent_a, latent_b], axis=1) + rng.normal(0.0, cfg.vote_noise, (len(latent_a), 2))
    answer = np.where(seen[:, 0] > seen[:, 1], 0, 1)
    weak = seen.max(axis=1) < cfg.neither_level
    close = np.abs(seen[:, 0] - seen[:, 1]) < cfg.neither_margin
    answer = np.where(weak | close, 2, answer)
    lapse = rng.random(len(seen)) < cfg.vote_lapse
    return np.where(lapse, rng.integers(0, 3, len(seen)), answer)


def simulate_votes(latents: np.ndarray, ids: list[str], cfg: SynthConfig,
                   rng: np.random.Generator) -> list[tuple[str, str, str, str]]:
    """Votes (gif_a, gif_b, emotion, winner) for GIFs ``ids`` with latent intensities (N, 17)."""
    n = len(ids)
    rows: list[tuple[str, str, str, str]] = []
    for e, emotion in enumerate(EMOTIONS):
        pairs = pairings(n, cfg.votes_per_gif, rng)
        answer = answer_votes(latents[pairs[:, 0], e], latents[pairs[:, 1], e], cfg, rng)
        rows.extend((ids[a], ids[b], emotion, ANSWERS[w]) for (a, b), w in zip(pairs.tolist(), answer.tolist()))
    return rows


def write_votes(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """Write votes.csv (gif_a, gif_b, emotion, winner)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
