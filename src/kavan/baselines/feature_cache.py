"""The on-disk cache of baseline features: one small safetensors file per (media content, baseline, settings, sampler).

Layout: ``<cache_dir>/<baseline>-<key>/<media sha256>.safetensors`` holding one float32 vector ``feature``, and
``<cache_dir>/<baseline>-<key>/settings.json`` saying in plain words what ``<key>`` stands for. ``<key>`` is the
first 16 hex digits of the SHA-256 of the canonical JSON of the baseline's name, its feature settings
(kavan.baselines.config.feature_settings, plus what else the numbers depend on: the OpenCV version, the network
file's SHA-256), the sampler (TSN evaluation frames, T) and this file format.

Entries are addressed by the media file's content (SHA-256), not by its id or path, so:

- a GIF whose file changes gets a new entry and its old features are never reused;
- the same file under another id, in another folder or in another split reuses its entry;
- nothing else can make an entry stale: a change of settings, OpenCV version, network or T changes the folder.

Every file is written to a temporary name in the same folder and renamed over the target (``os.replace``), so an
interrupted run leaves whole entries only. An entry that cannot be read (damaged disk, foreign file) is logged,
treated as missing and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from kavan.core.atomic import write_bytes

log = logging.getLogger(__name__)

FORMAT = "kavan-baseline-features/1"
TENSOR = "feature"
SETTINGS_FILE = "settings.json"

# (path, size, mtime_ns) → SHA-256 of the file's content, so that the five splits of one run hash each file once.
_digests: dict[tuple[str, int, int], str] = {}


def media_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a media file's content (remembered for the process while size and mtime stay the same)."""
    path = Path(path)
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _digests:
        with open(path, "rb") as handle:
            _digests[memo] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _digests[memo]


class FeatureCache:
    """The entries of one baseline at one set of feature settings and one sampler."""

    def __init__(self, cache_dir: str | os.PathLike[str], baseline: str, settings: Mapping[str, Any], t: int):
        self.description = {"format": FORMAT, "baseline": baseline, "settings": dict(settings),
                             "sampler": {"policy": "tsn-eval", "t": t}}
        canonical = json.dumps(self.description, sort_keys=True, separators=(",", ":"))
        self.key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
        self.folder = Path(cache_dir) / f"{baseline}-{self.key}"
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / SETTINGS_FILE).is_file():
            write_bytes(self.folder / SETTINGS_FILE, (json.dumps(self.description, indent=2) + "\n").encode())

    def path(self, media_digest: str) -> Path:
        """Where the features of the media file with SHA-256 ``media_digest`` live."""
        return self.folder / f"{media_digest}.safetensors"

    def load(self, media_digest: str) -> np.ndarray | None:
        """The cached feature vector, or None when there is no usable entry."""
        path = self.path(media_digest)
        if not path.is_file():
            return None
        try:
            blob = path.read_bytes()
            tensors = _st_load(blob)
            n = int.from_bytes(blob[:8], "little")
            meta = json.loads(blob[8:8 + n]).get("__metadata__") or {}
        except (OSError, SafetensorError, ValueError, TypeError) as err:
            log.warning("%s: unreadable cache entry (%s); recomputing it", path, err)
            return None
        feature = tensors.get(TENSOR)
        if (meta.get("format") != FORMAT or meta.get("key") != self.key or meta.get("media_sha256") != media_digest
                or feature is None or feature.ndim != 1 or not np.isfinite(feature).all()):
            log.warning("%s: cache entry does not match its name or holds no finite feature; recomputing it", path)
            return None
        return feature

    def save(self, media_digest: str, feature: np.ndarray) -> None:
        """Store ``feature`` (1-D, finite) for the media file with SHA-256 ``media_digest``, atomically."""
        feature = np.ascontiguousarray(feature, dtype=np.float32)
        if feature.ndim != 1 or not np.isfinite(feature).all():
            raise ValueError(f"a cached feature must be a finite 1-D vector, got shape {feature.shape}")
        metadata = {"format": FORMAT, "key": self.key, "media_sha256": media_digest}
        write_bytes(self.path(media_digest), _st_save({TENSOR: feature}, metadata=metadata))
