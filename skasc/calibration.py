"""Calibrating the SVM on the segments it was trained on, as the paper does.

Section 2.4 of the paper trains a linear SVM on the network's features of the
original training segments and converts its scores into posteriors with Platt's
sigmoid (its reference [27]), on those same segments. scikit-learn's
:class:`~sklearn.calibration.CalibratedClassifierCV` calibrates out of fold; the
splitter below gives it a single "split" whose train and calibration sides are the
whole training set, which is exactly the paper's procedure.

Besides the paper's sigmoid (one per class, one-vs-rest, then renormalised),
:func:`make_svm_calibrator` offers scikit-learn's temperature scaling
(``method="temperature"``, scikit-learn >= 1.8): one temperature for all classes,
the posteriors being ``softmax(scores / T)`` of the SVM's decision scores.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

from ._validation import check_option, check_real
from .exceptions import InvalidParameterError

__all__ = ["TrainingSetCalibration", "make_svm_calibrator", "CALIBRATION_METHODS"]

#: The calibration methods :func:`make_svm_calibrator` takes.
CALIBRATION_METHODS = ("sigmoid", "temperature")


class TrainingSetCalibration:
    """A one-split CV whose train and test sides are both the whole set.

    Pass it as ``cv=`` to :class:`~sklearn.calibration.CalibratedClassifierCV` to fit
    the classifier on all training data and the sigmoid on the classifier's scores
    of the same data.

    Examples
    --------
    >>> import numpy as np
    >>> from skasc.calibration import TrainingSetCalibration
    >>> [(tr.tolist(), te.tolist()) for tr, te in TrainingSetCalibration().split(np.zeros((3, 1)))]
    [([0, 1, 2], [0, 1, 2])]
    """

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(all indices, all indices)`` once."""
        n = len(X)
        idx = np.arange(n)
        yield idx, idx

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Always 1."""
        return 1

    def __repr__(self) -> str:
        return "TrainingSetCalibration()"


def _calibration_cv(calibration: Any) -> Any:
    """The ``cv`` of CalibratedClassifierCV for a ``calibration`` setting, checked."""
    msg = (
        "The 'calibration' parameter of make_svm_calibrator must be 'train' or an int "
        f"in the range [2, inf). Got {calibration!r} instead."
    )
    if isinstance(calibration, str):
        if calibration != "train":
            raise InvalidParameterError(msg)
        return TrainingSetCalibration()
    if isinstance(calibration, (bool, np.bool_)) or not isinstance(calibration, numbers.Integral):
        raise InvalidParameterError(msg)
    if calibration < 2:
        raise InvalidParameterError(msg)
    return int(calibration)


def _check_method(method: Any) -> str:
    """``method``, checked; temperature scaling needs scikit-learn >= 1.8."""
    import sklearn

    check_option(method, "method", "make_svm_calibrator", list(CALIBRATION_METHODS))
    version = tuple(int(part) for part in sklearn.__version__.split(".")[:2] if part.isdigit())
    if method == "temperature" and version < (1, 8):
        raise InvalidParameterError(
            "The 'method' parameter of make_svm_calibrator is 'temperature', which needs "
            f"scikit-learn >= 1.8; this is scikit-learn {sklearn.__version__}. Upgrade it or "
            "use method='sigmoid'."
        )
    return method


def make_svm_calibrator(
    *,
    C: float = 0.1,
    calibration: Any = "train",
    method: str = "sigmoid",
    random_state: int | None = None,
) -> CalibratedClassifierCV:
    """The paper's SVM calibration (section 2.4): a linear SVM with Platt-scaled posteriors.

    Parameters
    ----------
    C : float, default=0.1
        The SVM's trade-off parameter (the paper fixes it at 0.1).
    calibration : "train" or int, default="train"
        Where the calibration is fitted. ``"train"`` fits the SVM on all training
        segments and the calibration (``method``) on the SVM's scores of those
        same segments, as the paper does. An int ``k >= 2`` fits
        both out of fold: ``k`` SVMs, each calibrated on the segments it did not see
        (scikit-learn's ``CalibratedClassifierCV(cv=k)``).  Its folds do not know
        recordings: ``StratifiedKFold(k)`` cuts each class's segments, in recording
        order, into ``k`` contiguous blocks, so up to ``k - 1`` recordings per class
        straddle a block boundary and have segments on both sides.
    method : {"sigmoid", "temperature"}, default="sigmoid"
        How scores become posteriors. ``"sigmoid"``: Platt's sigmoid per class
        (one-vs-rest, then renormalised), the paper's. ``"temperature"``: one
        temperature ``T`` for all classes, posteriors ``softmax(scores / T)``, ``T``
        minimising the log loss (scikit-learn's
        ``CalibratedClassifierCV(method="temperature")``, scikit-learn >= 1.8); it
        keeps the SVM's ranking of the classes for every segment. skl2onnx cannot
        convert it, so :func:`skasc.export_onnx` refuses such a model (``ExportError``).
    random_state : int or None, default=None
        Seeds the SVM's coordinate descent.

    Returns
    -------
    CalibratedClassifierCV
        With ``estimator=LinearSVC(C=C)`` and ``method=method``.

    Raises
    ------
    InvalidParameterError
        For ``C <= 0``, a ``calibration`` other than "train" or an int >= 2, or a
        ``method`` other than those above (or "temperature" with scikit-learn
        older than 1.8), at once: the calibrator is fitted only after the network has trained, so
        a bad value found there would cost the whole training run.

    Examples
    --------
    >>> from skasc.calibration import make_svm_calibrator
    >>> make_svm_calibrator(calibration=5).cv
    5
    >>> make_svm_calibrator(method="temperature").method
    'temperature'
    """
    check_real(C, "C", "make_svm_calibrator", low=0.0, low_inclusive=False)
    svm = LinearSVC(C=C, random_state=random_state)
    cv = _calibration_cv(calibration)
    return CalibratedClassifierCV(estimator=svm, method=_check_method(method), cv=cv)
