import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from skasc.fusion import (
    RecordingFusion,
    SystemFusion,
    fuse_log_posteriors,
    predict_proba_levels,
    product_fusion,
)


# --------------------------------------------------------------------------- helpers
def _random_probas(rng, n, c):
    p = rng.random((n, c)) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def _scenes(rng, n_per_class=8, n_seg=6, n_feat=4, classes=("bus", "park", "street"), shift=1.0):
    y = np.repeat(np.asarray(classes), n_per_class)
    codes = np.repeat(np.arange(len(classes)), n_per_class)
    X = rng.normal(size=(y.size, n_seg, n_feat))
    X[:, :, 0] += shift * codes[:, None]
    X[:, :, 1] -= shift * codes[:, None]
    return X, y


def _ragged(rng, y, lengths, n_feat=4):
    codes = np.unique(y, return_inverse=True)[1]
    X = np.empty(len(y), dtype=object)
    for i, (c, n) in enumerate(zip(codes, lengths)):
        X[i] = rng.normal(size=(n, n_feat)) + c
    return X


class RecordingStub(ClassifierMixin, BaseEstimator):
    """Records what it was fit on; posteriors are read from column 0 of each segment."""

    def __init__(self, n_classes=3):
        self.n_classes = n_classes

    def fit(self, X, y, **fit_params):
        self.X_fit_ = np.array(X, copy=True)
        self.y_fit_ = np.array(y, copy=True)
        self.fit_params_ = fit_params
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        # row s -> a deterministic posterior depending only on X[s, 0]
        X = np.asarray(X)
        logits = np.stack([np.cos(X[:, 0] * (k + 1)) for k in range(len(self.classes_))], 1)
        p = np.exp(3 * logits)
        return p / p.sum(axis=1, keepdims=True)


def _flat(X):
    return np.asarray(X).reshape(len(X), -1)


# --------------------------------------------------------------------------- pure rule
def test_product_fusion_matches_direct_product(rng):
    p = _random_probas(rng, 7, 4)
    expected = np.prod(p, axis=0)
    expected /= expected.sum()
    np.testing.assert_allclose(product_fusion(p), expected[None], rtol=1e-10)


def test_product_fusion_ragged_lengths(rng):
    p = _random_probas(rng, 9, 3)
    lengths = [2, 4, 3]
    out = product_fusion(p, lengths=lengths)
    starts = np.cumsum([0] + lengths)
    for r in range(3):
        e = np.prod(p[starts[r] : starts[r + 1]], axis=0)
        np.testing.assert_allclose(out[r], e / e.sum(), rtol=1e-10)


def test_product_fusion_zero_posterior_is_floored():
    p = np.array([[0.0, 1.0], [0.9, 0.1], [0.9, 0.1]])
    out = product_fusion(p, floor=1e-3)
    e = np.prod(np.maximum(p, 1e-3), axis=0)
    np.testing.assert_allclose(out[0], e / e.sum())
    # no veto: class 0 keeps a non-zero posterior
    assert out[0, 0] > 0
    # a smaller floor gives the zero-posterior class less mass
    assert product_fusion(p, floor=1e-7)[0, 0] < out[0, 0]


def test_product_fusion_many_segments_no_underflow(rng):
    p = _random_probas(rng, 2000, 5)  # np.prod underflows to 0 for every class
    assert np.all(np.prod(p, axis=0) == 0)
    out = product_fusion(p)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(), 1.0)
    log_sum = np.log(p).sum(axis=0)
    expected_log = log_sum - np.logaddexp.reduce(log_sum)
    np.testing.assert_allclose(fuse_log_posteriors(np.log(p))[0], expected_log, atol=1e-8)
    assert np.argmax(out) == np.argmax(log_sum)


def test_fuse_log_posteriors_errors():
    with pytest.raises(ValueError, match="NaN or infinite"):
        fuse_log_posteriors(np.array([[-np.inf, 0.0]]))
    with pytest.raises(ValueError, match="2-D array"):
        fuse_log_posteriors(np.zeros(3))
    with pytest.raises(ValueError, match="Recording 1 has 0 segments"):
        fuse_log_posteriors(np.zeros((3, 2)), lengths=[3, 0])
    with pytest.raises(ValueError, match="sums to 4 segments but the posteriors have 3"):
        fuse_log_posteriors(np.zeros((3, 2)), lengths=[2, 2])
    with pytest.raises(ValueError, match="'floor' parameter of product_fusion"):
        product_fusion(np.ones((2, 2)) / 2, floor=0.0)


# --------------------------------------------------------------------------- RecordingFusion
def test_fit_repeats_labels_over_segments(rng):
    y = np.array(["park", "bus", "park"])
    X = _ragged(rng, y, [2, 3, 1])
    clf = RecordingFusion(RecordingStub()).fit(X, y)
    inner = clf.estimator_
    np.testing.assert_array_equal(inner.y_fit_, [1, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(inner.X_fit_, np.concatenate(list(X)))
    np.testing.assert_array_equal(clf.classes_, ["bus", "park"])
    assert clf.estimator is not inner  # cloned
    assert not hasattr(clf.estimator, "classes_")


def test_fit_params_forwarded_sample_weight_repeated_groups(rng):
    y = np.array([0, 1, 0])
    X = _ragged(rng, y, [2, 3, 1])
    clf = RecordingFusion(RecordingStub(), groups_param="groups").fit(
        X, y, sample_weight=np.array([1.0, 2.0, 3.0]), extra="x"
    )
    fp = clf.estimator_.fit_params_
    np.testing.assert_array_equal(fp["sample_weight"], [1, 1, 2, 2, 2, 3])
    np.testing.assert_array_equal(fp["groups"], [0, 0, 1, 1, 1, 2])
    assert fp["extra"] == "x"


def test_predict_proba_is_product_of_segment_posteriors(rng):
    y = np.array([0, 1, 2, 1])
    X = _ragged(rng, y, [1, 5, 3, 7])
    clf = RecordingFusion(RecordingStub(), floor=1e-4).fit(X, y)
    proba = clf.predict_proba(X)
    for i, rec in enumerate(X):
        p = clf.estimator_.predict_proba(rec)
        e = np.prod(np.maximum(p, 1e-4), axis=0)
        np.testing.assert_allclose(proba[i], e / e.sum(), rtol=1e-9)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])


def test_segment_level_outputs(rng):
    y = np.array(["b", "a", "b"])
    lengths = [4, 2, 3]
    X = _ragged(rng, y, lengths)
    clf = RecordingFusion(RecordingStub()).fit(X, y)
    seg = clf.predict_proba_segments(X)
    assert seg.shape == (9, 2)
    np.testing.assert_allclose(seg, clf.estimator_.predict_proba(np.concatenate(list(X))))
    idx = clf.segment_recording_index(X)
    np.testing.assert_array_equal(idx, [0, 0, 0, 0, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(clf.predict_segments(X), clf.classes_[seg.argmax(1)])
    levels = predict_proba_levels(clf, X)
    rec, seg2, idx2 = levels.proba, levels.segment_proba, levels.segment_index
    np.testing.assert_array_equal(rec, clf.predict_proba(X))
    np.testing.assert_array_equal(levels.log_proba, clf.predict_log_proba(X))
    np.testing.assert_array_equal(levels.segment_log_evidence, np.log(np.maximum(seg, clf.floor)))
    np.testing.assert_allclose(seg2, seg)
    np.testing.assert_array_equal(idx2, idx)


class _ReversedInner(ClassifierMixin, BaseEstimator):
    """Inner classifier listing its classes in reverse order."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)[::-1]
        return self

    def predict_proba(self, X):
        # column k is the posterior of self.classes_[k]; class "a" (code 0) gets 0.8
        p = np.full((len(X), len(self.classes_)), 0.2 / (len(self.classes_) - 1))
        p[:, list(self.classes_).index(0)] = 0.8
        return p


def test_inner_class_order_is_aligned(rng):
    y = np.array(["a", "b", "c"])
    X = _ragged(rng, y, [2, 2, 2])
    clf = RecordingFusion(_ReversedInner()).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba_segments(X)[:, 0], 0.8)
    np.testing.assert_array_equal(clf.predict(X), ["a", "a", "a"])


def test_string_labels_and_ragged_with_logistic_regression(rng):
    X, y = _scenes(rng, n_per_class=6)
    lengths = rng.integers(1, 9, size=len(y))
    Xr = np.empty(len(y), dtype=object)
    for i, n in enumerate(lengths):
        Xr[i] = np.concatenate([X[i]] * 2)[:n]
    clf = RecordingFusion(LogisticRegression(), flatten=True).fit(Xr, y)
    pred = clf.predict(Xr)
    assert pred.dtype.kind == "U" and set(pred) <= set(y)
    assert clf.score(Xr, y) >= 0.9
    assert clf.predict_proba(Xr).shape == (len(y), 3)
    assert clf.predict_proba_segments(Xr).shape == (lengths.sum(), 3)


def test_dense_and_ragged_inputs_agree(rng):
    X, y = _scenes(rng, n_per_class=5)
    clf = RecordingFusion(LogisticRegression(), flatten=True).fit(X, y)
    Xr = np.empty(len(X), dtype=object)
    for i in range(len(X)):
        Xr[i] = X[i]
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(Xr))
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(list(X)))


def test_inner_pipeline_and_flatten_equivalent(rng):
    X, y = _scenes(rng, n_per_class=5, n_feat=3)
    X4 = X.reshape(X.shape[0], X.shape[1], 3, 1)  # segments of shape (3, 1)
    a = RecordingFusion(LogisticRegression(), flatten=True).fit(X4, y)
    b = RecordingFusion(make_pipeline(FunctionTransformer(_flat), LogisticRegression())).fit(X4, y)
    np.testing.assert_allclose(a.predict_proba(X4), b.predict_proba(X4), rtol=1e-6)


def test_errors(rng):
    X, y = _scenes(rng, n_per_class=3)
    with pytest.raises(ValueError, match="X has 9 recordings but y has 8 labels"):
        RecordingFusion(LogisticRegression(), flatten=True).fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"at least 2 classes; got 1 class: \['bus'\]"):
        RecordingFusion(LogisticRegression(), flatten=True).fit(X[:3], y[:3])
    with pytest.raises(ValueError, match="'floor' parameter of RecordingFusion"):
        RecordingFusion(LogisticRegression(), floor=2.0).fit(X, y)
    with pytest.raises(TypeError, match="'flatten' parameter of RecordingFusion"):
        RecordingFusion(LogisticRegression(), flatten="yes").fit(X, y)
    with pytest.raises(TypeError, match="must be a classifier with predict_proba"):
        RecordingFusion(LinearSVC(), flatten=True).fit(X, y)
    with pytest.raises(ValueError, match="one label per recording"):
        RecordingFusion(LogisticRegression(), flatten=True).fit(X, np.stack([y, y], 1))
    with pytest.raises(ValueError, match="requires y to be passed"):
        RecordingFusion(LogisticRegression(), flatten=True).fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        RecordingFusion(LogisticRegression(), flatten=True).fit(X, rng.normal(size=9))
    with pytest.raises(TypeError, match="does not support sparse input"):
        RecordingFusion(LogisticRegression()).fit(sp.csr_matrix(X[:, :, 0]), y)
    with pytest.warns(DataConversionWarning):
        RecordingFusion(LogisticRegression(), flatten=True).fit(X, y[:, None])

    clf = RecordingFusion(LogisticRegression(), flatten=True).fit(X, y)
    with pytest.raises(ValueError, match=r"never seen in fit: \['tram'\]"):
        clf.score(X, np.array(["bus"] * 8 + ["tram"]))

    Xr = np.empty(3, dtype=object)
    Xr[0], Xr[1], Xr[2] = X[0], X[1][:0], X[2]
    with pytest.raises(ValueError, match="Recording 1 has no segments"):
        clf.predict(Xr)
    with pytest.raises(ValueError, match="Recording 1 has no segments"):
        RecordingFusion(LogisticRegression(), flatten=True).fit(Xr, y[[0, 3, 6]])
    Xr[1] = X[1][:, :2]
    with pytest.raises(ValueError, match=r"Recording 1 has segments of shape \(2,\)"):
        clf.predict(Xr)
    with pytest.raises(ValueError, match="Recording 0 has no segments"):
        clf.predict(np.zeros((2, 0, 4)))


def test_clone_params_pickle(rng):
    X, y = _scenes(rng, n_per_class=4)
    clf = RecordingFusion(LogisticRegression(C=1.0), flatten=True, floor=1e-5)
    clf.set_params(estimator__C=0.01)
    assert clf.get_params()["estimator__C"] == 0.01
    c2 = clone(clf)
    assert c2.get_params()["estimator__C"] == 0.01 and c2.floor == 1e-5
    clf.fit(X, y)
    assert clf.estimator_.C == 0.01
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X))


def test_grid_search_over_inner_c(rng):
    X, y = _scenes(rng, n_per_class=6, shift=0.4)
    search = GridSearchCV(
        RecordingFusion(LogisticRegression(), flatten=True), {"estimator__C": [1e-4, 1.0]}, cv=3
    ).fit(X, y)
    assert search.best_params_["estimator__C"] in (1e-4, 1.0)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert search.predict(X).shape == (len(y),)


def test_recording_fusion_inside_pipeline(rng):
    X, y = _scenes(rng, n_per_class=4)
    pipe = Pipeline(
        [
            ("scale", FunctionTransformer(lambda Z: 2 * Z)),
            ("fusion", RecordingFusion(LogisticRegression(), flatten=True)),
        ]
    )
    pipe.fit(X, y)
    levels = predict_proba_levels(pipe, X)
    rec, seg, idx = levels.proba, levels.segment_proba, levels.segment_index
    np.testing.assert_allclose(rec, pipe.predict_proba(X))
    np.testing.assert_allclose(seg, pipe[-1].predict_proba_segments(2 * X))
    assert idx.shape == (X.shape[0] * X.shape[1],)
    # plain classifier: no segment level
    lr = LogisticRegression().fit(_flat(X), y)
    levels = predict_proba_levels(lr, _flat(X))
    assert levels.segment_proba is None and levels.segment_index is None
    np.testing.assert_allclose(levels.proba, lr.predict_proba(_flat(X)), rtol=1e-12)


# --------------------------------------------------------------------------- SystemFusion
def _two_systems():
    return SystemFusion(
        [
            ("logmel", RecordingFusion(LogisticRegression(C=1.0), flatten=True)),
            (
                "loggam",
                Pipeline(
                    [
                        ("half", FunctionTransformer(lambda Z: Z[:, :, :2])),
                        ("fusion", RecordingFusion(LogisticRegression(C=0.1), flatten=True)),
                    ]
                ),
            ),
        ]
    )


def test_system_fusion_is_product_of_system_posteriors(rng):
    X, y = _scenes(rng, n_per_class=5, shift=0.3)
    fused = _two_systems().fit(X, y)
    a = fused.named_estimators_["logmel"].predict_proba(X)
    b = fused.named_estimators_["loggam"].predict_proba(X)
    e = a * b
    e /= e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(fused.predict_proba(X), e, rtol=1e-8)
    np.testing.assert_array_equal(fused.predict(X), fused.classes_[e.argmax(1)])
    # segment level: product of the systems' segment posteriors
    sa = fused.estimators_[0].predict_proba_segments(X)
    sb = fused.estimators_[1][-1].predict_proba_segments(X[:, :, :2])
    es = sa * sb
    np.testing.assert_allclose(
        fused.predict_proba_segments(X), es / es.sum(axis=1, keepdims=True), rtol=1e-8
    )
    np.testing.assert_array_equal(
        fused.segment_recording_index(X), np.repeat(np.arange(len(y)), X.shape[1])
    )
    np.testing.assert_array_equal(fused.predict_segments(X), fused.classes_[es.argmax(1)])
    assert 0.0 <= fused.score(X, y) <= 1.0


def test_system_fusion_params_by_name_clone_pickle(rng):
    X, y = _scenes(rng, n_per_class=4)
    fused = _two_systems()
    params = fused.get_params()
    assert params["logmel__estimator__C"] == 1.0
    assert params["loggam__fusion__estimator__C"] == 0.1
    fused.set_params(logmel__estimator__C=0.5, loggam__fusion__floor=1e-3)
    assert fused.named_estimators["logmel"].estimator.C == 0.5
    fused = clone(fused).fit(X, y)
    assert fused.estimators_[0].estimator_.C == 0.5
    assert fused.named_estimators_["loggam"][-1].floor == 1e-3
    restored = pickle.loads(
        pickle.dumps(
            SystemFusion(
                [
                    ("a", RecordingFusion(LogisticRegression(), flatten=True)),
                    ("b", RecordingFusion(LogisticRegression(C=0.2), flatten=True)),
                ]
            ).fit(X, y)
        )
    )
    assert restored.predict_proba(X).shape == (len(y), 3)
    # replace a whole system by name
    fused.set_params(logmel=RecordingFusion(LogisticRegression(C=3.0), flatten=True))
    assert fused.estimators[0][1].estimator.C == 3.0


def test_system_fusion_without_segment_level(rng):
    X, y = _scenes(rng, n_per_class=4)
    Xf = _flat(X)
    fused = SystemFusion([("lr", LogisticRegression()), ("lr2", LogisticRegression(C=0.1))])
    assert not hasattr(fused, "predict_proba_segments")
    fused.fit(Xf, y)
    assert not hasattr(fused, "predict_segments")
    e = fused.estimators_[0].predict_proba(Xf) * fused.estimators_[1].predict_proba(Xf)
    np.testing.assert_allclose(fused.predict_proba(Xf), e / e.sum(1, keepdims=True))
    levels = predict_proba_levels(fused, Xf)
    assert levels.segment_proba is None and levels.segment_index is None
    nested = SystemFusion([("inner", fused), ("rf", RecordingFusion(LogisticRegression()))])
    assert not hasattr(nested, "predict_proba_segments")


class _ShiftedLabels(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)[::-1]
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))


def test_system_fusion_errors(rng):
    X, y = _scenes(rng, n_per_class=3)
    Xf = _flat(X)
    with pytest.raises(ValueError, match="Names provided are not unique"):
        SystemFusion([("a", LogisticRegression()), ("a", LogisticRegression())]).fit(Xf, y)
    with pytest.raises(ValueError, match="non-empty list of"):
        SystemFusion([]).fit(Xf, y)
    with pytest.raises(TypeError, match="System 'svm' of SystemFusion must be a classifier"):
        SystemFusion([("svm", LinearSVC())]).fit(Xf, y)
    with pytest.raises(ValueError, match="System 'odd' has classes"):
        SystemFusion([("lr", LogisticRegression()), ("odd", _ShiftedLabels())]).fit(Xf, y)
    with pytest.raises(ValueError, match="X has 9 recordings but y has 2 labels"):
        SystemFusion([("lr", LogisticRegression())]).fit(Xf, y[:2])
    fused = SystemFusion([("lr", LogisticRegression())]).fit(Xf, y)
    with pytest.raises(ValueError, match=r"never seen in fit: \['tram'\]"):
        fused.score(Xf, np.array(["tram"] * 9))


# --------------------------------------------------------------------------- fusion floor
class _FixedSegmentPosteriors(ClassifierMixin, BaseEstimator):
    """Segment posteriors read from the segment's two features (already a posterior)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.asarray(X, dtype=np.float64)


def _confident_systems():
    """Issue 10's counterexample: recording posteriors A = [1 - 1e-12, 1e-12] (two
    segments of [1 - 1e-6, 1e-6]) and B = [1e-9, 1 - 1e-9] (three segments of
    [1e-3, 1 - 1e-3]); the unfloored product is [0.999, 0.001]."""
    seg_a = np.array([1 - 1e-6, 1e-6])
    seg_b = np.array([1e-3, 1 - 1e-3])
    Xa = np.empty(2, dtype=object)
    Xa[0], Xa[1] = np.tile(seg_a, (2, 1)), np.tile(seg_a[::-1], (2, 1))
    Xb = np.empty(2, dtype=object)
    Xb[0], Xb[1] = np.tile(seg_b, (3, 1)), np.tile(seg_b[::-1], (3, 1))
    X = np.empty(2, dtype=object)  # each system picks its own view of a recording
    X[0], X[1] = (Xa[0], Xb[0]), (Xa[1], Xb[1])

    def pick(k):
        return FunctionTransformer(
            lambda Z: np.array([z[k] for z in Z] + [None], dtype=object)[:-1]
        )

    a = Pipeline([("pick", pick(0)), ("fusion", RecordingFusion(_FixedSegmentPosteriors()))])
    b = Pipeline([("pick", pick(1)), ("fusion", RecordingFusion(_FixedSegmentPosteriors()))])
    return X, np.array(["left", "right"]), a, b


def test_system_fusion_floors_segments_not_recordings():
    X, y, a, b = _confident_systems()
    fused = SystemFusion([("a", a), ("b", b)]).fit(X, y)
    pa = fused.estimators_[0].predict_proba(X)
    pb = fused.estimators_[1].predict_proba(X)
    assert pa[0, 1] < 1.1e-12 and pb[0, 0] < 1.1e-9  # both far below the floor 1e-7
    # the product of all 5 segments: 1e-9 against 1e-12 -> [0.999, 0.001]
    expected = np.array([1e-9 * (1 - 1e-6) ** 2, 1e-12 * (1 - 1e-3) ** 3])
    expected /= expected.sum()
    proba = fused.predict_proba(X)
    np.testing.assert_allclose(proba[0], expected, rtol=1e-6)
    np.testing.assert_allclose(proba[1], expected[::-1], rtol=1e-6)
    assert fused.predict(X).tolist() == ["left", "right"]
    np.testing.assert_allclose(np.exp(fused.predict_log_proba(X)), proba, rtol=1e-12)


def test_systems_cut_differently_fuse_per_recording_only():
    # one _posteriors feeds predict_proba, predict_proba_levels and evaluate: systems
    # with different segmentations have recording posteriors and no segment level
    from skasc.evaluation import evaluate

    X, y, a, b = _confident_systems()  # 2 and 3 segments per recording
    fused = SystemFusion([("a", a), ("b", b)]).fit(X, y)
    levels = predict_proba_levels(fused, X)
    assert levels.segment_proba is None and levels.segment_index is None
    assert levels.segment_log_evidence is None
    np.testing.assert_array_equal(levels.proba, fused.predict_proba(X))
    with pytest.raises(ValueError, match="System 'b' cut the recordings into 6 segments"):
        fused.predict_proba_segments(X)
    X4, y4 = np.concatenate([X, X]), np.concatenate([y, y])
    report = evaluate(
        SystemFusion([("a", a), ("b", b)]), X4, y4, cv=[(np.array([0, 1]), np.array([2, 3]))]
    )
    assert not report.has_segments
    np.testing.assert_allclose(report.splits[0].proba, levels.proba, rtol=1e-12)


def test_fuse_reports_floors_segments_not_recordings():
    from skasc.evaluation import evaluate, fuse_reports

    X, y, a, b = _confident_systems()  # the systems cut recordings into 2 and 3 segments
    X4 = np.concatenate([X, X])
    y4 = np.concatenate([y, y])
    cv = [(np.array([0, 1]), np.array([2, 3]))]
    fused = fuse_reports(evaluate(a, X4, y4, cv=cv), evaluate(b, X4, y4, cv=cv))
    expected = np.array([1e-9 * (1 - 1e-6) ** 2, 1e-12 * (1 - 1e-3) ** 3])
    np.testing.assert_allclose(fused.splits[0].proba[0], expected / expected.sum(), rtol=1e-6)
    assert fused.splits[0].y_pred.tolist() == ["left", "right"]


def test_system_fusion_counts_segments_without_predicting():
    # segment_recording_index used to run every system's full prediction
    from sklearn.linear_model import LogisticRegression

    from skasc.fusion import RecordingFusion, SystemFusion

    rng = np.random.default_rng(0)
    y = np.repeat(["bus", "park"], 4)
    X = rng.normal(size=(8, 3, 4)) + (np.arange(8) // 4)[:, None, None]
    fused = SystemFusion(
        [
            ("a", RecordingFusion(LogisticRegression(), flatten=True)),
            ("b", RecordingFusion(LogisticRegression(), flatten=True)),
        ]
    ).fit(X, y)
    expected = predict_proba_levels(fused, X).segment_index
    for system in fused.estimators_:

        def refuse(*args, **kwargs):
            raise AssertionError("segment_recording_index ran a prediction")

        system.estimator_.predict_proba = refuse
    np.testing.assert_array_equal(fused.segment_recording_index(X), expected)
    np.testing.assert_array_equal(expected, np.repeat(np.arange(8), 3))


# --------------------------------------------------------------------------- Posteriors
def test_posteriors_is_one_frozen_record_at_two_levels(rng):
    import dataclasses

    from skasc.fusion import Posteriors

    X, y = _scenes(rng, n_per_class=4)
    clf = RecordingFusion(LogisticRegression(), flatten=True).fit(X, y)
    levels = predict_proba_levels(clf, X)
    assert isinstance(levels, Posteriors)
    with pytest.raises(dataclasses.FrozenInstanceError):
        levels.segment_proba = None
    # independent: the inner classifier's posteriors of every segment, floored and
    # multiplied per recording
    seg = clf.estimator_.predict_proba(X.reshape(-1, X.shape[-1]))
    np.testing.assert_allclose(levels.segment_proba, seg, rtol=1e-12)
    np.testing.assert_array_equal(levels.segment_index, np.repeat(np.arange(len(X)), X.shape[1]))
    product = np.prod(np.maximum(seg, clf.floor).reshape(len(X), X.shape[1], -1), axis=1)
    np.testing.assert_allclose(levels.proba, product / product.sum(1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(
        levels.segment_log_evidence, np.log(np.maximum(seg, clf.floor)), rtol=1e-12
    )


def test_fuse_systems_on_data_is_what_system_fusion_does(rng):
    """fuse_systems is the product rule across systems on Posteriors records; SystemFusion
    and fuse_reports read it, and it equals the product computed directly."""
    from skasc.fusion import fuse_systems, segment_log_evidence

    X, y = _scenes(rng, n_per_class=4)
    fused = _two_systems().fit(X, y)
    systems = [predict_proba_levels(est, X) for est in fused.estimators_]
    levels = fuse_systems(systems, floor=fused.floor)
    np.testing.assert_array_equal(levels.log_proba, fused.predict_log_proba(X))
    np.testing.assert_array_equal(levels.segment_proba, fused.predict_proba_segments(X))
    evidence = segment_log_evidence(fused, X)
    np.testing.assert_array_equal(levels.segment_log_evidence, evidence.segment_log_evidence)
    # directly: every segment of every system, floored and multiplied per recording
    seg = np.stack([np.maximum(s.segment_proba, fused.floor) for s in systems])
    per_recording = np.prod(seg.reshape(2, len(X), X.shape[1], -1), axis=(0, 2))
    np.testing.assert_allclose(
        levels.proba, per_recording / per_recording.sum(1, keepdims=True), rtol=1e-10
    )
    product = np.prod(seg, axis=0)
    np.testing.assert_allclose(
        levels.segment_proba, product / product.sum(1, keepdims=True), rtol=1e-10
    )
    # a system without a segment level contributes its floored recording posteriors
    plain = np.full((len(X), 3), 1 / 3)
    mixed = fuse_systems([systems[0], plain], floor=fused.floor)
    assert mixed.segment_proba is None and mixed.segment_log_evidence is None
    np.testing.assert_allclose(mixed.proba, systems[0].proba, rtol=1e-12)


# ------------------------------------------------------------- rules and temperature
def test_mean_rule_is_the_renormalised_geometric_mean(rng):
    p = _random_probas(rng, 9, 4)
    lengths = [2, 3, 4]
    got = np.exp(fuse_log_posteriors(np.log(p), lengths=lengths, rule="mean"))
    starts = np.cumsum([0] + lengths[:-1])
    for r, (s, n) in enumerate(zip(starts, lengths)):
        geo = np.prod(p[s : s + n], axis=0) ** (1.0 / n)  # the independent computation
        np.testing.assert_allclose(got[r], geo / geo.sum(), rtol=1e-12)
    product = fuse_log_posteriors(np.log(p), lengths=lengths)
    assert (got.argmax(1) == product.argmax(1)).all()
    with pytest.raises(ValueError, match="The 'rule' parameter of fuse_log_posteriors"):
        fuse_log_posteriors(np.log(p), lengths=lengths, rule="max")


def test_recording_fusion_rule_and_fixed_temperature(rng):
    X, y = _scenes(rng)
    product = RecordingFusion(RecordingStub()).fit(X, y)
    seg = product.predict_proba_segments(X)
    for rule, power in (("product", 1.0), ("mean", 1.0 / X.shape[1])):
        for temperature in (1.0, 2.5, 0.5):
            clf = RecordingFusion(RecordingStub(), rule=rule, temperature=temperature).fit(X, y)
            fused = np.prod(np.maximum(seg, 1e-7).reshape(len(X), X.shape[1], -1), axis=1)
            expected = fused ** (power / temperature)
            np.testing.assert_allclose(
                clf.predict_proba(X), expected / expected.sum(1, keepdims=True), rtol=1e-9
            )
            np.testing.assert_array_equal(clf.predict(X), product.predict(X))
            assert clf.temperature_ == temperature and clf.holdout_index_.size == 0
    for bad in (0.0, -1.0, np.inf, "train", True):
        with pytest.raises(ValueError, match="The 'temperature' parameter of RecordingFusion"):
            RecordingFusion(RecordingStub(), temperature=bad).fit(X, y)


def test_holdout_temperature_is_fitted_on_recordings_the_estimator_never_saw(rng):
    from skasc.fusion import fit_temperature, pool_evidence

    X, y = _scenes(rng, n_per_class=14, shift=0.3)
    groups = np.arange(len(y)) // 2  # pairs of recordings from one source
    clf = RecordingFusion(
        RecordingStub(), rule="mean", temperature="holdout", holdout=0.2, random_state=3
    ).fit(X, y, groups=groups)
    held = clf.holdout_index_
    trained = np.setdiff1d(np.arange(len(y)), held)
    assert 0 < held.size < len(y) / 2
    # the estimator saw exactly the other recordings' segments
    np.testing.assert_array_equal(clf.estimator_.X_fit_, X[trained].reshape(-1, X.shape[2]))
    # groups never straddle, every class is on both sides
    assert not set(groups[held]) & set(groups[trained])
    assert set(y[held]) == set(y[trained]) == set(y)
    # the temperature minimises the held-out recordings' log loss (independent recompute)
    seg = clf.estimator_.predict_proba(X[held].reshape(-1, X.shape[2]))
    evidence = pool_evidence(np.log(np.maximum(seg, 1e-7)), np.full(held.size, X.shape[1]), "mean")
    codes = np.searchsorted(clf.classes_, y[held])
    assert clf.temperature_ == pytest.approx(fit_temperature(evidence, codes))

    def loss(t):
        z = evidence / t
        z = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -z[np.arange(held.size), codes].mean()

    assert loss(clf.temperature_) <= min(loss(clf.temperature_ * f) for f in (0.9, 1.1))
    # the same seed, the same split; recordings without groups are their own group
    again = RecordingFusion(
        RecordingStub(), rule="mean", temperature="holdout", holdout=0.2, random_state=3
    ).fit(X, y, groups=groups)
    np.testing.assert_array_equal(again.holdout_index_, held)
    alone = RecordingFusion(RecordingStub(), temperature="holdout", random_state=0).fit(X, y)
    assert alone.holdout_index_.size > 0


def test_holdout_keeps_every_class_trained_and_says_when_it_cannot_split():
    from skasc.fusion import holdout_split

    codes = np.array([0] * 10 + [1] * 10 + [2])  # class 2: one recording
    for seed in range(20):
        train, held = holdout_split(codes, None, 0.5, seed)
        assert 2 in codes[train] and set(codes[train]) == {0, 1, 2}
        assert np.intersect1d(train, held).size == 0 and train.size + held.size == 21
    # nothing can be held out: one group, or one recording per class
    assert holdout_split(codes, np.zeros(21), 0.2, 0)[1].size == 0
    assert holdout_split(np.array([0, 1]), None, 0.5, 0)[1].size == 0
    with pytest.raises(
        ValueError, match=r"groups must have one entry per recording, shape \(21,\)"
    ):
        holdout_split(codes, np.zeros(3), 0.2, 0)
    X = np.random.default_rng(0).normal(size=(2, 3, 4))
    with pytest.warns(UserWarning, match="found no recording to hold out") as caught:
        clf = RecordingFusion(RecordingStub(), temperature="holdout").fit(X, ["a", "b"])
    assert len(caught) == 1 and caught[0].filename == __file__
    assert clf.temperature_ == 1.0 and clf.holdout_index_.size == 0
    assert clf.estimator_.X_fit_.shape == (6, 4)  # trained on every recording


class OracleStub(ClassifierMixin, BaseEstimator):
    """Right on every segment: column 0 of a segment holds its class code."""

    def fit(self, X, y, **fit_params):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        p = np.exp(4.0 * np.eye(len(self.classes_))[np.asarray(X)[:, 0].astype(int)])
        return p / p.sum(axis=1, keepdims=True)


def test_holdout_temperature_that_measures_nothing_falls_back_to_one():
    """Held-out recordings all classified right drive the fitted T to the bottom of
    its range, which would make every posterior one-hot: one warning, T = 1."""
    codes = np.repeat([0, 1, 2], 10)
    X = np.repeat(codes[:, None, None], 3, axis=1).astype(float)  # 3 segments each
    with pytest.warns(
        UserWarning, match=r"held-out recordings were all classified right"
    ) as caught:
        clf = RecordingFusion(OracleStub(), rule="mean", temperature="holdout", random_state=0).fit(
            X, codes
        )
    assert len(caught) == 1 and caught[0].filename == __file__
    assert clf.temperature_ == 1.0 and clf.holdout_index_.size > 0
    # through a Pipeline (sklearn's frames between): still the user's line
    pipe = make_pipeline(
        FunctionTransformer(None),
        RecordingFusion(OracleStub(), rule="mean", temperature="holdout", random_state=0),
    )
    with pytest.warns(UserWarning, match=r"all classified right") as caught:
        pipe.fit(X, codes)
    assert len(caught) == 1 and caught[0].filename == __file__
    # and through cross_val_score (joblib's frames too): one per fit, each the user's line
    with pytest.warns(UserWarning, match=r"all classified right") as caught:
        cross_val_score(pipe, X, codes, cv=2)
    assert len(caught) == 2 and {w.filename for w in caught} == {__file__}


def test_per_recording_fit_arguments_are_checked_whatever_the_temperature(rng):
    X, y = _scenes(rng)
    for temperature in (1.0, "holdout"):
        clf = RecordingFusion(RecordingStub(), temperature=temperature, random_state=0)
        with pytest.raises(
            ValueError, match=rf"groups must have one entry per recording, {len(y)}"
        ):
            clf.fit(X, y, groups=[1, 2])
        for n in (len(y) - 3, len(y) + 3):
            with pytest.raises(ValueError, match="sample_weight must have one entry per recording"):
                clf.fit(X, y, sample_weight=np.ones(n))


def test_system_fusion_multiplies_the_systems_tempered_recording_posteriors(rng):
    X, y = _scenes(rng)
    a = RecordingFusion(RecordingStub(), rule="mean", temperature=2.0)
    b = RecordingFusion(RecordingStub(), temperature=0.7)
    fused = SystemFusion([("a", a), ("b", b)]).fit(X, y)
    pa, pb = (est.predict_proba(X) for est in fused.estimators_)
    expected = pa * pb
    np.testing.assert_allclose(
        fused.predict_proba(X), expected / expected.sum(1, keepdims=True), rtol=1e-9
    )
    # windows need one pooling rule: systems that pool differently have none
    assert predict_proba_levels(fused, X).rule is None
    from skasc.fusion import segment_log_evidence

    with pytest.raises(ValueError, match=r"fuse segments by different rules \['mean', 'product'\]"):
        segment_log_evidence(fused, X)


def test_segment_evidence_pools_into_the_recording_posteriors_under_both_rules(rng):
    from skasc.fusion import segment_log_evidence

    X, y = _scenes(rng)
    for rule in ("product", "mean"):
        clf = RecordingFusion(RecordingStub(), rule=rule, temperature=1.7).fit(X, y)
        levels = segment_log_evidence(clf, X)
        assert levels.rule == rule
        lengths = np.bincount(levels.segment_index)
        np.testing.assert_allclose(
            fuse_log_posteriors(levels.segment_log_evidence, lengths=lengths, rule=rule),
            clf.predict_log_proba(X),
            rtol=1e-12,
        )


def test_groups_reach_every_systems_holdout_through_pipelines(rng):
    from skasc.evaluation import evaluate
    from skasc.fusion import groups_fit_params

    X, y = _scenes(rng, n_per_class=12, shift=0.5)
    groups = np.arange(len(y)) // 3
    system = Pipeline(
        [
            ("scale", FunctionTransformer()),
            ("fusion", RecordingFusion(RecordingStub(), temperature="holdout", random_state=0)),
        ]
    )
    fused = Pipeline(
        [
            ("identity", FunctionTransformer()),
            ("fusion", SystemFusion([("a", system), ("b", clone(system))])),
        ]
    )
    assert groups_fit_params(fused, groups) == {"fusion__groups": groups}
    assert groups_fit_params(LogisticRegression(), groups) == {}
    fused.fit(X, y, **groups_fit_params(fused, groups))
    for est in fused[-1].estimators_:
        held = est[-1].holdout_index_
        assert not set(groups[held]) & set(np.delete(groups, held))
    report = evaluate(system, X, y, cv=GroupKFold(2), groups=groups, return_estimators=True)
    for split in report.splits:  # the training side's groups, indexed like its recordings
        train = np.setdiff1d(np.arange(len(y)), split.test_index)
        held = train[split.estimator[-1].holdout_index_]
        assert not set(groups[held]) & set(groups[np.setdiff1d(train, held)])
