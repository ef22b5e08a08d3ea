"""The base temporal module: one LSTM over the T frames (paper Sec. 3.1), and what all temporal modules share.

Input to every temporal module: the frame feature blocks as cells, (B, T, K², C). Each step takes the frame
feature x̃_t, either attended (facial soft attention, driven by this LSTM's own h_{t−1}) or, without attention,
the global average pool mean_i X_{t,i}. The LSTM is stepped with ``nn.LSTMCell`` because the attention needs
h_{t−1} before it can form the step's input. The GIF representation is the final hidden state h_T.

Beyond the paper, a temporal module may take a second per-frame input, ``extra`` (B, T, E): the face glimpses
(kavan.models.glimpse). It is appended to every tier's frame feature, so a step reads x̃_t ⊕ g_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from kavan.models.attention import FacialSoftAttention


@dataclass
class TemporalOutput:
    """representation: (B, R), the GIF representation. attention: (B, T, K²) masks M_t, or None without attention."""

    representation: torch.Tensor
    attention: torch.Tensor | None


def frame_feature(attention: FacialSoftAttention | None, h_prev: torch.Tensor,
                  cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """x̃_t (B, C) and M_t (B, K²) for one frame's cells (B, K², C); without attention x̃_t = mean_i X_{t,i}."""
    if attention is None:
        return cells.mean(dim=1), None
    return attention(h_prev, cells)


def with_extra(x: torch.Tensor, extra: torch.Tensor | None, t: int) -> torch.Tensor:
    """Frame t's feature x (B, C) with that frame's ``extra`` input appended, (B, C + E); x itself without one."""
    return x if extra is None else torch.cat([x, extra[:, t]], dim=1)


def stack_masks(masks: list[torch.Tensor]) -> torch.Tensor | None:
    """The per-step masks as one (B, T, K²) tensor, None when no step had attention."""
    return torch.stack(masks, dim=1) if masks else None


class FrameLSTM(nn.Module):
    """One LSTM over the frames; representation = final hidden state (size d)."""

    def __init__(self, channels: int, hidden: int, attention: FacialSoftAttention | None = None, extra: int = 0):
        super().__init__()
        self.hidden = hidden
        self.attention = attention
        self.cell = nn.LSTMCell(channels + extra, hidden)

    @property
    def representation_size(self) -> int:
        return self.hidden

    def forward(self, cells: torch.Tensor, extra: torch.Tensor | None = None) -> TemporalOutput:
        batch, frames = cells.shape[:2]
        h = c = cells.new_zeros(batch, self.hidden)
        masks = []
        for t in range(frames):
            x, mask = frame_feature(self.attention, h, cells[:, t])  # x̃_t from h_{t−1} (Eqs. 5–6)
            h, c = self.cell(with_extra(x, extra, t), (h, c))  # LSTM step (Eqs. 1–4)
            if mask is not None:
                masks.append(mask)
        return TemporalOutput(representation=h, attention=stack_masks(masks))
