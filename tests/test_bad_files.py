"""Bad audio files everywhere: each error names the file and the recording's index,
and ``check_recordings`` skips bad recordings on request, keeping labels aligned.

Cases already covered for ``load_audio`` alone in test_audio.py (missing file,
permission denied, NaN samples, a one-sample file) are exercised here only
through the batch paths (``AudioLoader``, ``FrontEnd``, ``check_recordings``).
"""

import os
import warnings

import numpy as np
import pytest
import soundfile as sf

from skasc.frontend.audio import AudioFileError, AudioLoader, check_recordings, load_audio
from skasc.frontend.denoise import MinStatsDenoiser
from skasc.frontend.features import LogMelExtractor
from skasc.frontend.front_end import FrontEnd
from skasc.frontend.segment import Segmenter

SR = 8000


def _wav(path, rng, n=SR // 2, channels=1, subtype="PCM_16"):
    data = 0.3 * rng.standard_normal((n, channels))
    sf.write(str(path), data, SR, subtype=subtype)
    return str(path)


def _truncate(path, n_bytes):
    with open(path, "r+b") as f:
        f.truncate(n_bytes)
    return path


@pytest.fixture
def bad_files(tmp_path, rng):
    """name -> path of each kind of unreadable file, and the regex its error matches."""
    files = {}
    files["header20"] = (
        _truncate(_wav(tmp_path / "header20.wav", rng), 20),
        r"header20\.wav.*could not be read as audio",
    )
    files["header_only"] = (
        _truncate(_wav(tmp_path / "header_only.wav", rng), 44),
        r"header_only\.wav.*contains no samples",
    )
    (tmp_path / "zero.wav").write_bytes(b"")
    files["zero_bytes"] = (str(tmp_path / "zero.wav"), r"zero\.wav.*could not be read")
    os.mkdir(tmp_path / "folder.wav")
    files["directory"] = (str(tmp_path / "folder.wav"), r"folder\.wav.*is a directory")
    (tmp_path / "notes.txt").write_text("not audio at all\n" * 20)
    files["text"] = (str(tmp_path / "notes.txt"), r"notes\.txt.*could not be read")
    noise = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    (tmp_path / "noise.mp3").write_bytes(noise)
    files["random_mp3"] = (str(tmp_path / "noise.mp3"), r"noise\.mp3.*could not be read")
    files["missing"] = (str(tmp_path / "missing.flac"), r"missing\.flac.*does not exist")
    return files


KINDS = ["header20", "header_only", "zero_bytes", "directory", "text", "random_mp3", "missing"]


@pytest.mark.parametrize("kind", KINDS)
def test_load_audio_names_the_bad_file(bad_files, kind):
    path, match = bad_files[kind]
    with pytest.raises(AudioFileError, match=match):
        load_audio(path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_loader_batch_names_index_and_path(tmp_path, rng, bad_files, kind, n_jobs):
    good = _wav(tmp_path / "good.wav", rng)
    path, match = bad_files[kind]
    with pytest.raises(AudioFileError, match=rf"^Recording 2 failed to load: .*{match}"):
        AudioLoader(sr=SR, n_jobs=n_jobs).transform([good, good, path, good])


def _small_frontend(n_jobs=None):
    return FrontEnd(
        loader=AudioLoader(sr=SR),
        denoiser=MinStatsDenoiser(sr=SR),
        segmenter=Segmenter(sr=SR, segment_duration=0.5),
        extractor=LogMelExtractor(sr=SR, n_mels=32),
        n_jobs=n_jobs,
    )


@pytest.mark.parametrize("kind", ["header20", "directory", "random_mp3"])
def test_frontend_batch_names_index_and_path(tmp_path, rng, bad_files, kind):
    good = _wav(tmp_path / "good.wav", rng)
    path, match = bad_files[kind]
    with pytest.raises(AudioFileError, match=rf"^Recording 1 failed to load: .*{match}"):
        _small_frontend().transform([good, path, good])


def test_frontend_parallel_names_index_and_path(tmp_path, rng, bad_files):
    good = _wav(tmp_path / "good.wav", rng)
    path, match = bad_files["header20"]
    with pytest.raises(ValueError, match=rf"^Recording 3 failed to load: .*{match}"):
        _small_frontend(n_jobs=2).transform([good, good, good, path])


def test_truncated_mid_data_loads_the_complete_frames(tmp_path, rng):
    # Documented behaviour: a WAV cut inside its data chunk is not an error; the
    # complete frames that remain are read (libsndfile fixes the frame count).
    data = (0.3 * rng.standard_normal((SR, 2))).clip(-0.99, 0.99).astype(np.float32)
    path = str(tmp_path / "cut.wav")
    sf.write(path, data, SR, subtype="PCM_24")
    header = os.path.getsize(path) - data.size * 3
    kept_frames = 1234
    _truncate(path, header + kept_frames * 2 * 3 + 4)  # plus part of the next frame
    X_kept, _, skipped = check_recordings([path])
    assert X_kept == [path] and skipped == []
    x = load_audio(path, sr=SR)
    assert x.shape == (kept_frames,)
    np.testing.assert_allclose(x, data[:kept_frames].mean(axis=1), atol=2**-22)
    # and it goes through the whole front end, as a shorter recording
    with pytest.warns(UserWarning, match=r": recording 0 \(0\.154 s, 1234 samples\)"):
        out = _small_frontend().transform([path])
    assert out.shape == (1, 1, 2, 32, 4000 // 200)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="permissions are not enforced for root"
)
def test_unreadable_file_in_batch(tmp_path, rng):
    good = _wav(tmp_path / "good.wav", rng)
    locked = _wav(tmp_path / "locked.wav", rng)
    os.chmod(locked, 0)
    try:
        with pytest.raises(AudioFileError, match=r"^Recording 1 failed to load: .*locked\.wav"):
            AudioLoader(sr=SR).transform([good, locked])
        with pytest.raises(AudioFileError, match=r"^Recording 1 failed to load: .*locked\.wav"):
            check_recordings([good, locked])
        with pytest.warns(UserWarning, match=r"locked\.wav"):
            X_kept, _, skipped = check_recordings([good, locked], on_error="skip")
        assert X_kept == [good] and [s[0] for s in skipped] == [1]
    finally:
        os.chmod(locked, 0o644)


# ------------------------------------------------------------------ check_recordings


def test_check_recordings_raise_names_first_bad(tmp_path, rng, bad_files):
    good = _wav(tmp_path / "good.wav", rng)
    X = [good, bad_files["directory"][0], bad_files["header20"][0]]
    with pytest.raises(AudioFileError, match=r"^Recording 1 failed to load: .*folder\.wav"):
        check_recordings(X, ["a", "b", "c"])
    # all good: returned as given, nothing skipped, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X_kept, y_kept, skipped = check_recordings([good, good], ["a", "b"])
    assert X_kept == [good, good] and y_kept == ["a", "b"] and skipped == []


def test_check_recordings_skip_warns_once_and_aligns_y(tmp_path, rng, bad_files):
    goods = [_wav(tmp_path / f"good{i}.wav", rng) for i in range(3)]
    X = [
        goods[0],
        bad_files["header20"][0],
        goods[1],
        bad_files["zero_bytes"][0],
        bad_files["missing"][0],
        goods[2],
    ]
    y = np.array(["park", "bus", "metro", "bus", "park", "street"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X_kept, y_kept, skipped = check_recordings(X, y, on_error="skip")
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    assert message.startswith("Skipped 3 of 6 recordings")
    for name in ("header20.wav", "zero.wav", "missing.flac"):
        assert name in message
    assert "contains no samples" not in message and "does not exist" in message
    assert caught[0].filename == __file__  # stacklevel points at the caller
    assert X_kept == goods
    np.testing.assert_array_equal(y_kept, ["park", "metro", "street"])
    assert [(i, p) for i, p, _ in skipped] == [(1, X[1]), (3, X[3]), (4, X[4])]
    assert all(reason.startswith(f"Recording {i} failed to load") for i, _, reason in skipped)
    # the kept recordings load, and give what loading the good files directly gives
    np.testing.assert_array_equal(
        AudioLoader(sr=SR).transform(X_kept), AudioLoader(sr=SR).transform(goods)
    )


def test_check_recordings_object_array_and_list_labels(tmp_path, rng, bad_files):
    good = _wav(tmp_path / "good.wav", rng)
    X = np.array([bad_files["text"][0], good, bad_files["random_mp3"][0]], dtype=object)
    with pytest.warns(UserWarning, match=r"(?s)Skipped 2 of 3 recordings.*notes\.txt.*noise\.mp3"):
        X_kept, y_kept, skipped = check_recordings(X, [0, 1, 2], on_error="skip")
    assert isinstance(X_kept, np.ndarray) and X_kept.dtype == object
    assert list(X_kept) == [good] and y_kept == [1]
    assert [i for i, _, _ in skipped] == [0, 2]
    X_kept, y_kept, _ = check_recordings(X[1:2])  # y=None stays None
    assert y_kept is None and list(X_kept) == [good]


@pytest.mark.parametrize(
    "item, exc, match",
    [
        (np.zeros(0), ValueError, r"^Recording 1 is empty"),
        (np.array([0.0, np.nan]), ValueError, r"^Recording 1 contains NaN or inf"),
        (
            np.array([1e300, 0.0]),
            ValueError,
            r"^Recording 1 holds samples of magnitude up to 1e\+300",
        ),
        (np.zeros((2, 2, 2)), ValueError, r"^Recording 1 has shape \(2, 2, 2\)"),
        (np.zeros(3, dtype=complex), TypeError, r"^Recording 1 has dtype complex128"),
        ([0.1, 0.2], TypeError, r"^Recording 1 is a list"),
    ],
)
def test_check_recordings_arrays(item, exc, match):
    good = np.zeros(100, np.float32)
    with pytest.raises(exc, match=match):
        check_recordings([good, item, good])
    with pytest.raises(exc, match=match):  # same error as the loader's
        AudioLoader().transform([good, item, good])
    listed = r"Skipped 1 of 3 recordings that cannot be loaded:\n  " + match[1:]
    with pytest.warns(UserWarning, match=listed):
        X_kept, y_kept, skipped = check_recordings(
            [good, item, good], ["a", "b", "c"], on_error="skip"
        )
    assert len(X_kept) == 2 and y_kept == ["a", "c"] and skipped[0][0] == 1


def test_check_recordings_nan_file_passes_but_loader_refuses(tmp_path):
    # Documented limit: samples are not decoded by default, so NaN in a file is the
    # loader's to find.
    data = np.zeros(100, np.float32)
    data[5] = np.nan
    path = str(tmp_path / "nan.wav")
    sf.write(path, data, SR, subtype="FLOAT")
    assert check_recordings([path])[2] == []
    with pytest.raises(AudioFileError, match=r"^Recording 0 failed to load: .*nan\.wav.*NaN"):
        AudioLoader(sr=SR).transform([path])
    # decode=True reads every sample, so check_recordings finds it too
    with pytest.raises(AudioFileError, match=r"^Recording 0 failed to load: .*nan\.wav.*NaN"):
        check_recordings([path], decode=True)


def test_check_recordings_every_recording_bad(bad_files):
    X = [bad_files["header20"][0], bad_files["missing"][0]]
    with pytest.raises(
        ValueError,
        match=r"(?s)skipped all 2 recordings.*header20\.wav"
        r".*missing\.flac",
    ):
        check_recordings(X, on_error="skip")


@pytest.mark.parametrize(
    "kwargs, X, exc, match",
    [
        (
            {"on_error": "ignore"},
            [np.zeros(3)],
            ValueError,
            r"'on_error' parameter of check_recordings must be one of \{'raise', 'skip'\}\. "
            r"Got 'ignore' instead",
        ),
        ({"y": [1, 2]}, [np.zeros(3)], ValueError, r"1 recordings but 2 labels"),
        ({}, "one.wav", ValueError, r"single path 'one.wav'"),
        ({}, [], ValueError, r"X is empty"),
        ({}, np.zeros((2, 10)), ValueError, r"dense numeric array of shape \(2, 10\)"),
    ],
)
def test_check_recordings_bad_arguments(kwargs, X, exc, match):
    with pytest.raises(exc, match=match):
        check_recordings(X, **kwargs)
