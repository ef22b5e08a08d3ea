"""LinearBaseline: OLS recovers a known linear map, copes with collinear features; ridge and its GCV choice."""

from __future__ import annotations

import numpy as np
import pytest

from kavan.baselines.linear import LAMBDA_GRID, LinearBaseline
from kavan.core.emotions import quadrant_index


def linear_data(n: int, d: int, seed: int, noise: float = 0.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d) + rng.normal(size=d)
    w = rng.normal(size=(d, 17))
    b = rng.uniform(0.2, 0.8, size=17)
    y = b + x @ w + noise * rng.normal(size=(n, 17))
    return x, y, w, b


def test_ols_recovers_a_known_linear_map():
    x, y, w, b = linear_data(120, 9, seed=1)
    model = LinearBaseline(ridge=0.0).fit(x, y)
    assert model.ridge_ == 0.0
    x_new = np.random.default_rng(5).normal(size=(30, 9))   # points the model has not seen
    np.testing.assert_allclose(model.predict(x_new), b + x_new @ w, atol=1e-9)
    np.testing.assert_allclose(model.coef_ / model.scale_[:, None], w, atol=1e-9)   # back in raw feature units


def test_ols_with_collinear_and_constant_features_still_fits_the_map():
    x, y, w, b = linear_data(80, 5, seed=2)
    # a duplicated column, a column that is a sum of two others, and a constant column
    wide = np.column_stack([x, x[:, 0], x[:, 1] + x[:, 2], np.full(len(x), 3.0)])
    model = LinearBaseline(ridge=0.0).fit(wide, y)
    np.testing.assert_allclose(model.predict(wide), y, atol=1e-8)
    x_new = np.random.default_rng(6).normal(size=(10, 5))
    wide_new = np.column_stack([x_new, x_new[:, 0], x_new[:, 1] + x_new[:, 2], np.full(10, 3.0)])
    np.testing.assert_allclose(model.predict(wide_new), b + x_new @ w, atol=1e-8)


def test_histogram_like_features_summing_to_one_fit_without_blowing_up():
    rng = np.random.default_rng(3)
    hist = rng.dirichlet(np.ones(12), size=200)          # every row sums to 1: collinear with the intercept
    w = rng.normal(size=(12, 17))
    y = hist @ w
    model = LinearBaseline(ridge=0.0).fit(hist, y)
    np.testing.assert_allclose(model.predict(hist), y, atol=1e-9)
    assert np.abs(model.coef_).max() < 1e3


def test_a_large_fixed_ridge_shrinks_predictions_to_the_training_mean():
    x, y, _, _ = linear_data(60, 4, seed=4)
    model = LinearBaseline(ridge=1e9).fit(x, y)
    np.testing.assert_allclose(model.predict(x[:5]), np.broadcast_to(y.mean(axis=0), (5, 17)), atol=1e-3)
    assert model.ridge_ == 1e9


@pytest.mark.parametrize("standardise", [True, False])
def test_fixed_ridge_is_the_closed_form_solution_on_the_chosen_scale(standardise):
    x, y, _, _ = linear_data(40, 6, seed=11, noise=0.5)
    lam = 7.0
    model = LinearBaseline(ridge=lam, standardise=standardise).fit(x, y)
    z = x - x.mean(axis=0)
    if standardise:
        z = z / x.std(axis=0)
    coef = np.linalg.solve(z.T @ z + lam * np.eye(6), z.T @ (y - y.mean(axis=0)))
    np.testing.assert_allclose(model.coef_, coef, atol=1e-10)
    np.testing.assert_allclose(model.predict(x), y.mean(axis=0) + z @ coef, atol=1e-10)


def test_gcv_picks_no_penalty_for_exact_data_and_a_penalty_for_noisy_wide_data():
    x, y, _, _ = linear_data(100, 6, seed=7)
    exact = LinearBaseline(ridge=None).fit(x, y)
    assert exact.ridge_ == pytest.approx(LAMBDA_GRID[0] * 100)
    # 60 GIFs, 40 features of which 3 matter, strong noise: OLS overfits, GCV shrinks and predicts better.
    rng = np.random.default_rng(8)
    x = rng.normal(size=(260, 40))
    w = np.zeros((40, 17))
    w[:3] = rng.normal(size=(3, 17)) * 0.3
    y = 0.5 + x @ w + rng.normal(size=(260, 17))
    train, test = slice(0, 60), slice(60, None)
    gcv = LinearBaseline(ridge=None).fit(x[train], y[train])
    ols = LinearBaseline(ridge=0.0).fit(x[train], y[train])
    assert gcv.ridge_ > 1.0

    def error(m):
        return float(((m.predict(x[test]) - y[test]) ** 2).mean())

    assert error(gcv) < 0.8 * error(ols)


def test_quadrants_are_those_of_the_argmax_predicted_emotion():
    x, y, _, _ = linear_data(50, 3, seed=9)
    model = LinearBaseline().fit(x, y)
    np.testing.assert_array_equal(model.predict_quadrants(x), quadrant_index(model.predict(x)))


def test_bad_shapes_and_values_are_refused():
    x, y, _, _ = linear_data(20, 3, seed=10)
    with pytest.raises(ValueError):
        LinearBaseline().fit(x, y[:, :5])
    with pytest.raises(ValueError):
        LinearBaseline().fit(x[:1], y[:1])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        LinearBaseline().fit(bad, y)
    with pytest.raises(ValueError):
        LinearBaseline(ridge=-1.0)
    with pytest.raises(RuntimeError):
        LinearBaseline().predict(x)
    with pytest.raises(ValueError):
        LinearBaseline().fit(x, y).predict(x[:, :2])
