"""Factories for the paper's systems as ordinary scikit-learn pipelines.

Each factory returns a :class:`~sklearn.pipeline.Pipeline` whose steps are
reachable by name, so ``set_params`` and ``GridSearchCV`` work as usual::

    Pipeline([
        ("frontend", FrontEnd(extractor=LogMelExtractor())),      # recordings -> segments' features
        ("fusion", RecordingFusion(                               # product over a recording's segments
            Pipeline([("net", AttCRNNClassifier()),               # pooled 256-d features (eq. 9)
                      ("scaler", MinMaxScaler((-1, 1), clip=True)),  # fitted on the training segments
                      ("svm", CalibratedClassifierCV(LinearSVC(C=0.1)))],
                     memory=...)))])

The SVM's C is ``fusion__estimator__svm__estimator__C``.

The SVM sees scaled features. A linear SVM is not scale-invariant: multiplying
the features by ``s`` is the same as multiplying ``C`` by ``s**2``, and the pooled
features of eq. (9) are of order 1e-3 early in training, which makes
``C=0.1`` on raw features extremely over-regularised. The authors' own SVM code
for their earlier LITIS system (``pquochuy/CNN-RNN-LTE``, ``svm_calibration_rnn.m``)
min-max scales every feature to [-1, 1] on the training set and clips the test
features to that range before LIBSVM; ``feature_scaling="minmax"`` (the default)
does the same, ``"standard"`` standardises, ``None`` passes the features through.

Grid search over the SVM must not retrain the network for every C. The segment-level
pipeline therefore takes a ``memory`` (a folder or :class:`joblib.Memory`): scikit-learn
caches the fitted ``net`` step keyed by its parameters and its training data, so within
a CV split every C after the first reuses the trained network and its features. The
key includes every network parameter, so ``random_state`` must be an int for hits.
"""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from ._validation import check_option
from .calibration import make_svm_calibrator
from .exceptions import InvalidParameterError
from .frontend.features import (FeatureStack, FeatureTypeSelector, GammatoneExtractor,
                                LogMelExtractor)
from .frontend.front_end import FrontEnd
from .fusion import RecordingFusion, SystemFusion

__all__ = ["make_att_crnn_pipeline", "make_cnn_baseline_pipeline", "make_fused_pipeline",
           "make_feature_scaler"]

_FEATURES = {"logmel": LogMelExtractor, "loggam": GammatoneExtractor}


_SCALINGS = ("minmax", "standard", None)


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
    check_option(feature_scaling, "feature_scaling", "make_feature_scaler", list(_SCALINGS))
    if feature_scaling == "minmax":
        return MinMaxScaler(feature_range=(-1, 1), clip=True)
    if feature_scaling == "standard":
        return StandardScaler()
    return "passthrough"


def _segment_model(net, factory: str, *, classifier: str, svm_C: float, calibration: Any,
                   feature_scaling: str | None, memory: Any, random_state: int | None):
    check_option(classifier, "classifier", factory, ["svm", "softmax"])
    scaler = make_feature_scaler(feature_scaling)
    if classifier == "softmax":
        return net
    return Pipeline([("net", net),
                     ("scaler", scaler),
                     ("svm", make_svm_calibrator(C=svm_C, calibration=calibration,
                                                 random_state=random_state))],
                    memory=memory)


def _make(net_cls, factory: str, features: str, *, classifier: str, svm_C: float,
          calibration: Any, feature_scaling: str | None, max_epochs: int, lr: float,
          batch_size: int, random_state: int | None, n_jobs: int | None, memory: Any,
          feature_cache: Any, verbose: int, net_params: dict | None) -> Pipeline:
    """The system both factories build; ``factory`` names the caller in errors."""
    check_option(features, "features", factory, sorted(_FEATURES))
    own = dict(max_epochs=max_epochs, lr=lr, batch_size=batch_size, random_state=random_state,
               verbose=verbose)
    twice = sorted(set(net_params or {}) & set(own))
    if twice:
        raise InvalidParameterError(
            f"The 'net_params' parameter of {factory} sets {twice}, which {factory} sets from "
            "its own arguments of those names; pass them as arguments instead.")
    net = net_cls(**own, **(net_params or {}))
    frontend = FrontEnd(extractor=_FEATURES[features](), n_jobs=n_jobs, memory=feature_cache)
    segment_model = _segment_model(net, factory, classifier=classifier, svm_C=svm_C,
                                   calibration=calibration, feature_scaling=feature_scaling,
                                   memory=memory, random_state=random_state)
    return Pipeline([("frontend", frontend), ("fusion", RecordingFusion(segment_model))])


def make_att_crnn_pipeline(features: str = "logmel", *, classifier: str = "svm",
                           svm_C: float = 0.1, calibration: Any = "train",
                           feature_scaling: str | None = "minmax",
                           mask_scale: float | str = "n_features", max_epochs: int = 500,
                           lr: float = 1e-4, batch_size: int = 100,
                           random_state: int | None = None, n_jobs: int | None = None,
                           memory: Any = None, feature_cache: Any = None, verbose: int = 1,
                           net_params: dict | None = None) -> Pipeline:
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
        See :func:`make_svm_calibrator`.
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
    arguments = dict(locals())
    from .nn import AttCRNNClassifier

    mask_scale = arguments.pop("mask_scale")
    arguments["net_params"] = {"module__mask_scale": mask_scale, **(net_params or {})}
    return _make(AttCRNNClassifier, "make_att_crnn_pipeline", **arguments)


def make_cnn_baseline_pipeline(features: str = "logmel", *, classifier: str = "svm",
                               svm_C: float = 0.1, calibration: Any = "train",
                               feature_scaling: str | None = "minmax", max_epochs: int = 500,
                               lr: float = 1e-4, batch_size: int = 100,
                               random_state: int | None = None, n_jobs: int | None = None,
                               memory: Any = None, feature_cache: Any = None,
                               verbose: int = 1, net_params: dict | None = None) -> Pipeline:
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
    arguments = dict(locals())
    from .nn import CNNBaselineClassifier

    return _make(CNNBaselineClassifier, "make_cnn_baseline_pipeline", **arguments)


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
    check_option(network, "network", "make_fused_pipeline", ["att_crnn", "cnn_baseline"])
    if "features" in kwargs:
        raise InvalidParameterError(
            "make_fused_pipeline builds both feature types; do not pass 'features'.")
    factory = make_att_crnn_pipeline if network == "att_crnn" else make_cnn_baseline_pipeline
    singles = [(name, factory(name, **kwargs)) for name in _FEATURES]
    frontend = singles[0][1].named_steps["frontend"]
    frontend.set_params(extractor=FeatureStack(
        [(name, pipe.named_steps["frontend"].extractor) for name, pipe in singles]))
    systems = [(name, Pipeline([("features", FeatureTypeSelector(index)),
                                ("fusion", pipe.named_steps["fusion"])]))
               for index, (name, pipe) in enumerate(singles)]
    return Pipeline([("frontend", frontend), ("fusion", SystemFusion(systems))])
