"""The face localiser of the glimpse rows, beyond the paper: where a frame's face is, from that frame's features alone.

KAVAN's attention (Eq. 5) needs the LSTM's h_{t−1}, so its peak is known only while the temporal module runs. A
glimpse must be cut before that (and, for training on cached features, once per dataset), so the localiser is
Eq. 5 without the recurrent term, with its own weights, trained on the same keypoint heatmaps H_t:

    P_t = softmax(wᵀ tanh(W_x X_t))                 over the K² cells (Eqs. 5–6 with h_{t−1} left out)
    log ŝ_t = vᵀ Σ_i P_{t,i} X_{t,i} + b            the face's side as a share of the frame's longer edge

fitted by L = −Σ_i H_{t,i} log P_{t,i} + (log ŝ_t − log s_t)² over the frames whose keypoints give a face box
(kavan.models.glimpse.keypoint_box, side s_t). The cross-entropy, not the attention's squared error, because the
localiser only has to put its peak where H_t's is. Frames without keypoints are not in the fit; at prediction
the localiser needs no keypoints.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FaceLocaliser(nn.Module):
    """P_t over the K² cells and the face side ŝ_t, from one frame's cells X_t (B, K², C)."""

    def __init__(self, channels: int, size: int = 32):
        super().__init__()
        self.w_x = nn.Linear(channels, size, bias=False)  # W_x
        self.w = nn.Linear(size, 1, bias=False)  # w
        self.side = nn.Linear(channels, 1)  # v, b

    def forward(self, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log P_t (B, K²), log ŝ_t (B,)) for cells (B, K², C)."""
        log_p = torch.log_softmax(self.w(torch.tanh(self.w_x(cells))).squeeze(-1), dim=-1)
        pooled = torch.einsum("bi,bic->bc", log_p.exp(), cells)
        return log_p, self.side(pooled).squeeze(-1)

    def loss(self, cells: torch.Tensor, heatmaps: torch.Tensor, log_sides: torch.Tensor) -> torch.Tensor:
        """−Σ H log P + (log ŝ − log s)², averaged over the batch; heatmaps (B, K²) sum to 1."""
        log_p, log_side = self(cells)
        return (-(heatmaps * log_p).sum(dim=1) + (log_side - log_sides) ** 2).mean()


def fit_localiser(cells: torch.Tensor, heatmaps: torch.Tensor, log_sides: torch.Tensor, size: int = 32,
                  epochs: int = 30, batch_size: int = 256, lr: float = 1e-2, seed: int = 0) -> FaceLocaliser:
    """A localiser fitted to frames (N, K², C) with their heatmaps (N, K²) and log face sides (N,): Adam with a
    cosine schedule, seeded, on the CPU in seconds for the tens of thousands of frames of a SynthGIF set."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    localiser = FaceLocaliser(cells.shape[-1], size)
    # start the side at the frames' mean, so the first steps go to the map
    nn.init.zeros_(localiser.side.weight)
    nn.init.constant_(localiser.side.bias, float(log_sides.mean()) if len(log_sides) else math.log(0.25))
    optimiser = torch.optim.Adam(localiser.parameters(), lr=lr)
    steps = epochs * max(1, math.ceil(len(cells) / batch_size))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for _ in range(epochs):
        order = torch.randperm(len(cells), generator=generator)
        for start in range(0, len(cells), batch_size):
            index = order[start:start + batch_size]
            optimiser.zero_grad()
            localiser.loss(cells[index].float(), heatmaps[index], log_sides[index]).backward()
            optimiser.step()
            schedule.step()
    return localiser.eval().requires_grad_(False)
