"""Where a dataset folder keeps its media, and which files count as media.

A dataset (docs/data.md) keeps one file per GIF in ``gifs/<id>.gif`` (or ``.mp4`` / ``.webm``, read through PyAV).
The keypoint estimator and the dataset reader both walk that folder, so the two names live here, below both.
"""

from __future__ import annotations

MEDIA_DIR = "gifs"
MEDIA_SUFFIXES: tuple[str, ...] = (".gif", ".mp4", ".webm")
