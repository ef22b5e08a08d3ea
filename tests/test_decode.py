"""Decoding: real GIFs against the folder's README table and Pillow, hand-made GIFs with exact pixels,
limits, damaged and unsupported files, videos written with PyAV, still images, memory."""

from __future__ import annotations

import io
import logging
import os
import struct
import tracemalloc
import warnings
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from helpers.gif_bytes import Frame, gif_bytes, graphic_control
from kavan.core.errors import KavanError
from kavan.media.decode import (
    DEFAULT_LIMITS,
    LimitError,
    Limits,
    MediaError,
    MediaInfo,
    _video_durations,
    iter_frames,
    pick_frames,
    probe,
    read_frames,
)

# The README of the real-gifs folder: file -> (frames, width, height). Checked below against Pillow and
# against PyAV's (ffmpeg's) GIF demuxer, two decoders independent of ours.
README_TABLE = {
    "a-bold-claim.gif": (48, 480, 480),
    "cool.gif": (53, 360, 390),
    "dis-good.gif": (16, 500, 281),
    "folgers-decaffeinated.gif": (204, 240, 180),
    "gob-magic.gif": (18, 500, 289),
    "help-me-help-you.gif": (41, 480, 270),
    "like-a-boss.gif": (18, 498, 226),
    "oopsy-daisy.gif": (18, 498, 498),
    "rainbow-vomit.gif": (2, 287, 276),
    "what-is-this.gif": (30, 540, 540),
}

R, G, B, K = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)
PALETTE = [R, G, B, K]
MATTE = (7, 8, 9)
LETTERS = {"r": R, "g": G, "b": B, "k": K, ".": MATTE}


def picture(*rows: str) -> np.ndarray:
    """Expected RGB frame from rows of letters: r g b k for the palette colours, '.' for the matte."""
    return np.array([[LETTERS[c] for c in row.split()] for row in rows], np.uint8)


def write(tmp_path: Path, data: bytes, name: str = "t.gif") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def all_frames(path: Path, matte=MATTE) -> np.ndarray:
    return np.stack([frame for _, frame in iter_frames(path, matte=matte)])


def over_matte(rgba: np.ndarray, matte) -> np.ndarray:
    """Reference alpha blend: RGB over an opaque matte, rounded to nearest."""
    rgba = rgba.astype(np.int32)
    alpha = rgba[..., 3:]
    return ((rgba[..., :3] * alpha + np.array(matte) * (255 - alpha) + 127) // 255).astype(np.uint8)


FULL_RED = [[0] * 4] * 4

# ----------------------------------------------------------------------------------------------------
# Real GIFs


def test_readme_table_covers_every_real_gif(real_gifs):
    assert sorted(p.name for p in real_gifs.glob("*.gif")) == sorted(README_TABLE)


@pytest.mark.parametrize("name", sorted(README_TABLE))
def test_real_gif_matches_readme_and_other_decoders(real_gifs, name):
    path = real_gifs / name
    n_frames, width, height = README_TABLE[name]
    info = probe(path)
    assert (info.format, info.n_frames, info.width, info.height) == ("gif", n_frames, width, height)
    assert len(info.durations_ms) == n_frames and all(d > 0 for d in info.durations_ms)
    with Image.open(path) as im:
        assert (im.n_frames, im.size) == (n_frames, (width, height))
        assert info.loop == im.info.get("loop")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert sum(1 for p in container.demux(stream) if p.size) == n_frames
        assert (stream.codec_context.width, stream.codec_context.height) == (width, height)


@pytest.mark.parametrize("name", sorted(README_TABLE))
def test_real_gif_frames_equal_pillow_where_pillow_is_right(real_gifs, name):
    """These files use only what Pillow composites like a browser (disposal 0/1, or 2 with full-size
    transparent frames), so both decoders must give the same pixels: checked on 8 frames spread over
    the file, first and last included."""
    path = real_gifs / name
    n_frames = README_TABLE[name][0]
    picked = sorted({round(k * (n_frames - 1) / 7) for k in range(8)})
    ours = read_frames(path, picked, matte=(255, 255, 255))
    with Image.open(path) as im:
        for index, frame in zip(picked, ours):
            im.seek(index)
            expected = over_matte(np.asarray(im.convert("RGBA")), (255, 255, 255))
            np.testing.assert_array_equal(frame, expected, err_msg=f"{name} frame {index}")


def test_like_a_boss_zero_delays_read_as_100_ms(real_gifs):
    path = real_gifs / "like-a-boss.gif"
    with Image.open(path) as im:  # the file really says 0
        assert im.info["duration"] == 0
    assert probe(path).durations_ms == [100] * 18


def test_rainbow_vomit_has_two_frames(real_gifs):
    path = real_gifs / "rainbow-vomit.gif"
    assert probe(path).n_frames == 2
    frames = read_frames(path, [0, 1])
    assert frames.shape == (2, 276, 287, 3)
    assert not np.array_equal(frames[0], frames[1])


def test_middle_frame_equals_iterating_to_it(real_gifs):
    path = real_gifs / "cool.gif"
    mid = 26
    iterated = next(frame for index, frame in iter_frames(path) if index == mid)
    np.testing.assert_array_equal(read_frames(path, [mid])[0], iterated)


def test_indices_any_order_and_repeated(real_gifs):
    path = real_gifs / "help-me-help-you.gif"
    frames = dict(iter_frames(path))
    asked = [30, 2, 30, 0, 40, 2]
    got = read_frames(path, asked)
    assert got.shape == (6, 270, 480, 3)
    for row, index in zip(got, asked):
        np.testing.assert_array_equal(row, frames[index])


# ----------------------------------------------------------------------------------------------------
# Hand-made GIFs: compositing with exact pixels


def test_gif_bytes_helper_round_trips_through_pillow(tmp_path):
    """The test helper itself writes valid GIFs: Pillow decodes the same indices back."""
    rng = np.random.default_rng(0)
    for n_colors in (2, 4, 16, 256):
        indices = rng.integers(0, n_colors, size=(7, 5))
        palette = [(i, i, i) for i in range(n_colors)]
        path = write(tmp_path, gif_bytes(5, 7, [Frame(indices.tolist(), palette=palette)]))
        with Image.open(path) as im:
            im.load()
            decoded = np.asarray(im.convert("RGB"))[..., 0]
        np.testing.assert_array_equal(decoded, indices)


def test_one_frame_gif(tmp_path):
    path = write(tmp_path, gif_bytes(2, 2, [Frame([[0, 1], [2, 3]], delay_cs=25)], PALETTE))
    info = probe(path)
    assert info == MediaInfo(str(path), "gif", 2, 2, 1, [250], None)
    np.testing.assert_array_equal(read_frames(path, [0], matte=MATTE)[0], picture("r g", "b k"))


def test_durations_browser_rule_and_loop(tmp_path):
    frames = [Frame([[0]], delay_cs=0), Frame([[0]], delay_cs=1), Frame([[0]], delay_cs=2),
              Frame([[0]], gce=False), Frame([[0]], delay_cs=7)]
    info = probe(write(tmp_path, gif_bytes(1, 1, frames, PALETTE, loop=0)))
    assert info.durations_ms == [100, 100, 20, 100, 70]  # 0 ms, 10 ms and "no GCE" show for 100 ms
    assert info.loop == 0


@pytest.mark.parametrize("loop, application, expected", [
    (None, b"NETSCAPE2.0", None), (0, b"NETSCAPE2.0", 0), (3, b"NETSCAPE2.0", 3), (5, b"ANIMEXTS1.0", 5),
])
def test_loop_count(tmp_path, loop, application, expected):
    data = gif_bytes(1, 1, [Frame([[0]]), Frame([[1]])], PALETTE, loop=loop, loop_application=application)
    assert probe(write(tmp_path, data)).loop == expected


def test_disposal_2_clears_to_transparent_not_background(tmp_path):
    """Background index 1 (green) must not be used: browsers clear the rectangle to transparent."""
    frames = [Frame(FULL_RED, disposal=1), Frame([[1, 1], [1, 1]], left=1, top=1, disposal=2),
              Frame([[2]], disposal=1)]
    got = all_frames(write(tmp_path, gif_bytes(4, 4, frames, PALETTE, background=1)))
    np.testing.assert_array_equal(got[1], picture("r r r r", "r g g r", "r g g r", "r r r r"))
    np.testing.assert_array_equal(got[2], picture("b r r r", "r . . r", "r . . r", "r r r r"))


def test_disposal_3_restores_previous_canvas(tmp_path):
    frames = [Frame(FULL_RED, disposal=1), Frame([[1, 1], [1, 1]], left=1, top=1, disposal=1),
              Frame([[2] * 3] * 3, left=1, top=1, disposal=3), Frame([[3]], disposal=1)]
    got = all_frames(write(tmp_path, gif_bytes(4, 4, frames, PALETTE)))
    np.testing.assert_array_equal(got[2], picture("r r r r", "r b b b", "r b b b", "r b b b"))
    np.testing.assert_array_equal(got[3], picture("k r r r", "r g g r", "r g g r", "r r r r"))


@pytest.mark.parametrize("disposal", [3, 4])
def test_disposal_3_on_first_frame_restores_empty_canvas(tmp_path, disposal):
    """Method 4 is read as 3, like Chrome and Firefox do."""
    frames = [Frame(FULL_RED, disposal=disposal), Frame([[1]])]
    got = all_frames(write(tmp_path, gif_bytes(4, 4, frames, PALETTE)))
    np.testing.assert_array_equal(got[0], picture(*["r r r r"] * 4))
    np.testing.assert_array_equal(got[1], picture("g . . .", ". . . .", ". . . .", ". . . ."))


def test_disposal_belongs_to_its_own_frame(tmp_path):
    """A frame without disposal does not inherit the previous frame's (Pillow carries it over)."""
    frames = [Frame(FULL_RED, disposal=1), Frame([[1, 1], [1, 1]], left=1, top=1, disposal=2),
              Frame([[2]], disposal=0), Frame([[3]], left=3, top=3, gce=False)]
    got = all_frames(write(tmp_path, gif_bytes(4, 4, frames, PALETTE)))
    np.testing.assert_array_equal(got[3], picture("b r r r", "r . . r", "r . . r", "r r r k"))


def test_transparent_partial_frame_over_previous_frame(tmp_path):
    frames = [Frame(FULL_RED), Frame([[1, 3], [3, 2]], left=1, top=1, transparency=3)]
    got = all_frames(write(tmp_path, gif_bytes(4, 4, frames, PALETTE)))
    np.testing.assert_array_equal(got[1], picture("r r r r", "r g r r", "r r b r", "r r r r"))


def test_partial_first_frame_leaves_the_rest_transparent(tmp_path):
    frames = [Frame([[1, 1], [1, 1]], left=1, top=1), Frame([[2]], left=3, top=0)]
    got = all_frames(write(tmp_path, gif_bytes(4, 3, frames, PALETTE)))
    np.testing.assert_array_equal(got[0], picture(". . . .", ". g g .", ". g g ."))
    np.testing.assert_array_equal(got[1], picture(". . . b", ". g g .", ". g g ."))


def test_transparency_stays_transparent_after_an_opaque_first_frame(tmp_path):
    """Pillow paints the transparent colour (black here) once the image became RGB; browsers do not."""
    frames = [Frame(FULL_RED, disposal=1), Frame([[1, 1], [1, 1]], left=1, top=1, disposal=2, transparency=3),
              Frame([[2]])]
    got = all_frames(write(tmp_path, gif_bytes(4, 4, frames, PALETTE)))
    np.testing.assert_array_equal(got[2], picture("b r r r", "r . . r", "r . . r", "r r r r"))


def test_matte_colour_and_default_white(tmp_path):
    path = write(tmp_path, gif_bytes(2, 1, [Frame([[1]], left=1)], PALETTE))
    np.testing.assert_array_equal(read_frames(path, [0])[0], [[(255, 255, 255), G]])
    np.testing.assert_array_equal(read_frames(path, [0], matte=(1, 2, 3))[0], [[(1, 2, 3), G]])
    with pytest.raises(ValueError, match="matte"):
        read_frames(path, [0], matte=(0, 0, 256))


def test_local_palette_per_frame(tmp_path):
    first = [(10, 20, 30), (40, 50, 60)]
    second = [(1, 1, 1), (200, 100, 50), (5, 6, 7), (8, 9, 10)]
    frames = [Frame([[0, 1], [1, 0]], palette=first), Frame([[1]], left=1, palette=second),
              Frame([[2]], top=1)]  # the third frame uses the global table again
    got = all_frames(write(tmp_path, gif_bytes(2, 2, frames, PALETTE)))
    np.testing.assert_array_equal(got[0], [[first[0], first[1]], [first[1], first[0]]])
    np.testing.assert_array_equal(got[1], [[first[0], second[1]], [first[1], first[0]]])
    np.testing.assert_array_equal(got[2], [[first[0], second[1]], [B, first[0]]])


def test_indices_past_the_table_and_frames_without_table_draw_nothing(tmp_path):
    """As Chrome does: entries past a 2-colour table are clear; a frame with no colour table is clear."""
    path = write(tmp_path, gif_bytes(3, 1, [Frame([[0, 1, 3]], palette=[R, G])]))
    np.testing.assert_array_equal(read_frames(path, [0], matte=MATTE)[0], picture("r g ."))
    path = write(tmp_path, gif_bytes(2, 1, [Frame([[0, 1]]), Frame([[1]], palette=[R, G])]))
    got = all_frames(path)
    np.testing.assert_array_equal(got[0], picture(". ."))
    np.testing.assert_array_equal(got[1], picture("g ."))


def test_interlaced_frame_rows_in_place(tmp_path):
    palette = [(10 * i, 0, 0) for i in range(16)]
    rows = [[i, i] for i in range(10)]
    path = write(tmp_path, gif_bytes(2, 10, [Frame(rows, interlace=True)], palette))
    np.testing.assert_array_equal(read_frames(path, [0])[0][:, 0, 0], [10 * i for i in range(10)])


def test_first_frame_larger_than_screen_grows_canvas_later_frames_clip(tmp_path):
    frames = [Frame([[0] * 3] * 3), Frame([[1, 2], [2, 2]], left=2, top=2)]
    path = write(tmp_path, gif_bytes(2, 2, frames, PALETTE))
    info = probe(path)
    assert (info.width, info.height) == (3, 3)
    np.testing.assert_array_equal(all_frames(path)[1], picture("r r r", "r r r", "r r g"))


def test_plain_text_extension_uses_up_the_graphic_control(tmp_path):
    plain_text = b"\x21\x01\x0c" + bytes(12) + b"\x02hi\x00"
    frame = Frame([[0]], gce=False, prefix=graphic_control(50) + plain_text)
    assert probe(write(tmp_path, gif_bytes(1, 1, [frame], PALETTE))).durations_ms == [100]


# ----------------------------------------------------------------------------------------------------
# Damaged, unsupported and over-limit files


def three_frames() -> bytes:
    return gif_bytes(4, 4, [Frame(FULL_RED), Frame([[1] * 4] * 4), Frame([[2] * 4] * 4)], PALETTE)


def test_truncated_gif_keeps_intact_frames_with_warning(tmp_path, caplog):
    data = three_frames()
    path = write(tmp_path, data[:-6])  # cuts into the last frame's image data
    with caplog.at_level(logging.WARNING, logger="kavan.media.gif"):
        info = probe(path)
    assert info.n_frames == 2 and len(info.durations_ms) == 2
    assert any("damaged after frame 1" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    frames = read_frames(path, [1, 0], matte=MATTE)
    np.testing.assert_array_equal(frames[0], picture(*["g g g g"] * 4))
    np.testing.assert_array_equal(frames[1], picture(*["r r r r"] * 4))
    with pytest.raises(MediaError, match="frame index 2 is out of range: the file has 2 frames"):
        read_frames(path, [2])


@pytest.mark.parametrize("chunk", [1, 2, 7, 256, 257])
def test_sub_block_chains_walked_across_read_chunks(real_gifs, tmp_path, monkeypatch, chunk):
    """Image data is read in chunks and walked by its length bytes; chains that straddle chunk edges (every
    edge, with 1-byte chunks) give the same frames and the same truncation handling as whole-file reads."""
    path = real_gifs / "rainbow-vomit.gif"
    whole = read_frames(path, [0, 1])
    cut = write(tmp_path, three_frames()[:-6])
    monkeypatch.setattr("kavan.media.gif._CHUNK", chunk)
    np.testing.assert_array_equal(read_frames(path, [0, 1]), whole)
    assert probe(path).n_frames == 2
    assert probe(cut).n_frames == 2
    np.testing.assert_array_equal(read_frames(cut, [1], matte=MATTE)[0], picture(*["g g g g"] * 4))


def test_missing_trailer_is_not_an_error(tmp_path, caplog):
    data = gif_bytes(1, 1, [Frame([[0]]), Frame([[1]])], PALETTE, trailer=False)
    with caplog.at_level(logging.WARNING, logger="kavan.media.gif"):
        assert probe(write(tmp_path, data)).n_frames == 2
    assert any("no trailer" in r.getMessage() for r in caplog.records)


def test_unknown_block_after_frames_keeps_them(tmp_path):
    frames = [Frame([[0]]), Frame([[1]]), Frame([[2]], prefix=b"\x99garbage")]
    path = write(tmp_path, gif_bytes(1, 1, frames, PALETTE))
    assert probe(path).n_frames == 2


@pytest.mark.parametrize("cut", [5, 13, 20])
def test_gif_truncated_before_first_frame_is_an_error(tmp_path, cut):
    path = write(tmp_path, three_frames()[:cut])
    with pytest.raises(MediaError, match="damaged GIF|not a GIF") as err:
        probe(path)
    assert str(path) in str(err.value)


def test_gif_without_frames_or_pixels_is_an_error(tmp_path):
    with pytest.raises(MediaError, match="no frames"):
        probe(write(tmp_path, gif_bytes(2, 2, [], PALETTE)))
    with pytest.raises(MediaError, match="empty canvas of 0x3 pixels"):
        probe(write(tmp_path, gif_bytes(0, 3, [Frame(np.zeros((3, 0), int))], PALETTE)))


def second_frame_offset(frame: Frame) -> int:
    """Byte offset of the second frame's image descriptor in gif_bytes(2, 2, [frame, frame], PALETTE)."""
    return len(gif_bytes(2, 2, [frame], PALETTE, trailer=False)) + len(graphic_control(frame.delay_cs))


def test_corrupt_image_data_is_an_error_naming_the_frame(tmp_path):
    frame = Frame([[0, 1], [2, 3]])
    start = second_frame_offset(frame) + 10  # past the 10-byte image descriptor
    data = gif_bytes(2, 2, [frame, frame], PALETTE)
    # LZW minimum code size 2, one sub-block holding the clear code then the end code: no pixels at all.
    path = write(tmp_path, data[:start] + b"\x02\x01\x2c\x00\x3b")
    assert probe(path).n_frames == 2
    assert read_frames(path, [0]).shape == (1, 2, 2, 3)
    with pytest.raises(MediaError, match="frame 1: corrupt image data"):
        read_frames(path, [1])


def test_huge_logical_screen_refused_before_decoding(tmp_path):
    """A 30-byte file declaring 65535 x 65535: refused from the header, nothing large allocated."""
    path = write(tmp_path, gif_bytes(65535, 65535, [Frame([[0]])], PALETTE))
    assert path.stat().st_size < 100
    tracemalloc.start()
    try:
        for call in (lambda: probe(path), lambda: read_frames(path, [0]), lambda: list(iter_frames(path))):
            with pytest.raises(MediaError, match="65535x65535 .* over the limit .*max_canvas_pixels"):
                call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_oversized_later_frame_rectangle_refused(tmp_path):
    frame = Frame([[0]])
    start = second_frame_offset(frame)
    data = bytearray(gif_bytes(2, 2, [frame, frame], PALETTE))
    assert data[start] == 0x2C
    data[start + 5:start + 9] = b"\xff\xff\xff\xff"  # the second frame declares a 65535 x 65535 rectangle
    with pytest.raises(MediaError, match="frame 1 rectangle of 65535x65535"):
        probe(write(tmp_path, bytes(data)))


def test_first_frame_growing_canvas_past_limit_refused(tmp_path):
    path = write(tmp_path, gif_bytes(4, 4, [Frame([[0] * 4] * 4, left=60, top=60)], PALETTE))
    with pytest.raises(MediaError, match="canvas .* 64x64 = 4096 pixels is over the limit of 1000"):
        probe(path, Limits(max_canvas_pixels=1000, max_frames=10, max_file_bytes=10_000))


def test_frame_limit_checked_while_scanning(tmp_path):
    path = write(tmp_path, gif_bytes(1, 1, [Frame([[0]])] * 20, PALETTE))
    assert probe(path, Limits(max_frames=20)).n_frames == 20
    with pytest.raises(MediaError, match="more than 19 frames"):
        probe(path, Limits(max_frames=19))
    with pytest.raises(MediaError, match="more than 19 frames"):
        read_frames(path, [19], Limits(max_frames=19))


def test_file_size_limit(tmp_path):
    path = write(tmp_path, three_frames())
    size = path.stat().st_size
    assert probe(path, Limits(max_file_bytes=size)).n_frames == 3
    with pytest.raises(MediaError, match=f"file of {size} bytes is over the limit of {size - 1} bytes"):
        probe(path, Limits(max_file_bytes=size - 1))


def test_default_limits_pass_1000_frames_of_500x500(tmp_path):
    frames = [Frame([[k % 4]], left=k % 500, top=k // 2) for k in range(1000)]
    info = probe(write(tmp_path, gif_bytes(500, 500, frames, PALETTE)))
    assert (info.n_frames, info.width, info.height) == (1000, 500, 500)
    assert DEFAULT_LIMITS.max_frames >= 1000 and DEFAULT_LIMITS.max_canvas_pixels >= 500 * 500


@pytest.mark.parametrize("bad", [dict(max_frames=0), dict(max_canvas_pixels=-1), dict(max_file_bytes=1.5)])
def test_limits_validated(bad):
    with pytest.raises(ValueError, match="positive int"):
        Limits(**bad)


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)), "unrecognised content"),
    (b"BM" + bytes(100), "unrecognised content"),
])
def test_bad_files_named_gif(tmp_path, content, reason):
    path = write(tmp_path, content, "bad.gif")
    for call in (probe, lambda p: read_frames(p, [0]), lambda p: next(iter_frames(p))):
        with pytest.raises(MediaError, match=reason) as err:
            call(path)
        assert isinstance(err.value, KavanError)
        assert str(err.value).startswith(f"{path}: ")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MediaError, match="file not found") as err:
        probe(tmp_path / "nope.gif")
    assert str(tmp_path / "nope.gif") in str(err.value)
    with pytest.raises(MediaError, match="not a regular file"):
        probe(tmp_path)


def test_a_broken_symbolic_link_is_named_as_one(tmp_path):
    link = tmp_path / "x.gif"
    link.symlink_to(tmp_path / "moved" / "x.gif")
    loop = tmp_path / "loop.gif"
    loop.symlink_to(loop)
    for path in (link, loop):
        for call in (probe, lambda p: read_frames(p, [0]), lambda p: next(iter_frames(p))):
            with pytest.raises(MediaError) as err:
                call(path)
            assert str(err.value) == f"{path}: a broken symbolic link (to {os.readlink(path)})"
    assert os.readlink(link) == str(tmp_path / "moved" / "x.gif")
    link.unlink()  # the link itself gone: a missing file again
    with pytest.raises(MediaError, match="file not found"):
        probe(link)


def test_bad_indices(tmp_path):
    path = write(tmp_path, three_frames())
    with pytest.raises(ValueError, match=">= 0"):
        read_frames(path, [0, -1])
    with pytest.raises(MediaError, match="frame index 3 is out of range: the file has 3 frames"):
        read_frames(path, [0, 3])
    assert read_frames(path, []).shape == (0, 4, 4, 3)


# ----------------------------------------------------------------------------------------------------
# Memory


def test_two_frames_of_a_1000_frame_gif_keep_one_canvas(tmp_path):
    """Reading the first and the last frame holds a few canvases, not the 1000 frames (30 MB)."""
    size = 100
    rows = (np.arange(size * size).reshape(size, size) % 4).tolist()
    header = gif_bytes(size, size, [], PALETTE, trailer=False)
    one = gif_bytes(size, size, [Frame(rows)], PALETTE, trailer=False)
    path = write(tmp_path, header + one[len(header):] * 1000 + b"\x3b")  # the same frame 1000 times
    assert probe(path).n_frames == 1000
    read_frames(path, [0])  # first use imports Pillow's GIF plugin: keep that out of the measurement
    canvas_bytes = size * size * 4
    tracemalloc.start()
    try:
        frames = read_frames(path, [0, 999])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frames.shape == (2, size, size, 3)
    np.testing.assert_array_equal(frames[0], frames[1])
    assert peak < 8 * canvas_bytes, peak


# ----------------------------------------------------------------------------------------------------
# Videos and still images


def write_video(path: Path, codec: str, n_frames: int, width: int, height: int, fps: int = 10) -> None:
    """Solid frames whose colour encodes the frame index: red = 20 * index."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(n_frames):
            image = np.full((height, width, 3), (20 * index, 255 - 20 * index, 128), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize("name, codec, fmt", [("clip.mp4", "libx264", "mp4"), ("clip.webm", "libvpx-vp9", "webm")])
def test_video_written_with_pyav(tmp_path, name, codec, fmt):
    path = tmp_path / name
    write_video(path, codec, n_frames=12, width=64, height=48, fps=10)
    info = probe(path)
    assert info == MediaInfo(str(path), fmt, 64, 48, 12, [100] * 12, None)
    assert sum(1 for _ in iter_frames(path)) == 12  # packets counted by probe = frames decoded
    frames = read_frames(path, [11, 0, 5])
    assert frames.shape == (3, 48, 64, 3)
    expected = np.array([[220, 35, 128], [0, 255, 128], [100, 155, 128]])
    np.testing.assert_allclose(frames.reshape(3, -1, 3).mean(axis=1), expected, atol=6)
    with pytest.raises(MediaError, match="frame index 12 is out of range: the file has 12 frames"):
        read_frames(path, [12])
    with pytest.raises(MediaError, match="more than 11 frames"):
        probe(path, Limits(max_frames=11))
    with pytest.raises(MediaError, match="64x48 = 3072 pixels is over the limit"):
        probe(path, Limits(max_canvas_pixels=3000))


def test_video_frame_times_from_timestamps(tmp_path):
    path = tmp_path / "fast.mp4"
    write_video(path, "libx264", n_frames=6, width=32, height=32, fps=30)
    durations = probe(path).durations_ms
    assert len(durations) == 6 and set(durations) <= {33, 34} and sum(durations) == 200


@pytest.mark.parametrize("packets, time_base, rate, expected", [
    # 90 kHz clock at 30 fps; the last packet has no duration, so it lasts as long as the one before
    ([(0, 0), (3000, 0), (6000, 0)], Fraction(1, 90000), Fraction(30), [33, 34, 34]),
    # the last packet's own duration ends the stream
    ([(0, 512), (512, 512)], Fraction(1, 12800), Fraction(25), [40, 40]),
    # one frame, no duration: one period of the average rate
    ([(7, 0)], Fraction(1, 1000), Fraction(10), [100]),
    # no timestamps at all: the average rate for every frame
    ([(0, 0), (0, 0)], None, Fraction(25), [40, 40]),
])
def test_video_durations_from_timestamps(packets, time_base, rate, expected):
    assert _video_durations(packets, time_base, rate) == expected


def test_truncated_video_is_an_error(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, "libx264", n_frames=12, width=64, height=48)
    cut = write(tmp_path, path.read_bytes()[:400], "cut.mp4")
    with pytest.raises(MediaError, match="cannot decode video") as err:
        probe(cut)
    assert str(err.value).startswith(f"{cut}: ")


def test_png_still_is_one_frame_with_alpha_over_matte(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [0, 0, 255, 0]], [[0, 255, 0, 128], [10, 20, 30, 255]]], np.uint8)
    path = tmp_path / "still.png"
    Image.fromarray(rgba, "RGBA").save(path)
    assert probe(path) == MediaInfo(str(path), "png", 2, 2, 1, [0], None)
    got = read_frames(path, [0, 0], matte=(100, 100, 100))
    # half-transparent green over grey 100: (255 * 128 + 100 * 127 + 127) // 255 = 178, (100 * 127 + 127) // 255 = 50
    expected = [[[255, 0, 0], [100, 100, 100]], [[50, 178, 50], [10, 20, 30]]]
    np.testing.assert_array_equal(got, [expected, expected])
    assert [i for i, _ in iter_frames(path)] == [0]


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares width x height RGB pixels (its image data is a stub)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side, reason", [
    (5000, "5000x5000 = 25000000 pixels is over the limit of 16777216 pixels"),  # refused by our limit
    (65535, "refused as a possible decompression bomb"),  # refused by Pillow's, reported as ours
])
def test_huge_png_refused_from_its_header(tmp_path, side, reason):
    path = write(tmp_path, png_header_only(side, side), "huge.png")
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no Pillow warning may escape either
            for call in (probe, lambda p: read_frames(p, [0])):
                with pytest.raises(MediaError, match=reason):
                    call(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_webp_still_lossless(tmp_path):
    rgb = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3) * 7
    path = tmp_path / "still.webp"
    Image.fromarray(rgb).save(path, lossless=True)
    assert probe(path).to_json() == {"path": str(path), "format": "webp", "width": 3, "height": 4,
                                     "n_frames": 1, "durations_ms": [0], "loop": None}
    np.testing.assert_array_equal(read_frames(path, [0])[0], rgb)


def test_jpeg_exif_orientation_applied(tmp_path):
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = (255, 255, 255)  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be turned 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    Image.fromarray(rgb).save(path, exif=exif, quality=95)
    info = probe(path)
    assert (info.format, info.width, info.height) == ("jpeg", 20, 40)
    frame = read_frames(path, [0])[0]
    assert frame.shape == (40, 20, 3)
    assert frame[:15].mean() > 240 and frame[25:].mean() < 15  # the white half is now on top


def test_animated_png_refused(tmp_path):
    path = tmp_path / "anim.png"
    frames = [Image.new("RGB", (4, 4), c) for c in (R, G)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(MediaError, match="animated PNG .2 frames. is not supported"):
        probe(path)


def test_damaged_png_is_an_error(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), R).save(buffer, "PNG")
    path = write(tmp_path, buffer.getvalue()[:60], "cut.png")
    with pytest.raises(MediaError) as err:
        read_frames(path, [0])
    assert str(err.value).startswith(f"{path}: ")


# ----------------------------------------------------------------------------------------------------
# The decoding-cost limit (canvas pixels x frames decoded)


def frame_bomb(width: int, height: int, n_frames: int) -> bytes:
    """A GIF declaring a width x height canvas with n 1 x 1 frames (9000 frames: 135 KB, whatever the canvas)."""
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + bytes([2, 2, 0x44, 1, 0])
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(6) + frame * n_frames + b";"


def test_frame_bomb_refused_by_its_decoding_work_before_any_pixel(tmp_path):
    """9000 1x1 frames on a 4000x4000 canvas pass the canvas and frame limits and weigh 135 KB, yet reaching TSN's
    last frame (8437 of 8 segments) composites 8438 canvases of 16 M pixels. Refused before a canvas exists."""
    path = write(tmp_path, frame_bomb(4000, 4000, 9000), "bomb.gif")
    assert path.stat().st_size < 140_000
    info = probe(path)  # describing it decodes nothing, so it is not refused
    assert (info.width, info.height, info.n_frames) == (4000, 4000, 9000)
    reason = ("decoding 8438 frames of 4000x4000 = 135008000000 composited pixels is over the limit of 16777216000 "
              "pixels (Limits.max_composited_pixels)")
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as err:
            read_frames(path, [1125, 8437])
        assert str(err.value) == f"{path}: {reason}"
        with pytest.raises(LimitError, match=r"decoding 9000 frames .*Limits\.max_composited_pixels"):
            next(iter_frames(path))
        with pytest.raises(LimitError, match=r"decoding 8438 frames"):
            next(pick_frames(path, [8437]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # a 4000 x 4000 canvas would be 64 MB
    assert read_frames(path, [2]).shape == (1, 4000, 4000, 3)  # a few frames of it are fine


def test_composited_limit_is_exact_and_judged_on_the_frames_the_file_has(tmp_path):
    path = write(tmp_path, three_frames())  # 3 frames of 4 x 4
    assert read_frames(path, [1], Limits(max_composited_pixels=32)).shape == (1, 4, 4, 3)
    with pytest.raises(LimitError, match=r"decoding 2 frames of 4x4 = 32 composited pixels is over the limit of 31"):
        read_frames(path, [1], Limits(max_composited_pixels=31))
    assert len(list(iter_frames(path, Limits(max_composited_pixels=48)))) == 3
    with pytest.raises(LimitError, match="decoding 3 frames"):
        next(iter_frames(path, Limits(max_composited_pixels=47)))
    # asking past the end of a short file: judged on its 3 frames (48), so the real error comes out
    with pytest.raises(MediaError, match="frame index 5 is out of range: the file has 3 frames"):
        read_frames(path, [5], Limits(max_composited_pixels=48))


def test_first_frame_growing_the_canvas_counts_at_the_grown_size(tmp_path):
    path = write(tmp_path, gif_bytes(2, 2, [Frame([[0] * 4] * 4, left=4, top=4)] * 2, PALETTE))  # canvas 8 x 8
    assert read_frames(path, [1], Limits(max_composited_pixels=128)).shape == (1, 8, 8, 3)
    with pytest.raises(LimitError, match="decoding 2 frames of 8x8 = 128"):
        read_frames(path, [1], Limits(max_composited_pixels=127))


def test_default_composited_limit_passes_every_real_gif(real_gifs):
    """Every shared real GIF decodes whole under the default, and (with a margin of over 1000x) its largest
    canvas with its most frames would too."""
    infos = [probe(path) for path in sorted(real_gifs.glob("*.gif"))]
    costs = [info.width * info.height * info.n_frames for info in infos]
    assert max(costs) == 480 * 480 * 48  # a-bold-claim.gif
    widest = max(info.width * info.height for info in infos)
    longest = max(info.n_frames for info in infos)
    assert (widest, longest) == (540 * 540, 204)
    assert widest * longest * 250 < DEFAULT_LIMITS.max_composited_pixels
    for info in infos:  # the check passes exactly at a file's own cost (judged before the first frame is drawn)
        cost = info.width * info.height * info.n_frames
        next(iter_frames(info.path, Limits(max_composited_pixels=cost)))
        with pytest.raises(LimitError):
            next(iter_frames(info.path, Limits(max_composited_pixels=cost - 1)))


def test_still_counts_as_one_frame_of_its_size(tmp_path):
    path = tmp_path / "still.png"
    Image.new("RGB", (64, 48), R).save(path)
    assert probe(path, Limits(max_composited_pixels=100)).width == 64  # probing decodes nothing
    assert read_frames(path, [0, 0], Limits(max_composited_pixels=64 * 48)).shape == (2, 48, 64, 3)
    with pytest.raises(LimitError, match=r"decoding 1 frame of 64x48 = 3072 composited pixels .*max_composited"):
        read_frames(path, [0], Limits(max_composited_pixels=64 * 48 - 1))


def test_png_declaring_4096_squared_in_2_kb_counts_its_pixels(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("1", (4096, 4096)).save(path)
    assert path.stat().st_size < 3000
    limits = Limits(max_composited_pixels=4096 * 4096 - 1)
    tracemalloc.start()
    try:
        with pytest.raises(LimitError, match="decoding 1 frame of 4096x4096 = 16777216"):
            read_frames(path, [0], limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_video_counts_frames_up_to_the_last_one_asked(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, "libx264", n_frames=12, width=64, height=48, fps=10)
    assert read_frames(path, [5], Limits(max_composited_pixels=64 * 48 * 6)).shape == (1, 48, 64, 3)
    with pytest.raises(LimitError, match="decoding 6 frames of 64x48 = 18432 composited pixels"):
        read_frames(path, [5], Limits(max_composited_pixels=64 * 48 * 6 - 1))
    with pytest.raises(LimitError, match="decoding 12 frames"):
        next(iter_frames(path, Limits(max_composited_pixels=64 * 48 * 12 - 1)))


def test_every_limit_refusal_is_a_limit_error(tmp_path):
    """LimitError (a MediaError) tells "over a limit" apart from "damaged", so a server can answer each its way."""
    path = write(tmp_path, three_frames())
    size = path.stat().st_size
    for limits, field in ((Limits(max_file_bytes=size - 1), "max_file_bytes"),
                          (Limits(max_canvas_pixels=15), "max_canvas_pixels"),
                          (Limits(max_frames=2), "max_frames"),
                          (Limits(max_composited_pixels=47), "max_composited_pixels")):
        with pytest.raises(LimitError, match=rf"\(Limits\.{field}\)") as err:
            list(iter_frames(path, limits))
        assert isinstance(err.value, MediaError)
    with pytest.raises(MediaError) as err:
        probe(write(tmp_path, three_frames()[:20], "cut.gif"))
    assert not isinstance(err.value, LimitError)
    with pytest.raises(LimitError, match="max_canvas_pixels"):
        probe(write(tmp_path, png_header_only(5000, 5000), "huge.png"))


def test_composited_limit_validated():
    with pytest.raises(ValueError, match="Limits.max_composited_pixels must be a positive int"):
        Limits(max_composited_pixels=0)


def test_pick_frames_yields_each_index_once_in_order(real_gifs):
    path = real_gifs / "cool.gif"
    picked = list(pick_frames(path, [30, 2, 30, 11]))
    assert [index for index, _ in picked] == [2, 11, 30]
    np.testing.assert_array_equal(np.stack([frame for _, frame in picked]), read_frames(path, [2, 11, 30]))
    assert list(pick_frames(path, [])) == []
    with pytest.raises(ValueError, match=">= 0"):
        pick_frames(path, [-1])
