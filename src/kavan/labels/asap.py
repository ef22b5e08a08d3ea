"""ASAP pair selection: expected information gain on the full EP posterior, one pair at a time or a batch by MST.

ASAP (Mikhailiuk, Wilmot, Perez-Ortiz, Yue & Mantiuk, "Active sampling for pairwise comparisons via approximate
message passing and information gain maximization", ICPR 2020; code: github.com/gfxdisp/asap) chooses the next
comparison in three steps, each kept here:

1. **Posterior.** The TrueSkill/Thurstone posterior of every condition from all comparisons so far, solved by
   expectation propagation over the whole comparison graph (``kavan.labels.ep_posterior.EPPosterior``; one per
   emotion, each emotion being its own graph). GIFGIF's third answer, "neither", is a draw with TrueSkill's draw
   margin: an extension of ours, the published ASAP has no ties. The draw margin comes from the observed share of
   "neither" (``PairSelector`` fits it as for ``active``).
2. **Expected information gain** of a candidate pair (i, j): the KL divergence from the posterior before the vote to
   the posterior after it, averaged over the three outcomes with their predictive probabilities,

       EIG(i, j) = Σ_o P(o) · [KL(q_i^o ‖ q_i) + KL(q_j^o ‖ q_j)],
       KL(N(m', v') ‖ N(m, v)) = ½ · (ln(v / v') + v' / v + (m' − m)² / v − 1),

   with ASAP's approximation that only the two GIFs' marginals change: q^o is the update of the two marginals by
   one vote with outcome o (TrueSkill's 1-vs-1 update without dynamics, which is EP's update of the new vote's
   factor). ``expected_information_gain`` does this for many candidates at once.
3. **Choice.** Sequential mode: the free candidate with the largest EIG. Batch mode (several annotators): ASAP's
   minimum spanning tree over the candidate pairs with edge weights 1 / EIG (``spanning_batch``), whose N − 1
   pairs connect every GIF and are handed out, largest EIG first, until the batch is used up; then the posterior
   is solved again and the next batch made. Emotions take turns, one batch each.

Candidate pairs: all pairs of an emotion while there are at most ``max_pairs`` of them (ASAP's exhaustive search;
200 GIFs give 19,900); beyond that, batch mode scores each GIF against its ``n_near`` nearest GIFs in posterior mean
and ``n_far`` random ones, and sequential mode scores the ``n_anchors`` GIFs of largest posterior sigma (and as many
random ones) against the same kind of partners. Only the emotion that got a vote is solved again: in sequential
mode with at most ``max_sweeps`` EP sweeps from its previous messages before a choice (ASAP's code runs a fixed 4
to 6), a batch on a posterior solved to convergence. docs/labelling.md gives the costs.

With a model prior (``PairSelector(prior=...)``) the gain of a pair is also weighted by the chance that an annotator
sees the emotion in at least one of the two GIFs, ``informative_share``: annotators answer "neither" when neither
GIF shows the emotion, and then learn nothing about their order. The level below which a GIF counts as not showing
it is the median of the prior means of that emotion (most GIFs show most emotions faintly or not at all). This too
is our extension; it only applies with a prior, since without one the rating scale has no fixed zero.

Measured on SynthGIF's annotator (docs/labelling.md), ASAP needs more votes than random pairing, with or without a
prior: most "neither" answers there mean that neither GIF shows the emotion, not that the two are close, and the
faint majority's pairs look the most uncertain to the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import numpy as np

from kavan.core.errors import KavanError
from kavan.labels.ep_posterior import EPPosterior
from kavan.labels.trueskill_update import TrueSkillParams, _cdf, _v_w_draw, _v_w_win


def static_params(params: TrueSkillParams) -> TrueSkillParams:
    """``params`` without TrueSkill's dynamics (tau = 0): the model the full posterior is solved with."""
    return params if params.tau == 0 else dataclasses.replace(params, tau=0.0)


def gaussian_kl(mean_new: np.ndarray, var_new: np.ndarray, mean_old: np.ndarray, var_old: np.ndarray) -> np.ndarray:
    """KL(N(mean_new, var_new) ‖ N(mean_old, var_old)) in nats, elementwise."""
    return 0.5 * (np.log(var_old / var_new) + var_new / var_old + (mean_new - mean_old) ** 2 / var_old - 1.0)


def expected_information_gain(mu_i: np.ndarray, sigma_i: np.ndarray, mu_j: np.ndarray, sigma_j: np.ndarray,
                              params: TrueSkillParams) -> np.ndarray:
    """ASAP's expected information gain of comparing i with j, one entry per candidate (see the module docstring).

    All arguments are 1-D arrays of one length; ``params`` gives β and the draw margin ε (its tau is ignored). With
    c² = 2β² + σ_i² + σ_j², t = (μ_i − μ_j) / c, e = ε / c and a_k = σ_k² / c², an outcome with TrueSkill
    corrections (V, W) moves μ_k by ±(σ_k² / c)·V and scales σ_k² by (1 − a_k·W), so

        KL_k = ½ · (a_k·V² − a_k·W − ln(1 − a_k·W)),
        EIG = Σ_o P(o) · (KL_i + KL_j),

    over o = i wins (V, W at t; P = Φ(t − e)), j wins (at −t; P = Φ(−t − e)), neither (the draw corrections at t;
    P = 1 − the other two)."""
    beta2, margin = params.beta ** 2, params.draw_margin
    c2 = 2 * beta2 + sigma_i ** 2 + sigma_j ** 2
    c = np.sqrt(c2)
    t, e = (mu_i - mu_j) / c, margin / c
    a_i, a_j = sigma_i ** 2 / c2, sigma_j ** 2 / c2
    p_i, p_j = _cdf(t - e), _cdf(-t - e)
    p_d = np.clip(1.0 - p_i - p_j, 0.0, 1.0)
    gain = np.zeros(np.shape(t))
    for prob, (v, w) in ((p_i, _v_w_win(t, e)), (p_j, _v_w_win(-t, e)), (p_d, _v_w_draw(t, e))):
        w = np.clip(w, 0.0, 1.0)
        kl = 0.0
        for a in (a_i, a_j):
            kl = kl + 0.5 * (a * v ** 2 - a * w - np.log1p(-a * w))
        gain += prob * kl
    return gain


def informative_share(mu_i: np.ndarray, sigma_i: np.ndarray, mu_j: np.ndarray, sigma_j: np.ndarray,
                      level: float | np.ndarray, beta: float) -> np.ndarray:
    """P(an annotator perceives at least one of the two GIFs above ``level``): 1 − Φ((level − mu_i) / s_i) ·
    Φ((level − mu_j) / s_j), with s² = sigma² + β² (the rating's uncertainty plus the perception noise)."""
    below_i = _cdf((level - mu_i) / np.sqrt(sigma_i ** 2 + beta ** 2))
    below_j = _cdf((level - mu_j) / np.sqrt(sigma_j ** 2 + beta ** 2))
    return 1.0 - below_i * below_j


def all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair i < j of n GIFs."""
    i, j = np.triu_indices(n, 1)
    return i.astype(np.int64), j.astype(np.int64)


def unique_pairs(i: np.ndarray, j: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs among (i, j), as i < j, without self-pairs."""
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = np.unique((lo * n + hi)[lo != hi])
    return key // n, key % n


def neighbour_pairs(mu: np.ndarray, n_near: int, n_far: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each GIF with the ``n_near`` GIFs nearest in mu (half above, half below) and ``n_far`` random ones,
    deduplicated."""
    n = len(mu)
    order = np.argsort(mu, kind="stable")
    parts_i, parts_j = [], []
    for d in range(1, max(1, n_near // 2) + 1):
        if d < n:
            parts_i.append(order[:-d])
            parts_j.append(order[d:])
    parts_i.append(np.repeat(np.arange(n), n_far))
    parts_j.append(rng.integers(0, n, n * n_far))
    return unique_pairs(np.concatenate(parts_i), np.concatenate(parts_j), n)


def spanning_batch(i: np.ndarray, j: np.ndarray, gain: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the candidate pairs (i, j) (distinct, i < j) on a minimum spanning tree with weights 1 / gain,
    largest gain first. Ties (every gain equal before any vote) are broken at random, so the first batch is a random
    spanning tree, as in ASAP's code. A candidate graph that is not connected gives a spanning forest."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    weight = 1.0 / np.maximum(np.nan_to_num(gain, nan=0.0), 1e-12)
    weight *= 1.0 + 1e-6 * rng.random(len(weight))
    tree = minimum_spanning_tree(coo_matrix((weight, (i, j)), shape=(n, n)).tocsr()).tocoo()
    lo, hi = np.minimum(tree.row, tree.col), np.maximum(tree.row, tree.col)
    key = i * n + j
    order = np.argsort(key)
    picked = order[np.searchsorted(key[order], lo.astype(np.int64) * n + hi)]
    return picked[np.argsort(-gain[picked], kind="stable")]


NEW_VOTES, SWEPT, CONVERGED = 0, 1, 2  # the state of an emotion's EP since its last vote
FULL_SWEEPS = 1000


class AsapChooser:
    """ASAP for ``PairSelector``: one EP posterior per emotion and the choice of the next pair (module docstring).

    ``prior_mu``/``prior_sigma`` are (n_emotions, n_gifs) on the rating scale; ``faint`` turns on the
    ``informative_share`` weighting (with a model prior). ``batch_size`` hands out only the first (largest-gain)
    pairs of each tree; None, the whole tree, as published. Before a choice, an emotion with new votes gets at most
    ``max_sweeps`` EP sweeps from its previous messages (ASAP's code runs a fixed 4 to 6), which bounds the cost of a
    choice; ``posterior`` solves to ``tol``."""

    def __init__(self, prior_mu: np.ndarray, prior_sigma: np.ndarray, rng: np.random.Generator, *,
                 batch: bool = False, faint: bool = False, batch_size: int | None = None, max_pairs: int = 20_000,
                 n_anchors: int = 16, n_near: int = 8, n_far: int = 4, tol: float = 1e-3, max_sweeps: int = 5):
        if max_pairs < 1 or min(n_anchors, n_near, n_far) < 0 or n_anchors + n_far == 0:
            raise KavanError("ASAP's candidate counts must be >= 0 with at least one anchor or random partner")
        self._ep = [EPPosterior(m, s) for m, s in zip(prior_mu, prior_sigma)]
        self._rng = rng
        self.batch = batch
        self.batch_size = batch_size
        self.max_pairs, self.n_anchors, self.n_near, self.n_far = max_pairs, n_anchors, n_near, n_far
        self.tol, self.max_sweeps = tol, max_sweeps
        self._level = np.median(prior_mu, axis=1) if faint else None
        n_emotions = len(self._ep)
        self._stale = [True] * n_emotions
        self._state = [CONVERGED] * n_emotions
        self._ranked: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(np.zeros(0, np.int64),) * 2 + (np.zeros(0),)
                                                                          for _ in range(n_emotions)]
        self._queues: list[list[tuple[int, int]]] = [[] for _ in range(n_emotions)]
        self._turn = 0

    @property
    def n_gifs(self) -> int:
        return self._ep[0].n_items

    def observe(self, e: int, winner: int, loser: int, drawn: bool) -> None:
        """Add one vote of emotion e to its graph (``winner`` is either GIF of a draw)."""
        self._ep[e].add(np.array([winner]), np.array([loser]), np.array([drawn]))
        self._stale[e] = True
        self._state[e] = NEW_VOTES

    def posterior(self, e: int, params: TrueSkillParams) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of emotion e's EP posterior, solved to ``tol`` with ``params``' draw margin."""
        self._solve(e, params, full=True)
        return self._ep[e].mu, self._ep[e].sigma

    def _solve(self, e: int, params: TrueSkillParams, full: bool = False) -> None:
        """Sweep emotion e's EP: to convergence (``full``), or at most ``max_sweeps`` once after new votes."""
        ep = self._ep[e]
        p = static_params(params)
        if p != ep.params:
            ep.set_draw_margin(p)
            self._state[e] = NEW_VOTES
        if self._state[e] == CONVERGED or (self._state[e] == SWEPT and not full):
            return
        limit = FULL_SWEEPS if full else self.max_sweeps
        self._state[e] = CONVERGED if ep.solve(self.tol, limit) < limit else SWEPT

    def gain(self, e: int, i: np.ndarray, j: np.ndarray, params: TrueSkillParams) -> np.ndarray:
        """The (weighted) expected information gain of the pairs (i, j) of emotion e on its current posterior."""
        ep = self._ep[e]
        mu, sigma = ep.mu, ep.sigma
        gain = expected_information_gain(mu[i], sigma[i], mu[j], sigma[j], params)
        if self._level is not None:
            gain = gain * informative_share(mu[i], sigma[i], mu[j], sigma[j], self._level[e], params.beta)
        return gain

    # -- choice ------------------------------------------------------------------------------------------

    def next(self, blocked: Collection[tuple[int, int, int]], params: TrueSkillParams) -> tuple[int, int, int] | None:
        """(i, j, e) with i < j, not in ``blocked`` (pairs as (min, max, e)); None when no candidate is free."""
        return self._next_batch(blocked, params) if self.batch else self._next_sequential(blocked, params)

    def _candidates(self, e: int, anchors_only: bool) -> tuple[np.ndarray, np.ndarray]:
        n = self.n_gifs
        if n * (n - 1) // 2 <= self.max_pairs:
            return all_pairs(n)
        mu = self._ep[e].mu
        if not anchors_only:
            return neighbour_pairs(mu, self.n_near, self.n_far, self._rng)
        sigma = self._ep[e].sigma + self._rng.random(n) * 1e-9
        k = min(self.n_anchors, n)
        anchors = np.concatenate([np.argpartition(-sigma, k - 1)[:k], self._rng.integers(0, n, self.n_anchors)])
        order = np.argsort(mu, kind="stable")
        pos = np.searchsorted(mu[order], mu[anchors])
        half = self.n_near // 2 + 1
        offsets = np.arange(-half, half + 1)
        near = order[np.clip(pos[:, None] + offsets[None, :], 0, n - 1)]
        far = self._rng.integers(0, n, (len(anchors), self.n_far))
        partners = np.concatenate([near, far], axis=1)
        return unique_pairs(np.repeat(anchors, partners.shape[1]), partners.ravel(), n)

    def _next_sequential(self, blocked: Collection[tuple[int, int, int]],
                         params: TrueSkillParams) -> tuple[int, int, int] | None:
        best: tuple[float, int, int, int] | None = None
        for e in range(len(self._ep)):
            if self._stale[e]:
                self._solve(e, params)
                i, j = self._candidates(e, anchors_only=True)
                gain = self.gain(e, i, j, params)
                order = np.argsort(-gain * (1.0 + 1e-9 * self._rng.random(len(gain))))  # ties at random
                self._ranked[e] = (i[order], j[order], gain[order])
                self._stale[e] = False
            i, j, gain = self._ranked[e]
            for k in range(len(gain)):
                pick = (int(i[k]), int(j[k]), e)
                if pick not in blocked:
                    if best is None or gain[k] > best[0]:
                        best = (float(gain[k]), *pick)
                    break
        return None if best is None else best[1:]

    def _next_batch(self, blocked: Collection[tuple[int, int, int]],
                    params: TrueSkillParams) -> tuple[int, int, int] | None:
        n_emotions = len(self._ep)
        for _ in range(n_emotions):
            e = self._turn % n_emotions
            self._turn += 1
            for refill in (False, True):
                if refill:
                    self._queues[e] = self.make_batch(e, params)
                queue = self._queues[e]
                for k, (i, j) in enumerate(queue):
                    if (i, j, e) not in blocked:
                        del queue[k]
                        return i, j, e
        return None

    def make_batch(self, e: int, params: TrueSkillParams) -> list[tuple[int, int]]:
        """A new batch for emotion e: the pairs (i < j) of the minimum spanning tree over the candidates weighted by
        1 / EIG on the posterior solved to convergence, largest EIG first."""
        self._solve(e, params, full=True)
        i, j = self._candidates(e, anchors_only=False)
        gain = self.gain(e, i, j, params)
        picked = spanning_batch(i, j, gain, self.n_gifs, self._rng)[:self.batch_size]
        return list(zip(i[picked].tolist(), j[picked].tolist()))


__all__ = ["AsapChooser", "all_pairs", "expected_information_gain", "gaussian_kl", "informative_share",
           "neighbour_pairs", "spanning_batch", "static_params", "unique_pairs"]

