"""The attention overlay GIF (aligned with its frames) and the emotion bar chart (bars coloured by quadrant)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import kavan
from helpers.predict_model import SYNTH_RECORD, rig_bright_attention
from kavan.core.emotions import EMOTION_QUADRANT, EMOTIONS, QUADRANTS
from kavan.core.errors import KavanError
from kavan.predict import ModelInfo, OverlayStyle, chart_png, overlay_gif, write_chart, write_overlay
from kavan.predict.pictures import QUADRANT_COLOURS, overlay_frames
from kavan.predict.result import make_prediction


@pytest.fixture(scope="module")
def rigged(tiny_model):
    predictor = kavan.load(tiny_model, device="cpu")
    rig_bright_attention(predictor)
    return predictor


def block_frame() -> np.ndarray:
    """120 x 200 black frame with a white block on cell (row 1, column 3) of a 4 x 4 grid, and a grey stripe."""
    frame = np.zeros((120, 200, 3), np.uint8)
    frame[30:60, 150:200] = 255
    return frame


def gif_frames(blob: bytes) -> tuple[list[np.ndarray], Image.Image]:
    image = Image.open(io.BytesIO(blob))
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")).astype(int))
    return frames, image


@pytest.mark.parametrize("max_side, scale", [(512, 1.0), (100, 0.5)])
def test_overlay_colours_the_attended_cell_and_nothing_far_from_it(rigged, max_side, scale):
    frame = block_frame()
    attention = rigged.attention(np.stack([frame] * 4))
    style = OverlayStyle(max_side=max_side)
    for blended in overlay_frames(attention, style):
        assert blended.shape == (round(120 * scale), round(200 * scale), 3)
        reference = np.asarray(Image.fromarray(frame).resize(blended.shape[1::-1], Image.Resampling.LANCZOS))
        change = np.abs(blended.astype(int) - reference.astype(int)).sum(axis=2)
        s = lambda v: round(v * scale)  # noqa: E731
        inside = change[s(30):s(60), s(150):s(200)]
        assert inside.mean() > 100  # the white block is coloured by the map's peak (dark red in jet)
        assert (change[s(90):, :s(100)] == 0).all()  # the transposed place, cell (3, 1) and around: untouched
        assert (change[:, :s(75)] == 0).all()        # the mirrored side: untouched
        row, col = np.unravel_index(np.argmax(change), change.shape)
        assert s(30) - 2 <= row < s(60) + 2 and s(150) <= col < s(200)


def test_overlay_gif_is_animated_and_each_frame_shows_its_own_attention(rigged, tmp_path):
    cells = [(1, 3), (2, 0), (0, 2), (3, 3)]  # the white block moves: frame k has it on cells[k]
    frames = np.zeros((4, 120, 200, 3), np.uint8)
    for frame, (row, col) in zip(frames, cells):
        frame[30 * row:30 * (row + 1), 50 * col:50 * (col + 1)] = 255
    attention = rigged.attention(frames)
    assert attention.frames_used == [0, 1, 2, 3]
    path = tmp_path / "sub" / "x.gif.overlay.gif"
    write_overlay(path, attention, OverlayStyle(frame_ms=300))
    got, image = gif_frames(path.read_bytes())
    assert image.is_animated and image.n_frames == 4 and image.info["loop"] == 0
    assert image.info["duration"] == 300 and image.size == (200, 120)
    for k, (shown, frame, want) in enumerate(zip(got, frames, overlay_frames(attention))):
        assert np.abs(shown - want.astype(int)).mean() < 6  # palette quantisation: colours move a little
        change = np.abs(shown - frame.astype(int)).sum(axis=2)
        for other, (row, col) in enumerate(cells):
            block = change[30 * row + 8:30 * (row + 1) - 8, 50 * col + 12:50 * (col + 1) - 12]
            if other == k:
                assert block.mean() > 100, (k, other)
            elif abs(row - cells[k][0]) > 1 or abs(col - cells[k][1]) > 1:
                assert block.mean() < 15, (k, other)  # far cells: at most palette noise
    assert not list(tmp_path.glob("sub/.*.tmp"))  # written through a temporary file, which is gone


def test_identical_overlay_frames_play_as_one(rigged):
    """The GIF encoder merges equal consecutive frames, keeping their total display time."""
    attention = rigged.attention(np.stack([block_frame()] * 4))
    _, image = gif_frames(overlay_gif(attention, OverlayStyle(frame_ms=300)))
    assert image.n_frames == 1 and image.info["duration"] == 1200


def test_overlay_style_is_checked():
    with pytest.raises(KavanError, match="alpha"):
        OverlayStyle(alpha=1.5)
    with pytest.raises(KavanError, match="frame_ms"):
        OverlayStyle(frame_ms=0)


def prediction_with(scores: dict[str, float], logits=None):
    values = np.array([scores.get(e, 0.0) for e in EMOTIONS], np.float32)
    return make_prediction("clip.gif", values, logits, [0, 1, 2, 3], ModelInfo("m.safetensors", SYNTH_RECORD, "cd"))


def colour_pixels(png: bytes, colour: str) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).sum(axis=2) <= 3).sum())


def test_chart_bars_take_their_quadrants_colour(tmp_path):
    """One emotion at 1.0, the rest at 0: its quadrant's colour fills a tall bar, the others only the legend."""
    counts = {}
    for emotion in ("sadness", "fear", "happiness", "relief"):
        png = chart_png(prediction_with({emotion: 1.0}))
        counts[emotion] = {q: colour_pixels(png, QUADRANT_COLOURS[q]) for q in QUADRANTS}
    for emotion, by_quadrant in counts.items():
        own = EMOTION_QUADRANT[emotion]
        assert by_quadrant[own] > 5000, (emotion, by_quadrant)
        assert all(n < 600 for q, n in by_quadrant.items() if q != own), (emotion, by_quadrant)
    assert {EMOTION_QUADRANT[e] for e in counts} == set(QUADRANTS)  # the four picked cover every quadrant


def bar_height(png: bytes, colour: str) -> int:
    """The tallest run of ``colour`` pixels in any one column: the bar's height in pixels."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).sum(axis=2) <= 3).sum(axis=0).max())


def test_chart_bar_height_follows_the_score(tmp_path):
    low = bar_height(chart_png(prediction_with({"sadness": 0.25})), QUADRANT_COLOURS["misery-sleep"])
    high = bar_height(chart_png(prediction_with({"sadness": 1.0})), QUADRANT_COLOURS["misery-sleep"])
    assert high == pytest.approx(4 * low, rel=0.05) and high > 200
    path = tmp_path / "c.png"
    write_chart(path, prediction_with({"sadness": 1.0}, logits=np.array([0.0, 0.0, 0.0, 3.0])))
    assert Image.open(path).size == (825, 462)
