"""Shared fixtures: where the real GIFs live (read in place, never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kavan.experiments.demo import real_gif_folder
from keypoint_estimators import dlib_estimator, estimator  # noqa: F401 (fixtures shared by the keypoint tests)

# $KAVAN_REAL_GIFS, else the shared folder beside the checkout, else where the workplace keeps it (a clone elsewhere)
_SHARED = (Path(__file__).resolve().parents[2] / "shared" / "data" / "real-gifs", Path("/work/shared/data/real-gifs"))
REAL_GIF_DIR = real_gif_folder() or next((p for p in _SHARED if any(p.glob("*.gif"))), None)


@pytest.fixture(scope="session")
def real_gifs() -> Path:
    """Folder of the shared real GIFs; set KAVAN_REAL_GIFS to point elsewhere."""
    if REAL_GIF_DIR is None:
        pytest.skip("real GIFs not found: set KAVAN_REAL_GIFS to ../shared/data/real-gifs")
    return REAL_GIF_DIR
