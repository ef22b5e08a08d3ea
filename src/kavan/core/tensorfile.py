"""The safetensors files the project writes and reads (models, checkpoints, predictions, keypoint and feature
caches), and a file's SHA-256.

Every such file goes through here, so there is one place that knows the format:

- ``write_safetensors``: tensors (torch or numpy) plus string metadata, written atomically
  (kavan.core.atomic). safetensors' own ``save`` lays the file out; its ``__metadata__`` comes out in hash-map
  order, which differs from call to call, so the keys are put in sorted order: equal inputs give equal bytes
  (SynthGIF promises byte-identical datasets, and a test compares keypoint caches byte for byte).
- ``read_safetensors``: every tensor and the metadata, optionally checking the metadata's ``format``;
- ``read_header``: the metadata and tensor names only, without reading the tensors (validity checks of caches);
- ``open_safetensors``: safetensors' lazy reader, for taking a few slices of a large file.

Reading goes through safetensors only, which parses a JSON header and raw tensor bytes and never unpickles. A
missing, truncated, pickle (``torch.save``) or foreign file is refused with one KavanError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from safetensors import SafetensorError, safe_open

from kavan.core.atomic import write_bytes
from kavan.core.errors import KavanError

Framework = Literal["pt", "np"]

# What safetensors' parsers raise for a file that is not (whole) safetensors.
_NOT_SAFETENSORS = (SafetensorError, ValueError, TypeError, UnicodeDecodeError)


# (device, inode, size, mtime_ns, ctime_ns) of a file -> its digest, for this process. Any write to a file, and
# any os.utime on it, moves its ctime, which no call can set back, so a hit is the same bytes: a cache check of
# 2,000 GIFs per run and row then reads each GIF once per process instead of once per check.
_DIGESTS: dict[tuple[int, int, int, int, int], str] = {}


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB blocks (remembered while the file is unchanged)."""
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        stamp = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        if (known := _DIGESTS.get(stamp)) is not None:
            return known
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if os.stat(path).st_ctime_ns == stamp[4]:  # unchanged while it was read: the digest is of those bytes
        _DIGESTS[stamp] = digest.hexdigest()
    return digest.hexdigest()


def write_safetensors(path: str | os.PathLike[str], tensors: Mapping[str, Any], metadata: Mapping[str, str]) -> None:
    """Write ``tensors`` and ``metadata`` to ``path`` atomically: a failure leaves the previous file as it was.
    The tensor bytes go to the file as safetensors laid them out, not copied once more behind the sorted header."""
    write_bytes(path, *_encoded_parts(tensors, metadata))


def _encoded_parts(tensors: Mapping[str, Any], metadata: Mapping[str, str]) -> tuple[bytes, memoryview]:
    """A safetensors file of ``tensors`` (all numpy arrays, or all torch tensors) and ``metadata`` in two parts:
    the length and header with the metadata keys sorted, then a view of safetensors' tensor data."""
    metadata = dict(metadata) or None
    if all(isinstance(value, np.ndarray) for value in tensors.values()):
        from safetensors.numpy import save
    else:
        from safetensors.torch import save
    return _sorted_metadata(save(dict(tensors), metadata=metadata))


def read_safetensors(path: str | os.PathLike[str], expected_format: str | None = None,
                     framework: Framework = "pt") -> tuple[dict[str, Any], dict[str, str]]:
    """Tensors (torch for ``"pt"``, numpy for ``"np"``) and metadata of a safetensors file; with
    ``expected_format``, a file whose metadata names another ``format`` is refused. Never unpickles anything."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise KavanError(f"cannot read: {err.strerror or err}", path) from None
    try:
        tensors = _load(blob, framework)
    except _NOT_SAFETENSORS as err:
        raise _refusal(path, blob[:4], err) from None
    metadata = _header(blob)[1].get("__metadata__") or {}
    _check_format(metadata, expected_format, path)
    return tensors, metadata


@dataclass(frozen=True)
class Header:
    """What a safetensors file says about itself: its string metadata and the names of its tensors."""

    metadata: dict[str, str]
    tensors: frozenset[str]


def read_header(path: str | os.PathLike[str], expected_format: str | None = None) -> Header:
    """The metadata and tensor names of a safetensors file, without reading its tensors. safetensors checks the
    whole layout (every tensor's bytes lie in the file, and the file ends where the last one does), so a
    truncated file is refused here as in ``read_safetensors``, with the same KavanError."""
    with open_safetensors(path) as handle:
        header = Header(metadata=handle.metadata() or {}, tensors=frozenset(handle.keys()))
    _check_format(header.metadata, expected_format, path)
    return header


def open_safetensors(path: str | os.PathLike[str], framework: Framework = "np"):
    """safetensors' lazy reader of ``path`` (a context manager: ``metadata()``, ``keys()``, ``get_tensor``,
    ``get_slice``); KavanError naming the file if it cannot be opened as safetensors."""
    path = Path(path)
    try:
        return safe_open(path, framework=framework)
    except OSError as err:
        raise KavanError(f"cannot read: {err.strerror or err}", path) from None
    except _NOT_SAFETENSORS as err:
        raise _refusal(path, _first_bytes(path), err) from None


def _load(blob: bytes, framework: Framework) -> dict[str, Any]:
    if framework == "np":
        from safetensors.numpy import load
    else:
        from safetensors.torch import load
    return load(blob)


def _header(blob: bytes) -> tuple[int, dict[str, Any]]:
    """The length and parsed JSON of the header of ``blob``, which safetensors has already accepted."""
    size = int.from_bytes(blob[:8], "little")
    return size, json.loads(blob[8:8 + size])


def _sorted_metadata(blob: bytes) -> tuple[bytes, memoryview]:
    """``blob`` with its header's metadata keys in sorted order, as (length and header, view of the data). Same
    keys and values, so the header keeps its length and every data offset holds; the rest of the header keeps
    safetensors' order."""
    size, header = _header(blob)
    meta = header.pop("__metadata__", None)
    ordered = ({"__metadata__": dict(sorted(meta.items()))} if meta is not None else {}) | header
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(text) > size:
        raise RuntimeError("sorted safetensors header longer than the original")
    return blob[:8] + text.ljust(size, b" "), memoryview(blob)[8 + size:]


def _check_format(metadata: Mapping[str, str], expected_format: str | None, path: str | os.PathLike[str]) -> None:
    if expected_format is not None and metadata.get("format") != expected_format:
        raise KavanError(f"expected a {expected_format} file, found format {metadata.get('format')!r}", path)


def _refusal(path: Path, start: bytes, err: Exception) -> KavanError:
    """The error for a file safetensors cannot parse: a pickle is named as one (a zip or a pickle stream)."""
    if start[:4] == b"PK\x03\x04" or start[:1] == b"\x80":
        return KavanError("this is a pickle / torch.save file, not safetensors; kavan never unpickles "
                          "files (unpickling can run code)", path)
    return KavanError(f"not a safetensors file ({err})", path)


def _first_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(4)
    except OSError:
        return b""
