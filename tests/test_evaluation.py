import json

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import _safe_indexing

from skasc.evaluation import EvaluationReport, evaluate, format_table, fuse_reports
from skasc.fusion import RecordingFusion, SystemFusion


def _scenes(rng, n_per_class=6, n_seg=5, shift=0.5):
    classes = np.array(["bus", "park", "street"])
    codes = np.repeat(np.arange(3), n_per_class)
    X = rng.normal(size=(codes.size, n_seg, 4))
    X[:, :, 0] += shift * codes[:, None]
    X[:, :, 1] -= shift * codes[:, None]
    return X, classes[codes]


def _direct(y_true, y_pred):
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "f1_macro": f1_score(y_true, y_pred, average="macro", zero_division=0),
        "precision_macro": precision_score(y_true, y_pred, average="macro", zero_division=0),
    }


def test_evaluate_matches_direct_metrics(rng):
    X, y = _scenes(rng)
    est = RecordingFusion(LogisticRegression(C=0.5), flatten=True)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    report = evaluate(est, X, y, cv=cv, return_estimators=True)
    assert isinstance(report, EvaluationReport)
    assert len(report.splits) == 3 and report.has_segments
    rec_cm = np.zeros((3, 3), int)
    seg_cm = np.zeros((3, 3), int)
    for k, (train, test) in enumerate(cv.split(X, y)):
        fitted = RecordingFusion(LogisticRegression(C=0.5), flatten=True).fit(X[train], y[train])
        rec_pred = fitted.predict(X[test])
        seg_pred = fitted.predict_segments(X[test])
        seg_true = np.repeat(y[test], X.shape[1])
        split = report.splits[k]
        np.testing.assert_array_equal(split.test_index, test)
        np.testing.assert_array_equal(split.y_pred, rec_pred)
        np.testing.assert_array_equal(split.segment_y_pred, seg_pred)
        np.testing.assert_array_equal(split.segment_y_true, seg_true)
        for metric, value in _direct(y[test], rec_pred).items():
            assert report.split_scores("recording", metric)[k] == pytest.approx(value)
        for metric, value in _direct(seg_true, seg_pred).items():
            assert report.split_scores("segment", metric)[k] == pytest.approx(value)
        rec_cm += confusion_matrix(y[test], rec_pred, labels=["bus", "park", "street"])
        seg_cm += confusion_matrix(seg_true, seg_pred, labels=["bus", "park", "street"])
        assert split.estimator is not None and split.estimator is not est
    np.testing.assert_array_equal(report.recording_confusion, rec_cm)
    np.testing.assert_array_equal(report.segment_confusion, seg_cm)
    assert report.class_names == ["bus", "park", "street"]
    acc = report.split_scores("segment", "accuracy")
    assert report.mean("segment") == pytest.approx(acc.mean())
    assert report.std("segment") == pytest.approx(acc.std())


def test_evaluate_int_cv_parallel_and_pipeline(rng):
    X, y = _scenes(rng, n_per_class=4)
    pipe = Pipeline(
        [
            ("scale", FunctionTransformer(np.negative)),
            ("fusion", RecordingFusion(LogisticRegression(), flatten=True)),
        ]
    )
    serial = evaluate(pipe, X, y, cv=2)
    with joblib.parallel_backend("threading"):  # any joblib backend (e.g. Dask) runs the splits
        parallel = evaluate(pipe, X, y, cv=2, n_jobs=2)
    assert serial.has_segments
    np.testing.assert_allclose(serial.split_scores("segment"), parallel.split_scores("segment"))
    # cv=2 means StratifiedKFold(2) without shuffling
    tests = [t for _, t in StratifiedKFold(2).split(X, y)]
    for split, test in zip(serial.splits, tests):
        np.testing.assert_array_equal(split.test_index, test)
    assert serial.estimators == [None, None]
    assert serial.segment_confusion.sum() == X.shape[0] * X.shape[1]


def test_evaluate_ragged_recordings(rng):
    X, y = _scenes(rng, n_per_class=4)
    lengths = rng.integers(1, 6, size=len(y))
    Xr = np.empty(len(y), dtype=object)
    for i, n in enumerate(lengths):
        Xr[i] = X[i][:n]
    report = evaluate(RecordingFusion(LogisticRegression(), flatten=True), Xr, y, cv=2)
    assert report.segment_confusion.sum() == lengths.sum()
    assert report.recording_confusion.sum() == len(y)


def test_evaluate_plain_classifier_has_no_segment_level(rng):
    X, y = _scenes(rng, n_per_class=4)
    Xf = X.reshape(len(X), -1)
    report = evaluate(LogisticRegression(), Xf, y, cv=2)
    assert not report.has_segments and report.segment_confusion is None
    with pytest.raises(ValueError, match="no segment-level scores"):
        report.split_scores("segment")
    table = report.to_table(name="LR")
    row = table.splitlines()[2].split()
    assert row[0] == "LR" and row[1] == "-"
    assert "segment" not in report.to_dict()


class _Segmenter(ClassifierMixin, BaseEstimator):
    """Duck-typed object with predict_segments (no fusion internals)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def predict_segments(self, X):
        return np.full(len(X) * 2, self.classes_[1])

    def segment_recording_index(self, X):
        return np.repeat(np.arange(len(X)), 2)


def test_evaluate_duck_typed_segments(rng):
    X, y = _scenes(rng, n_per_class=2)
    report = evaluate(_Segmenter(), X, y, cv=2)
    assert report.mean("recording") == pytest.approx(1 / 3)
    assert report.mean("segment") == pytest.approx(1 / 3)
    assert report.segment_confusion[:, 1].sum() == 2 * len(y)


def test_table_and_dict_contain_numbers(rng):
    X, y = _scenes(rng)
    report = evaluate(RecordingFusion(LogisticRegression(), flatten=True), X, y, cv=3)
    table = report.to_table(name="Att-CRNN (logMel)")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["System", "Segment", "Acc."]  # no Segmenter: no duration
    assert report.to_table(paper_terms=True).split()[:3] == ["System", "2s", "Acc."]
    row = lines[2]
    assert row.startswith("Att-CRNN (logMel)")
    expected = [
        report.mean("segment"),
        report.mean("recording"),
        report.mean("recording", "balanced_accuracy"),
        report.mean("recording", "f1_macro"),
        report.mean("recording", "precision_macro"),
    ]
    assert row.split()[-5:] == [f"{100 * v:.2f}" for v in expected]
    assert str(report) == report.to_table()
    both = format_table({"a": report, "b": report}, std=True)
    assert len(both.splitlines()) == 4
    assert f"± {100 * report.std('recording'):.2f}" in both
    d = json.loads(json.dumps(report.to_dict()))
    assert d["recording"]["accuracy"]["mean"] == pytest.approx(report.mean("recording"))
    assert d["segment"]["f1_macro"]["splits"] == pytest.approx(
        report.split_scores("segment", "f1_macro").tolist()
    )
    assert np.array_equal(d["recording_confusion"], report.recording_confusion)
    assert d["n_splits"] == 3


def test_histories_found_best_effort(rng):
    class _FakeNet(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            self.history_ = [{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}]
            return self

        def predict_proba(self, X):
            return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

        @property
        def history(self):
            return self.history_

    X, y = _scenes(rng, n_per_class=2)
    report = evaluate(RecordingFusion(_FakeNet()), X, y, cv=2)
    assert (
        report.histories == [[{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}]] * 2
    )
    plain = evaluate(LogisticRegression(), X.reshape(len(X), -1), y, cv=2)
    assert plain.histories == []


def test_evaluate_errors(rng):
    X, y = _scenes(rng, n_per_class=3)
    est = RecordingFusion(LogisticRegression(), flatten=True)
    with pytest.raises(ValueError, match="X has 9 recordings but y has 8 labels"):
        evaluate(est, X, y[:-1], cv=2)
    with pytest.raises(ValueError, match="one label per recording"):
        evaluate(est, X, y[:, None], cv=2)
    # unshuffled KFold(3) on sorted labels: each test fold holds a class never seen in fit
    with pytest.raises(ValueError, match=r"Split 0: .*never seen in fit: \['bus'\]"):
        evaluate(est, X, y, cv=KFold(3))
    report = evaluate(est, X, y, cv=3)
    with pytest.raises(ValueError, match="'metric' must be one of"):
        report.mean("recording", "recall")
    with pytest.raises(ValueError, match="'level' must be one of"):
        report.split_scores("file")
    with pytest.raises(ValueError, match="at least one report"):
        format_table({})


def test_safe_indexing_on_object_arrays(rng):
    # sanity check of the indexing evaluate relies on for ragged batches
    Xr = np.empty(3, dtype=object)
    for i in range(3):
        Xr[i] = np.full((i + 1, 2), i)
    sub = _safe_indexing(Xr, np.array([2, 0]))
    assert sub.dtype == object and sub[0].shape == (3, 2) and sub[1].shape == (1, 2)


def _system(C, cols):
    return Pipeline(
        [
            ("pick", FunctionTransformer(_pick, kw_args={"cols": cols})),
            ("fusion", RecordingFusion(LogisticRegression(C=C), flatten=True)),
        ]
    )


def _pick(X, cols):
    return X[:, :, cols]


def test_fuse_reports_equals_evaluating_system_fusion(rng):
    X, y = _scenes(rng, shift=0.3)
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    a, b = _system(1.0, [0, 2]), _system(0.3, [1, 3])
    ra, rb = evaluate(a, X, y, cv=cv), evaluate(b, X, y, cv=cv)
    fused = fuse_reports(ra, rb)
    direct = evaluate(SystemFusion([("a", a), ("b", b)]), X, y, cv=cv)
    assert fused.has_segments
    for fs, ds, sa, sb in zip(fused.splits, direct.splits, ra.splits, rb.splits):
        np.testing.assert_allclose(fs.proba, ds.proba, rtol=1e-8)
        np.testing.assert_allclose(fs.segment_proba, ds.segment_proba, rtol=1e-8)
        e = sa.proba * sb.proba
        np.testing.assert_allclose(fs.proba, e / e.sum(1, keepdims=True), rtol=1e-8)
        np.testing.assert_array_equal(fs.y_pred, ds.y_pred)
    for level in ("segment", "recording"):
        for metric in ("accuracy", "f1_macro", "precision_macro"):
            np.testing.assert_allclose(
                fused.split_scores(level, metric), direct.split_scores(level, metric)
            )
    np.testing.assert_array_equal(fused.recording_confusion, direct.recording_confusion)
    np.testing.assert_array_equal(fused.segment_confusion, direct.segment_confusion)
    assert fused.histories == []
    table = format_table({"a": ra, "b": rb, "fusion": fused})
    assert table.splitlines()[-1].startswith("fusion")


def test_fuse_reports_errors(rng):
    X, y = _scenes(rng, n_per_class=4)
    est = _system(1.0, [0, 1])
    r2 = evaluate(est, X, y, cv=2)
    r2b = evaluate(est, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=3))
    r4 = evaluate(est, X, y, cv=4)
    with pytest.raises(ValueError, match="at least 2 reports; got 1"):
        fuse_reports(r2)
    with pytest.raises(ValueError, match="Report 1 has 4 splits but report 0 has 2"):
        fuse_reports(r2, r4)
    with pytest.raises(ValueError, match="Split 0 of report 1 tests other recordings"):
        fuse_reports(r2, r2b)
    plain = evaluate(_Segmenter(), X, y, cv=2)
    with pytest.raises(ValueError, match="Report 1 has no posteriors in split 0"):
        fuse_reports(r2, plain)
    with pytest.raises(ValueError, match="'floor' parameter of fuse_reports"):
        fuse_reports(r2, r2, floor=0)


# ----------------------------------------------------------------- calibration
def test_log_loss_per_split_is_the_mean_negative_log_posterior_of_the_truth(rng):
    X, y = _scenes(rng)
    report = evaluate(RecordingFusion(LogisticRegression(), flatten=True), X, y, cv=3)
    for split in report.splits:
        columns = np.searchsorted(split.classes, split.y_true)
        direct = -np.mean(np.log(split.proba[np.arange(len(columns)), columns]))
        assert split.scores["recording"]["log_loss"] == pytest.approx(direct, rel=1e-9)
        seg_cols = np.searchsorted(split.classes, split.segment_y_true)
        seg_direct = -np.mean(np.log(split.segment_proba[np.arange(len(seg_cols)), seg_cols]))
        assert split.scores["segment"]["log_loss"] == pytest.approx(seg_direct, rel=1e-9)
    assert report.mean("recording", "log_loss") == pytest.approx(
        np.mean([s.scores["recording"]["log_loss"] for s in report.splits])
    )
    d = report.to_dict()
    assert d["recording"]["log_loss"]["mean"] == pytest.approx(report.mean("recording", "log_loss"))
    table = format_table({"LR": report}, log_loss=True)
    assert table.splitlines()[0].split()[-2:] == ["Log", "loss"]
    assert table.splitlines()[2].split()[-1] == f"{report.mean('recording', 'log_loss'):.3f}"


def test_a_report_without_posteriors_has_no_log_loss(rng):
    X, y = _scenes(rng, n_per_class=2)
    report = evaluate(_Segmenter(), X, y, cv=2)
    assert not report.has_metric("recording", "log_loss")
    with pytest.raises(ValueError, match="no log_loss at recording level"):
        report.mean("recording", "log_loss")
    assert "log_loss" not in report.to_dict()["recording"]
    assert format_table({"x": report}, log_loss=True).splitlines()[2].split()[-1] == "-"


def test_markdown_table(rng):
    X, y = _scenes(rng)
    report = evaluate(RecordingFusion(LogisticRegression(), flatten=True), X, y, cv=3)
    lines = format_table({"A": report, "B": report}, markdown=True, log_loss=True).splitlines()
    assert lines[0] == (
        "| System | Segment Acc. | Recording Acc. | Macro class-wise Acc. | "
        "F1-score | Prec. | Log loss |"
    )
    assert lines[1] == "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    assert lines[2].startswith("| A | ") and len(lines) == 4
    paper = format_table({"A": report}, markdown=True, paper_terms=True).splitlines()[0]
    assert paper == "| System | 2s Acc. | 30s Acc. | Macro class-wise Acc. | F1-score | Prec. |"


def test_reliability_curve_matches_a_direct_binning(rng):
    from skasc.evaluation import reliability_curve

    classes = np.array(["a", "b", "c"])
    proba = rng.dirichlet([0.5, 0.5, 0.5], size=400)
    y = classes[rng.integers(0, 3, size=400)]
    curve = reliability_curve(y, proba, classes, n_bins=10)
    conf, correct = proba.max(1), classes[proba.argmax(1)] == y
    ece = 0.0
    for k in range(10):  # bins (k/10, (k+1)/10], the first also holding 0
        lo, hi = k / 10, (k + 1) / 10
        inside = (conf > lo) & (conf <= hi) if k else (conf <= hi)
        assert curve["count"][k] == inside.sum()
        if inside.any():
            assert curve["accuracy"][k] == pytest.approx(correct[inside].mean())
            assert curve["confidence"][k] == pytest.approx(conf[inside].mean())
            ece += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    assert curve["ece"] == pytest.approx(ece)
    # binary top label: sklearn's calibration_curve bins the same way (uniform strategy)
    from sklearn.calibration import calibration_curve

    frac, mean_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    filled = curve["count"] > 0
    np.testing.assert_allclose(curve["accuracy"][filled], frac)
    np.testing.assert_allclose(curve["confidence"][filled], mean_pred)


def test_perfectly_calibrated_posteriors_have_small_ece(rng):
    from skasc.evaluation import reliability_curve

    classes = np.array([0, 1])
    p = rng.uniform(0.5, 1.0, size=20000)
    y = np.where(rng.uniform(size=p.size) < p, 0, 1)  # class 0 with probability p
    curve = reliability_curve(y, np.stack([p, 1 - p], 1), classes, n_bins=10)
    assert curve["ece"] < 0.02
    overconfident = reliability_curve(y, np.stack([np.ones_like(p), 0 * p], 1), classes)
    assert overconfident["ece"] == pytest.approx(1 - np.mean(y == 0))


def test_report_reliability_pools_the_splits(rng):
    from skasc.evaluation import reliability_curve

    X, y = _scenes(rng)
    report = evaluate(RecordingFusion(LogisticRegression(), flatten=True), X, y, cv=3)
    pooled = report.reliability("segment", n_bins=5)
    direct = reliability_curve(
        np.concatenate([s.segment_y_true for s in report.splits]),
        np.concatenate([s.segment_proba for s in report.splits]),
        report.splits[0].classes,
        n_bins=5,
    )
    assert pooled["ece"] == direct["ece"]
    assert pooled["count"].sum() == sum(len(s.segment_y_true) for s in report.splits)


def test_log_loss_counts_a_class_the_model_never_saw():
    from skasc.evaluation import classification_scores

    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    scores = classification_scores(["a", "b", "c"], ["a", "b", "a"], proba, ["a", "b"])
    eps = np.finfo(np.float64).eps
    direct = -np.mean(np.log([0.9, 0.8, eps]))  # 'c' has probability 0, clipped
    assert scores["log_loss"] == pytest.approx(direct, rel=1e-6)


def test_reliability_refuses_splits_with_other_columns(rng):
    X, y = _scenes(rng)
    report = evaluate(RecordingFusion(LogisticRegression(), flatten=True), X, y, cv=3)
    report.splits[1].classes = report.splits[1].classes[::-1]
    with pytest.raises(ValueError, match="Split 1 has posterior columns"):
        report.reliability()


def test_training_history_is_read_where_the_factories_put_the_net(rng):
    """training_history looks the net up by its known path (the fusion step's
    estimator_, its ``net`` step), not by searching every attribute."""
    from sklearn.preprocessing import MinMaxScaler

    from skasc.evaluation import training_history

    class _FakeNet(ClassifierMixin, BaseEstimator):
        def __init__(self, loss=1.0):
            self.loss = loss

        def fit(self, X, y):
            self.classes_ = np.unique(y)
            self.history_ = [{"epoch": 1, "train_loss": self.loss}]
            return self

        def predict_proba(self, X):
            return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

        def transform(self, X):
            return X

    X, y = _scenes(rng, n_per_class=2)
    head = Pipeline(
        [("net", _FakeNet(2.0)), ("scaler", MinMaxScaler()), ("svm", LogisticRegression())]
    )
    pipe = Pipeline(
        [
            ("flat", FunctionTransformer(lambda Z: Z)),
            ("fusion", RecordingFusion(head, flatten=True)),
        ]
    ).fit(X, y)
    assert training_history(pipe) == [{"epoch": 1, "train_loss": 2.0}]
    fused = SystemFusion(
        [
            ("a", RecordingFusion(_FakeNet(3.0), flatten=True)),
            ("b", RecordingFusion(_FakeNet(4.0), flatten=True)),
        ]
    ).fit(X, y)
    assert training_history(fused) == [{"epoch": 1, "train_loss": 3.0}]  # the first system's
    assert training_history(RecordingFusion(_FakeNet())) is None  # not fitted
    assert training_history(LogisticRegression().fit(X.reshape(len(X), -1), y)) is None
    report = evaluate(pipe, X, y, cv=2, return_estimators=True)
    assert report.histories == [[{"epoch": 1, "train_loss": 2.0}]] * 2


# ----------------------------------------------------------------------------- DCASE metrics
def test_class_wise_and_macro_class_wise_accuracy_match_sklearn_and_numpy(rng):
    from sklearn.metrics import balanced_accuracy_score, recall_score

    from skasc.evaluation import classification_scores

    for labels in (np.array(["bus", "park", "street", "tram"]), np.arange(4)):
        y_true = labels[rng.choice(4, size=200, p=[0.55, 0.25, 0.15, 0.05])]
        y_pred = np.where(rng.uniform(size=200) < 0.6, y_true, labels[rng.integers(0, 4, 200)])
        scores = classification_scores(y_true, y_pred)
        assert scores["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y_true, y_pred), abs=1e-12
        )
        direct = {
            c: np.sum((y_true == c) & (y_pred == c)) / np.sum(y_true == c)
            for c in np.unique(y_true)
        }
        assert scores["class_accuracy"] == pytest.approx(direct, abs=1e-12)
        recall = recall_score(y_true, y_pred, average=None, labels=np.unique(y_true))
        np.testing.assert_allclose(list(scores["class_accuracy"].values()), recall)
        assert list(scores["class_accuracy"]) == np.unique(y_true).tolist()
        assert json.loads(json.dumps(scores))  # plain keys and values
        # imbalance: the macro class-wise accuracy is not the accuracy
        assert scores["balanced_accuracy"] != pytest.approx(scores["accuracy"])


def test_macro_class_wise_accuracy_averages_the_classes_present_only():
    """A class predicted but absent from y_true has no class-wise accuracy; sklearn's
    balanced_accuracy_score drops it too (with a warning, which skasc does not give)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    from skasc.evaluation import classification_scores

    y_true, y_pred = ["a", "a", "a", "b"], ["a", "c", "c", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = classification_scores(y_true, y_pred)
    assert scores["class_accuracy"] == {"a": pytest.approx(1 / 3), "b": 1.0}
    assert scores["balanced_accuracy"] == pytest.approx((1 / 3 + 1) / 2)
    with pytest.warns(UserWarning):
        assert balanced_accuracy_score(y_true, y_pred) == pytest.approx(scores["balanced_accuracy"])


def test_report_class_accuracy_per_split_and_in_the_dict(rng):
    from sklearn.metrics import balanced_accuracy_score, recall_score

    X, y = _scenes(rng)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    report = evaluate(RecordingFusion(LogisticRegression(C=0.1), flatten=True), X, y, cv=cv)
    for level, truth, pred in (
        ("recording", "y_true", "y_pred"),
        ("segment", "segment_y_true", "segment_y_pred"),
    ):
        per_split = [
            recall_score(
                getattr(s, truth), getattr(s, pred), average=None, labels=report.class_names
            )
            for s in report.splits
        ]
        classwise = report.class_accuracy(level)
        for k, c in enumerate(report.class_names):
            values = [r[k] for r in per_split]
            assert classwise[c]["splits"] == pytest.approx(values)
            assert classwise[c]["mean"] == pytest.approx(np.mean(values))
            assert classwise[c]["std"] == pytest.approx(np.std(values))
        np.testing.assert_allclose(
            report.split_scores(level, "balanced_accuracy"),
            [balanced_accuracy_score(getattr(s, truth), getattr(s, pred)) for s in report.splits],
        )
        d = json.loads(json.dumps(report.to_dict()))
        assert d[level]["balanced_accuracy"]["mean"] == pytest.approx(
            report.mean(level, "balanced_accuracy")
        )
        assert d[level]["class_accuracy"]["park"]["mean"] == pytest.approx(
            classwise["park"]["mean"]
        )


def test_class_accuracy_skips_splits_that_do_not_test_a_class():
    from skasc.evaluation import SplitResult, scored_split

    first = scored_split([0, 1], np.array(["a", "b"]), None, np.array(["a", "a"]))
    second = scored_split([2, 3], np.array(["a", "a"]), None, np.array(["a", "b"]))
    report = EvaluationReport.from_splits([first, second], np.array(["a", "b"]))
    classwise = report.class_accuracy()
    assert classwise["a"] == {"splits": [1.0, 0.5], "mean": 0.75, "std": 0.25}
    assert classwise["b"] == {"splits": [0.0, None], "mean": 0.0, "std": 0.0}
    assert isinstance(first, SplitResult)
    from skasc.evaluation import format_class_table

    table = format_class_table(report, std=False).splitlines()
    assert table[0] == "| Class | Recording Acc. |"
    # the last row: the mean over splits of each split's macro class-wise accuracy
    assert table[2:] == ["| a | 75.00 |", "| b | 0.00 |", "| Macro average | 50.00 |"]


def test_repeated_runs_are_averaged_over_runs(rng):
    """A system given as several reports (one per seed): each run's mean over its
    splits, then mean and std over the runs."""
    from skasc.evaluation import format_class_table

    X, y = _scenes(rng)
    runs = [
        evaluate(RecordingFusion(LogisticRegression(C=C), flatten=True), X, y, cv=3)
        for C in (0.01, 0.1, 1.0)
    ]
    per_run = [r.mean("recording", "balanced_accuracy") for r in runs]
    row = format_table({"LR": runs}, std=True, markdown=True).splitlines()[2].split(" | ")
    assert row[3] == f"{100 * np.mean(per_run):.2f} ± {100 * np.std(per_run):.2f}"
    park = [r.class_accuracy("segment")["park"]["mean"] for r in runs]
    lines = format_class_table(runs).splitlines()
    assert lines[0] == "| Class | Segment Acc. | Recording Acc. |"
    assert lines[3].split(" | ")[1] == f"{100 * np.mean(park):.2f} ± {100 * np.std(park):.2f}"
    with pytest.raises(TypeError, match="must be an EvaluationReport or a non-empty sequence"):
        format_table({"LR": []})


@pytest.mark.filterwarnings("ignore:A single label was found")  # sklearn, on a device subset
def test_device_scores_match_a_direct_computation(rng):
    from sklearn.metrics import balanced_accuracy_score, log_loss

    from skasc.evaluation import device_scores

    X, y = _scenes(rng, n_per_class=8)
    report = evaluate(RecordingFusion(LogisticRegression(C=0.1), flatten=True), X, y, cv=2)
    split = report.splits[0]
    devices = np.array(["a", "b", "s4"])[rng.integers(0, 3, len(split.y_true))]
    devices[:3] = ["a", "b", "s4"]
    scores = device_scores(split, devices, seen=["a", "b", "c"])
    assert list(scores) == ["a", "b", "s4"]
    for device, entry in scores.items():
        mine = devices == device
        assert entry["n_recordings"] == mine.sum()
        assert entry["seen"] == (device != "s4")
        assert entry["accuracy"] == pytest.approx(np.mean(split.y_pred[mine] == split.y_true[mine]))
        assert entry["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(split.y_true[mine], split.y_pred[mine])
        )
        assert entry["log_loss"] == pytest.approx(
            log_loss(split.y_true[mine], split.proba[mine], labels=split.classes)
        )
    with pytest.raises(ValueError, match="one device per test recording"):
        device_scores(split, devices[:-1], seen=[])


def test_tables_name_the_segment_level_by_its_duration(rng):
    from sklearn.pipeline import make_pipeline

    from skasc import FrontEnd, Segmenter, make_att_crnn_pipeline
    from skasc.evaluation import system_segment_duration

    assert system_segment_duration(make_att_crnn_pipeline()) == 2.0
    assert (
        system_segment_duration(
            make_pipeline(FrontEnd(segmenter=Segmenter(segment_duration=1.0)), LogisticRegression())
        )
        == 1.0
    )
    assert (
        system_segment_duration(
            make_pipeline(Segmenter(segment_duration=0.5), LogisticRegression())
        )
        == 0.5
    )
    assert system_segment_duration(LogisticRegression()) is None

    X, y = _scenes(rng)
    pipe = Pipeline(
        [
            ("segments", FunctionTransformer(lambda Z: Z)),
            ("fusion", RecordingFusion(LogisticRegression(), flatten=True)),
        ]
    )
    report = evaluate(pipe, X, y, cv=2)
    assert report.segment_duration is None
    report.segment_duration = 0.5
    header = format_table({"x": report}).splitlines()[0].split("  ")
    assert [h.strip() for h in header if h.strip()][:3] == [
        "System",
        "0.5-s segment Acc.",
        "Recording Acc.",
    ]
    assert fuse_reports(report, report).segment_duration == 0.5
