"""skasc: acoustic scene classification as scikit-learn estimators.

The attention CRNN of Phan et al., "Spatio-Temporal Attention Pooling for Audio
Scene Classification" (Interspeech 2019), as a chain of scikit-learn transformers
and skorch estimators::

    recordings -> AudioLoader -> MinStatsDenoiser -> Segmenter
               -> LogMelExtractor | GammatoneExtractor
               -> RecordingFusion(AttCRNNClassifier -> MinMaxScaler -> calibrated LinearSVC)

Public names are imported lazily, so ``import skasc`` does not import torch. Every
error skasc raises on purpose is a :class:`SkascError` (see :mod:`skasc.exceptions`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import exceptions as _exceptions

__version__ = "0.1.0"

_EXPORTS = {
    "load_audio": "skasc.frontend.audio",
    "AudioLoader": "skasc.frontend.audio",
    "check_recordings": "skasc.frontend.audio",
    "Segmenter": "skasc.frontend.segment",
    "MinStatsDenoiser": "skasc.frontend.denoise",
    "LogMelExtractor": "skasc.frontend.features",
    "GammatoneExtractor": "skasc.frontend.features",
    "FeatureStack": "skasc.frontend.features",
    "FeatureTypeSelector": "skasc.frontend.features",
    "FrontEnd": "skasc.frontend.front_end",
    "AttCRNNClassifier": "skasc.nn",
    "CNNBaselineClassifier": "skasc.nn",
    "RecordingFusion": "skasc.fusion",
    "SystemFusion": "skasc.fusion",
    "make_att_crnn_pipeline": "skasc.pipelines",
    "make_cnn_baseline_pipeline": "skasc.pipelines",
    "make_fused_pipeline": "skasc.pipelines",
    "make_feature_scaler": "skasc.pipelines",
    "load_litis_rouen": "skasc.datasets",
    "LitisSplits": "skasc.datasets",
    "make_scenes": "skasc.datasets",
    "write_litis_layout": "skasc.datasets",
    "make_litis_like": "skasc.datasets",
    "AudioDataset": "skasc.datasets",
    "OfficialSplits": "skasc.datasets",
    "load_dataset": "skasc.datasets",
    "DATASETS": "skasc.datasets",
    "load_esc50": "skasc.datasets",
    "load_esc10": "skasc.datasets",
    "load_urbansound8k": "skasc.datasets",
    "load_csv": "skasc.datasets",
    "load_dcase": "skasc.datasets",
    "evaluate": "skasc.evaluation",
    "EvaluationReport": "skasc.evaluation",
    "format_table": "skasc.evaluation",
    "fuse_reports": "skasc.evaluation",
    "reliability_curve": "skasc.evaluation",
    "run_protocol": "skasc.protocol",
    "read_protocol": "skasc.protocol",
    "compare_runs": "skasc.comparison",
    "Comparison": "skasc.comparison",
    "complexity": "skasc._complexity",
    "ComplexityReport": "skasc._complexity",
    "predict_timeline": "skasc.timeline",
    "SceneTimeline": "skasc.timeline",
    "segment_log_evidence": "skasc.fusion",
    "export_onnx": "skasc.onnx",
    "OnnxPredictor": "skasc.onnx",
    "with_backend": "skasc.backend",
    "BACKENDS": "skasc.backend",
    "ProtocolResult": "skasc.protocol",
    "save": "skasc.persistence",
    "load": "skasc.persistence",
}
# every error class (skasc.exceptions is small and imports nothing heavy)
_EXPORTS.update({name: "skasc.exceptions" for name in _exceptions.__all__})

if TYPE_CHECKING:  # what __getattr__ imports on first use, spelt out for type checkers
    from ._complexity import ComplexityReport, complexity
    from .backend import BACKENDS, with_backend
    from .comparison import Comparison, compare_runs
    from .datasets import (
        DATASETS,
        AudioDataset,
        LitisSplits,
        OfficialSplits,
        load_csv,
        load_dataset,
        load_dcase,
        load_esc10,
        load_esc50,
        load_litis_rouen,
        load_urbansound8k,
        make_litis_like,
        make_scenes,
        write_litis_layout,
    )
    from .evaluation import (
        EvaluationReport,
        evaluate,
        format_table,
        fuse_reports,
        reliability_curve,
    )
    from .exceptions import (
        AudioFileError,
        CheckpointError,
        CLIError,
        DatasetError,
        ExportError,
        InvalidParameterError,
        ModelFileError,
        SkascError,
        SkascTypeError,
        SkascValueError,
        TrainingDivergedError,
        UntrustedTypeError,
    )
    from .frontend.audio import AudioLoader, check_recordings, load_audio
    from .frontend.denoise import MinStatsDenoiser
    from .frontend.features import (
        FeatureStack,
        FeatureTypeSelector,
        GammatoneExtractor,
        LogMelExtractor,
    )
    from .frontend.front_end import FrontEnd
    from .frontend.segment import Segmenter
    from .fusion import RecordingFusion, SystemFusion, segment_log_evidence
    from .nn import AttCRNNClassifier, CNNBaselineClassifier
    from .onnx import OnnxPredictor, export_onnx
    from .persistence import load, save
    from .pipelines import (
        make_att_crnn_pipeline,
        make_cnn_baseline_pipeline,
        make_feature_scaler,
        make_fused_pipeline,
    )
    from .protocol import ProtocolResult, read_protocol, run_protocol
    from .timeline import SceneTimeline, predict_timeline

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skasc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
