"""Synthetic acoustic scenes shaped like LITIS Rouen, for tests, benchmarks and demos.

A scene class is a *background* (coloured noise with a class-specific spectral
tilt, a band emphasis and a slow amplitude modulation) plus recurring
*foreground events* of a class-specific type (tone bursts, chirps, click
trains, amplitude-modulated noise bursts) at random times, counts and levels
(a signal-to-noise ratio drawn per event). Every recording varies within its
class: background tilt, emphasis and modulation, event frequencies and rates
are jittered, and the overall level is random.

The classes are built so that the long-term (mean) spectrum alone does not solve
the task:

* ``bus`` and ``metro-station`` share the background and the frequency band of
  their events; only the events' time structure differs (a click train versus a
  smoothly modulated noise burst, with the same duration and SNR distributions),
  so their expected long-term spectra are identical;
* ``street`` and ``park`` (and ``office`` / ``library``) share event types but
  differ in background.

The first two classes (the default ``n_classes=5`` keeps them) form the hard
pair.
"""

from __future__ import annotations

import filecmp
import glob
import hashlib
import json
import numbers
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft

from .._atomic import atomic_write
from .._paths import regular_file_problem
from .._validation import check_int, check_option, check_real
from .litis import DatasetError, write_litis_layout

__all__ = ["SCENE_CLASSES", "make_scenes", "make_litis_like"]


@dataclass(frozen=True)
class _Background:
    tilt: float  # power spectral density ~ f ** tilt
    centre: float  # band emphasis centre (Hz)
    width: float  # emphasis width (octaves, standard deviation)
    gain_db: float  # emphasis gain (dB)
    am_rate: float  # slow amplitude modulation rate (Hz)
    am_depth: float  # modulation depth in [0, 1)


@dataclass(frozen=True)
class _Events:
    kind: str  # "clicks", "noise", "tone" or "chirp"
    rate: float  # mean number of events per second
    f0: float  # band low edge / tone frequency / chirp start (Hz)
    f1: float  # band high edge / number of harmonics / chirp end (Hz)
    mod: float = 0.0  # click rate (Hz) for clicks, AM rate (Hz) for noise bursts


_ENGINE = _Background(-1.0, 120.0, 1.0, 15.0, 0.3, 0.3)
_TRAFFIC = _Background(-1.0, 500.0, 1.5, 8.0, 0.1, 0.5)
_WIND = _Background(-0.3, 2000.0, 2.0, 6.0, 0.15, 0.7)
_BABBLE = _Background(-0.7, 700.0, 1.5, 10.0, 3.0, 0.25)
_RAIL = _Background(-1.5, 60.0, 1.0, 12.0, 0.5, 0.2)
_ROOM = _Background(0.0, 250.0, 1.0, 4.0, 0.05, 0.1)
_HALL = _Background(-0.5, 1000.0, 2.0, 5.0, 0.2, 0.3)
_SURF = _Background(-0.8, 400.0, 2.0, 6.0, 0.12, 0.8)

# Order matters: make_scenes(n_classes=k) uses the first k classes.
_CLASSES: dict[str, tuple[_Background, _Events]] = {
    "bus": (_ENGINE, _Events("clicks", 0.4, 1500.0, 3500.0, 8.0)),
    "metro-station": (_ENGINE, _Events("noise", 0.4, 1500.0, 3500.0, 4.0)),
    "street": (_TRAFFIC, _Events("tone", 0.3, 1000.0, 3.0)),
    "park": (_WIND, _Events("tone", 0.3, 1000.0, 3.0)),
    "restaurant": (_BABBLE, _Events("clicks", 0.5, 2000.0, 3500.0, 12.0)),
    "market": (_BABBLE, _Events("tone", 0.4, 800.0, 4.0)),
    "train": (_RAIL, _Events("noise", 0.3, 300.0, 1200.0, 1.0)),
    "office": (_ROOM, _Events("clicks", 0.4, 1500.0, 3500.0, 6.0)),
    "cafe": (_BABBLE, _Events("chirp", 0.4, 1500.0, 2500.0)),
    "beach": (_SURF, _Events("noise", 0.2, 2000.0, 3500.0, 0.5)),
    "airport": (_HALL, _Events("tone", 0.2, 660.0, 2.0)),
    "library": (_ROOM, _Events("chirp", 0.3, 800.0, 400.0)),
}

SCENE_CLASSES: tuple[str, ...] = tuple(_CLASSES)
"""Names of the synthetic classes, in the order ``make_scenes`` takes them."""

_SNR_DB = (-6.0, 6.0)  # per-event level relative to the background RMS
_LEVEL_DBFS = (-40.0, -28.0)  # per-recording RMS level
_PEAK = 0.99


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)


def _log2_ratio(freqs: np.ndarray, ref: float) -> np.ndarray:
    return np.log2(np.maximum(freqs, 1.0) / ref)


def _band_mask(freqs: np.ndarray, lo: float, hi: float, edge: float = 0.25) -> np.ndarray:
    """Band-pass gain: 1 in [lo, hi], raised-cosine skirts ``edge`` octaves wide."""
    below = np.clip(_log2_ratio(freqs, lo) / edge + 1.0, 0.0, 1.0)
    above = np.clip(1.0 - _log2_ratio(freqs, hi) / edge, 0.0, 1.0)
    return np.sin(0.5 * np.pi * np.minimum(below, above)) ** 2


def _background(rng: np.random.Generator, spec: _Background, n: int, sr: int) -> np.ndarray:
    """Unit-RMS coloured noise, shaped in the frequency domain, slowly modulated."""
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    tilt = spec.tilt + rng.uniform(-0.15, 0.15)
    centre = spec.centre * 2.0 ** rng.uniform(-0.2, 0.2)
    gain_db = spec.gain_db + rng.uniform(-3.0, 3.0)
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    bump = np.exp(-0.5 * ((octaves - np.log2(centre / 1000.0)) / spec.width) ** 2)
    # log-amplitude: tilt (octaves * log 2 * tilt / 2) plus the emphasis in dB
    amp = np.exp((0.5 * np.log(2.0) * tilt) * octaves + (np.log(10.0) * gain_db / 20.0) * bump)
    amp[0] = 0.0
    spectrum = np.empty(freqs.size, dtype=np.complex64)
    spectrum.real = rng.standard_normal(freqs.size, dtype=np.float32)
    spectrum.imag = rng.standard_normal(freqs.size, dtype=np.float32)
    spectrum *= amp.astype(np.float32)
    x = scipy.fft.irfft(spectrum, n).astype(np.float64)
    x /= np.sqrt(np.mean(x**2)) + 1e-12
    t = np.arange(n) / sr
    rate = spec.am_rate * rng.uniform(0.8, 1.2)
    depth = min(spec.am_depth * rng.uniform(0.8, 1.2), 0.95)
    x *= 1.0 + depth * np.sin(2.0 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    return x


def _bandpass(x: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    nfft = scipy.fft.next_fast_len(x.size + int(0.01 * sr), real=True)
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    return scipy.fft.irfft(scipy.fft.rfft(x, nfft) * _band_mask(freqs, lo, hi), nfft)[: x.size]


def _event(rng: np.random.Generator, spec: _Events, sr: int, jitter: float) -> np.ndarray:
    """One foreground event (unnormalised)."""
    nyq = 0.45 * sr
    if spec.kind in ("clicks", "noise"):
        length = max(int(rng.uniform(0.5, 1.5) * sr), 16)
        if spec.kind == "clicks":
            raw = np.zeros(length)
            step = sr / (spec.mod * jitter)
            onsets = np.arange(rng.uniform(0, step), length, step)
            onsets = onsets + rng.normal(0.0, 0.05 * step, onsets.size)
            onsets = np.clip(onsets.astype(int), 0, length - 1)
            raw[onsets] = rng.uniform(0.5, 1.0, onsets.size) * rng.choice([-1.0, 1.0], onsets.size)
            decay = np.exp(-np.arange(int(0.012 * sr) + 1) / (0.003 * sr))
            template = rng.standard_normal(decay.size) * decay
            raw = np.convolve(raw, template)[:length]
        else:
            t = np.arange(length) / sr
            am = 1.0 + 0.8 * np.sin(2 * np.pi * spec.mod * jitter * t + rng.uniform(0, 2 * np.pi))
            raw = rng.standard_normal(length) * am * np.hanning(length)
        return _bandpass(raw, sr, min(spec.f0 * jitter, nyq / 2), min(spec.f1 * jitter, nyq))
    if spec.kind == "tone":
        length = max(int(rng.uniform(0.15, 0.5) * sr), 16)
        t = np.arange(length) / sr
        f0 = spec.f0 * jitter
        k = np.arange(1, int(spec.f1) + 1)
        k = k[k * f0 < nyq]
        phases = rng.uniform(0, 2 * np.pi, k.size)
        sig = ((1.0 / k)[:, None] * np.sin(2 * np.pi * f0 * k[:, None] * t + phases[:, None])).sum(
            axis=0
        )
        return sig * np.hanning(length)
    # chirp: linear sweep from f0 to f1
    dur = rng.uniform(0.3, 1.0)
    length = max(int(dur * sr), 16)
    t = np.arange(length) / sr
    f0, f1 = min(spec.f0 * jitter, nyq), min(spec.f1 * jitter, nyq)
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) * t**2 / dur)
    return np.sin(phase) * np.hanning(length)


def _scene(rng: np.random.Generator, name: str, n: int, sr: int) -> np.ndarray:
    bg_spec, ev_spec = _CLASSES[name]
    x = _background(rng, bg_spec, n, sr)
    jitter = 2.0 ** rng.uniform(-0.05, 0.05)  # per-recording frequency jitter
    rate = ev_spec.rate * rng.uniform(0.85, 1.15)
    n_events = max(1, rng.poisson(rate * n / sr))
    for _ in range(n_events):
        ev = _event(rng, ev_spec, sr, jitter * 2.0 ** rng.uniform(-0.01, 0.01))[:n]
        ev *= 10.0 ** (rng.uniform(*_SNR_DB) / 20.0) / (np.sqrt(np.mean(ev**2)) + 1e-12)
        start = int(rng.integers(0, n - ev.size + 1))
        x[start : start + ev.size] += ev
    x *= 10.0 ** (rng.uniform(*_LEVEL_DBFS) / 20.0) / (np.sqrt(np.mean(x**2)) + 1e-12)
    peak = np.max(np.abs(x))
    if peak > _PEAK:
        x *= _PEAK / peak
    return x


def make_scenes(
    *,
    n_recordings_per_class: int = 10,
    n_classes: int = 5,
    duration: float = 30.0,
    sr: int = 22050,
    random_state: Any = 0,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Generate a balanced set of synthetic acoustic scenes.

    See :mod:`skasc.datasets.scenes` for how the classes are built. The first
    two classes (``bus`` and ``metro-station``) have identical expected
    long-term spectra and differ only in the time structure of their events.

    Parameters
    ----------
    n_recordings_per_class : int, default=10
        Recordings per class.
    n_classes : int, default=5
        Number of classes, taken in the order of ``SCENE_CLASSES`` (at most 12).
    duration : float, default=30.0
        Length of each recording in seconds (30 s as in LITIS Rouen).
    sr : int, default=22050
        Sampling rate in Hz (22050 Hz as in LITIS Rouen); at least 8000, since
        events reach 3.5 kHz.
    random_state : int, numpy Generator or RandomState, or None, default=0
        Seed; the same seed gives identical arrays.

    Returns
    -------
    waveforms : ndarray of float32, shape (n_recordings, n_samples)
        ``n_recordings = n_classes * n_recordings_per_class`` recordings of
        ``n_samples = round(duration * sr)`` samples, grouped by class in the
        order of ``class_names``. Each has a random RMS level between -40 and
        -28 dBFS (the level carries no class information) and a peak of at most
        0.99.
    labels : ndarray of str, shape (n_recordings,)
        Class name of each recording.
    class_names : list of str
        Sorted class names.

    Examples
    --------
    >>> x, y, names = make_scenes(n_recordings_per_class=2, n_classes=3, duration=2.0,
    ...                           sr=8000)
    >>> x.shape, x.dtype
    ((6, 16000), dtype('float32'))
    >>> names
    ['bus', 'metro-station', 'street']
    >>> y.tolist()
    ['bus', 'bus', 'metro-station', 'metro-station', 'street', 'street']
    """
    per_class = check_int(n_recordings_per_class, "n_recordings_per_class", "make_scenes", low=1)
    n_classes = check_int(n_classes, "n_classes", "make_scenes", low=1, high=len(SCENE_CLASSES))
    duration = check_real(duration, "duration", "make_scenes", low=0.1)
    sr = check_int(sr, "sr", "make_scenes", low=8000)
    rng = _rng(random_state)
    n = int(round(duration * sr))
    class_names = sorted(SCENE_CLASSES[:n_classes])
    waves = np.empty((n_classes * per_class, n), dtype=np.float32)
    labels = np.repeat(np.asarray(class_names, dtype=str), per_class)
    for i, name in enumerate(labels):
        waves[i] = _scene(rng, str(name), n, sr)
    return waves, labels, class_names


MANIFEST = "skasc-corpus.json"
"""The file in which :func:`make_litis_like` records its settings and what it wrote."""

# Bump when the synthesis changes, so that reuse=True regenerates older corpora.
_GENERATOR_VERSION = 1
_MANIFEST_FORMAT = "skasc-litis-like"


def make_litis_like(
    root: str | os.PathLike,
    *,
    n_recordings_per_class: int = 10,
    n_classes: int = 5,
    n_splits: int = 3,
    test_size: float = 0.25,
    duration: float = 30.0,
    sr: int = 22050,
    random_state: Any = 0,
    overwrite: bool = False,
    reuse: bool = False,
) -> str:
    """Write a synthetic corpus in the LITIS Rouen folder layout.

    Generates scenes with :func:`make_scenes`, draws ``n_splits`` stratified
    random train/test splits (``StratifiedShuffleSplit``) and writes everything
    with :func:`~skasc.datasets.write_litis_layout`, so that
    :func:`~skasc.datasets.load_litis_rouen` and
    :class:`~skasc.datasets.LitisSplits` read it like the real corpus.  Beside
    it, ``skasc-corpus.json`` records the settings and the size and SHA-256 of
    every file written.

    Parameters
    ----------
    root : str or path-like
        Output folder (created when missing).
    n_recordings_per_class, n_classes, duration, sr
        As in :func:`make_scenes`.
    n_splits : int, default=3
        Number of train/test splits (the real corpus has 20).
    test_size : float, default=0.25
        Fraction of the recordings in each test set, in (0, 1).
    random_state : int or None, default=0
        Seed for the scenes and the splits.
    overwrite : bool, default=False
        Passed to ``write_litis_layout`` (ignored with ``reuse=True``).
    reuse : bool, default=False
        Make the call safe to repeat.  When ``root`` already holds the corpus
        these settings write (its ``skasc-corpus.json`` records the same
        settings and an int ``random_state``, and every file it lists has the
        recorded size and hash), nothing is written: the files keep their
        modification times, so a feature cache keyed on them stays valid.
        Otherwise the corpus is generated in a temporary folder beside ``root``
        and then takes its place, replacing a corpus this function wrote before
        (with other settings, or damaged); an interrupted call leaves ``root``
        as it was.  A ``root`` holding files that no manifest lists is kept if
        they are byte for byte what these settings write (a corpus written
        before manifests existed), and is otherwise refused.

    Returns
    -------
    str
        The absolute path of ``root``.

    Raises
    ------
    DatasetError
        With ``reuse=True``: ``root`` holds other files than a corpus written
        by this function (nothing is removed).

    Examples
    --------
    >>> import tempfile
    >>> root = make_litis_like(tempfile.mkdtemp(), n_recordings_per_class=4, n_classes=2,
    ...                        n_splits=2, duration=1.0, sr=8000)
    >>> from skasc.datasets import LitisSplits
    >>> LitisSplits(root).get_n_splits()
    2
    >>> make_litis_like(root, n_recordings_per_class=4, n_classes=2, n_splits=2,
    ...                 duration=1.0, sr=8000, reuse=True) == root  # nothing rewritten
    True
    """
    return write_litis_like(
        root,
        n_recordings_per_class=n_recordings_per_class,
        n_classes=n_classes,
        n_splits=n_splits,
        test_size=test_size,
        duration=duration,
        sr=sr,
        random_state=random_state,
        overwrite=overwrite,
        reuse=reuse,
    )[0]


def write_litis_like(
    root, *, reuse: bool, overwrite: bool, random_state: Any, **settings
) -> tuple[str, bool]:
    """:func:`make_litis_like`; also returns whether an existing corpus was reused."""
    name = "make_litis_like"
    settings = {
        "generator": _GENERATOR_VERSION,
        "n_recordings_per_class": check_int(
            settings["n_recordings_per_class"], "n_recordings_per_class", name, low=1
        ),
        "n_classes": check_int(
            settings["n_classes"], "n_classes", name, low=1, high=len(SCENE_CLASSES)
        ),
        "n_splits": check_int(settings["n_splits"], "n_splits", name, low=1),
        "test_size": check_real(
            settings["test_size"],
            "test_size",
            name,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        ),
        "duration": check_real(settings["duration"], "duration", name, low=0.1),
        "sr": check_int(settings["sr"], "sr", name, low=8000),
        # only an int seed names the corpus; None or a Generator never matches
        "random_state": (
            int(random_state)
            if isinstance(random_state, numbers.Integral)
            and not isinstance(random_state, (bool, np.bool_))
            else None
        ),
    }
    check_option(reuse, "reuse", name, (False, True))
    root = os.path.abspath(os.fspath(root))
    if os.path.exists(root) and not os.path.isdir(root):
        raise DatasetError(f"Cannot write a corpus to {root!r}: it is a file, not a folder.")
    if not reuse:
        _write_corpus(root, settings, random_state, overwrite=overwrite)
        return root, False
    parent, base = os.path.split(root)
    for stale in glob.glob(os.path.join(glob.escape(parent), glob.escape(f".{base}.") + "*.tmp")):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed call
    if settings["random_state"] is not None and _holds_corpus(root, settings):
        return root, True
    os.makedirs(parent, exist_ok=True)
    fresh = tempfile.mkdtemp(dir=parent, prefix=f".{base}.", suffix=".tmp")
    try:
        _write_corpus(fresh, settings, random_state, overwrite=False)
        if os.path.isdir(root) and os.listdir(root):
            if _same_files(root, fresh):  # already these bytes: keep them, add the manifest
                shutil.copyfile(os.path.join(fresh, MANIFEST), os.path.join(root, MANIFEST))
                return root, True
            foreign = _foreign_files(root)
            if foreign:
                raise DatasetError(
                    f"The folder {root!r} holds files that make_litis_like did not write "
                    f"(e.g. {foreign[0]!r}); remove them or choose another root."
                )
            old = fresh[: -len(".tmp")] + ".old.tmp"
            os.replace(root, old)  # (killed between the two renames: root is missing,
            os.replace(fresh, root)  # and the next call generates it again)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if os.path.isdir(root):
                os.rmdir(root)
            os.replace(fresh, root)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)  # gone already unless something failed
    return root, False


def _write_corpus(root: str, settings: dict, random_state: Any, *, overwrite: bool) -> None:
    """Generate, write the LITIS layout into ``root``, and record it in the manifest."""
    from sklearn.model_selection import StratifiedShuffleSplit

    rng = _rng(random_state)
    seed_scenes, seed_splits = (int(s) for s in rng.integers(0, 2**31, size=2))
    waves, labels, _ = make_scenes(
        n_recordings_per_class=settings["n_recordings_per_class"],
        n_classes=settings["n_classes"],
        duration=settings["duration"],
        sr=settings["sr"],
        random_state=seed_scenes,
    )
    sss = StratifiedShuffleSplit(
        n_splits=settings["n_splits"], test_size=settings["test_size"], random_state=seed_splits
    )
    splits = list(sss.split(np.zeros((labels.size, 1)), labels))
    write_litis_layout(root, waves, labels, sr=settings["sr"], splits=splits, overwrite=overwrite)
    files = {}
    for path in _corpus_files(root):
        if path != MANIFEST:
            files[path] = _file_record(os.path.join(root, path))
    manifest = {"format": _MANIFEST_FORMAT, "settings": settings, "files": files}
    with atomic_write(os.path.join(root, MANIFEST)) as handle:
        handle.write(json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))


def _corpus_files(root: str) -> list[str]:
    """Every file below ``root``, as sorted '/'-separated relative paths."""
    found = []
    for folder, _, names in os.walk(root):
        for fname in names:
            rel = os.path.relpath(os.path.join(folder, fname), root)
            found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def _file_record(path: str) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"size": os.path.getsize(path), "sha256": digest.hexdigest()}


def _read_manifest(root: str) -> dict | None:
    if regular_file_problem(os.path.join(root, MANIFEST)) is not None:
        return None
    try:
        with open(os.path.join(root, MANIFEST), encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != _MANIFEST_FORMAT
        or not isinstance(manifest.get("files"), dict)
    ):
        return None
    return manifest


def _holds_corpus(root: str, settings: dict) -> bool:
    """Whether ``root`` holds, unchanged, the corpus written with ``settings``."""
    manifest = _read_manifest(root)
    if manifest is None or manifest.get("settings") != settings or not manifest["files"]:
        return False
    for rel, record in manifest["files"].items():
        path = os.path.join(root, *rel.split("/"))
        try:
            if os.path.getsize(path) != record["size"] or _file_record(path) != record:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True


def _same_files(root: str, fresh: str) -> bool:
    """Whether ``root`` holds exactly the files of ``fresh`` (its manifest aside)."""
    ours = [p for p in _corpus_files(fresh) if p != MANIFEST]
    theirs = [p for p in _corpus_files(root) if p != MANIFEST]
    return ours == theirs and all(
        filecmp.cmp(os.path.join(root, p), os.path.join(fresh, p), shallow=False) for p in ours
    )


def _foreign_files(root: str) -> list[str]:
    """Files below ``root`` that no manifest of make_litis_like lists."""
    manifest = _read_manifest(root)
    listed = set() if manifest is None else set(manifest["files"]) | {MANIFEST}
    return [p for p in _corpus_files(root) if p not in listed]
