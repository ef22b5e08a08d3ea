"""SynthGIF's world around the faces: a panning gradient, moving clutter and decoys, and the global tint.

Everything here is drawn from its own random stream, independent of the GIF's emotions, so no background
colour, shape or motion predicts a label. The one deliberate exception is the global cue: a full-frame tint
whose colour moves from cool (cue −1) to warm (cue +1) and whose cue value leans with the GIF's valence
(kavan.synth.trajectories.global_cue). A colour-histogram model can read it, which puts such a model above
chance but, with the default cue_strength and cue_alpha, far from what the faces tell.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from kavan.synth.config import SynthConfig
from kavan.synth.face import SKIN_TONES

CUE_COOL = np.array([40.0, 90.0, 230.0])
CUE_WARM = np.array([245.0, 140.0, 30.0])
SHAPE_KINDS = ("rect", "ellipse", "triangle", "ring", "bar")


@dataclass(frozen=True)
class Shape:
    """One moving background object. Sizes and positions are in canvas pixels; it wraps around the edges."""

    kind: str
    colour: tuple[int, int, int]
    size: float
    aspect: float
    start: tuple[float, float]
    velocity: tuple[float, float]
    angle: float
    spin: float


@dataclass(frozen=True)
class Scene:
    """A GIF's background: two gradient colours, the gradient's direction, period and pan speed, shapes."""

    colours: tuple[tuple[int, int, int], tuple[int, int, int]]
    direction: float
    period: float
    pan: float
    shapes: tuple[Shape, ...]


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, size=3))


def make_scene(rng: np.random.Generator, cfg: SynthConfig) -> Scene:
    """Draw a random background: gradient, ``clutter`` shapes and ``decoys`` face-sized skin blobs."""
    side = min(cfg.width, cfg.height)
    shapes = []
    for _ in range(cfg.clutter):
        speed = rng.uniform(0, cfg.clutter_speed) * side
        heading = rng.uniform(0, 2 * math.pi)
        shapes.append(Shape(
            kind=SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))], colour=_colour(rng),
            size=float(rng.uniform(0.06, 0.3) * side), aspect=float(rng.uniform(0.4, 1.0)),
            start=(float(rng.uniform(0, cfg.width)), float(rng.uniform(0, cfg.height))),
            velocity=(speed * math.cos(heading), speed * math.sin(heading)),
            angle=float(rng.uniform(0, 2 * math.pi)), spin=float(rng.uniform(-0.2, 0.2))))
    for _ in range(cfg.decoys):
        speed = rng.uniform(0, cfg.clutter_speed) * side
        heading = rng.uniform(0, 2 * math.pi)
        shapes.append(Shape(
            kind="decoy", colour=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
            size=float(rng.uniform(cfg.face_size_min, cfg.face_size_max) * side), aspect=1.3,
            start=(float(rng.uniform(0, cfg.width)), float(rng.uniform(0, cfg.height))),
            velocity=(speed * math.cos(heading), speed * math.sin(heading)), angle=0.0, spin=0.0))
    first = _colour(rng)
    second = _colour(rng)
    while max(abs(a - b) for a, b in zip(first, second)) < 64:  # a visible gradient, so frames always move
        second = _colour(rng)
    pan = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * cfg.background_speed
    return Scene(colours=(first, second), direction=float(rng.uniform(0, 2 * math.pi)),
                 period=float(rng.uniform(0.5, 2.0) * side), pan=float(pan), shapes=tuple(shapes))


class _Gradient:
    """The scene's panning gradient: the projection onto its direction is computed once per GIF."""

    def __init__(self, scene: Scene, cfg: SynthConfig, scale: int):
        ys, xs = np.mgrid[0:cfg.height * scale, 0:cfg.width * scale].astype(np.float32) / scale
        self.u = (xs * math.cos(scene.direction) + ys * math.sin(scene.direction)) / scene.period
        self.c0 = np.array(scene.colours[0], dtype=np.float32)
        self.delta = np.array(scene.colours[1], dtype=np.float32) - self.c0
        self.pan = scene.pan

    def frame(self, t: int) -> Image.Image:
        g = 1.0 - np.abs(2.0 * ((self.u + self.pan * t) % 1.0) - 1.0)        # triangle wave in [0, 1]
        return Image.fromarray((self.c0 + self.delta * g[..., None]).astype(np.uint8), "RGB")


def _polygon(cx: float, cy: float, radius: float, aspect: float, angle: float, corners: int) -> list:
    return [(cx + radius * math.cos(angle + 2 * math.pi * k / corners),
             cy + aspect * radius * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: Shape, frame: int, cfg: SynthConfig, scale: int) -> None:
    margin = shape.size
    span_x, span_y = cfg.width + 2 * margin, cfg.height + 2 * margin
    cx = (shape.start[0] + shape.velocity[0] * frame + margin) % span_x - margin
    cy = (shape.start[1] + shape.velocity[1] * frame + margin) % span_y - margin
    cx, cy, r = (cx + 0.5) * scale - 0.5, (cy + 0.5) * scale - 0.5, shape.size * scale / 2
    box = [cx - r, cy - r * shape.aspect, cx + r, cy + r * shape.aspect]
    angle = shape.angle + shape.spin * frame
    if shape.kind == "rect":
        draw.rectangle(box, fill=shape.colour)
    elif shape.kind == "ellipse":
        draw.ellipse(box, fill=shape.colour)
    elif shape.kind == "triangle":
        draw.polygon(_polygon(cx, cy, r, 1.0, angle, 3), fill=shape.colour)
    elif shape.kind == "ring":
        draw.ellipse(box, outline=shape.colour, width=max(1, round(0.25 * r)))
    elif shape.kind == "bar":
        dx, dy = r * math.cos(angle), r * math.sin(angle)
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=shape.colour, width=max(1, round(0.2 * r)))
    else:  # decoy: a featureless head
        outline = tuple(int(c * 0.55) for c in shape.colour)
        draw.ellipse([cx - r, cy - r * shape.aspect, cx + r, cy + r * shape.aspect], fill=shape.colour,
                     outline=outline, width=max(1, round(0.05 * r)))


def backgrounds(scene: Scene, cfg: SynthConfig, scale: int) -> Iterator[Image.Image]:
    """Each frame's background at ``scale`` times the canvas size (RGB), in order."""
    gradient = _Gradient(scene, cfg, scale)
    for t in range(cfg.n_frames):
        image = gradient.frame(t)
        draw = ImageDraw.Draw(image)
        for shape in scene.shapes:
            _draw_shape(draw, shape, t, cfg, scale)
        yield image


def cue_colour(cue: float) -> np.ndarray:
    """The tint colour of a cue value in [-1, 1]: cool blue at −1 to warm orange at +1."""
    return CUE_COOL + (CUE_WARM - CUE_COOL) * (cue + 1.0) / 2.0


def apply_tint(frames: np.ndarray, cue: float, alpha: float) -> np.ndarray:
    """Blend every pixel of ``frames`` (F, H, W, 3) uint8 towards the cue's colour with opacity ``alpha``."""
    out = frames.astype(np.float32) * (1 - alpha) + cue_colour(cue).astype(np.float32) * alpha
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
