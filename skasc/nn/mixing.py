"""Between-class (BC) mixing of training examples (Phan et al., 2019, section 3).

Two examples ``S1``, ``S2`` of *different* classes and a factor
``r ~ U(0, 1)`` give (eqs. 10-11)::

    S_BC = (r S1 + (1 - r) S2) / sqrt(r^2 + (1 - r)^2)
    y_BC = r onehot(y1) + (1 - r) onehot(y2)

The mix is applied to the network input (the log-Mel or log-Gammatone image),
as eq. (10) is written on ``S``.  The normaliser preserves the energy of
*zero-mean* signals; dB images are far from zero mean (about -30 dB), and mixed
raw they come out on average 1.25x (up to 1.41x) further from zero than either
input.  With a ``center`` (the estimators pass the per-band training mean, the
one their input standardisation subtracts) the mix is taken around it, i.e.
on zero-mean images::

    S_BC = c + (r (S1 - c) + (1 - r) (S2 - c)) / sqrt(r^2 + (1 - r)^2)

:func:`mix_between_class` is the pure function; :class:`BetweenClassCollate` applies it to every training
mini-batch, pairing examples inside the batch, so that skorch's training
iterator produces BC examples and validation/prediction see plain data.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from .._validation import check_int

__all__ = ["mix_between_class", "BetweenClassCollate"]


def mix_between_class(X: np.ndarray, y: np.ndarray, n_classes: int,
                      rng: np.random.Generator, center: np.ndarray | None = None):
    """Mix every example of a batch with a partner of another class.

    Each example ``i`` draws its partner uniformly among the examples of the
    batch whose label differs from ``y[i]``, and its own factor ``r[i]``.  An
    example with no partner (the whole batch is one class) stays un-mixed:
    ``r[i] = 1``, ``partner[i] = i`` and a one-hot label.

    Parameters
    ----------
    X : ndarray of shape (n_examples, ...)
        Examples, e.g. ``(n_segments, n_channels, n_bands, n_frames)``.
    y : ndarray of int of shape (n_examples,)
        Hard labels in ``[0, n_classes)``.
    n_classes : int
        Number of classes ``C``.
    rng : numpy.random.Generator
        Source of the partners and factors.
    center : ndarray or None, default=None
        Mix around this point (broadcastable to ``X.shape[1:]``, e.g. the
        per-band mean of shape ``(n_channels, n_bands, 1)``); ``None`` mixes
        around zero, eq. (10) as printed.

    Returns
    -------
    X_mix : ndarray of float32, same shape as ``X``
        Mixed examples (eq. 10).
    Y_mix : ndarray of float32 of shape (n_examples, n_classes)
        Soft labels (eq. 11); every row sums to one.
    r : ndarray of float64 of shape (n_examples,)
        Mixing factors (weight of the example itself).
    partner : ndarray of int of shape (n_examples,)
        Index of each example's partner.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((4, 2, 3), np.float32); y = np.array([0, 0, 1, 2])
    >>> X_mix, Y, r, partner = mix_between_class(X, y, 3, np.random.default_rng(0))
    >>> bool((y[partner] != y).all()), Y.sum(axis=1).round(6).tolist()
    (True, [1.0, 1.0, 1.0, 1.0])
    """
    X = np.asarray(X)
    y = np.asarray(y)
    n = X.shape[0]
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X; got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"Between-class mixing needs integer class codes; got y of "
                        f"dtype {y.dtype}.")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"Labels must lie in [0, {n_classes}); got values in "
                         f"[{y.min()}, {y.max()}].")
    # uniform choice among the other-class examples: random keys, same class masked
    keys = rng.random((n, n))
    keys[y[:, None] == y[None, :]] = -1.0
    partner = keys.argmax(axis=1)
    alone = keys[np.arange(n), partner] < 0
    partner[alone] = np.flatnonzero(alone)
    r = rng.random(n)
    r[alone] = 1.0
    shape = (n,) + (1,) * (X.ndim - 1)
    norm = np.sqrt(r ** 2 + (1.0 - r) ** 2)
    X = X.astype(np.float32, copy=False)
    X_mix = X[partner]  # a new array, scaled and accumulated in place (one pass each)
    X_mix *= ((1.0 - r) / norm).astype(np.float32).reshape(shape)
    X_mix += X * (r / norm).astype(np.float32).reshape(shape)
    if center is not None:  # c + (r (S1 - c) + (1 - r) (S2 - c)) / norm
        center = np.asarray(center, dtype=np.float32)
        X_mix += center[None] * (1.0 - 1.0 / norm).astype(np.float32).reshape(shape)
    eye = np.eye(n_classes)
    Y_mix = r[:, None] * eye[y] + (1.0 - r[:, None]) * eye[y[partner]]
    return X_mix, Y_mix.astype(np.float32), r, partner


class BetweenClassCollate:
    """Collate function that turns a training mini-batch into BC examples.

    Use as skorch's ``iterator_train__collate_fn`` (the classifiers in
    :mod:`skasc.nn` do so when ``between_class=True``).  Partners are drawn
    from the same mini-batch (batch 100 in the paper, so nearly always several
    classes).  If a batch holds a single class its examples are passed
    through un-mixed with one-hot labels, and a ``UserWarning`` is issued once.

    Parameters
    ----------
    n_classes : int
        Number of classes ``C``.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the mixing RNG, so runs are reproducible.  In DataLoader
        worker processes the seed is combined with the worker id.
    center : ndarray or None, default=None
        Mix around this point (see :func:`mix_between_class`).

    Examples
    --------
    >>> import numpy as np
    >>> collate = BetweenClassCollate(n_classes=2, random_state=0)
    >>> X, Y = collate([(np.ones((2, 4, 3), np.float32), 0), (np.zeros((2, 4, 3), np.float32), 1)])
    >>> tuple(X.shape), tuple(Y.shape)
    ((2, 2, 4, 3), (2, 2))
    """

    def __init__(self, n_classes: int, random_state: Any = None,
                 center: np.ndarray | None = None):
        self.n_classes = check_int(n_classes, "n_classes", type(self).__name__, low=2)
        self.random_state = random_state
        self.center = center
        self._rng = np.random.default_rng(random_state)
        self._worker = None
        self._warned = False

    def _generator(self) -> np.random.Generator:
        import torch.utils.data

        info = torch.utils.data.get_worker_info()
        if info is not None and self._worker != info.id:
            # a worker process holds a copy of the parent's RNG: give it its own stream
            seed = self.random_state if isinstance(self.random_state, int) else None
            self._rng = np.random.default_rng(None if seed is None else [seed, info.id])
            self._worker = info.id
        return self._rng

    def __call__(self, batch: Sequence[tuple]):
        import torch

        X = np.stack([np.asarray(item[0], dtype=np.float32) for item in batch])
        y = np.asarray([item[1] for item in batch])
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{type(self).__name__} needs integer class codes; got labels "
                            f"of dtype {y.dtype}.")
        X_mix, Y_mix, r, partner = mix_between_class(X, y, self.n_classes, self._generator(),
                                                     center=self.center)
        if not self._warned and (partner == np.arange(len(y))).any():
            warnings.warn(f"A training mini-batch of {len(y)} segments held a single "
                          "class; its examples were used un-mixed. Increase batch_size to "
                          "mix between classes (a last, short batch of an epoch can hold "
                          "one class by chance).", UserWarning, stacklevel=2)
            self._warned = True
        return torch.from_numpy(X_mix), torch.from_numpy(Y_mix)
