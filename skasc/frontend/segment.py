"""Cutting recordings into fixed-length segments.

Phan et al. (2019) classify a 30-s recording through its non-overlapping 2-s
segments (15 per recording at 22050 Hz) and fuse the segment posteriors.
:func:`segment_signal` cuts one recording; :class:`Segmenter` cuts a batch and
keeps the recording axis first, so a pipeline still has one row per recording.

Tail rule
---------
Segment ``k`` covers samples ``[k * hop_length, k * hop_length + segment_length)``.

* ``tail="pad"``: when samples at the end are not covered by a complete
  segment, one more segment is added and zero-padded, so no sample is lost.
* ``tail="drop"``: only complete segments are kept; an incomplete tail is
  dropped.
* In both modes a recording shorter than one segment gives exactly one
  zero-padded segment (it is never silently lost); :class:`Segmenter` warns
  about it once per call, with the number of such recordings and the first few
  indices.

A recording of exactly ``segment_length`` samples gives one segment without
padding or warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skasc._base import StatelessTransformer
from skasc._recordings import check_batch, recording_error, stack_recordings
from skasc._validation import Int, Options, Real, check_int, check_option, check_params
from skasc.exceptions import InvalidParameterError, SkascValueError

from .._warnings import warn

__all__ = ["count_segments", "segment_signal", "Segmenter", "ShortRecordingWarning"]

_TAILS = ("pad", "drop")

# How many padded recordings the short-recording warning names before "and N more".
_N_SHOWN = 5


class ShortRecordingWarning(UserWarning):
    """Recordings of a batch were shorter than one segment and were zero-padded to one.

    One warning per batch. The facts travel as attributes and the message is written
    from them when it is shown, so a caller that cut the recordings one at a time
    (:class:`~skasc.frontend.FrontEnd`) gathers them into one warning for its batch.

    Parameters
    ----------
    padded : list of (int, int)
        ``(index, n_samples)`` of each padded recording, in index order.
    n_recordings : int
        Number of recordings in the batch.
    segment_length : int
        Segment length in samples.
    sr : int
        Sampling rate in Hz.

    Examples
    --------
    >>> warning = ShortRecordingWarning([(1, 11025)], 3, 44100, 22050)
    >>> print(warning)  # doctest: +NORMALIZE_WHITESPACE
    1 of 3 recordings was shorter than one segment (2.000 s, 44100 samples) and was
    zero-padded to one segment: recording 1 (0.500 s, 11025 samples). Lower
    segment_duration to avoid padding.
    """

    def __init__(
        self, padded: list[tuple[int, int]], n_recordings: int, segment_length: int, sr: int
    ) -> None:
        super().__init__(padded, n_recordings, segment_length, sr)
        self.padded = [(int(i), int(n)) for i, n in padded]
        self.n_recordings = int(n_recordings)
        self.segment_length = int(segment_length)
        self.sr = int(sr)

    def __str__(self) -> str:
        k, sr = len(self.padded), self.sr
        verb = "was" if k == 1 else "were"
        shown = ", ".join(
            f"recording {i} ({n / sr:.3f} s, {n} samples)" for i, n in self.padded[:_N_SHOWN]
        )
        more = f" and {k - _N_SHOWN} more" if k > _N_SHOWN else ""
        return (
            f"{k} of {self.n_recordings} recordings {verb} shorter than one segment "
            f"({self.segment_length / sr:.3f} s, {self.segment_length} samples) and "
            f"{verb} zero-padded to one segment: {shown}{more}. Lower segment_duration "
            "to avoid padding."
        )


def count_segments(n_samples: int, segment_length: int, hop_length: int, tail: str) -> int:
    """Number of segments of a recording of ``n_samples >= 1`` samples (no checks; see
    :meth:`Segmenter.n_segments`)."""
    if n_samples <= segment_length:
        return 1
    n_full = 1 + (n_samples - segment_length) // hop_length
    if tail == "drop":
        return n_full
    last_end = (n_full - 1) * hop_length + segment_length
    next_start = n_full * hop_length
    # A tail segment is added only when uncovered samples remain and the next
    # segment would contain some of them (with hop > segment_length, samples
    # between segments are skipped by design).
    return n_full + int(last_end < n_samples and next_start < n_samples)


def segment_signal(
    x: np.ndarray, *, segment_length: int, hop_length: int, tail: str = "pad"
) -> np.ndarray:
    """Cut one recording into fixed-length segments along its last axis.

    Parameters
    ----------
    x : ndarray of shape (..., n_samples)
        One recording; leading axes (e.g. channels) are kept.
    segment_length : int
        Segment length in samples (44100 for 2 s at 22050 Hz in Phan et al.).
    hop_length : int
        Samples between the starts of consecutive segments; equal to
        ``segment_length`` for no overlap, smaller for overlap.
    tail : {"pad", "drop"}, default="pad"
        What to do with an incomplete last segment (see the module docstring):
        zero-pad it or drop it. A recording shorter than one segment always
        gives one zero-padded segment.

    Returns
    -------
    segments : ndarray of shape (n_segments, ..., segment_length), dtype float32
        Segment axis first, leading axes of ``x`` next.

    Raises
    ------
    ValueError
        When ``x`` has no samples or a parameter is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from skasc.frontend.segment import segment_signal
    >>> x = np.arange(10, dtype=np.float32)
    >>> segment_signal(x, segment_length=4, hop_length=4, tail="pad")
    array([[0., 1., 2., 3.],
           [4., 5., 6., 7.],
           [8., 9., 0., 0.]], dtype=float32)
    >>> segment_signal(x, segment_length=4, hop_length=4, tail="drop").shape
    (2, 4)
    """
    segment_length = check_int(segment_length, "segment_length", "segment_signal", low=1)
    hop_length = check_int(hop_length, "hop_length", "segment_signal", low=1)
    check_option(tail, "tail", "segment_signal", _TAILS)
    x = np.asarray(x)
    if x.ndim == 0:
        raise SkascValueError(
            "segment_signal expected x of shape (..., n_samples); got a 0-d array."
        )
    n_samples = x.shape[-1]
    if n_samples == 0:
        raise SkascValueError(
            f"segment_signal got x of shape {x.shape} with 0 samples; expected at least 1."
        )
    n_seg = count_segments(n_samples, segment_length, hop_length, tail)
    needed = (n_seg - 1) * hop_length + segment_length
    x = x.astype(np.float32, copy=False)
    if needed > n_samples:
        pad = [(0, 0)] * (x.ndim - 1) + [(0, needed - n_samples)]
        x = np.pad(x, pad)
    windows = np.lib.stride_tricks.sliding_window_view(x[..., :needed], segment_length, axis=-1)[
        ..., ::hop_length, :
    ]
    # windows: (..., n_seg, segment_length) -> (n_seg, ..., segment_length)
    return np.ascontiguousarray(np.moveaxis(windows[..., :n_seg, :], -2, 0))


class Segmenter(StatelessTransformer, auto_wrap_output_keys=None):
    """Cut each recording of a batch into fixed-length segments.

    A stateless transformer (``fit`` learns nothing). The paper's setting
    (2-s segments, no overlap) turns a 30-s recording at 22050 Hz into 15
    segments of 44100 samples. The tail rule is described in the module
    docstring of :mod:`skasc.frontend.segment`: ``tail="pad"`` zero-pads an incomplete
    last segment, ``tail="drop"`` drops it, and a recording shorter than one
    segment is zero-padded to one segment in both modes, with one
    :class:`ShortRecordingWarning` (a ``UserWarning``) per call giving the number of
    such recordings and the first few indices and durations.

    Parameters
    ----------
    sr : int, default=22050
        Sampling rate of the input in Hz (22050 Hz in Phan et al. 2019).
    segment_duration : float, default=2.0
        Segment duration in seconds (2 s in the paper);
        ``segment_length = round(segment_duration * sr)`` samples.
    hop_duration : float or None, default=None
        Seconds between the starts of consecutive segments; ``None`` means
        ``segment_duration`` (no overlap, as in the paper). Smaller values
        overlap segments.
    tail : {"pad", "drop"}, default="pad"
        Zero-pad or drop an incomplete last segment.

    Examples
    --------
    >>> import numpy as np
    >>> from skasc.frontend.segment import Segmenter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2, 2, 6 * 22050)).astype(np.float32)  # 2 rec, 2 channels, 6 s
    >>> Segmenter(sr=22050, segment_duration=2.0).fit_transform(X).shape
    (2, 3, 2, 44100)
    >>> Segmenter().n_segments(30 * 22050)
    15
    """

    # auto_wrap_output_keys=None: no set_output wrapping (outputs are 4-D, never
    # DataFrames).

    _parameter_checks = {
        "sr": Int(low=1),
        "segment_duration": Real(low=0, low_inclusive=False),
        "hop_duration": Real(low=0, low_inclusive=False, none=True),
        "tail": Options(_TAILS),
    }

    def __init__(
        self,
        *,
        sr: int = 22050,
        segment_duration: float = 2.0,
        hop_duration: float | None = None,
        tail: str = "pad",
    ) -> None:
        self.sr = sr
        self.segment_duration = segment_duration
        self.hop_duration = hop_duration
        self.tail = tail

    def _check_params(self) -> tuple[int, int]:
        return self.lengths()

    def lengths(self) -> tuple[int, int]:
        """Validate the parameters; return ``(segment_length, hop_length)`` in samples."""
        params = check_params(self)
        sr, seg, hop = params["sr"], params["segment_duration"], params["hop_duration"]
        seg_len = int(round(seg * sr))
        if seg_len < 1:
            raise InvalidParameterError(
                f"The 'segment_duration' parameter of Segmenter gives {seg * sr!r} samples "
                f"at sr={sr} Hz, which rounds to 0; it must be at least {0.5 / sr!r} s."
            )
        if hop is None:
            return seg_len, seg_len
        hop_len = int(round(hop * sr))
        if hop_len < 1:
            raise InvalidParameterError(
                f"The 'hop_duration' parameter of Segmenter gives {hop * sr!r} samples "
                f"at sr={sr} Hz, which rounds to 0; it must be at least {0.5 / sr!r} s."
            )
        return seg_len, hop_len

    def n_segments(self, n_samples: int) -> int:
        """Number of segments that a recording of ``n_samples`` samples gives.

        Parameters
        ----------
        n_samples : int
            Length of the recording in samples (at least 1).

        Returns
        -------
        n_segments : int
        """
        seg_len, hop_len = self.lengths()
        n_samples = check_int(n_samples, "n_samples", "Segmenter.n_segments", low=1)
        return count_segments(n_samples, seg_len, hop_len, self.tail)

    def transform(self, X: Any) -> np.ndarray:
        """Cut every recording into segments.

        Parameters
        ----------
        X : ndarray of shape (n_recordings, n_samples) or (n_recordings, n_channels, n_samples)
            Mono or multi-channel recordings at ``sr`` Hz (e.g. the 2 channels of
            :class:`skasc.MinStatsDenoiser`), or a 1-D object ndarray (or list) of
            per-recording arrays of shape ``(n_samples_i,)`` or
            ``(n_channels, n_samples_i)``.

        Returns
        -------
        segments : ndarray of shape (n_recordings, n_segments, n_channels, segment_length)
            float32; mono input gets ``n_channels=1``. A 1-D object ndarray of
            per-recording ``(n_segments_i, n_channels, segment_length)`` arrays
            when recordings give different numbers of segments.
        """
        seg_len, hop_len = self.lengths()
        out = []
        padded = []
        for i, rec in enumerate(_iter_checked(X)):
            if rec.ndim == 1:
                rec = rec[np.newaxis, :]
            n = rec.shape[-1]
            if n == 0:
                raise recording_error(SkascValueError, i, "has 0 samples; expected at least 1.")
            if not np.isfinite(rec).all():
                raise recording_error(SkascValueError, i, "contains NaN or inf samples.")
            if n < seg_len:
                padded.append((i, n))
            out.append(
                segment_signal(rec, segment_length=seg_len, hop_length=hop_len, tail=self.tail)
            )
        if padded:
            warn(ShortRecordingWarning(padded, len(out), seg_len, self.sr))
        return stack_recordings(out)


def _iter_checked(X: Any) -> list[np.ndarray]:
    """Each recording of ``X`` as a 1-D or 2-D numeric ndarray."""
    return check_batch(
        X, "Segmenter", item_ndim=(1, 2), item_shape="(n_samples,) or (n_channels, n_samples)"
    )
