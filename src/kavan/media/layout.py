"""Where a dataset folder keeps its media, which files count as media, and what to call a broken link.

A dataset (docs/data.md) keeps one file per GIF in ``gifs/<id>.gif`` (or ``.mp4`` / ``.webm``, read through PyAV).
The keypoint estimator and the dataset reader both walk that folder, so the two names live here, below both.
A folder of symbolic links into a GIF store is common, and a link whose target was moved or deleted is neither a
missing file nor a file of the wrong kind: ``broken_link`` names it, for the dataset check and the decoder (so
`kavan predict` reports it too).
"""

from __future__ import annotations

import os

MEDIA_DIR = "gifs"
MEDIA_TYPES: dict[str, str] = {".gif": "image/gif", ".mp4": "video/mp4", ".webm": "video/webm"}
"""A dataset's media suffixes and the media type each is served with (the labelling page)."""
MEDIA_SUFFIXES: tuple[str, ...] = tuple(MEDIA_TYPES)


def broken_link(path: str | os.PathLike[str]) -> str | None:
    """``"a broken symbolic link (to TARGET)"`` when ``path`` is a symbolic link whose target does not exist (or
    a loop of links), TARGET as the link holds it; None for anything else, a missing path included."""
    try:
        if not os.path.islink(path) or os.path.exists(path):
            return None
        return f"a broken symbolic link (to {os.readlink(path)})"
    except OSError:  # gone between the two looks
        return None
