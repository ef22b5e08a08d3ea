"""A corpus of malformed media files for the fault-injection tests, built byte by byte (tests/helpers/gif_bytes.py).

Each case says what the decoder must make of it: ``error`` with a phrase the one-line reason must contain, or
``usable`` (damage a browser also tolerates: a missing trailer, a frame outside the canvas that grows it, frames
after the damage dropped). Every file is a few KB at most; the "huge" cases only declare their size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from helpers.gif_bytes import Frame, gif_bytes, graphic_control

PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
GOOD_FRAME = Frame([[0, 1, 2, 3]] * 4)


@dataclass(frozen=True)
class Case:
    """One malformed file: its name, bytes, and the expected verdict (``error`` + phrase, or ``usable``)."""

    name: str
    data: bytes
    expected: str  # "error" or "usable"
    reason: str = ""  # a phrase of the error message (case-insensitive)
    found_by: str = "probe"  # an error's stage: "probe" (headers and blocks) or "decode" (only decoding the pixels)

    @property
    def filename(self) -> str:
        return f"{self.name}.gif"


def good_gif(n_frames: int = 6) -> bytes:
    """A valid 4x4 GIF of ``n_frames`` frames."""
    return gif_bytes(4, 4, [GOOD_FRAME] * n_frames, PALETTE)


def _frame_start(k: int) -> int:
    """Byte offset where frame ``k``'s blocks (graphic control, then descriptor) start in good_gif()."""
    return len(gif_bytes(4, 4, [GOOD_FRAME] * k, PALETTE, trailer=False))


def _corrupt_lzw(k: int = 2, n_frames: int = 6) -> bytes:
    """good_gif() whose frame ``k`` holds a clear code and the end code only (no pixels); the frames after it
    are intact, so only decoding frame ``k`` finds the damage."""
    good = good_gif(n_frames)
    data = _frame_start(k) + len(graphic_control(GOOD_FRAME.delay_cs)) + 10  # past the 10-byte descriptor
    return good[:data] + b"\x02\x01\x2c\x00" + good[_frame_start(k + 1):]


def _lying_size() -> bytes:
    """A frame whose descriptor says 8x8 but whose data holds the 16 pixels of a 4x4 frame."""
    data = bytearray(good_gif(2))
    at = _frame_start(1) + len(graphic_control(GOOD_FRAME.delay_cs))
    assert data[at] == 0x2C
    data[at + 5:at + 9] = struct.pack("<HH", 8, 8)
    return bytes(data)


def _outside_canvas() -> bytes:
    """A 4x4 screen whose second frame sits at (6, 6), outside it: browsers grow the canvas to hold it."""
    return gif_bytes(4, 4, [GOOD_FRAME, Frame(GOOD_FRAME.pixels, left=6, top=6)], PALETTE)


def _many_frames(n: int = 10_001) -> bytes:
    """n 1x1 frames: over the default frame limit (10 000)."""
    return gif_bytes(1, 1, [Frame([[1]], gce=False)] * n, PALETTE)


def _composited_bomb(frames: int = 9_000, side: int = 4_000) -> bytes:
    """A side x side canvas with ``frames`` 1x1 frames: 135 KB that ask to composite side² pixels per frame."""
    return (b"GIF89a" + struct.pack("<HHBBB", side, side, 0x80, 0, 0) + bytes(6)
            + (b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + bytes([2, 2, 0x44, 1, 0])) * frames + b";")


def corpus() -> list[Case]:
    """Every malformed case, with its expected verdict."""
    good = good_gif()
    screen = len(gif_bytes(4, 4, [], PALETTE, trailer=False))
    return [
        Case("empty", b"", "error", "empty file"),
        Case("not-a-gif", b"this is plain text that someone saved as .gif\n" * 4, "error", "unrecognised content"),
        Case("header-only", good[:6], "error", "bad header"),
        Case("truncated-screen", good[:10], "error", "bad header"),
        Case("truncated-before-first-frame", good[:screen], "error", "no frames"),
        Case("truncated-in-first-frame", good[:_frame_start(0) + 20], "error", "before the first frame is complete"),
        Case("truncated-in-fourth-frame", good[:_frame_start(3) + 20], "usable"),
        Case("no-trailer", good[:-1], "usable"),
        Case("zero-frames", gif_bytes(4, 4, [], PALETTE), "error", "no frames"),
        Case("zero-size-canvas", gif_bytes(0, 3, [Frame([[], [], []])], PALETTE), "error", "empty canvas"),
        Case("frame-outside-canvas", _outside_canvas(), "usable"),
        Case("lying-frame-size", _lying_size(), "error", "frame 1: corrupt image data", "decode"),
        Case("corrupt-lzw", _corrupt_lzw(), "error", "frame 2: corrupt image data", "decode"),
        Case("huge-canvas", gif_bytes(65535, 65535, [Frame([[0]])], PALETTE), "error", "max_canvas_pixels"),
        Case("many-frames", _many_frames(), "error", "max_frames"),
        Case("composited-bomb", _composited_bomb(), "error", "max_composited_pixels", "decode"),
    ]
