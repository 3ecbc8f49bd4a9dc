"""Tests of skasc.dsp.minstats: Martin's minimum-statistics tracker and subtraction."""

import librosa
import numpy as np
import pytest
import scipy.signal

from skasc.dsp.minstats import denoise, minimum_statistics, search_window, spectral_subtraction
from skasc.dsp.spectrogram import centred_istft_frames, centred_stft_frames, hann

SR = 8000
N_FFT = 256
HOP = 128


def _stft(y):
    return librosa.stft(
        y, n_fft=N_FFT, hop_length=HOP, window="hann", center=True, pad_mode="constant"
    )


def _bursts(n, sr, rng, *, duty=0.15, burst_s=0.25, amp=0.5):
    """Sparse tone bursts (Hann-shaped), covering about ``duty`` of the time."""
    t = np.arange(n) / sr
    fg = np.zeros(n, dtype=np.float64)
    mask = np.zeros(n, dtype=bool)
    period = burst_s / duty
    for start in np.arange(0.3, n / sr - burst_s, period):
        m = (t >= start) & (t < start + burst_s)
        f0 = rng.uniform(300, 0.4 * sr)
        fg[m] += amp * np.sin(2 * np.pi * f0 * t[m]) * np.hanning(m.sum())
        mask |= m
    return fg.astype(np.float32), mask


def _coloured_noise(n, rng, scale):
    # first-order low-pass AR(1): a known, strongly coloured spectrum
    white = rng.normal(scale=scale, size=n)
    return scipy.signal.lfilter([1.0], [1.0, -0.8], white).astype(np.float32)


# --- STFT helpers match librosa -----------------------------------------------


@pytest.mark.parametrize("n", [1, 100, 1000, 8000 * 3 + 17])
def test_stft_matches_librosa(rng, n):
    y = rng.normal(size=n).astype(np.float32)
    ours = centred_stft_frames(y, N_FFT, HOP, hann(N_FFT))
    with pytest.warns(UserWarning) if n < N_FFT else _nullcontext():
        ref = _stft(y)
    assert ours.T.shape == ref.shape
    np.testing.assert_allclose(ours.T, ref, atol=2e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("n", [1000, 8000 * 3 + 17])
def test_istft_matches_librosa(rng, n):
    y = rng.normal(size=n).astype(np.float32)
    spec = centred_stft_frames(y, N_FFT, HOP, hann(N_FFT))
    spec = spec * rng.uniform(0, 1, size=spec.shape).astype(np.float32)  # not a plain inverse
    ours = centred_istft_frames(spec, N_FFT, HOP, hann(N_FFT), n)
    ref = librosa.istft(spec.T, n_fft=N_FFT, hop_length=HOP, window="hann", length=n)
    assert ours.shape == (n,) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-5)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- minimum_statistics ------------------------------------------------------------


@pytest.mark.parametrize("colour", ["white", "ar1"])
def test_noise_psd_tracks_true_psd_despite_bursts(rng, colour):
    n = 20 * SR
    noise = (
        rng.normal(scale=0.05, size=n).astype(np.float32)
        if colour == "white"
        else _coloured_noise(n, rng, 0.02)
    )
    fg, mask = _bursts(n, SR, rng)
    assert mask.mean() < 0.2
    Y = _stft(noise + fg)
    est = minimum_statistics(np.abs(Y) ** 2, hop_length=HOP, sr=SR)
    assert est.shape == Y.shape and est.dtype == np.float32
    # independent truth: the noise component's own periodogram, averaged over time
    true = np.mean(np.abs(_stft(noise)) ** 2, axis=1)
    if colour == "white":  # and the analytic value sigma^2 * sum(w^2)
        analytic = 0.05**2 * np.sum(hann(N_FFT).astype(np.float64) ** 2)
        np.testing.assert_allclose(np.median(true[1:-1]), analytic, rtol=0.05)
    d_frames = int(1.5 * SR / HOP)
    bands = slice(2, -2)  # DC/Nyquist bins are chi^2 with 1 d.o.f.
    ratio_db = 10 * np.log10(np.median(est[bands, d_frames:], axis=1) / true[bands])
    assert abs(ratio_db.mean()) < 3.0
    assert np.mean(np.abs(ratio_db) < 3.0) > 0.9
    # not pulled up by the bursts: frames inside bursts, in the bins they occupy
    frames = np.arange(Y.shape[1]) * HOP
    in_burst = mask[np.minimum(frames, n - 1)] & (np.arange(Y.shape[1]) >= d_frames)
    fg_power = np.abs(_stft(fg)) ** 2
    loud = fg_power[:, in_burst] > 10 * true[:, None]
    rows = np.nonzero(loud)[0]
    during = est[:, in_burst][loud] / true[rows]
    assert loud.sum() > 100
    assert 10 * np.log10(np.median(during)) < 3.0


@pytest.mark.parametrize("direction", ["up", "down"])
def test_step_in_noise_level_is_tracked_within_window(rng, direction):
    n = 14 * SR
    low, high = 0.01, 0.1  # 20 dB step at t = 7 s
    first, second = (low, high) if direction == "up" else (high, low)
    scale = np.where(np.arange(n) < 7 * SR, first, second)
    y = (rng.normal(size=n) * scale).astype(np.float32)
    est = minimum_statistics(np.abs(_stft(y)) ** 2, hop_length=HOP, sr=SR, window_duration=1.5)
    t = np.arange(est.shape[1]) * HOP / SR
    wss = np.sum(hann(N_FFT).astype(np.float64) ** 2)
    err_db = 10 * np.log10(np.median(est[2:-2], axis=0) / (second**2 * wss))
    settled = t >= 7 + 1.5 + 0.75  # window + slack (one sub-window is ~0.2 s)
    assert np.all(np.abs(err_db[settled]) < 3.0)
    before = (t > 3) & (t < 6.9)
    err_before = 10 * np.log10(np.median(est[2:-2], axis=0)[before] / (first**2 * wss))
    assert np.all(np.abs(err_before) < 3.0)
    if direction == "up":  # a rise takes about a window: still low just after the step
        assert np.all(err_db[(t > 7.2) & (t < 8.0)] < -10)


def test_longer_window_tracks_rise_later(rng):
    n = 14 * SR
    scale = np.where(np.arange(n) < 5 * SR, 0.01, 0.1)
    power = np.abs(_stft((rng.normal(size=n) * scale).astype(np.float32))) ** 2
    t = np.arange(power.shape[1]) * HOP / SR

    def settle_time(window):
        est = minimum_statistics(power, hop_length=HOP, sr=SR, window_duration=window)
        level = np.median(est[2:-2], axis=0)
        return t[np.argmax((t > 5) & (level > 0.5 * 0.1**2 * 96))]

    assert settle_time(1.0) < settle_time(3.0) < 5 + 3.0 + 0.75


def test_minimum_statistics_silence_and_short_inputs():
    zeros = np.zeros((129, 50))
    est = minimum_statistics(zeros, hop_length=HOP, sr=SR)
    assert np.all(np.isfinite(est)) and est.max() <= 1e-29
    one = minimum_statistics(np.ones((129, 1)), hop_length=HOP, sr=SR)  # shorter than D
    np.testing.assert_allclose(one, 1.0)
    assert minimum_statistics(np.zeros((129, 0)), hop_length=HOP, sr=SR).shape == (129, 0)


def test_minimum_statistics_stationary_constant_input():
    # a constant periodogram has no variance: no bias compensation, estimate = input
    est = minimum_statistics(np.full((5, 400), 2.0), hop_length=HOP, sr=SR)
    np.testing.assert_allclose(est, 2.0, rtol=1e-6)


@pytest.mark.parametrize(
    "power, match",
    [
        (np.ones(10), "must be 2-D"),
        (-np.ones((3, 10)), "finite and non-negative"),
        (np.full((3, 10), np.nan), "finite and non-negative"),
    ],
)
def test_minimum_statistics_errors(power, match):
    with pytest.raises(ValueError, match=match):
        minimum_statistics(power, hop_length=HOP, sr=SR)


def test_search_window_layout_and_errors():
    assert search_window(hop_length=256, sr=22050) == (8, 16)
    assert search_window(hop_length=128, sr=8000, window_duration=1.5) == (8, 12)
    with pytest.raises(ValueError, match="fewer than 2 frames"):
        search_window(hop_length=256, sr=22050, window_duration=0.1)
    with pytest.raises(ValueError, match="n_subwindows must be an int >= 2"):
        search_window(hop_length=256, sr=22050, n_subwindows=1)
    with pytest.raises(ValueError, match="must be positive"):
        search_window(hop_length=0, sr=22050)


# --- spectral_subtraction -------------------------------------------------------------


def test_spectral_subtraction_matches_formula_and_keeps_phase(rng):
    Y = (rng.normal(size=(33, 40)) + 1j * rng.normal(size=(33, 40))).astype(np.complex64)
    noise = rng.uniform(0.1, 3.0, size=Y.shape)
    out = spectral_subtraction(Y, noise, oversubtraction=1.5, floor=0.2)
    power = np.abs(Y.astype(np.complex128)) ** 2
    expected_power = np.maximum(power - 1.5 * noise, 0.2 * power)
    assert out.dtype == np.complex64 and out.shape == Y.shape
    np.testing.assert_allclose(np.abs(out) ** 2, expected_power, rtol=1e-4)
    np.testing.assert_allclose(np.angle(out), np.angle(Y), atol=1e-5)
    assert np.all(np.abs(out) <= np.abs(Y) * (1 + 1e-6))  # never amplifies


def test_spectral_subtraction_silence_is_finite():
    out = spectral_subtraction(np.zeros((4, 3), np.complex64), np.full((4, 3), 1e-30))
    assert np.all(np.isfinite(out)) and not np.any(out)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(oversubtraction=-1.0), "oversubtraction must be >= 0"),
        (dict(floor=1.5), r"floor must be in \[0, 1\]"),
    ],
)
def test_spectral_subtraction_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spectral_subtraction(np.ones((2, 2)), np.ones((2, 2)), **kwargs)
    with pytest.raises(ValueError, match="same shape"):
        spectral_subtraction(np.ones((2, 2)), np.ones((2, 3)))


# --- denoise -----------------------------------------------------------------------------


def test_denoise_improves_snr_and_preserves_foreground(rng):
    n = 20 * SR
    noise = _coloured_noise(n, rng, 0.02)
    fg, mask = _bursts(n, SR, rng)
    out = denoise(noise + fg, sr=SR, n_fft=N_FFT, hop_length=HOP)
    assert out.shape == (n,) and out.dtype == np.float32
    settled = np.arange(n) >= 2 * SR
    snr_in = 10 * np.log10(np.sum(fg[settled] ** 2) / np.sum(noise[settled] ** 2))
    snr_out = 10 * np.log10(np.sum(fg[settled] ** 2) / np.sum((out - fg)[settled] ** 2))
    assert snr_out - snr_in > 4.0
    # noise-only stretches lose several dB of energy ...
    quiet = settled & ~mask
    assert 10 * np.log10(np.sum(out[quiet] ** 2) / np.sum(noise[quiet] ** 2)) < -5.0
    # ... while the bursts keep their energy (within 1.5 dB)
    loud = settled & mask
    kept = 10 * np.log10(np.sum(out[loud] ** 2) / np.sum(fg[loud] ** 2))
    assert abs(kept) < 1.5


def test_denoise_zero_and_short_inputs():
    out = denoise(np.zeros(3000), sr=SR, n_fft=N_FFT, hop_length=HOP)
    assert out.dtype == np.float32 and np.all(out == 0)
    for n in (1, 50, 300):  # shorter than one frame / than the search window
        out = denoise(np.ones(n), sr=SR, n_fft=N_FFT, hop_length=HOP)
        assert out.shape == (n,) and np.all(np.isfinite(out))


def test_denoise_matches_pipeline_of_public_functions(rng):
    # the fast path equals librosa STFT -> minimum_statistics -> subtraction -> istft
    n = 5 * SR
    y = (rng.normal(scale=0.05, size=n) + _bursts(n, SR, rng)[0]).astype(np.float32)
    Y = _stft(y)
    noise = minimum_statistics(np.abs(Y) ** 2, hop_length=HOP, sr=SR)
    ref = librosa.istft(
        spectral_subtraction(Y, noise), n_fft=N_FFT, hop_length=HOP, window="hann", length=n
    )
    out = denoise(y, sr=SR, n_fft=N_FFT, hop_length=HOP)
    # The last n_fft samples differ on purpose: denoise() pads the end so the inverse
    # STFT never divides by the window's vanishing tail (no click at the end).
    np.testing.assert_allclose(out[:-N_FFT], ref[:-N_FFT], atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        (np.zeros((2, 100)), {}, "1-D waveform"),
        (np.zeros(0), {}, "empty"),
        (np.array([0.0, np.nan]), {}, "NaN or inf"),
        (np.zeros(100), dict(hop_length=512), r"hop_length an int in \[1, n_fft\]"),
        (np.zeros(100), dict(floor=-0.1), r"floor must be in \[0, 1\]"),
        (np.zeros(100), dict(oversubtraction=-2.0), "oversubtraction must be >= 0"),
        (np.zeros(100), dict(window_duration=0.05), "fewer than 2 frames"),
    ],
)
def test_denoise_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        denoise(y, sr=SR, n_fft=N_FFT, hop_length=kwargs.pop("hop_length", HOP), **kwargs)
