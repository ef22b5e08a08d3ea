"""The TrueSkill 1-vs-1 update with draws, vectorised over many independent games with numpy.

``trueskill.rate_1vs1`` builds a factor graph per game in pure Python (about 100 µs a game), so 340,000
GIFGIF-style votes would take about a minute. For two players the factor graph has a closed form
(Herbrich, Minka & Graepel, "TrueSkill", NIPS 2006; Moser, "Computing your skill", 2010):

    s_i² = σ_i² + τ²                   (dynamics: the prior widens by τ before each game)
    c²   = 2β² + s_1² + s_2²
    t    = (μ_1 − μ_2) / c,  ε = draw_margin / c
    μ_1' = μ_1 + (s_1² / c) · v(t, ε),     μ_2' = μ_2 − (s_2² / c) · v(t, ε)
    σ_i'² = s_i² · (1 − (s_i² / c²) · w(t, ε))

with player 1 the winner (or either player of a draw) and v, w the win or draw versions of the truncated
Gaussian corrections. The normal cdf, pdf and the draw margin are computed exactly as the ``trueskill``
package's default backend does (its erfc approximation from Numerical Recipes, fractional error < 1.2e-7),
so results match ``trueskill.rate_1vs1`` to rounding error; tests/test_ratings.py checks this to 1e-9.

One difference: where the approximated tails make w leave [0, 1] (a win so improbable that the tail
probability underflows), ``trueskill`` raises FloatingPointError; here w is clipped to [0, 1], which keeps
σ positive because s_i² < c².
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import trueskill

# The coefficients of trueskill.backends.erfc (Numerical Recipes' erfcc).
_ERFC_COEFFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)


@dataclass(frozen=True)
class TrueSkillParams:
    """A TrueSkill environment. The defaults are the ``trueskill`` package's, which GIFGIF used.

    ``mu``/``sigma`` are the prior of every GIF on GIFGIF's 0–50 scale; ``beta`` is the performance noise
    (a skill gap of β gives about a 76 % chance of winning); ``tau`` is the per-game dynamics noise;
    ``draw_probability`` is the prior chance of a draw ("neither") between equal GIFs.
    """

    mu: float = trueskill.MU
    sigma: float = trueskill.SIGMA
    beta: float = trueskill.BETA
    tau: float = trueskill.TAU
    draw_probability: float = trueskill.DRAW_PROBABILITY

    def environment(self) -> trueskill.TrueSkill:
        """The equivalent ``trueskill.TrueSkill`` object (default backend)."""
        return trueskill.TrueSkill(mu=self.mu, sigma=self.sigma, beta=self.beta, tau=self.tau,
                                   draw_probability=self.draw_probability)

    @cached_property
    def draw_margin(self) -> float:
        """ε·c for a 1-vs-1 game, computed by ``trueskill`` itself so the two agree bit for bit."""
        return trueskill.calc_draw_margin(self.draw_probability, 2, self.environment())


def _erfc(x: np.ndarray) -> np.ndarray:
    z = np.abs(x)
    t = 1.0 / (1.0 + z / 2.0)
    poly = _ERFC_COEFFS[-1]
    for coeff in reversed(_ERFC_COEFFS[1:-1]):
        poly = coeff + t * poly
    r = t * np.exp(-z * z + _ERFC_COEFFS[0] + t * poly)
    return np.where(x < 0, 2.0 - r, r)


def _cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * _erfc(-x / math.sqrt(2))


def _pdf(x: np.ndarray) -> np.ndarray:
    return 1 / math.sqrt(2 * math.pi) * np.exp(-(x ** 2) / 2)


def _v_w_win(t: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = t - eps
    denom = _cdf(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(denom > 0, _pdf(x) / denom, -x)
    return v, v * (v + x)


def _v_w_draw(t: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    abs_t = np.abs(t)
    a, b = eps - abs_t, -eps - abs_t
    denom = _cdf(a) - _cdf(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_abs = np.where(denom > 0, (_pdf(b) - _pdf(a)) / denom, a)
        w = v_abs ** 2 + (a * _pdf(a) - b * _pdf(b)) / denom
    v = np.where(t < 0, -v_abs, v_abs)
    return v, np.where(denom > 0, w, 1.0)


def rate_1vs1(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
              drawn: np.ndarray, params: TrueSkillParams) -> tuple[np.ndarray, ...]:
    """New (mu1, sigma1, mu2, sigma2) after games where player 1 beat player 2 (or they drew, where ``drawn``).

    All arguments are 1-D arrays of one length (one entry per game); the games must be independent
    (no player twice), since each is updated from the ratings passed in.
    """
    s1 = sigma1 ** 2 + params.tau ** 2
    s2 = sigma2 ** 2 + params.tau ** 2
    c2 = 2 * params.beta ** 2 + s1 + s2
    c = np.sqrt(c2)
    t = (mu1 - mu2) / c
    eps = params.draw_margin / c
    v_win, w_win = _v_w_win(t, eps)
    v_draw, w_draw = _v_w_draw(t, eps)
    v = np.where(drawn, v_draw, v_win)
    w = np.clip(np.where(drawn, w_draw, w_win), 0.0, 1.0)
    return (mu1 + s1 / c * v, np.sqrt(s1 * (1 - s1 / c2 * w)),
            mu2 - s2 / c * v, np.sqrt(s2 * (1 - s2 / c2 * w)))


def outcome_probabilities(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                          params: TrueSkillParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(1 wins), P(2 wins), P(draw) under the TrueSkill model (performances N(mu, sigma² + tau² + beta²))."""
    c = np.sqrt(2 * params.beta ** 2 + sigma1 ** 2 + sigma2 ** 2 + 2 * params.tau ** 2)
    p1 = _cdf((mu1 - mu2 - params.draw_margin) / c)
    p2 = _cdf((mu2 - mu1 - params.draw_margin) / c)
    return p1, p2, np.clip(1.0 - p1 - p2, 0.0, 1.0)
