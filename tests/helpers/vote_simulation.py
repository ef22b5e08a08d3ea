"""Simulated GIFGIF votes from known latent intensities, to check that TrueSkill recovers a known order.

The voting model: for each emotion, ``votes_per_gif`` rounds; each round pairs all GIFs at random (with an
odd count one GIF sits the round out). A voter perceives the difference of the two latents plus Gaussian
noise (std ``noise``) and answers "neither" when the perceived difference is below ``neither_margin``, else
the GIF that looks stronger. The votes of all emotions and rounds are then shuffled into one log, as a real
export interleaves them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kavan.core.emotions import EMOTIONS
from kavan.labels.ratings import VOTE_COLUMNS


@dataclass(frozen=True)
class VoteSimulation:
    """Voting model parameters; latents are intensities in [0, 1]."""

    votes_per_gif: int = 20
    noise: float = 0.1
    neither_margin: float = 0.05


def simulate_votes(ids: list[str], latents: np.ndarray, config: VoteSimulation,
                   rng: np.random.Generator) -> list[tuple[str, str, str, str]]:
    """Rows (gif_a, gif_b, emotion, winner) of a simulated votes file for ``latents`` (len(ids), 17)."""
    latents = np.asarray(latents, dtype=np.float64)
    assert latents.shape == (len(ids), len(EMOTIONS))
    n_pairs = len(ids) // 2
    rounds = len(EMOTIONS) * config.votes_per_gif
    perms = rng.permuted(np.tile(np.arange(len(ids)), (rounds, 1)), axis=1)[:, :2 * n_pairs]
    a = perms[:, 0::2].ravel()
    b = perms[:, 1::2].ravel()
    emotion = np.repeat(np.arange(rounds) % len(EMOTIONS), n_pairs)
    diff = latents[a, emotion] - latents[b, emotion] + config.noise * rng.standard_normal(a.shape)
    winner = np.where(np.abs(diff) < config.neither_margin, "neither", np.where(diff > 0, "a", "b"))
    order = rng.permutation(len(a))
    return [(ids[a[k]], ids[b[k]], EMOTIONS[emotion[k]], str(winner[k])) for k in order]


def write_votes(path: Path, rows: list[tuple[str, ...]]) -> None:
    """Write vote rows as a votes.csv with the header gif_a, gif_b, emotion, winner."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(VOTE_COLUMNS)
        writer.writerows(rows)
