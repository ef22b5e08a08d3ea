"""The two pictures of a prediction: the attention overlay (paper Fig. 6) and the emotion bar chart (Fig. 5).

Overlay: an animated GIF of the T sampled frames, each with its attention mask M_t blended over it
(kavan.media.overlay.blend_map: the K x K cells tile the whole frame, bilinear upsampling between cell centres, "jet"
colours, opacity growing with the mask up to ``alpha`` at its peak), shown ``frame_ms`` each and looping. Frames
larger than ``max_side`` are scaled down first (the blend is computed at the output size, so it stays aligned).

Chart: a PNG bar chart of the 17 intensities on [0, 1], each bar coloured by its emotion's circumplex quadrant
(kavan.core.emotions), with the predicted quadrant (and its probability when the model has the quadrant head) in
the title and the training data of the model under it. Both are written atomically.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from kavan.core.atomic import write_bytes
from kavan.core.emotions import EMOTION_QUADRANT, EMOTIONS, QUADRANTS
from kavan.core.errors import KavanError
from kavan.media.overlay import blend_map
from kavan.predict.result import Attention, Prediction

# One colour per quadrant (ColorBrewer Set1, readable by most colour-blind viewers); misery-arousal is blue as in
# the paper's Fig. 5. The web page uses the same colours (kavan serve sends them).
QUADRANT_COLOURS: dict[str, str] = {
    "pleasure-arousal": "#ff7f00",
    "pleasure-sleep": "#4daf4a",
    "misery-arousal": "#377eb8",
    "misery-sleep": "#984ea3",
}


@dataclass(frozen=True)
class OverlayStyle:
    """alpha: opacity of the colour at the mask's peak. colormap: a matplotlib colormap name. frame_ms: display
    time of each overlay frame. max_side: frames whose longer side is larger are scaled down to it."""

    alpha: float = 0.6
    colormap: str = "jet"
    frame_ms: int = 500
    max_side: int = 512

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise KavanError(f"overlay alpha must be in [0, 1], got {self.alpha}")
        if self.frame_ms < 10 or self.max_side < 8:
            raise KavanError(f"overlay frame_ms must be >= 10 and max_side >= 8, got {self.frame_ms}, {self.max_side}")


def overlay_frames(attention: Attention, style: OverlayStyle = OverlayStyle()) -> list[np.ndarray]:
    """The T sampled frames (scaled to fit max_side) with their masks blended over them, (h, w, 3) uint8 each."""
    height, width = attention.frames.shape[1:3]
    scale = min(1.0, style.max_side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    blended = []
    for frame, cells in zip(attention.frames, attention.cells):
        if scale < 1.0:
            frame = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))
        blended.append(blend_map(frame, cells, style.alpha, style.colormap))
    return blended


def overlay_gif(attention: Attention, style: OverlayStyle = OverlayStyle()) -> bytes:
    """The overlay as an animated, looping GIF file's bytes (one adaptive palette per frame)."""
    images = [Image.fromarray(frame) for frame in overlay_frames(attention, style)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=style.frame_ms,
                   loop=0)
    return buffer.getvalue()


def write_overlay(path: str | os.PathLike[str], attention: Attention, style: OverlayStyle = OverlayStyle()) -> None:
    write_bytes(path, overlay_gif(attention, style))


def _trained_on_line(prediction: Prediction) -> str:
    dataset = prediction.model.trained_on.get("dataset") or {}
    name = dataset.get("name", "an unrecorded dataset")
    if prediction.model.synthgif:
        return f"model trained on {name} (SynthGIF: synthetic faces; not meaningful for real GIFs)"
    return f"model trained on {name}"


def chart_png(prediction: Prediction, title: str | None = None) -> bytes:
    """The bar chart as PNG bytes; ``title`` defaults to the file's name."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(7.5, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values = [prediction.emotions[name] for name in EMOTIONS]
    colours = [QUADRANT_COLOURS[EMOTION_QUADRANT[name]] for name in EMOTIONS]
    bars = ax.bar(range(len(EMOTIONS)), values, color=colours, edgecolor="black", linewidth=0.4)
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.2f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=50, ha="right", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("predicted intensity")
    ax.legend(handles=[Patch(color=QUADRANT_COLOURS[q], label=q) for q in QUADRANTS], fontsize=7, ncol=2,
              loc="upper right", frameon=False)
    quadrant = prediction.quadrant
    probability = "" if quadrant.probabilities is None else f" (p = {quadrant.probabilities[quadrant.label]:.2f})"
    name = title if title is not None else os.path.basename(prediction.path or "frames")
    ax.set_title(f"{name}: predicted quadrant {quadrant.label}{probability}", fontsize=10,
                 color=QUADRANT_COLOURS[quadrant.label])
    fig.text(0.01, 0.01, _trained_on_line(prediction), fontsize=6, color="0.35")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_chart(path: str | os.PathLike[str], prediction: Prediction, title: str | None = None) -> None:
    write_bytes(path, chart_png(prediction, title))
