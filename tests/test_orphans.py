"""No worker outlives its run: `kavan keypoints --workers 2` and `kavan predict --overlay` killed (SIGKILL, SIGTERM,
SIGINT) leave no child process behind, and keypoints stops cleanly on SIGTERM/SIGINT with whole caches.

Children are found by walking /proc (ppid in /proc/PID/stat) and recorded before the kill, since a killed
process's children are re-parented at once. A child counts as gone when its /proc entry is missing, a zombie, or a
different process (start time changed: the pid was reused).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kavan.keypoints import cache as keypoint_cache

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

GONE_WITHIN_S = 10.0  # orphans stay forever; a loaded machine may take a few seconds to reap the rest
KEYPOINT_GIFS = ["dis-good.gif", "folgers-decaffeinated.gif", "gob-magic.gif", "like-a-boss.gif",
                 "what-is-this.gif"]


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, start time) of a process, or None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
    return int(fields[1]), fields[0], int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of ``pid``: {pid: start time}."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None and stat[1] != "Z":
            parents.setdefault(stat[0], []).append((int(entry), stat[2]))
    found, todo = {}, [pid]
    while todo:
        for child, start in parents.get(todo.pop(), []):
            found[child] = start
            todo.append(child)
    return found


def alive(children: dict[int, int]) -> list[int]:
    """The recorded children that still run (not gone, not a zombie, not a reused pid)."""
    left = []
    for pid, start in children.items():
        stat = _stat(pid)
        if stat is not None and stat[1] != "Z" and stat[2] == start:
            left.append(pid)
    return left


def wait_gone(children: dict[int, int], seconds: float = GONE_WITHIN_S) -> list[int]:
    """Poll until every recorded child has exited; the ones still alive after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := alive(children)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_all(children: dict[int, int]) -> None:
    """Clean up after a failing test: never leave the orphans this test found running."""
    for pid in alive(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_until(condition, process: subprocess.Popen, seconds: float = 600.0) -> None:
    """Poll until ``condition()`` holds while the run goes on (generous: a busy machine starts torch slowly)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"exited early with code {process.returncode}"
        assert time.monotonic() < deadline, "timed out waiting for the run to get going"
        time.sleep(0.05)


def _keypoint_folder(tmp_path: Path, real_gifs: Path) -> Path:
    gifs = tmp_path / "ds" / "gifs"
    gifs.mkdir(parents=True)
    for name in KEYPOINT_GIFS:
        (gifs / name).symlink_to(real_gifs / name)
    return tmp_path / "ds"


def _kavan(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "kavan", *args], env=env, **kwargs)


@pytest.mark.subprocess
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_killed_keypoints_run_leaves_no_worker(real_gifs, tmp_path, sig):
    """Killed while its two workers are busy (one cache written, folgers' 204 frames under way)."""
    root = _keypoint_folder(tmp_path, real_gifs)
    cache_dir = root / "keypoints"
    out_file, err_file = tmp_path / "out.txt", tmp_path / "err.txt"
    with open(out_file, "w") as out_handle, open(err_file, "w") as err_handle:  # orphans would hold a pipe open
        process = _kavan("keypoints", str(root), "--workers", "2", stdout=out_handle, stderr=err_handle)
    children: dict[int, int] = {}
    try:
        def busy() -> bool:
            children.update(descendants(process.pid))
            return len(children) >= 2 and cache_dir.is_dir() and any(cache_dir.glob("*.safetensors"))

        wait_until(busy, process)
        children.update(descendants(process.pid))
        process.send_signal(sig)
        process.wait(timeout=60)
        assert not wait_gone(children), f"workers still alive after {sig.name}"
    finally:
        process.kill()
        kill_all(children)
    out, err = out_file.read_text(), err_file.read_text()
    caches = sorted(cache_dir.glob("*.safetensors"))
    assert 1 <= len(caches) < len(KEYPOINT_GIFS)
    for cache in caches:
        keypoint_cache.load(cache)                                  # every cache file is whole
    if sig == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:                                                           # a clean stop: summary, one line, 128 + n
        assert process.returncode == 128 + sig
        assert f"{len(caches)} estimated" in out
        lines = [line for line in err.splitlines() if line.startswith("kavan keypoints:")]
        assert len(lines) == 1 and f"interrupted by {sig.name}" in lines[0], err
        assert "Traceback" not in err


@pytest.mark.subprocess
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=lambda s: s.name)
def test_killed_predict_run_leaves_no_decoding_worker(real_gifs, tiny_model, tmp_path, sig):
    """Killed with --overlay once a line is out: the decoding worker (holding frames it cannot hand over) exits."""
    checkpoint = tiny_model
    folder = tmp_path / "many"
    folder.mkdir()
    for path in sorted(real_gifs.glob("*.gif")):
        (folder / path.name).symlink_to(path)
    out, err_file = tmp_path / "p.jsonl", tmp_path / "err.txt"
    with open(err_file, "w") as err_handle:
        process = _kavan("predict", str(folder), "--checkpoint", str(checkpoint), "--overlay", str(tmp_path / "ov"),
                         "--out", str(out), "--batch-size", "1", "--workers", "1", "--no-progress",
                         stderr=err_handle)
    children: dict[int, int] = {}
    try:
        def busy() -> bool:
            children.update(descendants(process.pid))
            return bool(children) and out.exists() and out.read_bytes().count(b"\n") >= 1

        wait_until(busy, process)
        children.update(descendants(process.pid))
        process.send_signal(sig)
        process.wait(timeout=60)
        assert not wait_gone(children), f"decoding worker still alive after {sig.name}"
    finally:
        process.kill()
        kill_all(children)
    assert out.read_bytes().endswith(b"\n")
    if sig == signal.SIGTERM:  # a clean stop: one line, no traceback, 128 + n
        err = err_file.read_text()
        assert process.returncode == 128 + sig and "Traceback" not in err, err
        assert [line for line in err.splitlines() if line.startswith("kavan predict: interrupted by SIGTERM")]


@pytest.mark.subprocess
@pytest.mark.slow
def test_killed_training_run_leaves_no_loader_worker(synth24, tmp_path):
    """kavan train end to end with two loader workers, killed with SIGKILL mid-epoch: the workers exit."""
    import yaml

    from helpers.training_data import tiny_mapping

    data = synth24
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_mapping("train.workers=2", "train.epochs=50", "data.augment=true")))
    with open(tmp_path / "err.txt", "w") as err_handle:
        process = _kavan("train", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "run"),
                         "--no-progress", stderr=err_handle)
    children: dict[int, int] = {}
    try:
        def busy() -> bool:
            children.update(descendants(process.pid))
            return len(children) >= 2 and (tmp_path / "run" / "log.csv").exists()

        wait_until(busy, process)
        children.update(descendants(process.pid))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        assert not wait_gone(children), "loader workers still alive after SIGKILL"
    finally:
        process.kill()
        kill_all(children)


def test_stop_on_signals_raises_once_then_restores_the_handlers():
    from kavan.core.workers import Interrupted, stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)                                                # the handler interrupts the sleep
    assert caught.value.signal_name == "SIGTERM" and caught.value.exit_code == 143
    assert not isinstance(caught.value, Exception)                   # `except Exception` cannot swallow it
    assert signal.getsignal(signal.SIGTERM) == before


def test_once_stopping_a_reset_connection_is_not_a_traceback(monkeypatch):
    """A worker killed while multiprocessing's resource sharer hands its tensor over: the sharer's thread reports
    the reset connection through sys.excepthook. After the stop signal that is logged, not printed; any other
    error still reaches the hook."""
    from kavan.core.workers import Interrupted, stop_on_signals

    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: seen.append(kind))
    with pytest.raises(Interrupted), stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    sys.excepthook(ConnectionResetError, ConnectionResetError(104, "Connection reset by peer"), None)
    sys.excepthook(ValueError, ValueError("a real error"), None)
    assert seen == [ValueError]


@pytest.mark.subprocess
def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    code = "from kavan.core.workers import die_with_parent; die_with_parent(-1); print('still here')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")


def test_an_interrupted_run_reports_it_and_keeps_whole_caches(tmp_path, monkeypatch):
    """In one process: the signal lands while the second GIF is estimated; the first cache stays, no other."""
    from helpers.dataset_folder import write_gif
    from kavan.core.workers import Interrupted
    from kavan.keypoints import run

    for gif_id in ("a", "b", "c"):
        write_gif(tmp_path / "ds" / "gifs" / f"{gif_id}.gif", 2)
    estimator = type("Stub", (), {"name": "stub", "version": "1", "close": lambda self: None})()
    calls = []

    def job(gif_id, media, cache):
        calls.append(gif_id)
        if len(calls) == 2:
            raise Interrupted(signal.SIGTERM)
        keypoint_cache.save(cache, keypoint_cache.KeypointRecord(
            keypoints=__import__("numpy").zeros((2, 1, 70, 3), "float32"), backend="stub", backend_version="1",
            width=12, height=8))
        return gif_id, 2, None

    monkeypatch.setattr(run, "_load_estimator", lambda config: setattr(run, "_ESTIMATOR", estimator))
    monkeypatch.setattr(run, "_job", job)
    report = run.run_dataset(tmp_path / "ds", progress=False)
    assert report.interrupted == "SIGTERM" and not report.ok and report.estimated == ["a"]
    assert report.to_json()["interrupted"] == "SIGTERM"
    assert calls == ["a", "b"]                                       # nothing started after the signal
    assert sorted(p.name for p in (tmp_path / "ds" / "keypoints").iterdir()) == ["a.safetensors"]
