"""Module-scoped keypoint estimators for the tests (loading the models takes about a second each)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def estimator():
    from kavan.keypoints.backends import Estimator

    est = Estimator()
    yield est
    est.close()


@pytest.fixture(scope="module")
def dlib_estimator():
    from kavan.keypoints.backends import Estimator
    from kavan.keypoints.config import KeypointConfig

    est = Estimator(KeypointConfig(backend="mediapipe-dlib68"))
    yield est
    est.close()
