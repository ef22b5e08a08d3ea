"""`kavan info`: one JSON line per file, an error object for a bad file, the batch goes on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.gif_bytes import Frame, gif_bytes
from kavan.cli import main

KEYS = ["path", "format", "width", "height", "n_frames", "durations_ms", "loop"]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_info_batch_goes_on_after_a_bad_file(real_gifs, tmp_path, capsys):
    made = tmp_path / "made.gif"
    made.write_bytes(gif_bytes(3, 2, [Frame([[0]], delay_cs=0), Frame([[1]], delay_cs=5)], [(0, 0, 0), (9, 9, 9)],
                               loop=2))
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"this is not a GIF at all")
    rainbow = real_gifs / "rainbow-vomit.gif"

    code = main(["info", str(made), str(bad), str(tmp_path / "missing.gif"), str(rainbow)])

    records = json_lines(capsys.readouterr().out)
    assert code == 1
    assert len(records) == 4
    assert records[0] == {"path": str(made), "format": "gif", "width": 3, "height": 2, "n_frames": 2,
                          "durations_ms": [100, 50], "loop": 2}
    assert list(records[0]) == KEYS
    assert list(records[1]) == ["path", "error"] and records[1]["path"] == str(bad)
    assert "unrecognised content" in records[1]["error"]
    assert records[2] == {"path": str(tmp_path / "missing.gif"), "error": "file not found"}
    assert records[3]["n_frames"] == 2 and (records[3]["width"], records[3]["height"]) == (287, 276)


def test_info_exit_code_0_when_all_files_read(real_gifs, capsys):
    names = ["like-a-boss.gif", "cool.gif"]
    assert main(["info", *(str(real_gifs / n) for n in names)]) == 0
    records = json_lines(capsys.readouterr().out)
    assert [(r["path"].rsplit("/", 1)[-1], r["n_frames"]) for r in records] == [(names[0], 18), (names[1], 53)]
    assert records[0]["durations_ms"] == [100] * 18


@pytest.mark.subprocess
def test_info_as_a_subprocess(real_gifs, tmp_path):
    empty = tmp_path / "empty.gif"
    empty.touch()
    result = subprocess.run([sys.executable, "-m", "kavan", "info", str(empty), str(real_gifs / "dis-good.gif")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    records = json_lines(result.stdout)
    assert records[0] == {"path": str(empty), "error": "empty file"}
    assert records[1]["format"] == "gif" and records[1]["n_frames"] == 16
    assert (records[1]["width"], records[1]["height"]) == (500, 281)
    assert "empty file" in result.stderr  # the failure is also logged for people reading the terminal
