"""Which (pair, emotion) to ask next: GIFGIF's random rounds, active sampling on the TrueSkill posterior, or ASAP.

A labelling page shows two GIFs and one emotion and asks which GIF shows it more (a, b or neither). Each
emotion is its own TrueSkill environment (``kavan.labels.ratings``); ``PairSelector`` keeps the posterior
(mu, sigma) of every (GIF, emotion) up to date as votes come in and proposes the next question.

Strategies (``STRATEGIES``):

* ``random`` reproduces GIFGIF: per emotion, rounds in which the GIFs are shuffled and paired off, so after
  k full rounds every GIF has exactly k votes for that emotion (with an odd count the left-over GIF is paired
  with a random other one, as ``kavan.synth.votes.pairings`` does); the emotions are taken in turn, one pair
  each. It ignores the votes.
* ``active`` (the default) chooses by expected information on the online TrueSkill posterior: for a candidate
  (i, j) the outcome probabilities a / b / neither follow from the TrueSkill model, and each outcome's posterior
  variances from ``rate_1vs1``; the score is the expected drop of sigma_i² + sigma_j² (ASAP's idea, Mikhailiuk et
  al. 2020, with TrueSkill's closed-form update in place of message passing). Balanced (the default without a
  prior): the anchor is a (GIF, emotion) entry with the fewest votes (ties at random), so every GIF gets its k-th
  vote in an emotion before any gets its (k+1)-th, and partners that have not yet had this round's vote come
  first; then the score decides. Unbalanced (``balance=False``, the default with a prior): the ``n_anchors``
  entries with the largest sigma, or with probability ``explore`` a random one, each against its candidates, and
  the score alone decides.

  The model the choice is scored with has its draw probability set to the observed share of "neither"
  (GIFGIF's TrueSkill assumes 10 %; SynthGIF's annotators answer "neither" to about 78 % of random pairs,
  since most GIFs show most emotions faintly). With the assumed 10 %, a draw between two equal GIFs looks
  very informative and the score keeps pairing faint GIFs with each other.
* ``asap``: ASAP as published, on the full EP posterior of every emotion over all its votes
  (``kavan.labels.asap``; ``batch=True`` for its spanning-tree batches, which the labelling page uses).

A model prior (``prior``: predicted intensities, ``kavan.labels.prior``) sets every rating's starting mu and
sigma; the gain of a pair is then also weighted by the chance that either GIF shows the emotion at all
(``kavan.labels.asap.informative_share``), so pairs the model calls faint on both sides are rarely asked.

Why balance without a prior, and not with one (docs/labelling.md has the measurements): from GIFGIF's prior, the
gain alone spends votes on the GIFs whose outcomes were surprising and starves the rest, and TrueSkill's online
mu orders GIFs best when every GIF has met the same spread of opponents: unbalanced needs more votes than random
pairing, balanced about as many. With a model prior every GIF starts placed, and choosing by gain alone needs the
fewest votes of all the strategies measured (with the scores started from the same prior).

Scoring all pairs is out of reach (5·10⁷ pairs per emotion at 10,000 GIFs), so ``next`` scores a small
candidate set, vectorised: for the anchor, the ``n_near`` GIFs nearest in mu in the same emotion, ``n_far``
random ones and (balanced) ``n_far`` random ones among those behind in the round. A few ms a call at 10,000
GIFs × 17 emotions. Busy pairs (shown to someone else, either order) and self-pairs are skipped; when every
candidate is busy a random free pair is asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np

from kavan.core.errors import KavanError
from kavan.labels.asap import AsapChooser, informative_share
from kavan.labels.prior import PRIOR_SIGMA, prior_ratings
from kavan.labels.trueskill_update import TrueSkillParams, outcome_probabilities, rate_1vs1

STRATEGIES: tuple[str, ...] = ("active", "asap", "random")
WINNERS: tuple[str, ...] = ("a", "b", "neither")


class PairSelector:
    """The posterior of every (GIF, emotion) and the choice of the next question; see the module docstring."""

    def __init__(self, ids: list[str], emotions: list[str], strategy: str = "active", seed: int = 0,
                 params: TrueSkillParams = TrueSkillParams(), *, n_anchors: int = 8, n_near: int = 16,
                 n_far: int = 16, balance: bool | None = None, explore: float = 0.1, prior: np.ndarray | None = None,
                 prior_sigma: float = PRIOR_SIGMA, batch: bool = False, weigh_faint: bool = True,
                 asap_options: dict | None = None):
        if strategy not in STRATEGIES:
            raise KavanError(f"unknown pairing strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self.ids = list(ids)
        self.emotions = list(emotions)
        self._gif = {g: k for k, g in enumerate(self.ids)}
        self._emo = {e: k for k, e in enumerate(self.emotions)}
        if len(self._gif) != len(self.ids) or len(self.ids) < 2:
            raise KavanError("pairing needs at least two GIFs with distinct ids")
        if len(self._emo) != len(self.emotions) or not self.emotions:
            raise KavanError("pairing needs at least one emotion, each named once")
        self.strategy = strategy
        self.params = params
        self.seed = seed
        self.n_anchors, self.n_near, self.n_far, self.explore = n_anchors, n_near, n_far, explore
        self.balance = prior is None if balance is None else balance
        self.batch = batch
        self._asap_options = dict(asap_options or {})
        self._prior_mu, self._prior_sigma = self._prior(prior, prior_sigma)
        self.has_prior = prior is not None
        self.weigh_faint = weigh_faint and self.has_prior
        self._faint_level = np.median(self._prior_mu, axis=1)  # labels.asap.informative_share's level
        self.reset()

    def _prior(self, prior: np.ndarray | None, prior_sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma), each (n_emotions, n_gifs): the model prior where given, else the default."""
        shape = (len(self.emotions), len(self.ids))
        if prior is None:
            return np.full(shape, float(self.params.mu)), np.full(shape, float(self.params.sigma))
        prior = np.asarray(prior, dtype=np.float64)
        if prior.shape != (len(self.ids), len(self.emotions)):
            raise KavanError(f"the prior must hold one intensity per GIF and emotion, shape "
                             f"({len(self.ids)}, {len(self.emotions)}); got {prior.shape}")
        mu, sigma = prior_ratings(prior, prior_sigma, self.params)
        return mu.T.copy(), sigma.T.copy()

    # -- state -------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the prior; the random strategy's rounds and the random stream start again too."""
        shape = (len(self.emotions), len(self.ids))
        self.mu = self._prior_mu.copy()
        self.sigma = self._prior_sigma.copy()
        self.counts = np.zeros(shape, dtype=np.int64)
        self._n_votes = 0
        self._n_draws = 0
        self._rng = np.random.default_rng(self.seed)
        self._queues: list[list[tuple[int, int]]] = [[] for _ in self.emotions]
        self._turn = 0
        self._fitted: dict[float, TrueSkillParams] = {}
        self._order: list[np.ndarray | None] = [None] * len(self.emotions)
        self.asap = None
        if self.strategy == "asap":
            self.asap = AsapChooser(self._prior_mu, self._prior_sigma, self._rng, batch=self.batch,
                                    faint=self.weigh_faint, **self._asap_options)

    @property
    def n_votes(self) -> int:
        """Votes observed since the last reset."""
        return self._n_votes

    def uncertainty(self) -> float:
        """Mean posterior variance over (GIF, emotion) over the prior variance: 1.0 before any vote."""
        if self._n_votes == 0:
            return 1.0  # exactly, where the mean of equal squares would round
        return float(np.clip(np.mean(self.sigma ** 2) / np.mean(self._prior_sigma ** 2), 0.0, 1.0))

    def observe(self, gif_a: str, gif_b: str, emotion: str, winner: str) -> None:
        """Update the posterior with one vote; ``winner`` is "a", "b" or "neither" (a draw)."""
        i, j, e = self._index(gif_a, gif_b, emotion)
        w = str(winner).strip().lower()
        if w not in WINNERS:
            raise KavanError(f"unknown winner {winner!r}; expected a, b or neither")
        if w == "b":
            i, j = j, i
        row_mu, row_sigma = self.mu[e], self.sigma[e]
        new = rate_1vs1(row_mu[[i]], row_sigma[[i]], row_mu[[j]], row_sigma[[j]], np.array([w == "neither"]),
                        self.params)
        row_mu[i], row_sigma[i], row_mu[j], row_sigma[j] = (float(x[0]) for x in new)
        self.counts[e, [i, j]] += 1
        self._n_votes += 1
        self._n_draws += w == "neither"
        self._order[e] = None
        if self.asap is not None:
            self.asap.observe(e, i, j, w == "neither")

    def posterior(self, emotion: str) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) per GIF of the full EP posterior of ``emotion`` over all its votes (``asap``), solved now;
        the other strategies keep only the online posterior, ``self.mu`` / ``self.sigma``."""
        if self.asap is None:
            raise KavanError(f"the {self.strategy!r} strategy keeps no full posterior; use the mu and sigma arrays")
        if emotion not in self._emo:
            raise KavanError(f"unknown emotion {emotion!r}")
        return self.asap.posterior(self._emo[emotion], self._selection_params())

    def _index(self, gif_a: str, gif_b: str, emotion: str) -> tuple[int, int, int]:
        for g in (gif_a, gif_b):
            if g not in self._gif:
                raise KavanError(f"unknown GIF id {g!r}")
        if emotion not in self._emo:
            raise KavanError(f"unknown emotion {emotion!r}")
        if gif_a == gif_b:
            raise KavanError(f"a vote needs two different GIFs, got {gif_a!r} twice")
        return self._gif[gif_a], self._gif[gif_b], self._emo[emotion]

    # -- choice ------------------------------------------------------------------------------------------

    def next(self, busy: Collection[tuple[str, str, str]] = ()) -> tuple[str, str, str]:
        """(gif_a, gif_b, emotion) to ask now; never a busy pair (either order) nor one GIF twice."""
        blocked = self._blocked(busy)
        if self.strategy == "random":
            pick = self._next_random(blocked)
        elif self.asap is not None:
            pick = self.asap.next(blocked, self._selection_params())
        else:
            pick = self._next_active(blocked)
        if pick is None:
            pick = self._any_free(blocked)
        i, j, e = pick
        if self._rng.random() < 0.5:  # which side a GIF is shown on carries no information
            i, j = j, i
        return self.ids[i], self.ids[j], self.emotions[e]

    def _blocked(self, busy: Collection[tuple[str, str, str]]) -> set[tuple[int, int, int]]:
        out = set()
        for a, b, emotion in busy:
            if a in self._gif and b in self._gif and emotion in self._emo:
                i, j = sorted((self._gif[a], self._gif[b]))
                out.add((i, j, self._emo[emotion]))
        return out

    def _free(self, i: int, j: int, e: int, blocked: set[tuple[int, int, int]]) -> bool:
        return i != j and (min(i, j), max(i, j), e) not in blocked

    def _next_random(self, blocked: set[tuple[int, int, int]]) -> tuple[int, int, int] | None:
        for _ in range(len(self.emotions)):
            e = self._turn % len(self.emotions)
            self._turn += 1
            queue = self._queues[e]
            for refill in (False, True):
                if refill:
                    queue.extend(_round(len(self.ids), self._rng))
                for k, (i, j) in enumerate(queue):
                    if self._free(i, j, e, blocked):
                        del queue[k]
                        return i, j, e
        return None

    def _next_active(self, blocked: set[tuple[int, int, int]]) -> tuple[int, int, int] | None:
        e_idx, i_idx = np.divmod(self._anchors(), len(self.ids))
        cand = [self._partners(e, i) for e, i in zip(e_idx.tolist(), i_idx.tolist())]
        e_all = np.concatenate([np.full(len(j), e) for e, j in zip(e_idx.tolist(), cand)])
        i_all = np.concatenate([np.full(len(j), i) for i, j in zip(i_idx.tolist(), cand)])
        j_all = np.concatenate(cand)
        mu_i, sigma_i = self.mu[e_all, i_all], self.sigma[e_all, i_all]
        mu_j, sigma_j = self.mu[e_all, j_all], self.sigma[e_all, j_all]
        params = self._selection_params()
        gain = expected_variance_drop(mu_i, sigma_i, mu_j, sigma_j, params)
        if self.weigh_faint:  # with a model prior: pairs an annotator can tell apart (labels.asap)
            level = self._faint_level[e_all]
            gain = gain * informative_share(mu_i, sigma_i, mu_j, sigma_j, level, params.beta)
        gain = np.where(i_all == j_all, -np.inf, gain)
        if self.balance:  # partners that have not yet had this round's vote come first
            gain = np.where(self.counts[e_all, j_all] <= self.counts[e_all, i_all], gain + 1e6, gain)
        for k in np.argsort(-gain, kind="stable").tolist():
            i, j, e = int(i_all[k]), int(j_all[k]), int(e_all[k])
            if np.isfinite(gain[k]) and self._free(i, j, e, blocked):
                return i, j, e
        return None

    def _partners(self, e: int, i: int) -> np.ndarray:
        """Candidate partners of GIF i in emotion e: nearest in mu, random, and (balanced) random among those
        with no more votes than i."""
        parts = [self._near(e, i), self._rng.integers(0, len(self.ids), self.n_far)]
        if self.balance:
            behind = np.flatnonzero(self.counts[e] <= self.counts[e, i])
            parts.append(behind[self._rng.integers(0, len(behind), self.n_far)])
        return np.concatenate(parts)

    def _selection_params(self) -> TrueSkillParams:
        """The TrueSkill model the choice is scored with: the rating model, with the draw probability set to
        the observed share of "neither" (plus 10 pseudo-votes at the model's own draw probability)."""
        p = (self._n_draws + 10 * self.params.draw_probability) / (self._n_votes + 10)
        p = round(min(max(p, 0.01), 0.95), 2)
        if p not in self._fitted:
            self._fitted[p] = dataclasses.replace(self.params, draw_probability=p)
        return self._fitted[p]

    def _anchors(self) -> np.ndarray:
        """Flat (emotion·N + GIF) indices of the GIFs to find a partner for.

        Balanced: one entry with the fewest votes (ties at random), so every GIF gets its k-th vote in an
        emotion before any gets its (k+1)-th, as in GIFGIF's rounds. Unbalanced: the ``n_anchors`` entries
        with the largest sigma, or with probability ``explore`` one entry at random.
        """
        size = self.sigma.size
        jitter = self._rng.random(size) * 1e-3
        if self.balance:
            return np.array([int(np.argmin(self.counts.ravel() + jitter))])
        if self._rng.random() < self.explore:
            return self._rng.integers(0, size, 1)
        k = min(self.n_anchors, size)
        return np.argpartition(-(self.sigma.ravel() / self.params.sigma + jitter), k - 1)[:k]

    def _near(self, e: int, i: int) -> np.ndarray:
        """The ``n_near`` GIFs whose mu is nearest GIF i's in emotion e (i itself may be among them)."""
        order = self._order[e]
        if order is None:
            order = self._order[e] = np.argsort(self.mu[e], kind="stable")
        pos = int(np.searchsorted(self.mu[e][order], self.mu[e, i]))
        half = self.n_near // 2 + 1
        lo = max(0, min(pos - half, len(order) - 2 * half))
        return order[lo:lo + 2 * half]

    def _any_free(self, blocked: set[tuple[int, int, int]]) -> tuple[int, int, int]:
        """A random free (pair, emotion): the fallback when the candidates are all busy."""
        n, n_e = len(self.ids), len(self.emotions)
        if len(blocked) >= n_e * n * (n - 1) // 2:
            raise KavanError("every pair of GIFs is busy; wait for an answer before asking again")
        for _ in range(1000):
            i, j = self._rng.choice(n, 2, replace=False).tolist()
            e = int(self._rng.integers(0, n_e))
            if self._free(i, j, e, blocked):
                return i, j, e
        for e in range(n_e):
            for i in range(n):
                for j in range(i + 1, n):
                    if self._free(i, j, e, blocked):
                        return i, j, e
        raise KavanError("every pair of GIFs is busy; wait for an answer before asking again")


def _round(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """One GIFGIF round: the GIFs shuffled and paired off; an odd one out gets a random partner."""
    perm = rng.permutation(n)
    if n % 2:
        perm = np.append(perm, rng.choice(perm[:-1]))
    return [tuple(p) for p in perm.reshape(-1, 2).tolist()]


def expected_variance_drop(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                           params: TrueSkillParams) -> np.ndarray:
    """Expected fall of sigma1² + sigma2² from one vote, averaged over the three outcomes."""
    p1, p2, pd = outcome_probabilities(mu1, sigma1, mu2, sigma2, params)
    before = sigma1 ** 2 + sigma2 ** 2
    false, true = np.zeros(len(mu1), dtype=bool), np.ones(len(mu1), dtype=bool)
    _, s1w, _, s2w = rate_1vs1(mu1, sigma1, mu2, sigma2, false, params)
    _, s2l, _, s1l = rate_1vs1(mu2, sigma2, mu1, sigma1, false, params)
    _, s1d, _, s2d = rate_1vs1(mu1, sigma1, mu2, sigma2, true, params)
    after = p1 * (s1w ** 2 + s2w ** 2) + p2 * (s1l ** 2 + s2l ** 2) + pd * (s1d ** 2 + s2d ** 2)
    return before - after


__all__ = ["STRATEGIES", "PairSelector", "expected_variance_drop", "outcome_probabilities"]
