"""Factories for the paper's systems as ordinary scikit-learn pipelines.

Each factory returns a :class:`~sklearn.pipeline.Pipeline` whose steps are
reachable by name, so ``set_params`` and ``GridSearchCV`` work as usual::

    Pipeline([
        ("frontend", FrontEnd(extractor=LogMelExtractor())),  # recordings -> segments' features
        ("fusion", RecordingFusion(                           # geometric mean of the segments
            Pipeline([("net", AttCRNNClassifier()),           # pooled 256-d features (eq. 9)
                      ("scaler", MinMaxScaler((-1, 1), clip=True)),  # fitted on training segments
                      ("svm", CalibratedClassifierCV(LinearSVC(C=0.1)))],
                     memory=...)))])

The SVM's C is ``fusion__estimator__svm__estimator__C``; the SVM sees scaled
features (``feature_scaling``; why: docs/design.md). The segment-level pipeline
takes a ``memory`` (a folder or :class:`joblib.Memory`), so a grid search over the
SVM's C trains one network per split (``random_state`` must be an int for hits).

The systems are declared once, in :data:`NETWORKS` and :data:`FEATURES`;
:func:`make_system` builds any pair of them, and ``run_protocol``, the demo and the
CLI read the same registries. Heavy imports (scikit-learn, the front end, torch)
happen inside the factories, so that ``skasc --help`` can list the choices at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._validation import check_option
from .exceptions import InvalidParameterError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = [
    "make_att_crnn_pipeline",
    "make_cnn_baseline_pipeline",
    "make_fused_pipeline",
    "make_feature_scaler",
    "make_system",
    "recording_fusion",
    "RECORDING_POSTERIORS",
    "AUGMENTATION",
    "segment_network",
    "system_name",
    "NETWORKS",
    "FEATURES",
    "Network",
    "Features",
]


def make_feature_scaler(feature_scaling: str | None = "minmax") -> Any:
    """The scaling of the network's pooled features before the SVM.

    Parameters
    ----------
    feature_scaling : {"minmax", "standard", None}, default="minmax"
        ``"minmax"``: every feature mapped to [-1, 1] on the training segments,
        test features clipped to that range (the authors' SVM code); ``"standard"``:
        zero mean and unit variance on the training segments; ``None``: the
        features unchanged (``"passthrough"``).

    Returns
    -------
    MinMaxScaler, StandardScaler or "passthrough"

    Examples
    --------
    >>> from skasc import make_feature_scaler
    >>> make_feature_scaler()
    MinMaxScaler(clip=True, feature_range=(-1, 1))
    """
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    check_option(
        feature_scaling, "feature_scaling", "make_feature_scaler", ["minmax", "standard", None]
    )
    if feature_scaling == "minmax":
        return MinMaxScaler(feature_range=(-1, 1), clip=True)
    if feature_scaling == "standard":
        return StandardScaler()
    return "passthrough"


def _segment_model(
    net: Any,
    factory: str,
    *,
    classifier: str,
    svm_C: float,
    calibration: Any,
    calibration_method: str,
    feature_scaling: str | None,
    memory: Any,
    random_state: int | None,
) -> Any:
    from sklearn.pipeline import Pipeline

    from .calibration import CALIBRATION_METHODS, make_svm_calibrator

    check_option(classifier, "classifier", factory, ["svm", "softmax"])
    check_option(calibration_method, "calibration_method", factory, CALIBRATION_METHODS)
    scaler = make_feature_scaler(feature_scaling)
    if classifier == "softmax":
        return net
    return Pipeline(
        [
            ("net", net),
            ("scaler", scaler),
            (
                "svm",
                make_svm_calibrator(
                    C=svm_C,
                    calibration=calibration,
                    method=calibration_method,
                    random_state=random_state,
                ),
            ),
        ],
        memory=memory,
    )


def _extractor(feature_type: str) -> Any:
    """A new extractor of one feature type (``"logmel"`` or ``"loggam"``)."""
    from .frontend.features import GammatoneExtractor, LogMelExtractor

    extractors: dict[str, type] = {"logmel": LogMelExtractor, "loggam": GammatoneExtractor}
    return extractors[feature_type]()


def recording_fusion(
    segment_model: Any,
    recording_posteriors: str,
    *,
    random_state: int | None,
    groups_param: str | None = None,
) -> Any:
    """The :class:`~skasc.fusion.RecordingFusion` a ``recording_posteriors`` choice makes.

    ``"mean"``: the renormalised geometric mean of the segment posteriors
    (``rule="mean", temperature=1.0``). ``"calibrated"``: the same, divided by a
    temperature fitted on about 15 % of the training recordings, held out from training
    (``rule="mean", temperature="holdout"``). ``"paper"``: their renormalised product
    (``rule="product", temperature=1.0``; section 2.4 of the paper). All three decide
    alike on the same segment posteriors; ``"calibrated"`` trains the network on fewer
    recordings. Why the default is ``"mean"``: docs/design.md.
    """
    from .fusion import RecordingFusion

    check_option(
        recording_posteriors, "recording_posteriors", "recording_fusion", list(RECORDING_POSTERIORS)
    )
    rule, temperature = RECORDING_POSTERIORS[recording_posteriors]
    return RecordingFusion(
        segment_model,
        rule=rule,
        temperature=temperature,
        random_state=random_state,
        groups_param=groups_param,
    )


#: The ``recording_posteriors`` choices: (RecordingFusion's ``rule``, ``temperature``).
RECORDING_POSTERIORS: dict[str, tuple[str, Any]] = {
    "mean": ("mean", 1.0),
    "calibrated": ("mean", "holdout"),
    "paper": ("product", 1.0),
}


#: What ``augment=True`` sets on the network (its parameters; ``net_params`` win):
#: crops within the recording and two SpecAugment masks of each kind per example.
AUGMENTATION: dict[str, Any] = {"crop": True, "freq_mask_width": 8, "time_mask_width": 10}


def _make(
    net_cls: Any,
    factory: str,
    features: str,
    *,
    classifier: str,
    svm_C: float,
    calibration: Any,
    calibration_method: str,
    recording_posteriors: str,
    augment: bool,
    lr_schedule: str | None,
    feature_scaling: str | None,
    max_epochs: int,
    lr: float,
    batch_size: int,
    random_state: int | None,
    n_jobs: int | None,
    memory: Any,
    feature_cache: Any,
    verbose: int,
    net_params: dict | None,
) -> Pipeline:
    """The system both factories build; ``factory`` names the caller in errors."""
    from sklearn.pipeline import Pipeline

    from .frontend.front_end import FrontEnd

    check_option(features, "features", factory, sorted(_SINGLE_FEATURES))
    check_option(recording_posteriors, "recording_posteriors", factory, list(RECORDING_POSTERIORS))
    own = dict(
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        verbose=verbose,
    )
    twice = sorted(set(net_params or {}) & set(own))
    if twice:
        raise InvalidParameterError(
            f"The 'net_params' parameter of {factory} sets {twice}, which {factory} sets from "
            "its own arguments of those names; pass them as arguments instead."
        )
    check_option(augment, "augment", factory, [True, False])
    net_params = {
        **(AUGMENTATION if augment else {}),
        "lr_schedule": lr_schedule,
        **(net_params or {}),
    }
    net = net_cls(**own, **net_params)
    frontend = FrontEnd(extractor=_extractor(features), n_jobs=n_jobs, memory=feature_cache)
    segment_model = _segment_model(
        net,
        factory,
        classifier=classifier,
        svm_C=svm_C,
        calibration=calibration,
        calibration_method=calibration_method,
        feature_scaling=feature_scaling,
        memory=memory,
        random_state=random_state,
    )
    # crops stay inside their recording: the network gets each segment's recording
    groups_param = None
    if net_params.get("crop"):
        groups_param = "recording_index" if classifier == "softmax" else "net__recording_index"
    fusion = recording_fusion(
        segment_model, recording_posteriors, random_state=random_state, groups_param=groups_param
    )
    return Pipeline([("frontend", frontend), ("fusion", fusion)])


def make_att_crnn_pipeline(
    features: str = "logmel",
    *,
    classifier: str = "svm",
    svm_C: float = 0.1,
    calibration: Any = "train",
    calibration_method: str = "sigmoid",
    recording_posteriors: str = "mean",
    augment: bool = False,
    lr_schedule: str | None = "cosine",
    feature_scaling: str | None = "minmax",
    mask_scale: float | str = "n_features",
    max_epochs: int = 500,
    lr: float = 1e-4,
    batch_size: int = 100,
    random_state: int | None = None,
    n_jobs: int | None = None,
    memory: Any = None,
    feature_cache: Any = None,
    verbose: int = 1,
    net_params: dict | None = None,
) -> Pipeline:
    """The paper's Att-CRNN system, recordings in, one label per recording out.

    Parameters
    ----------
    features : {"logmel", "loggam"}, default="logmel"
        Log Mel or log gammatone spectrograms, 64 bands x 80 frames per 2-s segment.
    classifier : {"svm", "softmax"}, default="svm"
        ``"svm"``: the network's pooled features go to a calibrated linear SVM
        (section 2.4); ``"softmax"``: the network's own softmax posteriors.
    svm_C : float, default=0.1
        The SVM's C (paper: 0.1).
    calibration : "train" or int, default="train"
        Where the SVM's calibration is fitted: on the training segments themselves
        (the paper) or out of fold over ``k`` folds; see
        :func:`~skasc.calibration.make_svm_calibrator`.
    calibration_method : {"sigmoid", "temperature"}, default="sigmoid"
        How the SVM's scores become posteriors: Platt's sigmoid per class (the
        paper) or one temperature for all classes (scikit-learn >= 1.8); the
        ``method`` of :func:`~skasc.calibration.make_svm_calibrator`. Ignored with
        ``classifier="softmax"``.
    recording_posteriors : {"mean", "calibrated", "paper"}, default="mean"
        How segment posteriors become a recording's (step ``fusion``, a
        :class:`~skasc.fusion.RecordingFusion`). ``"mean"``: their renormalised
        geometric mean, whose confidence does not grow with the number of
        segments. ``"calibrated"``: the geometric mean divided by a temperature
        fitted on about 15 % of the training recordings, which are held out from
        training (drawn by class, and by the ``groups`` given to ``fit`` as
        ``fusion__groups``); it costs the network the held-out recordings.
        ``"paper"``: their renormalised product, as section 2.4 of the paper; it
        counts a recording's segments as independent observations and is
        over-confident. All three decide alike on the same segment posteriors
        (docs/design.md says what each measured).
    augment : bool, default=False
        Augment the training batches (never test data): each segment is cropped at
        a random offset within its recording, and two SpecAugment masks of up to 8
        bands and two of up to 10 frames are set to the example's mean
        (:data:`AUGMENTATION`; the network's ``crop``, ``freq_mask_width`` and
        ``time_mask_width``). ``False``: the paper's fixed segments, which measured
        as well or better at schedules of up to 40 epochs (docs/design.md).
    lr_schedule : {"cosine", None}, default="cosine"
        ``"cosine"``: the learning rate falls from ``lr`` to 0 over ``max_epochs``
        (cosine annealing, per epoch); None: constant, as the paper.
    feature_scaling : {"minmax", "standard", None}, default="minmax"
        Scaling of the pooled features before the SVM, fitted on the training
        segments' features (step ``fusion__estimator__scaler``; see
        :func:`make_feature_scaler`). Ignored with ``classifier="softmax"``.
    mask_scale : float or "n_features", default="n_features"
        Factor on the attention mask inside eq. (9) (the network's
        ``module__mask_scale``). ``1.0`` is eq. (9) as printed; the default
        ``"n_features"`` (2H) makes the spatial weights average one, which the
        network needs to learn at a practical budget (docs/design.md,
        benchmarks/RESULTS.md). A ``module__mask_scale`` in ``net_params`` wins.
    max_epochs, lr, batch_size : int, float, int
        Training schedule; defaults are the paper's (500 epochs, Adam at 1e-4,
        minibatches of 100 segments).
    random_state : int or None, default=None
        Seeds the network (initialisation, shuffling, between-class pairs) and the SVM.
    n_jobs : int or None, default=None
        Recordings featurised in parallel.
    memory : str, joblib.Memory or None, default=None
        Cache of the fitted network within the segment-level pipeline, so that a
        grid search over the SVM's C trains one network per split.
    feature_cache : str, joblib.Memory or None, default=None
        Cache of each recording's features (see :class:`~skasc.frontend.FrontEnd`).
    verbose : int, default=1
        1 prints skorch's epoch table.
    net_params : dict or None, default=None
        Extra parameters of :class:`~skasc.nn.AttCRNNClassifier`
        (e.g. ``{"module__hidden_size": 32}``).

    Returns
    -------
    Pipeline
        Steps ``frontend`` and ``fusion``; ``predict`` takes recordings
        (n_recordings,) and returns labels of shape (n_recordings,).

    Examples
    --------
    >>> from skasc import make_att_crnn_pipeline
    >>> pipe = make_att_crnn_pipeline("loggam", max_epochs=2)
    >>> pipe.get_params()["fusion__estimator__svm__estimator__C"]
    0.1
    """
    from .nn import AttCRNNClassifier

    return _make(
        AttCRNNClassifier,
        "make_att_crnn_pipeline",
        features,
        classifier=classifier,
        svm_C=svm_C,
        calibration=calibration,
        calibration_method=calibration_method,
        recording_posteriors=recording_posteriors,
        augment=augment,
        lr_schedule=lr_schedule,
        feature_scaling=feature_scaling,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        n_jobs=n_jobs,
        memory=memory,
        feature_cache=feature_cache,
        verbose=verbose,
        net_params={"module__mask_scale": mask_scale, **(net_params or {})},
    )


def make_cnn_baseline_pipeline(
    features: str = "logmel",
    *,
    classifier: str = "svm",
    svm_C: float = 0.1,
    calibration: Any = "train",
    calibration_method: str = "sigmoid",
    recording_posteriors: str = "mean",
    augment: bool = False,
    lr_schedule: str | None = "cosine",
    feature_scaling: str | None = "minmax",
    max_epochs: int = 500,
    lr: float = 1e-4,
    batch_size: int = 100,
    random_state: int | None = None,
    n_jobs: int | None = None,
    memory: Any = None,
    feature_cache: Any = None,
    verbose: int = 1,
    net_params: dict | None = None,
) -> Pipeline:
    """The paper's CNN baseline (section 4.4) in the same pipeline as the Att-CRNN.

    Parameters are those of :func:`make_att_crnn_pipeline` (without
    ``mask_scale``: the CNN has no attention); the network is
    :class:`~skasc.nn.CNNBaselineClassifier` (conv block, global max pooling).

    Returns
    -------
    Pipeline
        Steps ``frontend`` and ``fusion``.

    Examples
    --------
    >>> from skasc import make_cnn_baseline_pipeline
    >>> pipe = make_cnn_baseline_pipeline(classifier="softmax", max_epochs=2)
    >>> type(pipe.named_steps["fusion"].estimator).__name__
    'CNNBaselineClassifier'
    """
    from .nn import CNNBaselineClassifier

    return _make(
        CNNBaselineClassifier,
        "make_cnn_baseline_pipeline",
        features,
        classifier=classifier,
        svm_C=svm_C,
        calibration=calibration,
        calibration_method=calibration_method,
        recording_posteriors=recording_posteriors,
        augment=augment,
        lr_schedule=lr_schedule,
        feature_scaling=feature_scaling,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        random_state=random_state,
        n_jobs=n_jobs,
        memory=memory,
        feature_cache=feature_cache,
        verbose=verbose,
        net_params=net_params,
    )


def make_fused_pipeline(network: str = "att_crnn", **kwargs: Any) -> Pipeline:
    """The "fusion" rows of the paper's Table 3: logMel and logGam systems, product rule.

    One front end serves both systems: each recording is read, resampled,
    denoised, segmented and transformed by an STFT once, and both feature types
    come from that one spectrum (:class:`~skasc.frontend.features.FeatureStack`;
    one feature-cache entry per recording). Each system takes its type
    (:class:`~skasc.frontend.features.FeatureTypeSelector`) and is the
    ``fusion`` step of the single-feature pipeline the factory builds.

    Parameters
    ----------
    network : {"att_crnn", "cnn_baseline"}, default="att_crnn"
    **kwargs
        Passed to :func:`make_att_crnn_pipeline` / :func:`make_cnn_baseline_pipeline`
        for both systems (not ``features``).

    Returns
    -------
    Pipeline
        Steps ``frontend`` (a :class:`~skasc.frontend.FrontEnd` whose extractor
        is a ``FeatureStack`` of ``logmel`` and ``loggam``) and ``fusion`` (a
        :class:`~skasc.fusion.SystemFusion` of systems ``logmel`` and
        ``loggam``); e.g. ``fusion__logmel__fusion__estimator__svm__estimator__C``
        and ``frontend__extractor__loggam__n_bands``.

    Examples
    --------
    >>> from skasc import make_fused_pipeline
    >>> fused = make_fused_pipeline(max_epochs=2)
    >>> [name for name, _ in fused.named_steps["fusion"].estimators]
    ['logmel', 'loggam']
    """
    from sklearn.pipeline import Pipeline

    from .frontend.features import FeatureStack, FeatureTypeSelector
    from .fusion import SystemFusion

    check_option(network, "network", "make_fused_pipeline", list(NETWORKS))
    if "features" in kwargs:
        raise InvalidParameterError(
            "make_fused_pipeline builds both feature types; do not pass 'features'."
        )
    factory = NETWORKS[network].factory
    singles = [(name, factory(name, **kwargs)) for name in FEATURES["fusion"].types]
    frontend = singles[0][1].named_steps["frontend"]
    frontend.set_params(
        extractor=FeatureStack(
            [(name, pipe.named_steps["frontend"].extractor) for name, pipe in singles]
        )
    )
    systems = [
        (
            name,
            Pipeline(
                [("features", FeatureTypeSelector(index)), ("fusion", pipe.named_steps["fusion"])]
            ),
        )
        for index, (name, pipe) in enumerate(singles)
    ]
    return Pipeline([("frontend", frontend), ("fusion", SystemFusion(systems))])


def segment_network(fusion: Any, *, fitted: bool = False) -> Any:
    """The network of a factory-built :class:`~skasc.fusion.RecordingFusion`, or None.

    Its segment classifier (``estimator``, or the fitted ``estimator_``) when that is
    the network (``classifier="softmax"``), else that pipeline's ``net`` step.
    """
    inner = fusion.estimator_ if fitted else fusion.estimator
    return inner.named_steps.get("net") if hasattr(inner, "named_steps") else inner


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Network:
    """A network of the paper: its name in reports (``label``, e.g. ``"Att-CRNN"``) and
    ``factory(features, **kwargs)``, which builds its single-feature pipeline."""

    label: str
    factory: Callable[..., Any]


@dataclass(frozen=True)
class Features:
    """A choice of features: its name in reports (``label``, e.g. ``"logMel"``) and the
    feature ``types`` it uses; two or more make a fused system (a network per type on
    a shared front end, product rule)."""

    label: str
    types: tuple[str, ...]


#: The networks by the name the factories, ``run_protocol`` and the CLI take.
NETWORKS: dict[str, Network] = {
    "att_crnn": Network("Att-CRNN", make_att_crnn_pipeline),
    "cnn_baseline": Network("CNN baseline", make_cnn_baseline_pipeline),
}

#: The feature choices by the name the factories, ``run_protocol`` and the CLI take.
FEATURES: dict[str, Features] = {
    "logmel": Features("logMel", ("logmel",)),
    "loggam": Features("logGam", ("loggam",)),
    "fusion": Features("fusion", ("logmel", "loggam")),
}

_SINGLE_FEATURES = [name for name, choice in FEATURES.items() if len(choice.types) == 1]


def system_name(network: str, features: str) -> str:
    """How reports name a system, e.g. ``"Att-CRNN (logMel)"``.

    Examples
    --------
    >>> system_name("cnn_baseline", "fusion")
    'CNN baseline (fusion)'
    """
    return f"{NETWORKS[network].label} ({FEATURES[features].label})"


def make_system(network: str = "att_crnn", features: str = "logmel", **kwargs: Any) -> Pipeline:
    """The system a network name and a feature name choose (:data:`NETWORKS`, :data:`FEATURES`).

    Parameters
    ----------
    network : {"att_crnn", "cnn_baseline"}, default="att_crnn"
    features : {"logmel", "loggam", "fusion"}, default="logmel"
        ``"fusion"``: :func:`make_fused_pipeline` (one system per feature type on a
        shared front end, product rule).
    **kwargs
        Passed to the network's factory (:func:`make_att_crnn_pipeline`,
        :func:`make_cnn_baseline_pipeline`).

    Returns
    -------
    Pipeline
        What the network's factory (or :func:`make_fused_pipeline`) returns.

    Examples
    --------
    >>> from skasc.pipelines import make_system
    >>> fused = make_system("cnn_baseline", "fusion")
    >>> type(fused[-1]).__name__, [name for name, _ in fused[-1].estimators]
    ('SystemFusion', ['logmel', 'loggam'])
    """
    check_option(network, "network", "make_system", list(NETWORKS))
    check_option(features, "features", "make_system", list(FEATURES))
    if len(FEATURES[features].types) > 1:
        return make_fused_pipeline(network, **kwargs)
    return NETWORKS[network].factory(features, **kwargs)
