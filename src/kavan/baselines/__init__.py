"""The baselines after Jou et al. (ACM MM 2014) that the KAVAN paper compares with, in the project's protocol.

Two baselines, each a module with ``NAME``, ``LABEL`` (its row name in tables), ``STANDARDISE`` (whether its
regression standardises the features) and
``extract_features(dataset, ids, cache_dir, t=8, config=..., progress=True) -> (len(ids), D) float32``:

- ``colour_histogram``: joint HSV histogram of the T sampled frames, averaged, square-rooted; ridge regression
  with λ chosen by generalised cross-validation on the training split;
- ``face_expression``: largest Haar-cascade face per sampled frame, FER2013 network features (128-D pooled +
  7 class probabilities) averaged over the frames with a face, plus a no-face indicator; ordinary least squares
  (what Jou et al. and the paper use);
- ``face_expression_ridge``: the same features with ridge regression, λ by generalised cross-validation, as the
  colour histogram's: the strongest linear model on those features, and the row the state-of-the-art claim is
  judged against (OLS is unstable on small or hard sets: worse than chance on ``hard``).

``fit_predict`` does one train/test split: features (from the cache when they are there), fit on the training
GIFs, predictions for the test GIFs; ``run_baseline`` adds the paper's metrics (kavan.training.metrics).
docs/baselines.md has the details.

May import: kavan.core, kavan.media, kavan.data, kavan.models and kavan.training: the FER2013 network and the ridge
regression of kavan.models, the metrics of kavan.training.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

from kavan.baselines.config import ColourHistogramConfig, FaceExpressionConfig
from kavan.baselines.linear import LinearBaseline
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.training import metrics

BaselineConfig = ColourHistogramConfig | FaceExpressionConfig

# baseline name (= its module in this package) → its configuration class
BASELINES: dict[str, type[BaselineConfig]] = {
    "colour_histogram": ColourHistogramConfig,
    "face_expression": FaceExpressionConfig,
    "face_expression_ridge": FaceExpressionConfig,
}
# a row that is another module's features with other regression settings: (module, default config, label)
VARIANTS: dict[str, tuple[str, BaselineConfig, str]] = {
    "face_expression_ridge": ("face_expression", FaceExpressionConfig(ridge=None),
                              "Face expression + ridge (GCV; the strongest of its kind)"),
}


def baseline_module(name: str) -> ModuleType:
    """The module of baseline ``name`` (imported on demand: the face baseline loads torch and the network)."""
    if name not in BASELINES:
        raise KavanError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    module = VARIANTS[name][0] if name in VARIANTS else name
    return importlib.import_module(f"kavan.baselines.{module}")


def baseline_label(name: str) -> str:
    """The row name of baseline ``name`` in tables."""
    return VARIANTS[name][2] if name in VARIANTS else baseline_module(name).LABEL


def default_config(name: str) -> BaselineConfig:
    """The settings baseline ``name`` runs with unless told otherwise."""
    return VARIANTS[name][1] if name in VARIANTS else BASELINES[name]()


def fit_predict(name: str, dataset: Dataset, train_ids: list[str], test_ids: list[str],
                cache_dir: str | os.PathLike[str], t: int = 8, config: BaselineConfig | None = None,
                progress: bool = True) -> tuple[np.ndarray, LinearBaseline]:
    """Fit baseline ``name`` on ``train_ids``; its predictions (len(test_ids), 17) for ``test_ids`` and the model.

    Features are cached under ``cache_dir`` and reused by every later split, row and run with the same settings.
    """
    module = baseline_module(name)
    config = default_config(name) if config is None else config
    if not isinstance(config, BASELINES[name]):
        raise KavanError(f"baseline {name!r} takes a {BASELINES[name].__name__}, got {type(config).__name__}")
    if overlap := set(train_ids) & set(test_ids):
        raise KavanError(f"{len(overlap)} id(s) are in both the training and the test split, e.g. {min(overlap)}")
    if len(train_ids) < 2 or not test_ids:
        raise KavanError(f"need at least 2 training GIFs and 1 test GIF, got {len(train_ids)} and {len(test_ids)}")
    features = module.extract_features(dataset, list(train_ids) + list(test_ids), cache_dir, t=t, config=config,
                                       progress=progress)
    x_train, x_test = features[:len(train_ids)], features[len(train_ids):]
    model = LinearBaseline(ridge=config.ridge, standardise=module.STANDARDISE)
    model.fit(x_train, dataset.scores[dataset.rows(list(train_ids))])
    return model.predict(x_test), model


def run_baseline(name: str, dataset: Dataset, train_ids: list[str], test_ids: list[str],
                 cache_dir: str | os.PathLike[str], t: int = 8, config: BaselineConfig | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Fit baseline ``name`` on ``train_ids`` and score it on ``test_ids`` (``fit_predict``, then kavan.training.metrics).

    Returns ``accuracy`` (4-class, quadrant of the argmax predicted emotion), ``nmse_per_gif``,
    ``nmse_per_emotion``, ``pearson_per_emotion`` ({emotion: r}, NaN where r is undefined), ``pearson_mean``
    (over the emotions where r is defined), ``ridge`` (the λ used), ``n_train`` and ``n_test``.
    """
    pred, model = fit_predict(name, dataset, train_ids, test_ids, cache_dir, t=t, config=config, progress=progress)
    y_test = dataset.scores[dataset.rows(list(test_ids))]
    return {
        **metrics.summary(pred, y_test),
        "ridge": model.ridge_,
        "n_train": len(train_ids),
        "n_test": len(test_ids),
    }
