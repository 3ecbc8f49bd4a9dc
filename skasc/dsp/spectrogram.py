"""Short-time power spectra and log compression for fixed-length segments.

Framing used throughout skasc (Phan et al. 2019, Sec. 4.2): a 2-s segment at
``sr = 22050`` Hz is cut into 50-ms Hann frames with 50 % overlap, giving
``T = 80`` frames.  In samples:

* ``n_fft = win_length = round(frame_duration * sr)`` -- Python's ``round``
  (half to even), so ``0.05 * 22050 = 1102.5`` gives **1102**;
* ``hop_length = round(n_fft * (1 - overlap))`` (at least 1), so **551**;
* frames start at ``t * hop_length`` *inside* the segment (``center=False``)
  and the segment's end is zero-padded by ``n_fft - hop_length`` samples, so
  that ``n_frames = n_samples // hop_length`` (``44100 // 551 = 80``) and no
  frame sees audio outside its own segment.  A segment's features therefore do
  not depend on its neighbours; the last frame covers the final half frame of
  the segment followed by zeros.

The STFT equals ``librosa.stft(y_padded, window='hann', center=False)`` (the
tests check it) but is computed here with a strided frame view and one
``scipy.fft.rfft`` in float32 over all segments and channels at once (faster than
``librosa.stft``: docs/design.md).

All functions are pure, take keyword-only parameters, and return float32.

The pair :func:`centred_stft_frames` / :func:`centred_istft_frames` is the
other framing: a centred STFT of a whole recording (``librosa.stft`` with
``center=True, pad_mode="constant"``) and its inverse, used by
:mod:`skasc.dsp.minstats`; both framings share one ``hann`` window.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.fft
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from ..exceptions import SkascValueError

__all__ = ["frame_lengths", "n_frames", "power_spectrogram", "log_compress", "log_filterbank"]


def frame_lengths(
    *, sr: int, frame_duration: float = 0.05, overlap: float = 0.5
) -> tuple[int, int]:
    """Frame and hop lengths in samples for a frame duration and an overlap.

    Parameters
    ----------
    sr : int
        Sampling rate in Hz.
    frame_duration : float, default=0.05
        Frame (window) length in seconds; 50 ms in the paper.
    overlap : float, default=0.5
        Fraction of a frame shared with the next one, in ``[0, 1)``.

    Returns
    -------
    n_fft : int
        Frame length = FFT length = window length, ``round(frame_duration * sr)``
        (Python's half-to-even rounding: 1102 at 22050 Hz).
    hop_length : int
        ``max(1, round(n_fft * (1 - overlap)))`` (551 for the defaults).

    Examples
    --------
    >>> frame_lengths(sr=22050)
    (1102, 551)
    """
    n_fft = int(round(frame_duration * sr))
    hop_length = max(1, int(round(n_fft * (1.0 - overlap))))
    return n_fft, hop_length


def n_frames(n_samples: int, *, hop_length: int) -> int:
    """Number of frames of a segment of ``n_samples`` samples.

    With skasc's framing (frames start inside the segment, end zero-padded)
    this is ``n_samples // hop_length``.

    Examples
    --------
    >>> n_frames(44100, hop_length=551)
    80
    """
    return int(n_samples) // int(hop_length)


def _check_frames(n_samples: int, n_fft: int, hop_length: int) -> None:
    if n_fft < 2:
        raise SkascValueError(f"n_fft must be at least 2; got {n_fft}.")
    if not 1 <= hop_length <= n_fft:
        raise SkascValueError(f"hop_length must be in [1, n_fft={n_fft}]; got {hop_length}.")
    if n_samples < hop_length:
        raise SkascValueError(
            f"Segments of {n_samples} samples are shorter than one hop "
            f"({hop_length} samples) and give no frame; use longer segments."
        )


@functools.lru_cache(maxsize=16)
def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (``scipy.signal.get_window('hann', n_fft)``), float32."""
    w = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    w.flags.writeable = False
    return w


def _segment_stft_frames(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Uncentred segment STFT, frames on the second-to-last axis: (..., n_frames, n_bins).

    Same values as ``librosa.stft(pad(y), n_fft=n_fft, hop_length=hop_length,
    window='hann', center=False)`` (transposed).  Written with a strided frame
    view and one ``scipy.fft.rfft`` along the contiguous last axis because
    ``librosa.stft`` transforms in small column blocks across a strided axis
    (slower: docs/design.md).
    """
    y = np.asarray(y, dtype=np.float32)
    _check_frames(y.shape[-1], n_fft, hop_length)
    if n_fft > hop_length:
        padded = np.zeros(y.shape[:-1] + (y.shape[-1] + n_fft - hop_length,), np.float32)
        padded[..., : y.shape[-1]] = y
    else:
        padded = y
    frames = sliding_window_view(padded, n_fft, axis=-1)[..., ::hop_length, :]
    frames = frames[..., : n_frames(y.shape[-1], hop_length=hop_length), :]
    return scipy.fft.rfft(frames * hann(n_fft), axis=-1, workers=1)


def _power_frames(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``|STFT|**2`` as a C-contiguous (..., n_frames, n_bins) float32 array."""
    spec = _segment_stft_frames(y, n_fft, hop_length)
    power = np.square(spec.real)
    power += np.square(spec.imag)
    return power


def power_spectrogram(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Power spectrogram ``|STFT|**2`` of one or many segments, Hann window.

    Equals ``abs(librosa.stft(y_padded, n_fft=n_fft, hop_length=hop_length,
    window='hann', center=False))**2`` where ``y_padded`` is ``y`` followed by
    ``n_fft - hop_length`` zeros (see the module docstring), computed in
    float32 over all leading axes at once.

    Parameters
    ----------
    y : ndarray of shape (..., n_samples)
        Audio; any leading axes (e.g. ``(n_segments, n_channels)``) are
        transformed in one batch.
    n_fft : int
        Frame length = window length = FFT length, in samples.
    hop_length : int
        Frame advance in samples.

    Returns
    -------
    S : ndarray of shape (..., n_fft // 2 + 1, n_frames), float32
        Power per FFT bin and frame, ``n_frames = n_samples // hop_length``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((3, 2, 44100), dtype=np.float32)
    >>> power_spectrogram(y, n_fft=1102, hop_length=551).shape
    (3, 2, 552, 80)
    """
    return np.ascontiguousarray(np.swapaxes(_power_frames(y, n_fft, hop_length), -1, -2))


def log_compress(S: np.ndarray, *, floor: float = 1e-10) -> np.ndarray:
    """``10 * log10(max(S, floor))`` with a fixed floor, in dB re 1.

    The floor is absolute, never relative to the maximum of a clip, so a
    segment's features do not depend on the rest of the recording, and silence
    maps to the finite value ``10 * log10(floor)`` (-100 dB by default).
    Equals ``librosa.power_to_db(S, ref=1.0, amin=floor, top_db=None)``.

    Parameters
    ----------
    S : ndarray of any shape
        Non-negative powers.
    floor : float, default=1e-10
        Smallest power kept, > 0.

    Returns
    -------
    S_db : ndarray of the same shape, float32

    Examples
    --------
    >>> import numpy as np
    >>> np.round(log_compress(np.array([0.0, 1.0, 100.0])), 4).tolist()
    [-100.0, 0.0, 20.0]
    """
    if not floor > 0:
        raise SkascValueError(f"floor must be > 0; got {floor!r}.")
    S = np.asarray(S)
    out = np.empty(S.shape, dtype=np.float32)  # C-contiguous whatever S's layout
    np.maximum(S, np.float32(floor), out=out, casting="unsafe")
    np.log10(out, out=out)
    out *= np.float32(10.0)
    return out


def log_filterbank(
    y: np.ndarray,
    *,
    weights: np.ndarray | Sequence[np.ndarray],
    n_fft: int,
    hop_length: int,
    floor: float = 1e-10,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Log filterbank energies ``log_compress(weights @ power_spectrogram(y))``.

    Several filterbanks (e.g. Mel and gammatone) may share one STFT by passing
    a sequence of weight matrices.

    Parameters
    ----------
    y : ndarray of shape (..., n_samples)
        Audio segments.
    weights : ndarray of shape (n_bands, n_fft // 2 + 1) or sequence of them
        Filterbank weights on the FFT bins.
    n_fft, hop_length : int
        Framing, see :func:`power_spectrogram`.
    floor : float, default=1e-10
        Fixed power floor of :func:`log_compress`.

    Returns
    -------
    S_db : ndarray of shape (..., n_bands, n_frames), float32, or a tuple of
        them (one per weight matrix) when ``weights`` is a sequence.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.ones((4, 552), dtype=np.float32) / 552
    >>> log_filterbank(np.zeros((2, 44100)), weights=w, n_fft=1102,
    ...                hop_length=551).shape
    (2, 4, 80)
    """
    single = isinstance(weights, np.ndarray)
    banks = [np.asarray(w, dtype=np.float32) for w in ([weights] if single else weights)]
    n_bins = n_fft // 2 + 1
    for w in banks:
        if w.ndim != 2 or w.shape[1] != n_bins:
            raise SkascValueError(
                f"weights must have shape (n_bands, n_fft // 2 + 1 = {n_bins}); got {w.shape}."
            )
    power = _power_frames(y, n_fft, hop_length)  # (..., n_frames, n_bins)
    lead, n_t = power.shape[:-2], power.shape[-2]
    flat = power.reshape(-1, n_bins)
    out = []
    for w in banks:
        # One (batch * n_frames, n_bins) x (n_bins, n_bands) product: a single
        # large GEMM is faster than a batched matmul of many small ones.
        bands = (flat @ w.T).reshape(*lead, n_t, w.shape[0])
        out.append(log_compress(np.swapaxes(bands, -1, -2), floor=floor))
    return out[0] if single else tuple(out)


# --- Centred STFT / inverse STFT of a whole recording -------------------------
# Used by skasc.dsp.minstats (the noise tracker runs over a whole recording, not
# over segments). These reproduce ``librosa.stft(y, n_fft, hop_length,
# window="hann", center=True, pad_mode="constant")`` and
# ``librosa.istft(..., length=len(y))`` to float32 precision (tests compare
# against librosa and scipy.signal), but keep the frames-first layout the
# tracker wants and skip librosa's generic blocking (faster: docs/design.md).

_BLOCK = 128  # frames per FFT block: keeps the frame buffers in cache


@njit(cache=True, nogil=True)
def _windowed_frames(y, window, hop_length, t0, t1, frames):  # pragma: no cover
    """Frames t0..t1-1 of the zero-padded (centred) signal times the window."""
    n_fft = window.shape[0]
    pad = n_fft // 2
    n = y.shape[0]
    for t in range(t0, t1):
        base = t * hop_length - pad
        i0 = min(max(0, -base), n_fft)
        i1 = max(min(n_fft, n - base), i0)
        row = t - t0
        for i in range(i0):
            frames[row, i] = 0.0
        for i in range(i0, i1):
            frames[row, i] = y[base + i] * window[i]
        for i in range(i1, n_fft):
            frames[row, i] = 0.0


def centred_stft_frames(
    y: np.ndarray, n_fft: int, hop_length: int, window: np.ndarray
) -> np.ndarray:
    """Centred STFT with zero padding, shape (n_frames, n_fft // 2 + 1), complex64.

    Frame ``t`` is centred on sample ``t * hop_length`` (``n_frames = 1 +
    len(y) // hop_length``); samples outside ``y`` are zeros. Unlike
    :func:`_segment_stft_frames` it takes the window and works on one 1-D signal.
    """
    return stft_frame_range(y, window, hop_length, 0, 1 + len(y) // hop_length)


def stft_frame_range(
    y: np.ndarray, window: np.ndarray, hop_length: int, t0: int, t1: int
) -> np.ndarray:
    """Frames ``t0 .. t1 - 1`` of :func:`centred_stft_frames` (y's frames counted
    from its first sample; samples outside ``y`` are zeros)."""
    n_fft = window.shape[0]
    n_frames = max(0, t1 - t0)
    spec = np.empty((n_frames, n_fft // 2 + 1), dtype=np.complex64)
    frames = np.empty((min(_BLOCK, n_frames), n_fft), dtype=np.float32)
    for b0 in range(0, n_frames, _BLOCK):
        b1 = min(b0 + _BLOCK, n_frames)
        _windowed_frames(y, window, hop_length, t0 + b0, t0 + b1, frames)
        spec[b0:b1] = scipy.fft.rfft(frames[: b1 - b0], axis=-1)
    return spec


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _overlap_add(out, frames, window, hop_length, t0, start):  # pragma: no cover
    """Add windowed frames t0.. into ``out`` (which starts ``start`` samples in)."""
    n_rows, n_fft = frames.shape
    length = out.shape[0]
    for row in range(n_rows):
        base = (t0 + row) * hop_length - start
        i0 = min(max(0, -base), n_fft)
        i1 = max(min(n_fft, length - base), i0)
        for i in range(i0, i1):
            out[base + i] += frames[row, i] * window[i]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def normalise_overlap_add(out, window, hop_length, n_frames, start):  # pragma: no cover
    """Divide by the window's sum of squares over the frames covering each sample."""
    n_fft = window.shape[0]
    tiny = np.float32(1.1754944e-38)  # librosa.util.tiny(float32)
    # Where every frame that could cover a sample exists, the sum is periodic
    # in the hop: one value per phase r = pos % hop.
    period = np.zeros(hop_length, dtype=np.float32)
    for i in range(n_fft):
        period[i % hop_length] += window[i] * window[i]
    inv = np.ones(hop_length, dtype=np.float32)
    for r in range(hop_length):
        if period[r] > tiny:
            inv[r] = np.float32(1.0) / period[r]
    length = out.shape[0]
    j_lo = min(max(0, n_fft - 1 - start), length)
    j_hi = max(min(length, n_frames * hop_length - start), j_lo)
    r = (j_lo + start) % hop_length
    for j in range(j_lo, j_hi):
        out[j] *= inv[r]
        r += 1
        if r == hop_length:
            r = 0
    for j in range(length - (j_hi - j_lo)):  # the edges: sum over the frames that exist
        if j >= j_lo:
            j += j_hi - j_lo
        pos = j + start
        wss = np.float32(0.0)
        t = min(pos // hop_length, n_frames - 1)
        while t >= 0 and pos - t * hop_length < n_fft:
            w = window[pos - t * hop_length]
            wss += w * w
            t -= 1
        if wss > tiny:
            out[j] /= wss


def centred_istft_frames(
    spec: np.ndarray, n_fft: int, hop_length: int, window: np.ndarray, length: int
) -> np.ndarray:
    """Inverse of :func:`centred_stft_frames`, trimmed/padded to ``length`` samples."""
    n_frames = spec.shape[0]
    out = np.zeros(length, dtype=np.float32)
    overlap_add_spec(out, spec, window, hop_length, 0, n_fft // 2)
    normalise_overlap_add(out, window, hop_length, n_frames, n_fft // 2)
    return out


def overlap_add_spec(
    out: np.ndarray, spec: np.ndarray, window: np.ndarray, hop_length: int, t0: int, start: int
) -> None:
    """Inverse FFT of frames ``t0, t0 + 1, ...`` (the rows of ``spec``), windowed and
    added into ``out`` (which starts ``start`` samples in), ``_BLOCK`` frames at a
    time so that no (n_frames, n_fft) array is built."""
    n_fft = window.shape[0]
    for b0 in range(0, spec.shape[0], _BLOCK):
        b1 = min(b0 + _BLOCK, spec.shape[0])
        frames = scipy.fft.irfft(spec[b0:b1], n=n_fft, axis=-1)
        _overlap_add(out, frames, window, hop_length, t0 + b0, start)
