import os
import pickle

import numpy as np
import pytest
import soundfile as sf
import soxr
from scipy.signal import resample_poly
from sklearn.base import clone

from skasc.frontend.audio import AudioFileError, AudioLoader, _as_waveform, load_audio


def _write(path, data, rate, **kwargs):
    sf.write(str(path), data, rate, **kwargs)
    return str(path)


def _reference(path, sr):
    """Independent reading: soundfile -> mean over channels -> soxr."""
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    if rate != sr:
        mono = soxr.resample(mono, rate, sr, quality="HQ")
    return mono


FORMATS = [
    # (extension, format, subtype, file rate, channels)
    ("wav", "WAV", "PCM_16", 48000, 2),
    ("wav", "WAV", "PCM_24", 44100, 1),
    ("wav", "WAV", "FLOAT", 22050, 2),
    ("flac", "FLAC", "PCM_16", 16000, 3),
    ("ogg", "OGG", "VORBIS", 48000, 2),
]


@pytest.mark.parametrize("ext, fmt, subtype, rate, channels", FORMATS)
def test_load_audio_matches_independent_read(tmp_path, rng, ext, fmt, subtype, rate, channels):
    data = 0.3 * rng.standard_normal((rate, channels))  # 1 s
    path = _write(tmp_path / f"x.{ext}", data, rate, format=fmt, subtype=subtype)
    x = load_audio(path, sr=22050)
    assert x.dtype == np.float32 and x.ndim == 1
    assert x.shape == (22050,)  # 1 s at any rate -> 22050 samples
    np.testing.assert_allclose(x, _reference(path, 22050), atol=1e-5)


def test_load_audio_without_resampling_keeps_samples(tmp_path, rng):
    data = (0.5 * rng.standard_normal((1000, 2))).astype(np.float32)
    path = _write(tmp_path / "f.wav", data, 22050, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), data.mean(axis=1), rtol=0, atol=1e-7)
    data16 = (0.5 * rng.standard_normal(1000)).clip(-1, 1)
    path16 = _write(tmp_path / "i.wav", data16, 22050, subtype="PCM_16")
    np.testing.assert_allclose(load_audio(path16), data16, atol=1.0 / 32768)


@pytest.mark.parametrize(
    "file_rate, sr", [(48000, 22050), (44100, 22050), (16000, 22050), (22050, 16000)]
)
def test_resampling_preserves_sine_frequency(tmp_path, file_rate, sr):
    freq = 1000.0
    t = np.arange(file_rate) / file_rate
    path = _write(
        tmp_path / "sine.wav", 0.5 * np.sin(2 * np.pi * freq * t), file_rate, subtype="FLOAT"
    )
    x = load_audio(path, sr=sr)
    assert x.shape == (sr,)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    peak_hz = np.argmax(spectrum) * sr / x.size
    assert abs(peak_hz - freq) <= 1.0
    # amplitude survives too (away from the filter's edge effects)
    mid = x[sr // 4 : 3 * sr // 4]
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-2)
    # and the waveform agrees with scipy's polyphase resampler, a different algorithm
    g = np.gcd(file_rate, sr)
    ref = resample_poly(0.5 * np.sin(2 * np.pi * freq * t), sr // g, file_rate // g)
    np.testing.assert_allclose(mid, ref[sr // 4 : 3 * sr // 4], atol=5e-3)


def test_load_audio_missing_file(tmp_path):
    path = str(tmp_path / "nope.wav")
    with pytest.raises(AudioFileError, match=r"nope\.wav.*does not exist"):
        load_audio(path)
    with pytest.raises(ValueError, match="does not exist"):  # AudioFileError is a ValueError
        load_audio(tmp_path / "nope.wav")


def test_load_audio_directory(tmp_path):
    with pytest.raises(AudioFileError, match=r"is a directory"):
        load_audio(tmp_path)


@pytest.mark.parametrize(
    "name, content",
    [
        ("bad.wav", b"RIFF\x00\x01garbage" * 10),
        ("text.ogg", b"hello, not audio"),
        ("empty.flac", b""),
    ],
)
def test_load_audio_corrupt_or_unsupported(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match=rf"{name.replace('.', '[.]')}.*could not be read"):
        load_audio(str(path))


def test_load_audio_zero_length(tmp_path):
    path = _write(tmp_path / "zero.wav", np.zeros((0, 2)), 22050, subtype="PCM_16")
    with pytest.raises(AudioFileError, match=r"zero\.wav.*no samples"):
        load_audio(path)


def test_load_audio_nan(tmp_path):
    data = np.zeros(100, dtype=np.float32)
    data[10] = np.nan
    path = _write(tmp_path / "nan.wav", data, 22050, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"nan\.wav.*NaN or inf"):
        load_audio(path)
    data[10] = np.inf
    path = _write(tmp_path / "inf.wav", data, 22050, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"inf\.wav.*NaN or inf"):
        load_audio(path)


def test_load_audio_too_short_to_resample(tmp_path):
    path = _write(tmp_path / "one.wav", np.zeros(1), 48000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"one\.wav.*too short"):
        load_audio(path, sr=22050)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="permissions are not enforced for root"
)
def test_load_audio_permission_denied(tmp_path):
    path = _write(tmp_path / "locked.wav", np.zeros(100), 22050, subtype="PCM_16")
    os.chmod(path, 0)
    try:
        with pytest.raises(AudioFileError, match=r"locked\.wav"):
            load_audio(path)
    finally:
        os.chmod(path, 0o644)


def test_load_audio_bad_sr(tmp_path):
    path = _write(tmp_path / "x.wav", np.zeros(100), 22050, subtype="PCM_16")
    with pytest.raises(ValueError, match=r"'sr' parameter of load_audio .* Got 0"):
        load_audio(path, sr=0)
    with pytest.raises(TypeError, match=r"'sr' parameter of load_audio .* Got 22050.5"):
        load_audio(path, sr=22050.5)


# ----------------------------------------------------------------- arrays


def test_as_waveform_arrays(rng):
    mono = rng.standard_normal(4410).astype(np.float64)
    out = _as_waveform(mono, index=0, sr=22050, input_sr=None)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, mono, rtol=1e-6, atol=1e-7)
    stereo = rng.standard_normal((2, 4410))  # channels first
    np.testing.assert_allclose(
        _as_waveform(stereo, index=0, sr=22050, input_sr=22050),
        stereo.mean(axis=0),
        rtol=1e-5,
        atol=1e-6,
    )
    # resampled from input_sr
    x = rng.standard_normal(48000)
    out = _as_waveform(x, index=0, sr=22050, input_sr=48000)
    np.testing.assert_allclose(out, soxr.resample(x, 48000, 22050), atol=1e-5)


def test_integer_arrays_are_scaled_like_soundfile(tmp_path, rng):
    x16 = rng.integers(-32768, 32767, size=2000, dtype=np.int16)
    path = _write(tmp_path / "i16.wav", x16, 22050, subtype="PCM_16")
    np.testing.assert_array_equal(
        _as_waveform(x16, index=0, sr=22050, input_sr=None), load_audio(path)
    )
    np.testing.assert_allclose(
        _as_waveform(x16, index=0, sr=22050, input_sr=None), x16 / 32768.0, rtol=1e-6
    )
    x32 = np.array([-(2**31), 0, 2**30], dtype=np.int32)
    np.testing.assert_allclose(
        _as_waveform(x32, index=0, sr=22050, input_sr=None), [-1.0, 0.0, 0.5]
    )
    u8 = np.array([0, 128, 192], dtype=np.uint8)
    np.testing.assert_allclose(_as_waveform(u8, index=0, sr=22050, input_sr=None), [-1.0, 0.0, 0.5])
    i8 = np.array([-128, 0, 64], dtype=np.int8)
    np.testing.assert_allclose(_as_waveform(i8, index=0, sr=22050, input_sr=None), [-1.0, 0.0, 0.5])
    # byte order does not matter: big-endian int16 is still 16-bit PCM
    np.testing.assert_array_equal(
        _as_waveform(x16.astype(">i2"), index=0, sr=22050, input_sr=None),
        _as_waveform(x16, index=0, sr=22050, input_sr=None),
    )


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.uint32, np.uint64])
def test_integer_arrays_without_a_pcm_convention_are_refused(dtype):
    with pytest.raises(
        TypeError,
        match=rf"^Recording 4 has dtype {np.dtype(dtype)}, which "
        r"is not a PCM sample type",
    ):
        _as_waveform(np.zeros(100, dtype), index=4, sr=22050, input_sr=None)


@pytest.mark.parametrize(
    "shape, refused",
    [
        ((9, 8), True),
        ((44100, 2), True),
        ((100, 1), True),
        ((8, 3), False),
        ((2, 100), False),
        ((9, 9), False),
    ],
)
def test_transposed_arrays_are_refused(shape, refused):
    # more than 8 rows and at most 8 columns: soundfile's (n_samples, n_channels)
    x = np.full(shape, 0.25)
    if refused:
        with pytest.raises(
            ValueError,
            match=rf"^Recording 0 has shape \({shape[0]}, "
            rf"{shape[1]}\).*looks transposed.*x\.T",
        ):
            _as_waveform(x, index=0, sr=22050, input_sr=None)
    else:
        np.testing.assert_allclose(_as_waveform(x, index=0, sr=22050, input_sr=None), 0.25)


@pytest.mark.parametrize(
    "item, exc, match",
    [
        (np.zeros(0), ValueError, r"Recording 3 is empty"),
        (np.zeros((2, 0)), ValueError, r"Recording 3 is empty"),
        (np.array([0.0, np.nan]), ValueError, r"Recording 3 contains NaN or inf"),
        (np.array([0.0, np.inf]), ValueError, r"Recording 3 contains NaN or inf"),
        (
            np.array([1e300, 0.0]),
            ValueError,
            r"Recording 3 holds samples of magnitude up to 1e\+300, "
            r"beyond the range of float32",
        ),
        (np.array(["a", "b"]), TypeError, r"Recording 3 has dtype <U1"),
        (np.zeros(4, dtype=complex), TypeError, r"Recording 3 has dtype complex128"),
        (np.zeros(4, dtype=bool), TypeError, r"Recording 3 has dtype bool"),
        (np.zeros((1, 2, 3)), ValueError, r"Recording 3 has shape \(1, 2, 3\)"),
        ([0.0, 1.0], TypeError, r"Recording 3 is a list; expected a path"),
        (42, TypeError, r"Recording 3 is a int"),
    ],
)
def test_as_waveform_errors(item, exc, match):
    with pytest.raises(exc, match=match):
        _as_waveform(item, index=3, sr=22050, input_sr=None)


def test_as_waveform_too_short_to_resample():
    with pytest.raises(ValueError, match=r"Recording 2 is too short"):
        _as_waveform(np.zeros(1), index=2, sr=22050, input_sr=48000)


# ----------------------------------------------------------------- AudioLoader


def test_loader_mixes_paths_and_arrays(tmp_path, rng):
    data = 0.3 * rng.standard_normal((48000, 2))
    path = _write(tmp_path / "a.wav", data, 48000, subtype="FLOAT")
    arr = rng.standard_normal((2, 44100)).astype(np.float32)
    X = AudioLoader(sr=22050, input_sr=44100).transform([path, arr, tmp_path / "a.wav"])
    assert isinstance(X, np.ndarray) and X.dtype == np.float32 and X.shape == (3, 22050)
    np.testing.assert_allclose(X[0], _reference(path, 22050), atol=1e-5)
    np.testing.assert_allclose(X[1], soxr.resample(arr.mean(axis=0), 44100, 22050), atol=1e-5)
    np.testing.assert_array_equal(X[2], X[0])


def test_loader_ragged_when_lengths_differ(rng):
    a, b = rng.standard_normal(100), rng.standard_normal(250)
    X = AudioLoader().transform([a, b])
    assert X.dtype == object and X.shape == (2,)
    assert X[0].shape == (100,) and X[1].shape == (250,)
    assert X[0].dtype == np.float32
    np.testing.assert_allclose(X[1], b, rtol=1e-6)
    # an object array is a valid batch too (what cross-validation indexing gives)
    again = AudioLoader().transform(X)
    assert again.dtype == object
    np.testing.assert_array_equal(again[1], X[1])


def test_loader_parallel_equals_sequential(tmp_path, rng):
    items = [
        _write(tmp_path / f"{i}.flac", 0.2 * rng.standard_normal((16000, 2)), 16000)
        for i in range(3)
    ] + [rng.standard_normal(16000)]
    seq = AudioLoader(input_sr=16000).transform(items)
    par = AudioLoader(input_sr=16000, n_jobs=2).transform(items)
    np.testing.assert_array_equal(seq, par)


def test_loader_file_error_names_index_and_path(tmp_path, rng):
    good = rng.standard_normal(100)
    with pytest.raises(
        AudioFileError, match=r"Recording 1 failed to load: Audio file .*missing\.wav"
    ):
        AudioLoader().transform([good, str(tmp_path / "missing.wav")])
    with pytest.raises(
        AudioFileError, match=r"Recording 1 failed to load: Audio file .*missing\.wav"
    ):
        AudioLoader(n_jobs=2).transform([good, str(tmp_path / "missing.wav")])


@pytest.mark.parametrize(
    "X, exc, match",
    [
        (np.zeros(100), ValueError, r"single numeric array of shape \(100,\).*Pass \[x\]"),
        (
            np.zeros((3, 100)),
            ValueError,
            r"dense numeric array of shape \(3, 100\).*Pass \[x\].*list\(X\)",
        ),
        (np.zeros((2, 2, 100)), ValueError, r"dense numeric array of shape \(2, 2, 100\)"),
        ([], ValueError, r"at least one recording; X is empty"),
        (np.empty(0, dtype=object), ValueError, r"X is empty"),
        ("rec.wav", ValueError, r"single path 'rec.wav'.*list of paths"),
        (np.empty((2, 2), dtype=object), ValueError, r"shape \(2, 2\)"),
        (3.0, TypeError, r"expected a list of recordings .*got float"),
        (np.zeros(3, dtype="m8[s]"), TypeError, r"dtype timedelta64"),
    ],
)
def test_loader_refuses_bad_batches(X, exc, match):
    with pytest.raises(exc, match=match):
        AudioLoader().transform(X)


def test_loader_single_pathlike_refused(tmp_path):
    with pytest.raises(ValueError, match=r"single path .*list of paths"):
        AudioLoader().transform(tmp_path / "a.wav")


@pytest.mark.parametrize(
    "params, exc, match",
    [
        (
            {"sr": 0},
            ValueError,
            r"'sr' parameter of AudioLoader must be an int in the range "
            r"\[1000, 384000\]\. Got 0 instead",
        ),
        ({"sr": 400_000}, ValueError, r"'sr' parameter of AudioLoader .* Got 400000 instead"),
        (
            {"input_sr": 999},
            ValueError,
            r"'input_sr' parameter of AudioLoader must be an int in "
            r"the range \[1000, 384000\] or None\. Got 999",
        ),
        ({"sr": 22050.0}, TypeError, r"'sr' parameter of AudioLoader"),
        ({"input_sr": -1}, ValueError, r"'input_sr' parameter of AudioLoader .* or None\. Got -1"),
        ({"input_sr": "44100"}, TypeError, r"'input_sr' parameter of AudioLoader"),
        ({"n_jobs": 0}, ValueError, r"'n_jobs' parameter of AudioLoader must be a non-zero int"),
        ({"n_jobs": 1.5}, TypeError, r"'n_jobs' parameter of AudioLoader"),
    ],
)
def test_loader_bad_params(params, exc, match):
    loader = AudioLoader(**params)
    with pytest.raises(exc, match=match):
        loader.fit([np.zeros(10)])
    with pytest.raises(exc, match=match):
        loader.transform([np.zeros(10)])


def test_loader_estimator_contract(rng):
    loader = AudioLoader(sr=16000, input_sr=8000, n_jobs=2)
    assert loader.get_params() == {"sr": 16000, "input_sr": 8000, "n_jobs": 2}
    cloned = clone(loader)
    assert cloned is not loader and cloned.get_params() == loader.get_params()
    assert loader.__sklearn_tags__().requires_fit is False
    X = [rng.standard_normal(800), rng.standard_normal((2, 800))]
    out = loader.transform(X)  # no fit needed
    assert out.shape == (2, 1600)
    restored = pickle.loads(pickle.dumps(loader))
    np.testing.assert_array_equal(restored.transform(X), out)
    assert loader.fit(X) is loader
    np.testing.assert_array_equal(loader.fit_transform(X), out)
    assert not [k for k in vars(loader) if k.endswith("_")]  # stateless


def test_real_recordings(tut_samples):
    librosa = pytest.importorskip("librosa")
    x = load_audio(tut_samples[0], sr=22050)
    assert x.shape == (220500,) and x.dtype == np.float32
    assert np.isfinite(x).all() and np.abs(x).max() > 0
    ref, _ = librosa.load(tut_samples[0], sr=22050, mono=True, res_type="soxr_hq")
    np.testing.assert_allclose(x, ref, atol=1e-5)
    X = AudioLoader().transform(tut_samples[:2])
    assert X.shape == (2, 220500) and X.dtype == np.float32
    np.testing.assert_array_equal(X[0], x)


def test_loader_array_like_of_paths(tmp_path, rng):
    class ArrayLike:
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    path = _write(tmp_path / "a.wav", 0.1 * rng.standard_normal(500), 22050, subtype="FLOAT")
    out = AudioLoader().transform(ArrayLike(np.array([path, path], dtype=object)))
    assert out.shape == (2, 500)
    np.testing.assert_array_equal(out[1], load_audio(path))
    with pytest.raises(ValueError, match=r"dense numeric array of shape \(2, 500\)"):
        AudioLoader().transform(ArrayLike(np.zeros((2, 500))))


# --- what a file asks for, and names that are not UTF-8 ----------------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _silence(path, seconds, rate=384000, channels=8):
    with sf.SoundFile(
        str(path), "w", samplerate=rate, channels=channels, subtype="PCM_16", format="FLAC"
    ) as fh:
        block = np.zeros((rate, channels), np.int16)
        for _ in range(int(seconds)):
            fh.write(block)
    return str(path)


def test_decoding_takes_memory_for_the_output_not_the_file(tmp_path):
    """20 s of 8-channel 384 kHz silence (a few kB of FLAC): decoded whole, the file's
    samples alone take 246 MB of float32; decoded block by block, memory holds the
    441 000 output samples and one block (measured in a fresh process, ru_maxrss)."""
    import subprocess
    import sys

    small = _silence(tmp_path / "warm-up.flac", 1)
    large = _silence(tmp_path / "large.flac", 20)
    assert os.path.getsize(large) < 200_000
    code = (
        "import resource\n"
        "from skasc.frontend.audio import load_audio\n"
        f"load_audio({small!r})\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"x = load_audio({large!r})\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(after - before, x.shape[0], float(abs(x).max()))\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    growth_kib, n_samples, peak = out.stdout.split()
    assert int(n_samples) == 20 * 22050 and float(peak) == 0.0
    assert int(growth_kib) * 1024 < 100 * 2**20


def test_blocks_hold_few_samples_whatever_the_channels(tmp_path, monkeypatch):
    """Each read asks for at most 2**22 samples (frames x channels), for the whole-file
    loader, the block reader and the decoding check alike."""
    from skasc.frontend import audio

    path = _silence(tmp_path / "wide.flac", 3)
    asked = []
    real_read = sf.SoundFile.read

    def read(self, frames=-1, *args, **kwargs):
        asked.append(frames * self.channels if frames >= 0 else self.frames * self.channels)
        return real_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", read)
    load_audio(path)
    list(audio.iter_audio_blocks(path, block_duration=60.0))
    audio.check_recordings([path], decode=True)
    assert asked and max(asked) <= 2**22


def test_a_file_name_that_is_not_utf8_loads(tmp_path, rng):
    """The name is bytes the file system holds; soundfile gets them as they are."""
    x = (0.1 * rng.standard_normal(22050)).astype(np.float32)
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.wav"
    sf.write(raw, x, 22050, subtype="FLOAT")
    name = os.fsdecode(raw)  # 'caf\udce9.wav': not valid UTF-8
    np.testing.assert_array_equal(load_audio(name), x)
    assert np.array_equal(
        np.concatenate(list(__import__("skasc").frontend.audio.iter_audio_blocks(name))), x
    )


def test_finite_samples_beyond_float32_are_not_called_nan(tmp_path):
    path = _write(tmp_path / "huge.wav", np.array([0.0, 1e300, 0.5]), 22050, subtype="DOUBLE")
    with pytest.raises(
        AudioFileError,
        match=r"huge\.wav' holds samples of magnitude up to "
        r"1e\+300 in the block starting at 0\.000 s, "
        r"beyond the range of float32",
    ):
        load_audio(path)
    from skasc.frontend.audio import check_recordings

    with pytest.raises(AudioFileError, match="holds samples of magnitude up to 1e\\+300"):
        check_recordings([path], decode=True)
    nan = _write(tmp_path / "nan.wav", np.array([0.0, np.nan, 0.5]), 22050, subtype="DOUBLE")
    with pytest.raises(AudioFileError, match=r"nan\.wav' contains NaN or inf samples"):
        load_audio(nan)


@pytest.mark.parametrize("path", [np.zeros(10), 3, None])
def test_a_path_that_is_not_a_path_is_a_type_error(path):
    from skasc.exceptions import SkascTypeError
    from skasc.frontend.audio import iter_audio_blocks

    for read in (load_audio, lambda p: list(iter_audio_blocks(p))):
        with pytest.raises(
            SkascTypeError,
            match=r"Expected the path of an audio file \(str "
            rf"or os\.PathLike\); got {type(path).__name__}",
        ):
            read(path)


@pytest.mark.parametrize("n_channels", range(1, 11))
@pytest.mark.parametrize("channel_axis", [0, 1])
def test_downmix_is_the_float64_mean_bit_for_bit(rng, n_channels, channel_axis):
    # issue 27: the mean over a short strided axis took 5 s per hour of 48 kHz stereo;
    # the channel-by-channel sum is the same arithmetic
    from skasc.frontend.audio import _downmix

    shape = (n_channels, 30001) if channel_axis == 0 else (30001, n_channels)
    data = (rng.standard_normal(shape) * rng.uniform(1e-7, 100, shape)).astype(np.float32)
    expected = (
        np.take(data, 0, axis=channel_axis)
        if n_channels == 1
        else data.mean(axis=channel_axis, dtype=np.float64).astype(np.float32)
    )
    got = _downmix(data, channel_axis)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)
