"""ASAP: the full EP posterior over all votes, its expected information gain, and the batch by minimum spanning tree.

The hand-worked example is three GIFs A, B, C with prior N(0, 1) each, β² = ½ (so the performance difference has
variance 2β² = 1, as in ASAP's code), no dynamics, no draw margin, and the votes A > B, B > C.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kavan.core.errors import KavanError
from kavan.labels.asap import (
    AsapChooser,
    expected_information_gain,
    gaussian_kl,
    informative_share,
    spanning_batch,
    static_params,
)
from kavan.labels.ep_posterior import EPPosterior
from kavan.labels.pairing import PairSelector
from kavan.labels.ratings import Votes, rate_votes
from kavan.labels.trueskill_update import TrueSkillParams, outcome_probabilities, rate_1vs1

UNIT = TrueSkillParams(mu=0.0, sigma=1.0, beta=math.sqrt(0.5), tau=0.0, draw_probability=0.0)


def _three_gifs() -> EPPosterior:
    ep = EPPosterior(np.zeros(3), np.ones(3), UNIT)
    ep.add(np.array([0, 1]), np.array([1, 2]), np.array([False, False]))  # A > B, B > C
    return ep


def test_no_votes_leave_the_prior():
    rng = np.random.default_rng(0)
    mu, sigma = rng.uniform(0, 50, 7), rng.uniform(1, 9, 7)
    ep = EPPosterior(mu, sigma)
    assert ep.sweep() == 0.0 and ep.solve() == 1
    assert np.allclose(ep.mu, mu, rtol=0, atol=1e-12) and np.allclose(ep.sigma, sigma, rtol=0, atol=1e-12)


def test_one_sweep_by_hand():
    """Sweep 1: every cavity is the prior N(0, 1), so both votes see c² = 2β² + 1 + 1 = 3 and t = 0:
    V(0) = φ(0)/Φ(0) = 0.7978846, W(0) = V(V + 0) = 0.6366198.

    A (winner of A > B): m = 0 + (1/√3)·V = 0.4606589, v = 1·(1 − W/3) = 0.7877934; C is its mirror.
    B loses one vote and wins the other: each message has precision 1/0.7877934 − 1 = 0.2693683 and precision·mean
    ∓0.4606589/0.7877934 = ∓0.5847458, so B's precision is 1 + 2·0.2693683 = 1.5387366: m = 0, v = 0.6498838.
    """
    ep = _three_gifs()
    ep.sweep()
    assert ep.mu == pytest.approx([0.4606589, 0.0, -0.4606589], abs=1e-6)
    assert ep.sigma ** 2 == pytest.approx([0.7877934, 0.6498838, 0.7877934], abs=1e-6)


def test_second_sweep_by_hand():
    """Sweep 2, vote A > B: A's cavity is its prior N(0, 1) (A has no other vote); B's cavity without this vote is
    B's prior times the message of B > C: precision 1.5387366 − 0.2693683 = 1.2693683, mean 0.5847458/1.2693683 =
    0.4606589, variance 0.7877934. So c² = 1 + 1 + 0.7877934 = 2.7877934, t = (0 − 0.4606589)/√2.7877934 =
    −0.2758984, V(t) = φ(t)/Φ(t) = 0.9813, W = V(V + t) = 0.6923, and A: m = V/c = 0.5877954,
    v = 1 − W/c² = 0.7516247. B's new message from this vote: tilted N(0.4606589 − (0.7877934/c)·V,
    0.7877934·(1 − 0.7877934·W/c²)) over the cavity gives precision 0.3087972; with the mirror vote B's precision is
    1 + 2·0.3087972, variance 0.6182020, mean 0.
    """
    ep = _three_gifs()
    ep.sweep()
    ep.sweep()
    assert ep.mu == pytest.approx([0.5877954, 0.0, -0.5877954], abs=1e-6)
    assert ep.sigma ** 2 == pytest.approx([0.7516247, 0.6182020, 0.7516247], abs=1e-6)


def test_converged_posterior_is_a_fixed_point_near_the_exact_posterior():
    """EP converges in a few sweeps to A: m 0.587937, v 0.749860; B: m 0, v 0.617880 (C mirrors A); one more sweep
    changes nothing. The exact posterior, N(0, I) · Φ(s_A − s_B) · Φ(s_B − s_C) integrated on a 241³ grid over
    [−6, 6]³, has A: m 0.58784, v 0.75019; B: v 0.61704: EP's Gaussian is within 1e-3 of it."""
    ep = _three_gifs()
    assert ep.solve(tol=1e-12, max_sweeps=200) < 50
    assert ep.sweep() < 1e-12
    assert ep.mu == pytest.approx([0.587937, 0.0, -0.587937], abs=1e-5)
    assert ep.sigma ** 2 == pytest.approx([0.749860, 0.617880, 0.749860], abs=1e-5)
    assert ep.mu == pytest.approx([0.58784, 0.0, -0.58784], abs=1e-3)
    assert ep.sigma ** 2 == pytest.approx([0.75019, 0.61704, 0.75019], abs=1e-3)


def test_expected_information_gain_orders_the_three_pairs_by_hand():
    """On the converged posterior, KL_k = ½(a_k·V² − a_k·W − ln(1 − a_k·W)) with a_k = v_k/c², EIG = Σ_o P(o)·(KL of
    both GIFs):

    (A, C): c² = 1 + 2·0.749860 = 2.499721, t = 1.175874/c = 0.743729, a = 0.299978.
        A wins: P = Φ(0.743729) = 0.771480, V = 0.392170, W = 0.445465, KL both = 0.055949;
        C wins: P = 0.228520, V = 1.323958, W = 0.768199, KL both = 0.557317;
        EIG = 0.771480·0.055949 + 0.228520·0.557317 = 0.170522.
    (A, B): c² = 1 + 0.749860 + 0.617880 = 2.367740, t = 0.382088, a_A = 0.316699, a_B = 0.260958.
        A wins: P = 0.648802, V = 0.571605, W = 0.545136, KL both = 0.108405;
        B wins: P = 0.351198, V = 1.055982, W = 0.711619, KL both = 0.346935;
        EIG = 0.192176; (B, C) mirrors (A, B).
    So (A, B) = (B, C) > (A, C): the pair whose order the two votes already imply is worth least.
    """
    ep = _three_gifs()
    ep.solve(tol=1e-12)
    mu, sigma = ep.mu, ep.sigma
    i, j = np.array([0, 1, 0]), np.array([1, 2, 2])
    gain = expected_information_gain(mu[i], sigma[i], mu[j], sigma[j], UNIT)
    assert gain == pytest.approx([0.192176, 0.192176, 0.170522], abs=2e-6)


def test_expected_information_gain_is_the_expected_kl_of_the_one_vote_update():
    """The closed form equals Σ_o P(o)·KL computed from rate_1vs1's updated marginals, with and without draws."""
    rng = np.random.default_rng(3)
    n = 500
    mi, mj, si, sj = rng.uniform(0, 50, n), rng.uniform(0, 50, n), rng.uniform(0.5, 9, n), rng.uniform(0.5, 9, n)
    for draw in (0.0, 0.1, 0.78):
        p = static_params(TrueSkillParams(draw_probability=draw))
        pi, pj, pd = outcome_probabilities(mi, si, mj, sj, p)
        no, yes = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
        win, lose, tie = (rate_1vs1(mi, si, mj, sj, no, p), rate_1vs1(mj, sj, mi, si, no, p),
                          rate_1vs1(mi, si, mj, sj, yes, p))
        expected = (pi * (gaussian_kl(win[0], win[1] ** 2, mi, si ** 2) + gaussian_kl(win[2], win[3] ** 2, mj, sj ** 2))
                    + pj * (gaussian_kl(lose[2], lose[3] ** 2, mi, si ** 2)
                            + gaussian_kl(lose[0], lose[1] ** 2, mj, sj ** 2))
                    + pd * (gaussian_kl(tie[0], tie[1] ** 2, mi, si ** 2) + gaussian_kl(tie[2], tie[3] ** 2, mj, sj ** 2)))
        assert np.allclose(expected_information_gain(mi, si, mj, sj, p), expected, rtol=1e-9, atol=1e-12)
    assert np.all(expected_information_gain(mi, si, mj, sj, p) > 0)


def test_vote_order_does_not_change_the_converged_posterior_unlike_the_online_filter():
    rng = np.random.default_rng(1)
    n, k = 30, 200
    first = rng.integers(0, n, k)
    second = (first + rng.integers(1, n, k)) % n
    drawn = rng.random(k) < 0.4
    params = static_params(TrueSkillParams(draw_probability=0.4))
    posteriors = []
    for order in (np.arange(k), rng.permutation(k)):
        ep = EPPosterior(np.full(n, 25.0), np.full(n, 25 / 3), params)
        ep.add(first[order], second[order], drawn[order])
        ep.solve(tol=1e-10, max_sweeps=1000)
        posteriors.append((ep.mu, ep.sigma))
    assert np.allclose(posteriors[0][0], posteriors[1][0], atol=1e-7)
    assert np.allclose(posteriors[0][1], posteriors[1][1], atol=1e-7)
    online = [rate_votes(Votes([str(g) for g in range(n)], first[o], second[o], np.zeros(k, dtype=np.int64),
                               np.where(drawn[o], 0, 1).astype(np.int8)))["mu"][:, 0]
              for o in (np.arange(k), np.arange(k)[::-1])]
    assert np.max(np.abs(online[0] - online[1])) > 0.5  # the online filter depends on the order


def test_a_draw_pulls_two_ratings_together_and_narrows_both():
    params = static_params(TrueSkillParams(draw_probability=0.5))
    ep = EPPosterior(np.array([30.0, 20.0]), np.array([5.0, 5.0]), params)
    ep.add(np.array([1]), np.array([0]), np.array([True]))
    ep.solve()
    assert 20 < ep.mu[1] < ep.mu[0] < 30 and ep.mu[0] - 25 == pytest.approx(25 - ep.mu[1])
    assert np.all(ep.sigma < 5.0)


def test_bad_inputs_are_kavan_errors():
    with pytest.raises(KavanError):
        EPPosterior(np.zeros(3), np.ones(2))
    with pytest.raises(KavanError):
        EPPosterior(np.zeros(3), np.array([1.0, 0.0, 1.0]))
    ep = EPPosterior(np.zeros(3), np.ones(3))
    with pytest.raises(KavanError):
        ep.add(np.array([0]), np.array([0]), np.array([False]))
    with pytest.raises(KavanError):
        ep.add(np.array([0]), np.array([3]), np.array([False]))


def test_spanning_batch_is_the_maximum_gain_tree():
    """Four GIFs, gains on the six pairs: the tree of least total 1/gain keeps the three largest gains that make no
    cycle: (0,1) 5, (2,3) 4, then (1,2) 3 — not (0,2) 2.5 (would close 0-1-2), nor the others."""
    i = np.array([0, 0, 0, 1, 1, 2])
    j = np.array([1, 2, 3, 2, 3, 3])
    gain = np.array([5.0, 2.5, 1.0, 3.0, 0.5, 4.0])
    picked = spanning_batch(i, j, gain, 4, np.random.default_rng(0))
    assert [(int(i[k]), int(j[k])) for k in picked] == [(0, 1), (2, 3), (1, 2)]


def test_a_batch_spans_every_gif_once_and_never_repeats_a_pair():
    n = 12
    chooser = AsapChooser(np.full((1, n), 25.0), np.full((1, n), 25 / 3), np.random.default_rng(0), batch=True)
    params = TrueSkillParams()
    chooser.observe(0, 3, 4, False)
    batch = chooser.make_batch(0, params)
    assert len(batch) == n - 1 and len(set(batch)) == n - 1 and all(i < j for i, j in batch)
    parent = list(range(n))  # a spanning tree: n - 1 edges that join every GIF into one component

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for i, j in batch:
        parent[root(i)] = root(j)
    assert len({root(x) for x in range(n)}) == 1


def test_the_selector_hands_out_a_batch_without_repeats_and_never_a_busy_pair():
    ids = [f"g{i}" for i in range(10)]
    sel = PairSelector(ids, ["joy"], strategy="asap", seed=5, batch=True)
    busy = [("g0", "g1", "joy"), ("g2", "g1", "joy"), ("g5", "g9", "joy")]
    seen = []
    for _ in range(9):  # one batch: a spanning tree of 10 GIFs has 9 pairs
        a, b, e = sel.next(busy + [(x, y, "joy") for x, y in seen])
        pair = tuple(sorted((a, b)))
        assert a != b and e == "joy" and {a, b} not in ({"g0", "g1"}, {"g1", "g2"}, {"g5", "g9"})
        assert pair not in seen
        seen.append(pair)


def test_asap_selector_keeps_the_full_posterior_of_all_votes():
    ids = ["a", "b", "c", "d"]
    sel = PairSelector(ids, ["fear"], strategy="asap", seed=0)
    votes = [("a", "b", "a"), ("b", "c", "neither"), ("c", "d", "b"), ("a", "d", "a")]
    for x, y, w in votes:
        sel.observe(x, y, "fear", w)
    mu, sigma = sel.posterior("fear")
    ep = EPPosterior(np.full(4, 25.0), np.full(4, 25 / 3), static_params(sel._selection_params()))
    ep.add(np.array([0, 1, 3, 0]), np.array([1, 2, 2, 3]), np.array([False, True, False, False]))
    ep.solve()
    assert np.allclose(mu, ep.mu, atol=1e-3) and np.allclose(sigma, ep.sigma, atol=1e-3)
    assert mu[0] > mu[1] and mu[3] > mu[2]
    with pytest.raises(KavanError):
        PairSelector(ids, ["fear"]).posterior("fear")


def test_informative_share_is_small_only_when_both_gifs_are_below_the_level():
    beta = 25 / 6
    share = informative_share(np.array([5.0, 5.0, 40.0]), np.full(3, 2.0), np.array([5.0, 40.0, 40.0]),
                              np.full(3, 2.0), 20.0, beta)
    assert share[0] < 0.01 and share[1] > 0.99 and share[2] > 0.99


@pytest.mark.parametrize("batch", [False, True])
def test_the_limited_candidate_sets_never_hand_out_a_busy_pair(batch):
    """With more pairs than max_pairs, candidates are anchors/neighbours plus random partners; busy pairs (either
    order) are still skipped, and every GIF of a batch's tree is reached."""
    ids = [f"g{i}" for i in range(30)]
    sel = PairSelector(ids, ["fear", "anger"], strategy="asap", seed=2, batch=batch, asap_options={"max_pairs": 50})
    rng = np.random.default_rng(0)
    busy: list[tuple[str, str, str]] = []
    for _ in range(120):
        a, b, e = sel.next(busy)
        assert a != b and (a, b, e) not in busy and (b, a, e) not in busy
        busy.append((b, a, e))
        if len(busy) > 20:
            x, y, emo = busy.pop(0)
            sel.observe(x, y, emo, ("a", "b", "neither")[int(rng.integers(3))])
