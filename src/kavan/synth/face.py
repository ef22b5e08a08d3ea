"""SynthGIF's cartoon face: expression parameters → 70 landmarks (iBUG 68 + two pupils) → a drawing.

The face is built in its own frame (units of face width, origin near the nose bridge, x right, y down), every
point with a depth so that head turns can be applied as a small 3-D rotation and an orthographic projection.
The drawing is made from exactly these points (jaw line, brows, eye lids, pupils, nose, lips), so the
landmarks written as ground truth are the face the viewer sees.

Expression parameters (one row per frame, columns in ``PARAMS`` order; 0 is neutral except ``eye_open``):

==============  =====================================================================
mouth_curve     −1 frown … +1 smile (lip corners down/up, mouth widens when smiling)
mouth_open      0 closed … 1 wide open (the jaw drops with it)
mouth_asym      0 symmetric … 1 only the subject's right lip corner raised (a smirk)
brow_raise      −1 lowered … +1 raised
brow_furrow     −1 inner ends up (worry) … +1 inner ends down and together (anger)
eye_open        0 closed … 1 neutral … 1.6 wide
gaze_x, gaze_y  pupil direction in the eye; gaze_y > 0 looks down
head_yaw        −1 … +1 ↔ −25° … +25° turn (positive turns towards the image's right)
head_pitch      −1 … +1 ↔ −20° … +20° (positive looks down)
head_roll       −1 … +1 ↔ −15° … +15° in-plane tilt
nod, shake      0 … 1 strength of vertical / horizontal head oscillation (applied by the trajectory)
==============  =====================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

from kavan.keypoints.landmarks import N_POINTS

PARAMS: tuple[str, ...] = ("mouth_curve", "mouth_open", "mouth_asym", "brow_raise", "brow_furrow", "eye_open",
                           "gaze_x", "gaze_y", "head_yaw", "head_pitch", "head_roll", "nod", "shake")
P = {name: i for i, name in enumerate(PARAMS)}
NEUTRAL = np.zeros(len(PARAMS))
NEUTRAL[P["eye_open"]] = 1.0
LOW = np.array([-1, 0, 0, -1, -1, 0, -1, -1, -1, -1, -1, 0, 0], dtype=np.float64)
HIGH = np.array([1, 1, 1, 1, 1, 1.6, 1, 1, 1, 1, 1, 1, 1], dtype=np.float64)

YAW_MAX = math.radians(25)
PITCH_MAX = math.radians(20)
ROLL_MAX = math.radians(15)

# Extra outline points (not landmarks) used only for drawing: skull arc and hairline.
_N_SKULL = 15
_SKULL_ANGLES = np.linspace(0, math.pi, _N_SKULL + 2)[1:-1]
_HAIR_ANGLES = np.linspace(0.12 * math.pi, 0.88 * math.pi, 9)
_HAIR_END_X = 0.5 * math.cos(0.88 * math.pi)
_HAIRLINE_X = np.linspace(_HAIR_END_X, -_HAIR_END_X, 7)

SKULL = slice(N_POINTS, N_POINTS + _N_SKULL)
HAIR = slice(SKULL.stop, SKULL.stop + len(_HAIR_ANGLES) + len(_HAIRLINE_X))
N_MODEL = HAIR.stop


def _depth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Depth of the face surface, a flattened sphere; the outline lies at depth 0."""
    return np.sqrt(np.clip(0.36 - x**2 - (0.7 * y) ** 2, 0.0, None))


def model_points(expr: np.ndarray) -> np.ndarray:
    """(F, N_MODEL, 3) face-frame points (x, y, depth) for expression rows ``expr`` (F, len(PARAMS)).

    Rows 0–69 are the 70-point layout (kavan.keypoints.landmarks), then the skull arc and the hair outline.
    """
    e = np.atleast_2d(np.asarray(expr, dtype=np.float64))
    f = e.shape[0]
    col = {name: e[:, i:i + 1] for name, i in P.items()}
    x = np.zeros((f, N_MODEL))
    y = np.zeros((f, N_MODEL))
    z = np.full((f, N_MODEL), np.nan)

    # Jaw 0–16: lower half-ellipse from the right ear (image left) round the chin; it drops as the mouth opens.
    a = math.pi - np.arange(17) * math.pi / 16
    x[:, 0:17] = 0.5 * np.cos(a)
    y[:, 0:17] = -0.1 + 0.7 * np.sin(a) + 0.08 * col["mouth_open"] * np.sin(a) ** 2
    z[:, 0:17] = 0.0

    # Brows 17–21 (outer → inner) and 22–26 (inner → outer); furrow moves the inner ends.
    bx = np.array([-0.40, -0.33, -0.25, -0.17, -0.09])
    by = np.array([-0.33, -0.37, -0.38, -0.37, -0.34])
    inner = np.linspace(0.0, 1.0, 5)
    brow_y = by - 0.07 * col["brow_raise"] + 0.09 * col["brow_furrow"] * inner
    brow_x = bx + 0.03 * np.clip(col["brow_furrow"], 0, None) * inner
    x[:, 17:22], y[:, 17:22] = brow_x, brow_y
    x[:, 22:27], y[:, 22:27] = -brow_x[:, ::-1], brow_y[:, ::-1]

    # Nose: bridge 27–30, base 31–35 (fixed shape, protruding).
    x[:, 27:31], y[:, 27:31] = 0.0, np.array([-0.25, -0.14, -0.03, 0.08])
    z[:, 27:31] = np.array([0.50, 0.54, 0.60, 0.66])
    x[:, 31:36], y[:, 31:36] = np.array([-0.10, -0.05, 0.0, 0.05, 0.10]), np.array([0.13, 0.145, 0.15, 0.145, 0.13])
    z[:, 31:36] = np.array([0.52, 0.58, 0.62, 0.58, 0.52])

    # Eyes 36–41 (right) and 42–47 (left): corners, two upper-lid and two lower-lid points; pupils 68, 69.
    eo = col["eye_open"][:, 0]
    up, low = 0.05 * eo, 0.035 * eo
    lid_dx = np.array([-0.1, -0.1 / 3, 0.1 / 3, 0.1, 0.1 / 3, -0.1 / 3])  # image-left corner, upper, corner, lower
    for start, ex, pupil in ((36, -0.23, 68), (42, 0.23, 69)):
        x[:, start:start + 6] = ex + lid_dx
        y[:, start:start + 6] = -0.2 + np.stack([0 * eo, -up, -up, 0 * eo, low, low], axis=1)
        x[:, pupil] = ex + 0.05 * col["gaze_x"][:, 0]
        y[:, pupil] = -0.2 + np.clip(0.03 * col["gaze_y"][:, 0], -0.6 * up, 0.6 * low)

    # Mouth: outer lip 48–59, inner lip 60–67, on a curve bent by the smile/frown and the smirk.
    curve, opening, asym = col["mouth_curve"], col["mouth_open"], col["mouth_asym"]
    half_width = 0.17 + 0.04 * np.clip(curve, 0, None)
    centre = 0.33

    def lip(u: np.ndarray, height: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bend = -0.09 * curve * u**2 - 0.08 * asym * u**2 * (1 - u) / 2
        return u * half_width, centre + bend + height * np.sqrt(np.clip(1 - u**2, 0, None))

    u_up = np.array([-1, -0.6, -0.3, 0, 0.3, 0.6, 1.0])
    u_low = np.array([0.6, 0.3, 0, -0.3, -0.6])
    x[:, 48:55], y[:, 48:55] = lip(u_up, -(0.035 + 0.02 * opening))
    x[:, 55:60], y[:, 55:60] = lip(u_low, 0.035 + 0.13 * opening)
    x[:, 60:65], y[:, 60:65] = lip(np.array([-0.8, -0.4, 0, 0.4, 0.8]), -(0.004 + 0.01 * opening))
    x[:, 65:68], y[:, 65:68] = lip(np.array([0.4, 0, -0.4]), 0.004 + 0.11 * opening)

    # Drawing-only outline: skull arc (image right → left over the top), hair cap.
    x[:, SKULL], y[:, SKULL], z[:, SKULL] = 0.5 * np.cos(_SKULL_ANGLES), -0.1 - 0.6 * np.sin(_SKULL_ANGLES), 0.0
    n_arc = len(_HAIR_ANGLES)
    hair_x = np.concatenate([0.5 * np.cos(_HAIR_ANGLES), _HAIRLINE_X])
    hair_y = np.concatenate([-0.1 - 0.6 * np.sin(_HAIR_ANGLES),
                             -0.45 + (-0.1 - 0.6 * math.sin(0.88 * math.pi) + 0.45) * (_HAIRLINE_X / _HAIR_END_X) ** 2])
    x[:, HAIR], y[:, HAIR] = hair_x, hair_y
    z[:, HAIR.start:HAIR.start + n_arc] = 0.0
    # The hairline follows the face surface but meets the outline (depth 0) at its ends.
    z[:, HAIR.start + n_arc:HAIR.stop] = _depth(_HAIRLINE_X, hair_y[n_arc:]) * (1 - (_HAIRLINE_X / _HAIR_END_X) ** 2)

    z = np.where(np.isnan(z), _depth(x, y), z)
    return np.stack([x, y, z], axis=-1)


def project(points: np.ndarray, expr: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    """Turn the head by its yaw/pitch/roll and place it: (F, M, 3) face frame → (F, M, 2) pixels.

    ``centre`` (F, 2) is the pixel position of the face-frame origin, ``width`` the frontal face width in px.
    """
    e = np.atleast_2d(expr)
    yaw = (YAW_MAX * e[:, P["head_yaw"]])[:, None]
    pitch = (PITCH_MAX * e[:, P["head_pitch"]])[:, None]
    roll = (ROLL_MAX * e[:, P["head_roll"]])[:, None]
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    x1 = x * np.cos(yaw) + z * np.sin(yaw)
    z1 = -x * np.sin(yaw) + z * np.cos(yaw)
    y1 = y * np.cos(pitch) + z1 * np.sin(pitch)
    xr = x1 * np.cos(roll) - y1 * np.sin(roll)
    yr = x1 * np.sin(roll) + y1 * np.cos(roll)
    return np.stack([xr, yr], axis=-1) * width + np.asarray(centre, dtype=np.float64)[:, None, :]


@dataclass(frozen=True)
class FaceStyle:
    """Colours of one cartoon face (drawn independently of its emotions, so they carry no label)."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    lips: tuple[int, int, int]
    iris: tuple[int, int, int]
    has_hair: bool


SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 205, 148),
    (250, 230, 90), (150, 210, 120), (140, 180, 235), (235, 160, 200),  # cartoon yellow, green, blue, pink
)


def random_style(rng: np.random.Generator) -> FaceStyle:
    """A face's colours: a skin tone (human or cartoon), hair, lips and iris."""
    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    hair = tuple(int(c) for c in rng.integers(10, 120, size=3))
    lips = tuple(int(c) for c in (np.array(skin) * np.array([0.75, 0.4, 0.4])).astype(int))
    iris = tuple(int(c) for c in rng.integers(20, 110, size=3))
    return FaceStyle(skin=skin, hair=hair, lips=lips, iris=iris, has_hair=bool(rng.random() < 0.8))


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(max(0, min(255, c * factor))) for c in colour)


def _pts(a: np.ndarray) -> list[tuple[float, float]]:
    return [(float(p[0]), float(p[1])) for p in a]


def draw_face(draw: ImageDraw.ImageDraw, pts: np.ndarray, width: float, style: FaceStyle) -> None:
    """Draw one face from its projected model points ``pts`` (N_MODEL, 2), already in drawing pixels.

    ``width`` is the face width in the same pixels; line widths and the pupil size follow it.
    """
    outline = _shade(style.skin, 0.55)
    line = max(1, round(0.025 * width))
    head = np.concatenate([pts[0:17], pts[SKULL]])
    draw.polygon(_pts(head), fill=style.skin, outline=outline, width=line)
    if style.has_hair:
        draw.polygon(_pts(pts[HAIR]), fill=style.hair)
    for brow in (pts[17:22], pts[22:27]):
        draw.line(_pts(brow), fill=style.hair, width=max(1, round(0.045 * width)), joint="curve")
    nose = _shade(style.skin, 0.7)
    draw.line(_pts(pts[27:31]), fill=nose, width=line)
    draw.line(_pts(pts[31:36]), fill=nose, width=line)
    for eye, pupil in ((pts[36:42], pts[68]), (pts[42:48], pts[69])):
        opening = float(np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])) / 2
        if opening < 0.02 * width:  # closed: a lid line
            draw.line(_pts(eye[[0, 1, 2, 3]]), fill=outline, width=line)
            continue
        draw.polygon(_pts(eye), fill=(250, 250, 250), outline=outline, width=line)
        r = min(0.045 * width, 0.45 * opening)
        draw.ellipse([pupil[0] - r, pupil[1] - r, pupil[0] + r, pupil[1] + r], fill=style.iris)
        r2 = 0.5 * r
        draw.ellipse([pupil[0] - r2, pupil[1] - r2, pupil[0] + r2, pupil[1] + r2], fill=(15, 15, 15))
    draw.polygon(_pts(pts[48:60]), fill=style.lips, outline=_shade(style.lips, 0.7))
    inner = pts[60:68]
    if float(np.linalg.norm(inner[2] - inner[6])) > 0.03 * width:
        draw.polygon(_pts(inner), fill=(60, 15, 25))
    else:
        draw.line(_pts(inner[0:5]), fill=(60, 15, 25), width=line)
