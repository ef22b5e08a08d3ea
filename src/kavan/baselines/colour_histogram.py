"""Baseline 1 after Jou et al. (ACM MM 2014): a GIF's colour histogram, then least squares to the 17 intensities.

Per sampled frame, the joint histogram over the three channels of a colour space (HSV by default: hue apart from
saturation and brightness, so a tint and a lighting change land in different bins), with ``bins`` uniform bins
per channel (``cv2.calcHist``), normalised to sum 1; the GIF's feature is the mean over its T TSN evaluation
frames (a frame that repeats because the GIF is shorter than T counts as often as it is sampled), then its
element-wise square root (``root``, the Hellinger mapping).

The regression is ridge with λ chosen by generalised cross-validation on the training split, on the features as
they are (``STANDARDISE = False``): all bins share one scale (shares of pixels), and dividing by each bin's
standard deviation would blow up bins that are nearly empty in the training GIFs, so that one test GIF with
such a colour gets a wild prediction (docs/baselines.md has the measurements).

Hue in OpenCV's 8-bit HSV runs over 0–179 (degrees halved); saturation and value over 0–255. A grey pixel has
hue 0 and saturation 0, so greys fall into the lowest saturation bins of the first hue bin.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from kavan.baselines.config import ColourHistogramConfig, feature_settings
from kavan.baselines.extraction import BaselineCache, FeatureFunction, extract
from kavan.data.dataset import Dataset

NAME = "colour_histogram"
LABEL = "Colour histogram + ridge (Jou et al. 2014)"
STANDARDISE = False

_RANGES = {"hsv": [0, 180, 0, 256, 0, 256], "rgb": [0, 256, 0, 256, 0, 256]}


def frame_histogram(frame: np.ndarray, config: ColourHistogramConfig = ColourHistogramConfig()) -> np.ndarray:
    """The normalised joint colour histogram of one (H, W, 3) uint8 RGB frame: (prod(bins),) float64, sum 1.

    Bin (i, j, k) of the channels in the space's order is at index (i · bins[1] + j) · bins[2] + k.
    """
    image = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV) if config.space == "hsv" else np.ascontiguousarray(frame)
    hist = cv2.calcHist([image], [0, 1, 2], None, list(config.bins), _RANGES[config.space]).ravel()
    return hist.astype(np.float64) / (frame.shape[0] * frame.shape[1])


def gif_feature(frames: np.ndarray, config: ColourHistogramConfig = ColourHistogramConfig()) -> np.ndarray:
    """A GIF's feature: the mean of its frames' histograms (square-rooted with ``root``), (prod(bins),) float32."""
    pooled = np.mean([frame_histogram(frame, config) for frame in frames], axis=0)
    return (np.sqrt(pooled) if config.root else pooled).astype(np.float32)


def feature_names(config: ColourHistogramConfig = ColourHistogramConfig()) -> list[str]:
    """One name per feature dimension, e.g. ``hsv[0,3,3]``."""
    a, b, c = config.bins
    return [f"{config.space}[{i},{j},{k}]" for i in range(a) for j in range(b) for k in range(c)]


def extract_features(dataset: Dataset, ids: list[str], cache_dir: str | os.PathLike[str], t: int = 8,
                     config: ColourHistogramConfig = ColourHistogramConfig(), progress: bool = True) -> np.ndarray:
    """Features (len(ids), prod(bins)) float32 of the dataset's GIFs ``ids``, cached under ``cache_dir``."""
    cache = BaselineCache(cache_dir, NAME, feature_settings(config) | {"opencv": cv2.__version__}, t)

    def compute() -> FeatureFunction:
        return lambda frames, indices: gif_feature(frames, config)

    return extract(dataset, ids, cache, t, compute, progress)
