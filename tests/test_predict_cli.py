"""`kavan predict`: one object or JSON lines, folders, pictures, error lines, exit codes, --out and --resume."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kavan
from helpers.predict_model import write_tiny_model
from kavan.cli import main
from kavan.core.emotions import EMOTIONS
from kavan.predict.inputs import InputFile, expand_inputs, picture_path


@pytest.fixture
def folder(tmp_path, real_gifs) -> Path:
    """gifs/: bad.gif (text), cool.gif and like-a-boss.gif (links to the real GIFs), notes.txt (ignored),
    .hidden.gif (ignored), sub/rainbow-vomit.gif and sub/still.png."""
    root = tmp_path / "gifs"
    (root / "sub").mkdir(parents=True)
    (root / "bad.gif").write_text("not a GIF, whatever its name says")
    (root / "notes.txt").write_text("not media")
    (root / ".hidden.gif").symlink_to(real_gifs / "cool.gif")
    for name in ("cool.gif", "like-a-boss.gif"):
        (root / name).symlink_to(real_gifs / name)
    (root / "sub" / "rainbow-vomit.gif").symlink_to(real_gifs / "rainbow-vomit.gif")
    Image.new("RGB", (40, 30), (10, 200, 30)).save(root / "sub" / "still.png")
    return root


EXPECTED_ORDER = ["bad.gif", "cool.gif", "like-a-boss.gif", "sub/rainbow-vomit.gif", "sub/still.png"]


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def assert_same_records(got: list[str], expected: list[str]) -> None:
    """The same files in the same order with the same answers. A resumed run batches the files left differently,
    and a batch of other size may sum in another order on one thread, so numbers agree to 1e-5, not to the digit."""
    got_records, expected_records = [json.loads(line) for line in got], [json.loads(line) for line in expected]
    assert [r["path"] for r in got_records] == [r["path"] for r in expected_records]
    for a, b in zip(got_records, expected_records):
        assert a.keys() == b.keys() and a.get("error") == b.get("error")
        if "emotions" in b:
            assert list(a["emotions"]) == list(b["emotions"])
            np.testing.assert_allclose(list(a["emotions"].values()), list(b["emotions"].values()), atol=1e-5)
            assert a["quadrant"]["label"] == b["quadrant"]["label"]


def test_one_file_gives_one_indented_object_equal_to_the_api(tiny_model, real_gifs, capsys):
    path = str(real_gifs / "dis-good.gif")
    assert main(["predict", path, "--checkpoint", str(tiny_model)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("{\n  \"path\"")  # indented for a person reading it
    assert json.loads(out) == kavan.load(tiny_model, "cpu").predict(path).to_json()


def test_folder_gives_json_lines_in_order_with_error_lines_and_exit_1(tiny_model, folder, capsys, caplog):
    code = main(["predict", str(folder), "--checkpoint", str(tiny_model), "--workers", "1", "--batch-size", "2"])
    records = lines(capsys.readouterr().out)
    assert code == 1
    assert [os.path.relpath(r["path"], folder) for r in records] == EXPECTED_ORDER
    assert records[0] == {"path": str(folder / "bad.gif"), "error": records[0]["error"]}
    assert "unrecognised content" in records[0]["error"]
    assert all(sorted(r["emotions"]) == sorted(EMOTIONS) for r in records[1:])
    assert records[4]["frames_used"] == [0, 0, 0, 0]
    assert "bad.gif: unrecognised content" in caplog.text  # the failure is logged too


def test_a_broken_symbolic_link_in_a_folder_gets_its_own_error_line_and_the_batch_goes_on(tiny_model, real_gifs,
                                                                                          tmp_path, capsys):
    root = tmp_path / "gifs"
    root.mkdir()
    for name in ("cool.gif", "rainbow-vomit.gif"):
        (root / name).symlink_to(real_gifs / name)
    (root / "gone.gif").symlink_to(tmp_path / "moved" / "gone.gif")  # its target was moved away
    assert [item.name for item in expand_inputs([str(root)])] == ["cool.gif", "gone.gif", "rainbow-vomit.gif"]
    code = main(["predict", str(root), "--checkpoint", str(tiny_model), "--workers", "0", "--batch-size", "3"])
    records = lines(capsys.readouterr().out)
    assert code == 1 and len(records) == 3
    assert records[1] == {"path": str(root / "gone.gif"),
                          "error": f"a broken symbolic link (to {tmp_path / 'moved' / 'gone.gif'})"}
    assert all(sorted(r["emotions"]) == sorted(EMOTIONS) for r in (records[0], records[2]))


def test_several_files_with_a_missing_one(tiny_model, real_gifs, tmp_path, capsys):
    missing = str(tmp_path / "missing.gif")
    code = main(["predict", str(real_gifs / "rainbow-vomit.gif"), missing, "--checkpoint", str(tiny_model)])
    records = lines(capsys.readouterr().out)
    assert code == 1 and len(records) == 2
    assert records[1] == {"path": missing, "error": "file not found"}
    assert records[0]["frames_used"] == [0, 0, 1, 1]


def test_all_good_files_exit_0(tiny_model, real_gifs, capsys):
    names = ["rainbow-vomit.gif", "like-a-boss.gif"]
    assert main(["predict", *(str(real_gifs / n) for n in names), "--checkpoint", str(tiny_model),
                 "--workers", "0"]) == 0
    assert [Path(r["path"]).name for r in lines(capsys.readouterr().out)] == names


def test_pictures_are_written_per_file_with_mirrored_names(tiny_model, folder, tmp_path, capsys):
    overlay, chart = tmp_path / "overlay", tmp_path / "chart"
    main(["predict", str(folder), "--checkpoint", str(tiny_model), "--overlay", str(overlay), "--chart", str(chart)])
    records = lines(capsys.readouterr().out)
    good = EXPECTED_ORDER[1:]
    assert sorted(str(p.relative_to(overlay)) for p in overlay.rglob("*.gif")) == [f"{n}.overlay.gif" for n in good]
    assert sorted(str(p.relative_to(chart)) for p in chart.rglob("*.png")) == [f"{n}.chart.png" for n in good]
    with Image.open(overlay / "cool.gif.overlay.gif") as image:
        assert image.is_animated and image.n_frames == 4 and image.size == (360, 390)
    with Image.open(overlay / "sub" / "rainbow-vomit.gif.overlay.gif") as image:
        assert image.size == (287, 276)
    with Image.open(chart / "sub" / "still.png.chart.png") as image:
        assert image.format == "PNG" and image.size[0] > 600
    assert records[1]["path"] == str(folder / "cool.gif")


def test_overlay_needs_a_model_with_attention(tmp_path, real_gifs, capsys):
    plain = write_tiny_model(tmp_path / "plain.safetensors", attention={"enabled": False, "size": 8})
    code = main(["predict", str(real_gifs / "cool.gif"), "--checkpoint", str(plain), "--overlay", str(tmp_path)])
    assert code == 1 and "--overlay needs a model with attention" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    (b"GIF89a not a model", "not a safetensors file"),
    ("half", "not a safetensors file"),
])
def test_bad_checkpoint_is_one_clear_error(tiny_model, real_gifs, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.safetensors"
    if content == "half":
        bad.write_bytes(tiny_model.read_bytes()[:5000])
    elif content is not None:
        bad.write_bytes(content)
    code = main(["predict", str(real_gifs / "cool.gif"), "--checkpoint", str(bad)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.startswith(f"kavan predict: error: {bad}: {message}")


def test_empty_folder_is_an_error(tiny_model, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), "--checkpoint", str(tiny_model)]) == 1
    assert "no media files found" in capsys.readouterr().err


def test_out_then_resume_after_a_torn_line(tiny_model, folder, tmp_path, capsys, caplog):
    out = tmp_path / "results" / "predictions.jsonl"
    args = ["predict", str(folder), "--checkpoint", str(tiny_model), "--out", str(out)]
    assert main(args) == 1
    assert capsys.readouterr().out == ""  # the lines went to the file
    first = out.read_text().splitlines()
    assert [os.path.relpath(json.loads(line)["path"], folder) for line in first] == EXPECTED_ORDER

    assert main(args) == 1  # an existing file is not overwritten without --resume
    assert "exists; pass --resume" in capsys.readouterr().err
    assert out.read_text().splitlines() == first

    # A run cut off while writing its third line: two whole lines and half of the third.
    out.write_text(first[0] + "\n" + first[1] + "\n" + first[2][: len(first[2]) // 2])
    assert main(args + ["--resume"]) == 0  # bad.gif was already recorded; the three left are all readable
    assert "the last line is incomplete" in caplog.text
    resumed = out.read_text().splitlines()
    assert_same_records(resumed, first)  # every path once, in order, the answers of the uninterrupted run
    assert resumed[:2] == first[:2]  # the whole lines already there are kept as they were

    assert main(args + ["--resume"]) == 0  # nothing left to do
    assert out.read_text().splitlines() == resumed


def test_resume_refuses_a_file_that_is_not_predict_output(tiny_model, folder, tmp_path, capsys):
    out = tmp_path / "other.jsonl"
    out.write_text('{"path": "x.gif", "error": "file not found"}\nhello world\n{"path": "y.gif"}\n')
    assert main(["predict", str(folder), "--checkpoint", str(tiny_model), "--out", str(out), "--resume"]) == 1
    assert "line 2 is not a JSON object" in capsys.readouterr().err
    assert main(["predict", str(folder), "--checkpoint", str(tiny_model), "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--overlay", "{file}"], "--overlay {file}: is a file, not a folder"),
    (["--chart", "{file}"], "--chart {file}: is a file, not a folder"),
    (["--overlay", "{file}/sub"], "--overlay {file}/sub: cannot be created, {file} is a file"),
    (["--out", "{tmp}"], "--out {tmp}: is a folder"),
    (["--out", "{file}/p.jsonl"], "--out {file}/p.jsonl: cannot be created, {file} is a file"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--workers", "-1"], "--workers -1: must be 0"),
    (["--device", "gpu"], "--device gpu: unknown device 'gpu'"),
])
def test_a_bad_argument_is_one_line_naming_it_and_exit_2(tiny_model, real_gifs, tmp_path, capsys, extra, message):
    existing = tmp_path / "notes.txt"
    existing.write_text("a file, not a folder")
    fill = {"file": existing, "tmp": tmp_path}
    code = main(["predict", str(real_gifs / "cool.gif"), "--checkpoint", str(tiny_model),
                 *(arg.format(**fill) for arg in extra)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.splitlines()) == 1
    assert captured.err.startswith(f"kavan predict: error: {message.format(**fill)}")
    assert existing.read_text() == "a file, not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


def test_a_picture_that_cannot_be_written_stops_the_run_with_one_line(tiny_model, folder, tmp_path, capsys):
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "sub").write_text("a file where the sub-folder's charts go")
    code = main(["predict", str(folder), "--checkpoint", str(tiny_model), "--chart", str(chart), "--workers", "0",
                 "--no-progress"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"kavan predict: error: {chart / 'sub' / 'rainbow-vomit.gif.chart.png'}: cannot write "
                              "picture")


@pytest.mark.subprocess
@pytest.mark.slow
def test_a_second_writer_of_the_same_out_file_is_refused(tiny_model, folder, tmp_path, capsys):
    """Two runs resuming one file would both append the paths left; while one holds the file, another is refused."""
    out = tmp_path / "p.jsonl"
    first = '{"path": "x.gif", "error": "file not found"}\n'
    out.write_text(first)
    command = [sys.executable, "-m", "kavan", "predict", str(folder), "--checkpoint", str(tiny_model), "--out",
               str(out), "--resume", "--no-progress", "--workers", "0"]
    with open(out, "ab") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running kavan predict holds
        second = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert second.returncode == 1
        assert second.stderr.splitlines()[-1] == (f"kavan predict: error: {out}: is being written by another kavan "
                                                  "predict run (it holds the file's lock); wait for that run to end, "
                                                  "then run again with --resume")
        assert "Traceback" not in second.stderr and out.read_text() == first  # nothing written by the second run
    assert main(["predict", str(folder), "--checkpoint", str(tiny_model), "--out", str(out), "--resume"]) == 1
    paths = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    assert paths == ["x.gif", *(str(folder / name) for name in EXPECTED_ORDER)]


def test_the_out_file_is_locked_while_a_run_writes_it(tiny_model, real_gifs, tmp_path, monkeypatch):
    """The lock is held for the whole run: taken before the recorded paths are read, released at the end."""
    from kavan.predict import jsonl

    out = tmp_path / "p.jsonl"
    seen = []

    def probe_lock(self, record):
        with open(out, "ab") as other:
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                seen.append("free")
            except BlockingIOError:
                seen.append("locked")
        original(self, record)

    original = jsonl.JsonLinesOutput.write
    monkeypatch.setattr(jsonl.JsonLinesOutput, "write", probe_lock)
    names = ["rainbow-vomit.gif", "like-a-boss.gif"]
    assert main(["predict", *(str(real_gifs / n) for n in names), "--checkpoint", str(tiny_model), "--out",
                 str(out), "--workers", "0"]) == 0
    assert seen == ["locked", "locked"]
    with open(out, "ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the run ended


@pytest.mark.subprocess
@pytest.mark.slow
def test_a_killed_run_leaves_whole_lines_and_resume_finishes_it(tiny_model, real_gifs, tmp_path):
    """Kill `kavan predict --out` (SIGKILL) once it has written a line; resume; each path once, all lines whole."""
    names = sorted(p.name for p in real_gifs.glob("*.gif"))
    folder = tmp_path / "many"
    folder.mkdir()
    for name in names:
        (folder / name).symlink_to(real_gifs / name)
    out = tmp_path / "p.jsonl"
    command = [sys.executable, "-m", "kavan", "predict", str(folder), "--checkpoint", str(tiny_model), "--out",
               str(out), "--batch-size", "1", "--no-progress"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    written = out.read_bytes()
    assert written.endswith(b"\n") and 2 <= written.count(b"\n") < len(names)
    assert all(json.loads(line)["path"] for line in written.splitlines())

    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    paths = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    assert sorted(paths) == [str(folder / name) for name in names]


def test_expand_inputs_and_picture_names(tmp_path):
    (tmp_path / "a" / ".cache").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    for name in ("a/x.gif", "a/X.MP4", "a/.cache/y.gif", "a/readme.md", "b/x.gif"):
        (tmp_path / name).write_bytes(b"GIF89a")
    items = expand_inputs([str(tmp_path / "a"), str(tmp_path / "a" / "x.gif"), str(tmp_path / "b" / "x.gif"),
                           str(tmp_path / "none.gif")])
    assert [(Path(i.path).relative_to(tmp_path).as_posix(), i.name) for i in items] == [
        ("a/X.MP4", "X.MP4"), ("a/x.gif", "x.gif"), ("b/x.gif", "x.gif-2"), ("none.gif", "none.gif")]
    assert picture_path("pics", InputFile("d/s/y.gif", "s/y.gif"), "chart.png") == os.path.join("pics", "s",
                                                                                               "y.gif.chart.png")


def test_shards_together_are_one_unsharded_run_and_adding_files_moves_none(tiny_model, folder, tmp_path, real_gifs):
    """--shard 1/3, 2/3, 3/3 into three files: their records together equal one unsharded run's, record by record,
    each file in exactly one shard; a file added later leaves every other file in its shard. One clip per forward
    (--batch-size 1), so that every file meets the same arithmetic in both runs: batched on the CPU, a clip's last
    digits depend on which clips share its batch."""
    from kavan.core.shards import in_shard

    whole = tmp_path / "whole.jsonl"
    assert main(["predict", str(folder), "--checkpoint", str(tiny_model), "--out", str(whole), "--workers", "0",
                 "--batch-size", "1", "--no-progress"]) == 1  # bad.gif fails
    parts = []
    for i in (1, 2, 3):
        out = tmp_path / f"part-{i}.jsonl"
        main(["predict", str(folder), "--checkpoint", str(tiny_model), "--out", str(out), "--shard", f"{i}/3",
              "--workers", "0", "--batch-size", "1", "--no-progress"])
        parts.append(lines(out.read_text()) if out.exists() else [])
    assert sorted((r for part in parts for r in part), key=lambda r: r["path"]) == \
        sorted(lines(whole.read_text()), key=lambda r: r["path"])
    assert sum(len(part) for part in parts) == len(EXPECTED_ORDER) and sum(bool(part) for part in parts) >= 2
    before = {r["path"]: i for i, part in enumerate(parts, start=1) for r in part}
    (folder / "added.gif").symlink_to(real_gifs / "cool.gif")
    assert all(in_shard(path, (i, 3)) for path, i in before.items())  # the added file changes no assignment
    # a shard is resumable on its own: a second run of shard 1 with --resume adds nothing
    first = tmp_path / "part-1.jsonl"
    if first.exists():
        main(["predict", str(folder), "--checkpoint", str(tiny_model), "--out", str(first), "--shard", "1/3",
              "--resume", "--workers", "0", "--batch-size", "1", "--no-progress"])
        again = lines(first.read_text())
        assert [r["path"] for r in again[:len(parts[0])]] == [r["path"] for r in parts[0]]
        assert len(again) == len(parts[0]) + in_shard(str(folder / "added.gif"), (1, 3))


def test_a_bad_shard_is_an_argument_error(tiny_model, folder, capsys):
    for bad in ("0/3", "4/3", "x", "1-3"):
        assert main(["predict", str(folder), "--checkpoint", str(tiny_model), "--shard", bad]) == 2
        assert "--shard must look like i/n" in capsys.readouterr().err
