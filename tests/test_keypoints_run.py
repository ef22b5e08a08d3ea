"""Keypoints for a file and a dataset folder: cache round trip, resuming, settings changes, bad files, shards,
stale temporary files, parallel workers, and the `kavan keypoints` command's JSON and pictures."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from PIL import Image

from kavan.cli import main
from kavan.core.errors import KavanError
from kavan.core.shards import in_shard, parse_shard
from kavan.keypoints import cache as keypoint_cache
from kavan.keypoints.config import KeypointConfig
from kavan.keypoints.run import (
    STALE_TEMP_SECONDS,
    estimate_file,
    remove_stale_temporaries,
    run_dataset,
)
from kavan.media import decode


def _dataset(tmp_path, real_gifs, names, broken=()):
    """A dataset folder whose gifs/ links to real GIFs (never copies them) plus broken files."""
    gifs = tmp_path / "ds" / "gifs"
    gifs.mkdir(parents=True)
    for name in names:
        (gifs / name).symlink_to(real_gifs / name)
    for name in broken:
        (gifs / name).write_bytes(b"GIF89a but not really a GIF")
    return tmp_path / "ds"


def test_file_keypoints_round_trip_through_the_cache(estimator, real_gifs, tmp_path):
    path = real_gifs / "dis-good.gif"
    record = estimate_file(path, estimator)
    info = decode.probe(path)
    assert record.keypoints.shape[:1] == (info.n_frames,) and record.keypoints.shape[2:] == (70, 3)
    assert (record.width, record.height) == (info.width, info.height)
    assert record.backend == "mediapipe-face-mesh" and record.backend_version.startswith("kavan-keypoints/1;")
    assert "mediapipe==0.10.21" in record.backend_version
    assert (record.faces_per_frame == 1).all()
    cache = keypoint_cache.cache_path(tmp_path, "dis-good")
    keypoint_cache.save(cache, record)
    back = keypoint_cache.load(cache)
    np.testing.assert_array_equal(back.keypoints, record.keypoints)
    assert (back.backend, back.backend_version, back.width, back.height) == \
        (record.backend, record.backend_version, record.width, record.height)


def test_dataset_run_resumes_recomputes_on_new_settings_and_survives_bad_files(real_gifs, tmp_path):
    root = _dataset(tmp_path, real_gifs, ["rainbow-vomit.gif", "like-a-boss.gif"], broken=["bad.gif"])
    first = run_dataset(root, progress=False)
    assert sorted(first.estimated) == ["like-a-boss", "rainbow-vomit"] and not first.skipped
    assert list(first.failed) == ["bad"] and not first.ok
    caches = sorted(p.name for p in (root / "keypoints").iterdir())
    assert caches == ["like-a-boss.safetensors", "rainbow-vomit.safetensors"]      # no temporary files left
    cartoon = keypoint_cache.load(root / "keypoints" / "rainbow-vomit.safetensors")
    assert cartoon.keypoints.shape == (2, 1, 70, 3) and not cartoon.keypoints.any()   # no face: one empty slot
    boss = keypoint_cache.load(root / "keypoints" / "like-a-boss.safetensors")
    assert boss.keypoints.shape[1] >= 3 and boss.faces_per_frame.max() >= 3

    # resumed: nothing to do but the broken file, which fails again with its reason
    mtime = (root / "keypoints" / "like-a-boss.safetensors").stat().st_mtime_ns
    second = run_dataset(root, progress=False)
    assert sorted(second.skipped) == ["like-a-boss", "rainbow-vomit"] and not second.estimated
    assert "bad" in second.failed
    assert (root / "keypoints" / "like-a-boss.safetensors").stat().st_mtime_ns == mtime

    # a damaged cache is estimated again; one made with other settings is kept, unless forced
    (root / "keypoints" / "rainbow-vomit.safetensors").write_bytes(b"\x00" * 20)
    (root / "gifs" / "bad.gif").unlink()
    third = run_dataset(root, KeypointConfig(max_faces=2), progress=False)
    assert third.estimated == ["rainbow-vomit"] and list(third.kept) == ["like-a-boss"] and third.ok
    assert "max_faces=10" in third.kept["like-a-boss"]
    assert (root / "keypoints" / "like-a-boss.safetensors").stat().st_mtime_ns == mtime
    fourth = run_dataset(root, KeypointConfig(max_faces=2), force=True, progress=False)
    assert sorted(fourth.estimated) == ["like-a-boss", "rainbow-vomit"]
    boss2 = keypoint_cache.load(root / "keypoints" / "like-a-boss.safetensors")
    assert boss2.keypoints.shape[1] == 2 and "max_faces=2" in boss2.backend_version


def test_the_force_option_of_the_command_replaces_caches_that_a_plain_run_keeps(real_gifs, tmp_path, capsys):
    root = _dataset(tmp_path, real_gifs, ["rainbow-vomit.gif"])
    cache = root / "keypoints" / "rainbow-vomit.safetensors"
    assert main(["keypoints", str(root)]) == 0
    real = cache.read_bytes()
    record = keypoint_cache.load(cache)
    # a cache that loads and claims this backend and settings, but whose points are not the estimator's
    wrong = record.keypoints.copy()
    wrong[..., :] = [5.0, 7.0, 0.5]
    keypoint_cache.save(cache, keypoint_cache.KeypointRecord(wrong, record.backend, record.backend_version,
                                                             record.width, record.height))
    planted = cache.read_bytes()
    assert planted != real
    capsys.readouterr()

    assert main(["keypoints", str(root)]) == 0                     # without --force: taken as done, left alone
    assert cache.read_bytes() == planted and "0 estimated" in capsys.readouterr().out
    assert main(["keypoints", str(root), "--force"]) == 0          # with it: estimated again and replaced
    assert "1 estimated" in capsys.readouterr().out
    assert cache.read_bytes() == real
    assert sorted(p.name for p in (root / "keypoints").iterdir()) == [cache.name]  # no temporary file left


def test_shards_split_the_ids_exactly_once(real_gifs, tmp_path):
    ids = [f"gif{i:04d}" for i in range(300)]
    owners = [[s for s in range(1, 4) if in_shard(i, (s, 3))] for i in ids]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(o == [s] for o in owners) for s in range(1, 4)]
    assert min(sizes) > 70                                     # roughly even
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "1", "a/b", "1/0"):
        with pytest.raises(KavanError, match="i/n"):
            parse_shard(bad)
    # a run of one shard writes only that shard's caches
    names = ["rainbow-vomit.gif", "like-a-boss.gif", "dis-good.gif"]
    root = _dataset(tmp_path, real_gifs, names)
    shard = next(s for s in range(1, 4) if 0 < sum(in_shard(n[:-4], (s, 3)) for n in names) < 3)
    report = run_dataset(root, shard=(shard, 3), progress=False)
    expected = sorted(n[:-4] for n in names if in_shard(n[:-4], (shard, 3)))
    assert sorted(report.estimated) == expected
    assert sorted(p.stem for p in (root / "keypoints").iterdir()) == expected


def test_a_broken_symbolic_link_is_reported_and_counted_as_failed(tmp_path, capsys, caplog):
    gifs = tmp_path / "ds" / "gifs"
    gifs.mkdir(parents=True)
    (gifs / "gone.gif").symlink_to(tmp_path / "moved" / "gone.gif")       # its target was moved away
    (gifs / "notes.txt").symlink_to(tmp_path / "nowhere.txt")             # not a media file: ignored
    report = run_dataset(tmp_path / "ds", progress=False)
    assert list(report.failed) == ["gone"] and not report.ok and not report.estimated
    assert report.failed["gone"].startswith("broken symbolic link: its target ")
    assert "gone.gif: broken symbolic link" in caplog.text
    assert main(["keypoints", str(tmp_path / "ds")]) == 1
    out = capsys.readouterr().out
    assert "1 failed" in out and "failed gone: broken symbolic link" in out


def test_only_stale_temporary_files_are_removed(tmp_path):
    stale = tmp_path / ".a.safetensors.x1.tmp"
    fresh = tmp_path / ".b.safetensors.x2.tmp"
    other = tmp_path / "a.safetensors"
    for p in (stale, fresh, other):
        p.write_bytes(b"x")
    old = time.time() - STALE_TEMP_SECONDS - 5
    os.utime(stale, (old, old))
    assert remove_stale_temporaries(tmp_path) == 1
    assert not stale.exists() and fresh.exists() and other.exists()


@pytest.mark.slow
def test_two_workers_write_what_one_worker_writes(real_gifs, tmp_path):
    names = ["rainbow-vomit.gif", "like-a-boss.gif", "gob-magic.gif"]
    one = run_dataset(_dataset(tmp_path / "one", real_gifs, names), progress=False)
    two = run_dataset(_dataset(tmp_path / "two", real_gifs, names), workers=2, progress=False)
    assert sorted(one.estimated) == sorted(two.estimated) == sorted(n[:-4] for n in names)
    for name in names:
        a = keypoint_cache.load(tmp_path / "one" / "ds" / "keypoints" / f"{name[:-4]}.safetensors")
        b = keypoint_cache.load(tmp_path / "two" / "ds" / "keypoints" / f"{name[:-4]}.safetensors")
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)


def test_command_prints_json_and_draws_a_sheet(real_gifs, tmp_path, capsys):
    out = tmp_path / "boss.png"
    assert main(["keypoints", str(real_gifs / "like-a-boss.gif"), "--json", "--draw", str(out),
                 "--frames", "0,14"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"path", "backend", "backend_version", "width", "height", "n_frames", "frames", "faces",
                        "faces_per_frame"}
    assert doc["n_frames"] == len(doc["frames"]) == len(doc["faces"]) == len(doc["faces_per_frame"]) == 18
    assert all(len(frame) == 70 and all(len(p) == 3 for p in frame) for frame in doc["frames"])
    assert doc["faces_per_frame"][14] == 2 == len(doc["faces"][14])
    # "frames" holds the largest face: the centre man, right of the woman and left of the bearded man
    xs = [np.mean([p[0] for p in face]) for face in doc["faces"][0]]
    assert np.mean([p[0] for p in doc["frames"][0]]) == pytest.approx(xs[0]) and sorted(xs)[1] == xs[0]
    sheet = Image.open(out)
    assert sheet.format == "PNG" and sheet.width > 498            # two frames side by side


def test_command_draws_an_animated_gif_and_reports_bad_input(real_gifs, tmp_path, capsys):
    out = tmp_path / "cartoon.gif"
    assert main(["keypoints", str(real_gifs / "rainbow-vomit.gif"), "--draw", str(out)]) == 0
    assert capsys.readouterr().out == ""                           # --draw alone prints nothing
    with Image.open(out) as gif:
        assert gif.n_frames == 2 and gif.size == (287, 276)
    assert main(["keypoints", str(tmp_path), "--shard", "0/3"]) == 1
    assert "i/n" in capsys.readouterr().err
    assert main(["keypoints", str(tmp_path / "missing.gif")]) == 1
    assert "missing.gif: file not found" in capsys.readouterr().err


def test_the_dataset_loader_and_data_check_read_the_caches(real_gifs, tmp_path):
    from helpers.dataset_folder import one_hot, write_csv
    from kavan.core.emotions import EMOTIONS
    from kavan.data.check import check_dataset
    from kavan.data.dataset import Dataset

    root = _dataset(tmp_path, real_gifs, ["like-a-boss.gif", "rainbow-vomit.gif"])
    write_csv(root / "scores.csv", ["id", *EMOTIONS],
              [["like-a-boss", *one_hot("amusement")], ["rainbow-vomit", *one_hot("disgust")]])
    assert run_dataset(root, progress=False).ok
    dataset = Dataset(root)
    record = dataset.keypoints("like-a-boss")
    assert record.n_frames == dataset.media_info("like-a-boss").n_frames == 18
    assert record.faces_per_frame[12:].tolist() == [2] * 6
    report = check_dataset(root, progress=False)
    assert report.ok and report.n_warnings == 0 and report.to_json()["counts"]["keypoint_caches"] == 2


@pytest.mark.subprocess
@pytest.mark.slow
def test_a_killed_run_leaves_only_whole_caches_and_the_rerun_finishes(real_gifs, tmp_path):
    import signal
    import subprocess
    import sys

    names = ["rainbow-vomit.gif", "dis-good.gif", "like-a-boss.gif", "folgers-decaffeinated.gif"]
    root = _dataset(tmp_path, real_gifs, names)
    proc = subprocess.Popen([sys.executable, "-m", "kavan", "keypoints", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache_dir = root / "keypoints"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and \
            not (cache_dir.is_dir() and any(cache_dir.glob("*.safetensors"))):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.stem for p in cache_dir.glob("*.safetensors"))
    # ids go in sorted order: dis-good (16 frames) is written first, then folgers (204 frames) is under way
    assert 1 <= len(done) < len(names)
    for stem in done:
        keypoint_cache.load(cache_dir / f"{stem}.safetensors")  # every cache file is whole
    report = run_dataset(root, progress=False)
    assert sorted(report.skipped) == done
    assert sorted(report.skipped + report.estimated) == sorted(n[:-4] for n in names)
