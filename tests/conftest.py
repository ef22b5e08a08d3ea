"""Shared fixtures: where the real GIFs live (read in place, never copied into the project), the tiny SynthGIF
folders and the tiny model file that several modules read, each built once per test session.

The shared folders and the model file are read only: a test that changes its data takes a copy
(``synth16_copy``, or ``shutil.copytree`` / ``shutil.copyfile`` into its own ``tmp_path``). At the end of the session
each shared folder is compared with what it held when it was built, and a change is reported as an error.

Slow tests are marked ``@pytest.mark.slow``: each took 4.5 s or more in timed runs on two shared CPU cores, where
no unmarked test went above about 4 s. ``make test`` runs them all; to leave them out:
``.venv/bin/python -m pytest -m "not slow"``. What makes them slow:

- test_paper_configs.py: every paper row (ResNet-50 trained end to end at 224 px, T = 8) for two optimiser steps,
  interrupted and resumed: 20-50 s each, most of the suite's time.
- test_demo.py: ``kavan demo`` end to end (SynthGIF, two bench rows, both baselines, the pictures), twice.
- test_models_kavan.py: the full-size ResNet-50 KAVAN forward and backward on the CPU.
- test_packaging.py: the demo and the ablation run from the unpacked wheel, in a second interpreter.
- test_training_ddp.py: torchrun with two processes, then the same run in one.
- test_training_resume.py: a training run in a second interpreter, killed with SIGKILL mid-epoch, then resumed.
- test_ablation.py (the two-split run): two trained rows and a baseline on two splits, then the rerun.
- test_predict_cli.py: a predict run killed and resumed; a second writer of the same out file (second interpreters).
- test_fault_injection.py: predict and train (cached and end to end) over the malformed-media corpus, each in a
  fresh interpreter that imports torch.
- test_orphans.py: predict (SIGKILL, SIGTERM) and train runs in a second interpreter, killed, their workers awaited.
- test_keypoints_run.py: two keypoint workers against one; a keypoints run killed mid-way and rerun.
- test_serve.py: ``kavan serve`` started in a second interpreter and interrupted.
- test_serve_browser.py: the web demo in a headless Chromium (skipped without chromium and chromedriver).

Most of the time of the second-interpreter tests is that interpreter importing torch, so they slow down most on a
busy machine.

``make test`` runs the suite on every core (pytest-xdist: ``-n auto --dist loadfile``, one test file's tests on one
worker). Each worker builds its own session fixtures in its own temporary folder, so no folder or model file is
shared between processes. Each worker's torch, and every interpreter a test starts from it, runs on one thread:
the workers already use every core, and two threads each on top of that only make them wait for each other. A
number a test compares across runs is compared to the precision the arithmetic keeps, not to the last digit
(a batch of another size may sum in another order).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from helpers.keypoint_estimators import dlib_estimator, estimator  # noqa: F401 (fixtures shared by the keypoint tests)
from helpers.predict_model import write_tiny_model
from helpers.training_data import make_synth
from kavan.showcase.demo import real_gif_folder

# $KAVAN_REAL_GIFS, else the shared folder beside the checkout, else where the workplace keeps it (a clone elsewhere)
_SHARED = (Path(__file__).resolve().parents[2] / "shared" / "data" / "real-gifs", Path("/work/shared/data/real-gifs"))
REAL_GIF_DIR = real_gif_folder() or next((p for p in _SHARED if any(p.glob("*.gif"))), None)

if os.environ.get("PYTEST_XDIST_WORKER"):  # one of `make test`'s workers: one thread each, children included
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def real_gifs() -> Path:
    """Folder of the shared real GIFs; set KAVAN_REAL_GIFS to point elsewhere."""
    if REAL_GIF_DIR is None:
        pytest.skip("real GIFs not found: set KAVAN_REAL_GIFS to ../shared/data/real-gifs")
    return REAL_GIF_DIR


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of every file and folder under ``root``, by relative path."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in [root, *root.rglob("*")]}


def _unchanged(path: Path) -> Iterator[Path]:
    """Yield ``path``, then fail if the tests changed anything in it (shared data is read only)."""
    before = _listing(path.parent)
    yield path
    after = _listing(path.parent)
    if after != before:
        changed = sorted({name for name in before.keys() | after.keys() if before.get(name) != after.get(name)})
        pytest.fail(f"a test changed the shared {path.name} (copy it first): {', '.join(changed[:10])}")


@pytest.fixture(scope="session")
def synth24(tmp_path_factory) -> Iterator[Path]:
    """A SynthGIF folder of 24 GIFs, seed 1 (``make_synth``'s defaults: 64 x 64, 8 frames), shared by the training,
    ablation and orphan-process tests. Read only: a test that writes into its data copies it first."""
    yield from _unchanged(make_synth(tmp_path_factory.mktemp("synth24") / "data", n=24, seed=1))


@pytest.fixture(scope="session")
def synth16(tmp_path_factory) -> Iterator[Path]:
    """A SynthGIF folder of 16 GIFs, seed 1 (64 x 64, 8 frames), for the trainable-backbone and training-failure
    tests. Read only: a test that writes into its data takes ``synth16_copy``."""
    yield from _unchanged(make_synth(tmp_path_factory.mktemp("synth16") / "data", n=16, seed=1))


@pytest.fixture
def synth16_copy(synth16, tmp_path) -> Path:
    """A copy of ``synth16`` in the test's own ``tmp_path`` (at ``tmp_path / "data"``), free to change."""
    return shutil.copytree(synth16, tmp_path / "data")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Iterator[Path]:
    """The tiny model file of ``predict_model.write_tiny_model`` (defaults: attention, multitask, seed 0), for the
    prediction, serving, fault-injection and orphan-process tests. Read only: copy it before changing it."""
    yield from _unchanged(write_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model.safetensors"))
