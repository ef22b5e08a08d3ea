"""kavan.labels.vote_log: one writer, every appended vote on disk before append returns, torn lines cut off,
undo of one annotator's last vote, and old four-column files kept as they are."""

from __future__ import annotations

import csv
import fcntl
import logging
import os

import pytest

from kavan.core.errors import KavanError
from kavan.core.issues import IssueLog
from kavan.labels import vote_log
from kavan.labels.ratings import parse_votes
from kavan.labels.vote_log import VOTE_LOG_COLUMNS, Vote, VoteLog

HEADER = ",".join(VOTE_LOG_COLUMNS) + "\n"


def vote(a="g1", b="g2", emotion="anger", winner="a", annotator="ann", timestamp="2026-01-01T00:00:00Z") -> Vote:
    return Vote(a, b, emotion, winner, annotator, timestamp)


def test_a_new_file_gets_the_header_and_whole_lines(tmp_path):
    path = tmp_path / "votes.csv"
    with VoteLog(path) as log:
        log.append(vote())
        log.append(vote("g3", "g1", "fear", "neither", "bo, the second"))
        assert len(log) == 2
    assert path.read_text() == (HEADER + "g1,g2,anger,a,ann,2026-01-01T00:00:00Z\n"
                                "g3,g1,fear,neither,\"bo, the second\",2026-01-01T00:00:00Z\n")
    issues = IssueLog()
    votes = parse_votes(path, issues)  # the extra columns are ignored by the ratings reader
    assert len(votes) == 2 and not issues.issues
    with VoteLog(path) as log:
        assert log.votes() == [vote(), vote("g3", "g1", "fear", "neither", "bo, the second")]


def test_append_fsyncs_before_it_returns(tmp_path, monkeypatch):
    path = tmp_path / "votes.csv"
    with VoteLog(path) as log:
        synced = []
        real_fsync = os.fsync

        def fsync(fd):
            synced.append(path.read_text().count("\n"))  # what the file holds when fsync is called
            real_fsync(fd)

        monkeypatch.setattr(vote_log.os, "fsync", fsync)
        log.append(vote())
        assert synced == [2]  # called once, after the whole line was written and flushed, before returning


def test_a_torn_last_line_is_cut_off_with_a_warning(tmp_path, caplog):
    path = tmp_path / "votes.csv"
    path.write_text(HEADER + "g1,g2,anger,a,ann,2026-01-01T00:00:00Z\ng2,g3,fea")
    with caplog.at_level(logging.WARNING), VoteLog(path) as log:
        assert len(log) == 1
        log.append(vote("g2", "g3", "fear", "b"))
    assert f"{path}: the last line 'g2,g3,fea' is incomplete" in caplog.text
    assert path.read_text() == HEADER + "g1,g2,anger,a,ann,2026-01-01T00:00:00Z\ng2,g3,fear,b,ann,2026-01-01T00:00:00Z\n"


def test_a_torn_header_starts_the_file_again(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("gif_a,gif_b,emo")
    with VoteLog(path) as log:
        assert len(log) == 0
    assert path.read_text() == HEADER


def test_a_second_writer_is_refused_until_the_first_closes(tmp_path):
    path = tmp_path / "votes.csv"
    first = VoteLog(path)
    with pytest.raises(KavanError, match="another process is writing this votes file"):
        VoteLog(path)
    first.close()
    VoteLog(path).close()


def test_undo_removes_that_annotators_last_vote_only(tmp_path):
    path = tmp_path / "votes.csv"
    with VoteLog(path) as log:
        log.append(vote("g1", "g2", annotator="ann"))
        log.append(vote("g2", "g3", annotator="ann"))
        log.append(vote("g3", "g4", annotator="bo"))  # bo voted after ann's last vote
        inode = path.stat().st_ino
        assert log.undo("ann") == vote("g2", "g3", annotator="ann")
        assert path.stat().st_ino != inode  # rewritten beside and renamed over, never edited in place
        log.append(vote("g4", "g5", annotator="ann"))  # appending goes on into the new file
        assert log.undo("nobody") is None
    assert path.read_text() == HEADER + "".join(
        f"{a},{b},anger,a,{who},2026-01-01T00:00:00Z\n" for a, b, who in
        (("g1", "g2", "ann"), ("g3", "g4", "bo"), ("g4", "g5", "ann")))
    assert not [p.name for p in tmp_path.iterdir() if p.name not in ("votes.csv", "votes.csv.lock")]


def test_an_old_four_column_file_keeps_its_header(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("gif_a,gif_b,emotion,winner\ng1,g2,anger,g1\n")
    with VoteLog(path) as log:
        assert log.columns == ("gif_a", "gif_b", "emotion", "winner")
        assert log.votes() == [Vote("g1", "g2", "anger", "g1")]
        log.append(vote("g2", "g3"))
        assert log.undo("") is None and log.undo("x") is None
        log.append(vote("g3", "g4", annotator="x"))
        assert log.undo("x") == vote("g3", "g4", annotator="x")  # known as x's: appended since the file was opened
    assert path.read_text() == "gif_a,gif_b,emotion,winner\ng1,g2,anger,g1\ng2,g3,anger,a\n"
    with VoteLog(path) as log:
        assert log.undo("ann") is None  # after reopening, nobody's votes are known in a file without annotators


def test_a_file_without_the_vote_columns_is_refused(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("left,right,emotion,winner\n")
    with pytest.raises(KavanError, match="lacks the column"):
        VoteLog(path)
    VoteLog(tmp_path / "votes2.csv").close()  # the lock of the refused file was released with it
    with pytest.raises(KavanError, match="lacks the column"):
        VoteLog(path)


def test_line_breaks_in_a_cell_are_refused(tmp_path):
    with VoteLog(tmp_path / "votes.csv") as log, pytest.raises(KavanError, match="line break"):
        log.append(vote(annotator="two\nlines"))


def test_no_lock_file_exists_to_be_removed_and_the_lock_holds_whatever_is_deleted(tmp_path):
    """The lock is on votes.csv itself: deleting every other file of the folder lets no second writer in, and the
    refusal never tells anyone to delete something."""
    path = tmp_path / "votes.csv"
    with VoteLog(path) as log:
        log.append(vote("g1", "g2", annotator="ann"))
        assert [p.name for p in tmp_path.iterdir()] == ["votes.csv"]
        (tmp_path / "votes.csv.lock").write_text("")  # a lock file an older kavan left: meaningless now
        (tmp_path / "votes.csv.lock").unlink()
        with pytest.raises(KavanError) as refused:
            VoteLog(path)
        assert "remove" not in str(refused.value) and "delete" not in str(refused.value)


def test_a_writer_waiting_on_the_old_file_of_an_undo_sees_the_new_one_and_is_refused(tmp_path):
    """An undo renames a new file over votes.csv and only then lets go of the old file's lock: a second writer
    that held the old file open gets that lock, but it is on a file the name no longer points to."""
    from kavan.labels.vote_log import _same_file

    path = tmp_path / "votes.csv"
    with VoteLog(path) as log:
        log.append(vote("g1", "g2", annotator="ann"))
        log.append(vote("g2", "g3", annotator="ann"))
        waiting = os.open(path, os.O_RDWR)  # a second writer that opened the file before the undo
        try:
            assert log.undo("ann") is not None
            fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the old file's lock is free now...
            assert not _same_file(waiting, path)  # ...but the name points to the new file, which is locked
        finally:
            os.close(waiting)
        with pytest.raises(KavanError, match="another process is writing"):
            VoteLog(path)
        log.append(vote("g3", "g4", annotator="ann"))
    assert path.read_text() == HEADER + "g1,g2,anger,a,ann,2026-01-01T00:00:00Z\ng3,g4,anger,a,ann,2026-01-01T00:00:00Z\n"


def test_a_votes_file_removed_under_an_open_log_refuses_the_vote(tmp_path):
    path = tmp_path / "votes.csv"
    with VoteLog(path) as log:
        log.append(vote("g1", "g2", annotator="ann"))
        path.unlink()
        with VoteLog(path) as second:  # the name is free: a new file, and a new writer
            second.append(vote("g5", "g6", annotator="bo"))
            with pytest.raises(KavanError, match="removed or replaced"):
                log.append(vote("g2", "g3", annotator="ann"))  # not acknowledged into a file nobody sees
            with pytest.raises(KavanError, match="removed or replaced"):
                log.undo("ann")
    assert path.read_text() == HEADER + "g5,g6,anger,a,bo,2026-01-01T00:00:00Z\n"


def test_remove_takes_out_that_vote_object_only(tmp_path):
    path = tmp_path / "votes.csv"
    with VoteLog(path) as log:
        first, second = vote("g1", "g2", annotator="ann"), vote("g1", "g2", annotator="ann")
        log.append(first)
        log.append(second)
        assert log.remove(first) and not log.remove(first)
        assert log.votes()[0] is second


def test_cells_that_a_spreadsheet_would_run_are_written_as_text_and_read_back_unchanged(tmp_path):
    from kavan.labels.ratings import read_votes

    path = tmp_path / "votes.csv"
    name = '=HYPERLINK("http://evil.example","x")'
    with VoteLog(path) as log:
        log.append(vote("-g1", "@g2", annotator=name))
        log.append(vote("'g3", "+g4", annotator="'quoted"))
    lines = path.read_text().splitlines()
    assert lines[1] == "'-g1,'@g2,anger,a,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",2026-01-01T00:00:00Z"
    assert all(not cell.startswith(("=", "+", "-", "@")) for line in lines for cell in next(csv.reader([line])))
    with VoteLog(path) as log:
        assert [v.annotator for v in log.votes()] == [name, "'quoted"]
        assert [(v.gif_a, v.gif_b) for v in log.votes()] == [("-g1", "@g2"), ("'g3", "+g4")]
    votes = read_votes(path)
    assert sorted(votes.ids) == ["'g3", "+g4", "-g1", "@g2"]
