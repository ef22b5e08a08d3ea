"""Build GIF files byte by byte for decoder tests.

Encoders (Pillow's included) choose frame rectangles, palettes and disposal methods themselves, so edge
cases with exact rectangles, local colour tables, transparency indices and disposal methods are written
here directly from the GIF89a specification (https://www.w3.org/Graphics/GIF/spec-gif89a.txt).

The image data is LZW-coded with literal codes only, and a clear code before the code table could grow
past the initial code width: valid for every decoder and simple enough to check by eye.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Frame:
    """One image block: palette indices (rows of ints) placed at (left, top) on the logical screen.

    `palette` is the local colour table (None: use the global one). `delay_cs` is the GIF delay in
    hundredths of a second. `gce=False` writes no Graphic Control Extension at all, so the frame has no
    delay, disposal or transparency of its own. `prefix` is written as-is before the frame's blocks
    (for blocks this builder does not make itself).
    """

    pixels: Sequence[Sequence[int]]
    left: int = 0
    top: int = 0
    palette: Sequence[Color] | None = None
    delay_cs: int = 10
    disposal: int = 0
    transparency: int | None = None
    gce: bool = True
    interlace: bool = False
    prefix: bytes = b""


def _table_bits(n_colors: int) -> int:
    """Bits of the smallest power-of-two colour table (2 to 256 entries) that holds n_colors."""
    bits = 1
    while (1 << bits) < n_colors:
        bits += 1
    if bits > 8:
        raise ValueError("a GIF colour table holds at most 256 colours")
    return bits


def _color_table(colors: Sequence[Color]) -> tuple[int, bytes]:
    bits = _table_bits(len(colors))
    padded = list(colors) + [(0, 0, 0)] * ((1 << bits) - len(colors))
    return bits, b"".join(bytes(c) for c in padded)


def _sub_blocks(data: bytes) -> bytes:
    """Data split into sub-blocks of at most 255 bytes, then the block terminator."""
    out = bytearray()
    for start in range(0, len(data), 255):
        chunk = data[start:start + 255]
        out += bytes([len(chunk)]) + chunk
    return bytes(out + b"\x00")


def lzw_literals(indices: Sequence[int], min_code_size: int) -> bytes:
    """LZW code stream of the given palette indices using literal codes only."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    width = min_code_size + 1
    per_clear = (1 << min_code_size) - 2  # literals after a clear before the table would widen the codes
    codes = [clear]
    for i, value in enumerate(indices):
        if i and i % per_clear == 0:
            codes.append(clear)
        if not 0 <= value < clear:
            raise ValueError(f"index {value} does not fit {min_code_size}-bit codes")
        codes.append(value)
    codes.append(end)
    bits = 0
    n_bits = 0
    out = bytearray()
    for code in codes:
        bits |= code << n_bits
        n_bits += width
        while n_bits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            n_bits -= 8
    if n_bits:
        out.append(bits & 0xFF)
    return bytes(out)


def graphic_control(delay_cs: int, disposal: int = 0, transparency: int | None = None) -> bytes:
    """A Graphic Control Extension block."""
    flags = (disposal & 7) << 2 | (transparency is not None)
    return b"\x21\xf9\x04" + struct.pack("<BHB", flags, delay_cs, transparency or 0) + b"\x00"


def _interlaced_rows(height: int) -> list[int]:
    """Row order of an interlaced GIF image: every 8th from 0, every 8th from 4, every 4th from 2, odd rows."""
    return [*range(0, height, 8), *range(4, height, 8), *range(2, height, 4), *range(1, height, 2)]


def _image_block(frame: Frame, global_bits: int | None) -> bytes:
    rows = np.asarray(frame.pixels, dtype=np.int64)
    if rows.ndim != 2:
        raise ValueError("frame pixels must be a 2-D grid of palette indices")
    height, width = rows.shape
    out = bytearray(frame.prefix)
    if frame.gce:
        out += graphic_control(frame.delay_cs, frame.disposal, frame.transparency)
    flags = 0x40 if frame.interlace else 0
    table = b""
    bits = global_bits
    if frame.palette is not None:
        bits, table = _color_table(frame.palette)
        flags |= 0x80 | (bits - 1)
    out += b"\x2c" + struct.pack("<HHHHB", frame.left, frame.top, width, height, flags) + table
    min_code_size = max(2, bits or 8)
    order = _interlaced_rows(height) if frame.interlace else range(height)
    indices = [int(v) for r in order for v in rows[r]]
    out += bytes([min_code_size]) + _sub_blocks(lzw_literals(indices, min_code_size))
    return bytes(out)


def gif_bytes(width: int, height: int, frames: Sequence[Frame], global_palette: Sequence[Color] | None = None,
              loop: int | None = None, loop_application: bytes = b"NETSCAPE2.0", background: int = 0,
              trailer: bool = True) -> bytes:
    """A complete GIF file: header, logical screen, optional global table and loop extension, frames,
    trailer (unless `trailer=False`)."""
    flags = 0
    table = b""
    global_bits = None
    if global_palette is not None:
        global_bits, table = _color_table(global_palette)
        flags = 0x80 | 0x70 | (global_bits - 1)
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, flags, background, 0) + table)
    if loop is not None:
        out += b"\x21\xff\x0b" + loop_application + b"\x03\x01" + struct.pack("<H", loop) + b"\x00"
    for frame in frames:
        out += _image_block(frame, global_bits)
    return bytes(out + (b"\x3b" if trailer else b""))
