"""The baselines' regression: features → the 17 emotion intensities by least squares or ridge (λ by GCV).

The solver is kavan.models.ridge.RidgeRegression (shared with the ridge read-out of a trained model); this
adds the 17-emotion check and the quadrant of a GIF's argmax emotion (``kavan.core.emotions.quadrant_index``).
Predictions are the raw linear outputs (not clipped to [0, 1]).
"""

from __future__ import annotations

import numpy as np

from kavan.core.emotions import EMOTIONS, quadrant_index
from kavan.models.ridge import LAMBDA_GRID, RCOND, RidgeRegression


class LinearBaseline(RidgeRegression):
    """RidgeRegression onto the 17 emotion intensities (see kavan.models.ridge for ``ridge`` and
    ``standardise``)."""

    def fit(self, features: np.ndarray, scores: np.ndarray) -> LinearBaseline:
        """Fit on training features (n, D) and their intensities (n, 17); returns self."""
        shape = np.shape(scores)
        if len(shape) != 2 or shape[1] != len(EMOTIONS):
            raise ValueError(f"need scores (n, {len(EMOTIONS)}), got {shape}")
        super().fit(features, scores)
        return self

    def predict_quadrants(self, features: np.ndarray) -> np.ndarray:
        """Quadrant index (n,) of each GIF's highest predicted emotion."""
        return quadrant_index(self.predict(features))


__all__ = ["LAMBDA_GRID", "RCOND", "LinearBaseline"]
