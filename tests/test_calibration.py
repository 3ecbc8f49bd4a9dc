import numpy as np
from sklearn.calibration import _sigmoid_calibration
from sklearn.datasets import make_classification
from sklearn.svm import LinearSVC

from skasc.calibration import TrainingSetCalibration
from skasc.calibration import make_svm_calibrator

import pytest


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
