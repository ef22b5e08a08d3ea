"""The epoch's running loss terms: ``MetricLogger``, after torchvision's references/classification/utils.py.

The trainer feeds it each step's loss terms (``update(total=..., nmse=...)``) and reads the epoch means at the
epoch's end (``averages()``). Its whole state is a sum per term, the number of steps and the seconds spent, which
is exactly what a checkpoint's ``progress`` records (``sums``, ``count``, ``seconds``; kavan.training.checkpoint):
``restore`` picks an interrupted epoch up from there, so a resumed run's epoch means are those of an
uninterrupted run, to the last bit (the sums are added in the same order).
"""

from __future__ import annotations

import time
from collections.abc import Mapping


class MetricLogger:
    """Sums of per-step values over one epoch, their means, and the epoch's elapsed seconds.

    Sums are plain Python floats added in step order, and terms keep the order they were first seen in, so the
    means, and the log columns made from them, do not depend on where an epoch was interrupted.
    """

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self._started = time.perf_counter()

    @classmethod
    def restore(cls, sums: Mapping[str, float], count: int, seconds: float = 0.0) -> MetricLogger:
        """A logger that goes on from saved state: ``sums`` and ``count`` as ``state()`` wrote them, and the
        ``seconds`` the epoch had already taken (its clock resumes from there)."""
        logger = cls()
        logger.sums = dict(sums)
        logger.count = count
        logger._started -= seconds
        return logger

    def update(self, **values: float) -> None:
        """Add one step's values (every step should give the same terms; a new term starts at its first step)."""
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def averages(self) -> dict[str, float]:
        """Each term's mean over the steps so far; {} for an epoch without a step."""
        return {key: value / max(1, self.count) for key, value in self.sums.items()}

    @property
    def seconds(self) -> float:
        """Seconds since the epoch started, including those before a restore."""
        return time.perf_counter() - self._started

    def state(self) -> dict[str, object]:
        """What a checkpoint keeps of the epoch so far: ``sums``, ``count`` and ``seconds`` (progress keys)."""
        return {"sums": dict(self.sums), "count": self.count, "seconds": self.seconds}
