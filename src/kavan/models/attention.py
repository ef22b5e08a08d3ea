"""Facial soft attention, paper Eqs. 5–6, with the residual link (docs/model.md, "Facial soft attention").

For frame t with feature block X_t (K² cells of C channels) and the LSTM's previous hidden state h_{t−1}:

    e_t = wᵀ tanh(W_h h_{t−1} + W_x X_t)                     (Eq. 5, one score per cell)
    M_t = softmax(e_t)                                        (Eq. 6, over the K² cells)
    x̃_t = Σ_i M_{t,i} X_{t,i} + α · mean_i X_{t,i}           (refined feature, residual link of weight α)

W_h is d×k, W_x is C×k and w has k entries, with no biases, as the equations have none (a bias on e_t would
cancel in the softmax anyway). α is a learnable scalar.
"""

from __future__ import annotations

import torch
from torch import nn


class FacialSoftAttention(nn.Module):
    """Attention mask M_t over the K² cells and the refined frame feature x̃_t.

    channels: C. hidden: d (the size of the h_{t−1} that drives the mask). size: k.
    residual_init: starting value of α; 1.0 opens the residual link fully, so the global context is kept while
    the keypoint loss sharpens the masks early in training, and the network may learn to close it.
    """

    def __init__(self, channels: int, hidden: int, size: int, residual_init: float = 1.0):
        super().__init__()
        self.w_h = nn.Linear(hidden, size, bias=False)  # W_h: d×k
        self.w_x = nn.Linear(channels, size, bias=False)  # W_x: C×k
        self.w = nn.Linear(size, 1, bias=False)  # w: k
        self.alpha = nn.Parameter(torch.tensor(float(residual_init)))  # α of the residual link

    def mask(self, h_prev: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """M_t (B, K²) from h_{t−1} (B, d) and X_t as cells (B, K², C); each row sums to 1."""
        # Eq. 5: e_t = wᵀ tanh(W_h h_{t−1} + W_x X_t), the h-term broadcast over the K² cells
        e = self.w(torch.tanh(self.w_h(h_prev).unsqueeze(1) + self.w_x(cells))).squeeze(-1)
        # Eq. 6: M_t = softmax(e_t) over the cells
        return torch.softmax(e, dim=-1)

    def refine(self, cells: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x̃_t (B, C) = Σ_i M_{t,i} X_{t,i} + α · mean_i X_{t,i}."""
        attended = torch.einsum("bi,bic->bc", mask, cells)
        return attended + self.alpha * cells.mean(dim=1)

    def forward(self, h_prev: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̃_t (B, C), M_t (B, K²)) for one frame."""
        mask = self.mask(h_prev, cells)
        return self.refine(cells, mask), mask
