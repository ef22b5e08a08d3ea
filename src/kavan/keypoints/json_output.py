"""One file's keypoints as JSON (`kavan keypoints FILE --json`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kavan.keypoints.cache import KeypointRecord


def _points(face: np.ndarray) -> list[list[float]]:
    """70 [x, y, c]: coordinates to 0.01 pixel, confidence to 0.001."""
    return [[round(float(x), 2), round(float(y), 2), round(float(c), 3)] for x, y, c in face]


def record_json(path: str, record: KeypointRecord) -> dict[str, Any]:
    """{"path", "backend", "backend_version", "width", "height", "n_frames", "frames", "faces",
    "faces_per_frame"}.

    ``frames``: per frame the 70 [x, y, c] of its largest face (faces are stored largest first), or 70 zeros when
    the frame has none. ``faces``: per frame the list of all its faces, each 70 [x, y, c].
    """
    present = (record.keypoints[..., 2] > 0).any(axis=2)            # (F, N)
    return {
        "path": path,
        "backend": record.backend,
        "backend_version": record.backend_version,
        "width": record.width,
        "height": record.height,
        "n_frames": record.n_frames,
        "frames": [_points(frame[0]) for frame in record.keypoints],
        "faces": [[_points(face) for face, seen in zip(frame, present[f]) if seen]
                  for f, frame in enumerate(record.keypoints)],
        "faces_per_frame": [int(n) for n in present.sum(axis=1)],
    }
