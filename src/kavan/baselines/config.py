"""Settings of the two baselines after Jou et al. (ACM MM 2014), as frozen dataclasses.

Both load from YAML mappings with ``kavan.config.from_mapping``. Every field except ``ridge`` changes the features,
so every field except ``ridge`` is part of the feature cache's key (``feature_settings``); ``ridge`` only changes
the regression fitted on them. docs/baselines.md gives the reasons for each default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from kavan.core.checks import at_least, greater_than, within
from kavan.core.errors import KavanError


def _check_ridge(name: str, ridge: float | None) -> None:
    if ridge is not None and ridge < 0:
        raise KavanError(f"{name}.ridge must be >= 0 or null (chosen by generalised cross-validation), got {ridge}")


@dataclass(frozen=True)
class ColourHistogramConfig:
    """Colour histogram + least squares.

    space: ``hsv`` (OpenCV's 8-bit HSV: hue 0–179, saturation and value 0–255) or ``rgb``.
    bins: bins per channel, in the space's channel order; the histogram is the joint one over all three
        (8·4·4 = 128 bins by default), normalised to sum 1 per frame and averaged over the sampled frames.
    root: take the square root of the averaged histogram (the Hellinger mapping), so that a bin's changes count
        alike whether the bin is rare or common.
    ridge: λ of the ridge penalty; 0 is ordinary least squares, null chooses λ by generalised cross-validation
        on the training split (kavan.baselines.linear).
    """

    space: Literal["hsv", "rgb"] = "hsv"
    bins: tuple[int, int, int] = (8, 4, 4)
    root: bool = True
    ridge: float | None = None

    def __post_init__(self) -> None:
        if len(self.bins) != 3 or any(b < 1 or b > 256 for b in self.bins):
            raise KavanError(f"colour_histogram.bins must be three counts in 1..256, got {list(self.bins)}")
        _check_ridge("colour_histogram", self.ridge)


@dataclass(frozen=True)
class FaceExpressionConfig:
    """Largest Haar-cascade face → FER2013 network features + ordinary least squares.

    scale_factor, min_neighbors: OpenCV ``detectMultiScale`` arguments (fer's defaults).
    min_face: smallest face searched, as a fraction of the frame's shorter side, and never below the cascade's
        own 24-pixel window: 50 px on a 500-px frame (fer's fixed default), 24 px on SynthGIF's 128-px frames.
    margin: pixels added on every side of the squared face box before cropping (fer's ``offsets``).
    ridge: as in ColourHistogramConfig; 0 (ordinary least squares) is what Jou et al. and the paper use.
    """

    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face: float = 0.1
    margin: int = 10
    ridge: float | None = 0.0

    def __post_init__(self) -> None:
        greater_than(self, ("scale_factor",), 1, "face_expression.")
        at_least(self, ("min_neighbors", "margin"), 0, "face_expression.")
        within(self, ("min_face",), "[0, 1]", "face_expression.")
        _check_ridge("face_expression", self.ridge)


def feature_settings(config: ColourHistogramConfig | FaceExpressionConfig) -> dict[str, Any]:
    """The fields that change the features (all but ``ridge``), as plain JSON-ready values."""
    settings = dataclasses.asdict(config)
    settings.pop("ridge")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
