"""Noise PSD estimation by minimum statistics, and spectral subtraction.

The auxiliary channel of Phan et al. (2019, Sec. 2.1) is the recording with its
background noise removed "using the minimum statistics estimation and
subtraction method". This module implements that method:

* :func:`minimum_statistics` estimates the noise power spectral density (PSD)
  frame by frame with R. Martin's minimum-statistics tracker [1]_: optimally and
  time-varyingly smoothed periodogram, search for its minimum over a window of
  ``D = U * V`` frames (U sub-windows of V frames), and compensation of the bias
  of that minimum from an estimate of the smoothed periodogram's variance [2]_;
* :func:`spectral_subtraction` subtracts that PSD from the noisy power spectrum
  with a spectral floor [3]_, keeping the noisy phase;
* :func:`denoise` chains STFT, the two steps above and the inverse STFT.

The tracker is written here by hand, from the papers, because no maintained
Python library implements it (the implementations that exist are MATLAB
toolboxes or GPL ports of them, none of which is used or copied here). The
frame loop is a numba kernel; the STFT pair (in :mod:`skasc.dsp.spectrogram`)
is a small frames-first version of ``librosa.stft``/``librosa.istft`` (tests
check they agree), and the
subtraction is applied in place frame by frame (docs/design.md: how fast).

The comments in the kernel name every step of [1]_ with its equation number
(and Table III for M(D)); they were written from the paper's structure and
should be read with the paper at hand: the step names are authoritative.

References
----------
.. [1] R. Martin, "Noise power spectral density estimation based on optimal
   smoothing and minimum statistics", IEEE Trans. Speech and Audio Processing
   9(5), pp. 504-512, 2001. Equation and table numbers in the comments refer
   to this paper unless stated otherwise.
.. [2] R. Martin, "Bias compensation methods for minimum statistics noise power
   spectral density estimation", Signal Processing 86(6), pp. 1215-1229, 2006.
.. [3] M. Berouti, R. Schwartz, J. Makhoul, "Enhancement of speech corrupted by
   acoustic noise", Proc. ICASSP, pp. 208-211, 1979 (spectral floor).
"""

from __future__ import annotations

import numbers

import numpy as np
from numba import njit

from skasc.dsp.spectrogram import (
    centred_istft_frames,
    centred_stft_frames,
    hann,
    normalise_overlap_add,
    overlap_add_spec,
    stft_frame_range,
)
from skasc.exceptions import SkascValueError

__all__ = [
    "minimum_statistics",
    "spectral_subtraction",
    "denoise",
    "search_window",
    "MinStatsStream",
]

#: Fixed floor (in power units) that guards every division. It is absolute,
#: not relative to the recording, so silence gives zeros and never NaN.
TINY = 1e-30

# --- Martin's (2001) constants: the defaults of every function here and of
# skasc.frontend.MinStatsDenoiser, defined once. The smoothing constants are
# Martin's values for a 16-ms frame shift (_REFERENCE_HOP_S); they are rescaled
# to the actual hop inside _run_tracker.

#: Minimum-search window in seconds (Martin 2001: D = 96 frames of 16 ms).
WINDOW_DURATION = 1.5
#: Number U of sub-windows of the search window (Martin 2001: U = 8).
N_SUBWINDOWS = 8
#: Upper limit of the smoothing parameter alpha(lambda, k), Eq. (11).
ALPHA_MAX = 0.96
#: Lower limit of the smoothing parameter alpha(lambda, k).
ALPHA_MIN = 0.3
#: Upper limit of the smoothing parameter beta of the variance estimate, Eq. (22).
BETA_MAX = 0.8
#: Constant a_v of the B_c correction, Eq. (28).
A_V = 2.12
#: Decay of the first-order smoothing of alpha_c, Eq. (10).
ALPHA_C_DECAY = 0.7
#: Lower limit of alpha_c~ before that smoothing, Eq. (10).
ALPHA_C_MIN = 0.7

# Spectral subtraction defaults (Berouti et al. 1979), shared with
# MinStatsDenoiser as well.

#: Factor on the noise PSD in the subtraction.
OVERSUBTRACTION = 2.0
#: Gain floor as a fraction of the noisy power |Y|^2 (0.1 = -10 dB).
FLOOR = 0.1

# Martin (2001), Table III: M(D), the factor of the equivalent degrees of
# freedom of the minimum of D frames, used in the bias approximation Eq. (17).
_MD_D = np.array([1, 2, 5, 8, 10, 15, 20, 30, 40, 60, 80, 120, 140, 160], dtype=np.float64)
_MD_M = np.array(
    [0.0, 0.26, 0.48, 0.58, 0.61, 0.668, 0.705, 0.762, 0.8, 0.841, 0.865, 0.89, 0.9, 0.91],
    dtype=np.float64,
)

#: Frame shift (s) for which Martin's constants were specified (8 kHz,
#: 256-point DFT, frame advance 128). Time constants are rescaled to the
#: actual hop so that the smoothing spans the same duration.
_REFERENCE_HOP_S = 0.016


def _m_of_d(d: int) -> float:
    """M(D) of Martin (2001), Table III, interpolated in D (held beyond D=160)."""
    return float(np.interp(d, _MD_D, _MD_M))


def search_window(
    *,
    hop_length: int,
    sr: float,
    window_duration: float = WINDOW_DURATION,
    n_subwindows: int = N_SUBWINDOWS,
) -> tuple[int, int]:
    """Sub-window layout of the minimum search.

    Parameters
    ----------
    hop_length : int
        STFT hop in samples.
    sr : float
        Sample rate in Hz.
    window_duration : float, default=1.5
        Length of the minimum-search window in seconds (Martin 2001 uses
        D = 96 frames of 16 ms, about 1.5 s).
    n_subwindows : int, default=8
        Number U of sub-windows (Martin 2001: U = 8).

    Returns
    -------
    n_subwindows : int
        U.
    subwindow_frames : int
        V, frames per sub-window; the search window is D = U * V frames.

    Raises
    ------
    ValueError
        When U < 2 or the window is too short to give every sub-window at
        least 2 frames.
    """
    if (
        isinstance(n_subwindows, bool)
        or not isinstance(n_subwindows, numbers.Integral)
        or n_subwindows < 2
    ):
        raise SkascValueError(f"n_subwindows must be an int >= 2; got {n_subwindows!r}.")
    if not (hop_length > 0 and sr > 0 and window_duration > 0):
        raise SkascValueError(
            "hop_length, sr and window_duration must be positive; got "
            f"{hop_length!r}, {sr!r}, {window_duration!r}."
        )
    n_frames = window_duration * sr / hop_length
    v = int(round(n_frames / n_subwindows))
    if n_frames < 2 * n_subwindows:
        raise SkascValueError(
            f"window_duration={window_duration!r} s covers {n_frames:.1f} frames of "
            f"hop_length={hop_length} at sr={sr}, fewer than 2 frames for each of the "
            f"{n_subwindows} sub-windows; use a window of at least "
            f"{2 * n_subwindows * hop_length / sr:.3g} s or fewer sub-windows."
        )
    return int(n_subwindows), v


# The tracker's state between calls, so that a long recording can be tracked block by
# block (MinStatsStream) with the result of tracking it at once: one row of per-bin
# state per name below, the ring buffer of sub-window minima, and four scalars
# (alpha_c, the sub-window frame counter, the ring-buffer slot, and whether the state
# was initialised from a first frame).
_STATE_ROWS = ("p", "sn2", "pbar", "p2bar", "actmin", "actmin_sub", "pmin_u", "lmin_flag")


def _new_state(n_sub: int, n_freq: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-bin state (8, n_freq), sub-window minima (n_sub, n_freq), scalars (4,))."""
    big = 1e300  # "no minimum found yet" (finite: no inf/NaN arithmetic)
    bins = np.zeros((len(_STATE_ROWS), n_freq))
    bins[4:7] = big  # actmin, actmin_sub, pmin_u
    store = np.full((n_sub, n_freq), big)
    scalars = np.array([1.0, 1.0, 0.0, 0.0])  # alpha_c, subwc, slot, initialised
    return bins, store, scalars


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _track(
    power,
    spec,
    noise_out,
    bins,
    store,
    scalars,
    n_sub,
    v_len,
    m_d,
    m_v,
    alpha_max,
    alpha_min,
    beta_max,
    alpha_c_decay,
    a_v,
    oversubtraction,
    floor,
):  # pragma: no cover
    """Martin's (2001) tracker over frames-first (n_frames, n_freq) arrays.

    Two modes share the code: with ``spec`` of shape (0, 0) the periodogram is
    read from ``power`` and the noise PSD written to ``noise_out``; otherwise
    the periodogram is |spec|^2 and each frame of ``spec`` is replaced, in
    place, by its spectral subtraction (see :func:`spectral_subtraction`) as
    soon as its noise PSD is known, so no full-size power or noise array is
    ever allocated.

    ``bins``, ``store`` and ``scalars`` (from :func:`_new_state`) are the
    tracker's state, updated in place: a second call continues where the first
    stopped, exactly as if the frames of both had been passed at once.
    """
    from_spec = spec.shape[0] > 0
    if from_spec:
        n_frames, n_freq = spec.shape
    else:
        n_frames, n_freq = power.shape
    ypow = np.empty(n_freq)  # |Y(lambda, k)|^2 of the current frame
    d_len = n_sub * v_len
    tiny = TINY
    big = 1e300

    p = bins[0]  # P(lambda-1, k), smoothed periodogram
    sn2 = bins[1]  # sigma_N^2(lambda-1, k), noise estimate
    pbar = bins[2]  # first moment of P, Eq. (22)
    p2bar = bins[3]  # second moment of P, Eq. (23)
    actmin = bins[4]  # minimum of the current sub-window
    actmin_sub = bins[5]
    pmin_u = bins[6]  # minimum over the last U sub-windows
    lmin_flag = bins[7]  # 1.0 where a local minimum was flagged
    k_mod = np.zeros(n_freq, dtype=np.bool_)
    qinv = np.empty(n_freq)
    bmin = np.empty(n_freq)
    bmin_sub = np.empty(n_freq)
    if scalars[3] == 0.0 and n_frames > 0:
        # Initialised from the first frame so that the first smoothed value
        # equals the first periodogram.
        for k in range(n_freq):
            if from_spec:
                y0 = float(spec[0, k].real) ** 2 + float(spec[0, k].imag) ** 2
            else:
                y0 = float(power[0, k])
            p[k] = y0
            sn2[k] = max(y0, tiny)
            pbar[k] = y0
            p2bar[k] = y0 * y0
        scalars[3] = 1.0
    alpha_c = scalars[0]
    subwc = int(scalars[1])
    slot = int(scalars[2])

    for lam in range(n_frames):
        # --- Eq. (9)-(10): alpha_c(lambda), the correction that follows the
        # ratio of smoothed to instantaneous power summed over frequency, and
        # its first-order smoothing (Martin: 0.7 / 0.3, floor ALPHA_C_MIN = 0.7).
        if from_spec:
            for k in range(n_freq):
                ypow[k] = float(spec[lam, k].real) ** 2 + float(spec[lam, k].imag) ** 2
        else:
            for k in range(n_freq):
                ypow[k] = power[lam, k]
        sum_p = 0.0
        sum_y = 0.0
        for k in range(n_freq):
            sum_p += p[k]
            sum_y += ypow[k]
        r = sum_p / max(sum_y, tiny) - 1.0
        alpha_c_tilde = 1.0 / (1.0 + r * r)
        alpha_c = alpha_c_decay * alpha_c + (1.0 - alpha_c_decay) * max(alpha_c_tilde, ALPHA_C_MIN)

        q_sum = 0.0
        for k in range(n_freq):
            y = ypow[k]
            # --- Eq. (7) optimal smoothing parameter, Eq. (11) with alpha_max
            # and alpha_c; lower limit alpha_min keeps the tracker from
            # following every transient.
            g = p[k] / sn2[k] - 1.0
            alpha = alpha_max * alpha_c / (1.0 + g * g)
            if alpha < alpha_min:
                alpha = alpha_min
            # --- Eq. (4): recursive smoothing with alpha(lambda, k).
            pk = alpha * p[k] + (1.0 - alpha) * y
            p[k] = pk
            # --- Eq. (22)-(24): variance of P from its first two moments,
            # beta = min(alpha^2, beta_max).
            beta = alpha * alpha
            if beta > beta_max:
                beta = beta_max
            pbar[k] = beta * pbar[k] + (1.0 - beta) * pk
            p2bar[k] = beta * p2bar[k] + (1.0 - beta) * pk * pk
            var_p = p2bar[k] - pbar[k] * pbar[k]
            if var_p < 0.0:
                var_p = 0.0
            # --- Eq. (25): inverse equivalent degrees of freedom
            # Q_eq^-1 = var{P} / (2 sigma_N^4), limited to 0.5 (Q_eq >= 2).
            qi = var_p / (2.0 * sn2[k] * sn2[k])
            if qi > 0.5:
                qi = 0.5
            qinv[k] = qi
            q_sum += qi
            # --- Eq. (17): B_min = 1 + (D-1) 2 / Q~_eq with
            # Q~_eq = (Q_eq - 2 M(D)) / (1 - M(D)), written with Q_eq^-1 so
            # that Q_eq^-1 = 0 (silence) needs no division by zero:
            # 2 (D-1)(1-M) Q^-1 / (1 - 2 M Q^-1); the denominator is >= 1 - M.
            bmin[k] = 1.0 + 2.0 * (d_len - 1) * (1.0 - m_d) * qi / (1.0 - 2.0 * m_d * qi)
            bmin_sub[k] = 1.0 + 2.0 * (v_len - 1) * (1.0 - m_v) * qi / (1.0 - 2.0 * m_v * qi)
        q_mean = q_sum / n_freq
        # --- Eq. (28): B_c, the correction for the variance of the estimated
        # Q_eq^-1, from its average over frequency; a_v = 2.12.
        b_c = 1.0 + a_v * np.sqrt(q_mean)

        # --- Sec. V (Fig. 5 pseudo-code): minimum search over U sub-windows
        # of V frames, with the fast update of a local minimum.
        for k in range(n_freq):
            cand = p[k] * bmin[k] * b_c
            k_mod[k] = False
            if cand < actmin[k]:
                actmin[k] = cand
                actmin_sub[k] = p[k] * bmin_sub[k] * b_c
                k_mod[k] = True

        if subwc == v_len:
            # End of a sub-window: store its minimum, take the minimum over
            # the last U sub-windows. If a local minimum was found (the noise
            # rose) and lies between Pmin_u and noise_slope_max * Pmin_u,
            # accept it at once and overwrite the stored minima.
            if q_mean < 0.03:
                noise_slope_max = 8.0
            elif q_mean < 0.05:
                noise_slope_max = 4.0
            elif q_mean < 0.06:
                noise_slope_max = 2.0
            else:
                noise_slope_max = 1.2
            for k in range(n_freq):
                if k_mod[k]:
                    lmin_flag[k] = 0.0
                store[slot, k] = actmin[k]
                m = store[0, k]
                for u in range(1, n_sub):
                    if store[u, k] < m:
                        m = store[u, k]
                pmin_u[k] = m
                if (
                    lmin_flag[k] != 0.0
                    and actmin_sub[k] < noise_slope_max * pmin_u[k]
                    and actmin_sub[k] > pmin_u[k]
                ):
                    pmin_u[k] = actmin_sub[k]
                    for u in range(n_sub):
                        store[u, k] = actmin_sub[k]
                lmin_flag[k] = 0.0
                actmin[k] = big
                actmin_sub[k] = big
                sn2[k] = max(pmin_u[k], tiny)
            slot = (slot + 1) % n_sub
            subwc = 1
        else:
            if subwc > 1:
                for k in range(n_freq):
                    if k_mod[k]:
                        lmin_flag[k] = 1.0
                    s = min(actmin_sub[k], pmin_u[k])
                    pmin_u[k] = s
                    sn2[k] = max(s, tiny)
            subwc += 1

        if from_spec:
            for k in range(n_freq):
                spec[lam, k] *= _gain(ypow[k], sn2[k], oversubtraction, floor)
        else:
            for k in range(n_freq):
                noise_out[lam, k] = sn2[k]
    scalars[0] = alpha_c
    scalars[1] = subwc
    scalars[2] = slot


@njit(inline="always", error_model="numpy", fastmath=True)
def _gain(power, noise, oversubtraction, floor):  # pragma: no cover - compiled
    """G = sqrt(max(1 - oversubtraction * noise / |Y|^2, floor)), |Y|^2 floored at 1e-30."""
    g2 = 1.0 - oversubtraction * noise / max(power, TINY)
    if g2 < floor:
        g2 = floor
    return np.float32(np.sqrt(g2))


def minimum_statistics(
    power: np.ndarray,
    *,
    hop_length: int,
    sr: float,
    window_duration: float = WINDOW_DURATION,
    n_subwindows: int = N_SUBWINDOWS,
    alpha_max: float = ALPHA_MAX,
    alpha_min: float = ALPHA_MIN,
    beta_max: float = BETA_MAX,
    a_v: float = A_V,
) -> np.ndarray:
    """Noise PSD by Martin's minimum statistics.

    Parameters
    ----------
    power : ndarray of shape (n_freq, n_frames)
        Periodogram ``|Y(lambda, k)|^2`` of one recording (e.g. ``np.abs(stft)**2``),
        non-negative. Computed in float64 inside.
    hop_length : int
        STFT hop in samples (sets the frame period).
    sr : float
        Sample rate in Hz.
    window_duration : float, default=1.5
        Minimum-search window in seconds (Martin 2001: 96 frames of 16 ms).
        The noise estimate follows a rise of the noise level within about
        one window (plus one sub-window); it follows a fall at once.
    n_subwindows : int, default=8
        Number U of sub-windows of the search window (Martin 2001: U = 8).
        The window must give each sub-window at least 2 frames.
    alpha_max, alpha_min : float, default=0.96, 0.3
        Upper and lower limit of the smoothing parameter alpha(lambda, k).
    beta_max : float, default=0.8
        Upper limit of the smoothing parameter of the variance estimate.
    a_v : float, default=2.12
        Constant of the B_c correction.

    Returns
    -------
    noise_psd : ndarray of shape (n_freq, n_frames)
        float32 noise PSD estimate in the units of ``power``; >= 1e-30.

    Notes
    -----
    ``alpha_max``, ``beta_max`` and the 0.7 decay of alpha_c are Martin's
    values for a 16-ms frame shift; they are rescaled as ``c ** (hop / 16 ms)``
    so that the smoothing spans the same time at any hop. The search window is
    ``D = U * V`` frames with ``V = round(window_duration * sr / hop_length / U)``.
    With fewer frames than ``D`` (a short recording) the estimate is the
    bias-compensated minimum of the frames seen so far; the first frame's
    estimate is its own periodogram.

    Examples
    --------
    >>> import numpy as np, librosa
    >>> y = np.random.default_rng(0).normal(size=3 * 22050).astype(np.float32)
    >>> power = np.abs(librosa.stft(y, n_fft=512, hop_length=256)) ** 2
    >>> noise = minimum_statistics(power, hop_length=256, sr=22050)
    >>> noise.shape
    (257, 259)
    """
    power = np.asarray(power)
    if power.ndim != 2:
        raise SkascValueError(f"power must be 2-D (n_freq, n_frames); got shape {power.shape}.")
    if not np.all(np.isfinite(power)) or (power.size and power.min() < 0):
        raise SkascValueError("power must be finite and non-negative.")
    noise = _noise_psd_frames(
        np.ascontiguousarray(power.T),
        hop_length=hop_length,
        sr=sr,
        window_duration=window_duration,
        n_subwindows=n_subwindows,
        alpha_max=alpha_max,
        alpha_min=alpha_min,
        beta_max=beta_max,
        a_v=a_v,
    )
    return np.ascontiguousarray(noise.T, dtype=np.float32)


def _noise_psd_frames(
    power_tf: np.ndarray,
    *,
    hop_length: int,
    sr: float,
    window_duration: float,
    n_subwindows: int,
    alpha_max: float = ALPHA_MAX,
    alpha_min: float = ALPHA_MIN,
    beta_max: float = BETA_MAX,
    a_v: float = A_V,
) -> np.ndarray:
    """:func:`minimum_statistics` on a frames-first (n_frames, n_freq) array."""
    noise = np.zeros(power_tf.shape, dtype=np.float32)
    _run_tracker(
        power_tf.astype(np.float64, copy=False),
        np.zeros((0, 0), np.complex64),
        noise,
        hop_length=hop_length,
        sr=sr,
        window_duration=window_duration,
        n_subwindows=n_subwindows,
        alpha_max=alpha_max,
        alpha_min=alpha_min,
        beta_max=beta_max,
        a_v=a_v,
    )
    return noise


def _tracker_constants(
    *,
    hop_length,
    sr,
    window_duration,
    n_subwindows,
    alpha_max=ALPHA_MAX,
    alpha_min=ALPHA_MIN,
    beta_max=BETA_MAX,
    a_v=A_V,
    oversubtraction=0.0,
    floor=1.0,
) -> tuple:
    """The arguments of :func:`_track` after its state: the search window and the
    constants rescaled to the hop (one place for :func:`_run_tracker` and
    :class:`MinStatsStream`, whose results must agree bit for bit)."""
    n_sub, v_len = search_window(
        hop_length=hop_length, sr=sr, window_duration=window_duration, n_subwindows=n_subwindows
    )
    scale = (hop_length / sr) / _REFERENCE_HOP_S
    return (
        n_sub,
        v_len,
        _m_of_d(n_sub * v_len),
        _m_of_d(v_len),
        float(alpha_max) ** scale,
        float(alpha_min),
        float(beta_max) ** scale,
        ALPHA_C_DECAY**scale,
        float(a_v),
        float(oversubtraction),
        float(floor),
    )


def _run_tracker(
    power,
    spec,
    noise_out,
    *,
    hop_length,
    sr,
    window_duration,
    n_subwindows,
    alpha_max=ALPHA_MAX,
    alpha_min=ALPHA_MIN,
    beta_max=BETA_MAX,
    a_v=A_V,
    oversubtraction=0.0,
    floor=1.0,
) -> None:
    constants = _tracker_constants(
        hop_length=hop_length,
        sr=sr,
        window_duration=window_duration,
        n_subwindows=n_subwindows,
        alpha_max=alpha_max,
        alpha_min=alpha_min,
        beta_max=beta_max,
        a_v=a_v,
        oversubtraction=oversubtraction,
        floor=floor,
    )
    shape = spec.shape if spec.shape[0] else power.shape
    if shape[0] == 0 or shape[1] == 0:
        return
    _track(power, spec, noise_out, *_new_state(constants[0], shape[1]), *constants)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _apply_gain(stft, noise, oversubtraction, floor):  # pragma: no cover - compiled
    """Elementwise spectral subtraction on 1-D views (see spectral_subtraction)."""
    out = np.empty(stft.shape[0], dtype=np.complex64)
    for i in range(stft.shape[0]):
        z = stft[i]
        out[i] = (
            _gain(float(z.real) ** 2 + float(z.imag) ** 2, noise[i], oversubtraction, floor) * z
        )
    return out


def _check_framing(n_fft: int, hop_length: int) -> None:
    if not (
        isinstance(n_fft, numbers.Integral)
        and n_fft >= 2
        and isinstance(hop_length, numbers.Integral)
        and 1 <= hop_length <= n_fft
    ):
        raise SkascValueError(
            "n_fft must be an int >= 2 and hop_length an int in [1, n_fft]; "
            f"got n_fft={n_fft!r}, hop_length={hop_length!r}."
        )


def _check_subtraction(oversubtraction: float, floor: float) -> None:
    if not oversubtraction >= 0:
        raise SkascValueError(f"oversubtraction must be >= 0; got {oversubtraction!r}.")
    if not 0 <= floor <= 1:
        raise SkascValueError(f"floor must be in [0, 1]; got {floor!r}.")


def spectral_subtraction(
    stft: np.ndarray,
    noise_psd: np.ndarray,
    *,
    oversubtraction: float = OVERSUBTRACTION,
    floor: float = FLOOR,
) -> np.ndarray:
    """Power spectral subtraction with a spectral floor, keeping the noisy phase.

    The clean power is ``max(|Y|^2 - oversubtraction * noise_psd, floor * |Y|^2)``,
    i.e. each bin is multiplied by the real gain
    ``G = sqrt(max(1 - oversubtraction * noise_psd / |Y|^2, floor))``. The floor is
    relative to the noisy power ``|Y|^2`` (a gain floor): no bin is ever amplified,
    and where only noise remains it is attenuated by ``10 log10(floor)`` dB rather
    than zeroed, which avoids "musical noise". ``|Y|^2`` is floored at 1e-30
    before the division, so silent bins give 0, never NaN.

    Parameters
    ----------
    stft : ndarray of shape (n_freq, n_frames), complex
        Noisy STFT Y (any 2-D layout; the operation is elementwise).
    noise_psd : ndarray of shape (n_freq, n_frames)
        Noise PSD estimate in the units of ``|Y|^2`` (see :func:`minimum_statistics`).
    oversubtraction : float, default=2.0
        Factor on the noise PSD (Berouti et al. 1979), >= 0.
    floor : float, default=0.1
        Gain floor in [0, 1] as a fraction of ``|Y|^2`` (0.1 = -10 dB).

    Returns
    -------
    cleaned : ndarray of shape (n_freq, n_frames), complex64
        ``G * Y``.

    Examples
    --------
    >>> Y = np.array([[2.0 + 0j, 1.0 + 0j]])
    >>> out = spectral_subtraction(Y, np.array([[1.0, 1.0]]), oversubtraction=1.0)
    >>> np.abs(out).astype(float).round(4).tolist()  # sqrt(4 - 1), sqrt(0.1 * 1)
    [[1.7321, 0.3162]]
    """
    stft = np.asarray(stft)
    noise_psd = np.asarray(noise_psd)
    if stft.ndim != 2 or stft.shape != noise_psd.shape:
        raise SkascValueError(
            "stft and noise_psd must be 2-D arrays of the same shape; got "
            f"{stft.shape} and {noise_psd.shape}."
        )
    _check_subtraction(oversubtraction, floor)
    z = np.ascontiguousarray(stft, dtype=np.complex64)
    n = np.ascontiguousarray(noise_psd, dtype=np.float64)
    out = _apply_gain(z.ravel(), n.ravel(), float(oversubtraction), float(floor))
    return out.reshape(stft.shape)


def denoise(
    y: np.ndarray,
    *,
    sr: float,
    n_fft: int = 512,
    hop_length: int = 256,
    window_duration: float = WINDOW_DURATION,
    n_subwindows: int = N_SUBWINDOWS,
    oversubtraction: float = OVERSUBTRACTION,
    floor: float = FLOOR,
) -> np.ndarray:
    """Remove the background noise of one recording (the paper's auxiliary channel).

    Centred Hann-window STFT (as ``librosa.stft`` with ``pad_mode="constant"``)
    -> :func:`minimum_statistics` -> :func:`spectral_subtraction` -> inverse STFT
    (as ``librosa.istft(..., length=len(y))``).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Mono waveform, finite.
    sr : float
        Sample rate in Hz.
    n_fft : int, default=512
        FFT size (23 ms at 22050 Hz).
    hop_length : int, default=256
        Hop in samples (11.6 ms at 22050 Hz); at most ``n_fft``.
    window_duration : float, default=1.5
        Minimum-search window in seconds (see :func:`minimum_statistics`).
    n_subwindows : int, default=8
        Sub-windows of the search window.
    oversubtraction : float, default=2.0
        See :func:`spectral_subtraction`.
    floor : float, default=0.1
        Gain floor (power fraction of ``|Y|^2``), see :func:`spectral_subtraction`.

    Returns
    -------
    y_denoised : ndarray of shape (n_samples,), float32
        Same length as ``y``; all-zero input gives zeros.

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(scale=0.1, size=2 * 22050)
    >>> out = denoise(y, sr=22050)
    >>> out.shape, out.dtype
    ((44100,), dtype('float32'))
    >>> bool(np.sum(out ** 2) < np.sum(y ** 2))
    True
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise SkascValueError(f"y must be a 1-D waveform; got shape {y.shape}.")
    if y.size == 0:
        raise SkascValueError("y is empty.")
    if not np.all(np.isfinite(y)):
        raise SkascValueError("y contains NaN or inf samples.")
    _check_framing(n_fft, hop_length)
    _check_subtraction(oversubtraction, floor)
    window = hann(n_fft)
    # The last samples would be covered only by the tapering end of the last
    # frame, and the inverse STFT divides by that frame's tiny squared window
    # there, turning the (non-uniform) gain into a click (|y| = 15 at the end of
    # a 30-s recording at 22050 Hz). n_fft zeros appended give the end full
    # frame coverage; the tracker is causal, so earlier samples are unchanged.
    y_padded = np.concatenate([y, np.zeros(n_fft, np.float32)])
    # Samples near the float32 limit overflow the power spectrum; the result is
    # checked below instead of warning halfway.
    with np.errstate(over="ignore", invalid="ignore"):
        spec = centred_stft_frames(y_padded, n_fft, hop_length, window)  # (n_frames, n_freq)
        # track the noise and subtract it frame by frame, in place
        _run_tracker(
            np.zeros((0, 0)),
            spec,
            np.zeros((0, 0), np.float32),
            hop_length=hop_length,
            sr=sr,
            window_duration=window_duration,
            n_subwindows=n_subwindows,
            oversubtraction=oversubtraction,
            floor=floor,
        )
        out = centred_istft_frames(spec, n_fft, hop_length, window, len(y_padded))[: len(y)]
    if not np.all(np.isfinite(out)):
        raise SkascValueError(
            f"y has samples too large for float32 power spectra (max |y| = "
            f"{float(np.max(np.abs(y))):.3g}); scale the audio to [-1, 1]."
        )
    return out


class MinStatsStream:
    """:func:`denoise` block by block, for recordings too long to hold at once.

    The tracker's state, the STFT frames that straddle a block edge and the
    overlap-add tail are carried from one block to the next, so the samples
    :meth:`push` and :meth:`finish` return, concatenated, equal ``denoise(y)`` of
    the whole recording (the same frames go through the same kernels in the same
    order; tests check bit equality for blocks of 1 to 10**6 samples). Each
    call returns the samples that no later frame changes: about ``n_fft / 2``
    samples are held back until the next block or :meth:`finish`.

    Parameters
    ----------
    sr, n_fft, hop_length, window_duration, n_subwindows, oversubtraction, floor
        As for :func:`denoise`.

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(scale=0.1, size=5 * 22050).astype(np.float32)
    >>> stream = MinStatsStream(sr=22050)
    >>> parts = [stream.push(block) for block in np.array_split(y, 7)]
    >>> out = np.concatenate(parts + [stream.finish()])
    >>> bool(np.array_equal(out, denoise(y, sr=22050)))
    True
    """

    def __init__(
        self,
        *,
        sr: float,
        n_fft: int = 512,
        hop_length: int = 256,
        window_duration: float = WINDOW_DURATION,
        n_subwindows: int = N_SUBWINDOWS,
        oversubtraction: float = OVERSUBTRACTION,
        floor: float = FLOOR,
    ) -> None:
        _check_framing(n_fft, hop_length)
        _check_subtraction(oversubtraction, floor)
        self._constants = _tracker_constants(
            hop_length=hop_length,
            sr=sr,
            window_duration=window_duration,
            n_subwindows=n_subwindows,
            oversubtraction=oversubtraction,
            floor=floor,
        )
        self._state = _new_state(self._constants[0], n_fft // 2 + 1)
        self._n_fft, self._hop = int(n_fft), int(hop_length)
        self._window = hann(n_fft)
        self._pad = self._n_fft // 2
        self._raw = np.zeros(0, np.float32)  # input samples from self._raw_start on
        self._raw_start = 0
        self._acc = np.zeros(0, np.float32)  # overlap-add sums from self._acc_start on
        self._acc_start = 0
        self._n_in = 0  # input samples pushed so far
        self._n_out = 0  # samples returned so far
        self._next_frame = 0  # first STFT frame not yet computed
        self._finished = False

    def push(self, block: np.ndarray) -> np.ndarray:
        """Take the next samples; return the denoised samples now final.

        Parameters
        ----------
        block : ndarray of shape (n_samples,)
            The recording's next samples (mono, finite, any length).

        Returns
        -------
        y_denoised : ndarray of shape (n_final,), float32
            The next denoised samples of the recording, in order.
        """
        if self._finished:
            raise SkascValueError("MinStatsStream.push was called after finish().")
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 1:
            raise SkascValueError(f"block must be a 1-D waveform; got shape {block.shape}.")
        if not np.all(np.isfinite(block)):
            raise SkascValueError(
                f"block (samples {self._n_in} to {self._n_in + block.size}) contains NaN "
                "or inf samples."
            )
        self._raw = np.concatenate([self._raw, block])
        self._n_in += block.size
        # frames wholly inside the samples received so far
        n_frames = max(0, (self._n_in + self._pad - self._n_fft) // self._hop + 1)
        return self._advance(n_frames, final_end=n_frames * self._hop - self._pad)

    def finish(self) -> np.ndarray:
        """Flush the held-back samples at the end of the recording.

        Returns
        -------
        y_denoised : ndarray of shape (n_rest,), float32
            The last samples; all pushed samples have then been returned once.
        """
        if self._finished:
            return np.zeros(0, np.float32)
        self._finished = True
        if self._n_in == 0:
            raise SkascValueError("MinStatsStream got no samples before finish().")
        # denoise() appends n_fft zeros: its frames are those of that padded signal
        n_frames = 1 + (self._n_in + self._n_fft) // self._hop
        return self._advance(n_frames, final_end=self._n_in)

    def _advance(self, n_frames: int, final_end: int) -> np.ndarray:
        """Compute frames up to ``n_frames`` and return samples before ``final_end``."""
        hop, pad, n_fft, window = self._hop, self._pad, self._n_fft, self._window
        t0 = self._next_frame
        if n_frames > t0:
            # frames t0.. read the raw samples; _raw starts at a multiple of the hop
            # (or at 0), so frame t's first sample is at (t - m) * hop - pad in _raw
            m = self._raw_start // hop
            with np.errstate(over="ignore", invalid="ignore"):
                spec = stft_frame_range(self._raw, window, hop, t0 - m, n_frames - m)
                _track(
                    np.zeros((0, 0)),
                    spec,
                    np.zeros((0, 0), np.float32),
                    *self._state,
                    *self._constants,
                )
            # the overlap-add buffer must reach the last sample the new frames touch
            end = (n_frames - 1) * hop - pad + n_fft
            grow = end - (self._acc_start + self._acc.size)
            if grow > 0:
                self._acc = np.concatenate([self._acc, np.zeros(grow, np.float32)])
            overlap_add_spec(self._acc, spec, window, hop, t0, self._acc_start + pad)
            self._next_frame = n_frames
            # keep the raw samples the next frame needs, from a multiple of the hop
            keep = max(0, n_frames * hop - pad) // hop * hop
            if keep > self._raw_start:
                self._raw = self._raw[keep - self._raw_start :]
                self._raw_start = keep
        final_end = min(final_end, self._n_in)
        n_ready = max(0, final_end - self._acc_start)
        out = self._acc[:n_ready].copy()
        normalise_overlap_add(out, window, hop, self._next_frame, self._acc_start + pad)
        self._acc = self._acc[n_ready:]
        self._acc_start += n_ready
        self._n_out += n_ready
        if not np.all(np.isfinite(out)):
            raise SkascValueError(
                "the recording has samples too large for float32 power spectra near "
                f"sample {self._n_out - n_ready}; scale the audio to [-1, 1]."
            )
        return out
