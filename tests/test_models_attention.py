"""Facial soft attention (Eqs. 5–6 and the residual link) against hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kavan.models.attention import FacialSoftAttention


def _tiny_attention() -> FacialSoftAttention:
    """C = 2 channels, d = 2, k = 2, with weights small enough to follow by hand."""
    attention = FacialSoftAttention(channels=2, hidden=2, size=2, residual_init=0.5)
    with torch.no_grad():
        attention.w_h.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))  # (k, d)
        attention.w_x.weight.copy_(torch.tensor([[0.5, 0.0], [0.0, 1.0]]))  # (k, C)
        attention.w.weight.copy_(torch.tensor([[2.0, 1.0]]))  # (1, k)
    return attention


def test_mask_matches_hand_computation():
    attention = _tiny_attention()
    h_prev = torch.tensor([[0.2, -0.4]])
    cells = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 0.5]]])  # K² = 4 cells of C = 2

    # By hand: W_h h = (0.2, 0.4); W_x X_i = (0.5·x1, x2); e_i = 2·tanh(0.2 + 0.5·x1) + tanh(0.4 + x2).
    x = cells[0].numpy().astype(np.float64)
    e = 2 * np.tanh(0.2 + 0.5 * x[:, 0]) + np.tanh(0.4 + x[:, 1])
    expected = np.exp(e) / np.exp(e).sum()

    mask = attention.mask(h_prev, cells)
    np.testing.assert_allclose(mask[0].detach().numpy(), expected, rtol=1e-6)
    assert mask.sum().item() == pytest.approx(1.0)

    refined, returned_mask = attention(h_prev, cells)
    by_hand = (expected[:, None] * x).sum(axis=0) + 0.5 * x.mean(axis=0)
    np.testing.assert_allclose(refined[0].detach().numpy(), by_hand, rtol=1e-6)
    torch.testing.assert_close(returned_mask, mask)


def test_masks_sum_to_one_and_depend_on_the_previous_hidden_state():
    torch.manual_seed(0)
    attention = FacialSoftAttention(channels=16, hidden=8, size=4)
    cells = torch.randn(3, 49, 16)
    first = attention.mask(torch.zeros(3, 8), cells)
    second = attention.mask(torch.randn(3, 8), cells)
    torch.testing.assert_close(first.sum(dim=1), torch.ones(3))
    assert (first >= 0).all()
    assert not torch.allclose(first, second)


def test_one_hot_mask_with_zero_residual_gives_that_cells_feature():
    attention = FacialSoftAttention(channels=3, hidden=2, size=2, residual_init=0.0)
    cells = torch.randn(2, 4, 3)
    mask = torch.zeros(2, 4)
    mask[0, 2] = 1.0
    mask[1, 0] = 1.0
    refined = attention.refine(cells, mask)
    torch.testing.assert_close(refined[0], cells[0, 2])
    torch.testing.assert_close(refined[1], cells[1, 0])


def test_residual_link_adds_alpha_times_the_mean():
    attention = FacialSoftAttention(channels=3, hidden=2, size=2, residual_init=0.25)
    cells = torch.randn(1, 4, 3)
    uniform = torch.full((1, 4), 0.25)
    torch.testing.assert_close(attention.refine(cells, uniform), 1.25 * cells.mean(dim=1))


def test_alpha_is_learnable():
    attention = FacialSoftAttention(channels=3, hidden=2, size=2)
    refined, _ = attention(torch.zeros(1, 2), torch.randn(1, 4, 3))
    refined.sum().backward()
    assert attention.alpha.requires_grad and attention.alpha.grad is not None
    assert attention.alpha.grad.item() != 0.0
