"""Tests of skasc.frontend.denoise.MinStatsDenoiser (the auxiliary, noise-subtracted channel)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from skasc.dsp.minstats import denoise
from skasc.frontend.denoise import MinStatsDenoiser

SR = 4000
PARAMS = dict(sr=SR, n_fft=128, hop_length=64)


def _noisy(rng, seconds, sr=SR):
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = rng.normal(scale=0.05, size=n)
    y += 0.5 * np.sin(2 * np.pi * 440 * t) * ((t % 4) < 0.5)  # 0.5-s bursts every 4 s
    return y.astype(np.float32)


def test_dense_batch_shapes_and_channels(rng):
    X = np.stack([_noisy(rng, 6), _noisy(rng, 6)])
    Xt = MinStatsDenoiser(**PARAMS).transform(X)  # stateless: no fit needed
    assert Xt.shape == (2, 2, X.shape[1]) and Xt.dtype == np.float32
    np.testing.assert_array_equal(Xt[:, 0], X)
    for i in range(2):
        np.testing.assert_array_equal(Xt[i, 1], denoise(X[i], **PARAMS))
    # the auxiliary channel has less energy (the noise is gone)
    assert np.all(np.sum(Xt[:, 1] ** 2, axis=1) < 0.7 * np.sum(X**2, axis=1))


def test_float64_input_channel0_is_float32_copy(rng):
    X = rng.normal(size=(1, 3000))
    Xt = MinStatsDenoiser(**PARAMS).fit_transform(X)
    np.testing.assert_array_equal(Xt[:, 0], X.astype(np.float32))


def test_ragged_batch_10s_and_30s(rng):
    X = np.empty(2, dtype=object)
    X[0], X[1] = _noisy(rng, 10), _noisy(rng, 30)
    Xt = MinStatsDenoiser(**PARAMS).transform(X)
    assert Xt.dtype == object and Xt.shape == (2,)
    for rec, out in zip(X, Xt):
        assert out.shape == (2, len(rec)) and out.dtype == np.float32
        np.testing.assert_array_equal(out[0], rec)
        np.testing.assert_array_equal(out[1], denoise(rec, **PARAMS))
    # recordings are denoised independently: the 10-s one alone gives the same channel
    alone = MinStatsDenoiser(**PARAMS).transform(X[0][np.newaxis])
    np.testing.assert_array_equal(alone[0], Xt[0])


def test_list_input_and_n_jobs_agree(rng):
    recs = [_noisy(rng, 3), _noisy(rng, 4), _noisy(rng, 3)]
    seq = MinStatsDenoiser(**PARAMS).transform(recs)
    par = MinStatsDenoiser(**PARAMS, n_jobs=2).transform(recs)
    assert seq.dtype == object and len(seq) == 3
    for a, b in zip(seq, par):
        np.testing.assert_array_equal(a, b)


def test_all_zero_and_short_recordings_are_finite():
    Xt = MinStatsDenoiser(**PARAMS).transform(np.zeros((2, 5000)))
    assert np.all(np.isfinite(Xt)) and not np.any(Xt)
    short = MinStatsDenoiser(**PARAMS).transform(np.ones((1, 10)))  # < search window
    assert short.shape == (1, 2, 10) and np.all(np.isfinite(short))


def test_stateless_tags_clone_and_pickle(rng):
    est = MinStatsDenoiser(**PARAMS, floor=0.2, oversubtraction=1.0)
    assert est.__sklearn_tags__().requires_fit is False
    assert est.fit(None) is est
    assert not [k for k in vars(est) if k.endswith("_")]  # no fitted state
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    X = _noisy(rng, 4)[np.newaxis]
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))
    # the parameters matter: a stronger floor keeps more of the noise
    weaker = clone(est).set_params(floor=0.9).transform(X)
    assert np.sum(weaker[0, 1] ** 2) > np.sum(est.transform(X)[0, 1] ** 2)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (
            np.zeros((2, 3, 100)),
            ValueError,
            r"^MinStatsDenoiser got an array of shape \(2, 3, 100\); expected a batch of "
            r"recordings of shape \(n_samples,\) \(mono\) each",
        ),
        (np.zeros(100), ValueError, r"shape \(100,\).*Pass one recording as X\[np.newaxis\]"),
        (np.zeros((0, 100)), ValueError, r"MinStatsDenoiser got no recordings \(X is empty\)"),
        (
            [np.zeros(100), np.zeros((2, 100))],
            ValueError,
            r"^Recording 1 has shape \(2, 100\); MinStatsDenoiser expected \(n_samples,\)",
        ),
        ([np.zeros(100), np.zeros(0)], ValueError, "Recording 1 is empty"),
        (
            [np.zeros(100), np.zeros(100), np.array([0.0, np.inf])],
            ValueError,
            "Recording 2 contains NaN or inf samples",
        ),
        (np.array([[0.0, np.nan]]), ValueError, "Recording 0 contains NaN or inf samples"),
        ([["a", "b"]], TypeError, r"^Recording 0 has dtype <U1; MinStatsDenoiser expected a real"),
    ],
)
def test_data_errors(X, error, match):
    with pytest.raises(error, match=match):
        MinStatsDenoiser(**PARAMS).transform(X)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (
            dict(n_subwindows=1),
            ValueError,
            r"The 'n_subwindows' parameter of MinStatsDenoiser must be an int "
            r"in the range \[2, inf\)",
        ),
        (
            dict(window_duration=0.1),
            ValueError,
            "The 'window_duration' parameter of MinStatsDenoiser must cover at least 2 STFT",
        ),
        (dict(window_duration=0.0), ValueError, r"'window_duration' parameter .* range \(0, inf\)"),
        (dict(hop_length=256), ValueError, r"'hop_length' parameter .* range \[1, 128\]"),
        (dict(floor=1.5), ValueError, r"'floor' parameter .* range \[0, 1\]"),
        (dict(oversubtraction=-1), ValueError, r"'oversubtraction' parameter .* \[0, inf\)"),
        (dict(sr="22050"), TypeError, "The 'sr' parameter of MinStatsDenoiser must be a float"),
        (dict(n_fft=128.0), TypeError, "The 'n_fft' parameter of MinStatsDenoiser must be an int"),
        (dict(n_jobs="2"), TypeError, "The 'n_jobs' parameter"),
    ],
)
def test_param_errors_in_fit_and_transform(params, error, match):
    est = MinStatsDenoiser(**{**PARAMS, **params})
    with pytest.raises(error, match=match):
        est.fit(np.zeros((1, 100)))
    with pytest.raises(error, match=match):  # also after set_params, without fit
        MinStatsDenoiser(**PARAMS).set_params(**params).transform(np.zeros((1, 100)))


def test_real_recording_smoke(tut_samples):
    import soundfile as sf
    import soxr

    y, sr = sf.read(tut_samples[0], dtype="float32", frames=48000 * 4)
    y = soxr.resample(y.mean(axis=1) if y.ndim == 2 else y, sr, 22050)
    Xt = MinStatsDenoiser().transform(y[np.newaxis])
    assert Xt.shape == (1, 2, len(y)) and np.all(np.isfinite(Xt))
    assert np.sum(Xt[0, 1] ** 2) < np.sum(Xt[0, 0] ** 2)


def test_window_must_cover_two_frames_per_subwindow(rng):
    X = _noisy(rng, 2)[np.newaxis]
    shortest = 2 * 8 * 64 / SR  # 16 frames of 64 samples at 4 kHz = 0.256 s
    Xt = MinStatsDenoiser(**PARAMS, window_duration=shortest).transform(X)
    assert Xt.shape == (1, 2, X.shape[1])
    with pytest.raises(ValueError, match=r"must cover at least 2 STFT frames.*>= 0\.256 s"):
        MinStatsDenoiser(**PARAMS, window_duration=0.25).fit(X)
    MinStatsDenoiser(**PARAMS, window_duration=0.25, n_subwindows=7).fit(X)  # fewer U: fine
