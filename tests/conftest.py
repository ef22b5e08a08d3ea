"""Shared fixtures: where the real GIFs live (read in place, never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]


def _real_gif_dir() -> Path | None:
    candidates = [os.environ.get("KAVAN_REAL_GIFS"), _ROOT.parent / "shared" / "data" / "real-gifs",
                  Path("/work/shared/data/real-gifs")]
    for cand in candidates:
        if cand and Path(cand, "cool.gif").is_file():
            return Path(cand)
    return None


REAL_GIF_DIR = _real_gif_dir()


@pytest.fixture(scope="session")
def real_gifs() -> Path:
    """Folder of the shared real GIFs; set KAVAN_REAL_GIFS to point elsewhere."""
    if REAL_GIF_DIR is None:
        pytest.skip("real GIFs not found: set KAVAN_REAL_GIFS to ../shared/data/real-gifs")
    return REAL_GIF_DIR
