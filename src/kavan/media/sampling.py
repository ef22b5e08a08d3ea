"""Temporal Segment Network (TSN) frame sampling (Wang et al., ECCV 2016), as KAVAN uses it.

A clip of ``n_frames`` frames is split evenly into ``t`` segments; segment k covers frames
``[floor(k·n/t), floor((k+1)·n/t))``. Training draws one random frame per segment; evaluation takes each
segment's middle frame ``start + (stop − start) // 2``. With fewer frames than segments a segment would be empty;
it then holds the single frame ``floor(k·n/t)``, so frames repeat in order (n=3, t=8 → 0 0 0 1 1 1 2 2).
"""

from __future__ import annotations

import numpy as np


def tsn_segments(n_frames: int, t: int) -> list[tuple[int, int]]:
    """The ``t`` half-open frame ranges [start, stop) of a clip of ``n_frames`` frames; none is empty."""
    if n_frames < 1 or t < 1:
        raise ValueError(f"need n_frames >= 1 and t >= 1, got n_frames={n_frames}, t={t}")
    starts = [k * n_frames // t for k in range(t + 1)]
    return [(starts[k], max(starts[k] + 1, starts[k + 1])) for k in range(t)]


def tsn_indices(n_frames: int, t: int, train: bool, generator: np.random.Generator | None = None) -> list[int]:
    """The ``t`` frame indices TSN samples, in non-decreasing order.

    ``train=True`` draws one frame uniformly per segment from ``generator`` (required, so runs are
    reproducible); ``train=False`` takes each segment's middle frame.
    """
    segments = tsn_segments(n_frames, t)
    if not train:
        return [start + (stop - start) // 2 for start, stop in segments]
    if generator is None:
        raise ValueError("training-mode sampling needs a seeded numpy Generator")
    return [int(generator.integers(start, stop)) for start, stop in segments]
