import numpy as np

from kavan.media.overlay import blend_map, upsample_map


def test_upsampled_map_keeps_the_peak_in_the_same_cell():
    cells = np.zeros((7, 7), dtype=np.float32)
    cells[2, 5] = 1.0
    up = upsample_map(cells, 70, 140)  # cells of 10 rows x 20 columns
    row, col = np.unravel_index(np.argmax(up), up.shape)
    assert row // 10 == 2 and col // 20 == 5


def test_blend_leaves_pixels_where_the_map_is_zero_and_colours_the_peak():
    frame = np.full((70, 70, 3), 100, dtype=np.uint8)
    cells = np.zeros((7, 7), dtype=np.float32)
    cells[0, 0] = 1.0
    out = blend_map(frame, cells, alpha=0.5)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert (out[-20:, -20:] == 100).all()          # far from the peak: untouched
    assert not (out[2, 2] == 100).all()            # at the peak (cell 0 is pixels 0-9): coloured
    # jet at full strength is dark red (0.5, 0, 0); half-blended over grey 100 -> about (114, 50, 50)
    assert np.allclose(out[2, 2], [114, 50, 50], atol=1)


def test_uniform_map_colours_everything_equally():
    frame = np.zeros((14, 14, 3), dtype=np.uint8)
    out = blend_map(frame, np.full((7, 7), 1 / 49), alpha=0.5)
    assert (out == out[0, 0]).all()
