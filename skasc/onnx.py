"""ONNX export of a fitted pipeline, and a small onnxruntime predictor.

:func:`export_onnx` writes the *segment model* of a fitted pipeline (the network,
the feature scaling, the SVM and its Platt calibration, or the network's softmax)
as one ONNX graph: a batch of segment images ``(n_segments, K, M, T)`` goes in,
calibrated posteriors ``(n_segments, n_classes)`` come out. The network is
exported by ``torch.onnx`` and the scikit-learn steps by ``skl2onnx``; the two
graphs are joined with ``onnx.compose``. The front end's parameters, the classes
and the product rule's floor travel in the model's metadata as JSON: data, read
back by :class:`OnnxPredictor` into skasc's own front-end classes, never code.

:class:`OnnxPredictor` runs the graph with onnxruntime and adds what is not a
tensor computation: the front end (skasc's :class:`~skasc.frontend.FrontEnd`,
rebuilt from the metadata) and the product rule over each recording's segments.
A device that cannot run Python runs the graph alone on segment images.

Export needs the optional extra: ``pip install skasc[onnx]`` (onnx,
onnxruntime, skl2onnx). Only the glue is written here.

The network goes through the TorchScript-based exporter (``dynamo=False``), which
gives the same graph as the ``torch.export``-based one (docs/design.md: why).
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from ._paths import regular_file_problem
from .exceptions import ExportError, InvalidParameterError, ModelFileError, SkascValueError
from .frontend.audio import AudioLoader
from .frontend.denoise import MinStatsDenoiser
from .frontend.features import GammatoneExtractor, LogMelExtractor
from .frontend.front_end import FrontEnd
from .frontend.segment import Segmenter
from .fusion import RULES, RecordingFusion, fuse_log_posteriors

__all__ = ["export_onnx", "OnnxPredictor", "ExportError", "quantize_int8", "inference_session"]

#: Opset of the default ONNX domain the exported graph uses.
OPSET = 17

# The front-end classes the metadata may name, and the steps they fill.
_FRONTEND_CLASSES = {
    cls.__name__: cls
    for cls in (AudioLoader, MinStatsDenoiser, Segmenter, LogMelExtractor, GammatoneExtractor)
}
_FRONTEND_STEPS = ("loader", "denoiser", "segmenter", "extractor")
_METADATA_KEY = "skasc"


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"ONNX export and prediction need {module!r}: pip install 'skasc[onnx]' "
            "(onnx, onnxruntime, skl2onnx)."
        ) from exc


# --------------------------------------------------------------------------- #
# What is exported
# --------------------------------------------------------------------------- #
def _parts(estimator: Any) -> tuple[FrontEnd, RecordingFusion]:
    """The pipeline's FrontEnd and RecordingFusion, or an ExportError naming the step."""
    if not isinstance(estimator, Pipeline):
        raise ExportError(
            f"export_onnx needs a fitted Pipeline (FrontEnd, RecordingFusion); got "
            f"{type(estimator).__name__}."
        )
    names = [name for name, _ in estimator.steps]
    if len(estimator.steps) != 2 or not isinstance(estimator.steps[0][1], FrontEnd):
        raise ExportError(
            f"export_onnx needs a Pipeline of a FrontEnd and a RecordingFusion; this one "
            f"has steps {names}."
        )
    name, fusion = estimator.steps[1]
    if not isinstance(fusion, RecordingFusion):
        hint = (
            " Export each system's pipeline on its own and multiply the systems' "
            "recording posteriors with skasc.fusion.fuse_systems (what SystemFusion "
            "computes)."
            if type(fusion).__name__ == "SystemFusion"
            else ""
        )
        raise ExportError(
            f"Step {name!r} ({type(fusion).__name__}) cannot be exported: only a "
            f"RecordingFusion is.{hint}"
        )
    if not hasattr(fusion, "estimator_"):
        raise ExportError(f"Step {name!r} is not fitted; fit the pipeline first.")
    return estimator.steps[0][1], fusion


def _frontend_metadata(frontend: FrontEnd) -> dict:
    """``{step: {"class": name, "params": {...}}}`` of the front end (JSON scalars)."""
    out: dict = {}
    for step, value in frontend.resolved_steps().items():
        if value is None:  # denoiser="drop"
            out[step] = "drop"
            continue
        if _FRONTEND_CLASSES.get(type(value).__name__) is not type(value):
            raise ExportError(
                f"Step frontend.{step} ({type(value).__name__}) cannot be exported: the "
                f"predictor rebuilds only {sorted(_FRONTEND_CLASSES)}."
            )
        params = value.get_params(deep=False)
        params.pop("n_jobs", None)
        if not _scalars(params):
            raise ExportError(
                f"Step frontend.{step} has parameters that are not plain "
                f"numbers or strings: {params}."
            )
        out[step] = {"class": type(value).__name__, "params": params}
    return out


def segment_model(fusion: RecordingFusion) -> tuple[Any, list[tuple[str, Any]]]:
    """The fitted net and the fitted scikit-learn steps after it (possibly none)."""
    from .nn.classifier import SegmentNetClassifier

    model = fusion.estimator_
    if isinstance(model, SegmentNetClassifier):
        return model, []
    if isinstance(model, Pipeline) and isinstance(model.steps[0][1], SegmentNetClassifier):
        rest = [
            (n, s)
            for n, s in model.steps[1:]
            if not (isinstance(s, str) and s == "passthrough") and s is not None
        ]
        if not rest or not hasattr(rest[-1][1], "predict_proba"):
            raise ExportError(
                "Step fusion.estimator_ must end in a classifier with "
                "predict_proba after the network."
            )
        return model.steps[0][1], rest
    raise ExportError(
        f"Step fusion.estimator_ ({type(model).__name__}) cannot be exported: expected "
        "a skasc network (AttCRNNClassifier, CNNBaselineClassifier) or a Pipeline that "
        "starts with one."
    )


def _net_graph(net: Any, softmax: bool) -> Any:
    """The torch module to export, on the CPU in eval mode: pooled features
    (``module.embed``) or softmax posteriors, its convolutional block (if a
    ``ConvBlock``) with the pooling first (the same function,
    :class:`~skasc.nn.inference.PooledConvBlock`)."""
    import torch

    from .nn.inference import PooledConvBlock

    class Wrapped(torch.nn.Module):
        def __init__(self, module: Any) -> None:  # AttCRNN or CNNBaseline
            super().__init__()
            self.module = module

        def forward(self, segments: torch.Tensor) -> torch.Tensor:
            if softmax:
                return torch.softmax(self.module(segments), dim=1)
            return self.module.embed(segments)

    module = copy.deepcopy(net.module_).to("cpu").float().eval()
    pooled = PooledConvBlock.from_block(getattr(module, "conv", None))
    if pooled is not None:
        module.conv = pooled
    return Wrapped(module).eval()


def export_network(net: Any, softmax: bool, output: str, calibration: Any = None) -> Any:
    """The network as an ONNX model, int8 if ``calibration`` segments are given."""
    import torch

    onnx = _require("onnx")
    wrapped = _net_graph(net, softmax)
    m = wrapped.module
    example = torch.zeros(2, m.n_channels, m.n_bands, m.n_frames)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the legacy exporter's deprecation notice and tracer notes about the
        # module's shape checks (shapes are fixed but the batch axis)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (example,),
            buffer,  # type: ignore[arg-type]  # a file object, which torch writes to
            input_names=["segments"],
            output_names=[output],
            opset_version=OPSET,
            dynamo=False,
            dynamic_axes={"segments": {0: "n_segments"}, output: {0: "n_segments"}},
        )
    model = onnx.load_from_string(buffer.getvalue())
    return model if calibration is None else quantize_int8(model, calibration)


def quantize_int8(model: Any, calibration: np.ndarray, *, batch_size: int = 32) -> Any:
    """Static int8 quantization of a network graph (onnxruntime's tools).

    Convolutions get int8 weights per output channel and uint8 activations whose
    ranges are the minimum and maximum seen on ``calibration`` (QDQ format); the
    max-pooling after them runs on the quantized values. The first convolution,
    which reads the log-scaled features themselves (a range of about 100 dB that
    8 bits would cut into 0.4-dB steps), the GRU and the dense layers stay
    float32 (onnxruntime has no int8 GRU).

    Parameters
    ----------
    model : onnx.ModelProto
        A graph with one input, the segment images.
    calibration : ndarray of shape (n_segments, K, M, T)
        Segment features the ranges are measured on, e.g. from training recordings.
    batch_size : int, default=32
        Segments per calibration run.

    Returns
    -------
    onnx.ModelProto
    """
    import tempfile

    onnx = _require("onnx")
    quant = _require("onnxruntime.quantization")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calibration = np.ascontiguousarray(calibration, dtype=np.float32)
    if calibration.ndim != 4 or calibration.shape[0] == 0 or not np.all(np.isfinite(calibration)):
        raise SkascValueError(
            "'calibration' must be finite segment features of shape "
            f"(n_segments, K, M, T), n_segments >= 1; got "
            f"{calibration.shape}."
        )
    name = model.graph.input[0].name
    first_conv = [node.name for node in model.graph.node if node.op_type == "Conv"]

    # whole batches only: onnxruntime's histogram collectors need equal shapes
    n_used = calibration.shape[0] // batch_size * batch_size or calibration.shape[0]

    class Reader(quant.CalibrationDataReader):  # type: ignore[name-defined]  # imported lazily
        def __init__(self) -> None:
            self._batches = iter(range(0, n_used, batch_size))

        def get_next(self) -> dict | None:
            start = next(self._batches, None)
            return None if start is None else {name: calibration[start : start + batch_size]}

    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f"{k}.onnx") for k in ("float", "prepared", "int8")]
        onnx.save(model, paths[0])
        with _quiet():
            quant_pre_process(paths[0], paths[1], skip_symbolic_shape=True)
            quant.quantize_static(
                paths[1],
                paths[2],
                Reader(),
                quant_format=quant.QuantFormat.QDQ,
                per_channel=True,
                op_types_to_quantize=["Conv", "MaxPool"],
                nodes_to_exclude=first_conv[:1],
                activation_type=quant.QuantType.QUInt8,
                weight_type=quant.QuantType.QInt8,
            )
        return onnx.load(paths[2])


def _quiet() -> Any:
    """Silence onnxruntime's quantization tools (they log and print shape notes)."""
    import contextlib
    import logging

    @contextlib.contextmanager
    def quiet():
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            logging.getLogger().setLevel(level)

    return quiet()


def _export_sklearn(steps: list[tuple[str, Any]], n_features: int) -> Any:
    skl2onnx = _require("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType

    final = steps[-1][1]

    def convert(part: list[tuple[str, Any]]) -> Any:
        return skl2onnx.convert_sklearn(
            Pipeline(part),
            initial_types=[("features", FloatTensorType([None, n_features]))],
            target_opset={"": OPSET, "ai.onnx.ml": 3},
            options={id(final): {"zipmap": False}} if part[-1][1] is final else None,
        )

    try:
        model = convert(steps)
    except Exception as exc:  # skl2onnx raises several types for unsupported models
        # name the first step skl2onnx cannot convert on its own
        for name, step in steps:
            try:
                convert([(name, step)])
            except Exception as step_exc:
                raise ExportError(
                    f"Step fusion.estimator_[{name!r}] ({type(step).__name__}) cannot be "
                    f"exported by skl2onnx: {type(step_exc).__name__}: {step_exc}"
                ) from exc
        raise ExportError(
            f"The steps after the network cannot be exported together by "
            f"skl2onnx: {type(exc).__name__}: {exc}"
        ) from exc
    return model


def export_onnx(
    estimator: Any, path: str | os.PathLike, *, quantize: str | None = None, calibration: Any = None
) -> None:
    """Write a fitted pipeline's segment model as one ONNX file.

    Parameters
    ----------
    estimator : fitted Pipeline
        A :class:`~skasc.frontend.FrontEnd` followed by a
        :class:`~skasc.fusion.RecordingFusion` whose segment model is a skasc
        network, alone (softmax posteriors) or followed by scikit-learn steps that
        skl2onnx converts (the paper's ``MinMaxScaler`` and calibrated
        ``LinearSVC``): every single-feature pipeline the factories build.
    path : path-like
        The ``.onnx`` file to write (replaced atomically).
    quantize : {None, "int8"}, default=None
        ``"int8"``: the network's convolutions in int8 (:func:`quantize_int8`,
        calibrated on ``calibration``); the steps after it stay float32.
    calibration : list of paths or waveforms, or None
        Recordings, as for the pipeline's ``predict`` (for example some of its
        training recordings), whose segments set the int8 activation ranges;
        required with ``quantize="int8"``.

    Raises
    ------
    ExportError
        Naming the step that cannot be exported (a ``SystemFusion``, a front end
        or segment-model step the predictor or skl2onnx cannot rebuild).
    ValueError
        For another ``quantize``, or ``quantize="int8"`` without ``calibration``.
    ImportError
        Without the ``onnx`` extra.

    Notes
    -----
    The graph's input ``segments`` is ``(n_segments, K, M, T)`` float32 (any
    number of segments); its output ``probabilities`` is ``(n_segments,
    n_classes)`` float32 in the column order of the metadata's ``classes``. The
    metadata key ``skasc`` holds JSON: ``classes``, ``columns`` (the classes'
    indices of the graph's columns), ``floor``, ``rule`` and ``temperature`` (how the
    segment posteriors fuse: :class:`~skasc.fusion.RecordingFusion`'s ``rule`` and
    fitted ``temperature_``) and ``frontend``.

    Examples
    --------
    >>> from skasc.onnx import export_onnx   # doctest: +SKIP
    >>> export_onnx(pipe, "scene.onnx")     # doctest: +SKIP
    """
    onnx = _require("onnx")
    frontend, fusion = _parts(estimator)
    segments = calibration_segments(frontend, quantize, calibration, "export_onnx")
    metadata = {
        "format": 1,
        "classes": [_json_label(c) for c in fusion.classes_],
        # the inner classifier is fit on the codes of fusion.classes_
        "columns": [int(i) for i in np.asarray(fusion.estimator_.classes_)],
        "floor": float(fusion.floor),
        "rule": fusion.rule,
        "temperature": float(fusion.temperature_),
        "frontend": _frontend_metadata(frontend),
    }
    net, head = segment_model(fusion)
    if not head:
        model = export_network(net, softmax=True, output="probabilities", calibration=segments)
    else:
        net_model = export_network(net, softmax=False, output="features", calibration=segments)
        skl_model = _export_sklearn(head, int(net.module_.embedding_size))
        skl_model = onnx.compose.add_prefix(skl_model, prefix="head_")
        net_model.ir_version = skl_model.ir_version = min(
            net_model.ir_version, skl_model.ir_version
        )
        _merge_opsets(net_model, skl_model)
        probabilities = next(
            o.name for o in skl_model.graph.output if o.name.endswith("probabilities")
        )
        model = onnx.compose.merge_models(
            net_model, skl_model, io_map=[("features", "head_features")], outputs=[probabilities]
        )
        model.graph.output[0].name = "probabilities"
        for node in model.graph.node:
            node.output[:] = ["probabilities" if o == probabilities else o for o in node.output]
        _merge_opsets(model, model)  # merge_models lists both models' imports
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = _METADATA_KEY, json.dumps(metadata)
    onnx.checker.check_model(model)
    from ._atomic import atomic_write

    with atomic_write(os.fspath(path)) as fh:
        fh.write(model.SerializeToString())


def calibration_segments(
    frontend: FrontEnd, quantize: str | None, calibration: Any, owner: str
) -> np.ndarray | None:
    """The segment features of the ``calibration`` recordings for ``quantize="int8"``
    (None without quantization), or an InvalidParameterError naming ``owner``'s
    argument."""
    if quantize is None:
        if calibration is not None:
            raise InvalidParameterError(
                f"'calibration' of {owner} applies to int8 only; got it with no quantization."
            )
        return None
    if quantize != "int8":
        raise InvalidParameterError(
            f"'quantize' of {owner} must be None or 'int8'; got {quantize!r}."
        )
    if calibration is None:
        raise InvalidParameterError(
            f"int8 in {owner} needs 'calibration': a few recordings (paths or waveforms, "
            "e.g. some training recordings) whose segments set the activation ranges."
        )
    return np.concatenate(list(frontend.transform(calibration)))


def _merge_opsets(a: Any, b: Any) -> None:
    """Give both models the union of their opset imports (highest version per domain),
    each domain once."""
    versions: dict[str, int] = {}
    for model in (a, b):
        for imp in model.opset_import:
            versions[imp.domain] = max(versions.get(imp.domain, 0), imp.version)
    for model in (a, b):
        del model.opset_import[:]
        for domain, version in sorted(versions.items()):
            imp = model.opset_import.add()
            imp.domain, imp.version = domain, version


def _scalars(params: dict) -> bool:
    """Whether every value is None or a plain bool, int, float or str."""
    return all(v is None or isinstance(v, (bool, int, float, str)) for v in params.values())


def _json_label(label: Any) -> Any:
    if isinstance(label, (np.integer, int)) and not isinstance(label, bool):
        return int(label)
    if isinstance(label, str):
        return label
    raise ExportError(
        f"Class label {label!r} ({type(label).__name__}) cannot be stored: "
        "export needs int or str labels."
    )


# --------------------------------------------------------------------------- #
# Prediction
# --------------------------------------------------------------------------- #
def inference_session(
    model: str | bytes, *, n_threads: int | None = None, providers: list[str] | None = None
) -> Any:
    """An onnxruntime session with every graph optimisation and ``n_threads``
    intra-op threads (None: onnxruntime's default, one per physical core).

    Parameters
    ----------
    model : str or bytes
        An ONNX file's path, or a serialized model.
    n_threads : int or None, default=None
    providers : list of str or None, default=None
        Execution providers (default: the CPU).
    """
    ort = _require("onnxruntime")
    if n_threads is not None and (
        isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1
    ):
        raise InvalidParameterError(f"'n_threads' must be None or an int >= 1; got {n_threads!r}.")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    # idle threads sleep instead of spinning: a timeline's front end runs beside them
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if n_threads is not None:
        options.intra_op_num_threads = int(n_threads)
    return ort.InferenceSession(model, options, providers=providers or ["CPUExecutionProvider"])


def _frontend_from_metadata(meta: Any, path: str) -> FrontEnd:
    if not isinstance(meta, dict) or set(meta) != set(_FRONTEND_STEPS):
        raise ModelFileError(
            f"{path}: the 'frontend' metadata must name the steps "
            f"{list(_FRONTEND_STEPS)}; got {meta!r}."
        )
    built = {}
    for step in _FRONTEND_STEPS:
        entry = meta[step]
        if step == "denoiser" and entry == "drop":
            built[step] = "drop"
            continue
        if not (
            isinstance(entry, dict)
            and set(entry) == {"class", "params"}
            and entry["class"] in _FRONTEND_CLASSES
            and isinstance(entry["params"], dict)
        ):
            raise ModelFileError(
                f"{path}: frontend step {step!r} is not one of "
                f"{sorted(_FRONTEND_CLASSES)} with params; got {entry!r}."
            )
        params = entry["params"]
        if not _scalars(params):
            raise ModelFileError(f"{path}: frontend step {step!r} has non-scalar parameters.")
        cls = _FRONTEND_CLASSES[entry["class"]]
        try:
            built[step] = cls(**params)
        except TypeError as exc:
            raise ModelFileError(f"{path}: frontend step {step!r}: {exc}") from exc
    return FrontEnd(**built)


class OnnxPredictor:
    """Classify recordings with an exported ONNX model (onnxruntime).

    Parameters
    ----------
    path : path-like
        A file written by :func:`export_onnx`.
    providers : list of str or None, default=None
        onnxruntime execution providers (default: the CPU).
    n_threads : int or None, default=None
        onnxruntime's intra-op threads (None: its default, one per physical core).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    frontend : FrontEnd
        The exported pipeline's front end, rebuilt from the metadata.

    Examples
    --------
    >>> from skasc.onnx import OnnxPredictor          # doctest: +SKIP
    >>> OnnxPredictor("scene.onnx").predict(["a.wav"])  # doctest: +SKIP
    array(['park'], dtype='<U4')
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        providers: list[str] | None = None,
        n_threads: int | None = None,
    ) -> None:
        shown = os.fspath(path)
        problem = regular_file_problem(shown)
        if problem == "does not exist":
            raise FileNotFoundError(f"ONNX model not found: {shown}")
        if problem is not None:
            raise ModelFileError(f"{shown} is not an ONNX model: it {problem}.")
        try:
            self.session = inference_session(shown, providers=providers, n_threads=n_threads)
        except Exception as exc:  # onnxruntime's own types (InvalidProtobuf, Fail, ...)
            if not type(exc).__module__.startswith("onnxruntime"):
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFileError(
                f"{shown} is not an ONNX model onnxruntime can load ({reason})."
            ) from exc
        raw = self.session.get_modelmeta().custom_metadata_map.get(_METADATA_KEY)
        if raw is None:
            raise ModelFileError(
                f"{shown} has no {_METADATA_KEY!r} metadata: it was not "
                "written by skasc.onnx.export_onnx."
            )
        try:
            meta = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ModelFileError(
                f"{shown}: its {_METADATA_KEY!r} metadata is not JSON: {exc}"
            ) from exc
        if not isinstance(meta, dict):
            raise ModelFileError(f"{shown}: its {_METADATA_KEY!r} metadata is not a JSON object.")
        if meta.get("format") != 1:
            raise ModelFileError(
                f"{shown}: unknown metadata format {meta.get('format')!r} "
                "(this skasc reads format 1)."
            )
        classes = meta.get("classes")
        columns = meta.get("columns")
        width = self.session.get_outputs()[0].shape[-1]
        if not (
            isinstance(classes, list)
            and classes
            and all(isinstance(c, (int, str)) and not isinstance(c, bool) for c in classes)
            and isinstance(columns, list)
            and all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(classes)
                for i in columns
            )
            and len(set(columns)) == len(columns)
            and (not isinstance(width, int) or width == len(columns))
        ):
            raise ModelFileError(
                f"{shown}: 'classes' and 'columns' metadata are inconsistent "
                "(or do not match the graph's output)."
            )
        floor = meta.get("floor")
        if not (isinstance(floor, float) and 0 < floor < 1):
            raise ModelFileError(f"{shown}: 'floor' metadata must be a float in (0, 1).")
        rule = meta.get("rule", "product")  # files exported before the rule travelled
        temperature = meta.get("temperature", 1.0)
        if rule not in RULES:
            raise ModelFileError(f"{shown}: 'rule' metadata must be one of {list(RULES)}.")
        if not (isinstance(temperature, float) and 0 < temperature < np.inf):
            raise ModelFileError(f"{shown}: 'temperature' metadata must be a positive float.")
        self.classes_ = np.asarray(classes)
        self._columns = np.asarray(columns, dtype=np.intp)
        self.floor = floor
        self.rule, self.temperature = rule, temperature
        self.frontend = _frontend_from_metadata(meta.get("frontend"), shown)
        self._input = self.session.get_inputs()[0].name

    def predict_proba_segments(self, segments: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """Calibrated posteriors of segment images.

        Parameters
        ----------
        segments : ndarray of shape (n_segments, K, M, T)
            Features as the front end gives them, one row per segment.
        batch_size : int, default=256
            Segments per onnxruntime call.

        Returns
        -------
        proba : ndarray of shape (n_segments, n_classes), float64
        """
        segments = np.ascontiguousarray(segments, dtype=np.float32)
        if segments.ndim != 4:
            raise SkascValueError(
                f"segments must have shape (n_segments, K, M, T); got {segments.shape}."
            )
        out = np.zeros((segments.shape[0], self.classes_.shape[0]))
        for start in range(0, segments.shape[0], batch_size):
            part = self.session.run(None, {self._input: segments[start : start + batch_size]})[0]
            out[start : start + part.shape[0], self._columns] = part
        if not np.all(np.isfinite(out)):
            raise SkascValueError("The ONNX model gave NaN or infinite posteriors.")
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Fused posteriors of recordings, shape (n_recordings, n_classes).

        Parameters
        ----------
        X : list of paths or waveforms, length n_recordings
            As for the pipeline's ``predict_proba``.
        """
        features = self.frontend.transform(X)
        per_recording = list(features)  # one (n_segments_i, K, M, T) array per recording
        lengths = np.array([len(f) for f in per_recording], dtype=np.intp)
        seg = self.predict_proba_segments(np.concatenate(per_recording))
        evidence = np.log(np.maximum(seg, self.floor)) / self.temperature
        return np.exp(fuse_log_posteriors(evidence, lengths=lengths, rule=self.rule))

    def predict(self, X: Any) -> np.ndarray:
        """Most likely class of each recording, shape (n_recordings,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
