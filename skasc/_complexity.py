"""Model complexity the way DCASE Task 1 reports it: parameters, MACs, model size.

:func:`complexity` takes a network module, a fitted segment classifier or a
fitted pipeline from :mod:`skasc.pipelines` and counts, per system:

* **parameters per part**: the network's ``conv`` block (convolutions and batch
  norms), ``gru``, ``projection`` (eq. 1), ``attention`` (the pooling's scoring
  layers), and either ``classifier`` (its softmax layer, for a network alone or a
  softmax head) or, for the SVM head that replaces it, the feature ``scaler`` and
  the calibrated ``svm`` (weights, intercepts and the sigmoids' two parameters
  per class, or temperature scaling's one); batch-norm running statistics and
  the input standardisation are buffers, not parameters, as DCASE counts them;
* **MACs** (multiply-accumulates) per 2-s segment, measured by
  ``torch.utils.flop_counter.FlopCounterMode`` on one segment (FLOPs / 2: the
  convolutions and matrix products; element-wise work such as activations,
  softmax and the attention mask's outer product is not counted, as in DCASE's
  counters), plus the SVM's (one dot product per class and calibrated model),
  and per second of audio (one segment per hop);
* **size** at fp32, fp16 and int8 (4, 2 and 1 bytes per parameter).

The counting is torch's; what is written here is the mapping of modules to
the parts above and the SVM's share, which no library knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import SkascTypeError, SkascValueError

__all__ = ["complexity", "ComplexityReport"]

_PARTS = {
    "conv": "conv",
    "rnn": "gru",
    "projection": "projection",
    "pooling": "attention",
    "classifier": "classifier",
}
_BYTES = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass
class ComplexityReport:
    """Complexity of one system (see the module docstring).

    Attributes
    ----------
    name : str
        The system (``"system"``, or ``"logmel"`` / ``"loggam"`` of a fused pipeline).
    parameters : dict of str to int
        Parameters per part.
    macs : dict of str to int
        Multiply-accumulates per 2-s segment per part.
    segment_duration : float
        Seconds of audio per segment.
    """

    name: str
    parameters: dict[str, int]
    macs: dict[str, int]
    segment_duration: float = 2.0
    input_shape: tuple = field(default=())

    @property
    def total_parameters(self) -> int:
        return int(sum(self.parameters.values()))

    @property
    def macs_per_segment(self) -> int:
        return int(sum(self.macs.values()))

    @property
    def macs_per_second(self) -> float:
        return self.macs_per_segment / self.segment_duration

    def size_bytes(self, precision: str = "fp32") -> int:
        """Model size at ``precision`` (``"fp32"``, ``"fp16"`` or ``"int8"``)."""
        if precision not in _BYTES:
            raise SkascValueError(f"precision must be one of {list(_BYTES)}; got {precision!r}.")
        return self.total_parameters * _BYTES[precision]

    def to_table(self) -> str:
        """Markdown table: parameters and MACs per part, totals, sizes."""
        lines = [
            f"System {self.name!r}, input {self.input_shape} per "
            f"{self.segment_duration:g}-s segment",
            "",
            "| part | parameters | MACs per segment |",
            "| --- | ---: | ---: |",
        ]
        for part in {**self.parameters, **self.macs}:  # a part may have MACs only ("other")
            lines.append(
                f"| {part} | {self.parameters.get(part, 0):,} | {self.macs.get(part, 0):,} |"
            )
        lines.append(
            f"| **total** | **{self.total_parameters:,}** | **{self.macs_per_segment:,}** |"
        )
        lines += [
            "",
            f"MACs per second of audio: {self.macs_per_second:,.0f}",
            "Model size: " + ", ".join(f"{p} {self.size_bytes(p) / 1e6:.2f} MB" for p in _BYTES),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_table()


def _network_counts(
    module: Any, input_shape: tuple, *, embed_only: bool = False
) -> tuple[dict, dict]:
    """Parameters and MACs of ``module``; ``embed_only``: up to the pooled features
    (an SVM head replaces the softmax layer, which is then left out)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    parameters, macs = {}, {}
    parts = {c: p for c, p in _PARTS.items() if not (embed_only and p == "classifier")}
    for child, part in parts.items():
        sub = getattr(module, child, None)
        if sub is not None:
            parameters[part] = int(sum(p.numel() for p in sub.parameters()))
    skipped = (
        sum(p.numel() for p in module.classifier.parameters())
        if embed_only and hasattr(module, "classifier")
        else 0
    )
    rest = int(sum(p.numel() for p in module.parameters())) - skipped - sum(parameters.values())
    if rest:
        parameters["other"] = rest

    class Counted(torch.nn.Module):
        """FlopCounterMode names a module by its path from the outermost module *called*;
        the SVM head runs the network's ``embed``, not its ``forward``, so the network
        is called through this wrapper, and its parts are named ``Counted.net.<child>``."""

        def __init__(self) -> None:
            super().__init__()
            self.net = module

        def forward(self, x: Any) -> Any:
            return self.net.embed(x) if embed_only else self.net(x)

    counted = Counted()
    was_training = module.training
    module.eval()
    try:
        device = next(module.parameters()).device
        x = torch.zeros((1,) + tuple(input_shape), device=device)
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            counted(x)
    finally:
        module.train(was_training)
    counts = counter.get_flop_counts()
    for child, part in parts.items():
        flops = sum(counts.get(f"{type(counted).__name__}.net.{child}", {}).values())
        if flops or part in parameters:
            macs[part] = int(flops // 2)
    total = sum(counter.get_flop_counts().get("Global", {}).values()) // 2
    if total - sum(macs.values()):
        macs["other"] = int(total - sum(macs.values()))
    return parameters, macs


def _svm_counts(head: Any) -> tuple[dict, dict]:
    """Parameters and MACs of a fitted scaler + CalibratedClassifierCV(LinearSVC) head."""
    parameters, macs = {}, {}
    steps = dict(head.named_steps) if hasattr(head, "named_steps") else {}
    scaler = steps.get("scaler")
    if scaler is not None and scaler != "passthrough":
        n = int(getattr(scaler, "n_features_in_", 0))
        parameters["scaler"] = 2 * n  # a scale and an offset per feature
        macs["scaler"] = n
    svm = steps.get("svm")
    if svm is not None:
        n_params = n_macs = 0
        for calibrated in svm.calibrated_classifiers_:
            est = calibrated.estimator
            coef = np.atleast_2d(est.coef_)
            n_params += coef.size + np.size(est.intercept_)
            n_macs += coef.size
            # Platt's a and b per class, or temperature scaling's one (inverse) temperature
            n_params += (1 if svm.method == "temperature" else 2) * len(calibrated.calibrators)
        parameters["svm"] = int(n_params)
        macs["svm"] = int(n_macs)
    return parameters, macs


def _systems(model: Any) -> list[tuple[str, Any]]:
    """(name, fitted RecordingFusion or segment model) of a fitted pipeline."""
    from .fusion import RecordingFusion, SystemFusion

    final = model
    while hasattr(final, "steps"):
        final = final.steps[-1][1]
    if isinstance(final, SystemFusion):
        names = [name for name, _ in final.estimators]
        return [(name, sys_.steps[-1][1]) for name, sys_ in zip(names, final.estimators_)]
    if isinstance(final, RecordingFusion):
        return [("system", final)]
    return [("system", model)]


def _one(name: str, model: Any, segment_duration: float) -> ComplexityReport:
    from .fusion import RecordingFusion
    from .nn.classifier import SegmentNetClassifier

    head = None
    if isinstance(model, RecordingFusion):
        model = model.estimator_
    if hasattr(model, "named_steps"):  # net -> scaler -> svm
        if "net" not in model.named_steps:
            raise SkascTypeError(
                "complexity expects a skasc network, a fitted segment classifier or a fitted "
                f"skasc pipeline; got a Pipeline of {list(model.named_steps)}."
            )
        head = model
        model = model.named_steps["net"]
    if isinstance(model, SegmentNetClassifier):
        module = model.module_
    else:
        module = model
    if not hasattr(module, "n_channels"):
        raise SkascTypeError(
            f"complexity expects a skasc network, a fitted segment classifier or "
            f"a fitted skasc pipeline; got {type(model).__name__}."
        )
    input_shape = (module.n_channels, module.n_bands, module.n_frames)
    parameters, macs = _network_counts(module, input_shape, embed_only=head is not None)
    if head is not None:
        svm_params, svm_macs = _svm_counts(head)
        parameters.update(svm_params)
        macs.update(svm_macs)
    return ComplexityReport(
        name=name,
        parameters=parameters,
        macs=macs,
        segment_duration=segment_duration,
        input_shape=input_shape,
    )


def complexity(
    model: Any, *, segment_duration: float | None = None
) -> ComplexityReport | dict[str, ComplexityReport]:
    """Parameters, MACs and size of a skasc model, per part (DCASE Task 1 style).

    Parameters
    ----------
    model : torch module, fitted segment classifier, or fitted pipeline
        An :class:`~skasc.nn.AttCRNN` / :class:`~skasc.nn.CNNBaseline`, a fitted
        :class:`~skasc.nn.AttCRNNClassifier`, or a fitted pipeline of
        :mod:`skasc.pipelines` (the SVM head is counted too).
    segment_duration : float, default=None
        Seconds of audio per segment (the hop between segments), for MACs per
        second; None reads the pipeline's ``Segmenter`` (2.0 s by default).

    Returns
    -------
    ComplexityReport, or dict of str to ComplexityReport
        A dict by system name for a fused pipeline.

    Examples
    --------
    >>> from skasc.nn import AttCRNN
    >>> report = complexity(AttCRNN(n_classes=19))
    >>> report.parameters["gru"], report.macs["gru"]
    (592896, 47185920)
    """
    if segment_duration is None:
        segment_duration = 2.0
        front = getattr(model, "named_steps", {}).get("frontend")
        segmenter = getattr(front, "segmenter", None)
        if segmenter is not None:  # a new segment every hop
            segment_duration = float(segmenter.hop_duration or segmenter.segment_duration)
    systems = [(n, _one(n, m, segment_duration)) for n, m in _systems(model)]
    return systems[0][1] if len(systems) == 1 else dict(systems)
