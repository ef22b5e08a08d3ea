"""kavan.core.tensorfile, the one module for safetensors files, and the one validity rule of the feature caches
built on it (kavan.data.feature_cache.CacheFolder) that the backbone and the baseline caches share."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.dataset_folder import make_dataset
from kavan.baselines.extraction import BaselineCache, extract
from kavan.core.errors import KavanError
from kavan.core.tensorfile import read_header, read_safetensors, sha256_of, write_safetensors
from kavan.data.dataset import Dataset
from kavan.data.feature_cache import CacheFolder, CacheKey, FeatureCache
from kavan.data.loader import prepare_clips

META = {"format": "test/1", "note": "é \"quoted\" \\ and\nnewline", "a": "1"}


def _tensors(framework: str) -> dict:
    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "i": np.array([7, 8], dtype=np.int64)}
    return arrays if framework == "np" else {name: torch.from_numpy(value) for name, value in arrays.items()}


@pytest.mark.parametrize("framework", ["np", "pt"])
def test_round_trip_keeps_tensors_and_metadata(tmp_path, framework):
    path = tmp_path / "sub" / "f.safetensors"
    write_safetensors(path, _tensors(framework), META)
    tensors, meta = read_safetensors(path, "test/1", framework=framework)
    assert meta == META
    assert sorted(tensors) == ["i", "w"]
    for name, value in _tensors(framework).items():
        assert type(tensors[name]) is type(value)
        np.testing.assert_array_equal(np.asarray(tensors[name]), np.asarray(value))


def test_equal_inputs_give_equal_bytes_with_sorted_metadata(tmp_path):
    write_safetensors(tmp_path / "a.safetensors", _tensors("pt"), META)
    write_safetensors(tmp_path / "b.safetensors", _tensors("np"), dict(reversed(META.items())))
    blob = (tmp_path / "a.safetensors").read_bytes()
    assert blob == (tmp_path / "b.safetensors").read_bytes()
    assert len(blob[8:8 + int.from_bytes(blob[:8], "little")]) % 8 == 0
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
    assert list(header)[0] == "__metadata__" and list(header["__metadata__"]) == sorted(META)


def test_header_only_read_equals_the_full_reads_metadata(tmp_path):
    path = tmp_path / "f.safetensors"
    write_safetensors(path, _tensors("np"), META)
    tensors, meta = read_safetensors(path, framework="np")
    header = read_header(path, "test/1")
    assert header.metadata == meta == META
    assert header.tensors == set(tensors)


def test_a_failed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "f.safetensors"
    write_safetensors(path, _tensors("np"), META)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("kavan.core.atomic.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_safetensors(path, {"w": np.zeros(3, np.float32)}, {"format": "test/2"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.safetensors"]


def _damaged(path: Path, kind: str) -> None:
    """Turn ``path`` into a file safetensors cannot read, or into another kind of file."""
    if kind == "torch.save":
        torch.save({"x": torch.zeros(2)}, path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"x": [1, 2]}))
    elif kind == "truncated":
        write_safetensors(path, _tensors("np"), META)
        path.write_bytes(path.read_bytes()[:-5])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")


READERS = {"full": lambda path: read_safetensors(path, framework="np"), "header": read_header}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind, message", [
    ("torch.save", "pickle / torch.save file"),
    ("pickle", "pickle / torch.save file"),
    ("truncated", "not a safetensors file"),
    ("empty", "not a safetensors file"),
    ("foreign", "not a safetensors file"),
])
def test_unreadable_files_are_refused_naming_the_file(tmp_path, reader, kind, message):
    path = tmp_path / "f.safetensors"
    _damaged(path, kind)
    with pytest.raises(KavanError, match=message) as err:
        READERS[reader](path)
    assert err.value.path == str(path) and str(path) in str(err.value)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_missing_file_and_other_format_are_refused(tmp_path, reader):
    with pytest.raises(KavanError, match="cannot read") as err:
        READERS[reader](tmp_path / "nope.safetensors")
    assert err.value.path == str(tmp_path / "nope.safetensors")
    path = tmp_path / "f.safetensors"
    write_safetensors(path, _tensors("np"), META)
    with pytest.raises(KavanError, match="expected a other/1 file, found format 'test/1'"):
        (read_header if reader == "header" else read_safetensors)(path, "other/1")


def test_sha256_of_matches_hashlib(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    blob = bytes(range(256)) * 9000  # more than one 1 MiB block
    path.write_bytes(blob)
    assert sha256_of(path) == hashlib.sha256(blob).hexdigest()


def test_cache_entries_follow_one_rule_and_a_bad_one_costs_nothing_else(tmp_path, caplog):
    folder = CacheFolder(tmp_path / "key", "fmt/1", "k1", ("x",))
    good, media = "a" * 64, "b" * 64
    for name in ("good", "other-key", "other-format", "other-media", "no-tensor", "damaged"):
        folder.save(name, {"x": np.ones(2, np.float32)}, media)
    CacheFolder(folder.folder, "fmt/1", "k2", ("x",)).save("other-key", {"x": np.ones(2, np.float32)}, media)
    CacheFolder(folder.folder, "fmt/2", "k1", ("x",)).save("other-format", {"x": np.ones(2, np.float32)}, media)
    folder.save("other-media", {"x": np.ones(2, np.float32)}, good)
    folder.save("no-tensor", {"y": np.ones(2, np.float32)}, media)
    folder.path("damaged").write_bytes(folder.path("damaged").read_bytes()[:30])
    with caplog.at_level(logging.WARNING):
        valid = {name: folder.is_valid(name, media) for name in
                 ("good", "other-key", "other-format", "other-media", "no-tensor", "damaged", "missing")}
        loaded = folder.load("good", media, framework="np")
    assert valid == {"good": True, "other-key": False, "other-format": False, "other-media": False,
                     "no-tensor": False, "damaged": False, "missing": False}
    assert loaded["x"].tolist() == [1.0, 1.0]
    assert caplog.text.count("does not match its name") == 4 and caplog.text.count("unreadable cache entry") == 1
    assert read_header(folder.path("good")).metadata == {"format": "fmt/1", "key": "k1", "media_sha256": media}


def _change_bytes_keep_size_and_mtime(path: Path) -> None:
    """New media bytes under the old size and modification time: only a hash of the bytes can tell."""
    stat = path.stat()
    blob = bytearray(path.read_bytes())
    assert blob[10] & 0x80  # a global colour table follows the 13-byte header
    blob[13] ^= 0xFF       # first palette entry's red
    path.write_bytes(bytes(blob))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


@pytest.fixture
def data(tmp_path) -> Dataset:
    return Dataset(make_dataset(tmp_path / "data", {"a": 3, "b": 4}))


def test_backbone_and_baseline_caches_recompute_an_entry_whose_media_changed(data, tmp_path):
    key = CacheKey(backbone="test", cut_after="", weights="none", weights_sha256="0" * 64, input_size=16,
                   frames="all", t=2, transform="test", dtype="float32")
    backbone = FeatureCache(tmp_path / "features", key)
    clips = prepare_clips(data, data.ids, progress=False).clips
    encoded: list[int] = []

    def encode(frames: torch.Tensor) -> torch.Tensor:
        encoded.append(len(frames))
        return F.avg_pool2d(frames, 8)

    baseline = BaselineCache(tmp_path / "baselines", "test_baseline", {"bins": 1}, t=2)
    computed: list[int] = []

    def compute():
        return lambda frames, indices: computed.append(len(frames)) or frames.mean(axis=(0, 1, 2))

    assert backbone.fill(data, clips, encode, progress=False).computed == 2
    extract(data, data.ids, baseline, 2, compute, progress=False)
    assert (len(encoded), len(computed)) == (2, 2)

    _change_bytes_keep_size_and_mtime(data.media_path("a"))
    report = backbone.fill(data, clips, encode, progress=False)
    extract(data, data.ids, baseline, 2, compute, progress=False)
    assert (report.reused, report.computed) == (1, 1)
    assert (len(encoded), len(computed)) == (3, 3)
    assert read_header(backbone.path("a")).metadata["media_sha256"] == sha256_of(data.media_path("a"))
    assert baseline.path(sha256_of(data.media_path("a"))).is_file()


def test_the_written_file_is_what_safetensors_writes_for_the_sorted_order(tmp_path):
    """write_safetensors writes the sorted header and then safetensors' data buffer in place: the file is byte for
    byte what safetensors itself gives when its hash map happens to come out sorted."""
    from safetensors.numpy import save

    arrays = _tensors("np")
    write_safetensors(tmp_path / "f.safetensors", arrays, META)
    for _ in range(500):  # safetensors writes the metadata in hash-map order, which changes from call to call
        blob = save(arrays, metadata=META)
        header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
        if list(header["__metadata__"]) == sorted(META):
            assert (tmp_path / "f.safetensors").read_bytes() == blob
            return
    pytest.skip("safetensors never wrote the metadata in sorted order")


def test_sha256_of_is_remembered_only_while_the_file_is_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "media.gif"
    blob = b"GIF89a\x01\x00\x01\x00\x80" + bytes(9)  # a header with a global colour table
    path.write_bytes(blob)
    first = sha256_of(path)
    assert first == hashlib.sha256(blob).hexdigest()
    reads = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr("kavan.core.tensorfile.hashlib.sha256", lambda *data: reads.append(1) or real_sha256(*data))
    assert sha256_of(path) == first and reads == []  # unchanged: not read again
    _change_bytes_keep_size_and_mtime(path)  # same size and mtime, other bytes: the ctime moved
    changed = real_sha256(path.read_bytes()).hexdigest()
    reads.clear()
    assert sha256_of(path) == changed != first and reads == [1]
