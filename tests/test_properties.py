"""Property-based tests: every stage either returns finite float32 arrays of the
documented shape or raises a ValueError/TypeError naming the recording.

Expected shapes are computed here independently of the modules (the loader's
length from ``n * sr / input_sr``, the segment count by brute force over
segment starts, the frame count from the hop). Inputs are small (low sampling
rates, short recordings) so the whole file runs in well under a minute.

Profiles: ``ci`` (the default: derandomised, so every run, local or CI, draws
the same examples, as the fixed-seed ``rng`` fixture does elsewhere) and
``dev`` (``HYPOTHESIS_PROFILE=dev``: fresh random examples and 10x as many, to
hunt for new failures; hypothesis prints the failing case to reproduce).
"""

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from skasc.frontend.audio import AudioLoader
from skasc.frontend.denoise import MinStatsDenoiser
from skasc.frontend.features import GammatoneExtractor, LogMelExtractor
from skasc.frontend.front_end import FrontEnd
from skasc.frontend.segment import Segmenter
from skasc.fusion import product_fusion

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_PROFILE = settings.get_profile(_PROFILE_NAME if _PROFILE_NAME in ("ci", "dev") else "ci")
_SCALE = 10 if _PROFILE_NAME == "dev" else 1


def _fast(n):
    """Per-test settings on top of the profile, without changing it globally."""
    return settings(parent=_PROFILE, max_examples=n * _SCALE, deadline=None)


# ------------------------------------------------------------------ signals

KINDS = ["noise", "silence", "dc", "clipped", "tiny", "nan", "inf"]


def _signal(rng, kind, shape, dtype):
    """A test signal of the given kind, shape and dtype (PCM for integer dtypes)."""
    if kind == "silence":
        x = np.zeros(shape)
    elif kind == "dc":
        x = np.full(shape, 0.7) + 0.01 * rng.standard_normal(shape)
    elif kind == "clipped":  # far beyond full scale
        x = 5.0 * rng.standard_normal(shape)
    elif kind == "tiny":  # denormal-range floats
        x = 1e-40 * rng.standard_normal(shape)
    else:
        x = 0.3 * rng.standard_normal(shape)
    if np.dtype(dtype).kind == "i":
        full = float(np.iinfo(dtype).max)
        return np.clip(np.round(x * full), np.iinfo(dtype).min, full).astype(dtype)
    x = x.astype(dtype)
    if kind in ("nan", "inf") and x.size:
        x.flat[rng.integers(x.size)] = np.nan if kind == "nan" else -np.inf
    return x


def _bad_value(kind, dtype):
    return kind in ("nan", "inf") and np.dtype(dtype).kind == "f"


def _refuses_bad_recording(transform, batch, *, n, kind, dtype, position):
    """When the recording at ``position`` is empty or not finite, check that
    ``transform`` refuses the batch naming it, and return True."""
    if n == 0:
        match = "is empty"
    elif _bad_value(kind, dtype):
        match = "contains NaN or inf"
    else:
        return False
    with pytest.raises(ValueError, match=rf"^Recording {position} {match}"):
        transform(batch)
    return True


# ------------------------------------------------------------------ AudioLoader


@_fast(40)
@given(
    n=st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 3000)),
    channels=st.integers(1, 8),
    dtype=st.sampled_from([np.int16, np.int32, np.float32, np.float64]),
    input_sr=st.integers(8000, 96000),
    sr=st.sampled_from([8000, 22050]),
    kind=st.sampled_from(KINDS),
    position=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_loader_arrays_shape_or_named_error(n, channels, dtype, input_sr, sr, kind, position, seed):
    rng = np.random.default_rng(seed)
    shape = (n,) if channels == 1 else (channels, n)
    item = _signal(rng, kind, shape, dtype)
    good = 0.1 * rng.standard_normal(input_sr // 100 + 50)
    batch = [good, good]
    batch.insert(position, item)  # the tested item at index `position`
    loader = AudioLoader(sr=sr, input_sr=input_sr)
    expected = n * sr / input_sr
    if _refuses_bad_recording(
        loader.transform, batch, n=n, kind=kind, dtype=dtype, position=position
    ):
        return
    try:
        out = loader.transform(batch)
    except ValueError as exc:  # only allowed when resampling leaves nothing
        assert expected < 1, exc
        assert str(exc).startswith(f"Recording {position} is too short"), exc
        return
    wave = out[position]
    assert out.shape[0] == 3 and wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.shape[0] - expected) <= 1
    assert np.isfinite(wave).all()
    if kind == "silence":
        assert not np.any(wave)
    if sr == input_sr:  # no resampling: exact downmix of the scaled samples
        scale = 1.0 if np.dtype(dtype).kind == "f" else 2.0 ** (8 * np.dtype(dtype).itemsize - 1)
        ref = (np.asarray(item, np.float64) / scale).reshape(-1, n).mean(axis=0)
        np.testing.assert_allclose(wave, ref, rtol=1e-5, atol=1e-6)


@_fast(25)
@given(
    value=st.sampled_from([np.nan, np.inf, -np.inf, 1e300]),
    n=st.integers(1, 50),
    position=st.integers(0, 3),
)
def test_loader_float64_overflow_and_nonfinite_named(value, n, position):
    item = np.zeros(n)
    item[n // 2] = value  # 1e300 becomes inf in float32
    batch = [np.zeros(10)] * 3
    batch.insert(position, item)
    what = (
        "holds samples of magnitude up to 1e\\+300, beyond the range of float32"
        if value == 1e300
        else "contains NaN or inf"
    )
    with pytest.raises(ValueError, match=rf"^Recording {position} {what}"):
        AudioLoader().transform(batch)


# ------------------------------------------------------------------ MinStatsDenoiser


@_fast(30)
@given(
    lengths=st.lists(st.integers(1, 4000), min_size=1, max_size=3),
    kind=st.sampled_from(KINDS + ["huge"]),
    seed=st.integers(0, 2**16),
)
def test_denoiser_shape_finite_or_named_error(lengths, kind, seed):
    rng = np.random.default_rng(seed)
    bad = len(lengths) - 1  # the last recording gets the tested kind
    recs = [_signal(rng, "noise", (n,), np.float32) for n in lengths[:-1]]
    if kind == "huge":
        last = (1e25 * rng.standard_normal(lengths[-1])).astype(np.float32)
    else:
        last = _signal(rng, kind, (lengths[-1],), np.float32)
    recs.append(last)
    X = np.array(recs) if len(set(lengths)) == 1 else np.array(recs + [None], object)[:-1]
    den = MinStatsDenoiser(sr=8000)
    if kind in ("nan", "inf"):
        with pytest.raises(ValueError, match=rf"^Recording {bad} contains NaN or inf"):
            den.transform(X)
        return
    try:
        out = den.transform(X)
    except ValueError as exc:
        assert kind == "huge", exc
        assert str(exc).startswith(f"Recording {bad} cannot be denoised"), exc
        assert "scale the audio" in str(exc)
        return
    assert len(out) == len(lengths)
    for rec, n, pair in zip(recs, lengths, out):
        assert pair.shape == (2, n) and pair.dtype == np.float32
        assert np.isfinite(pair).all()
        np.testing.assert_array_equal(pair[0], rec)  # channel 0 is the input
    if kind == "silence":
        assert not np.any(out[bad])  # all-zero input gives all-zero channels


def test_denoiser_overflow_is_an_error_not_nan():
    from skasc.dsp.minstats import denoise

    x = np.zeros(3000, np.float32)
    x[1000:1100] = 3e19  # finite in float32, but its power spectrum overflows
    with pytest.raises(ValueError, match=r"^y has samples too large .*max \|y\| = 3e\+19"):
        denoise(x, sr=8000)
    X = np.stack([np.zeros(3000, np.float32), x])
    with pytest.raises(ValueError, match=r"^Recording 1 cannot be denoised: .*scale the audio"):
        MinStatsDenoiser(sr=8000).transform(X)
    with pytest.raises(ValueError, match=r"^Recording 1 cannot be denoised"):
        MinStatsDenoiser(sr=8000, n_jobs=2).transform(X)


def test_denoiser_has_no_click_at_the_end():
    n = 30 * 22050  # the paper's recordings: 661500 % 256 = 252 puts the end on the taper
    x = (0.3 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    out = MinStatsDenoiser().transform(x[np.newaxis])
    assert np.abs(out[0, 1, -256:]).max() <= np.abs(x).max()


# ------------------------------------------------------------------ Segmenter


def _count_segments_brute(n, seg, hop, tail):
    """Segment count by walking the starts: independent of skasc.frontend.segment."""
    if n <= seg:
        return 1
    count, start = 0, 0
    while start + seg <= n:  # complete segments
        count += 1
        start += hop
    if tail == "pad":
        covered_to = (count - 1) * hop + seg
        if covered_to < n and start < n:
            count += 1
    return count


@_fast(40)
@given(
    n=st.integers(1, 3000),
    channels=st.integers(1, 3),
    seg=st.integers(1, 700),
    hop_frac=st.sampled_from([None, 0.25, 0.5, 1.0, 1.5]),
    tail=st.sampled_from(["pad", "drop"]),
    seed=st.integers(0, 2**16),
)
def test_segmenter_counts_and_contents(n, channels, seg, hop_frac, tail, seed):
    sr = 1000
    hop = seg if hop_frac is None else max(1, round(seg * hop_frac))
    seg_dur = seg / sr
    hop_dur = None if hop_frac is None else hop / sr
    segmenter = Segmenter(sr=sr, segment_duration=seg_dur, hop_duration=hop_dur, tail=tail)
    assume(segmenter.lengths() == (seg, hop))  # float durations round-trip to samples
    x = np.random.default_rng(seed).standard_normal((channels, n)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = segmenter.transform(x[np.newaxis])
    short = [w for w in caught if "shorter than one segment" in str(w.message)]
    assert len(short) == (n < seg)
    if short:
        assert str(short[0].message).startswith(
            f"1 of 1 recordings was shorter than one segment ({seg / sr:.3f} s, "
            f"{seg} samples) and was zero-padded to one segment: "
            f"recording 0 ({n / sr:.3f} s, {n} samples)."
        )
    n_seg = _count_segments_brute(n, seg, hop, tail)
    assert out.shape == (1, n_seg, channels, seg) and out.dtype == np.float32
    assert segmenter.n_segments(n) == n_seg
    padded = np.zeros((channels, (n_seg - 1) * hop + seg + n), np.float32)
    padded[:, :n] = x
    for k in range(n_seg):
        np.testing.assert_array_equal(out[0, k], padded[:, k * hop : k * hop + seg])


@_fast(25)
@given(bad=st.sampled_from(["empty", "nan", "inf", "3d", "complex"]), position=st.integers(0, 2))
def test_segmenter_bad_recording_is_named(bad, position):
    good = np.zeros(50, np.float32)
    item = {
        "empty": np.zeros(0, np.float32),
        "nan": np.array([0.0, np.nan]),
        "inf": np.array([np.inf, 0.0]),
        "3d": np.zeros((1, 2, 3)),
        "complex": np.zeros(5, complex),
    }[bad]
    batch = [good, good]
    batch.insert(position, item)
    X = np.empty(3, object)
    X[:] = batch
    exc = TypeError if bad == "complex" else ValueError
    with pytest.raises(exc, match=rf"^Recording {position} "):
        Segmenter(sr=100, segment_duration=0.2).transform(X)


def test_one_hour_recording_segment_count():
    sr, seg = 8000, 2 * 8000
    n = 3600 * sr + seg // 4  # one hour and half a second
    x = np.zeros((1, n), np.float32)
    x[0, -1] = 1.0  # the very last sample, to find it in the padded tail segment
    x[0, seg] = 2.0  # first sample of segment 1
    pad = Segmenter(sr=sr, segment_duration=2.0).transform(x)
    assert pad.shape == (1, 1801, 1, seg)
    assert pad[0, 1, 0, 0] == 2.0
    assert pad[0, -1, 0, seg // 4 - 1] == 1.0 and not np.any(pad[0, -1, 0, seg // 4 :])
    del pad
    drop = Segmenter(sr=sr, segment_duration=2.0, tail="drop").transform(x)
    assert drop.shape == (1, 1800, 1, seg)


# ------------------------------------------------------------------ extractors


@_fast(30)
@given(
    n_seg=st.integers(0, 3),
    channels=st.integers(1, 2),
    seg_samples=st.integers(1, 2400),
    extractor=st.sampled_from(["mel", "gammatone"]),
    kind=st.sampled_from(KINDS + ["huge"]),
    seed=st.integers(0, 2**16),
)
def test_extractor_shape_finite_or_named_error(n_seg, channels, seg_samples, extractor, kind, seed):
    sr = 8000
    est = (
        LogMelExtractor(sr=sr, n_mels=64)
        if extractor == "mel"
        else GammatoneExtractor(sr=sr, n_bands=64)
    )
    hop = round(round(0.05 * sr) * 0.5)  # 50-ms frames, 50 % overlap: 200 samples
    rng = np.random.default_rng(seed)
    good = _signal(rng, "noise", (2, channels, seg_samples), np.float32)
    if kind == "huge":
        tested = (1e30 * rng.standard_normal((n_seg, channels, seg_samples))).astype(np.float32)
    else:
        tested = _signal(rng, kind, (n_seg, channels, seg_samples), np.float32)
    X = np.empty(2, object)
    X[0], X[1] = good, tested
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa: empty mel filters at 8 kHz
        if seg_samples < hop:
            with pytest.raises(ValueError, match=r"shorter than one hop"):
                est.transform(X)
            return
        if n_seg and kind in ("nan", "inf"):
            with pytest.raises(ValueError, match=r"^Recording 1 contains NaN or inf"):
                est.transform(X)
            return
        if n_seg and kind == "huge":
            with pytest.raises(ValueError, match=r"^Recording 1 has samples too large"):
                est.transform(X)
            return
        out = est.transform(X)
    n_frames = seg_samples // hop
    assert out[0].shape == (2, channels, 64, n_frames)
    assert out[1].shape == (n_seg, channels, 64, n_frames)
    for feats in out:
        assert feats.dtype == np.float32 and np.isfinite(feats).all()
        assert np.all(feats >= -100.0 - 1e-3)  # the fixed floor, 10 log10(1e-10)
    if kind == "silence" and n_seg:
        np.testing.assert_allclose(out[1], -100.0, atol=1e-3)


# ------------------------------------------------------------------ FrontEnd


def _frontend(input_sr):
    sr = 16000
    return FrontEnd(
        loader=AudioLoader(sr=sr, input_sr=input_sr),
        denoiser=MinStatsDenoiser(sr=sr),
        segmenter=Segmenter(sr=sr, segment_duration=0.5),
        extractor=LogMelExtractor(sr=sr),
    )


@_fast(25)
@given(
    n=st.integers(0, 40000),
    input_sr=st.integers(8000, 48000),
    channels=st.integers(1, 3),
    dtype=st.sampled_from([np.int16, np.float32, np.float64]),
    kind=st.sampled_from(KINDS),
    position=st.integers(0, 1),
    seed=st.integers(0, 2**16),
)
def test_frontend_chain_shape_or_named_error(n, input_sr, channels, dtype, kind, position, seed):
    rng = np.random.default_rng(seed)
    item = _signal(rng, kind, (n,) if channels == 1 else (channels, n), dtype)
    good = (0.1 * rng.standard_normal(input_sr // 2)).astype(np.float32)
    batch = [good]
    batch.insert(position, item)
    fe = _frontend(input_sr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short recordings are padded
        if _refuses_bad_recording(
            fe.transform, batch, n=n, kind=kind, dtype=dtype, position=position
        ):
            return
        expected_len = n * 16000 / input_sr
        try:
            out = fe.transform(batch)
        except ValueError as exc:
            assert expected_len < 1, exc
            assert str(exc).startswith(f"Recording {position} is too short"), exc
            return
    loaded = AudioLoader(sr=16000, input_sr=input_sr).transform([item])[0]
    assert abs(len(loaded) - expected_len) <= 1
    seg = 8000
    n_seg = _count_segments_brute(len(loaded), seg, seg, "pad")
    feats = out[position]
    assert feats.shape == (n_seg, 2, 64, seg // 400) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    assert out[1 - position].shape == (1, 2, 64, 20)


def test_frontend_short_recording_warning_names_its_index():
    X = [np.zeros(16000, np.float32), np.zeros(4000, np.float32)]
    with pytest.warns(
        UserWarning,
        match=r"^1 of 2 recordings was shorter "
        r".*: recording 1 \(0\.250 s, ",
    ) as caught:
        _frontend(16000).transform(X)
    assert caught[0].filename == __file__


def test_ten_minutes_through_the_frontend():
    sr = 22050
    x = (0.1 * np.random.default_rng(0).standard_normal(600 * sr)).astype(np.float32)
    out = FrontEnd().transform([x])
    assert out.shape == (1, 300, 2, 64, 80) and out.dtype == np.float32
    assert np.isfinite(out).all()


# ------------------------------------------------------------------ product fusion


@_fast(40)
@given(
    lengths=st.lists(st.integers(1, 20), min_size=1, max_size=5),
    n_classes=st.integers(2, 6),
    zeros=st.floats(0.0, 0.5),
    floor=st.sampled_from([1e-7, 1e-3, 0.1]),
    seed=st.integers(0, 2**16),
)
def test_product_fusion_matches_direct_product(lengths, n_classes, zeros, floor, seed):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(n_classes), size=sum(lengths))
    p[rng.random(p.shape) < zeros] = 0.0  # hard zeros must not veto a class
    fused = product_fusion(p, floor=floor, lengths=lengths)
    assert fused.shape == (len(lengths), n_classes)
    assert np.isfinite(fused).all() and np.all(fused >= 0)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0, rtol=1e-12)
    starts = np.cumsum([0] + lengths)
    for r in range(len(lengths)):
        prod = np.prod(np.maximum(p[starts[r] : starts[r + 1]], floor), axis=0)
        np.testing.assert_allclose(fused[r], prod / prod.sum(), rtol=1e-9, atol=1e-300)
