"""The whole front end, run one recording at a time.

:class:`FrontEnd` chains :class:`~skasc.audio.AudioLoader`,
:class:`~skasc.denoise.MinStatsDenoiser`, :class:`~skasc.segment.Segmenter` and a
feature extractor, but applies the chain to each recording separately (in parallel
over cores with joblib), so that raw audio is never held for the whole data set:
the largest thing in memory is the stacked features (about 1.9 GB per feature type
for LITIS Rouen at float32). With ``memory`` set, each recording's features are
cached on disk by :class:`joblib.Memory`, keyed by the recording (path, size and
modification time for files; the samples for arrays) and by the parameters of the
four steps, so 20 cross-validation splits compute each recording's features once,
and a second run over the same files is served from the cache.

The four steps stay ordinary estimators, reachable by name for ``set_params`` and
``GridSearchCV`` (``frontend__extractor__n_mels``).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
from joblib import Memory, Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, clone

from ._recordings import stack_recordings
from ._validation import check_int
from .audio import AudioLoader, _check_batch
from .denoise import MinStatsDenoiser
from .features import LogMelExtractor
from .segment import Segmenter

__all__ = ["FrontEnd"]


def _rename(message: str, index: int) -> str:
    # The steps see a batch of one; name the recording's index in the user's batch.
    return message.replace("Recording 0 ", f"Recording {index} ").replace(
        "recording 0", f"recording {index}")


def _featurise(item: Any, steps: list[BaseEstimator], index: int):
    """Run the chain on one recording.

    Returns the features, of shape (n_segments, n_channels, n_bands, n_frames), and
    the warnings raised on the way (re-issued by the caller, in the user's process,
    with the recording's real index).
    """
    batch: Any = [item]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in steps:
            try:
                batch = step.transform(batch)
            except (ValueError, TypeError) as exc:
                raise type(exc)(_rename(str(exc), index)) from exc
    notes = [(w.category, _rename(str(w.message), index)) for w in caught]
    return np.asarray(batch[0], dtype=np.float32), notes


def _file_key(item: Any) -> Any:
    """What identifies a recording for the cache: path + size + mtime, or the samples."""
    if isinstance(item, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(item))
        try:
            st = os.stat(path)
            return ("file", path, st.st_size, st.st_mtime_ns)
        except OSError:
            return ("file", path, None, None)  # the loader raises the clear error
    return item


def _featurise_keyed(key: Any, item: Any, steps: list[BaseEstimator], index: int):
    # ``key`` is only there to be hashed by joblib.Memory; ``item`` and ``index`` are ignored.
    return _featurise(item, steps, index)


class FrontEnd(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Load, denoise, segment and featurise recordings, one recording at a time.

    Parameters
    ----------
    loader : AudioLoader or None, default=None
        Reads paths or arrays and resamples to ``loader.sr``. ``None`` means
        ``AudioLoader()`` (22 050 Hz, the paper's rate).
    denoiser : MinStatsDenoiser, "drop" or None, default=None
        Adds the noise-subtracted auxiliary channel (K = 2). ``None`` means
        ``MinStatsDenoiser()``; ``"drop"`` keeps only the original channel (K = 1).
    segmenter : Segmenter or None, default=None
        ``None`` means ``Segmenter()`` (2-s segments, no overlap).
    extractor : LogMelExtractor, GammatoneExtractor or None, default=None
        ``None`` means ``LogMelExtractor()`` (64 bands x 80 frames per 2-s segment).
    n_jobs : int or None, default=None
        Recordings processed in parallel (joblib; ``-1`` for all cores).
    memory : str, joblib.Memory or None, default=None
        Folder (or Memory) where each recording's features are cached.
    verbose : int, default=0
        ``>= 1`` prints how many recordings were served from the cache.

    Examples
    --------
    >>> import numpy as np
    >>> from skasc import FrontEnd
    >>> rng = np.random.default_rng(0)
    >>> X = [0.1 * rng.standard_normal(22050 * 4).astype(np.float32) for _ in range(2)]
    >>> FrontEnd().fit_transform(X).shape  # (n_recordings, n_segments, K, M, T)
    (2, 2, 2, 64, 80)
    """

    def __init__(self, *, loader=None, denoiser=None, segmenter=None, extractor=None,
                 n_jobs=None, memory=None, verbose=0):
        self.loader = loader
        self.denoiser = denoiser
        self.segmenter = segmenter
        self.extractor = extractor
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _steps(self) -> list[BaseEstimator]:
        loader = AudioLoader() if self.loader is None else clone(self.loader)
        denoiser = (MinStatsDenoiser() if self.denoiser is None
                    else None if isinstance(self.denoiser, str) and self.denoiser == "drop"
                    else clone(self.denoiser))
        segmenter = Segmenter() if self.segmenter is None else clone(self.segmenter)
        extractor = LogMelExtractor() if self.extractor is None else clone(self.extractor)
        steps = [s for s in (loader, denoiser, segmenter, extractor) if s is not None]
        rates = {name: getattr(step, "sr", None) for name, step in
                 zip(("loader", "denoiser", "segmenter", "extractor"),
                     (loader, denoiser, segmenter, extractor)) if step is not None}
        if len(set(rates.values())) > 1:
            shown = ", ".join(f"{k}.sr={v}" for k, v in rates.items())
            raise ValueError(
                f"The steps of FrontEnd must share one sampling rate; got {shown}. "
                "Set the same 'sr' on all of them.")
        if self.n_jobs is not None:
            check_int(self.n_jobs, "n_jobs", self, allow_none=True)
        check_int(self.verbose, "verbose", self, low=0)
        return steps

    def _memory(self) -> Memory | None:
        if self.memory is None:
            return None
        if isinstance(self.memory, Memory):
            return self.memory
        if isinstance(self.memory, (str, os.PathLike)):
            return Memory(os.fspath(self.memory), verbose=0)
        raise TypeError(
            "The 'memory' parameter of FrontEnd must be None, a folder path or a "
            f"joblib.Memory. Got {self.memory!r} instead.")

    def fit(self, X=None, y=None):
        """Validate the parameters; the front end learns nothing.

        Returns
        -------
        self : FrontEnd
        """
        self._steps()
        self._memory()
        return self

    def transform(self, X) -> np.ndarray:
        """Featurise a batch of recordings.

        Parameters
        ----------
        X : list of str, path-like or ndarray, length n_recordings
            File paths (WAV/FLAC/OGG) or waveforms at ``loader.input_sr``.

        Returns
        -------
        features : ndarray of shape (n_recordings, n_segments, n_channels, n_bands, n_frames)
            float32; a 1-D object array of per-recording arrays when the
            recordings give different numbers of segments.
        """
        steps = self._steps()
        memory = self._memory()
        # The loader's batch checks (one recording passed bare, a 2-D array, an empty
        # batch...) run on the whole batch before anything is dispatched.
        items = _check_batch(X)
        if memory is None:
            calls = [delayed(_featurise)(item, steps, i) for i, item in enumerate(items)]
        else:
            cached = memory.cache(_featurise_keyed, ignore=["item", "index"])
            keys = [_file_key(item) for item in items]
            if self.verbose:
                hits = sum(cached.check_call_in_cache(k, None, steps, 0) for k in keys)
                print(f"[FrontEnd] {hits}/{len(items)} recordings served from the cache "
                      f"in {memory.location}")
            calls = [delayed(cached)(k, item, steps, i)
                     for i, (k, item) in enumerate(zip(keys, items))]
        results = Parallel(n_jobs=self.n_jobs)(calls)
        for _, notes in results:
            for category, message in notes:
                warnings.warn(message, category, stacklevel=2)
        return stack_recordings([features for features, _ in results])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags
