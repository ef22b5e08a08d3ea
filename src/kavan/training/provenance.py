"""Where a result came from: the dataset (path, name, fingerprint, SynthGIF or not), the code (git commit).

The dataset fingerprint is a SHA-256 over the sorted ids, their scores (as loaded, float32) and each media file's
name and size: it changes when a GIF is added, removed, renamed or resized on disk, or a score changes, and it
is cheap enough for a GIFGIF-sized folder (no media bytes are read). SynthGIF folders also record their
generator's format, version, seed, preset and size from synth.json.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

from kavan.data.dataset import Dataset

log = logging.getLogger(__name__)

SYNTH_FILE = "synth.json"


def dataset_fingerprint(dataset: Dataset) -> str:
    """SHA-256 (hex) of ids, scores and media names and sizes; see the module docstring."""
    digest = hashlib.sha256()
    for row, gif_id in enumerate(dataset.ids):
        media = dataset.media_path(gif_id)
        digest.update(f"{gif_id}|{media.name}|{media.stat().st_size}|".encode())
        digest.update(dataset.scores[row].tobytes())
    return digest.hexdigest()


def dataset_record(dataset: Dataset) -> dict[str, Any]:
    """What a checkpoint and a results file say about the data: path, name, size, fingerprint, SynthGIF facts."""
    record: dict[str, Any] = {
        "path": str(dataset.root.resolve()),
        "name": dataset.root.resolve().name,
        "n_gifs": len(dataset),
        "fingerprint": dataset_fingerprint(dataset),
        "synthgif": None,
    }
    synth = dataset.root / SYNTH_FILE
    if synth.is_file():
        try:
            info = json.loads(synth.read_text(encoding="utf-8"))
            record["synthgif"] = {key: info.get(key) for key in
                                  ("format", "generator_version", "seed", "n", "preset", "overrides")}
        except (OSError, ValueError) as err:
            log.warning("%s: unreadable (%s); the dataset is not recorded as SynthGIF", synth, err)
    return record


def git_commit(start: Path | None = None) -> dict[str, Any] | None:
    """{"commit": hash, "dirty": bool} of the source tree kavan runs from, or None outside a git checkout."""
    where = start or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}
