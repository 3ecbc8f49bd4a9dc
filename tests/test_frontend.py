"""FrontEnd: the per-recording chain, joblib parallelism and the feature cache."""

import os
import pickle
import re
import warnings

import numpy as np
import pytest
import soundfile as sf
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from skasc.frontend import front_end as frontend
from skasc.frontend.audio import AudioLoader
from skasc.frontend.denoise import MinStatsDenoiser
from skasc.frontend.features import LogMelExtractor
from skasc.frontend.front_end import FrontEnd
from skasc.frontend.segment import Segmenter, ShortRecordingWarning

SR = 22050


def chain(X, *, denoise=True, extractor=None):
    """The four steps applied one after the other to the whole batch."""
    out = AudioLoader().transform(X)
    if denoise:
        out = MinStatsDenoiser().transform(out)
    out = Segmenter().transform(out)
    return (extractor or LogMelExtractor()).transform(out)


def assert_batches_equal(a, b):
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(ra, rb)


@pytest.fixture
def waves(rng):
    """Two 4-s recordings at 22050 Hz (noise with a tone)."""
    t = np.arange(4 * SR) / SR
    return [
        (0.05 * rng.standard_normal(t.size) + 0.1 * np.sin(2 * np.pi * f * t)).astype(np.float32)
        for f in (440.0, 1250.0)
    ]


@pytest.fixture
def wav_paths(tmp_path, rng):
    """Three WAV files of 4, 6 and 4 s (16-bit), the third at 44.1 kHz stereo."""
    paths = []
    for i, (seconds, sr, channels) in enumerate([(4, SR, 1), (6, SR, 1), (4, 44100, 2)]):
        x = 0.1 * rng.standard_normal((seconds * sr, channels))
        path = tmp_path / f"rec{i}.wav"
        sf.write(path, x, sr, subtype="PCM_16")
        paths.append(str(path))
    return paths


@pytest.fixture
def count_extractions(monkeypatch):
    """Counts LogMelExtractor.transform calls (in this process: n_jobs=None)."""
    calls = []
    original = LogMelExtractor.transform

    def counting(self, X):
        calls.append(1)
        return original(self, X)

    monkeypatch.setattr(LogMelExtractor, "transform", counting)
    return calls


# ----------------------------------------------------------------------------
# same result as the chain of steps
# ----------------------------------------------------------------------------


def test_arrays_equal_step_by_step_chain(waves):
    out = FrontEnd().fit_transform(waves)
    assert out.shape == (2, 2, 2, 64, 80) and out.dtype == np.float32
    assert_batches_equal(out, chain(waves))


def test_paths_ragged_equal_step_by_step_chain(wav_paths):
    out = FrontEnd().transform(wav_paths)
    expected = chain(wav_paths)
    # 4 s, 6 s, 4 s -> 2, 3, 2 segments: a 1-D object batch
    assert out.dtype == object and out.shape == (3,)
    assert [r.shape for r in out] == [(2, 2, 64, 80), (3, 2, 64, 80), (2, 2, 64, 80)]
    assert all(r.dtype == np.float32 for r in out)
    assert_batches_equal(out, expected)


def test_mixed_paths_and_arrays(wav_paths, waves):
    X = [wav_paths[0], waves[0]]
    assert_batches_equal(FrontEnd().transform(X), chain(X))


def test_denoiser_drop_gives_one_channel(waves):
    out = FrontEnd(denoiser="drop").transform(waves)
    assert out.shape == (2, 2, 1, 64, 80)
    assert_batches_equal(out, chain(waves, denoise=False))
    # channel 0 of the full front end is the same original-signal channel, up to float32
    # rounding: the filterbank's one GEMM over all channels may be blocked differently
    # by BLAS for one channel than for two (it is, with numpy 2.4's OpenBLAS)
    np.testing.assert_allclose(FrontEnd().transform(waves)[:, :, :1], out, rtol=1e-6, atol=1e-5)


def test_n_jobs_2_equals_n_jobs_1(wav_paths):
    # joblib's workers run BLAS on one thread each; the filterbank product summed on
    # one thread here too gives bit-identical features (with several BLAS threads the
    # last float32 bit may differ).
    parallel = FrontEnd(n_jobs=2).transform(wav_paths)
    with threadpool_limits(limits=1):
        assert_batches_equal(parallel, FrontEnd(n_jobs=1).transform(wav_paths))


# ----------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, shown",
    [
        ({"extractor": LogMelExtractor(sr=16000)}, "extractor.sr=16000"),
        ({"segmenter": Segmenter(sr=44100)}, "segmenter.sr=44100"),
        ({"loader": AudioLoader(sr=16000)}, "loader.sr=16000"),
    ],
)
def test_mismatched_sr_is_a_clear_error(kwargs, shown, waves):
    front = FrontEnd(**kwargs)
    pattern = r"must share one sampling rate; got .*" + re.escape(shown)
    with pytest.raises(ValueError, match=pattern):
        front.fit(waves)
    with pytest.raises(ValueError, match=pattern):
        front.transform(waves)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_bad_file_names_its_path(tmp_path, wav_paths, n_jobs):
    bad = tmp_path / "broken.wav"
    bad.write_text("this is not audio")
    with pytest.raises(ValueError, match=r"Recording 1\b.*" + re.escape(str(bad))):
        FrontEnd(n_jobs=n_jobs).transform([wav_paths[0], str(bad)])


def test_missing_file_names_its_path_with_cache(tmp_path, wav_paths):
    missing = str(tmp_path / "nowhere.wav")
    with pytest.raises(ValueError, match=r"Recording 2\b.*" + re.escape(missing)):
        FrontEnd(memory=str(tmp_path / "cache")).transform(wav_paths[:2] + [missing])


def test_error_names_index_in_the_users_batch(waves):
    bad = waves[1].copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match=r"Recording 2 contains NaN or inf samples"):
        FrontEnd().transform([waves[0], waves[0], bad])


def _bad_recordings(tmp_path, waves):
    """(name, recording) of recordings each front-end step refuses, naming them."""
    nan = waves[0].copy()
    nan[100] = np.nan
    named_like_a_message = tmp_path / "Recording 0 take2.wav"
    named_like_a_message.write_text("not audio; recording 0 has shape (2,)")
    huge = np.full(4 * SR, 1e30, np.float32)  # finite, but its power spectra overflow
    return [
        ("nan", nan),
        ("empty", np.zeros(0, np.float32)),
        ("transposed", np.zeros((SR, 2), np.float32)),
        ("int64", np.zeros(SR, np.int64)),
        ("a dict", {"x": 1}),
        ("unreadable file", str(named_like_a_message)),
        ("overflow", huge),
    ]


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_errors_name_the_index_in_the_users_batch_as_data(tmp_path, waves, n_jobs):
    """A step's error about a recording carries its index as data; the front end, whose
    steps see one recording at a time, raises it again for the index in the user's batch:
    the message the steps give for the whole batch, where they name that index
    themselves."""
    for name, bad in _bad_recordings(tmp_path, waves):
        X = [waves[0], waves[1], bad]
        with pytest.raises((ValueError, TypeError)) as whole:
            chain(X)
        assert whole.value.recording_index == 2, name
        with pytest.raises(type(whole.value)) as got:
            FrontEnd(n_jobs=n_jobs).transform(X)
        assert str(got.value) == str(whole.value), name
        assert got.value.recording_index == 2
        assert got.value.recording_detail == whole.value.recording_detail


def test_parameter_errors_pass_through_unchanged(waves):
    with pytest.raises(ValueError, match="'n_mels' parameter of LogMelExtractor") as info:
        FrontEnd(extractor=LogMelExtractor(n_mels=0)).transform(waves)
    assert not hasattr(info.value, "recording_index")


def test_single_path_is_refused(wav_paths):
    with pytest.raises(ValueError, match="single path"):
        FrontEnd().transform(wav_paths[0])


def test_empty_batch_is_refused():
    with pytest.raises(ValueError, match="expected at least one recording"):
        FrontEnd().transform([])


@pytest.mark.parametrize("memory", [3, object()])
def test_bad_memory_type(memory, waves):
    with pytest.raises(TypeError, match="'memory' parameter of FrontEnd must be None"):
        FrontEnd(memory=memory).fit(waves)


@pytest.mark.parametrize(
    "name, value, pattern",
    [
        ("verbose", -1, r"'verbose' parameter of FrontEnd must be an int in the range \[0, inf\)"),
        ("n_jobs", 1.5, r"'n_jobs' parameter of FrontEnd must be a non-zero int"),
        (
            "n_jobs",
            0,
            r"'n_jobs' parameter of FrontEnd must be a non-zero int \(-1 for all "
            r"cores\) or None\. Got 0 instead",
        ),
    ],
)
def test_bad_int_params(name, value, pattern, waves):
    with pytest.raises((ValueError, TypeError), match=pattern):
        FrontEnd(**{name: value}).fit(waves)


# ----------------------------------------------------------------------------
# the feature cache
# ----------------------------------------------------------------------------


def test_cache_serves_second_run_without_recomputing(
    tmp_path, wav_paths, capsys, count_extractions
):
    cache = str(tmp_path / "cache")
    front = FrontEnd(memory=cache, verbose=1)
    first = front.transform(wav_paths)
    assert len(count_extractions) == 3
    assert "[FrontEnd] 0/3 recordings served from the cache in" in capsys.readouterr().out

    second = FrontEnd(memory=cache, verbose=1).transform(wav_paths)
    assert len(count_extractions) == 3  # nothing recomputed
    assert f"[FrontEnd] 3/3 recordings served from the cache in {cache}" in (
        capsys.readouterr().out
    )
    assert_batches_equal(second, first)
    assert_batches_equal(second, chain(wav_paths))


def test_touching_a_file_invalidates_only_its_entry(tmp_path, wav_paths, capsys, count_extractions):
    cache = str(tmp_path / "cache")
    front = FrontEnd(memory=cache, verbose=1)
    front.transform(wav_paths)
    st = os.stat(wav_paths[1])
    os.utime(wav_paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    capsys.readouterr()
    front.transform(wav_paths)
    assert "2/3 recordings served" in capsys.readouterr().out
    assert len(count_extractions) == 4  # 3 + the touched file


def test_rewritten_file_gives_new_features(tmp_path, wav_paths, rng):
    cache = str(tmp_path / "cache")
    old = FrontEnd(memory=cache).transform(wav_paths[:1])
    sf.write(wav_paths[0], 0.2 * rng.standard_normal(4 * SR), SR, subtype="PCM_16")
    st = os.stat(wav_paths[0])
    os.utime(wav_paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    new = FrontEnd(memory=cache).transform(wav_paths[:1])
    assert not np.array_equal(old, new)
    assert_batches_equal(new, chain(wav_paths[:1]))


def test_changed_step_params_miss_the_cache(tmp_path, wav_paths, capsys):
    cache = str(tmp_path / "cache")
    FrontEnd(memory=cache).transform(wav_paths)
    front = FrontEnd(memory=cache, verbose=1).set_params(extractor=LogMelExtractor(n_mels=32))
    out = front.transform(wav_paths)
    assert "0/3 recordings served" in capsys.readouterr().out
    assert out[0].shape == (2, 2, 32, 80)


def test_changed_code_misses_the_cache(tmp_path, wav_paths, capsys, monkeypatch):
    # An extractor defined in a module of its own; editing that module's source (as
    # an upgrade would) must not serve the features the old code computed.
    module_dir = tmp_path / "code"
    module_dir.mkdir()
    source = module_dir / "my_features.py"
    source.write_text(
        "from skasc.frontend.features import LogMelExtractor\n\n\n"
        "class MyLogMel(LogMelExtractor):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(module_dir))
    import my_features

    cache = str(tmp_path / "cache")
    front = FrontEnd(extractor=my_features.MyLogMel(), memory=cache, verbose=1)
    first = front.transform(wav_paths)
    front.transform(wav_paths)
    assert "3/3 recordings served" in capsys.readouterr().out
    source.write_text(source.read_text() + "# changed\n")
    again = front.transform(wav_paths)
    assert "0/3 recordings served" in capsys.readouterr().out
    assert_batches_equal(again, first)
    assert len(os.listdir(cache)) == 2  # one folder per code version


def test_code_fingerprint_covers_the_front_end_and_dsp_packages(monkeypatch, tmp_path):
    """Every module of skasc.frontend and skasc.dsp and skasc's private helpers
    (stack_recordings in skasc._recordings shapes the cached output) are hashed, and
    so is a module added to those packages later: no hand-kept list to forget."""
    import shutil

    import skasc

    package = os.path.dirname(os.path.abspath(skasc.__file__))
    expected = {
        f"skasc/{folder}/{name}"
        for folder in ("frontend", "dsp")
        for name in os.listdir(os.path.join(package, folder))
        if name.endswith(".py")
    }
    expected |= {
        f"skasc/{name}"
        for name in os.listdir(package)
        if name.endswith(".py") and name.startswith("_") and not name.startswith("__")
    }
    steps = FrontEnd()._steps()
    assert set(frontend._code_files(steps)) == expected
    assert "skasc/_recordings.py" in expected and "skasc/dsp/minstats.py" in expected
    before = frontend._code_fingerprint(steps)
    copy = tmp_path / "skasc"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(frontend, "_PACKAGE", str(copy))
    assert frontend._code_fingerprint(steps) == before  # named by place, not by path
    (copy / "frontend" / "new_helper.py").write_text("SCALE = 2\n")
    assert frontend._code_fingerprint(steps) != before
    (copy / "frontend" / "new_helper.py").unlink()
    (copy / "_recordings.py").write_text((copy / "_recordings.py").read_text() + "# edit\n")
    assert frontend._code_fingerprint(steps) != before


def test_code_fingerprint_covers_a_step_defined_elsewhere(tmp_path, monkeypatch):
    module = tmp_path / "my_extractor.py"
    module.write_text(
        "from skasc.frontend.features import LogMelExtractor\n"
        "class MyExtractor(LogMelExtractor):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from my_extractor import MyExtractor

    steps = FrontEnd(extractor=MyExtractor())._steps()
    assert frontend._code_files(steps)["my_extractor"] == str(module)


def test_code_fingerprint_follows_library_versions(monkeypatch):
    steps = FrontEnd()._steps()
    before = frontend._code_fingerprint(steps)
    assert frontend._code_fingerprint(steps) == before  # stable
    real = frontend.importlib.metadata.version
    monkeypatch.setattr(
        frontend.importlib.metadata,
        "version",
        lambda name: "0.0" if name == "librosa" else real(name),
    )
    assert frontend._code_fingerprint(steps) != before


def test_cache_for_arrays_is_keyed_by_samples(tmp_path, waves, capsys, count_extractions):
    cache = str(tmp_path / "cache")
    FrontEnd(memory=cache).transform(waves)
    other = [waves[0], waves[1] * 0.5]
    out = FrontEnd(memory=cache, verbose=1).transform(other)
    assert "1/2 recordings served" in capsys.readouterr().out
    assert len(count_extractions) == 3
    assert_batches_equal(out, chain(other))


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_warning_from_cache_names_the_current_index(tmp_path, waves, n_jobs):
    short = waves[0][: SR // 2]  # shorter than one 2-s segment: Segmenter warns
    cache = str(tmp_path / "cache")
    with pytest.warns(
        UserWarning,
        match=r"^1 of 1 recordings was shorter than "
        r"one segment .*: recording 0 \(0\.500 s, ",
    ):
        FrontEnd(memory=cache, n_jobs=n_jobs).transform([short])
    # replayed from the cache, the warning names the recording's place in this batch
    with pytest.warns(
        UserWarning,
        match=r"^1 of 3 recordings was shorter than "
        r"one segment .*: recording 2 \(0\.500 s, ",
    ):
        FrontEnd(memory=cache, n_jobs=n_jobs).transform([waves[0], waves[1], short])


def test_unreadable_cache_entries_are_recomputed_with_one_warning(
    tmp_path, waves, count_extractions
):
    short = waves[0][: SR // 2]  # its entry has a .json of warnings beside the .npy
    X = [waves[0], waves[1], short]
    cache = tmp_path / "cache"
    with pytest.warns(UserWarning, match=r"^1 of 3 recordings .*: recording 2 \(0\.500 s, "):
        first = FrontEnd(memory=str(cache)).transform(X)
    files = sorted(p for p in cache.rglob("*") if p.is_file())
    (note,) = [p for p in files if p.suffix == ".json"]
    npys = [p for p in files if p.suffix == ".npy" and p.stem != note.stem]
    assert len(npys) == 2
    npys[0].write_bytes(b"")  # emptied: EOFError in np.load
    npys[1].write_bytes(npys[1].read_bytes()[:300])  # cut in the data: ValueError
    note.write_text('[["UserWarning", ')  # cut json of the short one's notes
    del count_extractions[:]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = FrontEnd(memory=str(cache)).transform(X)
    messages = [str(w.message) for w in caught]
    cache_warnings = [m for m in messages if "feature-cache" in m]
    assert len(cache_warnings) == 1, messages
    assert cache_warnings[0].startswith(f"3 feature-cache entries in {cache} could not be read")
    for path in (npys[0], npys[1]):
        assert f"{path}: " in cache_warnings[0]
    assert f"{note}: JSONDecodeError" in cache_warnings[0]
    assert len(count_extractions) == 3  # all three recomputed
    assert any(
        m.startswith("1 of 3 recordings was shorter than one segment")
        and "recording 2 (0.500 s, " in m
        for m in messages
    )
    assert_batches_equal(second, first)
    # replaced atomically: a third run is served from the cache, silently
    del count_extractions[:]
    with pytest.warns(
        UserWarning, match=r"^1 of 3 recordings .*: recording 2 \(0\.500 s, "
    ) as caught:
        assert_batches_equal(FrontEnd(memory=str(cache)).transform(X), first)
    assert len(caught) == 1 and count_extractions == []


def test_cache_with_n_jobs_2(tmp_path, wav_paths, capsys, count_extractions):
    cache = str(tmp_path / "cache")
    first = FrontEnd(memory=cache, n_jobs=2).transform(wav_paths)
    # filled by the workers, read here (n_jobs=None): nothing recomputed in this process
    second = FrontEnd(memory=cache, verbose=1).transform(wav_paths)
    assert "3/3 recordings served" in capsys.readouterr().out
    assert len(count_extractions) == 0
    assert_batches_equal(first, second)


# ----------------------------------------------------------------------------
# estimator API
# ----------------------------------------------------------------------------


def test_get_set_params_route_to_the_steps(waves):
    front = FrontEnd(extractor=LogMelExtractor())
    assert front.get_params()["extractor__n_mels"] == 64
    front.set_params(extractor__n_mels=40, segmenter=Segmenter(segment_duration=1.0))
    assert front.get_params()["segmenter__segment_duration"] == 1.0
    assert front.transform(waves).shape == (2, 4, 2, 40, 40)


def test_clone_is_independent(waves):
    front = FrontEnd(extractor=LogMelExtractor(n_mels=32), n_jobs=2)
    twin = clone(front)
    assert twin.extractor is not front.extractor
    assert twin.get_params()["extractor__n_mels"] == 32 and twin.n_jobs == 2
    twin.set_params(extractor__n_mels=16)
    assert front.extractor.n_mels == 32


def test_transform_does_not_change_params(waves):
    front = FrontEnd(extractor=LogMelExtractor())
    before = pickle.dumps(front)
    front.transform(waves)
    assert pickle.dumps(front) == before


def test_pickle_round_trip(waves):
    front = FrontEnd(extractor=LogMelExtractor(n_mels=32), denoiser="drop")
    again = pickle.loads(pickle.dumps(front))
    assert again.get_params()["extractor__n_mels"] == 32
    assert_batches_equal(again.transform(waves), front.transform(waves))


def test_pickle_with_memory_path_is_by_path(tmp_path, wav_paths, capsys):
    cache = str(tmp_path / "cache")
    front = FrontEnd(memory=cache, verbose=1)
    empty = len(pickle.dumps(front))
    front.transform(wav_paths)
    blob = pickle.dumps(front)
    assert len(blob) == empty < 10_000  # the cached features do not travel
    again = pickle.loads(blob)
    assert again.memory == cache
    capsys.readouterr()
    again.transform(wav_paths)
    assert "3/3 recordings served" in capsys.readouterr().out


def test_pickle_with_memory_object(tmp_path, wav_paths, capsys):
    from joblib import Memory

    front = FrontEnd(memory=Memory(str(tmp_path / "cache"), verbose=0), verbose=1)
    front.transform(wav_paths[:2])
    again = pickle.loads(pickle.dumps(front))
    assert len(pickle.dumps(front)) < 10_000
    capsys.readouterr()
    again.transform(wav_paths[:2])
    assert "2/2 recordings served" in capsys.readouterr().out


def test_requires_no_fit_tag():
    assert FrontEnd().__sklearn_tags__().requires_fit is False


def _padding_warnings(caught):
    return [str(w.message) for w in caught if issubclass(w.category, ShortRecordingWarning)]


@pytest.mark.parametrize("n_jobs", [None, 2])
@pytest.mark.parametrize("cached", [False, True])
def test_many_short_recordings_give_one_warning(tmp_path, waves, n_jobs, cached):
    shorts = [waves[0][: int(SR * s)] for s in (0.5, 1.2, 0.3, 1.9, 0.7, 1.0, 0.4)]
    X = [shorts[0], waves[0], *shorts[1:4], waves[1], *shorts[4:]]
    memory = str(tmp_path / "cache") if cached else None
    with warnings.catch_warnings(record=True) as whole:
        warnings.simplefilter("always")
        Segmenter().transform(X)  # the message for the batch as a whole
    (expected,) = _padding_warnings(whole)
    padded = whole[0].message.padded
    assert padded == [
        (0, SR // 2),
        (2, int(1.2 * SR)),
        (3, int(0.3 * SR)),
        (4, int(1.9 * SR)),
        (6, int(0.7 * SR)),
        (7, SR),
        (8, int(0.4 * SR)),
    ]
    assert expected.startswith("7 of 9 recordings were shorter than one segment")
    assert "recording 0 (0.500 s, 11025 samples), recording 2 (1.200 s, " in expected
    assert expected.endswith(" and 2 more. Lower segment_duration to avoid padding.")
    for _ in range(2 if cached else 1):  # cache misses, then hits
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            FrontEnd(memory=memory, n_jobs=n_jobs).transform(X)
        assert _padding_warnings(caught) == [expected]
        assert caught[0].filename == __file__
        assert caught[0].message.padded == padded  # the records, as data
        assert (caught[0].message.n_recordings, caught[0].message.segment_length) == (9, 2 * SR)
    if cached:
        # hits and misses in one batch, at other places: still one warning, new indices
        Y = [waves[0], shorts[3], waves[0][: SR // 10], shorts[0]]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            FrontEnd(memory=memory, n_jobs=n_jobs).transform(Y)
        assert _padding_warnings(caught) == [
            "3 of 4 recordings were shorter than one segment (2.000 s, 44100 samples) and "
            "were zero-padded to one segment: recording 1 (1.900 s, 41895 samples), "
            "recording 2 (0.100 s, 2205 samples), recording 3 (0.500 s, 11025 samples). "
            "Lower segment_duration to avoid padding."
        ]


def test_other_warnings_are_replayed_beside_the_padding_warning(tmp_path, waves, monkeypatch):
    real = LogMelExtractor.transform

    def noisy(self, X):
        warnings.warn(f"{len(X[0])} segments", RuntimeWarning, stacklevel=1)
        return real(self, X)

    monkeypatch.setattr(LogMelExtractor, "transform", noisy)
    X = [waves[0], waves[0][: SR // 2], waves[1][:SR]]
    cache = str(tmp_path / "cache")
    for _ in range(2):  # computed, then replayed from the cache
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            FrontEnd(memory=cache).transform(X)
        messages = [(w.category, str(w.message)) for w in caught]
        assert messages[0] == (RuntimeWarning, "2 segments")
        assert messages[1][0] is ShortRecordingWarning  # a UserWarning
        assert messages[1][1].startswith("2 of 3 recordings were shorter than one segment")
        assert caught[1].message.padded == [(1, SR // 2), (2, SR)]
        assert messages[2:] == [(RuntimeWarning, "1 segments"), (RuntimeWarning, "1 segments")]
