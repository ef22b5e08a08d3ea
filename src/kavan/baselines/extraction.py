"""The feature-extraction loop both baselines share: sample, decode, compute, cache, and go on past bad files.

Each GIF is sampled like the neural models at evaluation time (``kavan.media.sampling.tsn_indices`` with
``train=False``: each of the T segments' middle frame) and decoded with ``kavan.media.decode`` (browser-faithful GIF
compositing). A file that cannot be read is logged and skipped while the rest of the batch goes on, and is
reported in one KavanError at the end; the features of every good file are cached by then.

The cache is the project's one feature-cache mechanism (kavan.data.feature_cache.CacheFolder, with its validity
rule); ``BaselineCache`` only says what a baseline's key is and what an entry holds:

- key: the first 16 hex digits of the SHA-256 of the canonical JSON of the baseline's name, its feature settings
  (kavan.baselines.config.feature_settings, plus what else the numbers depend on: the OpenCV version, the network
  file's SHA-256), the sampler (TSN evaluation frames, T) and the entry format; the folder is
  ``<cache_dir>/<baseline>-<key>``, with ``settings.json`` saying in plain words what the key stands for;
- entries: ``<media sha256>.safetensors``, one finite float32 vector ``feature``. Named by the media file's content,
  so a GIF whose file changes gets a new entry, and the same file under another id, folder or split reuses its
  entry; a change of settings, OpenCV version, network or T changes the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kavan.core.errors import KavanError
from kavan.core.tensorfile import sha256_of
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import CacheFolder
from kavan.media import decode
from kavan.media.sampling import tsn_indices

log = logging.getLogger(__name__)

# frames (T, H, W, 3) uint8 RGB and their indices → one GIF's feature vector
FeatureFunction = Callable[[np.ndarray, list[int]], np.ndarray]

FORMAT = "kavan-baseline-features/1"
TENSOR = "feature"
SETTINGS_FILE = "settings.json"


class BaselineCache:
    """The cached features of one baseline at one set of feature settings and one sampler (module docstring)."""

    def __init__(self, cache_dir: str | os.PathLike[str], baseline: str, settings: Mapping[str, Any], t: int):
        self.description = {"format": FORMAT, "baseline": baseline, "settings": dict(settings),
                            "sampler": {"policy": "tsn-eval", "t": t}}
        canonical = json.dumps(self.description, sort_keys=True, separators=(",", ":"))
        self.key = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
        self.entries = CacheFolder(Path(cache_dir) / f"{baseline}-{self.key}", FORMAT, self.key, (TENSOR,))
        self.folder = self.entries.folder
        self.entries.describe(SETTINGS_FILE, json.dumps(self.description, indent=2) + "\n")

    def path(self, media_digest: str) -> Path:
        """Where the features of the media file with SHA-256 ``media_digest`` live."""
        return self.entries.path(media_digest)

    def load(self, media_digest: str) -> np.ndarray | None:
        """The cached feature vector of the media file with SHA-256 ``media_digest``, or None when there is no
        usable entry (then it is to be recomputed)."""
        tensors = self.entries.load(media_digest, media_digest, framework="np")
        if tensors is None:
            return None
        feature = tensors[TENSOR]
        if feature.ndim != 1 or not np.isfinite(feature).all():
            log.warning("%s: cache entry holds no finite feature vector; recomputing it", self.path(media_digest))
            return None
        return feature

    def save(self, media_digest: str, feature: np.ndarray) -> None:
        """Store ``feature`` (1-D, finite) for the media file with SHA-256 ``media_digest``, atomically."""
        feature = np.ascontiguousarray(feature, dtype=np.float32)
        if feature.ndim != 1 or not np.isfinite(feature).all():
            raise ValueError(f"a cached feature must be a finite 1-D vector, got shape {feature.shape}")
        self.entries.save(media_digest, {TENSOR: feature}, media_digest)


def sampled_frames(path: Path, t: int) -> tuple[np.ndarray, list[int]]:
    """The T TSN evaluation frames of a media file, (T, H, W, 3) uint8 RGB, and their indices."""
    indices = tsn_indices(decode.probe(path).n_frames, t, train=False)
    return decode.read_frames(path, indices), indices


def extract(dataset: Dataset, ids: list[str], cache: BaselineCache, t: int,
            compute: Callable[[], FeatureFunction], progress: bool = True) -> np.ndarray:
    """Feature vectors (len(ids), D) float32 of ``ids``, read from ``cache`` or computed and cached.

    ``compute`` builds the feature function; it is called once, on the first GIF missing from the cache, so a run
    that finds everything cached loads no model.
    """
    dataset.rows(ids)  # unknown ids are the caller's mistake: fail before any work
    function: FeatureFunction | None = None
    features: list[np.ndarray] = []
    failures: list[KavanError] = []
    hits = 0
    for gif_id in tqdm(ids, desc=f"{cache.description['baseline']} features", unit="GIF",
                       disable=None if progress else True):
        path = dataset.media_path(gif_id)
        try:
            try:
                digest = sha256_of(path)
            except OSError as err:
                raise KavanError(f"cannot read media file: {err.strerror or err}", path) from None
            feature = cache.load(digest)
            if feature is None:
                if function is None:
                    function = compute()
                feature = np.asarray(function(*sampled_frames(path, t)), dtype=np.float32)
                cache.save(digest, feature)
            else:
                hits += 1
        except KavanError as err:
            log.error("%s", err)
            failures.append(err)
            continue
        features.append(feature)
    log.info("%s: %d GIF(s), %d from the cache in %s", cache.description["baseline"], len(ids), hits, cache.folder)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        listed = "; ".join(str(err) for err in failures[:3]) + ("; ..." if len(failures) > 3 else "")
        raise KavanError(f"{len(failures)} of {len(ids)} GIFs could not be read ({listed}); "
                         "the features of the others are cached")
    dims = {f.shape for f in features}
    if len(dims) > 1:
        raise KavanError(f"cached features of different lengths {sorted(dims)} under one key", cache.folder)
    return np.stack(features) if features else np.empty((0, 0), np.float32)
