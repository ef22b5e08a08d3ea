"""The feature-extraction loop both baselines share: sample, decode, compute, cache, and go on past bad files.

Each GIF is sampled like the neural models at evaluation time (``kavan.media.sampling.tsn_indices`` with
``train=False``: each of the T segments' middle frame) and decoded with ``kavan.media.decode`` (browser-faithful GIF
compositing). A file that cannot be read is logged and skipped while the rest of the batch goes on, and is
reported in one KavanError at the end; the features of every good file are cached by then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kavan.baselines.feature_cache import FeatureCache, media_sha256
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.media import decode
from kavan.media.sampling import tsn_indices

log = logging.getLogger(__name__)

# frames (T, H, W, 3) uint8 RGB and their indices → one GIF's feature vector
FeatureFunction = Callable[[np.ndarray, list[int]], np.ndarray]


def sampled_frames(path: Path, t: int) -> tuple[np.ndarray, list[int]]:
    """The T TSN evaluation frames of a media file, (T, H, W, 3) uint8 RGB, and their indices."""
    indices = tsn_indices(decode.probe(path).n_frames, t, train=False)
    return decode.read_frames(path, indices), indices


def extract(dataset: Dataset, ids: list[str], cache: FeatureCache, t: int,
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
                digest = media_sha256(path)
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
