"""Predict many files: decoding in DataLoader worker processes overlaps the batched model forward.

Each worker probes a file, decodes its T evaluation frames and transforms them (kavan.predict.clip) while the
main process runs the model on the previous batch, on the GPU when the Predictor has one (batches are pinned
for the copy). A file that cannot be read becomes an error result and the batch goes on. Results come back in
the order of the paths, one batch at a time, so a caller can stream them. A worker dies with the process that
started it (kavan.core.workers.die_with_parent): killed, that process would otherwise leave it blocked on a full pipe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm import tqdm

from kavan.core.errors import KavanError
from kavan.core.workers import die_with_parent
from kavan.predict.clip import ClipPreparer, PreparedClip
from kavan.predict.predictor import Predictor, grey_of
from kavan.predict.result import Analysis


@dataclass(frozen=True)
class BatchSettings:
    """batch_size: clips per forward. workers: decoding processes (0: decode in this process, no overlap).
    keep_frames: keep the sampled frames and compute attention maps (for pictures)."""

    batch_size: int = 4
    workers: int = 1
    keep_frames: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise KavanError(f"batch size must be >= 1, got {self.batch_size}")
        if self.workers < 0:
            raise KavanError(f"workers must be >= 0, got {self.workers}")


@dataclass(frozen=True)
class FileResult:
    """One file's outcome: an Analysis, or the reason it could not be read."""

    path: str
    analysis: Analysis | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """The prediction's JSON object, or {"path", "error"}."""
        if self.analysis is None:
            return {"path": self.path, "error": self.error}
        return self.analysis.prediction.to_json()


class _Files(TorchDataset):
    """Index i -> (i, PreparedClip) or (i, the reason file i cannot be read)."""

    def __init__(self, paths: Sequence[str], preparer: ClipPreparer):
        self.paths = list(paths)
        self.preparer = preparer

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, PreparedClip | str]:
        try:
            return index, self.preparer.from_path(self.paths[index])
        except KavanError as err:
            return index, err.reason


def collate(items: list[tuple[int, PreparedClip | str]]) -> dict[str, Any]:
    """The readable clips' inputs stacked into one tensor (pinned by the loader), the rest as they are."""
    clips = [(index, item) for index, item in items if isinstance(item, PreparedClip)]
    return {
        "order": [index for index, _ in items],
        "errors": {index: item for index, item in items if isinstance(item, str)},
        "indices": [index for index, _ in clips],
        "clips": [replace(clip, inputs=torch.empty(0)) for _, clip in clips],  # inputs travel stacked, once
        "inputs": torch.stack([clip.inputs for _, clip in clips]) if clips else torch.empty(0),
    }


def _init_decoding_worker(parent_pid: int, _worker_id: int) -> None:
    """A decoding worker dies with its parent: a worker holding clips nobody reads (the pipe full) would stay
    blocked forever after the parent is killed. It decodes one file at a time, so one intra-op thread: more
    would only fight the model for cores."""
    die_with_parent(parent_pid)
    torch.set_num_threads(1)


def predict_files(predictor: Predictor, paths: Sequence[str], settings: BatchSettings = BatchSettings(),
                  progress: bool = True) -> Iterator[FileResult]:
    """Yield one FileResult per path, in order, as each batch is done."""
    files = _Files(paths, predictor.preparer(settings.keep_frames))
    loader = DataLoader(files, batch_size=settings.batch_size, num_workers=settings.workers, collate_fn=collate,
                        worker_init_fn=partial(_init_decoding_worker, os.getpid()) if settings.workers else None,
                        pin_memory=predictor.device.type == "cuda")
    with tqdm(total=len(files), desc="predicting", unit="file", disable=not progress) as bar:
        for batch in loader:
            results = finish_batch(predictor, files.paths, batch)
            for index in batch["order"]:
                bar.update(1)
                yield results[index]


def finish_batch(predictor: Predictor, paths: Sequence[str], batch: dict[str, Any]) -> dict[int, FileResult]:
    """The FileResult of every file of a collated batch (``collate``'s keys): one forward over its readable
    clips; a row whose outputs are not finite becomes an error record, never a NaN."""
    done: dict[int, Analysis] = {}
    errors = dict(batch["errors"])
    if batch["indices"]:
        outputs = predictor.forward(batch["inputs"], grey_of(batch["clips"]))
        names: list[str | None] = [paths[i] for i in batch["indices"]]
        done = dict(zip(batch["indices"], predictor.results(batch["clips"], names, outputs)))
        for row, reason in predictor.non_finite(outputs).items():
            index = batch["indices"][row]
            done.pop(index)
            errors[index] = reason
    return {index: FileResult(paths[index], done.get(index), errors.get(index)) for index in batch["order"]}

