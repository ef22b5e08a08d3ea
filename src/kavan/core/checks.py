"""The range checks of the settings dataclasses (kavan.config, kavan.synth.config, kavan.keypoints.config,
kavan.baselines.config, the heatmap settings): one shape of message, "<prefix><name> must be <range>, got <value>",
raised as a KavanError from ``__post_init__``. Checks that tie several fields together stay where they are."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from kavan.core.errors import KavanError


def at_least(settings: Any, names: Iterable[str], low: float, prefix: str = "") -> None:
    """Each named field is >= ``low``."""
    for name in names:
        value = getattr(settings, name)
        if not value >= low:
            raise KavanError(f"{prefix}{name} must be >= {low}, got {value}")


def greater_than(settings: Any, names: Iterable[str], low: float, prefix: str = "") -> None:
    """Each named field is > ``low``."""
    for name in names:
        value = getattr(settings, name)
        if not value > low:
            raise KavanError(f"{prefix}{name} must be > {low}, got {value}")


def positive(settings: Any, names: Iterable[str], prefix: str = "") -> None:
    """Each named field is a finite number > 0."""
    for name in names:
        value = getattr(settings, name)
        if not (value > 0 and math.isfinite(value)):
            raise KavanError(f"{prefix}{name} must be > 0, got {value}")


def within(settings: Any, names: Iterable[str], interval: str = "[0, 1]", prefix: str = "") -> None:
    """Each named field lies in ``interval``, written as in the message: ``[0, 1]``, ``[0, 1)``, ``(0, 1)``, ``(0, 1]``
    (any two numbers)."""
    low, high = (float(part) for part in interval[1:-1].split(","))
    for name in names:
        value = getattr(settings, name)
        above = value >= low if interval[0] == "[" else value > low
        below = value <= high if interval[-1] == "]" else value < high
        if not (above and below):
            raise KavanError(f"{prefix}{name} must be in {interval}, got {value}")


def one_of(settings: Any, name: str, choices: Iterable[str], prefix: str = "") -> None:
    """The named field is one of ``choices``."""
    choices = tuple(choices)
    value = getattr(settings, name)
    if value not in choices:
        raise KavanError(f"{prefix}{name} must be one of {', '.join(choices)}, got {value!r}")
