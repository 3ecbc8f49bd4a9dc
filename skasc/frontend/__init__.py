"""The front end: recordings in, segment images out, in the order the data flows.

* :mod:`~skasc.frontend.audio`: reading, down-mixing and resampling (:class:`AudioLoader`);
* :mod:`~skasc.frontend.denoise`: the noise-subtracted second channel (:class:`MinStatsDenoiser`);
* :mod:`~skasc.frontend.segment`: 2-s segments, recording axis first (:class:`Segmenter`);
* :mod:`~skasc.frontend.features`: log-Mel and log-gammatone images
  (:class:`LogMelExtractor`, :class:`GammatoneExtractor`), both from one STFT for a
  fused system (:class:`FeatureStack`, :class:`FeatureTypeSelector`);
* :mod:`~skasc.frontend.front_end`: the four steps run one recording at a time, with
  a feature cache (:class:`FrontEnd`).

The signal processing they call (STFT, minimum statistics, gammatone filters) is the
pure-function layer :mod:`skasc.dsp`.
"""

from .audio import AUDIO_EXTENSIONS, AudioLoader, check_recordings, load_audio
from .denoise import MinStatsDenoiser
from .features import FeatureStack, FeatureTypeSelector, GammatoneExtractor, LogMelExtractor
from .front_end import FrontEnd
from .segment import Segmenter

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioLoader",
    "FeatureStack",
    "FeatureTypeSelector",
    "FrontEnd",
    "GammatoneExtractor",
    "LogMelExtractor",
    "MinStatsDenoiser",
    "Segmenter",
    "check_recordings",
    "load_audio",
]
