import math
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skasc.frontend.segment import Segmenter, ShortRecordingWarning, segment_signal


def _brute_force(x, L, hop, tail):
    """Independent segmentation by explicit slicing of a 1-D signal."""
    n = len(x)
    starts = list(range(0, n, hop))
    full = [s for s in starts if s + L <= n]
    chosen = list(full)
    if not full:
        chosen = [0]
    elif tail == "pad":
        covered = np.zeros(n, bool)
        for s in full:
            covered[s : s + L] = True
        nxt = full[-1] + hop
        if not covered.all() and nxt < n:
            chosen.append(nxt)
    out = []
    for s in chosen:
        seg = np.zeros(L, np.float32)
        piece = x[s : s + L]
        seg[: len(piece)] = piece
        out.append(seg)
    return np.stack(out)


# ----------------------------------------------------------------- segment_signal


@pytest.mark.parametrize("tail", ["pad", "drop"])
@pytest.mark.parametrize("L, hop", [(4, 4), (4, 2), (4, 1), (4, 3), (3, 5), (1, 1)])
def test_segment_signal_matches_brute_force(L, hop, tail):
    for n in range(1, 25):
        x = np.arange(1, n + 1, dtype=np.float64)
        got = segment_signal(x, segment_length=L, hop_length=hop, tail=tail)
        expected = _brute_force(x, L, hop, tail)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected, err_msg=f"n={n}")
        # no sample lost in pad mode (unless hop > L skips it by design)
        if tail == "pad" and hop <= L:
            assert set(x) <= set(got.ravel())


def test_segment_signal_keeps_leading_axes(rng):
    x = rng.standard_normal((2, 3, 10)).astype(np.float32)
    got = segment_signal(x, segment_length=4, hop_length=4, tail="pad")
    assert got.shape == (3, 2, 3, 4)
    np.testing.assert_array_equal(got[1], x[..., 4:8])
    np.testing.assert_array_equal(got[2, ..., :2], x[..., 8:])
    assert not got[2, ..., 2:].any()
    assert got.flags.c_contiguous


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (
            {"segment_length": 0, "hop_length": 1},
            ValueError,
            r"'segment_length' parameter of segment_signal .* Got 0",
        ),
        (
            {"segment_length": 2, "hop_length": 0},
            ValueError,
            r"'hop_length' parameter of segment_signal .* Got 0",
        ),
        ({"segment_length": 2.0, "hop_length": 1}, TypeError, r"'segment_length' parameter"),
        (
            {"segment_length": 2, "hop_length": 1, "tail": "wrap"},
            ValueError,
            r"'tail' parameter of segment_signal must be one of \{'pad', 'drop'\}. Got 'wrap'",
        ),
    ],
)
def test_segment_signal_bad_params(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        segment_signal(np.zeros(10), **kwargs)


def test_segment_signal_bad_input():
    with pytest.raises(ValueError, match=r"0 samples"):
        segment_signal(np.zeros((2, 0)), segment_length=2, hop_length=2)
    with pytest.raises(ValueError, match=r"0-d array"):
        segment_signal(np.float32(1.0), segment_length=2, hop_length=2)


# ----------------------------------------------------------------- Segmenter


def test_paper_setting_30s_gives_15_segments(rng):
    sr = 22050
    X = rng.standard_normal((1, 30 * sr)).astype(np.float32)
    seg = Segmenter()
    out = seg.transform(X)
    assert out.shape == (1, 15, 1, 2 * sr) and out.dtype == np.float32
    # non-overlapping slices of the input, in order
    np.testing.assert_array_equal(out[0, :, 0], X[0].reshape(15, 2 * sr))
    assert seg.n_segments(30 * sr) == 15


def test_multichannel_values_are_slices(rng):
    sr = 100
    X = rng.standard_normal((3, 2, 7 * sr))  # 3 recordings, 2 channels, 7 s
    out = Segmenter(sr=sr, segment_duration=2.0).transform(X)
    assert out.shape == (3, 4, 2, 200) and out.dtype == np.float32
    for r in range(3):
        for k in range(3):
            np.testing.assert_array_equal(
                out[r, k], X[r, :, k * 200 : (k + 1) * 200].astype(np.float32)
            )
        np.testing.assert_array_equal(out[r, 3, :, :100], X[r, :, 600:].astype(np.float32))
        assert not out[r, 3, :, 100:].any()


def test_ragged_10s_and_30s_in_one_call(rng):
    sr = 22050
    short, long = rng.standard_normal(10 * sr), rng.standard_normal(30 * sr)
    X = np.empty(2, dtype=object)
    X[0], X[1] = short, long
    out = Segmenter().transform(X)
    assert out.dtype == object and out.shape == (2,)
    assert out[0].shape == (5, 1, 2 * sr) and out[1].shape == (15, 1, 2 * sr)
    assert out[0].dtype == np.float32
    np.testing.assert_array_equal(out[1][7, 0], long[14 * sr : 16 * sr].astype(np.float32))
    # a list works the same way
    out_list = Segmenter().transform([short, long])
    np.testing.assert_array_equal(out_list[0], out[0])


def test_ragged_equal_counts_give_dense(rng):
    # 9.5 s and 10 s both give 5 segments in pad mode -> a dense batch
    sr = 100
    out = Segmenter(sr=sr).transform(
        [rng.standard_normal((2, 950)), rng.standard_normal((2, 1000))]
    )
    assert out.dtype == np.float32 and out.shape == (2, 5, 2, 200)


@pytest.mark.parametrize("tail, n_expected", [("pad", 6), ("drop", 5)])
def test_tail_rule(rng, tail, n_expected):
    sr = 100
    x = rng.standard_normal(1050)  # 10.5 s: 5 full segments + 0.5 s tail
    seg = Segmenter(sr=sr, tail=tail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a tail
        out = seg.transform(x[np.newaxis])
    assert out.shape == (1, n_expected, 1, 200)
    assert seg.n_segments(1050) == n_expected
    if tail == "pad":
        np.testing.assert_array_equal(out[0, 5, 0, :50], x[1000:].astype(np.float32))
        assert not out[0, 5, 0, 50:].any()
    else:
        np.testing.assert_array_equal(out[0, -1, 0], x[800:1000].astype(np.float32))


@pytest.mark.parametrize("tail", ["pad", "drop"])
def test_short_recording_is_padded_with_warning(rng, tail):
    sr = 100
    short = rng.standard_normal(150)  # 1.5 s < 2 s
    long = rng.standard_normal(400)
    with pytest.warns(
        UserWarning,
        match=r"^1 of 2 recordings was shorter than one segment "
        r"\(2\.000 s, 200 samples\) and was zero-padded to one segment: "
        r"recording 1 \(1\.500 s, 150 samples\)\. Lower "
        r"segment_duration",
    ) as record:
        out = Segmenter(sr=sr, tail=tail).transform([long, short])
    assert len(record) == 1
    assert record[0].filename == __file__  # stacklevel points at the caller
    assert out.shape == (2,) and out.dtype == object
    assert out[1].shape == (1, 1, 200)
    np.testing.assert_array_equal(out[1][0, 0, :150], short.astype(np.float32))
    assert not out[1][0, 0, 150:].any()


def test_exactly_one_segment_no_warning(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Segmenter(sr=100).transform(rng.standard_normal((2, 200)))
    assert out.shape == (2, 1, 1, 200)


@pytest.mark.parametrize("tail", ["pad", "drop"])
@pytest.mark.parametrize("n_samples", [1000, 1050, 1099, 1100])
def test_overlap_counts(rng, tail, n_samples):
    sr, L, hop = 100, 200, 100  # 2-s segments every 1 s
    x = rng.standard_normal(n_samples)
    seg = Segmenter(sr=sr, segment_duration=2.0, hop_duration=1.0, tail=tail)
    out = seg.transform([x])
    if tail == "pad":
        expected = 1 + math.ceil((n_samples - L) / hop)
    else:
        expected = 1 + (n_samples - L) // hop
    assert out.shape == (1, expected, 1, L)
    assert seg.n_segments(n_samples) == expected
    for k in range(expected):
        piece = x[k * hop : k * hop + L].astype(np.float32)
        np.testing.assert_array_equal(out[0, k, 0, : len(piece)], piece)


def test_n_segments_agrees_with_transform(rng):
    for hop in (None, 0.5, 1.0, 2.0, 3.0):
        for tail in ("pad", "drop"):
            seg = Segmenter(sr=10, segment_duration=1.0, hop_duration=hop, tail=tail)
            for n in range(1, 60, 7):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    out = seg.transform(np.zeros((1, n)))
                assert out.shape[1] == seg.n_segments(n), (hop, tail, n)


def test_segment_length_is_rounded():
    seg = Segmenter(sr=22050, segment_duration=0.05, hop_duration=0.025)  # 1102.5, 551.25
    out = seg.transform(np.zeros((1, 22050)))
    assert out.shape[-1] == round(0.05 * 22050)
    assert seg.n_segments(22050) == 1 + math.ceil((22050 - 1102) / 551)


@pytest.mark.parametrize(
    "X, exc, match",
    [
        (
            np.zeros(100),
            ValueError,
            r"^Segmenter got an array of shape \(100,\); expected a batch of recordings of shape "
            r"\(n_samples,\) or \(n_channels, n_samples\) each",
        ),
        (np.zeros((1, 2, 3, 100)), ValueError, r"shape \(1, 2, 3, 100\); expected"),
        (np.zeros((0, 100)), ValueError, r"no recordings"),
        ([], ValueError, r"no recordings"),
        (np.zeros((2, 3), dtype=complex), TypeError, r"dtype complex128"),
        (np.empty((2, 2), dtype=object), ValueError, r"object array of shape \(2, 2\)"),
        ("abc", TypeError, r"Segmenter got a str"),
        ([np.zeros(300), np.zeros(0)], ValueError, r"Recording 1 has 0 samples"),
        ([np.zeros(300), np.zeros((2, 0))], ValueError, r"Recording 1 has 0 samples"),
        (np.zeros((2, 0)), ValueError, r"Recording 0 has 0 samples"),
        (
            [np.zeros(300), np.zeros((1, 2, 300))],
            ValueError,
            r"Recording 1 has shape \(1, 2, 300\)",
        ),
        ([np.zeros(300), np.array(["a"])], TypeError, r"Recording 1 has dtype <U1"),
        ([np.zeros(300), np.array([0.0, np.nan])], ValueError, r"Recording 1 contains NaN or inf"),
    ],
)
def test_transform_errors(X, exc, match):
    with pytest.raises(exc, match=match):
        Segmenter(sr=100).transform(X)


@pytest.mark.parametrize(
    "params, exc, match",
    [
        (
            {"segment_duration": 0},
            ValueError,
            r"'segment_duration' parameter of Segmenter must be a float in the range \(0, inf\)\. "
            r"Got 0 instead",
        ),
        ({"segment_duration": -1.0}, ValueError, r"'segment_duration' parameter"),
        ({"segment_duration": "2"}, TypeError, r"'segment_duration' parameter"),
        ({"segment_duration": 1e-9}, ValueError, r"'segment_duration' parameter .* rounds to 0"),
        (
            {"hop_duration": 0.0},
            ValueError,
            r"'hop_duration' parameter of Segmenter must be a float "
            r"in the range \(0, inf\) or None",
        ),
        ({"hop_duration": float("inf")}, ValueError, r"'hop_duration' parameter .* Got inf"),
        ({"hop_duration": 1e-9}, ValueError, r"'hop_duration' parameter .* rounds to 0"),
        (
            {"tail": "wrap"},
            ValueError,
            r"'tail' parameter of Segmenter must be one of "
            r"\{'pad', 'drop'\}\. Got 'wrap'",
        ),
        ({"sr": 0}, ValueError, r"'sr' parameter of Segmenter .* Got 0"),
        ({"sr": 100.0}, TypeError, r"'sr' parameter of Segmenter"),
    ],
)
def test_bad_params(params, exc, match):
    seg = Segmenter(**params)
    X = np.zeros((1, 1000))
    with pytest.raises(exc, match=match):
        seg.fit(X)
    with pytest.raises(exc, match=match):
        seg.transform(X)
    with pytest.raises(exc, match=match):
        seg.n_segments(1000)


def test_n_segments_bad_input():
    with pytest.raises(ValueError, match=r"'n_samples' parameter of Segmenter.n_segments"):
        Segmenter().n_segments(0)


def test_estimator_contract(rng):
    seg = Segmenter(sr=100, segment_duration=1.5, hop_duration=0.5, tail="drop")
    assert seg.get_params() == {
        "sr": 100,
        "segment_duration": 1.5,
        "hop_duration": 0.5,
        "tail": "drop",
    }
    cloned = clone(seg)
    assert cloned is not seg and cloned.get_params() == seg.get_params()
    assert seg.__sklearn_tags__().requires_fit is False
    X = rng.standard_normal((2, 2, 500))
    out = seg.transform(X)  # works without fit
    restored = pickle.loads(pickle.dumps(seg))
    assert restored.get_params() == seg.get_params()
    np.testing.assert_array_equal(restored.transform(X), out)
    assert seg.fit(X) is seg
    np.testing.assert_array_equal(seg.fit_transform(X), out)
    assert not [k for k in vars(seg) if k.endswith("_")]  # stateless
    seg.set_params(segment_duration=2.5)
    assert seg.transform(X).shape[-1] == 250


def test_array_like_input(rng):
    class ArrayLike:
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    X = rng.standard_normal((2, 400))
    np.testing.assert_array_equal(
        Segmenter(sr=100).transform(ArrayLike(X)), Segmenter(sr=100).transform(X)
    )


def test_many_short_recordings_give_one_warning(rng):
    sr = 100
    lengths = [50, 400, 300, 120, 80, 250, 10, 199, 30, 200, 150, 500]  # 2-s segments
    short = [(i, n) for i, n in enumerate(lengths) if n < 200]
    X = [rng.standard_normal(n) for n in lengths]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = Segmenter(sr=sr).transform(X)
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert caught[0].category is ShortRecordingWarning and caught[0].filename == __file__
    assert issubclass(ShortRecordingWarning, UserWarning)
    # the records travel as data; the message is written from them
    message = caught[0].message
    assert message.padded == short
    assert (message.n_recordings, message.segment_length, message.sr) == (12, 200, sr)
    assert pickle.loads(pickle.dumps(message)).padded == short
    shown = ", ".join(f"recording {i} ({n / sr:.3f} s, {n} samples)" for i, n in short[:5])
    assert str(caught[0].message) == (
        f"{len(short)} of 12 recordings were shorter than one segment (2.000 s, 200 "
        f"samples) and were zero-padded to one segment: {shown} and {len(short) - 5} "
        "more. Lower segment_duration to avoid padding."
    )
    assert len(short) == 7 and shown.startswith(
        "recording 0 (0.500 s, 50 samples), recording 3 (1.200 s, 120 samples)"
    )
    assert [out[i].shape[0] for i, _ in short] == [1] * len(short)
