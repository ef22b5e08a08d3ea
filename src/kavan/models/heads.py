"""The output heads (paper Sec. 3.3): circumplex quadrant classification and emotion intensity regression.

Multi-task (the MTL rows):
    quadrant logits  z = W_c r + b_c                                  (4 circumplex quadrants)
    intensities      ŷ = sigmoid(W_r [r ⊕ softmax(z)] + b_r)         (17 emotions, in [0, 1])
The softmaxed quadrant prediction is the "prior knowledge" the paper feeds the regression branch; the
regression loss also trains the classifier through it.
Single-task: no classification head, ŷ = sigmoid(W_r r + b_r).

Dropout (rate ``dropout``) acts on the GIF representation r before both heads.
"""

from __future__ import annotations

import torch
from torch import nn

from kavan.core.emotions import EMOTIONS, QUADRANTS


class EmotionHeads(nn.Module):
    """GIF representation (B, R) → (intensities (B, 17), quadrant logits (B, 4) or None)."""

    def __init__(self, representation_size: int, multitask: bool = True, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        # Classification head: 4 circumplex quadrants (multi-task only).
        self.classifier = nn.Linear(representation_size, len(QUADRANTS)) if multitask else None
        # Regression head: 17 intensities, fed r ⊕ softmax(quadrant logits) when multi-task.
        prior = len(QUADRANTS) if multitask else 0
        self.regressor = nn.Linear(representation_size + prior, len(EMOTIONS))

    def forward(self, representation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        r = self.dropout(representation)
        if self.classifier is None:
            return torch.sigmoid(self.regressor(r)), None
        logits = self.classifier(r)
        intensities = torch.sigmoid(self.regressor(torch.cat([r, torch.softmax(logits, dim=1)], dim=1)))
        return intensities, logits
