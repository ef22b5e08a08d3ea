"""The keypoint cache: round trip, validation, atomic writes, corrupt files, deterministic bytes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from kavan.core.errors import KavanError
from kavan.keypoints import cache as keypoint_cache
from kavan.keypoints.cache import KeypointRecord, cache_path, load, save


def _record(frames: int = 3, faces: int = 2, seed: int = 0) -> KeypointRecord:
    rng = np.random.default_rng(seed)
    kp = np.zeros((frames, faces, 70, 3), dtype=np.float32)
    kp[..., :2] = rng.uniform(0, 100, (frames, faces, 70, 2))
    kp[..., 2] = rng.uniform(0.1, 1.0, (frames, faces, 70))
    return KeypointRecord(keypoints=kp, backend="test-detector", backend_version="2.1", width=120, height=90)


def test_round_trip_keeps_every_value_and_field(tmp_path):
    record = _record()
    path = tmp_path / "keypoints" / "gif1.safetensors"
    save(path, record)
    back = load(path)
    np.testing.assert_array_equal(back.keypoints, record.keypoints)
    assert back.keypoints.dtype == np.float32
    assert (back.backend, back.backend_version, back.width, back.height, back.n_frames) == \
        ("test-detector", "2.1", 120, 90, 3)


def test_faces_per_frame_counts_slots_with_any_confident_point():
    kp = np.zeros((4, 2, 70, 3), dtype=np.float32)
    kp[0, :, :, 2] = 0.5            # frame 0: both faces
    kp[1, 0, 10, 2] = 0.01          # frame 1: one point of face 0 is enough
    kp[3, 1, :, :2] = 50.0          # frame 3: coordinates but confidence 0: not a face
    record = KeypointRecord(keypoints=kp, backend="b", backend_version="1", width=10, height=10)
    assert record.faces_per_frame.tolist() == [2, 1, 0, 0]
    assert record.n_frames == 4


def test_cache_path_is_keypoints_folder_of_dataset(tmp_path):
    assert cache_path(tmp_path, "abc") == tmp_path / "keypoints" / "abc.safetensors"


def test_equal_records_give_equal_bytes_with_sorted_metadata(tmp_path):
    save(tmp_path / "a.safetensors", _record())
    save(tmp_path / "b.safetensors", _record())
    blob = (tmp_path / "a.safetensors").read_bytes()
    assert blob == (tmp_path / "b.safetensors").read_bytes()
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
    meta = header["__metadata__"]
    assert list(meta) == sorted(meta)
    assert meta == {"backend": "test-detector", "backend_version": "2.1", "format": "kavan-keypoints/1",
                    "height": "90", "n_frames": "3", "width": "120"}


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "gif.safetensors"
    save(path, _record(seed=1))
    before = path.read_bytes()

    def broken(*args, **kwargs):  # the bytes are written, then flushing them to disk fails
        raise OSError("disk full")

    monkeypatch.setattr("kavan.core.atomic.os.fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        save(path, _record(seed=2))
    with pytest.raises(OSError):
        save(tmp_path / "new.safetensors", _record(seed=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gif.safetensors"]
    assert path.read_bytes() == before


def test_failed_rename_removes_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "gif.safetensors"
    save(path, _record(seed=1))
    before = path.read_bytes()

    def broken(src, dst):
        raise PermissionError("read-only")

    monkeypatch.setattr(keypoint_cache.os, "replace", broken)
    with pytest.raises(PermissionError):
        save(path, _record(seed=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gif.safetensors"]
    assert path.read_bytes() == before


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_is_a_kavan_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "bad.safetensors"
    save(path, _record())
    blob = path.read_bytes()
    path.write_bytes({"truncate": blob[: len(blob) // 2], "garbage": b"\x93NUMPY not safetensors at all",
                      "empty": b""}[damage])
    with pytest.raises(KavanError) as err:
        load(path)
    assert err.value.path == str(path)
    assert str(path) in str(err.value)


def test_missing_file_is_a_kavan_error(tmp_path):
    with pytest.raises(KavanError, match="cannot read"):
        load(tmp_path / "nope.safetensors")


def _raw(path, array, **meta):
    base = {"format": "kavan-keypoints/1", "backend": "x", "backend_version": "1",
            "n_frames": str(array.shape[0]), "width": "10", "height": "10"}
    save_file({"keypoints": array}, str(path), metadata={**base, **meta})


@pytest.mark.parametrize("array, meta, message", [
    (np.zeros((2, 70, 3), np.float32), {}, "shape"),                    # no face axis
    (np.zeros((2, 1, 68, 3), np.float32), {}, "shape"),                 # 68 points, not 70
    (np.zeros((2, 0, 70, 3), np.float32), {}, "shape"),                 # no face slot
    (np.zeros((2, 1, 70, 3), np.float64), {}, "float32"),
    (np.zeros((2, 1, 70, 3), np.float32), {"format": "other/9"}, "unknown keypoint format"),
    (np.zeros((2, 1, 70, 3), np.float32), {"n_frames": "5"}, "metadata says 5 frames"),
    (np.zeros((2, 1, 70, 3), np.float32), {"width": "wide"}, "integers"),
    (np.full((2, 1, 70, 3), 2.0, np.float32), {}, r"\[0, 1\]"),        # confidence 2
])
def test_load_validates_shape_dtype_and_metadata(tmp_path, array, meta, message):
    path = tmp_path / "k.safetensors"
    _raw(path, array, **meta)
    with pytest.raises(KavanError, match=message) as err:
        load(path)
    assert err.value.path == str(path)


def test_file_without_metadata_is_refused(tmp_path):
    path = tmp_path / "k.safetensors"
    save_file({"keypoints": np.zeros((1, 1, 70, 3), np.float32)}, str(path))
    with pytest.raises(KavanError, match="no metadata"):
        load(path)


def test_save_refuses_bad_records_and_writes_nothing(tmp_path):
    path = tmp_path / "k.safetensors"
    nan = _record().keypoints.copy()
    nan[0, 0, 0, 0] = np.nan
    for kp in (nan, np.zeros((2, 1, 68, 3), np.float32)):
        with pytest.raises(KavanError):
            save(path, KeypointRecord(keypoints=kp, backend="b", backend_version="1", width=5, height=5))
    assert not any(tmp_path.iterdir())
