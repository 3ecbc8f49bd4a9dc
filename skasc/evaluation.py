"""Cross-validated evaluation at segment ("2 s") and recording ("30 s") level.

:func:`evaluate` fits a clone of an estimator on the training recordings of every
split and scores its test recordings twice: per segment (each segment carries
its recording's label; Table 2's "2s" column in Phan et al. 2019) and per
recording after multiplicative fusion (the "30s" column, and Table 3's accuracy,
macro F1-score and macro precision). Splits run through ``joblib.Parallel``, so
a Dask joblib backend can spread them over a cluster.

Every split keeps its test posteriors, so :func:`fuse_reports` can build the
"fusion" rows of Table 3 from separately evaluated logMel and logGam systems
without training anything again; :func:`format_table` prints several reports as
one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, log_loss,
                             precision_score)
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline

from ._recordings import n_recordings
from ._sklearn import safe_indexing
from ._validation import check_int, check_real
from .exceptions import SkascValueError
from .fusion import (Posteriors, RecordingFusion, SystemFusion, fuse_systems,
                     has_segment_posteriors, predict_proba_levels)
from .pipelines import segment_network

__all__ = ["classification_scores", "evaluate", "fuse_reports", "predict_split",
           "training_history", "EvaluationReport", "SplitResult", "format_table"]

METRICS = ("accuracy", "f1_macro", "precision_macro", "log_loss")
LEVELS = ("segment", "recording")


def classification_scores(y_true: Any, y_pred: Any, proba: Any = None,
                          classes: Any = None) -> dict[str, float]:
    """Accuracy, macro F1 and macro precision (zero where a class is never predicted),
    and the multi-class log loss when posteriors are given.

    The scores of every report: :func:`evaluate` per split and level, and
    ``skasc evaluate``. The log loss is DCASE's (scikit-learn's ``log_loss``, in
    nats, posteriors clipped to the float64 machine epsilon): the mean over items
    of ``-log p(true class)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_items,)
    proba : array-like of shape (n_items, n_classes), default=None
        Posteriors, columns in the order of ``classes``.
    classes : array-like of shape (n_classes,), default=None
        Required with ``proba``.

    Returns
    -------
    dict of str to float
        ``accuracy``, ``f1_macro``, ``precision_macro`` and, with ``proba``, ``log_loss``.

    Examples
    --------
    >>> classification_scores(["bus", "park"], ["bus", "bus"])["accuracy"]
    0.5
    >>> scores = classification_scores(["bus", "park"], ["bus", "bus"],
    ...                                proba=[[0.5, 0.5], [0.5, 0.5]], classes=["bus", "park"])
    >>> round(scores["log_loss"], 4)  # ln 2
    0.6931
    """
    scores = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "precision_macro": float(precision_score(y_true, y_pred, average="macro",
                                                 zero_division=0)),
    }
    if proba is not None:
        if classes is None:
            raise SkascValueError("classification_scores needs 'classes' (the column order of "
                                  "'proba') to compute the log loss.")
        proba = np.asarray(proba, dtype=np.float64)
        labels = list(classes)
        unseen = sorted(set(np.asarray(y_true).tolist()) - set(labels), key=str)
        if unseen:  # true classes the model never knew: probability 0 (clipped to eps)
            labels += unseen
            proba = np.hstack([proba, np.zeros((proba.shape[0], len(unseen)))])
        scores["log_loss"] = float(log_loss(y_true, proba, labels=labels))
    return scores


def reliability_curve(y_true: Any, proba: Any, classes: Any, *, n_bins: int = 10
                      ) -> dict[str, np.ndarray | float]:
    """Top-label reliability of posteriors: confidence against accuracy per bin.

    Each item's confidence is its largest posterior; items are put into
    ``n_bins`` equal-width bins of confidence over [0, 1] (the last bin closed).
    The expected calibration error (ECE) is the mean over items of
    ``|accuracy - confidence|`` of their bin, i.e. the bins weighted by their
    share of the items (Guo et al., 2017).

    Parameters
    ----------
    y_true : array-like of shape (n_items,)
    proba : array-like of shape (n_items, n_classes)
        Columns in the order of ``classes``.
    classes : array-like of shape (n_classes,)
    n_bins : int, default=10

    Returns
    -------
    dict
        ``confidence``, ``accuracy`` (mean per bin, NaN for an empty bin),
        ``count`` (items per bin), ``edges`` (n_bins + 1) and ``ece`` (float).

    Examples
    --------
    >>> curve = reliability_curve(["a", "b"], [[0.9, 0.1], [0.8, 0.2]], ["a", "b"], n_bins=5)
    >>> round(curve["ece"], 3)  # bins (0.6, 0.8] and (0.8, 1]: (|0 - 0.8| + |1 - 0.9|) / 2
    0.45
    """
    n_bins = check_int(n_bins, "n_bins", "reliability_curve", low=1)
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray(classes)
    y_true = np.asarray(y_true)
    if proba.ndim != 2 or proba.shape != (y_true.shape[0], classes.shape[0]):
        raise SkascValueError(f"reliability_curve expected proba of shape (n_items, n_classes) = "
                              f"({y_true.shape[0]}, {classes.shape[0]}); got {proba.shape}.")
    confidence = proba.max(axis=1)
    correct = classes[np.argmax(proba, axis=1)] == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=n_bins) / count
        mean_acc = np.bincount(which, weights=correct.astype(np.float64), minlength=n_bins) / count
    filled = count > 0
    ece = float(np.sum(count[filled] * np.abs(mean_acc[filled] - mean_conf[filled]))
                / max(count.sum(), 1))
    return {"confidence": mean_conf, "accuracy": mean_acc, "count": count, "edges": edges,
            "ece": ece}


@dataclass
class SplitResult:
    """Predictions and scores of one train/test split.

    Attributes
    ----------
    test_index : ndarray of int of shape (n_test_recordings,)
        Indices (into the evaluated ``X``) of the test recordings.
    y_true, y_pred : ndarray of shape (n_test_recordings,)
        Recording labels and fused predictions.
    segment_y_true, segment_y_pred : ndarray of shape (n_test_segments,) or None
        Segment labels (the recording label repeated) and segment predictions;
        None when the estimator has no segment level.
    scores : dict
        ``{"recording": {"accuracy": ..., "f1_macro": ..., "precision_macro": ...,
        "log_loss": ...}, "segment": {...} or None}``; ``log_loss`` only where the
        level has posteriors.
    classes : ndarray of shape (n_classes,) or None
        Column order of the posteriors (the fitted estimator's ``classes_``).
    proba : ndarray of shape (n_test_recordings, n_classes) or None
        Recording posteriors; None when the estimator has no ``predict_proba``.
    segment_proba : ndarray of shape (n_test_segments, n_classes) or None
        Segment posteriors.
    segment_index : ndarray of int of shape (n_test_segments,) or None
        Position (within ``test_index``) of the recording of every segment.
    history : list of dict or None
        Training history of a skorch net found in the fitted estimator.
    estimator : estimator or None
        The fitted estimator, when ``return_estimators=True``.
    """

    test_index: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    segment_y_true: np.ndarray | None
    segment_y_pred: np.ndarray | None
    scores: dict[str, dict[str, float] | None]
    classes: np.ndarray | None = None
    proba: np.ndarray | None = None
    segment_proba: np.ndarray | None = None
    segment_index: np.ndarray | None = None
    history: list[dict] | None = None
    estimator: Any = None


@dataclass
class EvaluationReport:
    """Scores of a cross-validated evaluation (see :func:`evaluate`).

    Attributes
    ----------
    class_names : list
        Labels, in the order of the confusion-matrix rows and columns.
    splits : list of SplitResult
        One entry per split, in the order of the splitter.
    recording_confusion : ndarray of int of shape (n_classes, n_classes)
        Confusion matrix of the recordings summed over splits (rows: true class).
    segment_confusion : ndarray of int of shape (n_classes, n_classes) or None
        The same for segments; None when the estimator has no segment level.
    """

    class_names: list
    splits: list[SplitResult]
    recording_confusion: np.ndarray
    segment_confusion: np.ndarray | None = None

    @classmethod
    def from_splits(cls, splits: list[SplitResult], labels: np.ndarray) -> "EvaluationReport":
        """The report of ``splits``, confusions summed over them, rows and columns
        in the order of ``labels``."""
        rec_cm = sum(confusion_matrix(r.y_true, r.y_pred, labels=labels) for r in splits)
        seg_cm = None
        if all(r.segment_y_pred is not None for r in splits):
            seg_cm = sum(confusion_matrix(r.segment_y_true, r.segment_y_pred, labels=labels)
                         for r in splits)
        return cls(class_names=[_plain(c) for c in labels], splits=list(splits),
                   recording_confusion=rec_cm, segment_confusion=seg_cm)

    # ---- per-split scores ------------------------------------------------- #
    @property
    def has_segments(self) -> bool:
        """True when segment-level ("2 s") scores are available."""
        return all(s.scores.get("segment") is not None for s in self.splits)

    def split_scores(self, level: str = "recording", metric: str = "accuracy") -> np.ndarray:
        """Per-split values of ``metric`` at ``level``, shape (n_splits,).

        Parameters
        ----------
        level : {"recording", "segment"}, default="recording"
        metric : {"accuracy", "f1_macro", "precision_macro", "log_loss"}, default="accuracy"
            ``log_loss`` needs posteriors (see :meth:`has_metric`).
        """
        if level not in LEVELS:
            raise SkascValueError(f"'level' must be one of {LEVELS}; got {level!r}.")
        if metric not in METRICS:
            raise SkascValueError(f"'metric' must be one of {METRICS}; got {metric!r}.")
        if level == "segment" and not self.has_segments:
            raise SkascValueError("This report has no segment-level scores: the estimator does "
                                  "not expose segment posteriors.")
        if not self.has_metric(level, metric):
            raise SkascValueError(f"This report has no {metric} at {level} level: the estimator "
                                  "gives no posteriors there.")
        return np.array([s.scores[level][metric] for s in self.splits])

    def has_metric(self, level: str, metric: str) -> bool:
        """Whether every split has ``metric`` at ``level`` (the log loss needs posteriors)."""
        return all(s.scores.get(level) is not None and metric in s.scores[level]
                   for s in self.splits)

    def reliability(self, level: str = "recording", *, n_bins: int = 10) -> dict:
        """:func:`reliability_curve` of the posteriors of all splits' test items pooled.

        Parameters
        ----------
        level : {"recording", "segment"}, default="recording"
        n_bins : int, default=10
        """
        if level not in LEVELS:
            raise SkascValueError(f"'level' must be one of {LEVELS}; got {level!r}.")
        attr = "proba" if level == "recording" else "segment_proba"
        truth = "y_true" if level == "recording" else "segment_y_true"
        if any(getattr(s, attr) is None for s in self.splits):
            raise SkascValueError(f"This report has no {level} posteriors.")
        classes = self.splits[0].classes
        for k, split in enumerate(self.splits):
            if not np.array_equal(split.classes, classes):
                raise SkascValueError(f"Split {k} has posterior columns "
                                      f"{np.asarray(split.classes).tolist()} but split 0 "
                                      f"{np.asarray(classes).tolist()}; their reliability "
                                      "cannot be pooled.")
        return reliability_curve(np.concatenate([getattr(s, truth) for s in self.splits]),
                                 np.concatenate([getattr(s, attr) for s in self.splits]),
                                 classes, n_bins=n_bins)

    def mean(self, level: str = "recording", metric: str = "accuracy") -> float:
        """Mean of :meth:`split_scores` over the splits (a fraction in [0, 1])."""
        return float(np.mean(self.split_scores(level, metric)))

    def std(self, level: str = "recording", metric: str = "accuracy") -> float:
        """Standard deviation of :meth:`split_scores` over the splits."""
        return float(np.std(self.split_scores(level, metric)))

    @property
    def histories(self) -> list[list[dict] | None]:
        """Training histories per split (None where no skorch net was found).

        An empty list when no split has a history, so ``if report.histories:``
        tells whether there is anything to plot.
        """
        found = [s.history for s in self.splits]
        return found if any(h is not None for h in found) else []

    @property
    def estimators(self) -> list[Any]:
        """Fitted estimators per split (None unless ``return_estimators=True``)."""
        return [s.estimator for s in self.splits]

    # ---- output ----------------------------------------------------------- #
    def to_dict(self) -> dict[str, Any]:
        """Plain Python (JSON-serialisable) summary: scores per split, means, stds, confusions."""
        levels = [lv for lv in LEVELS if lv == "recording" or self.has_segments]
        out: dict[str, Any] = {
            "class_names": [_plain(c) for c in self.class_names],
            "n_splits": len(self.splits),
        }
        for lv in levels:
            out[lv] = {m: {"splits": self.split_scores(lv, m).tolist(),
                           "mean": self.mean(lv, m), "std": self.std(lv, m)}
                       for m in METRICS if self.has_metric(lv, m)}
        out["recording_confusion"] = self.recording_confusion.tolist()
        if self.segment_confusion is not None:
            out["segment_confusion"] = self.segment_confusion.tolist()
        return out

    def to_table(self, name: str = "System", *, std: bool = False) -> str:
        """One-row text table in the style of Tables 2-3 of the paper (percent, 2 decimals)."""
        return format_table({name: self}, std=std)

    def __str__(self) -> str:
        return self.to_table()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


_COLUMNS = (("2s Acc.", "segment", "accuracy"), ("30s Acc.", "recording", "accuracy"),
            ("F1-score", "recording", "f1_macro"), ("Prec.", "recording", "precision_macro"))
_LOG_LOSS_COLUMN = ("Log loss", "recording", "log_loss")


def format_table(reports: Mapping[str, EvaluationReport], *, std: bool = False,
                 log_loss: bool = False, markdown: bool = False) -> str:
    """Text table of several reports: one row per system, as Tables 2-3 of the paper.

    Columns: segment accuracy ("2s Acc."), recording accuracy ("30s Acc."),
    recording macro F1-score and macro precision, all in percent with two
    decimals (mean over splits; ``± std`` appended when ``std=True``). A
    missing level shows as ``-``.

    Parameters
    ----------
    reports : mapping of str to EvaluationReport
        System names and their reports, in row order.
    std : bool, default=False
        Append the standard deviation over splits.
    log_loss : bool, default=False
        Add the recordings' multi-class log loss (nats, three decimals; ``-``
        without posteriors).
    markdown : bool, default=False
        A Markdown (pipe) table instead of aligned text.

    Returns
    -------
    table : str
    """
    if not reports:
        raise SkascValueError("format_table needs at least one report; got none.")
    columns = _COLUMNS + ((_LOG_LOSS_COLUMN,) if log_loss else ())
    rows = []
    for name, report in reports.items():
        cells = [str(name)]
        for _, level, metric in columns:
            if not report.has_metric(level, metric):
                cells.append("-")
                continue
            scale, digits = (1, 3) if metric == "log_loss" else (100, 2)
            cell = f"{scale * report.mean(level, metric):.{digits}f}"
            if std:
                cell += f" ± {scale * report.std(level, metric):.{digits}f}"
            cells.append(cell)
        rows.append(cells)
    header = ["System"] + [c[0] for c in columns]
    if markdown:
        lines = [header, ["---"] + ["---:"] * (len(header) - 1)] + rows
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join([cells[0].ljust(widths[0])]
                         + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule] + [line(r) for r in rows])


# --------------------------------------------------------------------------- #
def training_history(estimator: Any) -> list[dict] | None:
    """The training history of the network inside a fitted system, or None.

    The network is where the factories put it
    (:func:`~skasc.pipelines.segment_network`) in the estimator's
    :class:`~skasc.fusion.RecordingFusion` (its last step, through Pipelines; for
    a :class:`~skasc.fusion.SystemFusion`, its first system's). A history is a
    skorch-style ``history_``: a list of dicts, one per epoch.
    """
    final = _last_step(estimator)
    if isinstance(final, SystemFusion) and hasattr(final, "estimators_"):
        final = _last_step(final.estimators_[0])
    if not isinstance(final, RecordingFusion) or not hasattr(final, "estimator_"):
        return None
    history = getattr(segment_network(final, fitted=True), "history_", None)
    return None if history is None else [dict(row) for row in history]


def _last_step(estimator: Any) -> Any:
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def _scored(test_index: np.ndarray, y_true: np.ndarray, classes: np.ndarray | None,
            y_pred: np.ndarray, *, proba: np.ndarray | None = None,
            segment_y_pred: np.ndarray | None = None,
            segment_proba: np.ndarray | None = None, segment_index: np.ndarray | None = None,
            history: list[dict] | None = None, estimator: Any = None) -> SplitResult:
    """A split's predictions with their scores at both levels."""
    scores: dict[str, Any] = {"recording": classification_scores(
        y_true, y_pred, proba, classes), "segment": None}
    segment_y_true = None
    if segment_y_pred is not None:
        segment_y_true = y_true[segment_index]
        scores["segment"] = classification_scores(segment_y_true, segment_y_pred,
                                                  segment_proba, classes)
    return SplitResult(test_index=np.asarray(test_index), y_true=y_true, y_pred=y_pred,
                       segment_y_true=segment_y_true, segment_y_pred=segment_y_pred,
                       scores=scores, classes=classes, proba=proba,
                       segment_proba=segment_proba, segment_index=segment_index,
                       history=history, estimator=estimator)


def _scored_posteriors(test_index: np.ndarray, y_true: np.ndarray, classes: np.ndarray,
                       posteriors: Posteriors, **kept: Any) -> SplitResult:
    """:func:`_scored` of the labels the posteriors give (the arg-max at each level)."""
    proba = posteriors.proba
    segment_y_pred = segment_index = None
    if posteriors.segment_proba is not None:
        segment_y_pred = classes[np.argmax(posteriors.segment_proba, axis=1)]
        segment_index = np.asarray(posteriors.segment_index)
    return _scored(test_index, y_true, classes, classes[np.argmax(proba, axis=1)], proba=proba,
                   segment_y_pred=segment_y_pred, segment_proba=posteriors.segment_proba,
                   segment_index=segment_index, **kept)


def predict_split(estimator: Any, X: Any, test_index: Any, y_true: np.ndarray, *,
                  history: list[dict] | None = None, estimator_kept: Any = None
                  ) -> SplitResult:
    """Predict the test recordings ``X`` of one split with a fitted estimator, and score them.

    Labels (and posteriors when the estimator has ``predict_proba``) at recording
    level and, for a fusion estimator (or any object with ``predict_segments`` and
    ``segment_recording_index``), at segment level, each segment carrying its
    recording's label.

    Parameters
    ----------
    estimator : fitted classifier
    X : batch of recordings
        The split's test recordings, ``n_test_recordings`` of them.
    test_index : array-like of int of shape (n_test_recordings,)
        Their positions in the evaluated data set.
    y_true : ndarray of shape (n_test_recordings,)
        Their labels.
    history, estimator_kept : default=None
        Stored in the result as ``history`` and ``estimator``.

    Returns
    -------
    SplitResult
    """
    kept = {"history": history, "estimator": estimator_kept}
    classes = getattr(estimator, "classes_", None)
    if classes is None or not hasattr(estimator, "predict_proba"):
        segment_y_pred = segment_index = None
        if hasattr(estimator, "predict_segments") and hasattr(estimator, "segment_recording_index"):
            segment_y_pred = np.asarray(estimator.predict_segments(X))
            segment_index = np.asarray(estimator.segment_recording_index(X))
        return _scored(test_index, y_true, None if classes is None else np.asarray(classes),
                       np.asarray(estimator.predict(X)), segment_y_pred=segment_y_pred,
                       segment_index=segment_index, **kept)
    classes = np.asarray(classes)
    if has_segment_posteriors(estimator):
        return _scored_posteriors(test_index, y_true, classes,
                                  predict_proba_levels(estimator, X), **kept)
    proba = np.asarray(estimator.predict_proba(X))
    return _scored(test_index, y_true, classes, classes[np.argmax(proba, axis=1)], proba=proba,
                   **kept)


def _fit_and_score(estimator: Any, X: Any, y: np.ndarray, train: np.ndarray,
                   test: np.ndarray, split: int, fit_params: dict,
                   return_estimator: bool) -> SplitResult:
    estimator.fit(safe_indexing(X, train), y[train], **fit_params)
    y_test = y[test]
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        unknown = np.setdiff1d(np.unique(y_test), np.asarray(classes))
        if unknown.size:
            raise SkascValueError(
                f"Split {split}: the test recordings have labels never seen in fit: "
                f"{unknown.tolist()}. Known classes: {np.asarray(classes).tolist()}. Use a "
                "stratified splitter or drop classes with too few recordings.")
    return predict_split(estimator, safe_indexing(X, test), test, y_test,
                         history=training_history(estimator),
                         estimator_kept=estimator if return_estimator else None)


def fuse_reports(*reports: EvaluationReport, floor: float = 1e-7) -> EvaluationReport:
    """Fuse the test posteriors of several evaluated systems by the product rule.

    The "fusion" rows of Table 3 without refitting anything: the reports must come
    from :func:`evaluate` runs on the same recordings with the same splits (and,
    for the segment level, the same segmentation). In every split, recording
    posteriors (and segment posteriors) of the systems are floored, multiplied
    and renormalised, exactly as :class:`~skasc.fusion.SystemFusion` does.

    Parameters
    ----------
    *reports : EvaluationReport
        Two or more reports whose splits carry posteriors.
    floor : float, default=1e-7
        Segment posteriors below ``floor`` are raised to it before multiplying.

    Returns
    -------
    report : EvaluationReport
        Scores of the fused system (no histories, no estimators).
    """
    floor = check_real(floor, "floor", "fuse_reports", low=0.0, high=1.0,
                       low_inclusive=False)
    if len(reports) < 2:
        raise SkascValueError(f"fuse_reports needs at least 2 reports; got {len(reports)}.")
    first = reports[0]
    for k, rep in enumerate(reports):
        if len(rep.splits) != len(first.splits):
            raise SkascValueError(f"Report {k} has {len(rep.splits)} splits but report 0 has "
                                  f"{len(first.splits)}; evaluate all systems with the same cv.")
        if list(rep.class_names) != list(first.class_names):
            raise SkascValueError(f"Report {k} has classes {np.asarray(rep.class_names).tolist()} "
                                  f"but report 0 has {np.asarray(first.class_names).tolist()}.")
    fused = []
    for i, base in enumerate(first.splits):
        splits = [rep.splits[i] for rep in reports]
        for k, s in enumerate(splits):
            if s.proba is None:
                raise SkascValueError(f"Report {k} has no posteriors in split {i} (its estimator "
                                      "has no predict_proba); it cannot be fused.")
            if not np.array_equal(s.test_index, base.test_index):
                raise SkascValueError(f"Split {i} of report {k} tests other recordings than split "
                                      f"{i} of report 0; evaluate all systems with the same cv.")
            if not np.array_equal(s.classes, base.classes):
                raise SkascValueError(f"Split {i} of report {k} orders its classes differently "
                                      "from report 0.")
        fused.append(_scored_posteriors(base.test_index, base.y_true, base.classes,
                                        fuse_systems([_system(s) for s in splits], floor=floor)))
    return EvaluationReport.from_splits(fused, np.asarray(first.class_names))


def _system(split: SplitResult) -> Posteriors | np.ndarray:
    """A split's posteriors as :func:`~skasc.fusion.fuse_systems` takes a system's."""
    if split.segment_proba is None:
        return split.proba
    with np.errstate(divide="ignore"):  # a fused posterior may underflow to 0
        return Posteriors(np.log(split.proba), split.segment_proba, split.segment_index)


def evaluate(estimator: Any, X: Any, y: Any, *, cv: Any = 5, groups: Any = None,
             n_jobs: int | None = None, verbose: int = 0, return_estimators: bool = False,
             fit_params: dict | None = None) -> EvaluationReport:
    """Cross-validate a recording classifier at segment and recording level.

    For every split, a clone of ``estimator`` is fit on the training recordings;
    the test recordings are then predicted once per recording and, when the
    estimator has a segment level (:class:`~skasc.fusion.RecordingFusion`,
    :class:`~skasc.fusion.SystemFusion`, a ``Pipeline`` ending in one of them,
    or any object with ``predict_segments`` and ``segment_recording_index``),
    once per segment with the recording label repeated over its segments.

    Parameters
    ----------
    estimator : classifier
        Unfitted estimator taking a batch of recordings.
    X : batch of recordings
        Dense ``(n_recordings, ...)`` array, object array or list (any container
        scikit-learn's cross-validation indexes).
    y : array-like of shape (n_recordings,)
        One label per recording.
    cv : int, splitter or iterable of (train, test), default=5
        An int gives ``StratifiedKFold(cv)``; a splitter (e.g. ``LitisSplits``)
        is called as ``cv.split(X, y, groups)``.
    groups : array-like of shape (n_recordings,), default=None
        Passed to ``cv.split``.
    n_jobs : int, default=None
        Splits evaluated in parallel by ``joblib`` (``None`` means 1).
    verbose : int, default=0
        ``joblib`` verbosity.
    return_estimators : bool, default=False
        Keep the fitted estimator of every split in the report.
    fit_params : dict, default=None
        Passed to ``estimator.fit``.

    Returns
    -------
    report : EvaluationReport
        Per-split accuracy, macro F1 and macro precision at both levels, and
        confusion matrices summed over splits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skasc.fusion import RecordingFusion
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["bus", "park", "street"], 6)
    >>> X = rng.normal(size=(18, 5, 4)) + (np.arange(18) // 6)[:, None, None]
    >>> report = evaluate(RecordingFusion(LogisticRegression(), flatten=True), X, y, cv=3)
    >>> len(report.splits), int(report.recording_confusion.sum())
    (3, 18)
    >>> int(report.segment_confusion.sum())  # 5 segments per recording
    90
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise SkascValueError(f"evaluate expects one label per recording (a 1-D y); got y of "
                              f"shape {y.shape}.")
    n_rec = n_recordings(X)
    if n_rec != y.shape[0]:
        raise SkascValueError(f"X has {n_rec} recordings but y has {y.shape[0]} labels.")
    splitter = check_cv(cv, y, classifier=True)
    splits = list(splitter.split(X, y, groups))
    if not splits:
        raise SkascValueError("The splitter 'cv' produced no splits.")
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_score)(clone(estimator), X, y, np.asarray(train), np.asarray(test),
                                i, dict(fit_params or {}), return_estimators)
        for i, (train, test) in enumerate(splits))
    return EvaluationReport.from_splits(list(results), np.unique(y))
