import numpy as np
import pytest
import scipy.signal

from skasc.dsp.gammatone import (
    erb_bandwidth,
    erb_rate_to_hz,
    gammatone_center_frequencies,
    gammatone_weights,
    hz_to_erb_rate,
)

SR, N_FFT = 22050, 1102


def test_erb_formula_known_values():
    # Glasberg & Moore (1990): ERB(1 kHz) = 24.7 * 5.37 = 132.639 Hz.
    assert erb_bandwidth(1000.0) == pytest.approx(132.639)
    assert erb_bandwidth(0.0) == pytest.approx(24.7)
    assert hz_to_erb_rate(0.0) == pytest.approx(0.0)
    assert hz_to_erb_rate(1000.0) == pytest.approx(21.4 * np.log10(5.37))
    # d(ERB-rate)/df = 1 / ERB(f): one ERB step at any frequency (to the 0.3 %
    # that the rounded constant 21.4 allows).
    f = np.array([100.0, 1000.0, 5000.0])
    df = 1e-3
    slope = (hz_to_erb_rate(f + df) - hz_to_erb_rate(f - df)) / (2 * df)
    np.testing.assert_allclose(slope, 1.0 / erb_bandwidth(f), rtol=5e-3)


def test_erb_rate_round_trip(rng):
    f = rng.uniform(0, 20000, 50)
    np.testing.assert_allclose(erb_rate_to_hz(hz_to_erb_rate(f)), f, rtol=1e-10, atol=1e-9)


def test_center_frequencies_erb_spaced_inside_range():
    fc = gammatone_center_frequencies(n_bands=64, fmin=50.0, fmax=SR / 2)
    assert fc.shape == (64,)
    assert 50.0 < fc[0] and fc[-1] < SR / 2
    e = hz_to_erb_rate(fc)
    steps = np.diff(e)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    # fmin/fmax are edges one ERB-rate step outside the outer centres.
    assert hz_to_erb_rate(50.0) == pytest.approx(e[0] - steps[0])
    assert hz_to_erb_rate(SR / 2) == pytest.approx(e[-1] + steps[0])
    with pytest.raises(ValueError, match="n_bands must be >= 1"):
        gammatone_center_frequencies(n_bands=0, fmin=50.0, fmax=1000.0)
    with pytest.raises(ValueError, match="Need 0 <= fmin < fmax"):
        gammatone_center_frequencies(n_bands=4, fmin=1000.0, fmax=1000.0)


def test_weights_shape_normalisation_cache():
    w = gammatone_weights(sr=SR, n_fft=N_FFT)
    assert w.shape == (64, N_FFT // 2 + 1) and w.dtype == np.float32
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    assert not w.flags.writeable
    assert gammatone_weights(sr=SR, n_fft=N_FFT) is w
    assert gammatone_weights(sr=SR, n_fft=N_FFT, fmax=8000.0) is not w
    with pytest.raises(ValueError, match="fmax must be <= sr / 2"):
        gammatone_weights(sr=SR, n_fft=N_FFT, fmax=12000.0)
    with pytest.raises(ValueError, match="order must be >= 1"):
        gammatone_weights(sr=SR, n_fft=N_FFT, order=0)


def test_rows_peak_at_bin_nearest_center():
    w = gammatone_weights(sr=SR, n_fft=N_FFT)
    fc = gammatone_center_frequencies(n_bands=64, fmin=50.0, fmax=SR / 2)
    freqs = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    nearest = np.argmin(np.abs(freqs[None, :] - fc[:, None]), axis=1)
    np.testing.assert_array_equal(np.argmax(w, axis=1), nearest)


def _db_peak(p):
    return 10 * np.log10(p / p.max())


def _row_for(fc, n_bands=64):
    """Row of a one-band bank centred on fc (fmin/fmax chosen around fc)."""
    e = hz_to_erb_rate(fc)
    w = gammatone_weights(
        sr=SR,
        n_fft=N_FFT,
        n_bands=1,
        fmin=float(erb_rate_to_hz(e - 1)),
        fmax=float(erb_rate_to_hz(e + 1)),
    )
    assert gammatone_center_frequencies(
        n_bands=1, fmin=float(erb_rate_to_hz(e - 1)), fmax=float(erb_rate_to_hz(e + 1))
    )[0] == pytest.approx(fc)
    return w[0].astype(np.float64)


@pytest.mark.parametrize("fc", [800.0, 2000.0, 5000.0])
def test_response_matches_sampled_impulse_response(fc):
    # Independent: DTFT of the sampled 4th-order gammatone impulse response
    # t^3 exp(-2 pi b t) cos(2 pi fc t), b = 1.019 ERB(fc), at the FFT bins.
    b = 1.019 * 24.7 * (4.37 * fc / 1000 + 1)
    t = np.arange(int(0.1 * SR)) / SR
    h = t**3 * np.exp(-2 * np.pi * b * t) * np.cos(2 * np.pi * fc * t)
    freqs = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    H = np.exp(-2j * np.pi * freqs[:, None] * np.arange(t.size)[None, :] / SR) @ h
    ref = _db_peak(np.abs(H) ** 2)
    ours = _db_peak(_row_for(fc))
    band = ref > -20
    assert band.sum() >= 5
    np.testing.assert_allclose(ours[band], ref[band], atol=0.1)


@pytest.mark.parametrize("fc", [1000.0, 3000.0])
def test_response_matches_scipy_fir_gammatone(fc):
    taps, _ = scipy.signal.gammatone(fc, "fir", fs=SR)
    freqs = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    _, H = scipy.signal.freqz(taps, worN=freqs, fs=SR)
    ref = _db_peak(np.abs(H) ** 2)
    ours = _db_peak(_row_for(fc))
    band = ref > -20
    np.testing.assert_allclose(ours[band], ref[band], atol=0.1)
