"""The KAVAN network: backbone, facial soft attention, LSTM / HS-LSTM temporal module, output heads.

One module per part, each reading like its equations in the paper; ``KAVAN`` puts them together from a
``kavan.config.ModelConfig``. docs/model.md gives the equations as implemented, the parameter counts and the
defaults chosen; docs/architecture.md maps each equation to its module.

``storage`` writes and reads a trained model file; ``weights`` reads backbone weights (torchvision's or a local
file).

May import: kavan.core, kavan.assets, kavan.config (and nothing of data or training: a model is built without them).
"""

from kavan.models.attention import FacialSoftAttention
from kavan.models.backbone import Backbone, feature_shape
from kavan.models.heads import EmotionHeads
from kavan.models.hslstm import HSLSTM
from kavan.models.kavan import KAVAN, KavanOutput, parameter_counts, trainable_modules
from kavan.models.temporal import FrameLSTM, TemporalOutput

__all__ = [
    "KAVAN",
    "HSLSTM",
    "Backbone",
    "EmotionHeads",
    "FacialSoftAttention",
    "FrameLSTM",
    "KavanOutput",
    "TemporalOutput",
    "feature_shape",
    "parameter_counts",
    "trainable_modules",
]
