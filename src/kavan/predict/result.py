"""What a prediction is: the typed result behind `kavan predict`'s JSON, and the attention maps behind the pictures.

A `Prediction` has exactly the fields of the JSON object (docs/predict.md):

    {"path", "emotions": {17 names: score}, "quadrant": {"label", "probabilities": {4 names: p}},
     "top": [[name, score] x 3], "frames_used": [indices], "model": {"checkpoint", "trained_on", "config_hash"}}

Scores and probabilities are rounded to 6 decimals when the result is made, so the Python object and its JSON
carry the same numbers (the model computes in float32, whose precision is about 1e-7 on [0, 1]).
The quadrant is the argmax of the model's quadrant head, with its softmax as probabilities; a model trained
without that head (``model.multitask: false``) gives the quadrant of its strongest emotion, as the evaluation
protocol scores it, and ``probabilities`` null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kavan.core.emotions import EMOTIONS, QUADRANTS, quadrant_label

DECIMALS = 6
N_TOP = 3


@dataclass(frozen=True)
class ModelInfo:
    """Where the predictions come from: the checkpoint file, what it was trained on, its config's hash."""

    checkpoint: str
    trained_on: dict[str, Any]
    config_hash: str

    @property
    def synthgif(self) -> bool:
        """Whether the checkpoint was trained on a SynthGIF folder (synthetic faces, not real GIFs)."""
        return bool((self.trained_on.get("dataset") or {}).get("synthgif"))

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "trained_on": self.trained_on, "config_hash": self.config_hash}


@dataclass(frozen=True)
class QuadrantResult:
    """The circumplex quadrant: its name, and the head's probability of each quadrant (None without the head)."""

    label: str
    probabilities: dict[str, float] | None

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": None if self.probabilities is None else dict(self.probabilities)}


@dataclass(frozen=True)
class Prediction:
    """One file's (or one clip's) prediction; ``to_json()`` is the `kavan predict` object.

    path: the file as it was given (None for frames passed as arrays). emotions: the 17 intensities in [0, 1]
    in kavan.core.emotions.EMOTIONS order. top: the three strongest emotions, strongest first (ties: EMOTIONS order).
    frames_used: the TSN evaluation frames (indices into the file's frames) the model saw, in order.
    """

    path: str | None
    emotions: dict[str, float]
    quadrant: QuadrantResult
    top: list[tuple[str, float]]
    frames_used: list[int]
    model: ModelInfo

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "emotions": dict(self.emotions),
            "quadrant": self.quadrant.to_json(),
            "top": [[name, score] for name, score in self.top],
            "frames_used": list(self.frames_used),
            "model": self.model.to_json(),
        }


@dataclass(frozen=True)
class Attention:
    """The attention masks M_t of one clip, one per sampled frame.

    frames_used: the sampled frame indices. frames: those frames, (T, H, W, 3) uint8 RGB, as decoded.
    cells: (T, K, K) masks on the backbone's grid, each summing to 1; cell (i, j) covers rows
    [i·H/K, (i+1)·H/K) and columns [j·W/K, (j+1)·W/K) of the frame (the model sees the whole frame resized).
    maps: (T, H, W) float32, the masks upsampled bilinearly to the frame size (kavan.media.overlay.upsample_map).
    """

    frames_used: list[int]
    frames: np.ndarray
    cells: np.ndarray
    maps: np.ndarray


def make_prediction(path: str | None, intensities: np.ndarray, quadrant_logits: np.ndarray | None,
                    frames_used: list[int], model: ModelInfo) -> Prediction:
    """A Prediction from one clip's outputs: intensities (17,) and quadrant logits (4,) or None."""
    scores = [round(float(v), DECIMALS) for v in intensities]
    emotions = dict(zip(EMOTIONS, scores))
    order = sorted(range(len(EMOTIONS)), key=lambda i: (-scores[i], i))
    top = [(EMOTIONS[i], scores[i]) for i in order[:N_TOP]]
    if quadrant_logits is None:
        quadrant = QuadrantResult(quadrant_label(np.asarray(intensities)), None)
    else:
        logits = np.asarray(quadrant_logits, dtype=np.float64)
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        quadrant = QuadrantResult(QUADRANTS[int(np.argmax(logits))],
                                  {name: round(float(p), DECIMALS) for name, p in zip(QUADRANTS, probabilities)})
    return Prediction(path, emotions, quadrant, top, [int(i) for i in frames_used], model)


@dataclass(frozen=True)
class Analysis:
    """A prediction and, when the model has attention and the frames were kept, its attention maps."""

    prediction: Prediction
    attention: Attention | None
