"""Reading recordings: audio files or arrays -> mono waveforms at one sampling rate.

This is the first stage of the skasc pipeline. It turns what a user has (paths
of audio files, arrays in memory, or a mix of both) into a batch of mono
float32 waveforms at a common sampling rate (22050 Hz, the rate of Phan et al.
2019), ready for :class:`skasc.MinStatsDenoiser` and :class:`skasc.Segmenter`.

Input conventions
-----------------
A *batch* ``X`` is a list (or tuple, or 1-D object ndarray) with one item per
recording. An item is either

* a path (``str`` or ``os.PathLike``) to an audio file that libsndfile reads
  (WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF...; :data:`AUDIO_EXTENSIONS` lists
  the file extensions, derived from ``soundfile.available_formats()``) of any
  bit depth, sampling rate and number of channels; or
* an ndarray of shape ``(n_samples,)`` (mono) or ``(n_channels, n_samples)``
  (multi-channel, channels first, as in librosa; *not* soundfile's
  ``(n_samples, n_channels)``), sampled at ``input_sr`` Hz. A 2-D array with
  more than 8 rows and at most 8 columns (e.g. ``(44100, 2)``) is refused as
  transposed: read channels first, it would be a recording of at most 8 samples.

Sample values
-------------
Floating-point arrays are taken as they are (full scale is 1.0). Integer arrays
are PCM, read with soundfile's conventions so that an array and the file it
came from load identically:

* ``int8``, ``int16``, ``int32``: signed PCM, divided by ``2 ** (bits - 1)``
  (128, 32768, 2**31; 24-bit audio is soundfile's int32, left-aligned);
* ``uint8``: 8-bit WAV's offset binary, ``(x - 128) / 128``;
* every other integer dtype (``int64``, ``uint16``, ``uint32``, ``uint64``) is
  refused with a ``TypeError``: no audio format stores them, so their full
  scale is unknown (an ``int64`` array is usually a Python list of 16-bit
  values, which dividing by 2**63 would turn into silence). Convert them first,
  e.g. ``x.astype(np.int16)`` or ``x / 32768.0``.

Limits
------
A sampling rate (a file's, ``input_sr`` or ``sr``) must lie in
``[MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]`` = [1000, 384000] Hz; a file's header that
claims another rate is corrupt or mislabelled, and resampling from it could need
unbounded memory (1 Hz to 22050 Hz multiplies the length by 22050). A recording
whose waveform at ``sr`` would exceed ``MAX_SAMPLES`` = 2**30 samples (4 GiB of
float32, 13.5 h at 22050 Hz) is refused before it is read or resampled. Both
are ``ValueError`` naming the file (or the recording index). A file is decoded,
averaged to mono and resampled in blocks of at most 2**22 samples (frames times
channels), so memory holds the output waveform and one block, whatever the file's
number of channels and sampling rate. A path must name a regular file (after
following links): a folder, a FIFO or a device is an ``AudioFileError``.

Channels are averaged to mono and the waveform is resampled with soxr when its
rate differs from ``sr``. A bare 1-D or 2-D numeric array is refused as ``X``
because it is ambiguous (one recording, or a batch?): pass ``[x]`` for one
recording, or ``list(X)`` for a batch of mono recordings stored as rows.

The output batch has the recording axis first: an ndarray of shape
``(n_recordings, n_samples)`` when all recordings have the same length, else a
1-D object ndarray of per-recording 1-D arrays (see :mod:`skasc._recordings`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import soundfile as sf
import soxr
from joblib import Parallel, delayed

from skasc._base import StatelessTransformer
from skasc._paths import regular_file_problem
from skasc._recordings import recording_error, stack_recordings
from skasc._sklearn import safe_indexing
from skasc._validation import Int, NJobs, check_int, check_option, check_params
from skasc.exceptions import AudioFileError, SkascTypeError, SkascValueError

from .._warnings import warn

__all__ = [
    "AudioFileError",
    "load_audio",
    "iter_audio_blocks",
    "AudioLoader",
    "check_recordings",
    "AUDIO_EXTENSIONS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_SAMPLES",
]

_RESAMPLE_QUALITY = "HQ"

#: Lowest and highest sampling rate (Hz) accepted from a file, ``input_sr`` or ``sr``.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
#: Most samples one recording's waveform may have at the output rate (4 GiB of float32).
MAX_SAMPLES = 2**30

# File extensions of the self-describing formats, by soundfile's format name; only
# those that this libsndfile reads are kept (MP3 from libsndfile 1.1).
_EXTENSIONS_BY_FORMAT = {
    "WAV": (".wav",),
    "WAVEX": (".wav",),
    "RF64": (".rf64",),
    "W64": (".w64",),
    "FLAC": (".flac",),
    "OGG": (".ogg", ".oga"),
    "MP3": (".mp3",),
    "MPEG": (".mp3",),
    "AIFF": (".aif", ".aiff", ".aifc"),
    "AU": (".au", ".snd"),
    "CAF": (".caf",),
}


def _readable_extensions() -> tuple[str, ...]:
    formats = sf.available_formats()
    extensions = {
        ext for name, exts in _EXTENSIONS_BY_FORMAT.items() if name in formats for ext in exts
    }
    if "OGG" in formats and "OPUS" in sf.available_subtypes("OGG"):
        extensions.add(".opus")
    return tuple(sorted(extensions))


#: Lower-case file extensions of the audio formats this soundfile/libsndfile reads
#: (the CLI's folder scan picks these files up).
AUDIO_EXTENSIONS: tuple[str, ...] = _readable_extensions()


def _downmix(data: np.ndarray, channel_axis: int) -> np.ndarray:
    """Average channels (float32); ``data`` is 2-D."""
    n_channels = data.shape[channel_axis]
    if n_channels == 1:
        mono = np.take(data, 0, axis=channel_axis)
    elif n_channels <= 8:
        # the sum channel by channel in float64, as data.mean(axis, dtype=float64) adds
        # them (bit for bit), without its slow reduction over a short strided axis
        mono = np.take(data, 0, axis=channel_axis).astype(np.float64)
        for c in range(1, n_channels):
            mono += np.take(data, c, axis=channel_axis)
        mono /= n_channels
    else:  # numpy sums longer axes pairwise
        mono = data.mean(axis=channel_axis, dtype=np.float64)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _resample(x: np.ndarray, in_sr: int, out_sr: int) -> np.ndarray:
    if in_sr == out_sr:
        return x
    return np.ascontiguousarray(
        soxr.resample(x, in_sr, out_sr, quality=_RESAMPLE_QUALITY), dtype=np.float32
    )


def load_audio(path: str | os.PathLike, *, sr: int = 22050) -> np.ndarray:
    """Read an audio file as a mono float32 waveform at ``sr`` Hz.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file libsndfile reads (WAV, FLAC, OGG, MP3...; see
        :data:`AUDIO_EXTENSIONS`), of any bit depth and number of channels, at a
        sampling rate in [1000, 384000] Hz.
    sr : int, default=22050
        Output sampling rate in Hz, in [1000, 384000] (22050 Hz in Phan et al.
        2019). The file is resampled with soxr ("HQ" quality) when its own rate
        differs.

    Returns
    -------
    waveform : ndarray of shape (n_samples,), dtype float32
        The channels averaged to mono; full scale is 1.0. ``n_samples`` is
        ``n_frames * sr / file_sr`` rounded to an integer by soxr (e.g. 1 s
        at 48000 Hz gives 22050 samples at 22050 Hz).

    Raises
    ------
    AudioFileError
        (a ``ValueError``) naming the path, when the file is missing, is a
        directory, cannot be read or decoded, holds no samples, holds NaN
        or infinite samples, declares a sampling rate outside [1000, 384000] Hz,
        or would give more than ``MAX_SAMPLES`` (2**30) samples at ``sr``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from skasc.frontend.audio import load_audio
    >>> t = np.arange(2 * 48000) / 48000
    >>> stereo = np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.5
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(path, stereo, 48000, subtype="PCM_16")
    >>> x = load_audio(path, sr=22050)
    >>> x.shape, x.dtype
    ((44100,), dtype('float32'))
    """
    sr = check_int(sr, "sr", "load_audio", low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE)
    return _read_file(path, sr)


def iter_audio_blocks(
    path: str | os.PathLike, *, sr: int = 22050, block_duration: float = 60.0
) -> Iterator[np.ndarray]:
    """Read an audio file block by block, as :func:`load_audio` would read it whole.

    Each block is read with soundfile, averaged to mono and resampled with a
    streaming soxr resampler (the same "HQ" filter), so the blocks concatenated
    equal ``load_audio(path, sr=sr)`` while memory holds one block: hours of audio
    can be processed in constant memory. Unlike :func:`load_audio`, there is no
    limit on the file's length.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file libsndfile reads (see :func:`load_audio`).
    sr : int, default=22050
        Output sampling rate in Hz.
    block_duration : float, default=60.0
        Seconds of the file read per block (> 0).

    Yields
    ------
    block : ndarray of shape (n_samples,), float32
        The next samples at ``sr``; the last block may be shorter, and the
        resampler's delay may make a block shorter or empty.

    Raises
    ------
    AudioFileError
        As :func:`load_audio`; a block with NaN or infinite samples names the
        file and the time at which the block starts.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> path = os.path.join(tempfile.mkdtemp(), "noise.wav")
    >>> sf.write(path, np.random.default_rng(0).uniform(-0.5, 0.5, 5 * 48000), 48000)
    >>> blocks = list(iter_audio_blocks(path, sr=22050, block_duration=2.0))
    >>> bool(np.array_equal(np.concatenate(blocks), load_audio(path, sr=22050)))
    True
    """
    sr = check_int(sr, "sr", "iter_audio_blocks", low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE)
    if (
        isinstance(block_duration, bool)
        or not isinstance(block_duration, (int, float, np.integer, np.floating))
        or not (0 < block_duration < float("inf"))
    ):
        raise SkascValueError(
            f"'block_duration' must be a finite number of seconds > 0; got {block_duration!r}."
        )
    shown = _check_path(path)
    with _open(path, shown) as fh:
        _check_header(shown, fh, sr, check_size=False)
        seconds = max(1, int(round(block_duration * int(fh.samplerate))))
        yield from _mono_blocks(fh, shown, sr, seconds)


#: Most samples (frames times channels) decoded at once: a file is read, averaged to
#: mono and resampled block by block, so memory holds the output and one block of at
#: most 16 MiB, whatever the file's number of channels and sampling rate.
_BLOCK_SAMPLES = 2**22


def _mono_blocks(fh: Any, shown: str, sr: int, block_frames: int) -> Iterator[np.ndarray]:
    """The open file's samples from its current position, averaged to mono and
    resampled to ``sr`` by a streaming soxr resampler, in blocks of at most
    ``block_frames`` frames (fewer for many channels, see :data:`_BLOCK_SAMPLES`)."""
    file_sr = int(fh.samplerate)
    stream = (
        None
        if file_sr == sr
        else soxr.ResampleStream(file_sr, sr, 1, dtype="float32", quality=_RESAMPLE_QUALITY)
    )
    block_frames = max(1, min(block_frames, _BLOCK_SAMPLES // max(1, fh.channels)))
    n_read = n_out = 0
    while True:
        with _read_errors(shown):
            data = fh.read(block_frames, dtype="float32", always_2d=True)
        last = data.shape[0] < block_frames  # a short read: the header may be wrong
        if not np.isfinite(data).all():
            raise AudioFileError(_non_finite(fh, shown, n_read, data.shape[0]))
        n_read += data.shape[0]
        mono = _downmix(data, channel_axis=1)
        block = (
            mono
            if stream is None
            else np.ascontiguousarray(stream.resample_chunk(mono, last=last), dtype=np.float32)
        )
        n_out += block.size
        if last and n_out == 0:
            raise AudioFileError(
                f"Audio file {shown!r} is too short ({n_read} samples at {file_sr} "
                f"Hz) to be resampled to {sr} Hz."
            )
        yield block
        if last:
            return


def _non_finite(fh: Any, shown: str, start: int, n_frames: int) -> str:
    """The message for a block of ``n_frames`` frames from frame ``start`` that is not
    finite as float32: NaN or infinite samples, or finite ones beyond float32's range
    (read again as float64 to tell)."""
    where = f"in the block starting at {start / fh.samplerate:.3f} s"
    with _read_errors(shown):
        fh.seek(start)
        wide = fh.read(n_frames, dtype="float64", always_2d=True)
    if np.isfinite(wide).all():
        return (
            f"Audio file {shown!r} holds samples of magnitude up to "
            f"{np.abs(wide).max():.3g} {where}, beyond the range of float32 "
            f"(+-{float(np.finfo(np.float32).max):.3g}); full scale is 1.0, so these "
            "are not audio samples: scale the file first."
        )
    return f"Audio file {shown!r} contains NaN or inf samples {where}."


def _check_path(path: Any) -> str:
    """Raise unless ``path`` names a regular file (after following symbolic links);
    return the path as shown in messages."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise SkascTypeError(
            f"Expected the path of an audio file (str or os.PathLike); got {type(path).__name__}."
        )
    shown = os.fsdecode(path)
    problem = regular_file_problem(path)
    if problem == "is a folder":
        raise AudioFileError(
            f"Audio file {shown!r} is a directory; expected the path of an audio file."
        )
    if problem is not None:
        raise AudioFileError(f"Audio file {shown!r} {problem}.")
    return shown


def _open(path: str | os.PathLike, shown: str) -> Any:
    """``path`` opened with soundfile; the name goes to libsndfile as the bytes the
    file system holds, so a name that is not valid UTF-8 opens like any other."""
    with _read_errors(shown):
        return sf.SoundFile(os.fsencode(path) if os.name == "posix" else os.fspath(path))


@contextlib.contextmanager
def _read_errors(shown: str) -> Iterator[None]:
    """Turn soundfile's errors while reading ``shown`` into one AudioFileError."""
    try:
        yield
    except AudioFileError:
        raise
    except PermissionError as exc:
        raise AudioFileError(f"Audio file {shown!r} cannot be read: permission denied.") from exc
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as exc:
        reason = getattr(exc, "error_string", None) or str(exc)  # libsndfile's, without the name
        raise AudioFileError(
            f"Audio file {shown!r} could not be read as audio (corrupt or unsupported "
            f"format; readable: {', '.join(e[1:].upper() for e in AUDIO_EXTENSIONS)}): "
            f"{reason}"
        ) from exc


def _check_rate(rate: int, what: str) -> None:
    """Refuse a file's sampling rate outside [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE];
    ``what`` ("Audio file 'x.wav'") begins the message."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioFileError(
            f"{what} declares a sampling rate of {rate} Hz, outside the supported range "
            f"[{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz (a corrupt or mislabelled header?)."
        )


def _output_length(n_in: int, in_sr: int, out_sr: int) -> int:
    """The length of ``n_in`` samples at ``in_sr`` resampled to ``out_sr`` (soxr's,
    rounded up)."""
    return -(-n_in * out_sr // in_sr)


def _too_long(n_in: int, in_sr: int, out_sr: int) -> str | None:
    """Why a recording whose waveform at ``out_sr`` would exceed MAX_SAMPLES is refused
    (the end of the message after what it names), or None."""
    n_out = _output_length(n_in, in_sr, out_sr)
    if n_out <= MAX_SAMPLES:
        return None
    return (
        f"is too long: {n_in} samples at {in_sr} Hz would be {n_out} samples at "
        f"{out_sr} Hz, more than the {MAX_SAMPLES} (MAX_SAMPLES) one recording may have."
    )


def _check_output_size(
    n_in: int, in_sr: int, out_sr: int, what: str, *, error: type[SkascValueError] = SkascValueError
) -> None:
    """Refuse a recording whose waveform at ``out_sr`` would exceed MAX_SAMPLES."""
    problem = _too_long(n_in, in_sr, out_sr)
    if problem is not None:
        raise error(f"{what} {problem}")


def _check_header(shown: str, info: Any, sr: int, *, check_size: bool = True) -> None:
    """The checks a file's header allows: samples present, rate in range, size
    (``check_size=False``: no limit, for a file read block by block)."""
    if info.frames <= 0 or info.channels <= 0:
        raise AudioFileError(f"Audio file {shown!r} contains no samples (zero-length recording).")
    what = f"Audio file {shown!r}"
    _check_rate(int(info.samplerate), what)
    if check_size:
        _check_output_size(int(info.frames), int(info.samplerate), sr, what, error=AudioFileError)


def _read_file(path: str | os.PathLike, sr: int) -> np.ndarray:
    """The whole file, decoded block by block into one waveform at ``sr``: memory holds
    the output and one block (see :data:`_BLOCK_SAMPLES`), never the file's samples
    at its own rate and channel count."""
    shown = _check_path(path)
    with _open(path, shown) as fh:
        _check_header(shown, fh, sr)  # before a single sample is decoded
        out = np.empty(_output_length(fh.frames, int(fh.samplerate), sr), np.float32)
        n = 0
        for block in _mono_blocks(fh, shown, sr, _BLOCK_SAMPLES):
            if n + block.size > out.size:  # more frames than the header said
                _check_output_size(
                    n + block.size, sr, sr, f"Audio file {shown!r}", error=AudioFileError
                )
                out = np.concatenate(
                    [out[:n], np.empty(max(block.size, out.size // 2), np.float32)]
                )
            out[n : n + block.size] = block
            n += block.size
    return out if n == out.size else out[:n].copy()


# Integer PCM dtypes and (offset, full scale): soundfile's conventions (see the
# module docstring); any other integer dtype is refused.
_PCM_SCALES = {
    np.dtype(np.int8): (0.0, 2.0**7),
    np.dtype(np.int16): (0.0, 2.0**15),
    np.dtype(np.int32): (0.0, 2.0**31),
    np.dtype(np.uint8): (128.0, 2.0**7),
}


def _array_to_float(x: np.ndarray, index: int) -> np.ndarray:
    """Scale a real array to float32 with full scale 1.0."""
    kind = x.dtype.kind
    if kind == "f":
        with np.errstate(over="ignore"):  # values beyond float32 become inf, refused below
            return x.astype(np.float32, copy=False)
    if kind in "iu":
        dtype = x.dtype.newbyteorder("=")
        if dtype not in _PCM_SCALES:
            raise recording_error(
                SkascTypeError,
                index,
                f"has dtype {x.dtype}, which is not a PCM sample type, "
                "so its full scale is unknown; expected float (full scale 1.0), int8, "
                "int16, int32 or uint8. Convert it first, e.g. x.astype(np.int16) for "
                "16-bit values, or x / 32768.0.",
            )
        offset, scale = _PCM_SCALES[dtype]
        return ((x.astype(np.float64) - offset) / scale).astype(np.float32)
    raise recording_error(
        SkascTypeError,
        index,
        f"has dtype {x.dtype}; expected a real numeric (float or integer PCM) array.",
    )


def _as_waveform(item: Any, *, index: int, sr: int, input_sr: int | None) -> np.ndarray:
    """One recording (path or array) -> mono float32 waveform at ``sr`` Hz.

    Arrays are ``(n_samples,)`` or channels-first ``(n_channels, n_samples)`` at
    ``input_sr`` Hz (``None``: already at ``sr``). Errors name ``index``.
    """
    if isinstance(item, (str, os.PathLike)):
        try:
            return _read_file(item, sr)
        except AudioFileError as exc:
            raise recording_error(AudioFileError, index, f"failed to load: {exc}") from exc
    x = _checked_array(item, index)
    if x.ndim == 2:
        x = _downmix(x, channel_axis=0)
    else:
        x = np.ascontiguousarray(x, dtype=np.float32)
    in_sr = sr if input_sr is None else input_sr
    problem = _too_long(x.shape[-1], in_sr, sr)
    if problem is not None:
        raise recording_error(SkascValueError, index, problem)
    y = _resample(x, in_sr, sr)
    if y.size == 0:
        raise recording_error(
            SkascValueError,
            index,
            f"is too short ({x.shape[-1]} samples at {in_sr} Hz) to be resampled to {sr} Hz.",
        )
    return y


# A 2-D array with more rows than this and at most this many columns is taken for
# soundfile's (n_samples, n_channels) layout: no recording has <= 8 samples.
_MAX_CHANNELS_AS_COLUMNS = 8


def _checked_array(item: Any, index: int) -> np.ndarray:
    """The float samples of an array recording, after the loader's checks."""
    if not isinstance(item, np.ndarray):
        raise recording_error(
            SkascTypeError,
            index,
            f"is a {type(item).__name__}; expected a path (str or "
            "os.PathLike) or an ndarray of shape (n_samples,) or (n_channels, n_samples).",
        )
    if item.ndim not in (1, 2):
        raise recording_error(
            SkascValueError,
            index,
            f"has shape {item.shape}; expected "
            "(n_samples,) or (n_channels, n_samples) with channels first.",
        )
    if item.size == 0:
        raise recording_error(SkascValueError, index, f"is empty (shape {item.shape}).")
    if item.ndim == 2 and item.shape[1] <= _MAX_CHANNELS_AS_COLUMNS < item.shape[0]:
        raise recording_error(
            SkascValueError,
            index,
            f"has shape {item.shape}, i.e. {item.shape[0]} channels of "
            f"{item.shape[1]} samples; expected (n_channels, n_samples) with channels "
            "first. It looks transposed (soundfile's (n_samples, n_channels) layout): "
            "pass x.T.",
        )
    x = _array_to_float(item, index)
    if not np.isfinite(x).all():
        if item.dtype.kind == "f" and np.isfinite(item).all():
            raise recording_error(
                SkascValueError,
                index,
                f"holds samples of magnitude up to "
                f"{float(np.abs(item).max()):.3g}, beyond the range of float32; full scale "
                "is 1.0, so these are not audio samples: scale the recording first.",
            )
        raise recording_error(SkascValueError, index, "contains NaN or inf samples.")
    return x


def _check_file(path: str | os.PathLike, sr: int, decode: bool = False) -> None:
    """Checks of an audio file: its header (no samples) and, with ``decode``, every
    sample (read in blocks, so memory stays bounded)."""
    shown = _check_path(path)
    with _open(path, shown) as fh:
        _check_header(shown, fh, sr)
        if not decode:
            return
        n_read = 0
        while True:
            with _read_errors(shown):
                block = fh.read(2**16, dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            if not np.isfinite(block).all():
                raise AudioFileError(_non_finite(fh, shown, n_read, block.shape[0]))
            n_read += block.shape[0]
    if n_read == 0:
        raise AudioFileError(f"Audio file {shown!r} contains no samples (zero-length recording).")


def _check_item(item: Any, index: int, sr: int, decode: bool = False) -> None:
    """Raise the loader's error for a recording that cannot be loaded."""
    if isinstance(item, (str, os.PathLike)):
        try:
            _check_file(item, sr, decode)
        except AudioFileError as exc:
            raise recording_error(AudioFileError, index, f"failed to load: {exc}") from exc
        return
    _checked_array(item, index)


def check_recordings(
    X: Any, y: Any = None, *, on_error: str = "raise", decode: bool = False, sr: int = 22050
) -> tuple[Any, Any, list[tuple[int, Any, str]]]:
    """Find the recordings of a batch that cannot be loaded, before fitting.

    Transformers in a scikit-learn ``Pipeline`` cannot drop rows (the labels
    would no longer line up), so bad recordings are dealt with here, explicitly,
    before ``fit`` or ``predict``: either the first one raises (the default),
    or every bad one is dropped together with its label and reported.

    By default the checks are cheap. A file must exist, not be a directory,
    and have a header that libsndfile understands declaring at least one frame
    and one channel, a sampling rate in [1000, 384000] Hz and a length below
    the loader's limit (``MAX_SAMPLES`` at ``sr``); its samples are *not*
    decoded, so a file whose data is corrupt after a valid header (a damaged
    FLAC frame), or holds NaN samples, is only caught by :class:`AudioLoader`,
    unless ``decode=True``. A WAV file cut in the middle of its data passes:
    libsndfile reads the complete frames that remain, and so does the loader.
    An array must be real numeric (float or integer PCM of a dtype listed in
    the module docstring), of shape ``(n_samples,)`` or
    ``(n_channels, n_samples)``, non-empty and finite. Recordings too short to
    resample are not detected here.

    Parameters
    ----------
    X : list of (path or ndarray), length n_recordings
        A batch as accepted by :class:`AudioLoader` (list, tuple or 1-D object
        ndarray of paths and/or arrays).
    y : array-like of shape (n_recordings,), default=None
        Labels, kept aligned with the recordings that remain.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"``: raise the first problem, as :class:`AudioLoader` would
        (an :class:`AudioFileError` naming the recording index and the path for
        files; a ``ValueError`` or ``TypeError`` naming the index for arrays).
        ``"skip"``: drop every bad recording and emit one ``UserWarning``
        listing each skipped one with its reason.
    decode : bool, default=False
        Also decode every sample of each file (in blocks of 65536 frames; about
        as slow as reading the files), so files with corrupt data or NaN/inf
        samples are found too.
    sr : int, default=22050
        The rate the recordings will be loaded at, for the size limit.

    Returns
    -------
    X_kept : list or ndarray of length n_kept
        The good recordings, in their order; an ndarray when ``X`` was one,
        else a list.
    y_kept : array-like of shape (n_kept,) or None
        ``y`` restricted to the good recordings (``None`` when ``y`` is).
    skipped : list of (int, object, str)
        ``(index, item, reason)`` of each dropped recording: its index in
        ``X``, the path (or array) and the error message. Empty with
        ``on_error="raise"``.

    Raises
    ------
    AudioFileError
        (a ``ValueError``) with ``on_error="raise"``, for the first bad file.
    ValueError or TypeError
        For a bad array with ``on_error="raise"``, a batch that is not a list
        of recordings, ``y`` of another length, or when every recording was
        skipped.

    Examples
    --------
    >>> import numpy as np, warnings
    >>> from skasc.frontend.audio import check_recordings
    >>> X = [np.zeros(22050), "missing.wav", np.ones((2, 22050))]
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     X_kept, y_kept, skipped = check_recordings(X, ["a", "b", "c"], on_error="skip")
    >>> len(X_kept), y_kept, [(i, p) for i, p, _ in skipped]
    (2, ['a', 'c'], [(1, 'missing.wav')])
    """
    check_option(on_error, "on_error", "check_recordings", ("raise", "skip"))
    sr = check_int(sr, "sr", "check_recordings", low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE)
    items = check_audio_batch(X)
    if y is not None and len(y) != len(items):
        raise SkascValueError(
            f"check_recordings got {len(items)} recordings but {len(y)} labels in y."
        )
    keep: list[int] = []
    skipped: list[tuple[int, Any, str]] = []
    for i, item in enumerate(items):
        try:
            _check_item(item, i, sr, decode)
        except (ValueError, TypeError) as exc:
            if on_error == "raise":
                raise
            skipped.append((i, item, str(exc)))
        else:
            keep.append(i)
    if not skipped:
        return X, y, skipped
    lines = "\n".join(f"  {reason}" for _, _, reason in skipped)
    if not keep:
        raise SkascValueError(
            f"check_recordings skipped all {len(items)} recordings; nothing is left:\n{lines}"
        )
    warn(
        f"Skipped {len(skipped)} of {len(items)} recordings that cannot be loaded:\n{lines}",
        UserWarning,
    )
    if isinstance(X, np.ndarray):
        X_kept = X[np.asarray(keep)]
    else:
        X_kept = [items[i] for i in keep]
    y_kept = None if y is None else safe_indexing(y, keep)
    return X_kept, y_kept, skipped


def check_audio_batch(X: Any) -> list:
    """The recordings of a batch for :class:`AudioLoader`, as a list; refuses ambiguous
    input (a single path, a dense numeric array: one recording or a batch?)."""
    if isinstance(X, (str, bytes, os.PathLike)):
        raise SkascValueError(
            f"AudioLoader expected a list of recordings; got a single path {X!r}. "
            "Pass a list of paths, e.g. [path]."
        )
    if not isinstance(X, (np.ndarray, list, tuple)) and hasattr(X, "__array__"):
        X = np.asarray(X)  # array-likes (e.g. a pandas Series of paths)
    if isinstance(X, np.ndarray):
        if X.dtype == object or X.dtype.kind in "US":
            if X.ndim != 1:
                raise SkascValueError(
                    f"AudioLoader expected a 1-D array or list of recordings; got an array "
                    f"of shape {X.shape}."
                )
            items = list(X)
        elif X.dtype.kind in "biufc":
            if X.ndim <= 1:
                raise SkascValueError(
                    f"AudioLoader expected a list of recordings; got a single numeric "
                    f"array of shape {X.shape}. Pass [x] for one recording."
                )
            raise SkascValueError(
                f"AudioLoader expected a list of recordings; got a dense numeric array "
                f"of shape {X.shape}, which is ambiguous (one multi-channel recording or "
                "a batch?). Pass [x] for one recording of shape (n_channels, n_samples), "
                "or list(X) for a batch of mono recordings stored as rows."
            )
        else:
            raise SkascTypeError(
                f"AudioLoader expected a list of recordings; got an array of dtype {X.dtype}."
            )
    else:
        try:
            items = list(X)
        except TypeError as exc:
            raise SkascTypeError(
                f"AudioLoader expected a list of recordings (paths or arrays); got "
                f"{type(X).__name__}."
            ) from exc
    if not items:
        raise SkascValueError("AudioLoader expected at least one recording; X is empty.")
    return items


class AudioLoader(StatelessTransformer, auto_wrap_output_keys=None):
    """Load recordings (paths or arrays) as mono float32 waveforms at ``sr`` Hz.

    A stateless transformer (``fit`` learns nothing): reads each file with
    soundfile, averages channels to mono and resamples with soxr. See the
    module docstring for the input conventions.

    Parameters
    ----------
    sr : int, default=22050
        Output sampling rate in Hz, in [1000, 384000] (22050 Hz in Phan et al.
        2019).
    input_sr : int or None, default=None
        Sampling rate in Hz of the recordings given as arrays, in [1000, 384000];
        ``None`` means they are already at ``sr``. Files carry their own rate.
    n_jobs : int or None, default=None
        Number of joblib workers across recordings (threads by default; a
        ``joblib.parallel_config`` backend overrides). ``None`` or 1 runs
        sequentially; -1 uses all cores.

    Examples
    --------
    >>> import numpy as np
    >>> from skasc.frontend.audio import AudioLoader
    >>> rng = np.random.default_rng(0)
    >>> three_s = rng.standard_normal(3 * 44100).astype(np.float32) * 0.1
    >>> stereo = rng.standard_normal((2, 3 * 44100)).astype(np.float32) * 0.1
    >>> X = AudioLoader(sr=22050, input_sr=44100).fit_transform([three_s, stereo])
    >>> X.shape, X.dtype
    ((2, 66150), dtype('float32'))
    """

    # auto_wrap_output_keys=None: no set_output wrapping (outputs are waveforms,
    # never DataFrames), so warnings and tracebacks point at the caller.

    _parameter_checks = {
        "sr": Int(low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE),
        "input_sr": Int(low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE, none=True),
        "n_jobs": NJobs(),
    }

    def __init__(
        self, *, sr: int = 22050, input_sr: int | None = None, n_jobs: int | None = None
    ) -> None:
        self.sr = sr
        self.input_sr = input_sr
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        check_params(self)

    def transform(self, X: Sequence[Any]) -> np.ndarray:
        """Load a batch of recordings.

        Parameters
        ----------
        X : list of (path or ndarray), length n_recordings
            Paths of audio files, or arrays of shape ``(n_samples,)`` or
            ``(n_channels, n_samples)`` at ``input_sr`` Hz; mixing is allowed.

        Returns
        -------
        waveforms : ndarray of shape (n_recordings, n_samples), dtype float32
            Mono waveforms at ``sr`` Hz; a 1-D object ndarray of per-recording
            ``(n_samples_i,)`` arrays when lengths differ.
        """
        self._check_params()
        items = check_audio_batch(X)
        kwargs: dict[str, Any] = {
            "sr": int(self.sr),
            "input_sr": None if self.input_sr is None else int(self.input_sr),
        }
        if self.n_jobs is None or self.n_jobs == 1 or len(items) == 1:
            waves = [_as_waveform(item, index=i, **kwargs) for i, item in enumerate(items)]
        else:
            waves = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(_as_waveform)(item, index=i, **kwargs) for i, item in enumerate(items)
            )
        return stack_recordings(waves)
