import numpy as np
import pytest
from sklearn.calibration import _sigmoid_calibration
from sklearn.datasets import make_classification
from sklearn.svm import LinearSVC

from skasc.calibration import TrainingSetCalibration, make_svm_calibrator


def test_single_split_is_whole_set():
    splits = list(TrainingSetCalibration().split(np.zeros((5, 2))))
    assert len(splits) == 1
    np.testing.assert_array_equal(splits[0][0], np.arange(5))
    np.testing.assert_array_equal(splits[0][1], np.arange(5))
    assert TrainingSetCalibration().get_n_splits() == 1


def test_svm_and_sigmoid_fitted_on_the_training_set():
    X, y = make_classification(300, 8, n_informative=5, n_classes=3, random_state=1)
    cal = make_svm_calibrator(C=0.1, random_state=0).fit(X, y)
    assert len(cal.calibrated_classifiers_) == 1
    svm = LinearSVC(C=0.1, random_state=0).fit(X, y)
    fitted = cal.calibrated_classifiers_[0]
    np.testing.assert_allclose(fitted.estimator.coef_, svm.coef_)
    # Platt's sigmoid per class on the SVM's scores of the same training data.
    scores = svm.decision_function(X)
    for k, calibrator in enumerate(fitted.calibrators):
        a, b = _sigmoid_calibration(scores[:, k], (y == k).astype(float))
        np.testing.assert_allclose([calibrator.a_, calibrator.b_], [a, b], rtol=1e-6)
    proba = cal.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_out_of_fold_option_and_bad_C():
    X, y = make_classification(120, 5, random_state=0)
    cal = make_svm_calibrator(calibration=3).fit(X, y)
    assert len(cal.calibrated_classifiers_) == 3
    with pytest.raises(ValueError, match="'C' parameter of make_svm_calibrator"):
        make_svm_calibrator(C=0)
    with pytest.raises(ValueError, match="'calibration' parameter"):
        make_svm_calibrator(calibration="oof")


def test_temperature_scaling_fits_one_temperature_on_the_training_set():
    """method="temperature": the SVM on all training data, posteriors softmax(beta * scores)
    with the beta that minimises the log loss of those same data (found here by scipy)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax, softmax

    X, y = make_classification(300, 8, n_informative=5, n_classes=3, random_state=1)
    cal = make_svm_calibrator(C=0.1, method="temperature", random_state=0).fit(X, y)
    assert cal.method == "temperature" and len(cal.calibrated_classifiers_) == 1
    svm = LinearSVC(C=0.1, random_state=0).fit(X, y)
    (fitted,) = cal.calibrated_classifiers_
    np.testing.assert_allclose(fitted.estimator.coef_, svm.coef_)
    scores = svm.decision_function(X)

    def nll(log_beta):
        return -np.mean(log_softmax(np.exp(log_beta) * scores, axis=1)[np.arange(len(y)), y])

    beta = np.exp(
        minimize_scalar(nll, bounds=(-10, 10), method="bounded", options={"xatol": 1e-10}).x
    )
    (calibrator,) = fitted.calibrators
    assert float(calibrator.beta_) == pytest.approx(beta, rel=1e-4)
    np.testing.assert_allclose(cal.predict_proba(X), softmax(beta * scores, axis=1), rtol=1e-4)
    # one temperature keeps the SVM's ranking of the classes
    np.testing.assert_array_equal(cal.predict(X), svm.predict(X))


def test_temperature_scaling_out_of_fold_and_bad_methods(monkeypatch):
    X, y = make_classification(120, 5, random_state=0)
    assert (
        len(
            make_svm_calibrator(calibration=3, method="temperature")
            .fit(X, y)
            .calibrated_classifiers_
        )
        == 3
    )
    with pytest.raises(
        ValueError,
        match=r"The 'method' parameter of make_svm_calibrator must "
        r"be one of \{'sigmoid', 'temperature'\}. Got "
        r"'isotonic' instead.",
    ):
        make_svm_calibrator(method="isotonic")
    import sklearn

    monkeypatch.setattr(sklearn, "__version__", "1.7.2")
    with pytest.raises(
        ValueError,
        match=r"'temperature', which needs scikit-learn >= 1.8; "
        r"this is scikit-learn 1.7.2",
    ):
        make_svm_calibrator(method="temperature")
    assert make_svm_calibrator().method == "sigmoid"


@pytest.mark.parametrize("factory", ["make_att_crnn_pipeline", "make_cnn_baseline_pipeline"])
def test_factories_take_the_calibration_method(factory):
    import skasc

    make = getattr(skasc, factory)
    assert make().get_params()["fusion__estimator__svm__method"] == "sigmoid"
    pipe = make(calibration_method="temperature", calibration=4)
    assert pipe.get_params()["fusion__estimator__svm__method"] == "temperature"
    assert pipe.get_params()["fusion__estimator__svm__cv"] == 4
    with pytest.raises(
        ValueError,
        match=rf"The 'calibration_method' parameter of {factory} "
        r"must be one of \{'sigmoid', 'temperature'\}",
    ):
        make(calibration_method="platt")
    fused = skasc.make_fused_pipeline(calibration_method="temperature")
    assert fused.get_params()["fusion__loggam__fusion__estimator__svm__method"] == "temperature"


def test_a_temperature_scaled_svm_saves_and_loads(tmp_path):
    from skasc import load, save

    X, y = make_classification(120, 5, n_classes=3, n_informative=3, random_state=0)
    cal = make_svm_calibrator(method="temperature", random_state=0).fit(X, y)
    save(cal, tmp_path / "svm.skasc")
    np.testing.assert_array_equal(
        load(tmp_path / "svm.skasc").predict_proba(X), cal.predict_proba(X)
    )
