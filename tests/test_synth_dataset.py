"""`kavan synth` end to end: the dataset folder, byte-identical reruns, scores, the CLI and the preview."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kavan.cli import main
from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.data.dataset import Dataset
from kavan.keypoints import cache as keypoint_cache
from kavan.media import decode
from kavan.synth import SynthConfig, generate_dataset, make_gif
from kavan.synth.generate import truth_path, write_gif_file
from kavan.synth.preview import write_preview

SMALL = SynthConfig(width=64, height=48, n_frames=6, clutter=3, decoys=1, votes_per_gif=6, p_two_faces=0.3)
SETS = ["width=64", "height=48", "n_frames=6", "clutter=3", "votes_per_gif=6", "p_two_faces=0.3"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _table(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["id", *EMOTIONS]
    return [r[0] for r in rows[1:]], np.array([[float(v) for v in r[1:]] for r in rows[1:]])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    generate_dataset(out, 14, 7, SMALL, workers=1, progress=False)
    return out


def test_layout_has_every_file_for_every_gif(dataset):
    ids = [f"synth{i:06d}" for i in range(14)]
    assert sorted(p.stem for p in (dataset / "gifs").iterdir()) == ids
    assert sorted(p.stem for p in (dataset / "keypoints").iterdir()) == ids
    assert sorted(p.stem for p in (dataset / "groundtruth" / "landmarks").iterdir()) == ids
    for name in ("scores.csv", "votes.csv", "synth.json", "groundtruth/latents.csv", "groundtruth/gifs.jsonl"):
        assert (dataset / name).is_file(), name
    info = json.loads((dataset / "synth.json").read_text())
    assert (info["seed"], info["n"], info["format"]) == (7, 14, "kavan-synthgif/1")
    assert SynthConfig(**info["config"]) == SMALL
    metas = [json.loads(line) for line in (dataset / "groundtruth" / "gifs.jsonl").read_text().splitlines()]
    assert [m["id"] for m in metas] == ids


def test_gifs_decode_to_the_configured_frames(dataset):
    for path in sorted((dataset / "gifs").iterdir()):
        info = decode.probe(path)
        assert (info.width, info.height, info.n_frames, info.loop) == (64, 48, 6, 0)
        assert info.durations_ms == [100] * 6
        record = keypoint_cache.load(keypoint_cache.cache_path(dataset, path.stem))
        assert (record.n_frames, record.width, record.height) == (6, 64, 48)
        assert record.backend == "synthgif-simulated-detector"


def test_truth_landmarks_match_the_metadata(dataset):
    for line in (dataset / "groundtruth" / "gifs.jsonl").read_text().splitlines():
        meta = json.loads(line)
        truth = keypoint_cache.load(truth_path(dataset, meta["id"]))
        assert truth.backend == "synthgif-truth"
        assert truth.faces_per_frame.tolist() == [meta["n_faces"]] * 6


def test_votes_and_scores(dataset):
    ids, latents = _table(dataset / "groundtruth" / "latents.csv")
    score_ids, scores = _table(dataset / "scores.csv")
    assert score_ids == ids
    assert scores.min() >= 0 and scores.max() <= 1
    with open(dataset / "votes.csv", newline="") as fh:
        votes = list(csv.DictReader(fh))
    assert len(votes) == 17 * 6 * 14 // 2
    assert {v["winner"] for v in votes} <= {"a", "b", "neither"}
    r = np.corrcoef(latents.ravel(), scores.ravel())[0, 1]
    assert r > 0.8


def test_the_project_loader_reads_it(dataset):
    data = Dataset(dataset)
    assert len(data) == 14
    assert data.keypoints(data.ids[0]).keypoints.shape[0] == 6
    assert data.frames(data.ids[0], [0, 5]).shape == (2, 48, 64, 3)


def test_same_seed_gives_identical_bytes_whatever_the_worker_count(dataset, tmp_path):
    generate_dataset(tmp_path / "two", 14, 7, SMALL, workers=2, progress=False)
    assert _files(tmp_path / "two") == _files(dataset)
    generate_dataset(tmp_path / "other", 14, 8, SMALL, workers=1, progress=False)
    other = _files(tmp_path / "other")
    mine = _files(dataset)
    assert sorted(other) == sorted(mine)
    assert all(other[name] != mine[name] for name in mine if name.startswith("gifs/"))


def test_still_frames_keep_their_count(tmp_path):
    # No clutter, no face, no panning: consecutive frames are identical, which a GIF encoder would merge.
    cfg = dataclasses.replace(SMALL, clutter=0, decoys=0, background_speed=0.0, p_no_face=1.0, p_two_faces=0.0)
    sample = make_gif(cfg, 0, 0)
    assert (sample.frames == sample.frames[:1]).all()
    write_gif_file(tmp_path / "still.gif", sample.frames, cfg)
    assert decode.probe(tmp_path / "still.gif").n_frames == 6
    frames = decode.read_frames(tmp_path / "still.gif", range(6)).astype(int)
    assert np.abs(frames - frames[:1]).sum(axis=-1).astype(bool).sum() == 3   # one corner pixel, every other frame


def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x.txt").write_text("keep me")
    with pytest.raises(KavanError, match="not empty") as err:
        generate_dataset(tmp_path, 4, 0, SMALL, workers=1, progress=False)
    assert err.value.path == str(tmp_path)
    with pytest.raises(KavanError, match="at least 2"):
        generate_dataset(tmp_path / "new", 1, 0, SMALL, workers=1, progress=False)


def test_cli_generates_with_overrides_and_previews(tmp_path, capsys):
    out, png = tmp_path / "cli", tmp_path / "sheet.png"
    argv = ["synth", "--out", str(out), "--n", "6", "--seed", "3", "--workers", "1", "--no-progress",
            "--preview", str(png)]
    for item in SETS:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 6 and result["votes"] == 17 * 6 * 6 // 2
    assert sum(result["scenarios"].values()) == 6
    assert json.loads((out / "synth.json").read_text())["overrides"] == SETS
    assert Image.open(png).size[0] > 300

    again = tmp_path / "again.png"
    assert main(["synth", "--preview", str(again), "--from", str(out)]) == 0
    assert again.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--out", "{tmp}/a", "--n", "4", "--set", "bogus=1"], "unknown key 'bogus'"),
    (["--out", "{tmp}/a", "--n", "4", "--preset", "nightmare"], "unknown synth preset"),
    (["--n", "4"], "give --out DIR and --n N"),
    (["--preview", "{tmp}/p.png", "--from", "{tmp}"], "no synth.json"),
    (["--from", "{tmp}"], "give --preview"),
])
def test_cli_errors_are_reported_with_exit_code_1(tmp_path, capsys, argv, message):
    assert main(["synth", *(a.replace("{tmp}", str(tmp_path)) for a in argv)]) == 1
    assert message in capsys.readouterr().err


def test_preview_draws_the_chosen_gifs(dataset, tmp_path):
    png = write_preview(dataset, tmp_path / "p.png", n_gifs=3, n_frames=4)
    image = Image.open(png)
    assert image.format == "PNG" and image.size[0] > image.size[1] > 200
    with pytest.raises(KavanError, match="cannot read SynthGIF metadata"):
        write_preview(tmp_path, tmp_path / "q.png")
