"""Every bad input a new user met in issue 11, and what skasc answers.

Read the table ``CASES`` as documentation: each row is an input, built in
``tmp_path``, and either the exception (type and a message fragment naming the
file, line or recording) or, for the cases that are skipped or recovered from,
the ONE warning that must be emitted (``Warns``), or what a call that must now
succeed returns (``Returns``). Each row failed on the code before the fix.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import skasc
from skasc import cli
from skasc.calibration import make_svm_calibrator
from skasc.frontend import audio
from skasc.frontend.audio import AudioFileError, AudioLoader, check_recordings, load_audio
from skasc.frontend.denoise import MinStatsDenoiser
from skasc.frontend.features import LogMelExtractor
from skasc.frontend.front_end import FrontEnd
from skasc.frontend.segment import Segmenter
from skasc.fusion import RecordingFusion

SR = 8000


# ------------------------------------------------------------------ what a row expects
@dataclasses.dataclass
class Raises:
    """The call raises ``exc`` with a message matching the regex ``match``."""

    exc: type | tuple
    match: str


@dataclasses.dataclass
class Warns:
    """The call emits exactly one warning matching ``match``; ``check(result)`` holds."""

    match: str
    check: Callable[[Any], None] = lambda result: None


@dataclasses.dataclass
class Returns:
    """The call succeeds without a warning and ``check(result)`` holds."""

    check: Callable[[Any], None] = lambda result: None


@dataclasses.dataclass
class Exits:
    """The CLI exits with ``code`` and one stderr line matching ``match``."""

    code: int
    match: str


# ------------------------------------------------------------------ inputs
def _noise(n=SR // 2, channels=1, seed=0):
    return 0.3 * np.random.default_rng(seed).standard_normal((n, channels))


def _wav(path, data=None, rate=SR, **kwargs):
    sf.write(str(path), _noise() if data is None else data, rate, **kwargs)
    return str(path)


def _corrupt_flac(path):
    """A FLAC file whose header is fine and whose frames are damaged."""
    _wav(path, _noise(SR * 2), subtype="PCM_16")
    raw = bytearray(open(path, "rb").read())
    start = len(raw) // 3
    raw[start : start + len(raw) // 10] = (
        np.random.default_rng(1).integers(0, 256, len(raw) // 10, dtype=np.uint8).tobytes()
    )
    open(path, "wb").write(raw)
    assert sf.info(path).frames == SR * 2  # the header still reads
    return str(path)


def _nan_wav(path):
    data = _noise().astype(np.float32)
    data[100] = np.nan
    return _wav(path, data, subtype="FLOAT")


def _folder(tmp_path, bad: dict[str, Callable[[str], str]]):
    """A folder of 4 good recordings (2 classes) plus ``bad`` files."""
    folder = tmp_path / "data"
    folder.mkdir()
    for i, label in enumerate(["bus", "bus", "park", "park"]):
        _wav(folder / f"{label}{i}.wav", _noise(seed=i), subtype="PCM_16")
    for name, make in bad.items():
        make(str(folder / name))
    return str(folder)


def _csv(tmp_path, text: str | bytes):
    """A labels CSV beside two WAV files a.wav and b.wav."""
    for name in ("a.wav", "b.wav"):
        _wav(tmp_path / name, subtype="PCM_16")
    path = tmp_path / "labels.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)


def _small_frontend(**kwargs):
    return FrontEnd(
        loader=AudioLoader(sr=SR),
        denoiser=MinStatsDenoiser(sr=SR),
        segmenter=Segmenter(sr=SR, segment_duration=0.25),
        extractor=LogMelExtractor(sr=SR, n_mels=16),
        **kwargs,
    )


def _fusion_fit(y):
    X = np.random.default_rng(0).standard_normal((4, 2, 3))
    return lambda: RecordingFusion(LogisticRegression()).fit(X, y)


def _skipped(*names, kept=4):
    """Check of a ``(paths, labels)`` result: ``names`` were dropped, ``kept`` remain."""

    def check(result):
        paths, labels = result
        assert len(paths) == len(labels) == kept
        assert not any(os.path.basename(p) in names for p in paths)

    return check


def _recomputed_cache(tmp_path, damage):
    """Run a cached FrontEnd, damage its one entry, and return the second run."""
    x = [_noise(SR, seed=3)[:, 0].astype(np.float32)]
    cache = tmp_path / "cache"
    front = _small_frontend(memory=str(cache))
    first = front.transform(x)
    (entry,) = [
        os.path.join(root, f)
        for root, _, files in os.walk(cache)
        for f in files
        if f.endswith(".npy")
    ]
    damage(entry)

    def check(second):
        np.testing.assert_array_equal(second, first)
        np.testing.assert_array_equal(np.load(entry)[None], first)  # replaced, readable

    return (lambda: front.transform(x)), check


def _mp3(path):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MP3 (needs 1.1 or later)")
    return _wav(path, _noise(SR), format="MP3")


def _mp3_scanned(paths):
    assert [os.path.basename(p) for p in paths] == [
        "bus0.wav",
        "bus1.wav",
        "park2.wav",
        "park3.wav",
        "tram1.mp3",
    ]
    assert load_audio(paths[-1], sr=SR).size > SR // 2  # and the loader decodes it


def _read_a_bus_b_park(result):
    paths, labels = result
    assert labels == ["bus", "park"]
    assert [os.path.basename(p) for p in paths] == ["a.wav", "b.wav"]
    assert all(os.path.isfile(p) for p in paths)


def _truncate_to(n_bytes):
    def damage(path):
        with open(path, "r+b") as fh:
            fh.truncate(n_bytes)

    return damage


# ------------------------------------------------------------------ the table
# id -> (builder(tmp_path, monkeypatch) -> callable, expected). A builder may return
# (callable, check) for a Warns whose check needs what the builder made.
CASES: dict[str, tuple[Callable, Any]] = {
    # ---- audio files and arrays
    "wav header claims 1 Hz -> load_audio refuses, naming the file": (
        lambda t, m: lambda: load_audio(_wav(t / "one_hz.wav", _noise(100), rate=1)),
        Raises(
            AudioFileError,
            r"one_hz\.wav' declares a sampling rate of 1 Hz, outside "
            r"the supported range \[1000, 384000\] Hz",
        ),
    ),
    "wav header claims 1 Hz -> check_recordings refuses from the header": (
        lambda t, m: lambda: check_recordings([_wav(t / "one_hz.wav", _noise(100), rate=1)]),
        Raises(AudioFileError, r"^Recording 0 failed to load: .*one_hz\.wav.* 1 Hz"),
    ),
    "wav at 400 kHz -> refused (above 384 kHz)": (
        lambda t, m: (
            lambda: AudioLoader(sr=SR).transform([_wav(t / "fast.wav", _noise(4000), rate=400_000)])
        ),
        Raises(
            AudioFileError,
            r"^Recording 0 failed to load: .*fast\.wav.*400000 Hz, "
            r"outside",
        ),
    ),
    "file whose resampled waveform exceeds MAX_SAMPLES -> refused before reading": (
        lambda t, m: (
            m.setattr(audio, "MAX_SAMPLES", 10_000, raising=False),
            lambda: load_audio(_wav(t / "long.wav", _noise(SR)), sr=22050),
        )[1],
        Raises(
            AudioFileError,
            r"long\.wav' is too long: 8000 samples at 8000 Hz would be "
            r"22050 samples at 22050 Hz, more than the 10000",
        ),
    ),
    "array whose resampled waveform exceeds MAX_SAMPLES -> refused, naming the index": (
        lambda t, m: (
            m.setattr(audio, "MAX_SAMPLES", 10_000, raising=False),
            lambda: AudioLoader(input_sr=8000).transform([np.zeros(100), np.zeros(8000)]),
        )[1],
        Raises(ValueError, r"^Recording 1 is too long: 8000 samples at 8000 Hz"),
    ),
    "--skip-bad, float WAV with a NaN sample -> skipped, listed in the one warning": (
        lambda t, m: (
            lambda: cli.labelled_recordings(_folder(t, {"bus9.wav": _nan_wav}), None, skip_bad=True)
        ),
        Warns(r"(?s)^Skipped 1 of 5 recordings.*bus9\.wav.*NaN or inf", _skipped("bus9.wav")),
    ),
    "--skip-bad, FLAC with corrupt frames and a NaN WAV -> both in the one warning": (
        lambda t, m: (
            lambda: cli.labelled_recordings(
                _folder(t, {"park7.flac": _corrupt_flac, "bus9.wav": _nan_wav}), None, skip_bad=True
            )
        ),
        Warns(
            r"(?s)^Skipped 2 of 6 recordings.*bus9\.wav.*park7\.flac.*could not be read",
            _skipped("park7.flac", "bus9.wav"),
        ),
    ),
    "check_recordings(decode=True) finds the corrupt FLAC frames": (
        lambda t, m: lambda: check_recordings([_corrupt_flac(str(t / "cut.flac"))], decode=True),
        Raises(
            AudioFileError,
            r"^Recording 0 failed to load: .*cut\.flac.*could not be "
            r"read as audio",
        ),
    ),
    "int64 array of PCM values -> refused (full scale unknown), not silence": (
        lambda t, m: (
            lambda: AudioLoader().transform(
                [np.zeros(100, np.float32), np.arange(-500, 500, dtype=np.int64)]
            )
        ),
        Raises(
            TypeError,
            r"^Recording 1 has dtype int64, which is not a PCM sample type.*"
            r"int8, int16, int32 or uint8.*x\.astype\(np\.int16\)",
        ),
    ),
    "uint16 array -> refused": (
        lambda t, m: lambda: check_recordings([np.zeros(100, np.uint16)]),
        Raises(TypeError, r"^Recording 0 has dtype uint16, which is not a PCM sample type"),
    ),
    "(n_samples, n_channels) array -> refused as transposed, naming the index": (
        lambda t, m: (
            lambda: AudioLoader().transform(
                [np.zeros(22050, np.float32), _noise(22050, channels=2)]
            )
        ),
        Raises(
            ValueError,
            r"^Recording 1 has shape \(22050, 2\), i\.e\. 22050 channels of "
            r"2 samples.*looks transposed.*pass x\.T",
        ),
    ),
    "(n_samples, n_channels) array in FrontEnd -> the same error, not a padding warning": (
        lambda t, m: (
            lambda: _small_frontend().transform(
                [_noise(SR)[:, 0], _noise(SR)[:, 0], _noise(SR, channels=2)]
            )
        ),
        Raises(ValueError, r"^Recording 2 has shape \(8000, 2\).*looks transposed"),
    ),
    "feature-cache .npy emptied (EOFError) -> recomputed, replaced, one warning": (
        lambda t, m: _recomputed_cache(t, _truncate_to(0)),
        Warns(
            r"^1 feature-cache entry in .*cache could not be read \(cut short or "
            r"corrupt\).*\n  .*\.npy: EOFError"
        ),
    ),
    "feature-cache .npy cut mid-data -> recomputed, replaced, one warning": (
        lambda t, m: _recomputed_cache(t, _truncate_to(200)),
        Warns(r"^1 feature-cache entry .* could not be read.*\n  .*\.npy: ValueError"),
    ),
    "folder scan picks up .mp3 files, which the loader decodes": (
        lambda t, m: lambda: cli.collect_audio(_folder(t, {"tram1.mp3": _mp3})),
        Returns(_mp3_scanned),
    ),
    # ---- labels and CSVs
    "labels CSV with a UTF-8 byte-order mark -> read as utf-8-sig": (
        lambda t, m: (
            lambda: cli.read_labels_csv(
                _csv(t, "\ufefffile,label\na.wav,bus\nb.wav,park\n"), str(t)
            )
        ),
        Returns(_read_a_bus_b_park),
    ),
    "labels CSV in Latin-1 -> error naming the file": (
        lambda t, m: (
            lambda: cli.read_labels_csv(
                _csv(t, "a.wav,caf\xe9\nb.wav,park\n".encode("latin-1")), str(t)
            )
        ),
        Raises(
            cli.CLIError,
            r"labels\.csv is not UTF-8 text \(byte \d+: .*\); save it as "
            r"UTF-8",
        ),
    ),
    "labels CSV with an empty label -> error naming the line": (
        lambda t, m: (
            lambda: cli.read_labels_csv(_csv(t, "file,label\na.wav,bus\nb.wav,  \n"), str(t))
        ),
        Raises(cli.CLIError, r"labels\.csv:3: empty label for 'b\.wav'"),
    ),
    "labels CSV listing a file twice with different labels -> error naming both lines": (
        lambda t, m: (
            lambda: cli.read_labels_csv(_csv(t, "a.wav,bus\nb.wav,park\n./a.wav,park\n"), str(t))
        ),
        Raises(
            cli.CLIError,
            r"labels\.csv:3: '\./a\.wav' is listed again \(first on line "
            r"1\); labels 'bus' and 'park'",
        ),
    ),
    "skasc fit with an empty label in the CSV -> exit 2, one line naming the line": (
        lambda t, m: (
            lambda: cli.main(
                [
                    "fit",
                    str(t),
                    "--labels",
                    _csv(t, "a.wav,bus\nb.wav,\n"),
                    "--model",
                    str(t / "m.skasc"),
                ]
            )
        ),
        Exits(2, r"^skasc fit: error: .*labels\.csv:2: empty label for 'b\.wav'$"),
    ),
    "labels with None -> ValueError naming the recording": (
        lambda t, m: _fusion_fit(["bus", None, "park", "bus"]),
        Raises(
            ValueError,
            r"^RecordingFusion got 1 missing label \(None or NaN\) in y, at "
            r"recording index 1",
        ),
    ),
    "labels mixing strings and numbers -> sklearn's 'Mix of label input types'": (
        lambda t, m: _fusion_fit(["bus", 1, "park", 2]),
        Raises(
            ValueError,
            r"^Mix of label input types \(string and number\) in the y of "
            r"RecordingFusion: recording 0 has 'bus' and recording 1 has 1",
        ),
    ),
    "labels mixing types, object array, through a Pipeline's fit": (
        lambda t, m: (
            lambda: Pipeline(
                [("frontend", _small_frontend()), ("fusion", RecordingFusion(LogisticRegression()))]
            ).fit(
                [_noise(SR, seed=i)[:, 0] for i in range(4)],
                np.array(["bus", "park", 3, 3], dtype=object),
            )
        ),
        Raises(
            ValueError,
            r"Mix of label input types \(string and number\).*recording 2 "
            r"has 3",
        ),
    ),
    # ---- smaller
    "FrontEnd(n_jobs=0).fit -> the standard parameter message": (
        lambda t, m: lambda: FrontEnd(n_jobs=0).fit([np.zeros(100)]),
        Raises(
            ValueError,
            r"^The 'n_jobs' parameter of FrontEnd must be a non-zero int "
            r"\(-1 for all cores\) or None\. Got 0 instead\.$",
        ),
    ),
    "skasc fit --jobs 0 -> refused by the parser, exit 2": (
        lambda t, m: (
            lambda: cli.main(
                ["fit", str(t / "missing"), "--model", str(t / "m.skasc"), "--jobs", "0"]
            )
        ),
        Exits(
            2,
            r"^skasc fit: error: argument --jobs: expected a non-zero integer \(-1 for "
            r"all cores\), got '0'$",
        ),
    ),
    "calibration=1 -> refused at once, not after training": (
        lambda t, m: lambda: make_svm_calibrator(calibration=1),
        Raises(
            ValueError,
            r"^The 'calibration' parameter of make_svm_calibrator must be "
            r"'train' or an int in the range \[2, inf\)\. Got 1 instead\.$",
        ),
    ),
    "calibration=-3 -> refused": (
        lambda t, m: lambda: make_svm_calibrator(calibration=-3),
        Raises(ValueError, r"'calibration' parameter .* Got -3 instead"),
    ),
    "calibration=2.5 -> refused (TypeError)": (
        lambda t, m: lambda: make_svm_calibrator(calibration=2.5),
        Raises(TypeError, r"'calibration' parameter .* Got 2\.5 instead"),
    ),
    "make_att_crnn_pipeline(calibration=1) -> refused when built": (
        lambda t, m: lambda: skasc.make_att_crnn_pipeline(calibration=1),
        Raises(ValueError, r"'calibration' parameter of make_svm_calibrator .* Got 1"),
    ),
    "bad file named 'recording 0 take2.wav' at index 2 -> its name is kept": (
        lambda t, m: (
            lambda: _small_frontend().transform(
                [_noise(SR)[:, 0], _noise(SR)[:, 0], _nan_wav(str(t / "recording 0 take2.wav"))]
            )
        ),
        Raises(
            AudioFileError,
            r"^Recording 2 failed to load: Audio file '.*/recording 0 "
            r"take2\.wav' contains NaN",
        ),
    ),
}


@pytest.mark.parametrize("build, expected", list(CASES.values()), ids=list(CASES))
def test_bad_input(build, expected, tmp_path, monkeypatch, capsys):
    made = build(tmp_path, monkeypatch)
    call, check = made if isinstance(made, tuple) else (made, None)
    if isinstance(expected, Raises):
        with pytest.raises(expected.exc, match=expected.match):
            call()
    elif isinstance(expected, Exits):
        try:
            code = call()
        except SystemExit as exc:  # argparse
            code = exc.code
        err = capsys.readouterr().err.strip()
        assert code == expected.code and err.count("\n") == 0, err
        assert re.search(expected.match, err), err
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
        messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if isinstance(expected, Returns):
            assert messages == []
        else:
            assert len(messages) == 1, messages
            assert re.search(expected.match, messages[0]), messages[0]
        (check or expected.check)(result)
