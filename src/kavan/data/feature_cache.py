"""Features computed once and kept on disk, one safetensors file per GIF, never trusted once their GIF changed.

One mechanism (``CacheFolder``) serves every feature cache: the backbone features for training below, and the
baselines' features (kavan.baselines.extraction). A cache folder is named after a key (everything the numbers
depend on); each entry is one safetensors file (kavan.core.tensorfile) whose metadata names the cache's format,
its key and the SHA-256 of the media file it was made from. The rule for reading an entry back, the same for
every cache: it counts only if its format and key are this cache's, it holds the tensors the cache stores, and
its ``media_sha256`` is the SHA-256 of the media file's bytes now, hashed anew for every check (a file's size or
modification time is never taken as proof that its bytes are the same). A missing, unreadable, foreign or
stale entry is recomputed and rewritten; the other entries stay valid.

Backbone features. A frozen backbone (or the frozen first part of a partly trainable one,
``model.frozen_until``) maps the same frame to the same features in every epoch, every ablation row and every
split, so they are computed once: per GIF, the frozen part's output (F', C, K, K) for its cached frames (every
frame, or the T evaluation frames; ``data.cache_frames``) under the evaluation transform (whole frame resized to
S x S). The trainable rest of the backbone, if any, runs on them in every step (KAVAN's ``cached`` input).

Keying. Everything that changes the numbers is hashed into the cache's folder name (``CacheKey``): the format
version, the backbone name, where the cached map is taken (``cut_after``: the backbone's cut, or the end of its
frozen part), a SHA-256 of the frozen part's actual weights (so ``none`` with another seed, another
weights file, or a re-downloaded one can never be confused), the input size, the frame policy and T, the
transform's size, mean and std, the storage dtype and the torch / torchvision versions. Per GIF, the file
records its media file's SHA-256 (and, for people, its size and modification time): a GIF whose file changed
is recomputed, one that was only touched or copied (same bytes) is reused. Nothing stale is ever read.

Crash safety. Each GIF's file is written to a temporary file in the same folder and renamed into place, so an
interrupted fill leaves complete files only; the next fill computes what is missing. With several processes
(torchrun) each fills its own share of the missing GIFs.

Layout: ``<cache root>/<backbone>-<S>px-<policy>-<key digest[:16]>/key.json`` (the key, for people) and
``.../<id>.safetensors`` holding ``features`` (F', C, K, K) and ``frames`` (F',) int64, with string metadata
``format``, ``key``, ``media_size``, ``media_mtime_ns``, ``media_sha256``, ``n_frames``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm import tqdm

from kavan.core.atomic import write_bytes
from kavan.core.errors import KavanError
from kavan.core.tensorfile import (
    Framework,
    open_safetensors,
    read_header,
    read_safetensors,
    sha256_of,
    write_safetensors,
)
from kavan.core.workers import loader_worker_init
from kavan.data.dataset import Dataset
from kavan.data.loader import Clip
from kavan.data.transforms import FrameTransform
from kavan.media.sampling import tsn_indices

log = logging.getLogger(__name__)

FORMAT = "kavan-features/1"
DTYPES = {"float16": torch.float16, "float32": torch.float32}
# Frames encoded per backbone call while filling: large enough to keep the cores busy, small enough for memory.
ENCODE_CHUNK = 64


class CacheFolder:
    """The entries of one cache key: ``<folder>/<name>.safetensors``, each tied by its metadata to the cache's
    format and key and to the SHA-256 of the media file it was made from (the rule in the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str], entry_format: str, key: str, tensors: tuple[str, ...]):
        self.folder = Path(folder)
        self.format, self.key, self.tensors = entry_format, key, tensors

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.safetensors"

    def describe(self, file_name: str, text: str) -> None:
        """Write a file saying in plain words what the key stands for, once (it never changes for a key)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / file_name).is_file():
            write_bytes(self.folder / file_name, text.encode("utf-8"))

    def is_valid(self, name: str, media_sha256: str) -> bool:
        """Whether entry ``name`` exists and follows the rule, judged from its header alone (tensors unread)."""
        path = self.path(name)
        if not path.is_file():
            return False
        try:
            header = read_header(path)
        except KavanError as err:
            log.warning("%s: unreadable cache entry (%s); recomputing it", path, err.reason)
            return False
        return self._follows_rule(path, header.metadata, header.tensors, media_sha256)

    def load(self, name: str, media_sha256: str, framework: Framework = "pt") -> dict[str, Any] | None:
        """The tensors of entry ``name`` if it exists and follows the rule, else None (then it is to be recomputed)."""
        path = self.path(name)
        if not path.is_file():
            return None
        try:
            tensors, metadata = read_safetensors(path, framework=framework)
        except KavanError as err:
            log.warning("%s: unreadable cache entry (%s); recomputing it", path, err.reason)
            return None
        return tensors if self._follows_rule(path, metadata, tensors, media_sha256) else None

    def save(self, name: str, tensors: Mapping[str, Any], media_sha256: str,
             metadata: Mapping[str, str] | None = None) -> None:
        """Write entry ``name`` atomically, made from the media file with SHA-256 ``media_sha256``; ``metadata``
        adds what else the cache records per entry."""
        record = {"format": self.format, "key": self.key, **(metadata or {}), "media_sha256": media_sha256}
        write_safetensors(self.path(name), tensors, record)

    def _follows_rule(self, path: Path, metadata: Mapping[str, str], names: Collection[str], media_sha256: str) -> bool:
        """The one validity rule; a broken one is logged, since a foreign or stale file is worth knowing about."""
        if metadata.get("format") != self.format or metadata.get("key") != self.key:
            reason = "it belongs to another cache format or key"
        elif metadata.get("media_sha256") != media_sha256:
            reason = "it was made from other media bytes"
        elif missing := [name for name in self.tensors if name not in names]:
            reason = f"it lacks {', '.join(missing)}"
        else:
            return True
        log.warning("%s: cache entry does not match its name (%s); recomputing it", path, reason)
        return False


@dataclass(frozen=True)
class CacheKey:
    """Everything the cached numbers depend on; ``digest`` names the cache folder."""

    backbone: str
    cut_after: str
    weights: str
    weights_sha256: str
    input_size: int
    frames: str
    t: int
    transform: str
    dtype: str
    torch_version: str = torch.__version__
    torchvision_version: str = torchvision.__version__
    format: str = FORMAT

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode("utf-8")).hexdigest()

    @property
    def folder_name(self) -> str:
        cut = f"-{self.cut_after}" if self.cut_after else ""
        return f"{self.backbone}{cut}-{self.input_size}px-{self.frames}-{self.digest[:16]}"


def weights_sha256(module: torch.nn.Module, prefix: str = "") -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes and bytes, in name order); ``prefix`` is put
    before every name (a part of a module hashes as it is named in the whole)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict(prefix=prefix).items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cache_key(model, frames: str, dtype: str) -> CacheKey:
    """The key of the features that KAVAN ``model``'s frozen backbone (or frozen part) gives under a frame policy."""
    cfg = model.config
    transform = FrameTransform.evaluation(cfg.input_size)
    if model.backbone.partly_frozen:  # the cached map is the frozen part's, and only its weights count
        cut, weights = cfg.frozen_until, weights_sha256(model.backbone.stem, prefix="body.")
    else:
        cut, weights = cfg.cut_after, weights_sha256(model.backbone)
    return CacheKey(backbone=cfg.backbone, cut_after=cut, weights=cfg.weights, weights_sha256=weights,
                    input_size=cfg.input_size, frames=frames, t=cfg.t,
                    transform=f"size={transform.size} mean={transform.mean} std={transform.std} whole-frame",
                    dtype=dtype)


def cached_frame_indices(n_frames: int, policy: str, t: int) -> list[int]:
    """The frames of a GIF that a cache holds: all of them, or the T evaluation frames."""
    return list(range(n_frames)) if policy == "all" else tsn_indices(n_frames, t, train=False)


@dataclass(frozen=True)
class FillReport:
    """What a fill did: GIFs reused (already valid), computed now, and failed {id: reason}."""

    reused: int
    computed: int
    failed: dict[str, str]


class FeatureCache:
    """The cached backbone features of one CacheKey under a cache root folder."""

    def __init__(self, root: str | os.PathLike[str], key: CacheKey):
        self.key = key
        self.entries = CacheFolder(Path(root) / key.folder_name, FORMAT, key.digest, ("features", "frames"))
        self.folder = self.entries.folder
        self._frames: dict[str, np.ndarray] = {}

    def path(self, gif_id: str) -> Path:
        return self.entries.path(gif_id)

    def is_valid(self, gif_id: str, media: Path) -> bool:
        """Whether ``gif_id``'s file exists, belongs to this key and was made from the current media bytes."""
        return self.path(gif_id).is_file() and self.entries.is_valid(gif_id, sha256_of(media))

    def fill(self, dataset: Dataset, clips: list[Clip], encode: Callable[[torch.Tensor], torch.Tensor],
             workers: int = 0, progress: bool = True, rank: int = 0, world_size: int = 1) -> FillReport:
        """Compute the features of every clip whose file is missing or stale; this rank does its share.

        encode: normalised frames (N, 3, S, S) → features (N, C, K, K) (the frozen backbone or part). A GIF that
        cannot be decoded is reported in ``failed`` and the others go on.
        """
        self.entries.describe("key.json", json.dumps(asdict(self.key), indent=1, sort_keys=True) + "\n")
        missing = [clip for clip in clips if not self.is_valid(clip.gif_id, dataset.media_path(clip.gif_id))]
        mine = missing[rank::world_size]
        if missing:
            log.info("feature cache %s: %d of %d GIFs to compute", self.folder, len(missing), len(clips))
        frames_dataset = _CacheFrames(dataset, mine, self.key)
        loader = DataLoader(frames_dataset, batch_size=None, num_workers=workers, worker_init_fn=loader_worker_init())
        failed: dict[str, str] = {}
        bar = tqdm(loader, total=len(mine), desc="caching features", unit="GIF", disable=not progress)
        for item in bar:
            if "error" in item:
                failed[item["gif_id"]] = item["error"]
                log.warning("no features: %s", item["error"])
                continue
            chunks = [encode(part) for part in item["frames"].split(ENCODE_CHUNK)]
            features = torch.cat(chunks).to(DTYPES[self.key.dtype]).cpu().contiguous()
            self._save(item, features)
        return FillReport(reused=len(clips) - len(missing), computed=len(mine) - len(failed), failed=failed)

    def _save(self, item: dict, features: torch.Tensor) -> None:
        media = item["media"]
        metadata = {"media_size": str(media["size"]), "media_mtime_ns": str(media["mtime_ns"]),
                    "n_frames": str(item["n_frames"])}
        self.entries.save(item["gif_id"], {"features": features, "frames": item["indices"]}, media["sha256"],
                          metadata)

    def frames(self, gif_id: str) -> np.ndarray:
        """The frame indices cached for ``gif_id`` (F',)."""
        if gif_id not in self._frames:
            with self._open(gif_id) as handle:
                self._frames[gif_id] = handle.get_tensor("frames").numpy()
        return self._frames[gif_id]

    def read(self, gif_id: str, positions: list[int]) -> torch.Tensor:
        """Features (len(positions), C, K, K) of the cached frames at ``positions`` (indices into ``frames``)."""
        with self._open(gif_id) as handle:
            block = handle.get_slice("features")
            return torch.cat([block[p:p + 1] for p in positions])

    def _open(self, gif_id: str):
        try:
            return open_safetensors(self.path(gif_id), framework="pt")
        except KavanError as err:
            raise KavanError(f"cannot read cached features: {err.reason}", err.path) from None


def _media_record(path: Path) -> dict[str, Any]:
    """Size, modification time and SHA-256 of a media file, taken before its frames are decoded: if the file
    changes while it is read, the entry records the older bytes and is recomputed on the next fill."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256_of(path)}


class _CacheFrames(TorchDataset):
    """The frames to cache of each clip, decoded and transformed (run in DataLoader workers)."""

    def __init__(self, dataset: Dataset, clips: list[Clip], key: CacheKey):
        self.dataset, self.clips, self.key = dataset, clips, key
        self.transform = FrameTransform.evaluation(key.input_size)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        clip = self.clips[index]
        indices = cached_frame_indices(clip.n_frames, self.key.frames, self.key.t)
        path = self.dataset.media_path(clip.gif_id)
        try:
            media = _media_record(path)
        except OSError as err:
            return {"gif_id": clip.gif_id, "error": str(KavanError(f"cannot read: {err.strerror or err}", path))}
        try:
            frames = self.dataset.frames(clip.gif_id, indices)
        except KavanError as err:
            return {"gif_id": clip.gif_id, "error": str(err)}
        images, _ = self.transform(frames)
        return {"gif_id": clip.gif_id, "frames": images, "indices": torch.tensor(indices, dtype=torch.int64),
                "media": media, "n_frames": clip.n_frames}

