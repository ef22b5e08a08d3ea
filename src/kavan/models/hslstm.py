"""Hierarchical Segment LSTM (HS-LSTM, paper Sec. 3.2), in the project's reading of the paper's Fig. 3.

The T = S·n frames form S segments of n frames. With L tiers:

- Tier 1, the coarse tier (present when L ≥ 2): an LSTM taking one step per segment. Its input at step k is
  segment k's stacked frame features, the concatenation of its n mean-pooled frame features (n·C values); its
  hidden output at step k is the coarse segment representation s¹_k.
- Tiers l = 2..L, the frame-level tiers: S nodes, one per segment, sharing the tier's LSTM cell. Node k runs over
  segment k's n frames; its input at each step is the frame feature concatenated with s¹_k ⊕ … ⊕ s^{l−1}_k, the
  same segment's outputs of all earlier tiers. The nodes are chained: node k+1 starts from node k's final
  (h, c). Node k's output s^l_k is its final hidden state.
- Only the last tier sees attended features x̃_t, its own h_{t−1} driving the attention; the other tiers get
  the plain mean-pooled frame features.
- With L = 1 the single tier is a frame-level tier (there is no coarse tier): then S = 1 is exactly an LSTM
  over the T frames.

The GIF representation is the concatenation of the last tier's S segment outputs, S·d values.
docs/model.md ("Temporal modules") describes the same reading and counts its parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from kavan.models.attention import FacialSoftAttention
from kavan.models.temporal import TemporalOutput, frame_feature, stack_masks, with_extra


class HSLSTM(nn.Module):
    """HS-LSTM over cells (B, T, K², C) with T = segments · node_length."""

    def __init__(self, channels: int, hidden: int, tiers: int = 2, segments: int = 2, node_length: int = 4,
                 attention: FacialSoftAttention | None = None, extra: int = 0):
        super().__init__()
        self.hidden = hidden
        self.segments = segments
        self.node_length = node_length
        self.attention = attention  # used by the last tier only
        # Tier 1 (coarse): one step per segment over its n stacked pooled frame features.
        self.coarse = nn.LSTM(node_length * (channels + extra), hidden, batch_first=True) if tiers >= 2 else None
        # Tiers l = first..L (frame-level): input = frame feature ⊕ s¹_k ⊕ … ⊕ s^{l−1}_k.
        first = 2 if tiers >= 2 else 1
        self.frame_tiers = nn.ModuleList(
            nn.LSTMCell(channels + extra + (tier - 1) * hidden, hidden) for tier in range(first, tiers + 1)
        )

    @property
    def representation_size(self) -> int:
        return self.segments * self.hidden

    def forward(self, cells: torch.Tensor, extra: torch.Tensor | None = None) -> TemporalOutput:
        batch, frames = cells.shape[:2]
        if frames != self.segments * self.node_length:
            raise ValueError(f"HS-LSTM expects {self.segments}x{self.node_length} frames, got {frames}")
        pooled = cells.mean(dim=2)  # plain frame features mean_i X_{t,i}: (B, T, C)
        if extra is not None:
            pooled = torch.cat([pooled, extra], dim=2)  # ⊕ g_t (beyond the paper): (B, T, C + E)

        segment_outputs: list[torch.Tensor] = []  # per finished tier: (B, S, d), the s^l_k for k = 1..S
        if self.coarse is not None:
            stacked = pooled.reshape(batch, self.segments, -1)
            s1, _ = self.coarse(stacked)  # tier 1: s¹_k for every segment k
            segment_outputs.append(s1)

        masks: list[torch.Tensor] = []
        for index, cell in enumerate(self.frame_tiers):
            attention = self.attention if index == len(self.frame_tiers) - 1 else None
            h = c = cells.new_zeros(batch, self.hidden)  # node 1's initial state; later nodes are chained
            outputs = []
            for k in range(self.segments):  # node k of this tier
                earlier = [tier_output[:, k] for tier_output in segment_outputs]  # s¹_k … s^{l−1}_k
                for t in range(k * self.node_length, (k + 1) * self.node_length):
                    if attention is None:
                        x = pooled[:, t]
                    else:
                        x, mask = frame_feature(attention, h, cells[:, t])  # last tier: x̃_t from its h_{t−1}
                        x = with_extra(x, extra, t)
                        masks.append(mask)
                    h, c = cell(torch.cat([x, *earlier], dim=1), (h, c))
                outputs.append(h)  # s^l_k: the node's final hidden state
            segment_outputs.append(torch.stack(outputs, dim=1))

        representation = segment_outputs[-1].flatten(1)  # s^L_1 ⊕ … ⊕ s^L_S
        return TemporalOutput(representation=representation, attention=stack_masks(masks))
