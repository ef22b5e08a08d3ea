"""The glimpse rows' face localiser (kavan.models.localiser): fitted on heatmaps, it finds the face without them."""

import math

import torch

from kavan.models.localiser import FaceLocaliser, fit_localiser

K, C = 6, 8


def _frames(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise cells (n, K², C) in which the face cell's channel 0 is raised, and channel 1 is zero but at the
    face, where it carries the face's log side; with one-hot heatmaps on the face cell and the log sides."""
    g = torch.Generator().manual_seed(seed)
    cells = torch.randn(n, K * K, C, generator=g) * 0.5
    face = torch.randint(0, K * K, (n,), generator=g)
    log_sides = torch.empty(n).uniform_(math.log(0.1), math.log(0.4), generator=g)
    rows = torch.arange(n)
    cells[rows, face, 0] += 3.0
    cells[..., 1] = 0.0  # channel 1 is zero off the face
    cells[rows, face, 1] = log_sides * 4
    heatmaps = torch.nn.functional.one_hot(face, K * K).float()
    return cells, heatmaps, log_sides, face


def test_fitted_localiser_finds_the_face_and_its_size_on_new_frames():
    cells, heatmaps, log_sides, _ = _frames(2000, seed=0)
    localiser = fit_localiser(cells, heatmaps, log_sides, size=8, epochs=40, batch_size=128, lr=2e-2)
    test_cells, _, test_sides, face = _frames(500, seed=1)
    log_p, log_side = localiser(test_cells)
    assert (log_p.argmax(dim=1) == face).float().mean() >= 0.98
    assert torch.allclose(log_p.exp().sum(dim=1), torch.ones(500), atol=1e-5)
    # the side: within 15 % of the truth for nine frames in ten
    assert ((log_side - test_sides).abs() < math.log(1.15)).float().mean() >= 0.9


def test_fit_is_seeded_and_frozen():
    cells, heatmaps, log_sides, _ = _frames(300, seed=2)
    a = fit_localiser(cells, heatmaps, log_sides, size=4, epochs=2, seed=5)
    b = fit_localiser(cells, heatmaps, log_sides, size=4, epochs=2, seed=5)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert not any(p.requires_grad for p in a.parameters()) and not a.training


def test_an_unfitted_localiser_is_a_distribution_over_the_cells():
    log_p, log_side = FaceLocaliser(C, 4)(torch.randn(3, K * K, C))
    assert log_p.shape == (3, K * K) and log_side.shape == (3,)
    assert torch.allclose(log_p.exp().sum(dim=1), torch.ones(3), atol=1e-5)
