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

from typing import Any, Iterator, Sequence

import numpy as np


def n_recordings(X: Any) -> int:
    """Number of recordings in a batch (the length of the first axis)."""
    if isinstance(X, np.ndarray):
        if X.ndim == 0:
            raise ValueError(
                "Expected a batch of recordings (list or array with the recording axis "
                "first); got a 0-d array.")
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
