"""LSTM and HS-LSTM temporal modules: equivalences, tier wiring and what reaches the representation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kavan.models.attention import FacialSoftAttention
from kavan.models.hslstm import HSLSTM
from kavan.models.temporal import FrameLSTM

C, D, K2 = 6, 5, 4  # channels, hidden size, cells


def _cells(batch: int = 2, frames: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, K2, C, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("with_attention", [False, True])
def test_one_tier_one_segment_hslstm_equals_a_plain_lstm(with_attention):
    torch.manual_seed(0)
    attention = FacialSoftAttention(C, D, size=3) if with_attention else None
    lstm = FrameLSTM(C, D, attention)
    hs = HSLSTM(C, D, tiers=1, segments=1, node_length=8,
                attention=FacialSoftAttention(C, D, size=3) if with_attention else None)
    assert hs.coarse is None and len(hs.frame_tiers) == 1
    hs.frame_tiers[0].load_state_dict(lstm.cell.state_dict())
    if with_attention:
        hs.attention.load_state_dict(lstm.attention.state_dict())
    cells = _cells()
    plain, hier = lstm(cells), hs(cells)
    torch.testing.assert_close(hier.representation, plain.representation, rtol=0, atol=1e-6)
    if with_attention:
        torch.testing.assert_close(hier.attention, plain.attention, rtol=0, atol=1e-6)
        assert plain.attention.shape == (2, 8, K2)
    else:
        assert plain.attention is None and hier.attention is None


def test_frame_lstm_representation_is_the_final_hidden_state():
    torch.manual_seed(0)
    module = FrameLSTM(C, D)
    cells = _cells()
    reference = nn.LSTM(C, D, batch_first=True)
    reference.weight_ih_l0.data.copy_(module.cell.weight_ih)
    reference.weight_hh_l0.data.copy_(module.cell.weight_hh)
    reference.bias_ih_l0.data.copy_(module.cell.bias_ih)
    reference.bias_hh_l0.data.copy_(module.cell.bias_hh)
    _, (h, _) = reference(cells.mean(dim=2))  # no attention: global average pooling of each frame
    torch.testing.assert_close(module(cells).representation, h[0], rtol=0, atol=1e-6)


def test_two_tier_hslstm_matches_a_hand_wired_reference():
    """Tier 1 over stacked segment features; tier 2 one chained LSTM over frame ⊕ s¹_k; outputs at segment ends."""
    torch.manual_seed(0)
    hs = HSLSTM(C, D, tiers=2, segments=2, node_length=4)
    assert hs.coarse.input_size == 4 * C and hs.frame_tiers[0].input_size == C + D
    cells = _cells()
    pooled = cells.mean(dim=2)
    stacked = torch.stack([torch.cat([pooled[:, k * 4 + j] for j in range(4)], dim=1) for k in range(2)], dim=1)
    s1, _ = hs.coarse(stacked)

    tier2 = hs.frame_tiers[0]
    reference = nn.LSTM(C + D, D, batch_first=True)
    reference.weight_ih_l0.data.copy_(tier2.weight_ih)
    reference.weight_hh_l0.data.copy_(tier2.weight_hh)
    reference.bias_ih_l0.data.copy_(tier2.bias_ih)
    reference.bias_hh_l0.data.copy_(tier2.bias_hh)
    inputs = torch.cat([pooled, s1.repeat_interleave(4, dim=1)], dim=2)  # frame t gets s¹ of its own segment
    hidden, _ = reference(inputs)  # chained nodes = one LSTM run through both segments
    expected = torch.cat([hidden[:, 3], hidden[:, 7]], dim=1)  # s²_1 ⊕ s²_2

    out = hs(cells)
    assert out.representation.shape == (2, 2 * D)
    torch.testing.assert_close(out.representation, expected, rtol=0, atol=1e-6)


def test_changing_only_the_first_frame_changes_every_segment_output():
    torch.manual_seed(0)
    hs = HSLSTM(C, D, tiers=2, segments=2, node_length=4, attention=FacialSoftAttention(C, D, size=3))
    cells = _cells()
    changed = cells.clone()
    changed[:, 0] += 1.0
    before, after = hs(cells).representation, hs(changed).representation
    assert not torch.allclose(before[:, :D], after[:, :D])  # s²_1
    assert not torch.allclose(before[:, D:], after[:, D:])  # s²_2: the last segment still sees frame 1
    unchanged = cells.clone()
    unchanged[1, 0] += 1.0  # another GIF of the batch only
    torch.testing.assert_close(hs(unchanged).representation[0], before[0])


def test_only_the_last_tier_gets_attended_features():
    torch.manual_seed(0)
    attention = FacialSoftAttention(C, D, size=3, residual_init=0.0)
    hs = HSLSTM(C, D, tiers=3, segments=2, node_length=2, attention=attention)
    assert [cell.input_size for cell in hs.frame_tiers] == [C + D, C + 2 * D]  # tiers 2 and 3
    seen: dict[int, list[torch.Tensor]] = {0: [], 1: []}
    for index, cell in enumerate(hs.frame_tiers):
        cell.register_forward_hook(lambda mod, args, out, index=index: seen[index].append(args[0][:, :C]))
    cells = _cells(frames=4)
    out = hs(cells)
    pooled = cells.mean(dim=2)
    for t in range(4):
        torch.testing.assert_close(seen[0][t], pooled[:, t])  # tier 2: plain mean-pooled features
        attended = torch.einsum("bi,bic->bc", out.attention[:, t], cells[:, t])
        torch.testing.assert_close(seen[1][t], attended)  # tier 3: x̃_t with this tier's masks
    assert out.attention.shape == (2, 4, K2)


def test_hslstm_refuses_the_wrong_number_of_frames():
    hs = HSLSTM(C, D, tiers=2, segments=2, node_length=4)
    with pytest.raises(ValueError, match="2x4 frames"):
        hs(_cells(frames=6))
