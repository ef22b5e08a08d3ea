"""`kavan data check`: one small generated folder per failure kind, the report and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.dataset_folder import keypoints, make_dataset, one_hot, write_csv, write_gif
from helpers.gif_bytes import Frame, gif_bytes, graphic_control
from kavan.cli import main
from kavan.core.emotions import EMOTIONS
from kavan.core.errors import KavanError
from kavan.data.check import check_dataset
from kavan.data.dataset import Dataset
from kavan.keypoints import cache as keypoint_cache

FRAMES = {"a": 3, "b": 2, "c": 4}
PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]


def corrupt_gif(bad: int) -> bytes:
    """A 4x4 GIF of ``bad`` + 1 frames whose last frame, ``bad``, holds no pixels (its data is a clear code and the
    end code): the header and every other frame are valid, so only decoding that frame finds it (as in
    test_training_failures.py)."""
    frame = Frame([[0, 1, 2, 3]] * 4)
    head = gif_bytes(4, 4, [frame] * bad, PALETTE, trailer=False)
    start = len(head) + len(graphic_control(frame.delay_cs)) + 10  # the bad frame's descriptor is 10 bytes
    whole = gif_bytes(4, 4, [frame] * (bad + 1), PALETTE)
    return whole[:start] + b"\x02\x01\x2c\x00\x3b"


@pytest.fixture
def root(tmp_path):
    return make_dataset(tmp_path / "ds", FRAMES)


def _kinds(report, severity="error"):
    return [i.kind for i in report.issues if i.severity == severity]


def _only(report, kind):
    found = [i for i in report.issues if i.kind == kind]
    assert len(found) == 1, report.render()
    return found[0]


def _save_keypoints(root, gif_id, n_frames, width=12, height=8):
    record = keypoint_cache.KeypointRecord(keypoints(n_frames), backend="test", backend_version="1",
                                           width=width, height=height)
    keypoint_cache.save(keypoint_cache.cache_path(root, gif_id), record)


def test_valid_folder_is_usable(root, capsys):
    _save_keypoints(root, "a", 3)
    report = check_dataset(root, progress=False)
    assert report.ok and report.issues == [] and (report.n_errors, report.n_warnings) == (0, 0)
    assert report.counts == {"gifs": 3, "media_files": 3, "readable_media": 3, "keypoint_caches": 1}
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "3 GIFs in scores.csv, 3 media files, 3 readable, 1 keypoint caches; media: every frame decoded" in out
    assert "Result: usable (0 error(s), 0 warning(s))" in out


def test_missing_media_is_an_error(root, capsys):
    (root / "gifs" / "b.gif").unlink()
    issue = _only(check_dataset(root, progress=False), "missing-media")
    assert issue.severity == "error" and issue.path == str(root / "gifs" / "b.gif")
    assert "scores.csv has id 'b'" in issue.message and "add the file or remove the row" in issue.fix
    assert main(["data", "check", str(root)]) == 1
    assert "NOT usable" in capsys.readouterr().out


def test_extra_files_are_warnings_only(root):
    write_gif(root / "gifs" / "extra.gif", 2)
    (root / "gifs" / "notes.txt").write_text("hello")
    report = check_dataset(root, progress=False)
    assert report.ok and sorted(_kinds(report, "warning")) == ["extra-file", "extra-media"]
    assert main(["data", "check", str(root)]) == 0


def test_a_broken_symbolic_link_is_named_as_one(root, tmp_path, capsys):
    gifs = root / "gifs"
    (gifs / "b.gif").unlink()
    (gifs / "b.gif").symlink_to(tmp_path / "moved" / "b.gif")      # a dataset GIF whose target was moved away
    (gifs / "old.gif").symlink_to(tmp_path / "gone.gif")           # no row in scores.csv
    (gifs / "notes.txt").symlink_to(tmp_path / "nowhere.txt")      # not a media name either
    report = check_dataset(root, progress=False)
    links = {Path(i.path).name: i for i in report.issues if i.kind == "broken-link"}
    assert sorted(links) == ["b.gif", "notes.txt", "old.gif"]
    assert links["b.gif"].severity == "error" and links["b.gif"].message == \
        f"a broken symbolic link (to {tmp_path / 'moved' / 'b.gif'}): id 'b' has no media file"
    assert links["old.gif"].severity == "warning"
    assert links["old.gif"].message == f"a broken symbolic link (to {tmp_path / 'gone.gif'}), ignored"
    assert links["notes.txt"].severity == "warning" and "nowhere.txt" in links["notes.txt"].message
    assert not {"extra-file", "missing-media", "extra-media"} & {i.kind for i in report.issues}  # named once
    assert not report.ok and report.counts["media_files"] == 2
    with pytest.raises(KavanError, match=r"b.gif: a broken symbolic link \(to "):  # training reads it the same way
        Dataset(root)
    assert main(["data", "check", str(root)]) == 1
    assert f"a broken symbolic link (to {tmp_path / 'moved' / 'b.gif'})" in capsys.readouterr().out
    (gifs / "b.mp4").symlink_to(gifs / "a.gif")                    # the id has a media file after all
    report = check_dataset(root, progress=False)
    assert report.ok and [i.severity for i in report.issues if i.kind == "broken-link"] == ["warning"] * 3


def test_unreadable_media_is_an_error(root):
    (root / "gifs" / "c.gif").write_bytes(b"GIF89a this is not really a GIF")
    report = check_dataset(root, progress=False)
    issue = _only(report, "unreadable-media")
    assert issue.path == str(root / "gifs" / "c.gif") and issue.message.startswith("cannot decode")
    assert report.counts["readable_media"] == 2 and not report.ok


def test_duplicate_ids_in_scores_and_in_media(root):
    write_csv(root / "scores.csv", ["id", *EMOTIONS],
              [["a", *one_hot("fear")], ["b", *one_hot("fear")], ["c", *one_hot("fear")], ["a", *one_hot("pride")]])
    (root / "gifs" / "b.mp4").write_bytes(b"")
    report = check_dataset(root, progress=False)
    assert _only(report, "duplicate-id").message == "line 5: id 'a' already on line 2"
    assert "'b' has 2 media files: b.gif, b.mp4" in _only(report, "duplicate-media").message
    assert not report.ok


@pytest.mark.parametrize("value, kind, text", [
    ("nan", "nan-score", "line 3 (b): anger is nan"),
    ("1.5", "score-out-of-range", "line 3 (b): anger = 1.5 is outside [0, 1]"),
    ("-0.2", "score-out-of-range", "anger = -0.2 is outside [0, 1]"),
    ("high", "bad-score", "line 3 (b): anger = 'high' is not a number"),
])
def test_bad_score_values(root, value, kind, text):
    rows = [[gif, *one_hot("fear")] for gif in FRAMES]
    rows[1][1 + EMOTIONS.index("anger")] = value
    write_csv(root / "scores.csv", ["id", *EMOTIONS], rows)
    report = check_dataset(root, progress=False)
    assert text in _only(report, kind).message and not report.ok


def test_slightly_over_one_is_rounding_not_an_error(root):
    rows = [[gif, *one_hot("fear", 1.0000004)] for gif in FRAMES]
    write_csv(root / "scores.csv", ["id", *EMOTIONS], rows)
    assert check_dataset(root, progress=False).ok


def test_column_names_wrong_missing_and_extra(root):
    header = ["id", *EMOTIONS, "source"]
    header[1 + EMOTIONS.index("happiness")] = "hapiness"
    del header[1 + EMOTIONS.index("fear")]
    rows = [[gif, *[0.5] * 16, "web"] for gif in FRAMES]
    write_csv(root / "scores.csv", header, rows)
    report = check_dataset(root, progress=False)
    wrong = _only(report, "wrong-column")
    assert "'hapiness'" in wrong.message and "did you mean 'happiness'" in wrong.fix
    assert "'fear' is missing" in _only(report, "missing-column").message
    assert _only(report, "extra-column").severity == "warning"
    assert not report.ok


def test_keypoint_cache_with_wrong_frame_count_or_size(root):
    _save_keypoints(root, "a", 5)
    _save_keypoints(root, "c", 4, width=40, height=30)
    report = check_dataset(root, progress=False)
    frames = _only(report, "keypoint-frames")
    assert frames.path == str(root / "keypoints" / "a.safetensors")
    assert frames.message == "5 frames of keypoints but the media a.gif has 3"
    assert "40x30" in _only(report, "keypoint-size").message and "12x8" in _only(report, "keypoint-size").message
    assert not report.ok


def test_corrupt_and_extra_keypoint_files(root):
    _save_keypoints(root, "a", 3)
    (root / "keypoints" / "b.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    _save_keypoints(root, "zz", 2)
    report = check_dataset(root, progress=False)
    corrupt = _only(report, "corrupt-keypoints")
    assert corrupt.path == str(root / "keypoints" / "b.safetensors") and "estimate the keypoints" in corrupt.fix
    assert _only(report, "extra-keypoints").severity == "warning"
    assert report.counts["keypoint_caches"] == 2 and not report.ok


def test_votes_problems(root):
    write_csv(root / "votes.csv", ["gif_a", "gif_b", "emotion", "winner"],
              [["a", "b", "anger", "a"], ["a", "c", "angry", "b"], ["b", "c", "fear", "maybe"],
               ["a", "stranger", "fear", "neither"]])
    report = check_dataset(root, progress=False)
    assert "'angry' is not a GIFGIF emotion" in _only(report, "unknown-emotion").message
    assert "line 4: winner 'maybe'" in _only(report, "unknown-winner").message
    unknown = _only(report, "unknown-id")
    assert unknown.severity == "warning" and "'stranger' is not in the dataset" in unknown.message
    assert report.counts["votes"] == 2 and not report.ok


def test_votes_on_unknown_gifs_alone_keep_the_folder_usable(root):
    write_csv(root / "votes.csv", ["gif_a", "gif_b", "emotion", "winner"], [["a", "stranger", "fear", "a"]])
    report = check_dataset(root, progress=False)
    assert report.ok and _kinds(report, "warning") == ["unknown-id"]


def test_dataset_yaml_problems(root):
    (root / "dataset.yaml").write_text("scores: percent\nscore: unit\n")
    report = check_dataset(root, progress=False)
    assert "'percent' is not one of unit, trueskill" in _only(report, "bad-config").message
    assert "did you mean 'scores'" in _only(report, "unknown-config-key").fix
    (root / "dataset.yaml").write_text("scores: [unit\n")
    assert _kinds(check_dataset(root, progress=False)) == ["bad-config"]


def test_trueskill_declaration_accepts_raw_mu(root):
    write_csv(root / "scores.csv", ["id", *EMOTIONS], [[gif, *[31.5] * 17] for gif in FRAMES])
    unit = check_dataset(root, progress=False)
    assert set(_kinds(unit)) == {"score-out-of-range"} and unit.n_errors == 3 * 17
    (root / "dataset.yaml").write_text("scores: trueskill\n")
    report = check_dataset(root, progress=False)
    assert report.ok and report.scores_scale == "trueskill"


def test_repeated_problems_are_capped_but_counted(tmp_path):
    frames = {f"g{i:02d}": 2 for i in range(25)}
    root = make_dataset(tmp_path / "ds", frames, {gif: ["nan"] * 17 for gif in frames})
    report = check_dataset(root, progress=False)
    nan = [i for i in report.issues if i.kind == "nan-score"]
    assert len(nan) == 11 and nan[-1].message == "... and 415 more problem(s) of this kind"
    assert report.n_errors == 25 * 17


def test_missing_folder_and_json_report(tmp_path, root, capsys):
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 1
    capsys.readouterr()
    (root / "gifs" / "a.gif").unlink()
    write_gif(root / "gifs" / "extra.gif", 2)
    assert main(["data", "check", str(root), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["n_errors"] == 1 and report["n_warnings"] == 1
    assert [e["kind"] for e in report["errors"]] == ["missing-media"]
    assert report["warnings"][0]["path"] == str(root / "gifs" / "extra.gif")
    assert set(report["errors"][0]) == {"severity", "kind", "path", "message", "fix"}
    assert report["counts"]["gifs"] == 3


def test_missing_scores_file_is_one_error_and_the_media_are_still_checked(root):
    (root / "scores.csv").unlink()
    _save_keypoints(root, "a", 3)
    report = check_dataset(root, progress=False)
    assert _kinds(report) == ["missing-scores"]
    assert _kinds(report, "warning") == []  # the media and caches are not each called extra
    assert report.counts == {"gifs": 0, "media_files": 3, "readable_media": 3, "keypoint_caches": 1}


@pytest.mark.parametrize("rows, kind, text", [
    ([["a", *one_hot("fear")], ["b", "0.5"], ["c", *one_hot("fear")]], "bad-row",
     "line 3: 2 fields, the header has 18"),
    ([["a", *one_hot("fear")], ["", *one_hot("fear")], ["b", *one_hot("fear")], ["c", *one_hot("fear")]],
     "empty-id", "line 3: empty id"),
])
def test_malformed_score_rows(root, rows, kind, text):
    write_csv(root / "scores.csv", ["id", *EMOTIONS], rows)
    report = check_dataset(root, progress=False)
    assert _only(report, kind).message == text and not report.ok


def test_duplicate_column_and_missing_media_folder(root):
    write_csv(root / "scores.csv", ["id", *EMOTIONS, "fear"], [[gif, *one_hot("fear"), 0.2] for gif in FRAMES])
    for path in (root / "gifs").iterdir():
        path.unlink()
    (root / "gifs").rmdir()
    report = check_dataset(root, progress=False)
    assert "'fear' appears 2 times" in _only(report, "duplicate-column").message
    assert _only(report, "missing-media-folder").path == str(root / "gifs")


def test_real_gifs_with_keypoint_caches(tmp_path, real_gifs):
    # Frame counts and sizes from the real-gifs README: like-a-boss 18 frames 498x226, rainbow-vomit 2 frames 287x276.
    root = tmp_path / "real"
    (root / "gifs").mkdir(parents=True)
    for name in ("like-a-boss", "rainbow-vomit"):
        (root / "gifs" / f"{name}.gif").symlink_to(real_gifs / f"{name}.gif")
    write_csv(root / "scores.csv", ["id", *EMOTIONS],
              [["like-a-boss", *one_hot("pride")], ["rainbow-vomit", *one_hot("disgust")]])
    _save_keypoints(root, "like-a-boss", 18, width=498, height=226)
    assert check_dataset(root, progress=False).ok
    _save_keypoints(root, "rainbow-vomit", 3, width=287, height=276)
    issue = _only(check_dataset(root, progress=False), "keypoint-frames")
    assert issue.message == "3 frames of keypoints but the media rainbow-vomit.gif has 2"


def test_a_frame_that_cannot_be_decoded_is_an_error_naming_it(root, capsys):
    """The header and frames 0-2 of c.gif are valid and only frame 3 is damaged: probing the headers misses it."""
    (root / "gifs" / "c.gif").write_bytes(corrupt_gif(bad=3))
    report = check_dataset(root, progress=False)
    issue = _only(report, "unreadable-media")
    assert issue.path == str(root / "gifs" / "c.gif")
    assert issue.message.startswith("cannot decode: frame 3: corrupt image data")
    assert "replace the file with a readable copy" in issue.fix
    assert report.counts["readable_media"] == 2 and report.n_errors == 1 and not report.ok

    assert main(["data", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"ERROR [unreadable-media] {root / 'gifs' / 'c.gif'}: cannot decode: frame 3: corrupt image data" in out
    assert "3 media files, 2 readable" in out and "NOT usable" in out

    quick = check_dataset(root, progress=False, decode_frames=False)
    assert quick.ok and quick.media_check == "headers" and quick.counts["readable_media"] == 3
    assert main(["data", "check", str(root), "--quick"]) == 0
    assert "media: headers only" in capsys.readouterr().out


def test_decoding_in_worker_processes_gives_the_same_report(tmp_path):
    frames = {f"g{i}": 2 + i % 3 for i in range(6)}
    root = make_dataset(tmp_path / "ds", frames)
    (root / "gifs" / "g1.gif").write_bytes(corrupt_gif(bad=1))
    (root / "gifs" / "g4.gif").write_bytes(corrupt_gif(bad=5))
    (root / "gifs" / "g5.gif").write_bytes(corrupt_gif(bad=1)[:15])  # ends inside the colour table
    here = check_dataset(root, progress=False, workers=0)
    spread = check_dataset(root, progress=False, workers=3)
    assert here.to_json() == spread.to_json()
    assert [(i.kind, i.path) for i in spread.issues] == [("unreadable-media", str(root / "gifs" / f"{gif}.gif"))
                                                         for gif in ("g1", "g4", "g5")]
    messages = [i.message for i in spread.issues]
    assert messages[0].startswith("cannot decode: frame 1: corrupt image data")
    assert messages[1].startswith("cannot decode: frame 5: corrupt image data")
    assert messages[2].startswith("cannot decode: damaged GIF")
    assert spread.counts["readable_media"] == 3


def test_workers_must_not_be_negative(root, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "check", str(root), "--workers", "-1"])
    assert exit_info.value.code == 2 and "--workers: must be 0 or more, got -1" in capsys.readouterr().err


def test_a_missing_score_column_is_one_error_counting_the_rows(tmp_path):
    """One missing column used to add a warning for every media file, keypoint cache and vote of the folder."""
    frames = {f"g{i:02d}": 2 for i in range(25)}
    root = make_dataset(tmp_path / "ds", frames)
    for gif_id in frames:
        _save_keypoints(root, gif_id, 2)
    ids = list(frames)
    write_csv(root / "votes.csv", ["gif_a", "gif_b", "emotion", "winner"],
              [[ids[i], ids[(i + 1) % 25], "fear", "a"] for i in range(25)])
    write_csv(root / "scores.csv", ["id", *(e for e in EMOTIONS if e != "fear")], [[g, *[0.5] * 16] for g in frames])
    report = check_dataset(root, progress=False)
    assert (report.n_errors, report.n_warnings) == (1, 0), report.render()
    issue = _only(report, "missing-column")
    assert issue.message == "required column 'fear' is missing (affects all 25 row(s): none can be used)"
    assert report.counts == {"gifs": 0, "media_files": 25, "readable_media": 25, "keypoint_caches": 25, "votes": 25}


def test_a_rejected_score_row_is_not_also_extra_media_keypoints_and_votes(root):
    rows = [[gif, *one_hot("fear")] for gif in FRAMES]
    rows[1][1 + EMOTIONS.index("anger")] = "nan"
    write_csv(root / "scores.csv", ["id", *EMOTIONS], rows)
    _save_keypoints(root, "b", 2)
    write_csv(root / "votes.csv", ["gif_a", "gif_b", "emotion", "winner"], [["a", "b", "fear", "a"]])
    report = check_dataset(root, progress=False)
    assert _kinds(report) == ["nan-score"] and _kinds(report, "warning") == []
    assert report.counts == {"gifs": 2, "media_files": 3, "readable_media": 3, "keypoint_caches": 1, "votes": 1}


def test_a_missing_vote_column_is_one_error_counting_the_votes(root):
    write_csv(root / "votes.csv", ["gif_a", "gif_b", "emotion", "winer"],
              [["a", "b", "fear", "a"], ["b", "c", "fear", "b"], [], ["a", "c", "pride", "neither"]])
    report = check_dataset(root, progress=False)
    issue = _only(report, "missing-column")
    assert issue.message == "required column 'winner' is missing (affects all 3 row(s): none can be used)"
    assert "did you mean 'winer'" in issue.fix and report.n_errors == 1 and report.counts["votes"] == 0
