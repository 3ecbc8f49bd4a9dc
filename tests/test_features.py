import pickle

import librosa
import numpy as np
import pytest
from sklearn.base import clone

from skasc.dsp.gammatone import gammatone_weights
from skasc.frontend.features import GammatoneExtractor, LogMelExtractor

SR = 22050
EXTRACTORS = [LogMelExtractor, GammatoneExtractor]


def _segments(rng, n_rec=2, n_seg=2, n_ch=2, n=2 * SR):
    return (0.1 * rng.standard_normal((n_rec, n_seg, n_ch, n))).astype(np.float32)


def _librosa_logmel(seg, **mel):
    """Independent reference: librosa on the end-padded segment, center=False."""
    padded = np.pad(seg, [(0, 0)] * (seg.ndim - 1) + [(0, 1102 - 551)])
    S = librosa.feature.melspectrogram(
        y=padded,
        sr=SR,
        n_fft=1102,
        hop_length=551,
        win_length=1102,
        window="hann",
        center=False,
        power=2.0,
        **mel,
    )
    return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)


@pytest.mark.parametrize("cls", EXTRACTORS)
def test_shape_is_64_by_80_for_two_seconds(cls, rng):
    X = _segments(rng)
    out = cls().transform(X)
    assert out.shape == (2, 2, 2, 64, 80) and out.dtype == np.float32
    assert cls().n_frames(2 * SR) == 80
    assert cls(overlap=0.0).n_frames(2 * SR) == 40  # 44100 // 1102


def test_logmel_equals_librosa(rng):
    X = _segments(rng)
    out = LogMelExtractor().transform(X)
    ref = _librosa_logmel(X, n_mels=64, fmin=50.0, fmax=SR / 2)
    np.testing.assert_allclose(out, ref, atol=2e-3)


def test_logmel_params_are_passed_to_the_filters(rng):
    X = _segments(rng, n_rec=1, n_seg=1, n_ch=1)
    out = LogMelExtractor(n_mels=40, fmin=100.0, fmax=8000.0).transform(X)
    ref = _librosa_logmel(X, n_mels=40, fmin=100.0, fmax=8000.0)
    assert out.shape == (1, 1, 1, 40, 80)
    np.testing.assert_allclose(out, ref, atol=2e-3)


def test_gammatone_equals_direct_numpy(rng):
    X = _segments(rng, n_rec=1, n_seg=2, n_ch=2)
    out = GammatoneExtractor().transform(X)
    n_fft, hop = 1102, 551
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    W = gammatone_weights(sr=SR, n_fft=n_fft).astype(np.float64)
    padded = np.concatenate([X.astype(np.float64), np.zeros(X.shape[:3] + (n_fft - hop,))], axis=-1)
    idx = np.arange(80)[:, None] * hop + np.arange(n_fft)[None, :]
    frames = padded[..., idx] * window  # (1, 2, 2, 80, n_fft)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    ref = 10 * np.log10(np.maximum(np.einsum("mk,...tk->...mt", W, power), 1e-10))
    np.testing.assert_allclose(out, ref, atol=2e-3)


@pytest.mark.parametrize("cls", EXTRACTORS)
def test_silence_gives_finite_floor(cls):
    out = cls().transform(np.zeros((1, 2, 2, 2 * SR), dtype=np.float32))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, -100.0, atol=1e-4)
    out = cls(log_floor=1e-6).transform(np.zeros((1, 1, 1, 2 * SR)))
    np.testing.assert_allclose(out, -60.0, atol=1e-4)


@pytest.mark.parametrize("cls", EXTRACTORS)
def test_segments_are_independent(cls, rng):
    X = _segments(rng, n_rec=1)
    Y = X.copy()
    Y[0, 1] *= 100.0  # louder second segment must not change the first one
    a, b = cls().transform(X), cls().transform(Y)
    np.testing.assert_array_equal(a[0, 0], b[0, 0])
    assert not np.allclose(a[0, 1], b[0, 1])


@pytest.mark.parametrize("cls", EXTRACTORS)
def test_ragged_and_list_inputs(cls, rng):
    a = _segments(rng, n_rec=1, n_seg=3)[0]
    b = _segments(rng, n_rec=1, n_seg=1)[0]
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = a, b
    est = cls()
    out = est.transform(ragged)
    assert out.dtype == object and out.shape == (2,)
    assert out[0].shape == (3, 2, 64, 80) and out[1].shape == (1, 2, 64, 80)
    np.testing.assert_array_equal(out[0], est.transform(a[None])[0])
    np.testing.assert_array_equal(out[1], est.transform(b[None])[0])
    dense_from_list = est.transform([a, a])
    assert dense_from_list.shape == (2, 3, 2, 64, 80)
    np.testing.assert_array_equal(dense_from_list[1], out[0])


def test_float64_and_int_input_accepted(rng):
    X = _segments(rng, n_rec=1, n_seg=1, n_ch=1)
    est = LogMelExtractor()
    np.testing.assert_allclose(est.transform(X.astype(np.float64)), est.transform(X), atol=1e-4)
    assert est.transform((X * 1000).astype(np.int16)).dtype == np.float32


@pytest.mark.parametrize(
    "params, exc, match",
    [
        (
            {"sr": 0},
            ValueError,
            r"The 'sr' parameter of \w+ must be an int in the range \[1, inf\)",
        ),
        (
            {"fmin": -1.0},
            ValueError,
            r"The 'fmin' parameter of \w+ must be a float in the range "
            r"\[0.0, inf\). Got -1.0",
        ),
        (
            {"fmax": 12000.0},
            ValueError,
            r"The 'fmax' parameter of \w+ must be a float in the "
            r"range \[0.0, 11025.0\] or None. Got 12000.0",
        ),
        (
            {"fmin": 5000.0, "fmax": 4000.0},
            ValueError,
            r"The 'fmin' parameter of \w+ must be "
            r"below fmax \(4000.0 Hz\). Got 5000.0",
        ),
        (
            {"overlap": 1.0},
            ValueError,
            r"The 'overlap' parameter of \w+ must be a float in the "
            r"range \[0.0, 1.0\). Got 1.0",
        ),
        (
            {"frame_duration": 0.0},
            ValueError,
            r"The 'frame_duration' parameter of \w+ must be a "
            r"float in the range \(0.0, inf\). Got 0.0",
        ),
        (
            {"frame_duration": 1e-5},
            ValueError,
            r"The 'frame_duration' parameter of \w+ must give "
            r"frames of at least 2 samples",
        ),
        (
            {"log_floor": 0.0},
            ValueError,
            r"The 'log_floor' parameter of \w+ must be a float in "
            r"the range \(0.0, inf\). Got 0.0",
        ),
        ({"sr": 22050.0}, TypeError, r"The 'sr' parameter of \w+ must be an int"),
    ],
)
@pytest.mark.parametrize("cls", EXTRACTORS)
def test_invalid_params(cls, params, exc, match):
    X = np.zeros((1, 1, 1, 2 * SR), dtype=np.float32)
    with pytest.raises(exc, match=match):
        cls(**params).fit(X)
    with pytest.raises(exc, match=match):  # stateless: transform validates too
        cls(**params).transform(X)


@pytest.mark.parametrize(
    "cls, name", [(LogMelExtractor, "n_mels"), (GammatoneExtractor, "n_bands")]
)
def test_invalid_band_count(cls, name):
    est = cls().set_params(**{name: 0})
    with pytest.raises(
        ValueError,
        match=rf"The '{name}' parameter of {cls.__name__} must be "
        r"an int in the range \[1, inf\). Got 0 instead.",
    ):
        est.transform(np.zeros((1, 1, 1, 2 * SR)))


@pytest.mark.parametrize("cls", EXTRACTORS)
def test_bad_input_shapes(cls):
    with pytest.raises(
        ValueError,
        match=rf"^{cls.__name__} got an array of shape "
        r"\(1, 2, 44100\); expected a batch of recordings of "
        r"shape \(n_segments, n_channels, n_samples\) each.*"
        r"Did you forget the Segmenter\?",
    ):
        cls().transform(np.zeros((1, 2, 2 * SR)))
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((1, 1, 2 * SR)), np.zeros((1, 2 * SR))
    with pytest.raises(ValueError, match=r"^Recording 1 has shape \(1, 44100\); "):
        cls().transform(ragged)
    with pytest.raises(ValueError, match="shorter than one hop"):
        cls().transform(np.zeros((1, 1, 1, 100)))
    with pytest.raises(TypeError, match="^.* got an array of dtype complex128"):
        cls().transform(np.zeros((1, 1, 1, 2 * SR), dtype=complex))


@pytest.mark.parametrize("cls", EXTRACTORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_names_recording(cls, bad, rng):
    X = _segments(rng, n_rec=3, n_seg=1, n_ch=1)
    X[2, 0, 0, 1234] = bad
    with pytest.raises(ValueError, match="Recording 2 contains NaN or inf samples."):
        cls().transform(X)
    big = _segments(rng, n_rec=2, n_seg=1, n_ch=1)
    big[1] *= 1e30
    with pytest.raises(ValueError, match="Recording 1 has samples too large"):
        cls().transform(big)


@pytest.mark.parametrize("cls", EXTRACTORS)
def test_empty_segment_axis(cls):
    out = cls().transform(np.zeros((2, 0, 2, 2 * SR), dtype=np.float32))
    assert out.shape == (2, 0, 2, 64, 80)


@pytest.mark.parametrize("cls", EXTRACTORS)
def test_estimator_contract(cls, rng):
    est = cls(fmin=100.0)
    assert est.__sklearn_tags__().requires_fit is False
    X = _segments(rng, n_rec=1, n_seg=1, n_ch=1)
    assert est.fit(X) is est
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    c = clone(est)
    assert c.get_params() == est.get_params() and c is not est
    p = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(p.transform(X), est.transform(X))
    np.testing.assert_array_equal(est.fit_transform(X), est.transform(X))


def test_real_recording(tut_samples):
    sf = pytest.importorskip("soundfile")
    soxr = pytest.importorskip("soxr")
    audio, sr = sf.read(tut_samples[0], dtype="float32", always_2d=True)
    y = soxr.resample(audio.mean(axis=1), sr, SR).astype(np.float32)
    n_seg = y.size // (2 * SR)
    assert n_seg >= 1
    segs = y[: n_seg * 2 * SR].reshape(1, n_seg, 1, 2 * SR)
    mel = LogMelExtractor().transform(segs)
    gam = GammatoneExtractor().transform(segs)
    assert mel.shape == gam.shape == (1, n_seg, 1, 64, 80)
    assert np.isfinite(mel).all() and np.isfinite(gam).all()
    ref = _librosa_logmel(segs, n_mels=64, fmin=50.0, fmax=SR / 2)
    np.testing.assert_allclose(mel, ref, atol=1e-2)
    # Real scenes are not white: their low bands carry more energy than the top ones.
    assert gam[..., :8, :].mean() > gam[..., -8:, :].mean()


def test_extract_features_shares_the_stft(rng):
    from skasc.frontend.features import extract_features

    a = _segments(rng, n_rec=1, n_seg=3)[0]
    b = _segments(rng, n_rec=1, n_seg=1)[0]
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = a, b
    mel_est, gam_est = LogMelExtractor(), GammatoneExtractor(n_bands=32)
    for X in (_segments(rng), ragged):
        mel, gam = extract_features(X, [mel_est, gam_est])
        for got, want in ((mel, mel_est.transform(X)), (gam, gam_est.transform(X))):
            assert got.shape == want.shape and got.dtype == want.dtype
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
    with pytest.raises(
        ValueError,
        match=r"extract_features needs extractors with equal sr, "
        r"framing and log_floor; GammatoneExtractor has "
        r"sr=22050, \(n_fft, hop_length\)=\(1102, 1102\)",
    ):
        extract_features(ragged, [mel_est, GammatoneExtractor(overlap=0.0)])
    with pytest.raises(TypeError, match="expects a non-empty list of LogMelExtractor"):
        extract_features(ragged, [])
    with pytest.raises(ValueError, match="Recording 1 contains NaN"):
        bad = ragged.copy()
        bad[1] = np.full_like(b, np.nan)
        extract_features(bad, [mel_est, gam_est])
