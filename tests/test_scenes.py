"""Tests for skasc.datasets.scenes: synthetic LITIS-shaped scenes."""

import os

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skasc.datasets import (
    SCENE_CLASSES,
    LitisSplits,
    load_litis_rouen,
    make_litis_like,
    make_scenes,
)

SMALL = dict(n_recordings_per_class=3, n_classes=4, duration=1.0, sr=8000)


def _long_term_log_spectrum(x, n_bands=32, frame=256):
    """log of the frame-averaged power in 32 equal-width bands (numpy FFT)."""
    n = x.shape[1] // frame * frame
    frames = x[:, :n].reshape(x.shape[0], -1, frame) * np.hanning(frame)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    edges = np.linspace(1, power.shape[-1], n_bands + 1).astype(int)
    bands = np.add.reduceat(power, edges[:-1], axis=-1)
    return np.log(bands.mean(axis=1) + 1e-12)


def test_shapes_dtypes_and_balanced_labels():
    x, y, names = make_scenes(**SMALL)
    assert x.shape == (12, 8000) and x.dtype == np.float32
    assert y.shape == (12,) and y.dtype.kind == "U"
    assert names == sorted(SCENE_CLASSES[:4])
    values, counts = np.unique(y, return_counts=True)
    assert values.tolist() == names and counts.tolist() == [3] * 4
    np.testing.assert_array_equal(y, np.repeat(names, 3))  # grouped by class


def test_samples_are_finite_bounded_and_not_silent():
    x, _, _ = make_scenes(
        n_recordings_per_class=2,
        n_classes=len(SCENE_CLASSES),
        duration=2.0,
        sr=8000,
        random_state=3,
    )
    assert np.all(np.isfinite(x))
    assert np.max(np.abs(x)) <= 0.99
    rms_db = 20 * np.log10(np.sqrt(np.mean(x.astype(float) ** 2, axis=1)))
    assert np.all(rms_db > -45) and np.all(rms_db < -20)


def test_same_seed_same_arrays_different_seed_differs():
    a = make_scenes(**SMALL, random_state=7)
    b = make_scenes(**SMALL, random_state=7)
    c = make_scenes(**SMALL, random_state=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    gen = make_scenes(**SMALL, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(gen[0], a[0])
    legacy = make_scenes(**SMALL, random_state=np.random.RandomState(7))
    assert legacy[0].shape == a[0].shape and np.all(np.isfinite(legacy[0]))


def test_duration_and_sampling_rate():
    x, _, _ = make_scenes(n_recordings_per_class=1, n_classes=2, duration=0.75, sr=22050)
    assert x.shape == (2, round(0.75 * 22050))


def test_scene_class_names_are_litis_style():
    assert len(SCENE_CLASSES) >= 10 and len(set(SCENE_CLASSES)) == len(SCENE_CLASSES)
    assert all(not name[-1].isdigit() and " " not in name for name in SCENE_CLASSES)


def test_long_term_spectrum_does_not_solve_the_hard_pair():
    x, y, names = make_scenes(
        n_recordings_per_class=12, n_classes=5, duration=4.0, sr=8000, random_state=0
    )
    features = _long_term_log_spectrum(x)
    clf = make_pipeline(StandardScaler(), LogisticRegression())
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    overall = cross_val_score(clf, features, y, cv=cv).mean()
    pair = np.isin(y, ["bus", "metro-station"])
    hard = cross_val_score(clf, features[pair], y[pair], cv=cv).mean()
    assert overall >= 0.6  # chance: 0.2 -- the classes are distinguishable
    assert hard <= 0.85  # chance: 0.5 -- but not this pair from the spectrum
    # the hard pair does differ, in the time structure of its events: in the event band
    # (1.5-3.5 kHz), click trains make the 8-ms frame energy far more impulsive.
    n = x.shape[1] // 64 * 64
    frames = x[:, :n].reshape(x.shape[0], -1, 64)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    band = power[..., 12:28].sum(-1)  # 1.5-3.5 kHz at 8 kHz
    loud = band >= np.quantile(band, 0.9, axis=1, keepdims=True)
    crest = np.array([b[m].max() / b[m].mean() for b, m in zip(band, loud)])
    assert np.median(crest[y == "bus"]) > 2 * np.median(crest[y == "metro-station"])


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (
            dict(n_classes=0),
            ValueError,
            r"'n_classes' parameter of make_scenes must be an int "
            r"in the range \[1, 12\]\. Got 0",
        ),
        (dict(n_classes=13), ValueError, r"'n_classes' .* \[1, 12\]\. Got 13"),
        (dict(n_recordings_per_class=0), ValueError, r"'n_recordings_per_class' .* Got 0"),
        (dict(n_recordings_per_class=2.0), TypeError, r"'n_recordings_per_class' .* Got 2\.0"),
        (dict(duration=0.0), ValueError, r"'duration' parameter of make_scenes must be a float"),
        (dict(duration=float("nan")), ValueError, r"'duration' .* Got nan"),
        (dict(sr=4000), ValueError, r"'sr' parameter of make_scenes .* \[8000, inf\)\. Got 4000"),
    ],
)
def test_make_scenes_validation(kwargs, err, match):
    with pytest.raises(err, match=match):
        make_scenes(**(dict(SMALL) | kwargs))


def test_make_litis_like_round_trip(tmp_path):
    root = make_litis_like(
        tmp_path / "corpus",
        n_recordings_per_class=4,
        n_classes=3,
        n_splits=2,
        test_size=0.25,
        duration=0.5,
        sr=8000,
        random_state=1,
    )
    assert os.path.isabs(root)
    paths, labels, class_names = load_litis_rouen(root)
    assert len(paths) == 12 and class_names == sorted(SCENE_CLASSES[:3])
    assert np.unique(labels, return_counts=True)[1].tolist() == [4, 4, 4]
    info = sf.info(paths[0])
    assert info.samplerate == 8000 and info.frames == 4000 and info.subtype == "PCM_16"
    cv = LitisSplits(root)
    assert cv.get_n_splits() == 2
    for train, test in cv.split(paths, labels):
        assert len(test) == 3 and len(train) == 9
        assert not set(train) & set(test)
        assert sorted(np.unique(labels[test])) == class_names  # stratified
    # the written audio is make_scenes' output with the derived seed (to 16-bit precision)
    x, _ = sf.read(paths[0], dtype="float32")
    assert np.max(np.abs(x)) > 0 and np.all(np.isfinite(x))


def test_make_litis_like_is_deterministic(tmp_path):
    kw = dict(
        n_recordings_per_class=2,
        n_classes=2,
        n_splits=2,
        test_size=0.5,
        duration=0.5,
        sr=8000,
        random_state=4,
    )
    a, b = make_litis_like(tmp_path / "a", **kw), make_litis_like(tmp_path / "b", **kw)
    for fname in (
        "relation_wav_examples.txt",
        "fold3026-matrices_Learn.txt",
        "fold3026-matrices_Test.txt",
        "data_rouen/bus1.wav",
    ):
        with open(os.path.join(a, fname), "rb") as fa, open(os.path.join(b, fname), "rb") as fb:
            assert fa.read() == fb.read()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_splits=0), r"'n_splits' parameter of make_litis_like .* Got 0"),
        (
            dict(test_size=1.0),
            r"'test_size' parameter of make_litis_like must be a float in "
            r"the range \(0\.0, 1\.0\)\. Got 1\.0",
        ),
    ],
)
def test_make_litis_like_validation(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_litis_like(tmp_path, **(dict(SMALL) | kwargs))
