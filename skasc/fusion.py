"""Recording-level decisions from segment-level posteriors.

Phan et al. (2019) classify every 2-second segment of a recording and derive the
label of the whole (30-second) recording by *probabilistic multiplicative fusion
followed by likelihood maximisation*: the segment posteriors are multiplied, the
product is renormalised, and the class with the largest fused posterior wins.
The fusion rows of their Table 3 apply the same rule once more, across systems
(a log-Mel and a log-Gammatone network).

Two layers, as everywhere in skasc:

* :func:`fuse_log_posteriors` and :func:`product_fusion` are the rule on plain
  arrays, computed in the log domain so that hundreds of segments do not
  underflow;
* :class:`RecordingFusion` wraps any scikit-learn classifier with
  ``predict_proba`` (fit on segments, predict on recordings), and
  :class:`SystemFusion` multiplies the recording posteriors of several fitted
  systems, in the manner of :class:`~sklearn.ensemble.VotingClassifier`.

:func:`predict_proba_levels` returns the recording- and segment-level
posteriors of a fitted estimator (a fusion estimator, or a ``Pipeline`` ending in
one) as one :class:`Posteriors` record, running the front end only once;
:func:`skasc.evaluation.evaluate` uses it to report both the "2 s" and the "30 s"
accuracies, and :func:`fuse_systems` applies the product rule across systems to
such records (what :class:`SystemFusion` does, and ``fuse_reports`` on evaluated
posteriors).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._recordings import check_batch, n_recordings
from ._sklearn import BaseComposition, safe_indexing
from ._validation import (
    BOOL,
    MAX_SEED,
    Instance,
    Int,
    Options,
    Real,
    check_label_types,
    check_option,
    check_params,
    check_real,
)
from ._warnings import warn
from .exceptions import InvalidParameterError, SkascTypeError, SkascValueError

__all__ = [
    "fuse_log_posteriors",
    "pool_evidence",
    "fit_temperature",
    "holdout_split",
    "product_fusion",
    "flatten_segments",
    "fuse_systems",
    "has_segment_posteriors",
    "groups_fit_params",
    "predict_proba_levels",
    "segment_log_evidence",
    "Posteriors",
    "RecordingFusion",
    "SystemFusion",
]

_DEFAULT_FLOOR = 1e-7

RULES = ("product", "mean")
"""How segment posteriors are fused into a recording's: their renormalised product
(the paper's rule) or their renormalised geometric mean."""


@dataclass(frozen=True)
class Posteriors:
    """Posteriors of a batch of recordings at recording and segment level.

    What a fusion estimator computes for a batch in one pass
    (:func:`predict_proba_levels`): both levels come from the same segment
    posteriors.

    Attributes
    ----------
    log_proba : ndarray of shape (n_recordings, n_classes)
        Log posteriors of the recordings (a fusion estimator's ``predict_log_proba``).
    segment_proba : ndarray of shape (n_segments_total, n_classes) or None
        Posteriors of every segment, the segments of recording 0 first; None
        without a segment level.
    segment_index : ndarray of int of shape (n_segments_total,) or None
        The recording (row of ``log_proba``) of every segment.
    segment_log_evidence : ndarray of shape (n_segments_total, n_classes) or None
        Each segment's term in the fusion rule: ``log(max(p, floor)) / T`` of its
        posteriors (``T`` the fitted ``temperature_``, 1 without one), summed over
        the systems of a :class:`SystemFusion`. The fused log posteriors of any
        group of segments are the log-softmax of the sum (``rule="product"``) or
        the mean (``rule="mean"``) of their rows (:func:`fuse_log_posteriors`).
    rule : {"product", "mean"} or None, default="product"
        How ``segment_log_evidence`` rows pool into a group's; None when the
        systems of a :class:`SystemFusion` pool differently.

    Examples
    --------
    >>> import numpy as np
    >>> levels = Posteriors(np.log([[0.25, 0.75]]), np.array([[0.5, 0.5], [0.25, 0.75]]),
    ...                     np.array([0, 0]))
    >>> levels.proba
    array([[0.25, 0.75]])
    """

    log_proba: np.ndarray
    segment_proba: np.ndarray | None = None
    segment_index: np.ndarray | None = None
    segment_log_evidence: np.ndarray | None = None
    rule: str | None = "product"

    @property
    def proba(self) -> np.ndarray:
        """Recording posteriors, ``exp(log_proba)``, shape (n_recordings, n_classes)."""
        return np.exp(self.log_proba)


# --------------------------------------------------------------------------- #
# The rule on arrays
# --------------------------------------------------------------------------- #
def _floored_log(probas: Any, floor: float) -> np.ndarray:
    """``log(max(p, floor))``: a segment's (or system's) evidence in the product rule."""
    return np.log(np.maximum(np.asarray(probas, dtype=np.float64), floor))


def _check_lengths(lengths: Any, n_items: int) -> np.ndarray:
    if lengths is None:
        return np.array([n_items], dtype=np.intp)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise SkascTypeError(
            "'lengths' must be a 1-D array of ints (segments per recording); "
            f"got dtype {lengths.dtype} and shape {lengths.shape}."
        )
    empty = np.flatnonzero(lengths <= 0)
    if empty.size:
        raise SkascValueError(
            f"Recording {int(empty[0])} has {int(lengths[empty[0]])} segments; "
            "every recording needs at least one segment to be fused."
        )
    if int(lengths.sum()) != n_items:
        raise SkascValueError(
            f"'lengths' sums to {int(lengths.sum())} segments but the posteriors "
            f"have {n_items} rows."
        )
    return lengths.astype(np.intp)


def fuse_log_posteriors(
    log_probas: np.ndarray,
    *,
    lengths: Sequence[int] | np.ndarray | None = None,
    rule: str = "product",
) -> np.ndarray:
    """Multiplicative fusion in the log domain.

    Sums (``rule="product"``) or averages (``rule="mean"``) the log-posteriors of
    the segments of each recording and normalises the result with a log-softmax
    (the maximum is subtracted before exponentiating), i.e. returns the logarithm
    of the renormalised product, or geometric mean, of the posteriors. Both rules
    give every recording the same arg-max.

    Parameters
    ----------
    log_probas : ndarray of shape (n_segments_total, n_classes)
        Log-posteriors of the segments, grouped by recording: the first
        ``lengths[0]`` rows belong to recording 0, and so on. Must be finite
        (floor the posteriors before taking the logarithm).
    lengths : array-like of int of shape (n_recordings,), default=None
        Number of segments of each recording. ``None`` fuses all rows into a
        single recording.
    rule : {"product", "mean"}, default="product"
        ``"product"``: the paper's rule, the sum of the log posteriors;
        ``"mean"``: their mean, whose confidence does not grow with the number of
        segments.

    Returns
    -------
    log_fused : ndarray of shape (n_recordings, n_classes)
        Normalised log-posteriors of the recordings (``logsumexp`` over the
        classes is 0).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.6, 0.4], [0.7, 0.3], [0.2, 0.8]])
    >>> np.exp(fuse_log_posteriors(np.log(p), lengths=[2, 1])).round(3)
    array([[0.778, 0.222],
           [0.2  , 0.8  ]])
    >>> np.exp(fuse_log_posteriors(np.log(p), lengths=[2, 1], rule="mean")).round(3)
    array([[0.652, 0.348],
           [0.2  , 0.8  ]])
    """
    log_probas = np.asarray(log_probas, dtype=np.float64)
    if log_probas.ndim != 2:
        raise SkascValueError(
            "'log_probas' must be a 2-D array of shape (n_segments_total, n_classes); "
            f"got shape {log_probas.shape}."
        )
    if not np.all(np.isfinite(log_probas)):
        raise SkascValueError(
            "'log_probas' contains NaN or infinite values; floor the posteriors "
            "(e.g. with product_fusion's 'floor') before taking the logarithm."
        )
    check_option(rule, "rule", "fuse_log_posteriors", list(RULES))
    lengths = _check_lengths(lengths, log_probas.shape[0])
    return _log_softmax(pool_evidence(log_probas, lengths, rule))


def _log_softmax(evidence: np.ndarray) -> np.ndarray:
    out = evidence - evidence.max(axis=1, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=1, keepdims=True))
    return out


def pool_evidence(log_probas: np.ndarray, lengths: np.ndarray, rule: str) -> np.ndarray:
    """Sum (``"product"``) or mean (``"mean"``) of each recording's rows, unnormalised.

    Parameters
    ----------
    log_probas : ndarray of shape (n_segments_total, n_classes)
        Grouped by recording.
    lengths : ndarray of int of shape (n_recordings,)
        Rows of each recording, all positive (:func:`fuse_log_posteriors` checks them).
    rule : {"product", "mean"}

    Returns
    -------
    ndarray of shape (n_recordings, n_classes)
    """
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pooled = np.add.reduceat(np.asarray(log_probas, dtype=np.float64), starts, axis=0)
    if rule == "mean":
        pooled /= np.asarray(lengths)[:, None]
    return pooled


#: The range :func:`fit_temperature` searches.
TEMPERATURE_RANGE = (1e-2, 1e2)


def fit_temperature(evidence: np.ndarray, codes: np.ndarray) -> float:
    """The temperature ``T`` that minimises the log loss of ``softmax(evidence / T)``.

    Temperature scaling (Guo et al. 2017): one parameter, so the arg-max never
    changes. The search is bounded to :data:`TEMPERATURE_RANGE`: held-out items that
    are all classified right would otherwise drive ``T`` to 0.

    Parameters
    ----------
    evidence : ndarray of shape (n_items, n_classes)
        Unnormalised log posteriors of items the model did not train on.
    codes : ndarray of int of shape (n_items,)
        Their true classes, as column indices.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.integers(0, 3, 2000)
    >>> x = rng.normal(size=(2000, 3)) + 2.0 * np.eye(3)[codes]  # unit-variance scores
    >>> logits = 2.0 * x                                 # their exact log posteriors (+ const)
    >>> round(fit_temperature(logits, codes), 1), round(fit_temperature(3 * logits, codes), 1)
    (1.0, 3.1)
    """
    from scipy.optimize import minimize_scalar

    evidence = np.asarray(evidence, dtype=np.float64)
    rows = np.arange(evidence.shape[0])

    def log_loss(log_t: float) -> float:
        return -float(_log_softmax(evidence / np.exp(log_t))[rows, codes].mean())

    low, high = np.log(TEMPERATURE_RANGE)
    return float(
        np.exp(
            minimize_scalar(
                log_loss, bounds=(low, high), method="bounded", options={"xatol": 1e-6}
            ).x
        )
    )


def holdout_split(
    codes: np.ndarray, groups: Any, fraction: float, random_state: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Recordings to train on and recordings held out, class by class and by group.

    The held-out side is the first fold of ``StratifiedGroupKFold(n_splits=
    round(1 / fraction), shuffle=True)``, with fewer folds (so a larger share, up to
    half) when there are fewer groups, or fewer recordings in the largest class; a
    class left with no training recording gets its held-out groups back, so every
    class is trained on.

    Parameters
    ----------
    codes : ndarray of int of shape (n_recordings,)
    groups : array-like of shape (n_recordings,) or None
        None: each recording is its own group.
    fraction : float
        In (0, 0.5].
    random_state : int or None

    Returns
    -------
    train, held_out : ndarray of int
        Sorted recording indices; ``held_out`` is empty when no recording can be held
        out without leaving a class untrained (one group, or one recording per class).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    n = codes.shape[0]
    groups = np.arange(n) if groups is None else np.asarray(groups)
    if groups.shape != (n,):
        raise SkascValueError(
            f"groups must have one entry per recording, shape ({n},); got shape {groups.shape}."
        )
    n_groups = np.unique(groups).shape[0]
    if n_groups < 2:
        return np.arange(n), np.array([], dtype=np.intp)
    # fewer folds (a larger share held out) when classes or groups are too few for them
    k = max(2, min(int(round(1.0 / fraction)), n_groups, int(np.bincount(codes).max())))
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():  # small classes: stratified as well as they can be
        warnings.filterwarnings("ignore", message="The least populated class")
        try:
            train, held = next(splitter.split(np.zeros(n), codes, groups))
        except ValueError:  # every class smaller than the number of folds
            train, held = np.arange(n), np.array([], dtype=np.intp)
    missing = np.setdiff1d(codes, codes[train])
    if missing.size:  # give those classes their groups back
        back = np.isin(groups[held], groups[held][np.isin(codes[held], missing)])
        train, held = np.sort(np.r_[train, held[back]]), held[~back]
    return np.sort(train), np.sort(held)


def product_fusion(
    probas: np.ndarray,
    *,
    floor: float = _DEFAULT_FLOOR,
    lengths: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Renormalised product of segment posteriors (probabilistic multiplicative fusion).

    ``fused[r, c]`` is proportional to ``prod_s max(probas[s, c], floor)`` over the
    segments ``s`` of recording ``r``. The product is computed as a sum of
    logarithms, so it neither underflows for long recordings nor lets a single
    zero posterior veto a class.

    Parameters
    ----------
    probas : ndarray of shape (n_segments_total, n_classes)
        Segment posteriors grouped by recording (see ``lengths``).
    floor : float, default=1e-7
        Posteriors below ``floor`` are raised to it before multiplying. In (0, 1].
    lengths : array-like of int of shape (n_recordings,), default=None
        Number of segments of each recording; ``None`` fuses all rows.

    Returns
    -------
    fused : ndarray of shape (n_recordings, n_classes)
        Fused posteriors; each row sums to 1.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6], [0.0, 1.0]])
    >>> product_fusion(p, lengths=[2, 1]).round(3)
    array([[0.857, 0.143],
           [0.   , 1.   ]])
    """
    floor = check_real(floor, "floor", "product_fusion", low=0.0, high=1.0, low_inclusive=False)
    probas = np.asarray(probas, dtype=np.float64)
    if probas.ndim != 2:
        raise SkascValueError(
            "'probas' must be a 2-D array of shape (n_segments_total, n_classes); "
            f"got shape {probas.shape}."
        )
    if np.any(np.isnan(probas)):
        raise SkascValueError("'probas' contains NaN posteriors.")
    return np.exp(fuse_log_posteriors(_floored_log(probas, floor), lengths=lengths))


# --------------------------------------------------------------------------- #
# Helpers on batches of recordings
# --------------------------------------------------------------------------- #
def _as_batch(X: Any, owner: str) -> Any:
    """Reject sparse input; turn array-likes without ``len`` into arrays."""
    if sp.issparse(X):
        raise SkascTypeError(
            f"{owner} does not support sparse input; pass a dense array of shape "
            "(n_recordings, n_segments, ...) or an object array of recordings."
        )
    return X if hasattr(X, "__len__") else np.asarray(X)


def flatten_segments(X: Any) -> tuple[np.ndarray, np.ndarray]:
    """The segments of a batch of recordings in one array, ``(n_segments_total, ...)``,
    and each recording's number of segments, ``(n_recordings,)`` (a view when dense)."""
    # the wrapped estimator checks the dtype of the segments
    items = check_batch(
        X,
        "RecordingFusion",
        item_ndim=tuple(range(1, 8)),
        item_shape="(n_segments, ...)",
        numeric=False,
    )
    for i, rec in enumerate(items):
        if rec.shape[0] == 0:
            raise SkascValueError(
                f"Recording {i} has no segments; every recording needs at least one segment."
            )
        if rec.shape[1:] != items[0].shape[1:]:
            raise SkascValueError(
                f"Recording {i} has segments of shape {rec.shape[1:]} but recording 0 "
                f"has segments of shape {items[0].shape[1:]}; all segments must share "
                "a shape."
            )
    lengths = np.array([rec.shape[0] for rec in items], dtype=np.intp)
    if isinstance(X, np.ndarray) and X.dtype != object:  # dense: a view, no copy
        return X.reshape((-1,) + X.shape[2:]), lengths
    return np.concatenate(items, axis=0), lengths


def _check_y(X: Any, y: Any, owner: str) -> np.ndarray:
    if y is None:
        raise SkascValueError(f"{owner} requires y to be passed, but the target y is None.")
    check_label_types(y, owner)  # before np.asarray turns ["a", 1] into strings
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if y.ndim != 1:
        raise SkascValueError(
            f"{owner} expects one label per recording (a 1-D y); got y of shape {y.shape}."
        )
    n_rec = n_recordings(_as_batch(X, owner))
    if n_rec != y.shape[0]:
        raise SkascValueError(
            f"X has {n_rec} recordings but y has {y.shape[0]} labels; {owner} expects "
            "one label per recording."
        )
    check_classification_targets(y)
    return y


def _label_encoder(y: np.ndarray, owner: str) -> LabelEncoder:
    """A ``LabelEncoder`` fitted on ``y``, which must hold at least two classes."""
    encoder = LabelEncoder().fit(y)
    if encoder.classes_.shape[0] < 2:
        raise SkascValueError(
            f"{owner} needs recordings of at least 2 classes; got 1 class: "
            f"{encoder.classes_.tolist()}."
        )
    return encoder


def _check_known_labels(y: Any, classes: np.ndarray) -> None:
    unknown = np.setdiff1d(np.unique(np.asarray(y)), classes)
    if unknown.size:
        raise SkascValueError(
            f"y contains labels never seen in fit: {unknown.tolist()}. Known classes: "
            f"{classes.tolist()}."
        )


def _unwrap_pipeline(estimator: Any, X: Any) -> tuple[Any, Any]:
    """Apply the transform steps of (nested) Pipelines; return the final step and data."""
    while isinstance(estimator, Pipeline):
        if len(estimator.steps) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator.steps[-1][1]
    return estimator, X


def _final_step(estimator: Any) -> Any:
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def has_segment_posteriors(estimator: Any) -> bool:
    """Whether ``estimator`` (or the last step of its Pipelines) is a fusion estimator
    with a segment level: a :class:`RecordingFusion`, or a :class:`SystemFusion`
    whose systems all have one."""
    final = _final_step(estimator)
    if isinstance(final, SystemFusion):
        return _all_systems_have_segments(final)
    return isinstance(final, _FusionMixin)


def groups_fit_params(estimator: Any, groups: Any) -> dict[str, Any]:
    """The fit parameter that hands each recording's group to the fusion estimator
    of ``estimator`` (itself, or the last step of nested ``Pipeline`` objects).

    Held-out recordings (``temperature="holdout"``) are drawn by group, so that
    recordings cut from one source never sit on both sides.

    Parameters
    ----------
    estimator : estimator
    groups : array-like of shape (n_recordings,) or None

    Returns
    -------
    dict
        ``{"fusion__groups": groups}`` for a pipeline ending in a step ``fusion``,
        ``{"groups": groups}`` for a fusion estimator, ``{}`` for anything else or
        ``groups=None``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> pipe = Pipeline([("fusion", RecordingFusion(LogisticRegression()))])
    >>> groups_fit_params(pipe, [0, 0, 1])
    {'fusion__groups': [0, 0, 1]}
    """
    if groups is None:
        return {}
    prefix = ""
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        prefix += name + "__"
    if isinstance(estimator, _FusionMixin):
        return {prefix + "groups": groups}
    return {}


def predict_proba_levels(estimator: Any, X: Any) -> Posteriors:
    """Recording- and segment-level posteriors of a fitted estimator.

    Works for :class:`RecordingFusion`, :class:`SystemFusion`, and
    ``Pipeline`` objects whose last step is one of them (the transform steps run
    once, and both levels are read from the same segment posteriors). Any other
    classifier gives the log of its ``predict_proba`` and no segment level.

    Parameters
    ----------
    estimator : fitted classifier
        Columns of the posteriors follow ``estimator.classes_``.
    X : batch of recordings
        Input of ``estimator``.

    Returns
    -------
    Posteriors
        ``segment_index`` indexes the recordings of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.random.default_rng(1).normal(size=(4, 3, 2))  # 3 segments each
    >>> levels = predict_proba_levels(RecordingFusion(LogisticRegression()).fit(X, [0, 1] * 2), X)
    >>> levels.proba.shape, levels.segment_proba.shape, levels.segment_index.tolist()
    ((4, 2), (12, 2), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    """
    final, Xt = _unwrap_pipeline(estimator, X)
    if isinstance(final, _FusionMixin):
        check_is_fitted(final)
        return final._posteriors(Xt)
    with np.errstate(divide="ignore"):  # a posterior of 0 has log -inf
        return Posteriors(np.log(np.asarray(final.predict_proba(Xt), dtype=np.float64)))


def segment_log_evidence(estimator: Any, X: Any) -> Posteriors:
    """Each segment's contribution to the fusion rule, and its recording.

    The fused log posterior of any group of segments is the log-softmax of the sum
    (or, under ``rule="mean"``, the mean) of their rows: for a recording, exactly
    what ``predict_log_proba`` returns;
    for another group (a window of a long recording, see
    :func:`skasc.timeline.predict_timeline`), the same rule applied to it.

    Parameters
    ----------
    estimator : fitted RecordingFusion, SystemFusion or Pipeline ending in one
        A :class:`SystemFusion` needs every system to have segment posteriors,
        from the same segmentation.
    X : batch of recordings
        Input of ``estimator``.

    Returns
    -------
    Posteriors
        :func:`predict_proba_levels`, with ``segment_log_evidence`` (shape
        (n_segments_total, n_classes)), ``segment_index`` and ``rule`` always set.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(6, 4, 3)), np.array([0, 1] * 3)
    >>> clf = RecordingFusion(LogisticRegression()).fit(X, y)
    >>> levels = segment_log_evidence(clf, X)
    >>> levels.segment_log_evidence.shape, levels.segment_index[:5].tolist()
    ((24, 2), [0, 0, 0, 0, 1])
    >>> lengths = np.bincount(levels.segment_index)
    >>> bool(np.allclose(fuse_log_posteriors(levels.segment_log_evidence, lengths=lengths),
    ...                  clf.predict_log_proba(X)))
    True
    """
    final, Xt = _unwrap_pipeline(estimator, X)
    if isinstance(final, RecordingFusion):
        check_is_fitted(final)
        return final._posteriors(Xt)
    if isinstance(final, SystemFusion):
        check_is_fitted(final)
        levels = final._posteriors(Xt, require_segments=True)
        if levels.segment_log_evidence is None:
            raise SkascValueError(
                "The systems of this SystemFusion fuse segments by different rules "
                f"{[getattr(_final_step(est), 'rule', None) for est in final.estimators_]}; "
                "segment evidence pools under one rule: give every system the same 'rule'."
            )
        return levels
    raise SkascTypeError(
        "segment_log_evidence needs a RecordingFusion, a SystemFusion or a Pipeline "
        f"ending in one; got {type(final).__name__}."
    )


def _system_log_evidence(system: Posteriors | np.ndarray, floor: float) -> np.ndarray:
    """One system's log recording posteriors for system fusion.

    A system with a segment level contributes its recording log posteriors as they
    are (its own rule and temperature applied), never floored: a product of many
    segments is often far below any floor. Up to a constant per recording, which
    the renormalisation removes, they are its segments' pooled log evidence, so
    system fusion multiplies *all segments of all systems* under the product
    rule. Recording posteriors alone (an array, or no segment level) are floored.
    """
    if isinstance(system, np.ndarray):
        return _floored_log(system, floor)
    if system.segment_proba is None:
        return _floored_log(system.proba, floor)
    return np.asarray(system.log_proba, dtype=np.float64)


def fuse_systems(
    systems: Sequence[Posteriors | np.ndarray], *, floor: float = _DEFAULT_FLOOR
) -> Posteriors:
    """The product rule across systems: what :class:`SystemFusion` computes, on data.

    Parameters
    ----------
    systems : sequence of Posteriors or ndarray of shape (n_recordings, n_classes)
        Each system's posteriors for the same recordings, columns in the same
        order: a :class:`Posteriors` with a segment level contributes its recording
        log posteriors (its segments' evidence under its own rule and temperature);
        recording posteriors (an array, or a ``Posteriors`` without segments) are
        floored and contribute themselves.
    floor : float, default=1e-7
        Posteriors below ``floor`` are raised to it before multiplying.

    Returns
    -------
    Posteriors
        The fused recording posteriors and, when every system has segment
        posteriors with the same ``segment_index``, the renormalised product of
        the systems' segment posteriors; with their summed log evidence when every
        system carries it under the same rule.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0.9, 0.1]])
    >>> fuse_systems([a, np.array([[0.4, 0.6]])]).proba.round(3)
    array([[0.857, 0.143]])
    """
    evidence = sum(_system_log_evidence(system, floor) for system in systems)
    log_proba = _log_softmax(evidence)  # type: ignore[arg-type]  # systems is not empty
    first = systems[0]
    if not all(
        isinstance(s, Posteriors)
        and s.segment_proba is not None
        and np.array_equal(s.segment_index, first.segment_index)  # type: ignore[union-attr, arg-type]
        for s in systems
    ):
        return Posteriors(log_proba)  # systems that cut the recordings differently
    levels: list[Any] = list(systems)  # Posteriors with segment posteriors, checked above
    stacked = np.stack([_floored_log(s.segment_proba, floor) for s in levels], axis=1)
    n_segments, n_systems, n_classes = stacked.shape
    segment = np.exp(
        fuse_log_posteriors(
            stacked.reshape(n_segments * n_systems, n_classes),
            lengths=np.full(n_segments, n_systems),
        )
    )
    rules = {s.rule for s in levels}
    if len(rules) == 1 and all(s.segment_log_evidence is not None for s in levels):
        return Posteriors(
            log_proba,
            segment,
            levels[0].segment_index,
            sum(s.segment_log_evidence for s in levels),
            rules.pop(),
        )
    return Posteriors(log_proba, segment, levels[0].segment_index, None, None)


# --------------------------------------------------------------------------- #
# Estimators
# --------------------------------------------------------------------------- #
class _FusionMixin:
    """Methods shared by the fusion classifiers.

    Each class defines ``_posteriors(X)``, the :class:`Posteriors` of a batch;
    everything else is read from it.
    """

    if TYPE_CHECKING:  # what each fusion class defines
        classes_: np.ndarray

        def _posteriors(self, X: Any) -> Posteriors: ...

    def _log_proba(self, X: Any) -> np.ndarray:
        return self._posteriors(X).log_proba

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of the fused recording posteriors, shape (n_recordings, n_classes)."""
        check_is_fitted(self)
        return self._log_proba(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Fused recording posteriors, shape (n_recordings, n_classes); rows sum to 1."""
        check_is_fitted(self)
        return np.exp(self._log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Most likely class of each recording (likelihood maximisation), shape (n_recordings,)."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self._log_proba(X), axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Recording-level accuracy; raises ValueError for labels never seen in fit."""
        check_is_fitted(self)
        y = _check_y(X, y, type(self).__name__)
        _check_known_labels(y, self.classes_)
        return super().score(X, y, sample_weight=sample_weight)  # type: ignore[misc]  # ClassifierMixin's


class RecordingFusion(_FusionMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Classify segments, then fuse their posteriors into one decision per recording.

    ``fit`` trains a clone of ``estimator`` on the segments of the recordings, each
    segment carrying the label of its recording. ``predict_proba`` fuses the
    segment posteriors of each recording (in the log domain, each posterior
    floored at ``floor``) by their renormalised product (``rule="product"``,
    probabilistic multiplicative fusion followed by likelihood maximisation, Phan
    et al. 2019, Sec. 4.5) or geometric mean (``rule="mean"``), optionally
    tempered; ``predict`` takes the arg-max, which neither the rule nor the
    temperature changes. Segment-level posteriors stay available through
    :meth:`predict_proba_segments`.

    Parameters
    ----------
    estimator : classifier
        Segment-level classifier with ``fit``, ``predict_proba`` and ``classes_``,
        e.g. the attention CRNN followed by a calibrated linear SVM. It is fit on
        integer-encoded labels ``0 .. n_classes - 1``.
    rule : {"product", "mean"}, default="product"
        ``"product"``: the paper's rule, the sum of the segments' log posteriors;
        its confidence grows with the number of segments, as if they were
        independent observations. ``"mean"``: their mean (the geometric mean of
        the posteriors), as confident as a typical segment.
    temperature : float or "holdout", default=1.0
        The recording log posteriors are divided by it before renormalising
        (``p ** (1 / T)``): above 1 softens, below 1 sharpens. ``"holdout"`` fits
        it: ``estimator`` is trained on the other recordings, and the temperature
        minimises the log loss of the held-out ones (Guo et al. 2017), which the
        estimator never saw. The held-out recordings are not used for training.
    holdout : float, default=0.15
        With ``temperature="holdout"``: the share of recordings held out, drawn
        class by class as one fold of ``sklearn.model_selection.StratifiedGroupKFold(
        n_splits=round(1 / holdout))`` (so 0.15 holds out about a seventh; the
        ``groups`` given to ``fit`` never straddle the two sides). In (0, 0.5].
    random_state : int or None, default=None
        Seeds the held-out draw.
    floor : float, default=1e-7
        Segment posteriors below ``floor`` are raised to it before fusing,
        so that one segment cannot veto a class. In (0, 1].
    flatten : bool, default=False
        If True, each segment is reshaped to a 1-D feature vector before it is
        passed to ``estimator`` (for ordinary scikit-learn classifiers on, e.g.,
        ``(n_channels, n_bands, n_frames)`` feature maps).
    groups_param : str or None, default=None
        If given, the name of a fit parameter of ``estimator`` that receives, for
        every segment, the index of its recording (e.g. ``"groups"`` for an
        internal split by recording, ``"net__recording_index"`` for crops).

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
        Recording labels, sorted (from a ``LabelEncoder``).
    le_ : LabelEncoder
        Maps labels to the integers the inner estimator was fit on.
    temperature_ : float
        The temperature in use: ``temperature``, or the fitted one.
    holdout_index_ : ndarray of int of shape (n_held_out,)
        The recordings (rows of ``X`` at fit) held out for the temperature; empty
        without ``temperature="holdout"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> y = np.array(["bus", "park"] * 10)
    >>> X = rng.normal(size=(20, 15, 4)) + (y == "bus")[:, None, None]  # 15 segments each
    >>> clf = RecordingFusion(LogisticRegression(), flatten=True).fit(X, y)
    >>> clf.predict_proba(X).shape, clf.predict_proba_segments(X).shape
    ((20, 2), (300, 2))
    >>> clf.score(X, y)
    1.0
    >>> tempered = RecordingFusion(LogisticRegression(), flatten=True, rule="mean",
    ...                            temperature="holdout", random_state=0).fit(X, y)
    >>> tempered.holdout_index_.shape, tempered.temperature_ > 0  # 1/7 of 20, class by class
    ((3,), True)
    """

    _parameter_checks = {
        "rule": Options(RULES),
        "holdout": Real(low=0.0, high=0.5, low_inclusive=False),
        "random_state": Int(low=0, high=MAX_SEED, none=True),
        "floor": Real(low=0.0, high=1.0, low_inclusive=False),
        "flatten": BOOL,
        "groups_param": Instance((str,), "a str", none=True),
    }

    def __init__(
        self,
        estimator: Any,
        *,
        rule: str = "product",
        temperature: float | str = 1.0,
        holdout: float = 0.15,
        random_state: int | None = None,
        floor: float = _DEFAULT_FLOOR,
        flatten: bool = False,
        groups_param: str | None = None,
    ) -> None:
        self.estimator = estimator
        self.rule = rule
        self.temperature = temperature
        self.holdout = holdout
        self.random_state = random_state
        self.floor = floor
        self.flatten = flatten
        self.groups_param = groups_param

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _check_params(self) -> None:
        check_params(self)
        if not (
            self.temperature == "holdout"
            if isinstance(self.temperature, str)
            else isinstance(self.temperature, (int, float, np.floating, np.integer))
            and not isinstance(self.temperature, (bool, np.bool_))
            and np.isfinite(self.temperature)
            and self.temperature > 0
        ):
            raise InvalidParameterError(
                "The 'temperature' parameter of RecordingFusion must be a float in the range "
                f"(0, inf) or 'holdout'. Got {self.temperature!r} instead."
            )

    def _segments(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        segments, lengths = flatten_segments(X)
        if self.flatten:
            segments = segments.reshape(segments.shape[0], -1)
        return segments, lengths

    def fit(self, X: Any, y: Any, groups: Any = None, **fit_params: Any) -> RecordingFusion:
        """Fit the segment classifier on the segments of the recordings.

        Parameters
        ----------
        X : ndarray of shape (n_recordings, n_segments, ...), or object ndarray of \
shape (n_recordings,)
            Segments of each recording (e.g. features of shape
            ``(n_segments, n_channels, n_bands, n_frames)``); recordings may have
            different numbers of segments.
        y : array-like of shape (n_recordings,)
            One label per recording (strings or ints).
        groups : array-like of shape (n_recordings,), default=None
            With ``temperature="holdout"``: recordings of one group (e.g. cut
            from the same source file) are held out together. None: every
            recording is its own group.
        **fit_params : dict
            Forwarded to ``estimator.fit``. A ``sample_weight`` of length
            ``n_recordings`` is repeated over the segments of each recording.

        Returns
        -------
        self : RecordingFusion
        """
        self._check_params()
        y = _check_y(X, y, type(self).__name__)
        le = _label_encoder(y, type(self).__name__)
        if not hasattr(self.estimator, "predict_proba"):
            raise InvalidParameterError(
                "The 'estimator' parameter of RecordingFusion must be a classifier with "
                f"predict_proba. Got {self.estimator!r} instead."
            )
        codes = le.transform(y)
        for name, value in (("groups", groups), ("sample_weight", fit_params.get("sample_weight"))):
            if value is not None and np.shape(value)[:1] != codes.shape:
                raise SkascValueError(
                    f"{name} must have one entry per recording, {codes.shape[0]}; got "
                    f"shape {np.shape(value)}."
                )
        self.le_, self.classes_ = le, le.classes_
        self.temperature_ = 1.0 if self.temperature == "holdout" else float(self.temperature)
        if self.temperature != "holdout":
            self.holdout_index_ = np.array([], dtype=np.intp)
            return self._fit_estimator(X, codes, fit_params)
        batch = _as_batch(X, type(self).__name__)
        train, held = holdout_split(codes, groups, self.holdout, self.random_state)
        if held.size == 0:
            warn(
                "RecordingFusion(temperature='holdout') found no recording to hold out "
                "without leaving a class untrained (one group, or one recording per class); "
                "it trained on every recording and uses a temperature of 1.",
                UserWarning,
            )
            self.holdout_index_ = held
            return self._fit_estimator(X, codes, fit_params)
        sw = fit_params.get("sample_weight")
        if sw is not None:
            fit_params["sample_weight"] = safe_indexing(sw, train)
        self._fit_estimator(safe_indexing(batch, train), codes[train], fit_params)
        evidence = self._posteriors(safe_indexing(batch, held), pooled=True)
        temperature = fit_temperature(evidence, codes[held])
        if (evidence.argmax(axis=1) == codes[held]).all():
            # the log loss of items all classified right falls as T -> 0: no measurement
            warn(
                f"RecordingFusion(temperature='holdout'): the {held.size} held-out recordings "
                "were all classified right, which measures no over-confidence (the fit would "
                "sharpen without limit); it uses a temperature of 1. More recordings, or a "
                "larger holdout, give a real fit.",
                UserWarning,
            )
            temperature = 1.0
        self.temperature_ = temperature
        self.holdout_index_ = held
        return self

    def _fit_estimator(self, X: Any, codes: np.ndarray, fit_params: dict) -> RecordingFusion:
        """Fit a clone of ``estimator`` on the segments of ``X`` (labels as codes)."""
        estimator = clone(self.estimator)
        segments, lengths = self._segments(X)
        y_seg = np.repeat(codes, lengths)
        if fit_params.get("sample_weight") is not None:  # one per recording: fit checked
            sw = np.asarray(fit_params["sample_weight"])
            fit_params["sample_weight"] = np.repeat(sw, lengths, axis=0)
        if self.groups_param is not None:
            fit_params[self.groups_param] = np.repeat(np.arange(lengths.shape[0]), lengths)
        estimator.fit(segments, y_seg, **fit_params)
        # Columns of the inner posteriors -> columns of ``classes_``.
        self._inner_columns_ = np.asarray(estimator.classes_).astype(np.intp)
        self.estimator_ = estimator
        return self

    def _aligned_segment_proba(self, segments: np.ndarray) -> np.ndarray:
        proba = np.asarray(self.estimator_.predict_proba(segments), dtype=np.float64)
        out = np.zeros((proba.shape[0], self.classes_.shape[0]))
        out[:, self._inner_columns_] = proba
        return out

    @overload
    def _posteriors(self, X: Any, *, pooled: Literal[False] = ...) -> Posteriors: ...
    @overload
    def _posteriors(self, X: Any, *, pooled: Literal[True]) -> np.ndarray: ...
    def _posteriors(self, X: Any, *, pooled: bool = False) -> Posteriors | np.ndarray:
        """The :class:`Posteriors` of ``X``; ``pooled``: only the recordings'
        unnormalised log evidence, shape (n_recordings, n_classes)."""
        self._check_params()
        segments, lengths = self._segments(X)
        seg = self._aligned_segment_proba(segments)
        evidence = _floored_log(seg, self.floor)
        if pooled:
            return pool_evidence(evidence, lengths, self.rule)
        evidence /= self.temperature_
        return Posteriors(
            fuse_log_posteriors(evidence, lengths=lengths, rule=self.rule),
            seg,
            np.repeat(np.arange(lengths.shape[0]), lengths),
            evidence,
            self.rule,
        )

    def predict_proba_segments(self, X: Any) -> np.ndarray:
        """Posteriors of every segment, shape (n_segments_total, n_classes).

        Rows are the segments of recording 0, then of recording 1, and so on;
        :meth:`segment_recording_index` gives the recording of each row.
        """
        check_is_fitted(self)
        return self._aligned_segment_proba(self._segments(X)[0])

    def predict_segments(self, X: Any) -> np.ndarray:
        """Most likely class of every segment, shape (n_segments_total,)."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba_segments(X), axis=1)]

    def segment_recording_index(self, X: Any) -> np.ndarray:
        """Index of the recording of every segment row, shape (n_segments_total,).

        ``y[clf.segment_recording_index(X)]`` repeats the recording labels over
        the segments, for segment-level ("2 s") scores.
        """
        _, lengths = flatten_segments(X)
        return np.repeat(np.arange(lengths.shape[0]), lengths)


def _all_systems_have_segments(self: SystemFusion) -> bool:
    systems = (
        self.estimators_ if hasattr(self, "estimators_") else [est for _, est in self.estimators]
    )
    return all(has_segment_posteriors(est) for est in systems)


class SystemFusion(_FusionMixin, ClassifierMixin, MetaEstimatorMixin, BaseComposition):
    """Multiplicative fusion of several recording-level systems.

    Each system (e.g. a log-Mel and a log-Gammatone pipeline, each ending in
    :class:`RecordingFusion`) receives the same input; the segment posteriors
    of all systems are floored and multiplied, all in the log domain, the product
    is renormalised per recording, and ``predict`` takes the arg-max -- the
    "fusion" rows of Table 3 in Phan et al. (2019).  Recording posteriors are
    never floored, since a product of many segments is often far below any floor
    (flooring it would turn a confident system into a tie).  A system without a
    segment level (a plain classifier) contributes its floored recording
    posteriors. Each system's own rule and temperature apply before the product;
    the product of two systems' calibrated posteriors is itself not recalibrated,
    so it is more confident than either (no temperature is fitted on the fusion).

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The systems, each a classifier with ``predict_proba``. Parameters are
        reachable by name, e.g. ``logmel__fusion__floor``.
    floor : float, default=1e-7
        Segment posteriors (recording posteriors of systems without segments)
        below ``floor`` are raised to it before multiplying. In (0, 1].

    Attributes
    ----------
    estimators_ : list of estimators
        Fitted clones of the systems, in order.
    named_estimators_ : Bunch
        The fitted systems by name.
    classes_ : ndarray of shape (n_classes,)
        Recording labels, sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> y = np.array([0, 1] * 10)
    >>> X = rng.normal(size=(20, 5, 3)) + y[:, None, None]
    >>> fused = SystemFusion([
    ...     ("a", RecordingFusion(LogisticRegression(C=1.0), flatten=True)),
    ...     ("b", RecordingFusion(LogisticRegression(C=0.1), flatten=True)),
    ... ]).fit(X, y)
    >>> fused.predict_proba(X).shape
    (20, 2)
    """

    _parameter_checks = {"floor": Real(low=0.0, high=1.0, low_inclusive=False)}

    def __init__(self, estimators: list[tuple[str, Any]], *, floor: float = _DEFAULT_FLOOR) -> None:
        self.estimators = estimators
        self.floor = floor

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    @property
    def named_estimators(self) -> Bunch:
        """The unfitted systems by name."""
        return Bunch(**dict(self.estimators))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of the fusion and, with ``deep``, of every system by name."""
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params: Any) -> SystemFusion:
        """Set parameters; systems and their parameters are addressed by name."""
        self._set_params("estimators", **params)
        return self

    def _check_params(self) -> None:
        check_params(self)
        ests = self.estimators
        if (
            not isinstance(ests, (list, tuple))
            or not ests
            or not all(isinstance(e, tuple) and len(e) == 2 for e in ests)
        ):
            raise InvalidParameterError(
                "The 'estimators' parameter of SystemFusion must be a non-empty list of "
                f"(name, estimator) tuples. Got {ests!r} instead."
            )
        names = [name for name, _ in ests]
        self._validate_names(names)
        for name, est in ests:
            if not hasattr(est, "predict_proba"):
                raise SkascTypeError(
                    f"System {name!r} of SystemFusion must be a classifier with "
                    f"predict_proba. Got {est!r} instead."
                )

    def fit(self, X: Any, y: Any, groups: Any = None, **fit_params: Any) -> SystemFusion:
        """Fit a clone of every system on ``(X, y)``.

        Parameters
        ----------
        X : batch of recordings
            Input shared by all systems (e.g. raw audio or segment features).
        y : array-like of shape (n_recordings,)
            One label per recording.
        groups : array-like of shape (n_recordings,), default=None
            Handed to every system's fusion estimator (see :func:`groups_fit_params`).
        **fit_params : dict
            Forwarded to the ``fit`` of every system.

        Returns
        -------
        self : SystemFusion
        """
        self._check_params()
        y = _check_y(X, y, type(self).__name__)
        le = _label_encoder(y, type(self).__name__)
        fitted = []
        for name, est in self.estimators:
            est = clone(est)
            est.fit(X, y, **fit_params, **groups_fit_params(est, groups))
            if not np.array_equal(np.asarray(est.classes_), le.classes_):
                raise SkascValueError(
                    f"System {name!r} has classes {np.asarray(est.classes_).tolist()} but "
                    f"the labels are {le.classes_.tolist()}; all systems must agree on "
                    "classes_."
                )
            fitted.append(est)
        self.estimators_ = fitted
        if hasattr(fitted[0], "n_features_in_"):
            self.n_features_in_ = fitted[0].n_features_in_
        self.named_estimators_ = Bunch(
            **{name: est for (name, _), est in zip(self.estimators, fitted)}
        )
        self.le_ = le
        self.classes_ = le.classes_
        return self

    def _posteriors(self, X: Any, *, require_segments: bool = False) -> Posteriors:
        """:func:`fuse_systems` of the systems' posteriors; ``require_segments``: a
        ValueError naming the systems without segment posteriors, or that cut the
        recordings differently."""
        self._check_params()
        systems = [
            predict_proba_levels(est, X)
            if has_segment_posteriors(est)
            else np.asarray(est.predict_proba(X))
            for est in self.estimators_
        ]
        if require_segments:
            missing = [
                name
                for (name, _), system in zip(self.estimators, systems)
                if not isinstance(system, Posteriors) or system.segment_proba is None
            ]
            if missing:
                raise SkascValueError(
                    f"System(s) {missing} of the SystemFusion have no segment posteriors; "
                    "segment evidence needs every system to end in a RecordingFusion."
                )
            self._common_index([system.segment_index for system in systems])  # type: ignore[union-attr, misc]
        return fuse_systems(systems, floor=self.floor)

    def _common_index(self, indices: list[np.ndarray]) -> np.ndarray:
        """The systems' one segment-to-recording index, or a ValueError naming them."""
        for (name, _), index in zip(self.estimators, indices):
            if not np.array_equal(index, indices[0]):
                raise SkascValueError(
                    f"System {name!r} cut the recordings into {index.shape[0]} segments "
                    f"but system {self.estimators[0][0]!r} into {indices[0].shape[0]}; "
                    "segment-level fusion needs the same segmentation."
                )
        return indices[0]

    @available_if(_all_systems_have_segments)
    def predict_proba_segments(self, X: Any) -> np.ndarray:
        """Product of the systems' segment posteriors, shape (n_segments_total, n_classes).

        Available when every system is (or ends in) a fusion estimator, and all
        systems cut the recordings into the same segments.
        """
        check_is_fitted(self)
        segment = self._posteriors(X).segment_proba
        if segment is None:  # the systems disagree on the segmentation: say which
            self.segment_recording_index(X)
        return segment  # type: ignore[return-value]  # the call above raised

    @available_if(_all_systems_have_segments)
    def predict_segments(self, X: Any) -> np.ndarray:
        """Most likely class of every segment after fusing the systems."""
        return self.classes_[np.argmax(self.predict_proba_segments(X), axis=1)]

    @available_if(_all_systems_have_segments)
    def segment_recording_index(self, X: Any) -> np.ndarray:
        """Index of the recording of every segment row, shape (n_segments_total,).

        Counted from each system's transformed input, as
        :meth:`RecordingFusion.segment_recording_index` does: no network runs.
        """
        check_is_fitted(self)
        indices = []
        for est in self.estimators_:
            final, Xt = _unwrap_pipeline(est, X)
            indices.append(final.segment_recording_index(Xt))
        return self._common_index(indices)
