"""GIF decoding that shows each frame as a web browser does.

Two parts:

- `GifReader` walks the GIF block structure (GIF89a spec, https://www.w3.org/Graphics/GIF/spec-gif89a.txt):
  logical screen, colour tables, Graphic Control Extensions, image descriptors, the NETSCAPE loop extension.
  It reads sizes before any pixel is decoded, so size and frame-count limits are enforced up front, and it
  can skip the image data entirely (for probing).
- `composite` keeps ONE RGBA canvas (plus the saved rectangle that disposal 3 needs), draws each frame's
  palette indices onto it and applies the frame's disposal afterwards, following Chrome's GIF reader
  (Skia `SkGifImageReader`): disposal 2 clears the frame rectangle to transparent, disposal 3 (and the
  non-standard 4) restores the canvas as it was before the frame, 5-7 keep; indices outside the colour
  table and frames without any colour table draw nothing; the canvas grows to hold the first frame.

Pillow's LZW decoder (C) turns each frame's compressed data into palette indices. Pillow's own
compositing is not used because it differs from browsers (see docs/decoding.md): it fills disposal 2
with the background colour, keeps a disposal method across frames that have none, paints the area
around a partial first frame with colour 0, and drops transparency once a frame made the image RGB.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

MIN_DELAY_MS = 10
"""Browsers show frames with a delay of at most this many ms for DEFAULT_DELAY_MS instead."""
DEFAULT_DELAY_MS = 100
"""Display time of a frame whose delay is 0, 10 ms or missing (Chrome, Firefox and Safari all do this)."""

_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_PLAIN_TEXT, _GRAPHIC_CONTROL, _APPLICATION = 0x01, 0xF9, 0xFF
_LOOP_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_CHUNK = 1 << 16


class GifError(Exception):
    """A GIF that cannot be read, or that is over a limit. The message is the reason, without the path."""


class _Damaged(Exception):
    """The block structure breaks off: the file ends inside a block, or an unknown block follows."""


@dataclass(frozen=True)
class GifImage:
    """One image block with the Graphic Control Extension that precedes it.

    `delay_ms` is as written in the file (0 when there is no GCE); `display_ms` applies the browser rule.
    `disposal` is normalised to 0-3 (4 means 3, as browsers read it; 5-7 mean "keep", like 0 and 1).
    `color_table` is the local table, else the global one, else None. `data` holds the LZW minimum code
    size byte and the raw data sub-blocks (with their length bytes and terminator), when read.
    """

    index: int
    left: int
    top: int
    width: int
    height: int
    delay_ms: int
    disposal: int
    transparency: int | None
    color_table: bytes | None
    interlace: bool
    data: bytes | None

    @property
    def display_ms(self) -> int:
        return DEFAULT_DELAY_MS if self.delay_ms <= MIN_DELAY_MS else self.delay_ms


class _GraphicControl(NamedTuple):
    """What a Graphic Control Extension says about the next image (defaults: no GCE)."""

    disposal: int = 0
    delay_ms: int = 0
    transparency: int | None = None


def _disposal(raw: int) -> int:
    if raw == 4:
        return 3
    return raw if raw <= 3 else 0


class GifReader:
    """Reads the GIF block structure from a binary stream positioned at the start of the file.

    The header is read and the declared logical screen checked against `max_canvas_pixels` on
    construction, before anything else. `images()` then yields the image blocks one at a time.
    `name` (the file's path) appears in logged warnings.
    `canvas_size` is the logical screen, grown to hold the first frame (as Chrome does);
    it is final once the first image has been yielded. `loop` is the NETSCAPE loop count seen so far
    (0 = forever, None = no loop extension: the animation plays once).
    """

    def __init__(self, fp: BinaryIO, max_canvas_pixels: int, max_frames: int, name: str = "<stream>"):
        self._fp = fp
        self._name = name
        self._max_canvas_pixels = max_canvas_pixels
        self._max_frames = max_frames
        header = fp.read(13)
        if len(header) < 13 or header[:6] not in (b"GIF87a", b"GIF89a"):
            raise GifError("not a GIF file (bad header)")
        width, height, flags = struct.unpack_from("<HHB", header, 6)
        self._check_canvas(width, height, "logical screen")
        self.screen_size = (width, height)
        self.canvas_size = (width, height)
        try:
            self._global_table = self._read_exact(3 << ((flags & 7) + 1)) if flags & 0x80 else None
        except _Damaged:
            raise GifError("damaged GIF: the file ends inside the global colour table") from None
        self.loop: int | None = None

    def _check_canvas(self, width: int, height: int, what: str) -> None:
        if width * height > self._max_canvas_pixels:
            raise GifError(f"{what} of {width}x{height} = {width * height} pixels is over the limit of "
                           f"{self._max_canvas_pixels} pixels (Limits.max_canvas_pixels)")

    def _read_exact(self, n: int) -> bytes:
        data = self._fp.read(n)
        if len(data) < n:
            raise _Damaged("the file ends inside a block")
        return data

    def _byte(self) -> int:
        return self._read_exact(1)[0]

    def _sub_blocks(self, keep: bool) -> bytes | None:
        """Read (keep=True: return with length bytes and terminator) or skip one chain of data sub-blocks.

        The chain is read in chunks of _CHUNK bytes and walked by its length bytes, then the stream is put back
        just after the terminator: one read per chunk instead of two per 255-byte sub-block (which made `probe`
        of the real GIFs take 1.8x as long; benchmarks/decode_speed.py).
        """
        parts = []
        offset = 0  # where the next length byte lies, from the start of the chunk being walked
        while True:
            chunk = self._fp.read(_CHUNK)
            length = len(chunk)
            if not length:
                raise _Damaged("the file ends inside a block")
            while offset < length:
                size = chunk[offset]
                if not size:
                    end = offset + 1
                    self._fp.seek(end - length, io.SEEK_CUR)
                    if not keep:
                        return None
                    parts.append(chunk[:end])
                    return b"".join(parts)
                offset += size + 1
            if keep:
                parts.append(chunk)
            offset -= length

    def images(self, with_data: bool) -> Iterator[GifImage]:
        """Yield the image blocks in file order; stops at the trailer.

        A file that ends inside a block, or carries an unknown block, is read up to its last complete
        frame with a logged warning (browsers show those frames); with no complete frame it is an error.
        Limits are errors wherever they are hit.
        """
        count = 0
        gce = _GraphicControl()
        while True:
            try:
                introducer = self._fp.read(1)
                if not introducer:
                    if count:
                        log.warning("%s: GIF has no trailer after frame %d; the file may be truncated",
                                    self._name, count - 1)
                    break
                if introducer[0] == _TRAILER:
                    break
                if introducer[0] == _EXTENSION:
                    gce = self._extension(gce)
                    continue
                if introducer[0] != _IMAGE:
                    raise _Damaged(f"unknown block 0x{introducer[0]:02x} at byte {self._fp.tell() - 1}")
                if count == self._max_frames:
                    raise GifError(f"more than {self._max_frames} frames (Limits.max_frames)")
                image = self._image(count, gce, with_data)
            except _Damaged as err:
                if count == 0:
                    raise GifError(f"damaged GIF: {err} before the first frame is complete") from None
                log.warning("%s: GIF is damaged after frame %d (%s); reading the %d intact frames",
                            self._name, count - 1, err, count)
                break
            count += 1
            gce = _GraphicControl()
            yield image
        if count == 0:
            raise GifError("GIF contains no frames")

    def _extension(self, gce: _GraphicControl) -> _GraphicControl:
        """Read one extension block; return the Graphic Control values for the next image."""
        label = self._byte()
        first = self._read_exact(self._byte())
        if label == _PLAIN_TEXT:  # a graphic block of its own (not drawn, like browsers): it uses up the GCE
            gce = _GraphicControl()
        elif label == _GRAPHIC_CONTROL and len(first) >= 4:
            flags, delay_cs, transparent = struct.unpack_from("<BHB", first)
            gce = _GraphicControl(_disposal((flags >> 2) & 7), delay_cs * 10, transparent if flags & 1 else None)
        elif label == _APPLICATION and first in _LOOP_APPLICATIONS:
            body = self._read_exact(self._byte())
            if not body:  # that was the terminator
                return gce
            if len(body) >= 3 and body[0] == 1 and self.loop is None:
                self.loop = struct.unpack_from("<H", body, 1)[0]
        if first:
            self._sub_blocks(keep=False)
        return gce

    def _image(self, index: int, gce: _GraphicControl, with_data: bool) -> GifImage:
        left, top, width, height, flags = struct.unpack("<HHHHB", self._read_exact(9))
        self._check_canvas(width, height, f"frame {index} rectangle")
        if index == 0:
            canvas = (max(self.screen_size[0], left + width), max(self.screen_size[1], top + height))
            self._check_canvas(*canvas, "canvas (logical screen grown to hold the first frame)")
            if not all(canvas):
                raise GifError(f"empty canvas of {canvas[0]}x{canvas[1]} pixels")
            self.canvas_size = canvas
        table = self._read_exact(3 << ((flags & 7) + 1)) if flags & 0x80 else self._global_table
        min_code_size = self._read_exact(1)
        data = self._sub_blocks(keep=with_data)
        return GifImage(index, left, top, width, height, gce.delay_ms, gce.disposal, gce.transparency, table,
                        bool(flags & 0x40), None if data is None else min_code_size + data)


def _palette_lut(table: bytes, transparency: int | None) -> np.ndarray:
    """(256,) lookup of RGBA pixels packed as uint32: table colours opaque; the transparent index and
    entries past the table clear, all four bytes 0 (so "clear" is the packed value 0)."""
    lut = np.zeros((256, 4), np.uint8)
    colors = np.frombuffer(table, np.uint8).reshape(-1, 3)[:256]
    lut[:len(colors), :3] = colors
    lut[:len(colors), 3] = 255
    if transparency is not None:
        lut[transparency] = 0
    return lut.view(np.uint32)[:, 0]


def decode_indices(image: GifImage) -> np.ndarray:
    """The frame's palette indices, (height, width) uint8, decoded by Pillow's LZW decoder.

    The frame is wrapped in a minimal one-frame GIF with no colour table, so Pillow returns the raw
    indices (mode "L") and does no compositing of its own.
    """
    assert image.data is not None, "image read without data"
    blob = (b"GIF89a" + struct.pack("<HHBBB", image.width, image.height, 0, 0, 0)
            + struct.pack("<BHHHHB", _IMAGE, 0, 0, image.width, image.height, 0x40 if image.interlace else 0)
            + image.data + bytes([_TRAILER]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # sizes are checked by GifReader
            with Image.open(io.BytesIO(blob), formats=["GIF"]) as im:
                im.load()
                return np.asarray(im)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise GifError(f"frame {image.index}: corrupt image data ({err})") from None


def composite(reader: GifReader) -> Iterator[np.ndarray]:
    """Yield the RGBA canvas (height, width, 4) after each frame is drawn, as a browser shows it.

    The SAME array is yielded every time and changed afterwards: copy or convert it before resuming.
    Pixels never drawn, cleared by disposal 2, or drawn with a clear index stay at alpha 0.
    """
    canvas: np.ndarray | None = None
    pixels: np.ndarray | None = None  # the canvas seen as one uint32 per RGBA pixel
    for image in reader.images(with_data=True):
        if canvas is None:
            width, height = reader.canvas_size
            canvas = np.zeros((height, width, 4), np.uint8)
            pixels = canvas.view(np.uint32)[..., 0]
        assert pixels is not None
        # The frame's rectangle clipped to the canvas (offsets are unsigned, so only the far edges clip).
        x1 = min(image.left + image.width, canvas.shape[1])
        y1 = min(image.top + image.height, canvas.shape[0])
        region = np.s_[image.top:y1, image.left:x1]
        saved = pixels[region].copy() if image.disposal == 3 else None
        if image.color_table is not None and x1 > image.left and y1 > image.top:
            lut = _palette_lut(image.color_table, image.transparency)
            drawn = lut[decode_indices(image)[:y1 - image.top, :x1 - image.left]]
            np.copyto(pixels[region], drawn, where=drawn != 0)
        yield canvas
        if image.disposal == 2:
            pixels[region] = 0
        elif saved is not None:
            pixels[region] = saved
