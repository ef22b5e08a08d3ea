"""The keypoint cache: one safetensors file of estimated facial keypoints per GIF.

A dataset keeps the keypoints of GIF ``<id>`` in ``<dataset>/keypoints/<id>.safetensors``. The file holds one
float32 tensor ``keypoints`` of shape (frames, faces, 70, 3): x, y and confidence per point, x and y in the
GIF's original pixel coordinates, confidence 0 for a missing point. Every frame has the same number of face
slots (at least one); a frame with fewer faces has its remaining slots filled with zeros. String metadata
beside the tensor names the format, the backend that produced the keypoints and its version, the frame count
and the frame size, so a cache made by one detector is never mistaken for another's.

Reading and writing go through kavan.core.tensorfile: safetensors only, which never unpickles, and atomic writes
(a temporary file in the target folder renamed over the target), so a crash or error mid-write never leaves a
partial cache file behind. Equal records give equal bytes (the metadata keys are written in sorted order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_safetensors, write_safetensors
from kavan.keypoints.landmarks import N_POINTS

FORMAT = "kavan-keypoints/1"
TENSOR = "keypoints"
_METADATA_KEYS = ("format", "backend", "backend_version", "n_frames", "width", "height")


@dataclass(frozen=True)
class KeypointRecord:
    """Keypoints of one GIF: ``keypoints`` (F, N, 70, 3) float32, and where they came from."""

    keypoints: np.ndarray
    backend: str
    backend_version: str
    width: int
    height: int

    @property
    def n_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def faces_per_frame(self) -> np.ndarray:
        """(F,) int: how many face slots of each frame hold at least one point with confidence > 0."""
        return (self.keypoints[..., 2] > 0).any(axis=2).sum(axis=1).astype(np.int64)


def cache_path(dataset_dir: str | os.PathLike[str], gif_id: str) -> Path:
    """Where the keypoints of GIF ``gif_id`` live in a dataset folder."""
    return Path(dataset_dir) / "keypoints" / f"{gif_id}.safetensors"


def _check(record: KeypointRecord, path: Path) -> None:
    kp = record.keypoints
    if not isinstance(kp, np.ndarray) or kp.dtype != np.float32:
        raise KavanError(f"keypoints must be a float32 numpy array, got {type(kp).__name__} "
                         f"{getattr(kp, 'dtype', '')}", path)
    if kp.ndim != 4 or kp.shape[0] < 1 or kp.shape[1] < 1 or kp.shape[2:] != (N_POINTS, 3):
        raise KavanError(f"keypoints must have shape (frames >= 1, faces >= 1, {N_POINTS}, 3), "
                         f"got {tuple(kp.shape)}", path)
    if not np.isfinite(kp).all():
        raise KavanError("keypoints contain NaN or infinite values", path)
    conf = kp[..., 2]
    if (conf < 0).any() or (conf > 1).any():
        raise KavanError("keypoint confidences must lie in [0, 1]", path)
    if record.width < 1 or record.height < 1:
        raise KavanError(f"frame size must be positive, got {record.width}x{record.height}", path)
    if not record.backend:
        raise KavanError("backend name must not be empty", path)


def save(path: str | os.PathLike[str], record: KeypointRecord) -> None:
    """Write ``record`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    _check(record, path)
    metadata = {
        "format": FORMAT,
        "backend": record.backend,
        "backend_version": record.backend_version,
        "n_frames": str(record.n_frames),
        "width": str(int(record.width)),
        "height": str(int(record.height)),
    }
    write_safetensors(path, {TENSOR: np.ascontiguousarray(record.keypoints)}, metadata)


def load(path: str | os.PathLike[str]) -> KeypointRecord:
    """Read and validate one keypoint file; KavanError naming the file on anything wrong."""
    path = Path(path)
    tensors, meta = read_safetensors(path, framework="np")
    if not meta:
        raise KavanError("keypoint file has no metadata", path)
    missing = [k for k in _METADATA_KEYS if k not in meta]
    if missing:
        raise KavanError(f"keypoint metadata lacks {', '.join(missing)}", path)
    if meta["format"] != FORMAT:
        raise KavanError(f"unknown keypoint format {meta['format']!r} (expected {FORMAT!r})", path)
    if set(tensors) != {TENSOR}:
        raise KavanError(f"expected exactly one tensor {TENSOR!r}, found {sorted(tensors)}", path)
    try:
        n_frames, width, height = int(meta["n_frames"]), int(meta["width"]), int(meta["height"])
    except ValueError:
        raise KavanError("keypoint metadata n_frames/width/height must be integers", path) from None
    record = KeypointRecord(keypoints=tensors[TENSOR], backend=meta["backend"],
                            backend_version=meta["backend_version"], width=width, height=height)
    _check(record, path)
    if record.n_frames != n_frames:
        raise KavanError(f"metadata says {n_frames} frames, tensor has {record.n_frames}", path)
    return record
