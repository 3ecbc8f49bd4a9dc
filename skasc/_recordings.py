"""Containers for batches of recordings.

Every skasc transformer takes and returns a *batch of recordings* with the
recording axis first, so that a scikit-learn ``Pipeline`` keeps one row (and one
label) per recording:

* when all recordings have the same shape, a dense ``numpy.ndarray`` of shape
  ``(n_recordings, ...)``;
* when they differ (e.g. a 10-s and a 30-s recording), a 1-D ``numpy.ndarray`` of
  ``dtype=object`` and shape ``(n_recordings,)`` whose items are the per-recording
  arrays.

Both index like arrays, so ``cross_val_score``'s splitting (``_safe_indexing``)
works on either. :func:`iter_recordings` reads both forms (and plain lists);
:func:`stack_recordings` builds the right one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .exceptions import SkascTypeError, SkascValueError


def recording_error(cls: type[Exception], index: int, detail: str) -> Exception:
    """An exception about recording ``index`` of a batch: ``cls("Recording {index} {detail}")``.

    The index and the detail travel as the attributes ``recording_index`` and
    ``recording_detail``, so that a caller that ran the recording in a batch of its own
    (:class:`~skasc.frontend.FrontEnd`) names its index in the user's batch with
    ``recording_error(type(exc), i, exc.recording_detail)``, without reading the message.

    Examples
    --------
    >>> exc = recording_error(ValueError, 0, "is empty.")
    >>> str(recording_error(type(exc), 7, exc.recording_detail))
    'Recording 7 is empty.'
    """
    exc = cls(f"Recording {index} {detail}")
    exc.recording_index = index  # type: ignore[attr-defined]
    exc.recording_detail = detail  # type: ignore[attr-defined]
    return exc


def n_recordings(X: Any) -> int:
    """Number of recordings in a batch (the length of the first axis)."""
    if isinstance(X, np.ndarray):
        if X.ndim == 0:
            raise SkascValueError(
                "Expected a batch of recordings (list or array with the recording axis "
                "first); got a 0-d array."
            )
        return X.shape[0]
    return len(X)


def iter_recordings(X: Any) -> Iterator[Any]:
    """Yield the recordings of a batch one by one (rows of a dense array, items of an
    object array or a list)."""
    yield from X


def stack_recordings(items: Sequence[np.ndarray], dtype: Any = np.float32) -> np.ndarray:
    """Dense array when all items share a shape, else a 1-D object array.

    Parameters
    ----------
    items : sequence of ndarray
        Per-recording arrays.
    dtype : numpy dtype, default=float32
        Dtype of each item in the result.

    Returns
    -------
    batch : ndarray of shape (n_recordings, ...) or object ndarray of shape (n_recordings,)
    """
    items = [np.asarray(it, dtype=dtype) for it in items]
    if items and all(it.shape == items[0].shape for it in items):
        return np.stack(items)
    out = np.empty(len(items), dtype=object)
    for i, it in enumerate(items):
        out[i] = it
    return out


def is_ragged(X: Any) -> bool:
    """True when ``X`` is an object array (recordings of different shapes)."""
    return isinstance(X, np.ndarray) and X.dtype == object


def check_batch(
    X: Any,
    owner: str,
    *,
    item_ndim: tuple[int, ...],
    item_shape: str,
    hint: str = "",
    numeric: bool = True,
) -> list[np.ndarray]:
    """The recordings of a batch as numeric arrays, or an error naming the recording.

    The one check of an array batch that every array-taking step (denoiser,
    segmenter, extractors, fusion) runs; :class:`~skasc.AudioLoader` checks paths
    itself and then hands arrays on.

    Parameters
    ----------
    X : ndarray of shape (n_recordings, ...), object ndarray of shape (n_recordings,), or list
        The batch; array-likes (e.g. a pandas Series) are converted.
    owner : str
        Name of the caller, used in messages.
    item_ndim : tuple of int
        Allowed numbers of dimensions of one recording.
    item_shape : str
        The shape of one recording in words, e.g. ``"(n_samples,)"``.
    hint : str, default=""
        Appended to shape errors (e.g. "Did you forget the Segmenter?").
    numeric : bool, default=True
        Refuse recordings that are not real-valued (False leaves the dtype to a
        wrapped estimator's own checks).

    Returns
    -------
    list of ndarray
        One real-valued array per recording, in order.

    Raises
    ------
    TypeError
        For sparse input, a string, or a recording that is not real-valued.
    ValueError
        For an empty batch or a recording (or dense batch) of the wrong shape.
    """
    expected = (
        f"expected a batch of recordings of shape {item_shape} each: an array "
        "with the recording axis first, or a list / 1-D object array of them"
    )
    hint = f" {hint}" if hint else ""
    if hasattr(X, "tocsr") or hasattr(X, "todense"):
        raise SkascTypeError(f"{owner} does not support sparse input; {expected}.")
    if isinstance(X, (str, bytes)):
        raise SkascTypeError(f"{owner} got a {type(X).__name__}; {expected}.")
    if not isinstance(X, (np.ndarray, list, tuple)):
        if not hasattr(X, "__array__") and not hasattr(X, "__len__"):
            raise SkascTypeError(f"{owner} got {type(X).__name__}; {expected}.")
        X = np.asarray(X) if hasattr(X, "__array__") else list(X)
    if isinstance(X, np.ndarray) and X.dtype != object:
        if numeric and X.dtype.kind not in "biuf":
            raise SkascTypeError(f"{owner} got an array of dtype {X.dtype}; {expected}.")
        if X.ndim - 1 not in item_ndim:
            raise SkascValueError(f"{owner} got an array of shape {X.shape}; {expected}.{hint}")
    elif isinstance(X, np.ndarray) and X.ndim != 1 and (numeric or X.ndim - 1 not in item_ndim):
        raise SkascValueError(f"{owner} got an object array of shape {X.shape}; {expected}.")
    if len(X) == 0:
        raise SkascValueError(f"{owner} got no recordings (X is empty); {expected}.")
    items = []
    for i, rec in enumerate(X):
        try:
            rec = np.asarray(rec)
        except ValueError as exc:  # e.g. a list of unequal rows
            raise recording_error(
                SkascValueError, i, f"is not an array; {owner} expected {item_shape} ({exc})."
            ) from None
        if numeric and rec.dtype.kind not in "biuf":
            raise recording_error(
                SkascTypeError, i, f"has dtype {rec.dtype}; {owner} expected a real numeric array."
            )
        if rec.ndim not in item_ndim:
            raise recording_error(
                SkascValueError, i, f"has shape {rec.shape}; {owner} expected {item_shape}.{hint}"
            )
        items.append(rec)
    return items
