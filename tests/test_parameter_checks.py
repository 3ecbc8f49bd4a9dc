"""Every estimator declares its parameters' allowed values once (``_parameter_checks``),
and ``fit`` refuses a value outside them with the one message template.

The bad values are generated from each declared rule, so a rule that ``fit`` does
not apply, or a plain parameter (number, flag or option) that no rule declares,
fails here.
"""

import inspect
import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import skasc
from skasc._validation import (
    BOOL,
    Instance,
    Int,
    InvalidParameterError,
    NJobs,
    Options,
    Real,
    check_params,
)

# Parameters that are not plain values and are checked where they are used.
CHECKED_ELSEWHERE = {
    "FrontEnd": {"loader", "denoiser", "segmenter", "extractor", "memory"},
    # a float in (0, inf) or "holdout": RecordingFusion._check_params (test_fusion.py)
    "RecordingFusion": {"estimator", "temperature"},
    "SystemFusion": {"estimators"},
    "FeatureStack": {"extractors"},
    # the module's own parameters are checked where it is built (nn.modules);
    # device by torch.device; criterion/optimizer/train_split are skorch's
    "AttCRNNClassifier": {"module", "criterion", "optimizer", "train_split", "device", "verbose"},
    "CNNBaselineClassifier": {
        "module",
        "criterion",
        "optimizer",
        "train_split",
        "device",
        "verbose",
    },
}


def _estimator_classes():
    from sklearn.base import BaseEstimator

    for name in sorted(skasc.__all__):
        obj = getattr(skasc, name)
        if isinstance(obj, type) and issubclass(obj, BaseEstimator) and not inspect.isabstract(obj):
            yield obj


def _make(cls):
    if cls is skasc.RecordingFusion:
        return cls(LogisticRegression(), flatten=True)
    if cls is skasc.SystemFusion:
        return cls([("a", skasc.RecordingFusion(LogisticRegression(), flatten=True))])
    if cls is skasc.FeatureStack:
        return cls([("logmel", skasc.LogMelExtractor())])
    return cls()


def _bad_values(rule):
    """Values the rule must refuse (each one breaks it in a different way)."""
    if isinstance(rule, Int):
        bad = [1.5, True, "3"]
        if rule.low is not None:
            bad.append(rule.low - 1)
        if rule.high is not None:
            bad.append(rule.high + 1)
        if not rule.none:
            bad.append(None)
        return bad
    if isinstance(rule, Real):
        bad = [math.nan, math.inf, True, "0.5"]
        if rule.low is not None:
            bad.append(rule.low if not rule.low_inclusive else rule.low - 1e-3)
        if rule.high is not None:
            bad.append(rule.high if not rule.high_inclusive else rule.high + 1e-3)
        return bad
    if isinstance(rule, Options):
        bad = ["not-an-option"]
        if True in rule.values:
            bad += [0, 1, "True"]
        return bad
    if isinstance(rule, NJobs):
        return [0, 1.5, True]
    if isinstance(rule, Instance):
        return [12345]
    raise AssertionError(f"no bad values for {rule!r}")


def _fit(est):
    """Fit on data that is fine apart from the parameters (checks come first)."""
    rng = np.random.default_rng(0)
    if isinstance(est, (skasc.RecordingFusion, skasc.SystemFusion)):
        return est.fit(rng.normal(size=(4, 2, 3)), np.array([0, 1, 0, 1]))
    if hasattr(est, "module"):  # the skorch networks
        return est.fit(rng.normal(size=(4, 2, 64, 80)).astype(np.float32), np.array([0, 1, 0, 1]))
    return est.fit(None)


CLASSES = list(_estimator_classes())


def test_the_walk_finds_every_kind_of_estimator():
    names = {c.__name__ for c in CLASSES}
    assert {
        "AudioLoader",
        "MinStatsDenoiser",
        "Segmenter",
        "LogMelExtractor",
        "GammatoneExtractor",
        "FeatureTypeSelector",
        "FrontEnd",
        "RecordingFusion",
        "SystemFusion",
        "AttCRNNClassifier",
        "CNNBaselineClassifier",
    } <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_plain_parameter_is_declared(cls):
    est = _make(cls)
    declared = set(type(est)._parameter_checks)
    params = set(est.get_params(deep=False))
    elsewhere = CHECKED_ELSEWHERE.get(cls.__name__, set())
    assert declared <= params, declared - params
    own = {p for p in params if "__" not in p and not p.startswith("_")}
    skorch_defaults = set()
    if hasattr(est, "module"):  # skorch's many optional parameters we do not own
        import skorch

        skorch_defaults = {
            p
            for c in (skorch.NeuralNet, skorch.NeuralNetClassifier)
            for p in inspect.signature(c.__init__).parameters
        }
    missing = own - declared - elsewhere - skorch_defaults
    assert not missing, f"{cls.__name__}: parameters with no declared rule: {sorted(missing)}"


CASES = [
    (cls, name, bad)
    for cls in CLASSES
    for name, rule in cls._parameter_checks.items()
    for bad in _bad_values(rule)
]


@pytest.mark.parametrize(
    "cls, name, bad", CASES, ids=[f"{c.__name__}-{n}-{b!r}" for c, n, b in CASES]
)
def test_fit_refuses_each_declared_bad_value(cls, name, bad):
    est = _make(cls).set_params(**{name: bad})
    with pytest.raises(
        InvalidParameterError,
        match=rf"^The '{name}' parameter of {cls.__name__} must be .* "
        rf"Got {__import__('re').escape(repr(bad))} instead\.$",
    ):
        _fit(est)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_defaults_pass_their_own_rules(cls):
    est = _make(cls)
    checked = check_params(est)
    assert set(checked) == set(cls._parameter_checks)


def test_parameter_errors_are_value_and_type_errors():
    # as scikit-learn's InvalidParameterError: either except clause catches them
    with pytest.raises(ValueError):
        skasc.FrontEnd(n_jobs=0).fit(None)
    with pytest.raises(TypeError):
        skasc.FrontEnd(n_jobs=0).fit(None)


def test_denoiser_refuses_zero_jobs():
    # MinStatsDenoiser checked n_jobs as any int or None, so 0 reached joblib
    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter of MinStatsDenoiser"):
        skasc.MinStatsDenoiser(n_jobs=0).fit(None)


def test_bool_rule_accepts_numpy_bools():
    assert BOOL(np.bool_(True), "flatten", "RecordingFusion")
