"""Linear least squares from features to several targets at once, with an optional ridge penalty chosen by GCV.

Two users: the baselines after Jou et al. (kavan.baselines.linear: features → the 17 emotion intensities) and the
closed-form read-out of a trained KAVAN's regression head (kavan.training.readout: GIF representations → the
head's pre-sigmoid outputs).

``RidgeRegression(ridge=λ)`` fits ŷ = b + ((x − μ) / σ) W by minimising Σ‖y − ŷ‖² + λ‖W‖²_F over the
training rows, for all target columns at once. μ is the training mean of the features; σ is their training
standard deviation when ``standardise`` is on (σ of a constant feature is taken as 1, so it stays 0 and gets no
weight) and 1 when it is off. The intercept b is the training mean of the targets and is not penalised. It is solved
through the SVD of the centred (and scaled) training matrix:

- λ = 0 is ordinary least squares; where features are collinear (a histogram's bins sum to 1, the 7 class
  probabilities too) the SVD gives the minimum-norm solution, singular values below ``RCOND`` · s_max counted
  as zero, which is what ``numpy.linalg.lstsq`` does;
- λ = None picks λ from ``LAMBDA_GRID`` · n by generalised cross-validation (Golub, Heath & Wahba 1979): the λ
  minimising GCV(λ) = n · ‖(I − H_λ) Y‖² / (n − 1 − tr H_λ)², H_λ the ridge hat matrix of the centred
  features (the 1 is the intercept's degree of freedom), residuals summed over the 17 emotions. GCV
  approximates leave-one-out error on the training split alone, so no test GIF is looked at.

Predictions are the raw linear outputs (not clipped).
"""

from __future__ import annotations

import numpy as np

RCOND = 1e-10
# λ / n, n the number of training GIFs: from almost OLS to a penalty that shrinks everything to the mean.
LAMBDA_GRID = np.logspace(-6, 2, 33)


class RidgeRegression:
    """Least squares (``ridge=0``), ridge with a fixed λ, or ridge with λ chosen by GCV (``ridge=None``), on
    standardised features or (``standardise=False``) on the features as they are."""

    def __init__(self, ridge: float | None = 0.0, standardise: bool = True):
        if ridge is not None and ridge < 0:
            raise ValueError(f"ridge must be >= 0 or None, got {ridge}")
        self.ridge = ridge
        self.standardise = standardise
        self.ridge_: float | None = None  # λ actually used, set by fit

    def fit(self, features: np.ndarray, targets: np.ndarray) -> RidgeRegression:
        """Fit on training features (n, D) and their targets (n, k); returns self."""
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(targets, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or len(y) != len(x) or len(x) < 2:
            raise ValueError(f"need features (n, D) and targets (n, k) with n >= 2, got {x.shape} and {y.shape}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("features and scores must be finite")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        varies = std > 1e-12 * np.maximum(1.0, np.abs(self.mean_))
        self.scale_ = np.where(varies, std, 1.0) if self.standardise else np.ones_like(std)
        self.intercept_ = y.mean(axis=0)
        z = (x - self.mean_) / self.scale_
        yc = y - self.intercept_
        u, s, vt = np.linalg.svd(z, full_matrices=False)
        keep = s > RCOND * s.max() if s.size and s.max() > 0 else np.zeros_like(s, dtype=bool)
        u, s, vt = u[:, keep], s[keep], vt[keep]
        uty = u.T @ yc
        lam = self._gcv(s, uty, yc, len(x)) if self.ridge is None else float(self.ridge)
        self.ridge_ = lam
        self.coef_ = vt.T @ ((s / (s ** 2 + lam))[:, None] * uty)
        return self

    @staticmethod
    def _gcv(s: np.ndarray, uty: np.ndarray, yc: np.ndarray, n: int) -> float:
        """The λ of LAMBDA_GRID · n with the smallest GCV score (the largest λ on a tie, the safer fit)."""
        outside = float((yc ** 2).sum() - (uty ** 2).sum())  # residual no λ can reduce
        best, best_score = 0.0, np.inf
        for lam in LAMBDA_GRID * n:
            shrink = lam / (s ** 2 + lam)  # (1 − h) along each singular direction
            residual = outside + float(((shrink[:, None] * uty) ** 2).sum())
            dof = 1.0 + float((s ** 2 / (s ** 2 + lam)).sum())  # the intercept, then tr H_λ
            score = n * residual / (n - dof) ** 2 if n > dof else np.inf
            if score <= best_score:
                best, best_score = float(lam), score
        return best

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicted targets (n, k) float64 for features (n, D)."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("fit the baseline before predicting")
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.mean_):
            raise ValueError(f"expected features (n, {len(self.mean_)}), got {x.shape}")
        return self.intercept_ + ((x - self.mean_) / self.scale_) @ self.coef_
