"""ERB-spaced gammatone filterbank as weights on FFT bins.

The log gammatone spectrogram of Phan et al. (2019, Sec. 4.2) repeats the log
Mel procedure with ``M = 64`` gammatone filters in place of the Mel triangles.
skasc uses the common *FFT-weighting* approximation: each band's energy is a
weighted sum of the STFT power bins, the weight being the magnitude-squared
frequency response of a 4th-order gammatone filter at that bin.  Reasons:

* it shares the STFT (and the framing) of the Mel path, so the two features
  are aligned frame by frame and cost one matrix product each;
* a time-domain IIR gammatone bank (``scipy.signal.gammatone(..., 'iir')``)
  is numerically unstable for low centre frequencies at high sampling rates
  (scipy issue 16522), and running 64 filters over every sample is far slower.

Filter model (Glasberg & Moore 1990; Patterson et al. 1992):

* ``ERB(f) = 24.7 * (4.37 f / 1000 + 1)`` Hz (132.6 Hz at 1 kHz);
* ERB-rate ``E(f) = 21.4 * log10(4.37 f / 1000 + 1)``;
* impulse response ``t**(n-1) exp(-2 pi b t) cos(2 pi fc t)`` with order
  ``n = 4`` and ``b = 1.019 * ERB(fc)``, whose magnitude response near ``fc``
  is ``|H(f)| = (1 + ((f - fc) / b)**2) ** (-n / 2)``.

Centre frequencies: like the Mel filters of :func:`librosa.filters.mel`,
``fmin`` and ``fmax`` are the outer *edges*: ``n_bands + 2`` points are spaced
equally on the ERB-rate scale from ``fmin`` to ``fmax`` and the ``n_bands``
inner points are the centres, so every centre lies strictly inside
``(fmin, fmax)`` and no band is cut in half by the Nyquist frequency.  A
gammatone's skirts are not truncated at ``fmin``/``fmax`` (with the defaults
the lowest band is 28 dB down at 0 Hz).

Normalisation: each row of the weight matrix sums to 1, so a band's energy is
the response-weighted *mean* of the bin powers.  Bands of every width are then
comparable (white noise gives the same expected energy in every band, as with
the area-normalised "slaney" Mel filters), independently of ``n_fft``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..exceptions import SkascValueError

__all__ = [
    "hz_to_erb_rate",
    "erb_rate_to_hz",
    "erb_bandwidth",
    "gammatone_center_frequencies",
    "gammatone_weights",
]


def hz_to_erb_rate(f: np.ndarray | float) -> np.ndarray:
    """ERB-rate (number of ERBs below ``f``), ``21.4 * log10(4.37 f / 1000 + 1)``.

    Parameters
    ----------
    f : float or ndarray
        Frequency in Hz, >= 0.

    Returns
    -------
    e : ndarray of the same shape, float64

    Examples
    --------
    >>> round(float(hz_to_erb_rate(1000.0)), 3)
    15.621
    """
    return 21.4 * np.log10(4.37e-3 * np.asarray(f, dtype=np.float64) + 1.0)


def erb_rate_to_hz(e: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_erb_rate`: ``(10**(e / 21.4) - 1) * 1000 / 4.37`` Hz.

    Examples
    --------
    >>> round(float(erb_rate_to_hz(hz_to_erb_rate(440.0))), 6)
    440.0
    """
    return (10.0 ** (np.asarray(e, dtype=np.float64) / 21.4) - 1.0) / 4.37e-3


def erb_bandwidth(f: np.ndarray | float) -> np.ndarray:
    """Equivalent rectangular bandwidth ``24.7 * (4.37 f / 1000 + 1)`` in Hz.

    Examples
    --------
    >>> round(float(erb_bandwidth(1000.0)), 2)
    132.64
    """
    return 24.7 * (4.37e-3 * np.asarray(f, dtype=np.float64) + 1.0)


def gammatone_center_frequencies(*, n_bands: int, fmin: float, fmax: float) -> np.ndarray:
    """Centre frequencies equally spaced on the ERB-rate scale inside ``(fmin, fmax)``.

    ``n_bands + 2`` points are spaced equally in ERB-rate from ``fmin`` to
    ``fmax``; the inner ``n_bands`` are returned (``fmin``/``fmax`` are edges,
    as for the Mel filters).

    Parameters
    ----------
    n_bands : int
        Number of filters, >= 1.
    fmin, fmax : float
        Edges in Hz, ``0 <= fmin < fmax``.

    Returns
    -------
    fc : ndarray of shape (n_bands,), float64, increasing, in Hz

    Examples
    --------
    >>> fc = gammatone_center_frequencies(n_bands=64, fmin=50.0, fmax=11025.0)
    >>> bool(50.0 < fc[0] < fc[-1] < 11025.0)
    True
    """
    if n_bands < 1:
        raise SkascValueError(f"n_bands must be >= 1; got {n_bands}.")
    if not 0 <= fmin < fmax:
        raise SkascValueError(f"Need 0 <= fmin < fmax; got fmin={fmin}, fmax={fmax}.")
    e = np.linspace(hz_to_erb_rate(fmin), hz_to_erb_rate(fmax), n_bands + 2)
    return erb_rate_to_hz(e[1:-1])


@functools.lru_cache(maxsize=32)
def _cached_weights(
    sr: int, n_fft: int, n_bands: int, fmin: float, fmax: float, order: int
) -> np.ndarray:
    fc = gammatone_center_frequencies(n_bands=n_bands, fmin=fmin, fmax=fmax)
    b = 1.019 * erb_bandwidth(fc)
    freqs = np.arange(n_fft // 2 + 1) * (sr / n_fft)
    x = (freqs[None, :] - fc[:, None]) / b[:, None]
    w = (1.0 + x * x) ** (-float(order))  # |H(f)|**2
    w /= w.sum(axis=1, keepdims=True)
    w = w.astype(np.float32)
    w.flags.writeable = False
    return w


def gammatone_weights(
    *,
    sr: int,
    n_fft: int,
    n_bands: int = 64,
    fmin: float = 50.0,
    fmax: float | None = None,
    order: int = 4,
) -> np.ndarray:
    """Gammatone filterbank as weights on the bins of an ``n_fft``-point FFT.

    Row ``m`` is ``|H_m(f_k)|**2 = (1 + ((f_k - fc_m) / b_m)**2) ** (-order)`` at
    the bin frequencies ``f_k = k * sr / n_fft``, with ``b_m = 1.019 * ERB(fc_m)``,
    normalised to sum to 1 (see the module docstring).  Results are cached per
    parameter set and returned read-only.

    Parameters
    ----------
    sr : int
        Sampling rate in Hz.
    n_fft : int
        FFT length in samples (1102 for 50-ms frames at 22050 Hz).
    n_bands : int, default=64
        Number of filters (M = 64 in the paper).
    fmin : float, default=50.0
        Lower edge in Hz.
    fmax : float or None, default=None
        Upper edge in Hz; None means ``sr / 2`` (Nyquist).
    order : int, default=4
        Gammatone order.

    Returns
    -------
    weights : ndarray of shape (n_bands, n_fft // 2 + 1), float32, read-only

    Examples
    --------
    >>> w = gammatone_weights(sr=22050, n_fft=1102)
    >>> w.shape
    (64, 552)
    >>> bool(np.allclose(w.sum(axis=1), 1.0))
    True
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if fmax > sr / 2.0:
        raise SkascValueError(f"fmax must be <= sr / 2 = {sr / 2.0}; got {fmax}.")
    if order < 1:
        raise SkascValueError(f"order must be >= 1; got {order}.")
    return _cached_weights(int(sr), int(n_fft), int(n_bands), float(fmin), fmax, int(order))
