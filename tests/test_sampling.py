import numpy as np
import pytest

from kavan.media.sampling import tsn_indices, tsn_segments


@pytest.mark.parametrize(
    ("n_frames", "t", "expected"),
    [
        (16, 8, [1, 3, 5, 7, 9, 11, 13, 15]),
        (48, 8, [3, 9, 15, 21, 27, 33, 39, 45]),
        (10, 8, [0, 1, 2, 4, 5, 6, 7, 9]),
        (8, 8, [0, 1, 2, 3, 4, 5, 6, 7]),
        (3, 8, [0, 0, 0, 1, 1, 1, 2, 2]),
        (2, 8, [0, 0, 0, 0, 1, 1, 1, 1]),
        (1, 8, [0] * 8),
        (204, 4, [25, 76, 127, 178]),
        (5, 1, [2]),
    ],
)
def test_eval_indices_are_segment_middles(n_frames, t, expected):
    assert tsn_indices(n_frames, t, train=False) == expected


def test_segments_tile_the_clip():
    for n in range(8, 60):
        segs = tsn_segments(n, 8)
        assert segs[0][0] == 0 and segs[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(segs, segs[1:]))
        assert all(stop > start for start, stop in segs)


def test_train_indices_are_seeded_and_stay_in_their_segment():
    a = tsn_indices(40, 8, train=True, generator=np.random.default_rng(7))
    b = tsn_indices(40, 8, train=True, generator=np.random.default_rng(7))
    assert a == b
    # n=40, t=8: segment k is [5k, 5k+5); with this seed the draws are pinned.
    assert a == [int(x) for x in a] and all(5 * k <= i < 5 * k + 5 for k, i in enumerate(a))
    rng = np.random.default_rng(0)
    draws = np.array([tsn_indices(40, 8, train=True, generator=rng) for _ in range(2000)])
    for k in range(8):
        # every frame of the segment is drawn, about equally often (uniform: 400 each)
        counts = np.bincount(draws[:, k] - 5 * k, minlength=5)
        assert counts.shape == (5,) and counts.min() > 300


def test_train_with_fewer_frames_than_segments_repeats_in_order():
    rng = np.random.default_rng(1)
    assert tsn_indices(3, 8, train=True, generator=rng) == [0, 0, 0, 1, 1, 1, 2, 2]


def test_train_needs_a_generator_and_bad_sizes_fail():
    with pytest.raises(ValueError):
        tsn_indices(10, 8, train=True)
    with pytest.raises(ValueError):
        tsn_indices(0, 8, train=False)
