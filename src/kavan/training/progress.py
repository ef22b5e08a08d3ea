"""Where a training run stands: ``TrainProgress``, the typed form of a checkpoint's ``progress`` record.

The checkpoint (kavan.training.checkpoint) stores it as JSON under the keys it always had, in the same order
(``epoch``, ``batch``, ``step``, ``sums``, ``count``, ``seconds``, ``history``, ``best``), so checkpoints written
before this class existed resume, and a run writes the same bytes it wrote before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kavan.training.metric_logger import MetricLogger


@dataclass(frozen=True)
class BestEpoch:
    """The validation epoch with the lowest nMSE per emotion so far (train.select best_val)."""

    epoch: int
    value: float


@dataclass
class TrainProgress:
    """epoch: epochs finished; batch: batches done of the current epoch; step: optimiser steps in all; sums,
    count, seconds: the current epoch's running loss sums (kavan.training.metric_logger); history: one row per
    finished epoch (log.csv's); best: the best validation epoch (None without validation or before the first)."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: BestEpoch | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainProgress:
        """From a checkpoint's ``progress`` record (any version: a key it lacks takes its start value)."""
        best = data.get("best")
        return cls(epoch=int(data.get("epoch", 0)), batch=int(data.get("batch", 0)), step=int(data.get("step", 0)),
                   sums=dict(data.get("sums") or {}), count=int(data.get("count", 0)),
                   seconds=float(data.get("seconds", 0.0)), history=list(data.get("history") or []),
                   best=None if best is None else BestEpoch(int(best["epoch"]), float(best["value"])))

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint's ``progress`` record: the keys, their order and their JSON types as always."""
        return {"epoch": self.epoch, "batch": self.batch, "step": self.step, "sums": dict(self.sums),
                "count": self.count, "seconds": self.seconds, "history": list(self.history),
                "best": None if self.best is None else {"epoch": self.best.epoch, "value": self.best.value}}

    def epoch_metrics(self) -> MetricLogger:
        """The current epoch's running sums, picked up where the progress left them."""
        return MetricLogger.restore(self.sums, self.count, self.seconds)

    def stepped(self) -> None:
        """One optimiser step done."""
        self.step += 1
        self.batch += 1

    def hold(self, metrics: MetricLogger) -> None:
        """Keep the epoch's running sums (before a checkpoint in the middle of an epoch)."""
        state = metrics.state()
        self.sums, self.count, self.seconds = dict(state["sums"]), int(state["count"]), float(state["seconds"])

    def close_epoch(self, row: dict[str, Any]) -> None:
        """Epoch ``row["epoch"]`` finished: record its row and start the next epoch's sums."""
        self.epoch, self.batch, self.sums, self.count, self.seconds = row["epoch"], 0, {}, 0, 0.0
        self.history = [*self.history, row]

    def keep_if_best(self, epoch: int, value: float) -> bool:
        """Record ``epoch`` (1-based) as the best if its validation ``value`` is lower than the best's; True if so."""
        if self.best is not None and not value < self.best.value:
            return False
        self.best = BestEpoch(epoch, value)
        return True
