"""Inference backends: the same fitted pipeline, its networks run by onnxruntime.

:func:`with_backend` returns a copy of a fitted pipeline whose networks are
replaced by :class:`OnnxNetwork`: the network exported to ONNX
(:mod:`skasc.onnx`, convolutions with the pooling first) and run by
onnxruntime, in float32 (``"onnx"``) or with int8 convolutions (``"onnx-int8"``,
calibrated on recordings the caller gives). Everything else (front end, feature
scaling, SVM, product rule) is the pipeline's own, so ``predict``,
``predict_proba``, :func:`~skasc.timeline.predict_timeline` and
:func:`~skasc.evaluation.evaluate` work on the copy as on the pipeline.

``"torch"``, the fitted network itself, is the reference: the other backends
are measured against it (``benchmarks/inference.py``, results in
``benchmarks/RESULTS.md``). onnxruntime is the optional extra
``pip install 'skasc[onnx]'``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from ._warnings import warn
from .exceptions import InvalidParameterError, SkascValueError
from .fusion import RecordingFusion, SystemFusion

__all__ = ["BACKENDS", "OnnxNetwork", "with_backend", "network_sizes"]

#: The backends :func:`with_backend` knows, the reference first; ``"auto"`` picks one.
BACKENDS = ("torch", "onnx", "onnx-int8", "auto")


class OnnxNetwork:
    """A fitted skasc network run by onnxruntime, in place of the network.

    It answers what the pipeline asks of a network: :meth:`transform` (the
    pooled features, for the SVM head) and :meth:`predict_proba` (the softmax,
    for ``classifier="softmax"``), with the network's ``classes_``.

    Parameters
    ----------
    net : fitted AttCRNNClassifier or CNNBaselineClassifier
        The network to export (it is not changed).
    output : {"features", "probabilities"}
        What the graph computes: the pooled features or the softmax posteriors.
    calibration : ndarray of shape (n_segments, K, M, T) or None, default=None
        Segment features for int8 convolutions (:func:`skasc.onnx.quantize_int8`);
        None: float32.
    n_threads : int or None, default=None
        onnxruntime's intra-op threads (None: one per physical core).
    batch_size : int, default=32
        Segments per onnxruntime call (small batches keep the activations in
        cache: faster than large ones on a CPU).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_bytes_ : bytes
        The serialized ONNX graph.
    """

    def __init__(
        self,
        net: Any,
        *,
        output: str = "features",
        calibration: Any = None,
        n_threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        from .onnx import export_network

        if output not in ("features", "probabilities"):
            raise InvalidParameterError(
                f"'output' must be 'features' or 'probabilities'; got {output!r}."
            )
        self.output = output
        self.n_threads = n_threads
        self.batch_size = batch_size
        self.classes_ = np.asarray(net.classes_)
        model = export_network(
            net, softmax=output == "probabilities", output=output, calibration=calibration
        )
        self.model_bytes_ = model.SerializeToString()
        self._start()

    def _start(self) -> None:
        from .onnx import inference_session

        self._session = inference_session(self.model_bytes_, n_threads=self.n_threads)
        self._input = self._session.get_inputs()[0].name

    def __getstate__(self) -> dict:  # the session is rebuilt from the bytes
        return {k: v for k, v in self.__dict__.items() if k not in ("_session", "_input")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._start()

    def _run(self, X: Any) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 4 or X.shape[0] == 0:
            raise SkascValueError(
                "OnnxNetwork expects segments of shape (n_segments, K, M, T), "
                f"n_segments >= 1; got {X.shape}."
            )
        parts = [
            self._session.run(None, {self._input: X[i : i + self.batch_size]})[0]
            for i in range(0, X.shape[0], self.batch_size)
        ]
        out = np.concatenate(parts)
        if not np.all(np.isfinite(out)):
            raise SkascValueError(f"The ONNX network gives NaN or infinite {self.output}.")
        return out

    def transform(self, X: Any) -> np.ndarray:
        """Pooled features, shape (n_segments, embedding_size), float32."""
        if self.output != "features":
            raise AttributeError("This OnnxNetwork computes posteriors, not features.")
        return self._run(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax posteriors, shape (n_segments, n_classes), float32."""
        if self.output != "probabilities":
            raise AttributeError("This OnnxNetwork computes features, not posteriors.")
        return self._run(X)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per segment, shape (n_segments,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _segments(X: Any) -> np.ndarray:
    """Recordings' segment features stacked, (n_segments_total, ...)."""
    return np.concatenate(list(X))


def _swap(estimator: Any, X: Any, options: dict) -> Any:
    """A copy of ``estimator`` with its networks replaced; ``X``: its input for the
    int8 calibration (None for float32)."""
    if isinstance(estimator, Pipeline):
        new = copy.copy(estimator)
        new.steps = []
        for k, (name, step) in enumerate(estimator.steps):
            new.steps.append((name, _swap(step, X, options)))
            if X is not None and k < len(estimator.steps) - 1:
                X = step.transform(X)
        return new
    if isinstance(estimator, SystemFusion):
        new = copy.copy(estimator)
        new.estimators_ = [_swap(est, X, options) for est in estimator.estimators_]
        return new
    if isinstance(estimator, RecordingFusion):
        from .onnx import segment_model

        net, head = segment_model(estimator)  # an ExportError names what is not a net
        calibration = None if X is None else _segments(X)
        new = copy.copy(estimator)
        if not head:
            new.estimator_ = OnnxNetwork(
                net, output="probabilities", calibration=calibration, **options
            )
        else:
            new.estimator_ = copy.copy(estimator.estimator_)
            first = estimator.estimator_.steps[0][0]
            new.estimator_.steps = [
                (first, OnnxNetwork(net, output="features", calibration=calibration, **options)),
                *estimator.estimator_.steps[1:],
            ]
        return new
    return estimator


def with_backend(
    estimator: Any, backend: str = "onnx", *, calibration: Any = None, n_threads: int | None = None
) -> Any:
    """A copy of a fitted pipeline whose networks run on ``backend``.

    Parameters
    ----------
    estimator : fitted Pipeline
        A pipeline of :mod:`skasc.pipelines` (a ``FrontEnd`` then a
        :class:`~skasc.fusion.RecordingFusion` or :class:`~skasc.fusion.SystemFusion`),
        or a fitted ``RecordingFusion`` / ``SystemFusion`` on features.
    backend : {"torch", "onnx", "onnx-int8", "auto"}, default="onnx"
        ``"torch"``: ``estimator`` itself (the reference). ``"onnx"``: the networks
        in float32 on onnxruntime (posteriors within 1e-6 of torch's, 1.7-2.5x
        faster on a CPU: benchmarks/RESULTS.md). ``"onnx-int8"``: their convolutions
        in int8 (faster still, but not within the accuracy rule: not a default).
        ``"auto"``: ``"onnx"`` when the ``onnx`` extra is installed and every network
        exports, else ``estimator`` itself (a network that does not export says so in
        one warning).
    calibration : list of paths or waveforms, or None, default=None
        For ``"onnx-int8"`` only, and required there: recordings, as for
        ``estimator.predict`` (for example some training recordings), whose
        segments set the int8 activation ranges.
    n_threads : int or None, default=None
        onnxruntime's intra-op threads (None: one per physical core); not for
        ``"torch"`` (use ``torch.set_num_threads``).

    Returns
    -------
    estimator
        For ``"torch"`` the estimator itself; otherwise a copy sharing every
        fitted step but the networks. It predicts; it is not refitted or saved.

    Raises
    ------
    ValueError
        For an unknown backend, ``calibration`` missing for ``"onnx-int8"`` or given
        for another backend, or ``n_threads`` with ``"torch"``.
    ImportError
        Naming the extra, ``pip install 'skasc[onnx]'``, when onnx or
        onnxruntime is missing.
    skasc.onnx.ExportError
        Naming a segment model that is not a skasc network.

    Examples
    --------
    >>> from skasc.backend import with_backend      # doctest: +SKIP
    >>> fast = with_backend(pipe, "onnx")           # doctest: +SKIP
    >>> fast.predict(["a.wav", "b.wav"])            # doctest: +SKIP
    """
    if backend not in BACKENDS:
        raise InvalidParameterError(f"'backend' must be one of {list(BACKENDS)}; got {backend!r}.")
    if (calibration is None) == (backend == "onnx-int8"):
        raise InvalidParameterError(
            "backend='onnx-int8' needs 'calibration': a few recordings (paths or waveforms, "
            "e.g. some training recordings) whose segments set the int8 activation ranges."
            if calibration is None
            else f"'calibration' applies to backend='onnx-int8' only; got backend={backend!r}."
        )
    if backend == "auto":
        return _auto(estimator, n_threads)
    if backend == "torch":
        if n_threads is not None:
            raise InvalidParameterError(
                "'n_threads' applies to the onnx backends; for 'torch' call torch.set_num_threads."
            )
        return estimator
    from .onnx import _require

    _require("onnx")
    _require("onnxruntime")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator)
    return _swap(estimator, calibration, {"n_threads": n_threads})


def _auto(estimator: Any, n_threads: int | None) -> Any:
    """``with_backend(estimator, "onnx")`` where it can be, else ``estimator``."""
    import importlib.util

    from .onnx import ExportError

    if not all(
        importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")
    ) or not _has_torch_networks(estimator):
        return estimator
    try:
        return with_backend(estimator, "onnx", n_threads=n_threads)
    except ExportError as exc:
        warn(f"backend='auto' runs the networks with torch: {exc}", UserWarning)
        return estimator


def _has_torch_networks(estimator: Any) -> bool:
    """Whether the fusion estimators of ``estimator`` hold fitted skasc torch networks
    (not networks already on onnxruntime)."""
    from .nn.classifier import SegmentNetClassifier

    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    systems = final.estimators_ if isinstance(final, SystemFusion) else [final]
    for system in systems:
        fusion = system.steps[-1][1] if isinstance(system, Pipeline) else system
        inner = getattr(fusion, "estimator_", None)
        net = inner.steps[0][1] if isinstance(inner, Pipeline) else inner
        if not isinstance(net, SegmentNetClassifier):
            return False
    return True


def network_sizes(estimator: Any, *, n_calibration: int = 64) -> dict[str, dict[str, int]]:
    """Bytes of each system's network exported to ONNX, float32 and int8.

    The int8 graph is calibrated on ``n_calibration`` generated segments: its size
    does not depend on the calibration data (the ranges are two numbers per tensor).

    Parameters
    ----------
    estimator : fitted Pipeline, RecordingFusion or SystemFusion
    n_calibration : int, default=64

    Returns
    -------
    dict
        ``{system: {"fp32": bytes, "int8": bytes}}``; the system is ``"system"``,
        or the names of a :class:`~skasc.fusion.SystemFusion`'s systems.
    """
    from .onnx import export_network, segment_model

    final = estimator
    while isinstance(final, Pipeline):
        final = final.steps[-1][1]
    if isinstance(final, SystemFusion):
        systems = [(name, est) for (name, _), est in zip(final.estimators, final.estimators_)]
    else:
        systems = [("system", final)]
    sizes = {}
    for name, system in systems:
        while isinstance(system, Pipeline):
            system = system.steps[-1][1]
        if not isinstance(system, RecordingFusion):
            continue
        net, head = segment_model(system)
        module = net.module_
        rng = np.random.default_rng(0)
        segments = rng.normal(
            -40.0, 10.0, (n_calibration, module.n_channels, module.n_bands, module.n_frames)
        )
        softmax = not head
        output = "probabilities" if softmax else "features"
        sizes[name] = {
            "fp32": export_network(net, softmax, output).ByteSize(),
            "int8": export_network(net, softmax, output, calibration=segments).ByteSize(),
        }
    return sizes
