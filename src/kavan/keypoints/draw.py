"""Pictures of estimated keypoints: the 70 points coloured by facial region and shaded by confidence.

A point is drawn as a dot of its region's colour whose opacity grows with its confidence (faint near 0, solid at
1); points of confidence 0 (no face, fully hidden, or a 68-point backend's pupils) are not drawn.

``draw_frame`` draws one frame; ``contact_sheet`` lays several drawn frames out with their indices (for PNG);
``save_drawing`` writes a PNG sheet or an animated GIF of every frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from kavan.core.errors import KavanError
from kavan.keypoints import landmarks

REGION_COLOURS: tuple[tuple[tuple[int, ...], tuple[int, int, int]], ...] = (
    (landmarks.JAW, (255, 210, 0)),
    (landmarks.RIGHT_BROW, (255, 120, 0)),
    (landmarks.LEFT_BROW, (255, 120, 0)),
    (landmarks.NOSE, (0, 200, 255)),
    (landmarks.RIGHT_EYE, (40, 255, 40)),
    (landmarks.LEFT_EYE, (40, 255, 40)),
    (landmarks.MOUTH, (255, 40, 160)),
    (landmarks.PUPILS, (255, 255, 255)),
)
MIN_OPACITY = 0.25
"""Opacity of a point of (almost) zero confidence; 1 at confidence 1."""


def _colour_table() -> np.ndarray:
    table = np.zeros((landmarks.N_POINTS, 3), np.uint8)
    for indices, colour in REGION_COLOURS:
        table[list(indices)] = colour
    return table


COLOURS = _colour_table()


def draw_frame(rgb: np.ndarray, faces: np.ndarray, scale: float = 1.0) -> Image.Image:
    """The (H, W, 3) frame, resized by ``scale``, with the (N, 70, 3) faces' points drawn over it."""
    image = Image.fromarray(rgb).convert("RGBA")
    if scale != 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.BICUBIC)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    for face in faces:
        seen = face[:, 2] > 0
        if not seen.any():
            continue
        xy = face[seen, :2]
        extent = float(np.ptp(xy[:, 0]) + np.ptp(xy[:, 1])) * scale
        radius = min(max(1.5, extent / 150.0), 6.0)
        for j in np.flatnonzero(seen):
            x, y, c = face[j]
            u, v = (x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5
            alpha = round(255 * (MIN_OPACITY + (1.0 - MIN_OPACITY) * float(c)))
            colour = (*COLOURS[j].tolist(), alpha)
            pen.ellipse([u - radius, v - radius, u + radius, v + radius], fill=colour,
                        outline=(0, 0, 0, alpha))
    return Image.alpha_composite(image, overlay).convert("RGB")


def contact_sheet(tiles: list[tuple[str, Image.Image]], columns: int = 4) -> Image.Image:
    """Drawn frames in a grid, each with its caption above it."""
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    tw = max(t.width for _, t in tiles)
    th = max(t.height for _, t in tiles)
    caption = 14
    sheet = Image.new("RGB", (columns * tw, rows * (th + caption)), (0, 0, 0))
    pen = ImageDraw.Draw(sheet)
    for k, (text, tile) in enumerate(tiles):
        x, y = (k % columns) * tw, (k // columns) * (th + caption)
        pen.text((x + 2, y + 1), text, fill=(255, 255, 255))
        sheet.paste(tile, (x, y + caption))
    return sheet


def save_drawing(out: str | os.PathLike[str], frames: list[tuple[int, np.ndarray]], keypoints: np.ndarray,
                 durations_ms: list[int] | None = None) -> Path:
    """Write ``out``: .png, a sheet of the given (index, rgb) frames; .gif, those frames animated.

    keypoints: (F, N, 70, 3) for every frame of the file (indexed by the frames' indices). Written to a temporary
    file and renamed, so a failure leaves no partial picture.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif"):
        raise KavanError("--draw needs a .png or .gif file name", out)
    if not frames:
        raise KavanError("no frames to draw", out)
    tmp = out.with_name(f".{out.name}.tmp{suffix}")
    try:
        if suffix == ".png":
            width = frames[0][1].shape[1]
            # one frame: enlarged up to 720 px wide (4x at most); a sheet: 360-px tiles
            scale = max(1.0, min(4.0, 720.0 / width)) if len(frames) == 1 else min(2.0, 360.0 / width)
            tiles = [(f"frame {i}: {int((keypoints[i, :, :, 2] > 0).any(axis=1).sum())} face(s)",
                      draw_frame(rgb, keypoints[i], scale)) for i, rgb in frames]
            image = tiles[0][1] if len(tiles) == 1 else contact_sheet(tiles)
            image.save(tmp, format="PNG")
        else:
            images = [draw_frame(rgb, keypoints[i]) for i, rgb in frames]
            durations = [durations_ms[i] if durations_ms else 100 for i, _ in frames]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
        os.replace(tmp, out)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise KavanError(f"cannot write the picture: {err.strerror or err}", out) from None
    return out
