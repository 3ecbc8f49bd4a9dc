"""Training-time augmentation of segment images: crops within a recording and masks.

Two augmentations the field uses on spectrogram images, applied by the training
iterator only (validation and prediction see the data unchanged):

* **Crops within the recording** (random time shifts). A recording's segments
  tile it without overlap (the :class:`~skasc.frontend.segment.Segmenter`'s
  default), so segment ``i`` followed by segment ``i + 1`` of the same recording
  is a continuous stretch of ``2 T`` frames. A crop takes the ``T``-frame window
  at a random offset ``o`` frames from segment ``i``'s start, with ``o`` drawn
  uniformly from ``[-(T - 1), T - 1]`` where the neighbour on that side exists
  (``[0, T - 1]`` for a recording's first segment, ``{0}`` for a recording of
  one segment): the window stays inside the recording.
* **Masks** (SpecAugment, Park et al. 2019): ``n_masks`` bands of up to
  ``freq_mask_width`` consecutive frequency bands and ``n_masks`` stretches of up
  to ``time_mask_width`` consecutive frames are set to the example's mean
  (per channel). The images are log energies far from zero (about -30 dB), so
  the mean, not zero, is the neutral value.

The host draws everything random from one generator (:func:`draw_crops`,
:func:`draw_masks`); :func:`crop_rows` and :func:`apply_masks` apply the draws
with torch on any device, so the device-resident batches and the ``DataLoader``
path (:class:`~skasc.nn.mixing.BetweenClassCollate`) give the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SegmentAugmentation",
    "neighbours",
    "draw_crops",
    "crop_rows",
    "draw_masks",
    "apply_masks",
]


def neighbours(recording_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each segment row has a previous and a next segment of its recording.

    Parameters
    ----------
    recording_index : ndarray of int of shape (n_segments,)
        Recording of every row; a recording's rows are consecutive and in time order.

    Returns
    -------
    has_prev, has_next : ndarray of bool of shape (n_segments,)

    Examples
    --------
    >>> [a.tolist() for a in neighbours(np.array([0, 0, 0, 1, 2, 2]))]
    [[False, True, True, False, False, True], [True, True, False, False, True, False]]
    """
    index = np.asarray(recording_index)
    same = index[1:] == index[:-1]
    return np.r_[False, same], np.r_[same, False]


def draw_crops(
    rng: np.random.Generator, has_prev: np.ndarray, has_next: np.ndarray, n_frames: int
) -> np.ndarray:
    """Each example's crop offset in frames, uniform over the offsets inside its recording.

    Parameters
    ----------
    rng : numpy.random.Generator
    has_prev, has_next : ndarray of bool of shape (n_examples,)
        See :func:`neighbours`.
    n_frames : int
        Frames per segment ``T``.

    Returns
    -------
    offsets : ndarray of int64 of shape (n_examples,)
        In ``[-(T - 1) * has_prev, (T - 1) * has_next]``.
    """
    low = -(n_frames - 1) * np.asarray(has_prev, dtype=np.int64)
    high = (n_frames - 1) * np.asarray(has_next, dtype=np.int64)
    return rng.integers(low, high + 1).astype(np.int64)


def crop_rows(
    X: Any, rows: np.ndarray, offsets: np.ndarray, *, prev: Any = None, nxt: Any = None
) -> Any:
    """The windows ``offsets`` frames from the start of segments ``rows`` of ``X``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_segments, K, M, T)
        All segments (``prev``/``nxt`` None), or the batch's segments themselves
        with ``rows`` ``arange(n_examples)`` and their neighbours in ``prev`` and
        ``nxt`` (the ``DataLoader`` path, whose items carry their neighbours).
    rows : ndarray of int of shape (n_examples,)
    offsets : ndarray of int of shape (n_examples,)
        From :func:`draw_crops`.
    prev, nxt : torch.Tensor of shape (n_examples, K, M, T) or None

    Returns
    -------
    torch.Tensor of shape (n_examples, K, M, T)
    """
    import torch

    n_frames = X.shape[-1]
    rows = np.asarray(rows, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    back = offsets < 0
    device = X.device
    if prev is None:
        left = torch.from_numpy(np.where(back, rows - 1, rows)).to(device)
        right = torch.from_numpy(np.where(back, rows, np.minimum(rows + 1, X.shape[0] - 1)))
        pair = torch.cat([X.index_select(0, left), X.index_select(0, right.to(device))], dim=-1)
    else:
        mask = torch.from_numpy(back).to(device)[:, None, None, None]
        current = X.index_select(0, torch.from_numpy(rows).to(device))
        pair = torch.cat(
            [torch.where(mask, prev, current), torch.where(mask, current, nxt)], dim=-1
        )
    start = torch.from_numpy(np.mod(offsets, n_frames)).to(device)
    frames = start[:, None] + torch.arange(n_frames, device=device)[None, :]
    index = frames[:, None, None, :].expand(-1, pair.shape[1], pair.shape[2], -1)
    return torch.gather(pair, -1, index)


def draw_masks(
    rng: np.random.Generator,
    n_examples: int,
    n_bands: int,
    n_frames: int,
    freq_width: int,
    time_width: int,
    n_masks: int,
) -> np.ndarray:
    """SpecAugment masks: start and width of each example's frequency and time masks.

    Widths are uniform in ``[0, max width]``, starts uniform where the mask fits.

    Returns
    -------
    masks : ndarray of int64 of shape (n_examples, 2, n_masks, 2)
        ``masks[i, 0, j] = (first band, width)`` and ``masks[i, 1, j] = (first frame,
        width)``; a width of 0 masks nothing.
    """
    out = np.zeros((n_examples, 2, n_masks, 2), dtype=np.int64)
    for axis, (size, width) in enumerate(((n_bands, freq_width), (n_frames, time_width))):
        if width <= 0:
            continue
        w = rng.integers(0, min(width, size) + 1, size=(n_examples, n_masks))
        out[:, axis, :, 1] = w
        out[:, axis, :, 0] = np.floor(rng.random((n_examples, n_masks)) * (size - w + 1))
    return out


def apply_masks(Xb: Any, masks: np.ndarray) -> Any:
    """Set the masked bands and frames of every example of ``Xb`` to its mean, in place.

    Parameters
    ----------
    Xb : torch.Tensor of shape (n_examples, K, M, T)
    masks : ndarray of int of shape (n_examples, 2, n_masks, 2)
        From :func:`draw_masks`.

    Returns
    -------
    Xb
    """
    import torch

    n, _, n_bands, n_frames = Xb.shape
    device = Xb.device
    mean = Xb.mean(dim=(2, 3), keepdim=True)
    bands = torch.arange(n_bands, device=device)
    frames = torch.arange(n_frames, device=device)
    m = torch.from_numpy(masks).to(device)
    f0, fw = m[:, 0, :, 0, None], m[:, 0, :, 1, None]
    t0, tw = m[:, 1, :, 0, None], m[:, 1, :, 1, None]
    in_band = ((bands >= f0) & (bands < f0 + fw)).any(dim=1)  # (n, M)
    in_time = ((frames >= t0) & (frames < t0 + tw)).any(dim=1)  # (n, T)
    hit = in_band[:, None, :, None] | in_time[:, None, None, :]
    return Xb.copy_(torch.where(hit, mean, Xb))


@dataclass(frozen=True)
class SegmentAugmentation:
    """What the training iterator does to every batch besides mixing.

    Attributes
    ----------
    has_prev, has_next : ndarray of bool of shape (n_segments,) or None
        Neighbours of every training row (:func:`neighbours`); None: no crops.
    freq_mask_width, time_mask_width, n_masks : int
        SpecAugment masks (:func:`draw_masks`); widths of 0 disable them.
    """

    has_prev: np.ndarray | None = None
    has_next: np.ndarray | None = None
    freq_mask_width: int = 0
    time_mask_width: int = 0
    n_masks: int = 2

    @property
    def crops(self) -> bool:
        return self.has_prev is not None

    @property
    def masks(self) -> bool:
        return self.n_masks > 0 and (self.freq_mask_width > 0 or self.time_mask_width > 0)

    def draw(
        self, rng: np.random.Generator, rows: np.ndarray | None, shape: tuple
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The crops and masks of one batch of training rows ``rows``, drawn in this order.

        ``rows`` may be None without crops (items that carry no row): the batch is then
        ``shape[0]`` items.
        """
        offsets = masks = None
        if self.crops:
            # crops come with neighbours, and their items with rows (NeighbourSegments)
            assert rows is not None and self.has_prev is not None and self.has_next is not None
            offsets = draw_crops(rng, self.has_prev[rows], self.has_next[rows], shape[-1])
        if self.masks:
            masks = draw_masks(
                rng,
                shape[0] if rows is None else len(rows),
                shape[-2],
                shape[-1],
                self.freq_mask_width,
                self.time_mask_width,
                self.n_masks,
            )
        return offsets, masks
