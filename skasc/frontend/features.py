"""Log Mel and log gammatone spectrograms of segmented recordings.

Phan et al. (2019, Sec. 4.2): each 2-s segment at 22050 Hz becomes an image of
``M = 64`` bands (50 Hz to Nyquist) by ``T = 80`` frames (50-ms Hann frames,
50 % overlap), one image per channel.  Framing details are in
:mod:`skasc.dsp.spectrogram` (frames start inside the segment and its end is
zero-padded, so ``T = n_samples // hop_length`` and a segment's features do not
depend on its neighbours); the gammatone filterbank is described in
:mod:`skasc.dsp.gammatone`.  Both extractors share one code path: a single
batched STFT over all segments and channels of a recording, one matrix product
with the filterbank, and a fixed-floor log.  :func:`extract_features` runs
several extractors on one shared STFT (log Mel + log gammatone for about the
price of one).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._base import StatelessTransformer
from .._recordings import check_batch, is_ragged, iter_recordings, recording_error, stack_recordings
from .._sklearn import BaseComposition
from .._validation import Int, Real, check_params, check_real
from ..dsp.gammatone import gammatone_weights
from ..dsp.spectrogram import frame_lengths, log_filterbank
from ..dsp.spectrogram import n_frames as _n_frames
from ..exceptions import InvalidParameterError, SkascTypeError, SkascValueError

__all__ = [
    "LogMelExtractor",
    "GammatoneExtractor",
    "FeatureStack",
    "FeatureTypeSelector",
    "extract_features",
]


@functools.lru_cache(maxsize=32)
def _mel_weights(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    w = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float32
    )
    w.flags.writeable = False
    return w


class _FilterbankExtractor(StatelessTransformer, auto_wrap_output_keys=None):
    """Shared STFT -> filterbank -> log path; subclasses supply the weights."""

    _n_bands_param = "n_bands"
    _parameter_checks = {
        "sr": Int(low=1),
        "fmin": Real(low=0.0),
        "fmax": Real(low=0.0, none=True),
        "frame_duration": Real(low=0.0, low_inclusive=False),
        "overlap": Real(low=0.0, high=1.0, high_inclusive=False),
        "log_floor": Real(low=0.0, low_inclusive=False),
    }

    def _check_params(self) -> tuple[int, int]:
        """Check every parameter; return ``(n_fft, hop_length)``."""
        params = check_params(self)
        sr, fmin = params["sr"], params["fmin"]
        frame_duration, overlap = params["frame_duration"], params["overlap"]
        nyquist = sr / 2.0
        fmax = check_real(self.fmax, "fmax", self, low=0.0, high=nyquist, allow_none=True)
        fmax = nyquist if fmax is None else fmax
        if not fmin < fmax:
            raise InvalidParameterError(
                f"The 'fmin' parameter of {type(self).__name__} must be below fmax "
                f"({fmax} Hz). Got {self.fmin!r} instead."
            )
        n_fft, hop = frame_lengths(sr=sr, frame_duration=frame_duration, overlap=overlap)
        if n_fft < 2:
            raise InvalidParameterError(
                f"The 'frame_duration' parameter of {type(self).__name__} must give frames "
                f"of at least 2 samples at sr={sr} Hz (frame_duration >= {1.5 / sr:.3g} s). "
                f"Got {self.frame_duration!r} instead."
            )
        return n_fft, hop

    def _weights(self, n_fft: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def n_frames(self, segment_samples: int) -> int:
        """Number of frames ``T`` of a segment of ``segment_samples`` samples.

        Parameters
        ----------
        segment_samples : int
            Segment length in samples.

        Returns
        -------
        n_frames : int
            ``segment_samples // hop_length`` (frames start inside the segment).

        Examples
        --------
        >>> LogMelExtractor().n_frames(44100)  # 2 s at 22050 Hz
        80
        """
        _, hop = self._check_params()
        return _n_frames(segment_samples, hop_length=hop)

    def transform(self, X: Any) -> np.ndarray:
        """Log filterbank spectrogram of every segment and channel.

        Parameters
        ----------
        X : ndarray of shape (n_recordings, n_segments, n_channels, n_samples), or \
object ndarray of shape (n_recordings,) of arrays (n_segments, n_channels, n_samples)
            Segments from :class:`~skasc.frontend.segment.Segmenter`.

        Returns
        -------
        S_db : ndarray of shape (n_recordings, n_segments, n_channels, n_bands, n_frames), \
or object ndarray of shape (n_recordings,) of 4-D arrays when segment counts differ
            Log band energies in dB re 1 (float32), floored at
            ``10 * log10(log_floor)``.
        """
        return _transform_shared([self], X)[0]


class LogMelExtractor(_FilterbankExtractor):
    """Log Mel-scale spectrogram of every segment and channel.

    Each segment is framed into Hann frames of ``frame_duration`` seconds with
    the given ``overlap`` (frames start inside the segment; its end is
    zero-padded, so ``n_frames = n_samples // hop_length``), the power spectrum
    is weighted by ``n_mels`` Slaney-normalised Mel filters
    (:func:`librosa.filters.mel`) between ``fmin`` and ``fmax``, and compressed
    by ``10 * log10(max(power, log_floor))``.  The floor is fixed, so silence
    gives finite features and a segment never depends on the rest of its
    recording.  Stateless: ``transform`` works without ``fit``.

    Parameters
    ----------
    sr : int, default=22050
        Sampling rate of the segments in Hz.
    n_mels : int, default=64
        Number of Mel bands (M = 64 in the paper).
    fmin : float, default=50.0
        Lowest frequency in Hz.
    fmax : float or None, default=None
        Highest frequency in Hz; None means ``sr / 2`` (Nyquist).
    frame_duration : float, default=0.05
        Frame length in seconds; ``n_fft = round(frame_duration * sr)`` = 1102.
    overlap : float, default=0.5
        Frame overlap fraction in ``[0, 1)``; hop = 551 samples.
    log_floor : float, default=1e-10
        Fixed power floor of the log (-100 dB).

    See Also
    --------
    GammatoneExtractor : the same with gammatone filters.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> segments = rng.standard_normal((1, 3, 2, 44100)).astype(np.float32) * 0.1
    >>> LogMelExtractor().transform(segments).shape
    (1, 3, 2, 64, 80)
    """

    _n_bands_param = "n_mels"
    _parameter_checks = {**_FilterbankExtractor._parameter_checks, "n_mels": Int(low=1)}

    def __init__(
        self,
        *,
        sr: int = 22050,
        n_mels: int = 64,
        fmin: float = 50.0,
        fmax: float | None = None,
        frame_duration: float = 0.05,
        overlap: float = 0.5,
        log_floor: float = 1e-10,
    ):
        self.sr = sr
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.frame_duration = frame_duration
        self.overlap = overlap
        self.log_floor = log_floor

    def _weights(self, n_fft: int) -> np.ndarray:
        fmax = self.sr / 2.0 if self.fmax is None else float(self.fmax)
        return _mel_weights(int(self.sr), n_fft, int(self.n_mels), float(self.fmin), fmax)


class GammatoneExtractor(_FilterbankExtractor):
    """Log gammatone spectrogram of every segment and channel.

    Same framing and log as :class:`LogMelExtractor`, with ``n_bands``
    4th-order gammatone filters spaced equally on the ERB-rate scale between
    ``fmin`` and ``fmax``, applied as magnitude-squared responses on the FFT
    bins, each filter normalised to unit sum (see :mod:`skasc.dsp.gammatone`).
    Stateless: ``transform`` works without ``fit``.

    Parameters
    ----------
    sr : int, default=22050
        Sampling rate of the segments in Hz.
    n_bands : int, default=64
        Number of gammatone filters (M = 64 in the paper).
    fmin : float, default=50.0
        Lower edge of the filterbank in Hz.
    fmax : float or None, default=None
        Upper edge in Hz; None means ``sr / 2`` (Nyquist).
    frame_duration : float, default=0.05
        Frame length in seconds; ``n_fft = round(frame_duration * sr)`` = 1102.
    overlap : float, default=0.5
        Frame overlap fraction in ``[0, 1)``; hop = 551 samples.
    log_floor : float, default=1e-10
        Fixed power floor of the log (-100 dB).

    See Also
    --------
    LogMelExtractor : the same with Mel filters.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> segments = rng.standard_normal((1, 3, 2, 44100)).astype(np.float32) * 0.1
    >>> GammatoneExtractor().transform(segments).shape
    (1, 3, 2, 64, 80)
    """

    _n_bands_param = "n_bands"
    _parameter_checks = {**_FilterbankExtractor._parameter_checks, "n_bands": Int(low=1)}

    def __init__(
        self,
        *,
        sr: int = 22050,
        n_bands: int = 64,
        fmin: float = 50.0,
        fmax: float | None = None,
        frame_duration: float = 0.05,
        overlap: float = 0.5,
        log_floor: float = 1e-10,
    ):
        self.sr = sr
        self.n_bands = n_bands
        self.fmin = fmin
        self.fmax = fmax
        self.frame_duration = frame_duration
        self.overlap = overlap
        self.log_floor = log_floor

    def _weights(self, n_fft: int) -> np.ndarray:
        return gammatone_weights(
            sr=int(self.sr),
            n_fft=n_fft,
            n_bands=int(self.n_bands),
            fmin=float(self.fmin),
            fmax=self.fmax,
        )


def _raise_non_finite(rec: np.ndarray, index: int) -> None:
    # The (small) output is checked instead of the input, which keeps the
    # common path fast; a non-finite output comes from non-finite input or
    # from overflow of the float32 powers.
    if not np.isfinite(rec).all():
        raise recording_error(SkascValueError, index, "contains NaN or inf samples.")
    raise recording_error(
        SkascValueError,
        index,
        "has samples too large for float32 power "
        f"spectra (max |x| = {float(np.max(np.abs(rec))):.3g}); scale the "
        "audio to [-1, 1].",
    )


def _transform_shared(extractors: list[_FilterbankExtractor], X: Any) -> list[np.ndarray]:
    """Transform ``X`` with each extractor, one STFT per recording for all of them."""
    framing = [e._check_params() for e in extractors]
    first = extractors[0]
    name = type(first).__name__
    for e, fr in zip(extractors[1:], framing[1:]):
        if (e.sr, fr, e.log_floor) != (first.sr, framing[0], first.log_floor):
            raise SkascValueError(
                f"extract_features needs extractors with equal sr, framing and log_floor; "
                f"{type(e).__name__} has sr={e.sr}, (n_fft, hop_length)={fr}, "
                f"log_floor={e.log_floor} but {name} has sr={first.sr}, "
                f"(n_fft, hop_length)={framing[0]}, log_floor={first.log_floor}."
            )
    n_fft, hop = framing[0]
    weights = [e._weights(n_fft) for e in extractors]
    recordings = check_batch(
        X,
        name,
        item_ndim=(3,),
        item_shape="(n_segments, n_channels, n_samples)",
        hint="Did you forget the Segmenter?",
    )
    # One batched STFT per recording (all its segments and channels): big
    # enough to amortise the call overhead, small enough to bound memory.
    results: list[list[np.ndarray]] = [[] for _ in extractors]
    for i, rec in enumerate(recordings):
        if rec.shape[0] == 0 or rec.shape[1] == 0:
            t = _n_frames(rec.shape[2], hop_length=hop)
            for res, w in zip(results, weights):
                res.append(np.zeros(rec.shape[:2] + (w.shape[0], t), np.float32))
            continue
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            feats = log_filterbank(
                rec, weights=weights, n_fft=n_fft, hop_length=hop, floor=first.log_floor
            )
        for res, f in zip(results, feats):
            if not np.isfinite(f).all():
                _raise_non_finite(rec, i)
            res.append(f)
    return [stack_recordings(res) for res in results]


def extract_features(X: Any, extractors: list[_FilterbankExtractor]) -> tuple[np.ndarray, ...]:
    """Apply several extractors that share one STFT per recording.

    Equals ``tuple(e.transform(X) for e in extractors)`` but computes the
    short-time power spectrum once, which roughly halves the cost of log Mel
    plus log gammatone features.  The extractors must agree on ``sr``,
    ``frame_duration``/``overlap`` (hence ``n_fft`` and ``hop_length``) and
    ``log_floor``.

    Parameters
    ----------
    X : ndarray of shape (n_recordings, n_segments, n_channels, n_samples), or \
object ndarray of shape (n_recordings,) of 3-D arrays
        Segments from :class:`~skasc.frontend.segment.Segmenter`.
    extractors : list of LogMelExtractor or GammatoneExtractor
        Configured extractors (fitting is not needed).

    Returns
    -------
    features : tuple of ndarray of shape \
(n_recordings, n_segments, n_channels, n_bands, n_frames)
        One per extractor, as its ``transform`` would return.

    Examples
    --------
    >>> import numpy as np
    >>> segments = np.zeros((1, 15, 2, 44100), dtype=np.float32)
    >>> mel, gam = extract_features(segments, [LogMelExtractor(), GammatoneExtractor()])
    >>> mel.shape, gam.shape
    ((1, 15, 2, 64, 80), (1, 15, 2, 64, 80))
    """
    extractors = list(extractors)
    if not extractors or not all(isinstance(e, _FilterbankExtractor) for e in extractors):
        raise SkascTypeError(
            "extract_features expects a non-empty list of LogMelExtractor or "
            f"GammatoneExtractor instances; got {extractors!r}."
        )
    return tuple(_transform_shared(extractors, X))


class FeatureStack(StatelessTransformer, BaseComposition, auto_wrap_output_keys=None):
    """Several feature types from one STFT, stacked on a feature-type axis.

    The front end of a fused system: ``FrontEnd(extractor=FeatureStack(...))``
    reads, resamples, denoises and frames each recording once, computes its
    power spectrum once (:func:`extract_features`), and caches one entry per
    recording holding every feature type. Each system then takes its type with
    :class:`FeatureTypeSelector`.

    Parameters
    ----------
    extractors : list of (str, LogMelExtractor or GammatoneExtractor) tuples
        Named extractors; they must agree on ``sr``, framing, ``log_floor`` and
        the number of bands. Their parameters are reachable by name
        (``logmel__n_mels``).

    Examples
    --------
    >>> import numpy as np
    >>> stack = FeatureStack([("logmel", LogMelExtractor()), ("loggam", GammatoneExtractor())])
    >>> segments = np.zeros((1, 3, 2, 44100), dtype=np.float32)
    >>> stack.transform(segments).shape  # (n_recordings, n_segments, n_types, K, M, T)
    (1, 3, 2, 2, 64, 80)
    """

    _parameter_checks: dict = {}  # its one parameter, extractors, is checked in _check_params

    def __init__(self, extractors: list[tuple[str, Any]]) -> None:
        self.extractors = extractors

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of the stack and, with ``deep``, of every extractor by name."""
        return self._get_params("extractors", deep=deep)

    def set_params(self, **params: Any) -> FeatureStack:
        """Set parameters; extractors and their parameters are addressed by name."""
        self._set_params("extractors", **params)
        return self

    @property
    def sr(self) -> int:
        """The extractors' common sampling rate in Hz (checked by the front end)."""
        return self._check_params()[0].sr

    def _check_params(self) -> list[_FilterbankExtractor]:
        ests = self.extractors
        if (
            not isinstance(ests, (list, tuple))
            or not ests
            or not all(
                isinstance(e, tuple) and len(e) == 2 and isinstance(e[1], _FilterbankExtractor)
                for e in ests
            )
        ):
            raise InvalidParameterError(
                "The 'extractors' parameter of FeatureStack must be a non-empty list of "
                "(name, LogMelExtractor or GammatoneExtractor) tuples. Got "
                f"{ests!r} instead."
            )
        self._validate_names([name for name, _ in ests])
        extractors = [e for _, e in ests]
        bands = {name: getattr(e, e._n_bands_param) for name, e in ests}
        if len(set(bands.values())) > 1:
            raise SkascValueError(
                "The extractors of FeatureStack must give the same number of bands to be "
                f"stacked; got {bands}."
            )
        return extractors

    def transform(self, X: Any) -> np.ndarray:
        """Every extractor's features of every segment, from one STFT per recording.

        Parameters
        ----------
        X : ndarray of shape (n_recordings, n_segments, n_channels, n_samples), or \
object ndarray of shape (n_recordings,) of 3-D arrays
            Segments from :class:`~skasc.frontend.segment.Segmenter`.

        Returns
        -------
        features : ndarray of shape \
(n_recordings, n_segments, n_types, n_channels, n_bands, n_frames)
            float32, types in the order of ``extractors``; an object array of
            per-recording 5-D arrays when segment counts differ.
        """
        feats = _transform_shared(self._check_params(), X)
        per_recording = [
            np.stack(parts, axis=1) for parts in zip(*(iter_recordings(f) for f in feats))
        ]
        return stack_recordings(per_recording)


class FeatureTypeSelector(StatelessTransformer, auto_wrap_output_keys=None):
    """One feature type of a :class:`FeatureStack`'s output.

    Parameters
    ----------
    index : int, default=0
        Position of the type in the stack's ``extractors``.

    Examples
    --------
    >>> import numpy as np
    >>> stacked = np.zeros((1, 3, 2, 2, 64, 80), dtype=np.float32)
    >>> FeatureTypeSelector(1).transform(stacked).shape
    (1, 3, 2, 64, 80)
    """

    _parameter_checks = {"index": Int(low=0)}

    def __init__(self, index: int = 0) -> None:
        self.index = index

    def _check_params(self) -> int:
        return check_params(self)["index"]

    def transform(self, X: Any) -> np.ndarray:
        """Features of type ``index``.

        Parameters
        ----------
        X : ndarray of shape (n_recordings, n_segments, n_types, n_channels, n_bands, n_frames), \
or object ndarray of shape (n_recordings,) of 5-D arrays
            Output of :class:`FeatureStack` (through the front end).

        Returns
        -------
        features : ndarray of shape (n_recordings, n_segments, n_channels, n_bands, n_frames)
            A view where the input is dense.
        """
        index = self._check_params()
        out = []
        for i, rec in enumerate(iter_recordings(X)):
            rec = np.asarray(rec)
            if rec.ndim != 5 or index >= rec.shape[1]:
                raise SkascValueError(
                    f"FeatureTypeSelector(index={index}) expected stacked features of shape "
                    "(n_segments, n_types, n_channels, n_bands, n_frames) per recording "
                    f"with more than {index} types; recording {i} has shape {rec.shape}."
                )
            out.append(rec)
        if not is_ragged(X):
            return np.asarray(X)[:, :, index]
        return stack_recordings([rec[:, index] for rec in out])
