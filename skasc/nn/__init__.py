"""Neural networks of Phan et al. (2019) and their scikit-learn estimators.

Torch is imported here (and only here): ``import skasc`` stays light.

* :mod:`~skasc.nn.modules`: ``InputStandardization``, ``ConvBlock``, ``AttCRNN``,
  ``CNNBaseline``.
* :mod:`~skasc.nn.attention`: ``SpatioTemporalAttentionPooling`` (eqs. 4-9).
* :mod:`~skasc.nn.mixing`: between-class mixing (eqs. 10-11).
* :mod:`~skasc.nn.classifier`: skorch estimators ``AttCRNNClassifier``,
  ``CNNBaselineClassifier`` (KL loss, eq. 12).
"""

from .attention import SpatioTemporalAttentionPooling
from .classifier import AttCRNNClassifier, CNNBaselineClassifier, TrainingDivergedError
from .mixing import BetweenClassCollate, DeviceBatches, draw_partners, mix_between_class
from .modules import AttCRNN, CNNBaseline, ConvBlock, InputStandardization

__all__ = [
    "AttCRNN",
    "CNNBaseline",
    "ConvBlock",
    "InputStandardization",
    "SpatioTemporalAttentionPooling",
    "BetweenClassCollate",
    "DeviceBatches",
    "draw_partners",
    "mix_between_class",
    "AttCRNNClassifier",
    "CNNBaselineClassifier",
    "TrainingDivergedError",
]
