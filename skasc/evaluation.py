"""Cross-validated evaluation at segment and recording level.

:func:`evaluate` fits a clone of an estimator on the training recordings of every
split and scores its test recordings twice: per segment (each segment carries
its recording's label; Table 2's "2s" column in Phan et al. 2019, whose LITIS
segments last 2 s) and per recording after multiplicative fusion (the "30s"
column, and Table 3's accuracy, macro F1-score and macro precision). Both levels
also get the class-wise accuracy of every class and their mean, the macro
class-wise accuracy by which DCASE Task 1 ranks systems since 2024. Splits run
through ``joblib.Parallel``, so a Dask joblib backend can spread them over a
cluster.

Every split keeps its test posteriors, so :func:`fuse_reports` can build the
"fusion" rows of Table 3 from separately evaluated logMel and logGam systems
without training anything again; :func:`format_table` prints several reports as
one table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import methodcaller
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss, precision_score
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline

from ._recordings import n_recordings
from ._sklearn import safe_indexing
from ._validation import check_int, check_real
from .exceptions import SkascTypeError, SkascValueError
from .fusion import (
    Posteriors,
    RecordingFusion,
    SystemFusion,
    fuse_systems,
    groups_fit_params,
    has_segment_posteriors,
    predict_proba_levels,
)
from .pipelines import segment_network

__all__ = [
    "classification_scores",
    "device_scores",
    "evaluate",
    "fuse_reports",
    "predict_split",
    "scored_split",
    "system_segment_duration",
    "training_history",
    "EvaluationReport",
    "SplitResult",
    "format_table",
    "format_class_table",
]

#: The scores of a level that are one number per split.
METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "log_loss")
LEVELS = ("segment", "recording")


def classification_scores(
    y_true: Any, y_pred: Any, proba: Any = None, classes: Any = None
) -> dict[str, Any]:
    """Accuracy, class-wise and macro class-wise accuracy, macro F1 and macro precision
    (zero where a class is never predicted), and the multi-class log loss when
    posteriors are given.

    The scores of every report: :func:`evaluate` per split and level, and
    ``skasc evaluate``. The class-wise accuracy of a class is the share of its
    items labelled correctly (its recall); the macro class-wise accuracy
    (``balanced_accuracy``, DCASE Task 1's ranking metric since 2024, scikit-learn's
    ``balanced_accuracy_score``) is their mean over the classes present in
    ``y_true``, so every class weighs the same whatever its number of items. The
    log loss is DCASE's (scikit-learn's ``log_loss``, in nats, posteriors clipped
    to the float64 machine epsilon): the mean over items of ``-log p(true class)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_items,)
    proba : array-like of shape (n_items, n_classes), default=None
        Posteriors, columns in the order of ``classes``.
    classes : array-like of shape (n_classes,), default=None
        Required with ``proba``.

    Returns
    -------
    dict
        Floats ``accuracy``, ``balanced_accuracy``, ``f1_macro``, ``precision_macro``
        and, with ``proba``, ``log_loss``; and ``class_accuracy``, a dict from
        each class present in ``y_true`` (sorted) to its accuracy.

    Examples
    --------
    >>> scores = classification_scores(["bus", "bus", "bus", "park"],
    ...                                ["bus", "bus", "park", "bus"])
    >>> scores["accuracy"], scores["class_accuracy"], scores["balanced_accuracy"]
    (0.5, {'bus': 0.6666666666666666, 'park': 0.0}, 0.3333333333333333)
    >>> scores = classification_scores(["bus", "park"], ["bus", "bus"],
    ...                                proba=[[0.5, 0.5], [0.5, 0.5]], classes=["bus", "park"])
    >>> round(scores["log_loss"], 4)  # ln 2
    0.6931
    """
    class_accuracy = _class_accuracy(y_true, y_pred)
    scores: dict[str, Any] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(np.mean(list(class_accuracy.values()))),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "precision_macro": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    if proba is not None:
        scores["log_loss"] = _log_loss(y_true, proba, classes)
    scores["class_accuracy"] = class_accuracy
    return scores


def _class_accuracy(y_true: Any, y_pred: Any) -> dict[Any, float]:
    """The share of each true class's items labelled correctly, classes sorted."""
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    return {_plain(c): float(np.mean(predicted[truth == c] == c)) for c in np.unique(truth)}


def _log_loss(y_true: Any, proba: Any, classes: Any) -> float:
    """DCASE's multi-class log loss; a true class outside ``classes`` has probability 0."""
    if classes is None:
        raise SkascValueError(
            "classification_scores needs 'classes' (the column order of "
            "'proba') to compute the log loss."
        )
    proba = np.asarray(proba, dtype=np.float64)
    labels = list(classes)
    unseen = sorted(set(np.asarray(y_true).tolist()) - set(labels), key=str)
    if unseen:  # true classes the model never knew: probability 0 (clipped to eps)
        labels += unseen
        proba = np.hstack([proba, np.zeros((proba.shape[0], len(unseen)))])
    return float(log_loss(y_true, proba, labels=labels))


def device_scores(split: SplitResult, devices: Any, seen: Any) -> dict[str, dict[str, Any]]:
    """Recording-level scores of one split per recording device, as the DCASE baselines
    print them.

    Parameters
    ----------
    split : SplitResult
        A split's test predictions (posteriors give the log loss).
    devices : array-like of str of shape (n_test_recordings,)
        The device of every test recording, in the split's order.
    seen : collection of str
        The devices of the split's training recordings; the others are unseen.

    Returns
    -------
    dict of str to dict
        For every device (sorted): ``n_recordings``, ``seen`` (bool), ``accuracy``,
        ``balanced_accuracy`` (macro class-wise accuracy over the classes the
        device's recordings have) and, with posteriors, ``log_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> split = SplitResult(test_index=np.arange(3), y_true=np.array(["bus", "park", "bus"]),
    ...                     y_pred=np.array(["bus", "bus", "bus"]), segment_y_true=None,
    ...                     segment_y_pred=None, scores={})
    >>> scores = device_scores(split, ["a", "s4", "s4"], seen={"a"})
    >>> scores["s4"]["accuracy"], scores["s4"]["balanced_accuracy"], scores["s4"]["seen"]
    (0.5, 0.5, False)
    """
    devices = np.asarray(devices).astype(str)
    if devices.shape != np.shape(split.y_true):
        raise SkascValueError(
            f"device_scores expected one device per test recording "
            f"({len(split.y_true)}); got {devices.shape[0]}."
        )
    seen = {str(d) for d in seen}
    out = {}
    for device in sorted(set(devices.tolist())):
        mine = devices == device
        truth, predicted = split.y_true[mine], split.y_pred[mine]
        out[device] = {
            "n_recordings": int(mine.sum()),
            "seen": device in seen,
            "accuracy": float(np.mean(predicted == truth)),
            "balanced_accuracy": float(np.mean(list(_class_accuracy(truth, predicted).values()))),
        }
        if split.proba is not None:
            out[device]["log_loss"] = _log_loss(truth, split.proba[mine], split.classes)
    return out


def reliability_curve(
    y_true: Any, proba: Any, classes: Any, *, n_bins: int = 10
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
        raise SkascValueError(
            f"reliability_curve expected proba of shape (n_items, n_classes) = "
            f"({y_true.shape[0]}, {classes.shape[0]}); got {proba.shape}."
        )
    confidence = proba.max(axis=1)
    correct = classes[np.argmax(proba, axis=1)] == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=n_bins) / count
        mean_acc = np.bincount(which, weights=correct.astype(np.float64), minlength=n_bins) / count
    filled = count > 0
    ece = float(
        np.sum(count[filled] * np.abs(mean_acc[filled] - mean_conf[filled])) / max(count.sum(), 1)
    )
    return {
        "confidence": mean_conf,
        "accuracy": mean_acc,
        "count": count,
        "edges": edges,
        "ece": ece,
    }


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
    scores: dict[str, Any]  # {level: {metric: value}, or None where the level has no scores}
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
    segment_duration : float or None, default=None
        Seconds of audio per segment (the system's ``Segmenter``), when known;
        tables name the segment level by it.
    """

    class_names: list
    splits: list[SplitResult]
    recording_confusion: np.ndarray
    segment_confusion: np.ndarray | None = None
    segment_duration: float | None = None

    @classmethod
    def from_splits(
        cls, splits: list[SplitResult], labels: np.ndarray, *, segment_duration: float | None = None
    ) -> EvaluationReport:
        """The report of ``splits``, confusions summed over them, rows and columns
        in the order of ``labels``."""
        rec_cm = sum(confusion_matrix(r.y_true, r.y_pred, labels=labels) for r in splits)
        seg_cm = None
        if all(r.segment_y_pred is not None for r in splits):
            seg_cm = sum(
                confusion_matrix(r.segment_y_true, r.segment_y_pred, labels=labels) for r in splits
            )
        return cls(
            class_names=[_plain(c) for c in labels],
            splits=list(splits),
            recording_confusion=rec_cm,
            segment_confusion=seg_cm,
            segment_duration=segment_duration,
        )

    # ---- per-split scores ------------------------------------------------- #
    @property
    def has_segments(self) -> bool:
        """True when segment-level scores are available."""
        return all(s.scores.get("segment") is not None for s in self.splits)

    def split_scores(self, level: str = "recording", metric: str = "accuracy") -> np.ndarray:
        """Per-split values of ``metric`` at ``level``, shape (n_splits,).

        Parameters
        ----------
        level : {"recording", "segment"}, default="recording"
        metric : {"accuracy", "balanced_accuracy", "f1_macro", "precision_macro", \
"log_loss"}, default="accuracy"
            ``balanced_accuracy`` is the macro class-wise accuracy; ``log_loss``
            needs posteriors (see :meth:`has_metric`).
        """
        if level not in LEVELS:
            raise SkascValueError(f"'level' must be one of {LEVELS}; got {level!r}.")
        if metric not in METRICS:
            raise SkascValueError(f"'metric' must be one of {METRICS}; got {metric!r}.")
        if level == "segment" and not self.has_segments:
            raise SkascValueError(
                "This report has no segment-level scores: the estimator does "
                "not expose segment posteriors."
            )
        if not self.has_metric(level, metric):
            raise SkascValueError(
                f"This report has no {metric} at {level} level: the estimator "
                "gives no posteriors there."
            )
        return np.array([s.scores[level][metric] for s in self.splits])

    def has_metric(self, level: str, metric: str) -> bool:
        """Whether every split has ``metric`` at ``level`` (the log loss needs posteriors)."""
        return all(
            s.scores.get(level) is not None and metric in s.scores[level] for s in self.splits
        )

    def class_accuracy(self, level: str = "recording") -> dict[Any, dict[str, Any]]:
        """Class-wise accuracy per class: its value in every split, mean and std.

        A split whose test items lack a class has no value for it (``None``); the
        mean and standard deviation are over the splits that have one.

        Parameters
        ----------
        level : {"recording", "segment"}, default="recording"

        Returns
        -------
        dict
            ``{class: {"splits": [float or None, ...], "mean": float, "std": float}}``
            for every class of :attr:`class_names` tested in some split.
        """
        self.split_scores(level)  # the level's checks
        out = {}
        for c in self.class_names:
            values = [s.scores[level]["class_accuracy"].get(c) for s in self.splits]
            found = [v for v in values if v is not None]
            if found:
                out[c] = {
                    "splits": values,
                    "mean": float(np.mean(found)),
                    "std": float(np.std(found)),
                }
        return out

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
            if not np.array_equal(split.classes, classes):  # type: ignore[arg-type]
                raise SkascValueError(
                    f"Split {k} has posterior columns "
                    f"{np.asarray(split.classes).tolist()} but split 0 "
                    f"{np.asarray(classes).tolist()}; their reliability "
                    "cannot be pooled."
                )
        return reliability_curve(
            np.concatenate([getattr(s, truth) for s in self.splits]),
            np.concatenate([getattr(s, attr) for s in self.splits]),
            classes,
            n_bins=n_bins,
        )

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
            out[lv] = {
                m: {
                    "splits": self.split_scores(lv, m).tolist(),
                    "mean": self.mean(lv, m),
                    "std": self.std(lv, m),
                }
                for m in METRICS
                if self.has_metric(lv, m)
            }
            if self.has_metric(lv, "class_accuracy"):
                out[lv]["class_accuracy"] = {str(c): v for c, v in self.class_accuracy(lv).items()}
        out["recording_confusion"] = self.recording_confusion.tolist()
        if self.segment_confusion is not None:
            out["segment_confusion"] = self.segment_confusion.tolist()
        return out

    def to_table(
        self, name: str = "System", *, std: bool = False, paper_terms: bool = False
    ) -> str:
        """One-row text table in the style of Tables 2-3 of the paper (percent, 2
        decimals); see :func:`format_table`."""
        return format_table({name: self}, std=std, paper_terms=paper_terms)

    def __str__(self) -> str:
        return self.to_table()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# (level, metric) per column; the headings come from _headings
_COLUMNS = (
    ("segment", "accuracy"),
    ("recording", "accuracy"),
    ("recording", "balanced_accuracy"),
    ("recording", "f1_macro"),
    ("recording", "precision_macro"),
)
_LOG_LOSS_COLUMN = ("recording", "log_loss")
_METRIC_HEADINGS = {
    "balanced_accuracy": "Macro class-wise Acc.",
    "f1_macro": "F1-score",
    "precision_macro": "Prec.",
    "log_loss": "Log loss",
}


def _runs(item: Any) -> list[EvaluationReport]:
    """A system's reports: one, or one per repeated run (e.g. per seed)."""
    runs = [item] if isinstance(item, EvaluationReport) else list(item)
    if not runs or not all(isinstance(r, EvaluationReport) for r in runs):
        raise SkascTypeError(
            "A table's system must be an EvaluationReport or a non-empty "
            f"sequence of them (one per run); got {item!r}."
        )
    return runs


def _level_names(runs: list[EvaluationReport], paper_terms: bool) -> dict[str, str]:
    """How the tables name the two levels: by the segment duration and "Recording",
    or the paper's LITIS terms ("2s", "30s")."""
    durations = {r.segment_duration for r in runs}
    duration = durations.pop() if len(durations) == 1 else None
    if paper_terms:
        return {"segment": f"{2.0 if duration is None else duration:g}s", "recording": "30s"}
    return {
        "segment": "Segment" if duration is None else f"{duration:g}-s segment",
        "recording": "Recording",
    }


def _heading(level: str, metric: str, names: dict[str, str]) -> str:
    return f"{names[level]} Acc." if metric == "accuracy" else _METRIC_HEADINGS[metric]


def _mean_std(
    runs: list[EvaluationReport], value: Callable[[EvaluationReport], np.ndarray]
) -> tuple[float, float]:
    """Mean and std over the splits of one run, or over the runs of each run's mean."""
    if len(runs) == 1:
        values = value(runs[0])
    else:
        values = np.array([np.mean(value(r)) for r in runs])
    return float(np.mean(values)), float(np.std(values))


def _render(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = [header, ["---"] + ["---:"] * (len(header) - 1)] + rows
        return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        )

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def format_table(
    reports: Mapping[str, Any],
    *,
    std: bool = False,
    log_loss: bool = False,
    markdown: bool = False,
    paper_terms: bool = False,
) -> str:
    """Text table of several reports: one row per system, as Tables 2-3 of the paper.

    Columns: segment accuracy, recording accuracy, recording macro class-wise
    accuracy (DCASE's ranking metric), recording macro F1-score and macro
    precision, all in percent with two decimals (mean over splits; ``± std``
    appended when ``std=True``). A missing level or score shows as ``-``. The
    levels are named by what they are: "2-s segment Acc." (the reports'
    ``segment_duration``; "Segment Acc." when unknown) and "Recording Acc.";
    ``paper_terms=True`` writes the paper's LITIS terms "2s Acc." and "30s Acc.".

    Parameters
    ----------
    reports : mapping of str to EvaluationReport or to a sequence of them
        System names and their reports, in row order. A sequence holds repeated
        runs of one system (e.g. one per seed): its cells are the mean over runs
        of each run's mean over splits, and ``± std`` is the standard deviation
        over runs.
    std : bool, default=False
        Append the standard deviation over splits (over runs for a sequence).
    log_loss : bool, default=False
        Add the recordings' multi-class log loss (nats, three decimals; ``-``
        without posteriors).
    markdown : bool, default=False
        A Markdown (pipe) table instead of aligned text.
    paper_terms : bool, default=False
        Name the levels "2s" and "30s", as the paper does for LITIS Rouen.

    Returns
    -------
    table : str

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array(["bus", "park"])
    >>> split = scored_split([0, 1], labels, None, np.array(["bus", "bus"]))
    >>> print(format_table({"A": EvaluationReport.from_splits([split], labels)}, markdown=True))
    | System | Segment Acc. | Recording Acc. | Macro class-wise Acc. | F1-score | Prec. |
    | --- | ---: | ---: | ---: | ---: | ---: |
    | A | - | 50.00 | 50.00 | 33.33 | 25.00 |
    """
    if not reports:
        raise SkascValueError("format_table needs at least one report; got none.")
    systems = {name: _runs(item) for name, item in reports.items()}
    columns = _COLUMNS + ((_LOG_LOSS_COLUMN,) if log_loss else ())
    rows = []
    for name, runs in systems.items():
        cells = [str(name)]
        for level, metric in columns:
            if not all(r.has_metric(level, metric) for r in runs):
                cells.append("-")
                continue
            scale, digits = (1, 3) if metric == "log_loss" else (100, 2)
            mean, spread = _mean_std(runs, methodcaller("split_scores", level, metric))
            cell = f"{scale * mean:.{digits}f}"
            if std:
                cell += f" ± {scale * spread:.{digits}f}"
            cells.append(cell)
        rows.append(cells)
    names = _level_names([r for runs in systems.values() for r in runs], paper_terms)
    header = ["System"] + [_heading(level, metric, names) for level, metric in columns]
    return _render(header, rows, markdown)


def format_class_table(
    report: Any, *, std: bool = True, markdown: bool = True, paper_terms: bool = False
) -> str:
    """Class-wise accuracy table: one row per class, a column per level, and a last
    row with their mean (the macro class-wise accuracy).

    Parameters
    ----------
    report : EvaluationReport or sequence of EvaluationReport
        One system; a sequence holds its repeated runs (see :func:`format_table`).
    std : bool, default=True
        Append the standard deviation over splits (over runs for a sequence).
    markdown : bool, default=True
    paper_terms : bool, default=False
        Name the levels "2s" and "30s" (see :func:`format_table`).

    Returns
    -------
    table : str
        Percent with two decimals; ``-`` where a level is missing.
    """
    runs = _runs(report)
    names = _level_names(runs, paper_terms)
    levels = [
        lv
        for lv in ("segment", "recording")
        if all(r.has_segments for r in runs) or lv == "recording"
    ]

    def cell(value: Callable[[EvaluationReport], np.ndarray]) -> str:
        mean, spread = _mean_std(runs, value)
        return f"{100 * mean:.2f}" + (f" ± {100 * spread:.2f}" if std else "")

    def present(r: EvaluationReport, level: str, c: Any) -> np.ndarray:
        return np.array(
            [v for v in r.class_accuracy(level).get(c, {}).get("splits", []) if v is not None]
        )

    rows = []
    for c in runs[0].class_names:
        rows.append(
            [str(c)]
            + [
                cell(functools.partial(present, level=lv, c=c))
                if all(present(r, lv, c).size for r in runs)
                else "-"
                for lv in levels
            ]
        )
    rows.append(
        ["Macro average"]
        + [
            cell(methodcaller("split_scores", lv, "balanced_accuracy"))
            if all(r.has_metric(lv, "balanced_accuracy") for r in runs)
            else "-"
            for lv in levels
        ]
    )
    header = ["Class"] + [f"{names[lv]} Acc." for lv in levels]
    return _render(header, rows, markdown)


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


def system_segment_duration(estimator: Any) -> float | None:
    """Seconds of audio per segment of a recording classifier, or None when it has no
    :class:`~skasc.frontend.Segmenter`.

    The segmenter is a step of the estimator (through Pipelines) or the one of its
    :class:`~skasc.frontend.FrontEnd` (the default ``Segmenter()`` when unset).

    Examples
    --------
    >>> from skasc import make_att_crnn_pipeline
    >>> system_segment_duration(make_att_crnn_pipeline())
    2.0
    """
    from .frontend.segment import Segmenter

    steps = [estimator]
    while steps:
        step = steps.pop(0)
        if isinstance(step, Pipeline):
            steps = [s for _, s in step.steps] + steps
        elif isinstance(step, Segmenter):
            return float(step.segment_duration)
        elif hasattr(step, "resolved_steps"):  # a FrontEnd
            return float(step.resolved_steps()["segmenter"].segment_duration)
    return None


def _last_step(estimator: Any) -> Any:
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def scored_split(
    test_index: Any,
    y_true: np.ndarray,
    classes: np.ndarray | None,
    y_pred: np.ndarray,
    *,
    proba: np.ndarray | None = None,
    segment_y_pred: np.ndarray | None = None,
    segment_proba: np.ndarray | None = None,
    segment_index: np.ndarray | None = None,
    history: list[dict] | None = None,
    estimator: Any = None,
) -> SplitResult:
    """A split's predictions with their scores at both levels (:func:`classification_scores`).

    What :func:`predict_split` returns, from predictions made elsewhere (or read
    back from files, as :func:`skasc.run_protocol` does with finished folds).

    Parameters
    ----------
    test_index : array-like of int of shape (n_test_recordings,)
    y_true, y_pred : ndarray of shape (n_test_recordings,)
    classes : ndarray of shape (n_classes,) or None
        Column order of the posteriors.
    proba : ndarray of shape (n_test_recordings, n_classes), default=None
    segment_y_pred : ndarray of shape (n_test_segments,), default=None
        Segment labels; with ``segment_index``, the segment level is scored.
    segment_proba : ndarray of shape (n_test_segments, n_classes), default=None
    segment_index : ndarray of int of shape (n_test_segments,), default=None
        Position (within the test recordings) of every segment's recording.
    history, estimator : default=None
        Kept in the result.

    Returns
    -------
    SplitResult
    """
    scores: dict[str, Any] = {
        "recording": classification_scores(y_true, y_pred, proba, classes),
        "segment": None,
    }
    segment_y_true = None
    if segment_y_pred is not None:
        segment_y_true = y_true[segment_index]
        scores["segment"] = classification_scores(
            segment_y_true, segment_y_pred, segment_proba, classes
        )
    return SplitResult(
        test_index=np.asarray(test_index),
        y_true=y_true,
        y_pred=y_pred,
        segment_y_true=segment_y_true,
        segment_y_pred=segment_y_pred,
        scores=scores,
        classes=classes,
        proba=proba,
        segment_proba=segment_proba,
        segment_index=segment_index,
        history=history,
        estimator=estimator,
    )


def _scored_posteriors(
    test_index: np.ndarray,
    y_true: np.ndarray,
    classes: np.ndarray,
    posteriors: Posteriors,
    **kept: Any,
) -> SplitResult:
    """:func:`scored_split` of the labels the posteriors give (the arg-max at each level)."""
    proba = posteriors.proba
    segment_y_pred = segment_index = None
    if posteriors.segment_proba is not None:
        segment_y_pred = classes[np.argmax(posteriors.segment_proba, axis=1)]
        segment_index = np.asarray(posteriors.segment_index)
    return scored_split(
        test_index,
        y_true,
        classes,
        classes[np.argmax(proba, axis=1)],
        proba=proba,
        segment_y_pred=segment_y_pred,
        segment_proba=posteriors.segment_proba,
        segment_index=segment_index,
        **kept,
    )


def predict_split(
    estimator: Any,
    X: Any,
    test_index: Any,
    y_true: np.ndarray,
    *,
    history: list[dict] | None = None,
    estimator_kept: Any = None,
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
        return scored_split(
            test_index,
            y_true,
            None if classes is None else np.asarray(classes),
            np.asarray(estimator.predict(X)),
            segment_y_pred=segment_y_pred,
            segment_index=segment_index,
            **kept,
        )
    classes = np.asarray(classes)
    if has_segment_posteriors(estimator):
        return _scored_posteriors(
            test_index, y_true, classes, predict_proba_levels(estimator, X), **kept
        )
    proba = np.asarray(estimator.predict_proba(X))
    return scored_split(
        test_index, y_true, classes, classes[np.argmax(proba, axis=1)], proba=proba, **kept
    )


def _fit_and_score(
    estimator: Any,
    X: Any,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    split: int,
    fit_params: dict,
    return_estimator: bool,
) -> SplitResult:
    estimator.fit(safe_indexing(X, train), y[train], **fit_params)
    y_test = y[test]
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        unknown = np.setdiff1d(np.unique(y_test), np.asarray(classes))
        if unknown.size:
            raise SkascValueError(
                f"Split {split}: the test recordings have labels never seen in fit: "
                f"{unknown.tolist()}. Known classes: {np.asarray(classes).tolist()}. Use a "
                "stratified splitter or drop classes with too few recordings."
            )
    return predict_split(
        estimator,
        safe_indexing(X, test),
        test,
        y_test,
        history=training_history(estimator),
        estimator_kept=estimator if return_estimator else None,
    )


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
    floor = check_real(floor, "floor", "fuse_reports", low=0.0, high=1.0, low_inclusive=False)
    if len(reports) < 2:
        raise SkascValueError(f"fuse_reports needs at least 2 reports; got {len(reports)}.")
    first = reports[0]
    for k, rep in enumerate(reports):
        if len(rep.splits) != len(first.splits):
            raise SkascValueError(
                f"Report {k} has {len(rep.splits)} splits but report 0 has "
                f"{len(first.splits)}; evaluate all systems with the same cv."
            )
        if list(rep.class_names) != list(first.class_names):
            raise SkascValueError(
                f"Report {k} has classes {np.asarray(rep.class_names).tolist()} "
                f"but report 0 has {np.asarray(first.class_names).tolist()}."
            )
    fused = []
    for i, base in enumerate(first.splits):
        splits = [rep.splits[i] for rep in reports]
        for k, s in enumerate(splits):
            if s.proba is None:
                raise SkascValueError(
                    f"Report {k} has no posteriors in split {i} (its estimator "
                    "has no predict_proba); it cannot be fused."
                )
            if not np.array_equal(s.test_index, base.test_index):
                raise SkascValueError(
                    f"Split {i} of report {k} tests other recordings than split "
                    f"{i} of report 0; evaluate all systems with the same cv."
                )
            if not np.array_equal(s.classes, base.classes):  # type: ignore[arg-type]
                raise SkascValueError(
                    f"Split {i} of report {k} orders its classes differently from report 0."
                )
        fused.append(
            _scored_posteriors(
                base.test_index,
                base.y_true,
                base.classes,  # type: ignore[arg-type]
                fuse_systems([_system(s) for s in splits], floor=floor),
            )
        )
    return EvaluationReport.from_splits(
        fused, np.asarray(first.class_names), segment_duration=first.segment_duration
    )


def _system(split: SplitResult) -> Posteriors | np.ndarray:
    """A split's posteriors as :func:`~skasc.fusion.fuse_systems` takes a system's."""
    proba = split.proba
    assert proba is not None  # fuse_reports refuses a split without posteriors
    if split.segment_proba is None:
        return proba
    with np.errstate(divide="ignore"):  # a fused posterior may underflow to 0
        return Posteriors(np.log(proba), split.segment_proba, split.segment_index)


def evaluate(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv: Any = 5,
    groups: Any = None,
    n_jobs: int | None = None,
    verbose: int = 0,
    return_estimators: bool = False,
    fit_params: dict | None = None,
) -> EvaluationReport:
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
        Passed to ``cv.split``, and the training side's to the fusion estimator's
        ``fit`` (its held-out recordings are drawn by group,
        :func:`skasc.fusion.groups_fit_params`).
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
        Per-split accuracy, class-wise and macro class-wise accuracy, macro F1,
        macro precision (and log loss with posteriors) at both levels, and
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
        raise SkascValueError(
            f"evaluate expects one label per recording (a 1-D y); got y of shape {y.shape}."
        )
    n_rec = n_recordings(X)
    if n_rec != y.shape[0]:
        raise SkascValueError(f"X has {n_rec} recordings but y has {y.shape[0]} labels.")
    splitter = check_cv(cv, y, classifier=True)
    splits = list(splitter.split(X, y, groups))
    if not splits:
        raise SkascValueError("The splitter 'cv' produced no splits.")
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_score)(
            clone(estimator),
            X,
            y,
            np.asarray(train),
            np.asarray(test),
            i,
            {
                **(fit_params or {}),
                **groups_fit_params(
                    estimator, None if groups is None else np.asarray(groups)[np.asarray(train)]
                ),
            },
            return_estimators,
        )
        for i, (train, test) in enumerate(splits)
    )
    return EvaluationReport.from_splits(
        list(results), np.unique(y), segment_duration=system_segment_duration(estimator)
    )
