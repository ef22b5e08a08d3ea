"""The keypoint cache: one safetensors file of estimated facial keypoints per GIF.

A dataset keeps the keypoints of GIF ``<id>`` in ``<dataset>/keypoints/<id>.safetensors``. The file holds one
float32 tensor ``keypoints`` of shape (frames, faces, 70, 3): x, y and confidence per point, x and y in the
GIF's original pixel coordinates, confidence 0 for a missing point. Every frame has the same number of face
slots (at least one); a frame with fewer faces has its remaining slots filled with zeros. String metadata
beside the tensor names the format, the backend that produced the keypoints and its version, the frame count
and the frame size, so a cache made by one detector is never mistaken for another's.

Loading goes through safetensors, which never unpickles. Saving writes a temporary file in the target folder
and renames it over the target, so a crash or error mid-write never leaves a partial cache file behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from kavan.core.atomic import write_bytes
from kavan.core.errors import KavanError
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


def _canonical(blob: bytes) -> bytes:
    """The same safetensors file with its header's metadata keys in sorted order.

    safetensors writes ``__metadata__`` in hash-map order, which differs from process to process; equal
    inputs must give equal bytes (SynthGIF promises byte-identical datasets), so the header is rewritten
    with sorted keys. Same keys and values, so the header keeps its length and every data offset holds.
    """
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", None)
    ordered = ({"__metadata__": dict(sorted(meta.items()))} if meta is not None else {}) | header
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(text) > n:
        raise RuntimeError("canonical safetensors header longer than the original")
    return blob[:8] + text.ljust(n, b" ") + blob[8 + n:]


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
    write_bytes(path, _canonical(_st_save({TENSOR: np.ascontiguousarray(record.keypoints)}, metadata=metadata)))


def _read_metadata(blob: bytes, path: Path) -> dict[str, str]:
    if len(blob) < 8:
        raise KavanError("not a safetensors file (shorter than its 8-byte header length)", path)
    n = int.from_bytes(blob[:8], "little")
    try:
        header = json.loads(blob[8:8 + n])
    except (UnicodeDecodeError, ValueError) as err:
        raise KavanError(f"not a safetensors file (unreadable header: {err})", path) from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict):
        raise KavanError("keypoint file has no metadata", path)
    return meta


def load(path: str | os.PathLike[str]) -> KeypointRecord:
    """Read and validate one keypoint file; KavanError naming the file on anything wrong."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise KavanError(f"cannot read keypoint file: {err.strerror or err}", path) from None
    meta = _read_metadata(blob, path)
    try:
        tensors = _st_load(blob)
    except (SafetensorError, ValueError, TypeError) as err:
        raise KavanError(f"corrupt safetensors file: {err}", path) from None
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
