import librosa
import numpy as np
import pytest

from skasc.dsp.spectrogram import (
    frame_lengths,
    log_compress,
    log_filterbank,
    n_frames,
    power_spectrogram,
)


def _padded(y, n_fft, hop):
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n_fft - hop)]
    return np.pad(y, pad)


def test_frame_lengths_paper_values():
    # 50 ms at 22050 Hz is 1102.5 samples; Python's round gives 1102.
    assert frame_lengths(sr=22050) == (1102, 551)
    assert frame_lengths(sr=22050, overlap=0.0) == (1102, 1102)
    assert frame_lengths(sr=16000, frame_duration=0.025, overlap=0.75) == (400, 100)
    assert n_frames(44100, hop_length=551) == 80


def test_power_spectrogram_matches_librosa_stft(rng):
    y = rng.standard_normal((3, 2, 44100)).astype(np.float32)
    S = power_spectrogram(y, n_fft=1102, hop_length=551)
    assert S.shape == (3, 2, 552, 80) and S.dtype == np.float32
    ref = (
        np.abs(
            librosa.stft(
                _padded(y, 1102, 551), n_fft=1102, hop_length=551, window="hann", center=False
            )
        )
        ** 2
    )
    assert ref.shape == S.shape
    np.testing.assert_allclose(S, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_power_spectrogram_direct_formula(rng):
    n_fft, hop, n = 16, 8, 40
    y = rng.standard_normal(n)
    S = power_spectrogram(y, n_fft=n_fft, hop_length=hop)
    assert S.shape == (n_fft // 2 + 1, n // hop)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    padded = np.concatenate([y, np.zeros(n_fft - hop)])
    k = np.arange(n_fft // 2 + 1)[:, None]
    m = np.arange(n_fft)[None, :]
    dft = np.exp(-2j * np.pi * k * m / n_fft)
    for t in range(n // hop):
        frame = padded[t * hop : t * hop + n_fft] * window
        np.testing.assert_allclose(S[:, t], np.abs(dft @ frame) ** 2, rtol=1e-4, atol=1e-5)


def test_last_frame_sees_only_the_segment_end_and_zeros(rng):
    y = rng.standard_normal(44100).astype(np.float32)
    S = power_spectrogram(y, n_fft=1102, hop_length=551)
    # The last frame starts 551 samples before the end: half audio, half zeros.
    frame = np.concatenate([y[79 * 551 :], np.zeros(1102 - (44100 - 79 * 551))])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1102) / 1102)
    ref = np.abs(np.fft.rfft(frame * window)) ** 2
    np.testing.assert_allclose(S[:, -1], ref, rtol=1e-3, atol=1e-4)


def test_batched_equals_one_by_one(rng):
    y = rng.standard_normal((4, 3, 5000)).astype(np.float32)
    S = power_spectrogram(y, n_fft=256, hop_length=128)
    for i in range(4):
        for c in range(3):
            np.testing.assert_array_equal(
                S[i, c], power_spectrogram(y[i, c], n_fft=256, hop_length=128)
            )


def test_too_short_segment_raises():
    with pytest.raises(ValueError, match="shorter than one hop"):
        power_spectrogram(np.zeros(100), n_fft=1102, hop_length=551)
    with pytest.raises(ValueError, match="n_fft must be at least 2"):
        power_spectrogram(np.zeros(100), n_fft=1, hop_length=1)


def test_log_compress_equals_power_to_db_with_fixed_floor(rng):
    S = rng.random((5, 7)) * 10.0 ** rng.uniform(-14, 2, (5, 7))
    S[0, 0] = 0.0
    out = log_compress(S, floor=1e-10)
    ref = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-4)
    # Fixed floor: silence is finite and independent of the other values.
    assert out[0, 0] == pytest.approx(-100.0, abs=1e-4)
    assert log_compress(np.zeros(3), floor=1e-6) == pytest.approx(-60.0, abs=1e-4)
    with pytest.raises(ValueError, match="floor must be > 0"):
        log_compress(S, floor=0.0)


def test_log_filterbank_shared_stft_equals_separate(rng):
    y = rng.standard_normal((2, 8000)).astype(np.float32)
    w1 = rng.random((5, 129)).astype(np.float32)
    w2 = rng.random((3, 129)).astype(np.float32)
    a, b = log_filterbank(y, weights=[w1, w2], n_fft=256, hop_length=128)
    S = power_spectrogram(y, n_fft=256, hop_length=128).astype(np.float64)
    np.testing.assert_allclose(a, 10 * np.log10(np.maximum(w1 @ S, 1e-10)), atol=1e-3)
    np.testing.assert_allclose(b, 10 * np.log10(np.maximum(w2 @ S, 1e-10)), atol=1e-3)
    single = log_filterbank(y, weights=w1, n_fft=256, hop_length=128)
    np.testing.assert_array_equal(single, a)
    assert single.shape == (2, 5, 62) and single.flags.c_contiguous
    with pytest.raises(ValueError, match=r"weights must have shape \(n_bands, n_fft // 2 \+ 1"):
        log_filterbank(y, weights=w1[:, :100], n_fft=256, hop_length=128)


# --- Centred STFT pair of whole recordings (used by skasc.dsp.minstats) --------


@pytest.mark.parametrize(
    "n_fft, hop, n",
    [(256, 128, 8000 * 3 + 17), (512, 256, 1000), (64, 20, 333), (32, 32, 100), (256, 100, 300)],
)
def test_centred_stft_matches_scipy_signal_stft(rng, n_fft, hop, n):
    import scipy.signal

    from skasc.dsp.spectrogram import centred_stft_frames, hann

    y = rng.standard_normal(n).astype(np.float32)
    ours = centred_stft_frames(y, n_fft, hop, hann(n_fft))
    assert ours.shape == (1 + n // hop, n_fft // 2 + 1) and ours.dtype == np.complex64
    # scipy pads n_fft // 2 zeros at both ends (= librosa's centring with
    # pad_mode="constant") and scales by 1 / sum(window); the end padding it
    # adds gives at most extra frames after ours.
    window = scipy.signal.get_window("hann", n_fft)
    _, _, ref = scipy.signal.stft(
        y.astype(np.float64),
        window=window,
        nperseg=n_fft,
        noverlap=n_fft - hop,
        boundary="zeros",
        padded=True,
        return_onesided=True,
    )
    ref = ref[:, : ours.shape[0]].T * window.sum()
    assert ref.shape == ours.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("n_fft, hop, n", [(256, 128, 8000 * 3 + 17), (64, 16, 1000)])
def test_centred_istft_matches_scipy_signal_istft(rng, n_fft, hop, n):
    import scipy.signal

    from skasc.dsp.spectrogram import centred_istft_frames, centred_stft_frames, hann

    y = rng.standard_normal(n).astype(np.float32)
    spec = centred_stft_frames(y, n_fft, hop, hann(n_fft))
    spec = spec * rng.uniform(0, 1, size=spec.shape).astype(np.float32)  # not a plain inverse
    ours = centred_istft_frames(spec, n_fft, hop, hann(n_fft), n)
    assert ours.shape == (n,) and ours.dtype == np.float32
    window = scipy.signal.get_window("hann", n_fft)
    _, ref = scipy.signal.istft(
        spec.T.astype(np.complex128) / window.sum(),
        window=window,
        nperseg=n_fft,
        noverlap=n_fft - hop,
        input_onesided=True,
        boundary=True,
    )
    # scipy stops where the last frame's centre is, (n_frames - 1) * hop samples
    assert n - hop < len(ref) <= n
    np.testing.assert_allclose(ours[: len(ref)], ref, rtol=0, atol=1e-5)
    # the round trip of an unmodified spectrum gives the signal back
    plain = centred_stft_frames(y, n_fft, hop, hann(n_fft))
    np.testing.assert_allclose(
        centred_istft_frames(plain, n_fft, hop, hann(n_fft), n), y, atol=1e-5
    )


def test_one_hann_window_shared_with_minstats():
    from skasc.dsp import minstats, spectrogram

    assert minstats.hann is spectrogram.hann
    assert minstats.centred_stft_frames is spectrogram.centred_stft_frames
    assert minstats.centred_istft_frames is spectrogram.centred_istft_frames
    w = spectrogram.hann(16)
    assert not w.flags.writeable
    expected = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(16) / 16)
    np.testing.assert_array_equal(w, expected.astype(np.float32))
