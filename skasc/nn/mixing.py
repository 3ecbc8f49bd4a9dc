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

:func:`mix_between_class` is the pure function; :class:`BetweenClassCollate` applies it
to every training mini-batch, pairing examples inside the batch, so that skorch's
training iterator produces BC examples and validation/prediction see plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_int
from .._warnings import warn
from ..exceptions import SkascTypeError, SkascValueError
from .augment import SegmentAugmentation, apply_masks, crop_rows

__all__ = [
    "mix_between_class",
    "mix_pairs",
    "draw_partners",
    "BetweenClassCollate",
    "NeighbourSegments",
    "DeviceBatches",
]


_SINGLE_CLASS = (
    "A training mini-batch of {n} segments held a single class; its examples "
    "were used un-mixed. Increase batch_size to mix between classes (a last, "
    "short batch of an epoch can hold one class by chance)."
)


def mix_between_class(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    rng: np.random.Generator,
    center: np.ndarray | None = None,
):
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
        raise SkascValueError(f"y must have shape ({n},) to match X; got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise SkascTypeError(
            f"Between-class mixing needs integer class codes; got y of dtype {y.dtype}."
        )
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise SkascValueError(
            f"Labels must lie in [0, {n_classes}); got values in [{y.min()}, {y.max()}]."
        )
    partner, r = draw_partners(y, rng)
    return mix_pairs(X, y, n_classes, partner, r, center) + (r, partner)


def mix_pairs(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    partner: np.ndarray,
    r: np.ndarray,
    center: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. (10)-(11) for given partners and factors (see :func:`mix_between_class`).

    Returns
    -------
    X_mix : ndarray of float32, same shape as ``X``
    Y_mix : ndarray of float32 of shape (n_examples, n_classes)
    """
    shape = (X.shape[0],) + (1,) * (X.ndim - 1)
    norm = np.sqrt(r**2 + (1.0 - r) ** 2)
    X = X.astype(np.float32, copy=False)
    X_mix = X[partner]  # a new array, scaled and accumulated in place (one pass each)
    X_mix *= ((1.0 - r) / norm).astype(np.float32).reshape(shape)
    X_mix += X * (r / norm).astype(np.float32).reshape(shape)
    if center is not None:  # c + (r (S1 - c) + (1 - r) (S2 - c)) / norm
        center = np.asarray(center, dtype=np.float32)
        X_mix += center[None] * (1.0 - 1.0 / norm).astype(np.float32).reshape(shape)
    eye = np.eye(n_classes)
    Y_mix = r[:, None] * eye[y] + (1.0 - r[:, None]) * eye[y[partner]]
    return X_mix, Y_mix.astype(np.float32)


def draw_partners(y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The random part of :func:`mix_between_class`: each example's partner and factor.

    Parameters
    ----------
    y : ndarray of int of shape (n_examples,)
    rng : numpy.random.Generator

    Returns
    -------
    partner : ndarray of int of shape (n_examples,)
        Uniform among the examples of another class (itself when there is none).
    r : ndarray of float64 of shape (n_examples,)
        ``U(0, 1)`` factors (1 for an example without partner).
    """
    n: int = y.shape[0]
    # uniform choice among the other-class examples: random keys, same class masked
    keys = rng.random((n, n))
    keys[y[:, None] == y[None, :]] = -1.0
    partner = keys.argmax(axis=1)
    alone = keys[np.arange(n), partner] < 0
    partner[alone] = np.flatnonzero(alone)
    r = rng.random(n)
    r[alone] = 1.0
    return partner, r


def _worker_seed(random_state: Any, worker: int) -> np.random.SeedSequence | None:
    """The seed of a ``DataLoader`` worker's stream: ``random_state`` (an int, ints such
    as ``[seed, epoch]``, or a SeedSequence) spawned for the worker, so no worker's
    stream is another's or any seed built by appending integers; None (unseeded) for
    a Generator or None, which cannot be split."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return None
    seq = (
        random_state
        if isinstance(random_state, np.random.SeedSequence)
        else np.random.SeedSequence(random_state)
    )
    return np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, worker))


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
    random_state : int, sequence of int, SeedSequence, Generator or None, default=None
        Seed of the mixing RNG, so runs are reproducible.  In DataLoader worker
        processes the seed is spawned for each worker, which draws its own
        reproducible stream (a Generator cannot be split: its workers draw
        unseeded). Workers start their streams afresh with each DataLoader
        iteration, so the networks pass ``[random_state, epoch]``.
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

    def __init__(
        self,
        n_classes: int,
        random_state: Any = None,
        center: np.ndarray | None = None,
        *,
        between_class: bool = True,
        augmentation: SegmentAugmentation | None = None,
    ):
        self.n_classes = check_int(n_classes, "n_classes", type(self).__name__, low=2)
        self.random_state = random_state
        self.center = center
        self.between_class = between_class
        self.augmentation = augmentation
        self._rng = np.random.default_rng(random_state)
        self._worker: int | None = None
        self._warned = False

    def _generator(self) -> np.random.Generator:
        import torch.utils.data

        info = torch.utils.data.get_worker_info()
        if info is not None and self._worker != info.id:
            # a worker process holds a copy of the parent's RNG: give it its own stream
            self._rng = np.random.default_rng(_worker_seed(self.random_state, info.id))
            self._worker = info.id
        return self._rng

    def __call__(self, batch: Sequence[tuple]):
        """``(X, Y)`` tensors of one batch of ``(x, y)`` items, or of
        ``(x, y, row, previous x, next x)`` items when the augmentation crops
        (:class:`NeighbourSegments`)."""
        import torch

        X = np.stack([np.asarray(item[0], dtype=np.float32) for item in batch])
        y = np.asarray([item[1] for item in batch])
        if not np.issubdtype(y.dtype, np.integer):
            raise SkascTypeError(
                f"{type(self).__name__} needs integer class codes; got labels of dtype {y.dtype}."
            )
        rng = self._generator()
        if self.between_class:
            partner, r = draw_partners(y, rng)
        offsets = masks = None
        if self.augmentation is not None:
            rows = np.asarray([item[2] for item in batch]) if len(batch[0]) > 2 else None
            offsets, masks = self.augmentation.draw(rng, rows, X.shape)
        if offsets is not None:
            prev = torch.from_numpy(np.stack([np.asarray(item[3], np.float32) for item in batch]))
            nxt = torch.from_numpy(np.stack([np.asarray(item[4], np.float32) for item in batch]))
            X = crop_rows(
                torch.from_numpy(X), np.arange(len(y)), offsets, prev=prev, nxt=nxt
            ).numpy()
        if self.between_class:
            if not self._warned and (partner == np.arange(len(y))).any():
                warn(_SINGLE_CLASS.format(n=len(y)), UserWarning)
                self._warned = True
            X, soft = mix_pairs(X, y, self.n_classes, partner, r, center=self.center)
            Y = torch.from_numpy(soft)
        else:
            Y = torch.from_numpy(y)
        Xt = torch.from_numpy(np.ascontiguousarray(X))
        if masks is not None:
            apply_masks(Xt, masks)
        return Xt, Y


class NeighbourSegments:
    """Training items that carry their row and their neighbours, for crops on the
    ``DataLoader`` path: item ``i`` is ``(X[i], y[i], i, X[i - 1], X[i + 1])``, a
    missing neighbour replaced by ``X[i]`` (a crop never reads it).

    Parameters
    ----------
    X : array-like of shape (n_segments, K, M, T)
    y : ndarray of shape (n_segments,)
    augmentation : SegmentAugmentation
        Its ``has_prev`` / ``has_next`` say which neighbours exist.
    """

    def __init__(self, X: Any, y: np.ndarray, augmentation: SegmentAugmentation) -> None:
        self.X, self.y, self.augmentation = X, y, augmentation

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple:
        aug = self.augmentation
        assert aug.has_prev is not None and aug.has_next is not None  # made for crops only
        prev = self.X[i - 1] if aug.has_prev[i] else self.X[i]
        nxt = self.X[i + 1] if aug.has_next[i] else self.X[i]
        return self.X[i], self.y[i], i, prev, nxt


class DeviceBatches:
    """One epoch of shuffled, BC-mixed training batches gathered from data already
    on the device: the device-resident twin of a ``DataLoader`` with
    :class:`BetweenClassCollate`.

    The host draws what is random, from the same seeded generators: the shuffling
    permutation (``torch.randperm`` with the ``generator`` a ``DataLoader``'s
    ``RandomSampler`` would use) and, per batch, the partners and factors
    (:func:`draw_partners` with the collate's seed). The device gathers the batch
    and mixes it, in float32 with the operations of :func:`mix_between_class` in
    the same order, so on ``device="cpu"`` the batches are bit for bit the
    ``DataLoader``'s. Per step the host sends two small index/factor arrays and
    reads nothing back, and nothing of batch size is allocated: the gathered,
    mixed and scratch tensors are two sets of buffers made at the first batch and
    used in turn, so a batch stays valid while the next one is drawn (skorch's
    loop trains on each batch before it asks for the next).

    Parameters
    ----------
    X : torch.Tensor of shape (n_examples, ...), float32
        Training examples, on the training device.
    y : ndarray of int of shape (n_examples,)
        Class codes (host).
    n_classes : int
    batch_size : int
    generator : torch.Generator or None
        Shuffling generator (None: no shuffling).
    random_state : seed or None
        Seed of the mixing RNG, as :class:`BetweenClassCollate`'s.
    center : ndarray or None
        See :func:`mix_between_class`.
    between_class : bool, default=True
        False: batches of plain examples with their class codes.
    augmentation : SegmentAugmentation or None, default=None
        Crops and masks, drawn after the partners, as :class:`BetweenClassCollate` does.
    """

    def __init__(
        self,
        X: Any,
        y: np.ndarray,
        n_classes: int,
        batch_size: int,
        generator: Any,
        random_state: Any,
        center: np.ndarray | None,
        between_class: bool = True,
        augmentation: SegmentAugmentation | None = None,
    ) -> None:
        import torch

        self.X, self.y = X, np.asarray(y)
        self.n_classes, self.batch_size = n_classes, batch_size
        self.generator, self.between_class = generator, between_class
        self.augmentation = augmentation
        self.rng = np.random.default_rng(random_state)
        self.center = (
            None
            if center is None
            else torch.as_tensor(np.asarray(center, dtype=np.float32), device=X.device)
        )
        self.y_device = torch.as_tensor(self.y, device=X.device)
        self.eye = torch.eye(n_classes, dtype=torch.float64, device=X.device)
        self._warned = False
        self._sets: list[tuple] | None = None
        self._turn = 0

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        import torch

        n = len(self.y)
        if self.generator is not None:
            # a DataLoader draws its workers' base seed from the generator first, then
            # its RandomSampler the permutation: the same draws give the same order
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
            permutation = torch.randperm(n, generator=self.generator)
        else:
            permutation = torch.arange(n)
        order = permutation.numpy()  # the host's permutation, as numpy once per epoch
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            rows = torch.from_numpy(index).to(self.X.device, non_blocking=True)
            buffers = self._buffers(self._turn, len(index))
            self._turn ^= 1  # the other set next (across epochs too)
            y = self.y[index]
            if self.between_class:
                partner, r = draw_partners(y, self.rng)
            offsets = masks = None
            if self.augmentation is not None:
                offsets, masks = self.augmentation.draw(self.rng, index, tuple(self.X.shape))
            if offsets is None:
                Xb = torch.index_select(self.X, 0, rows, out=buffers[0])
            else:
                Xb = buffers[0].copy_(crop_rows(self.X, index, offsets))
            if self.between_class:
                Xb, Yb = self._mix(Xb, y, rows, buffers, partner, r)
            else:
                Yb = self.y_device.index_select(0, rows)
            if masks is not None:
                apply_masks(Xb, masks)
            yield Xb, Yb

    def _buffers(self, which: int, m: int) -> tuple:
        """Set ``which`` of the (gathered, mixed, scratch) buffers, first ``m`` rows."""
        import torch

        if self._sets is None:
            shape = (min(self.batch_size, len(self.y)),) + tuple(self.X.shape[1:])
            self._sets = [
                tuple(
                    torch.empty(shape, dtype=self.X.dtype, device=self.X.device) for _ in range(3)
                )
                for _ in range(2)
            ]
        return tuple(b[:m] for b in self._sets[which])

    def _mix(
        self, Xb: Any, y: np.ndarray, rows: Any, buffers: tuple, partner: np.ndarray, r: np.ndarray
    ):
        import torch

        if not self._warned and (partner == np.arange(len(y))).any():
            warn(_SINGLE_CLASS.format(n=len(y)), UserWarning)
            self._warned = True
        norm = np.sqrt(r**2 + (1.0 - r) ** 2)
        shape = (len(y),) + (1,) * (Xb.ndim - 1)
        device = Xb.device
        host = np.stack([(1.0 - r) / norm, r / norm, 1.0 - 1.0 / norm]).astype(np.float32)
        factors = torch.from_numpy(host).to(device, non_blocking=True)
        partner_d = torch.from_numpy(partner).to(device, non_blocking=True)
        _, X_mix, scratch = buffers
        # the operations of mix_between_class, in its order, into the buffers
        torch.index_select(Xb, 0, partner_d, out=X_mix)
        X_mix.mul_(factors[0].reshape(shape))
        X_mix.add_(torch.mul(Xb, factors[1].reshape(shape), out=scratch))
        if self.center is not None:  # (batch, K, M, 1): small, broadcast over the frames
            X_mix.add_(self.center[None] * factors[2].reshape(shape))
        r_d = torch.from_numpy(r).to(device, non_blocking=True)[:, None]
        codes = self.y_device.index_select(0, rows)
        Y_mix = r_d * self.eye[codes] + (1.0 - r_d) * self.eye[codes.index_select(0, partner_d)]
        return X_mix, Y_mix.float()
