"""The whole front end, run one recording at a time.

:class:`FrontEnd` chains :class:`~skasc.frontend.audio.AudioLoader`,
:class:`~skasc.frontend.denoise.MinStatsDenoiser`, :class:`~skasc.frontend.segment.Segmenter` and a
feature extractor, but applies the chain to each recording separately (in parallel
over cores with joblib), so that raw audio is never held for the whole data set:
the largest thing in memory is the stacked features (about 1.9 GB per feature type
for LITIS Rouen at float32). With ``memory`` set, each recording's features are
cached on disk as one ``.npy`` file, keyed (with :func:`joblib.hash`) by the
recording (path, size and modification time for files; the samples for arrays), by
the parameters of the four steps and by the code that computes them (every module of
``skasc.frontend`` and ``skasc.dsp``, skasc's private helper modules, the steps' own
modules, and the versions of the numeric libraries), so 20 cross-validation splits
compute each recording's features once, a second run over the same files is served
from the cache, and an upgrade that changes the numbers never serves stale features.

The four steps stay ordinary estimators, reachable by name for ``set_params`` and
``GridSearchCV`` (``frontend__extractor__n_mels``).
"""

from __future__ import annotations

import builtins
import glob
import hashlib
import importlib.metadata
import json
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone

from .._atomic import atomic_write
from .._base import StatelessTransformer
from .._paths import regular_file_problem
from .._recordings import recording_error
from .._validation import Int, NJobs, check_params
from .._warnings import warn
from ..exceptions import InvalidParameterError, SkascError, SkascValueError
from .audio import AudioLoader, check_audio_batch
from .denoise import MinStatsDenoiser
from .features import LogMelExtractor
from .segment import Segmenter, ShortRecordingWarning

__all__ = ["FrontEnd"]


@dataclass(frozen=True)
class _Notes:
    """What the steps warned about while featurising one recording.

    Attributes
    ----------
    padded_samples : int or None
        The recording's length in samples when the segmenter zero-padded it to one
        segment (its :class:`~skasc.frontend.segment.ShortRecordingWarning`).
    others : tuple of (category, message)
        The other warnings, in the order raised.
    """

    padded_samples: int | None = None
    others: tuple[tuple[type[Warning], str], ...] = ()

    @classmethod
    def caught(cls, caught: list) -> _Notes:
        """The notes of the warnings recorded by ``warnings.catch_warnings``."""
        short = [w.message for w in caught if isinstance(w.message, ShortRecordingWarning)]
        return cls(
            padded_samples=short[0].padded[0][1] if short else None,
            others=tuple(
                (w.category, str(w.message))
                for w in caught
                if not isinstance(w.message, ShortRecordingWarning)
            ),
        )

    def to_json(self) -> bytes:
        """The notes as the cache keeps them (categories by name: builtins only)."""
        return json.dumps(
            {
                "padded_samples": self.padded_samples,
                "others": [
                    (c.__name__ if c.__module__ == "builtins" else "UserWarning", m)
                    for c, m in self.others
                ],
            }
        ).encode()

    @classmethod
    def from_json(cls, text: str) -> _Notes:
        data = json.loads(text)
        return cls(
            padded_samples=data["padded_samples"],
            others=tuple((getattr(builtins, c, UserWarning), m) for c, m in data["others"]),
        )


def _featurise(item: Any, steps: list[BaseEstimator], index: int) -> tuple[np.ndarray, _Notes]:
    """Run the chain on one recording.

    Returns the features, of shape (n_segments, n_channels, n_bands, n_frames), and
    what the steps warned about (replayed by the caller, in the user's process). The
    steps see a batch of one; an error about its recording is raised again naming
    ``index``, the recording's place in the user's batch.
    """
    batch: Any = [item]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in steps:
            try:
                batch = step.transform(batch)
            except (ValueError, TypeError) as exc:
                if getattr(exc, "recording_index", None) is None:
                    raise
                detail = exc.recording_detail  # type: ignore[union-attr]  # set with the index
                raise recording_error(type(exc), index, detail) from exc
    return np.asarray(batch[0], dtype=np.float32), _Notes.caught(caught)


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


# Libraries whose versions can change the features' numbers.
_NUMERIC_PACKAGES = ("numpy", "scipy", "librosa", "soxr", "soundfile", "numba")


# skasc's source folder; the cache key hashes these files of it
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HASHED = (os.path.join("frontend", "*.py"), os.path.join("dsp", "*.py"), "_[!_]*.py")


def _code_files(steps: list[BaseEstimator]) -> dict[str, str]:
    """``{name: path}`` of the source files the features depend on: every module of
    ``skasc.frontend`` and ``skasc.dsp`` (a module added there is hashed too), skasc's
    private helper modules (``skasc/_*.py``: batches of recordings, checks) and the
    module of any step defined elsewhere."""
    # named by their place in the package, not by absolute path, so that machines with
    # skasc installed in different places share a cache
    files = {
        "skasc/" + os.path.relpath(path, _PACKAGE).replace(os.sep, "/"): path
        for pattern in _HASHED
        for path in glob.glob(os.path.join(_PACKAGE, pattern))
    }
    for step in steps:
        module = sys.modules.get(type(step).__module__)
        path = getattr(module, "__file__", None)
        if module is not None and path and module.__name__.replace(".", "/") + ".py" not in files:
            files[module.__name__] = path
    return files


def _code_fingerprint(steps: list[BaseEstimator]) -> str:
    """A hash of what the features depend on besides the steps' parameters: the
    source files of :func:`_code_files` and the versions of the numeric libraries."""
    files = _code_files(steps)
    digest = hashlib.sha256()
    for name in sorted(files):
        with open(files[name], "rb") as fh:
            digest.update(name.encode() + b"\0" + fh.read() + b"\0")
    for package in _NUMERIC_PACKAGES:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = ""
        digest.update(f"{package}={version};".encode())
    return digest.hexdigest()


class _UnreadableEntry(SkascError):
    """A feature-cache entry exists but cannot be read; its message names the file."""


class _FeatureCache:
    """One ``.npy`` file of features per recording, in a folder per front-end setting.

    The folder is named by a hash of the four steps and of the code that runs them
    (:func:`_code_fingerprint`; so changing ``n_mels``, or upgrading skasc or librosa,
    shares nothing), the file by a hash of the recording's key. Writes go to a temporary
    file that is renamed into place, so parallel workers never see half a file.
    Warnings raised while computing an entry are kept beside it (``.json``) and
    replayed on a hit. Picklable by path: workers on other machines read and write
    the same entries through a shared file system.
    """

    def __init__(self, location: str, steps: list[BaseEstimator]) -> None:
        self.location = location
        self.folder = os.path.join(
            location, "frontend-" + joblib.hash([steps, _code_fingerprint(steps)])[:16]
        )

    def _path(self, key: Any) -> str:
        return os.path.join(self.folder, joblib.hash(key))

    def get(self, key: Any):
        """``(features, notes)``, or None when the entry is absent.

        Raises ``_UnreadableEntry`` when the entry exists but cannot be read (cut
        short by a crash or a full disk, or overwritten): the caller recomputes it,
        and ``put`` replaces it atomically.
        """
        path = self._path(key)
        for name in (path + ".npy", path + ".json"):  # a FIFO would block the read
            problem = regular_file_problem(name)
            if problem not in (None, "does not exist"):
                raise _UnreadableEntry(f"{name} {problem}")
        try:
            features = np.load(path + ".npy", allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, EOFError, ValueError) as exc:  # EOFError: empty; ValueError: cut
            raise _UnreadableEntry(f"{path}.npy: {type(exc).__name__}: {exc}") from exc
        if features.dtype != np.float32:
            raise _UnreadableEntry(f"{path}.npy: holds {features.dtype}, not float32 features")
        notes = _Notes()
        try:
            with open(path + ".json") as fh:
                notes = _Notes.from_json(fh.read())
        except FileNotFoundError:
            pass  # the recording raised no warning
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise _UnreadableEntry(f"{path}.json: {type(exc).__name__}: {exc}") from exc
        return features, notes

    def put(self, key: Any, features: np.ndarray, notes: _Notes) -> None:
        os.makedirs(self.folder, exist_ok=True)
        path = self._path(key)
        if notes != _Notes():
            with atomic_write(path + ".json") as fh:
                fh.write(notes.to_json())
        with atomic_write(path + ".npy") as fh:
            np.save(fh, features)


def _featurise_and_store(
    key: Any, item: Any, steps: list[BaseEstimator], index: int, cache: _FeatureCache
):
    features, notes = _featurise(item, steps, index)
    cache.put(key, features, notes)
    return features, notes


class _Batch:
    """Per-recording features gathered into one batch without a second copy.

    A dense ``(n_recordings, ...)`` float32 array is allocated when the first result
    arrives and filled in place; if a later recording has another shape, the batch
    turns into a 1-D object array of per-recording arrays.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.dense: np.ndarray | None = None
        self.filled: list[int] = []
        self.ragged: np.ndarray | None = None
        self._notes: dict[int, _Notes] = {}

    def put(self, i: int, features: np.ndarray, notes: _Notes) -> None:
        self._notes[i] = notes
        features = np.asarray(features, dtype=np.float32)
        if self.ragged is None:
            if self.dense is None:
                self.dense = np.empty((self.n,) + features.shape, dtype=np.float32)
            if features.shape == self.dense.shape[1:]:
                self.dense[i] = features
                self.filled.append(i)
                return
            self.ragged = np.empty(self.n, dtype=object)
            for j in self.filled:
                self.ragged[j] = self.dense[j].copy()
            self.dense = None
        self.ragged[i] = features

    def warnings(self, segmenter: Any) -> list[tuple[Any, type[Warning]]]:
        """The recordings' warnings, ``(message, category)`` in recording order.

        The segmenter's short-recording warnings (one per recording, each from a batch
        of one) become one :class:`~skasc.frontend.segment.ShortRecordingWarning` for
        the whole batch, as ``segmenter.transform`` gives for it, before the warnings
        of the first padded recording.
        """
        out: list[tuple[Any, type[Warning]]] = []
        padded: list[tuple[int, int]] = []
        at = 0
        for i in sorted(self._notes):
            notes = self._notes[i]
            if notes.padded_samples is not None:
                at = at if padded else len(out)
                padded.append((i, notes.padded_samples))
            out.extend((message, category) for category, message in notes.others)
        if padded:
            seg_len, _ = segmenter.lengths()
            out.insert(
                at,
                (
                    ShortRecordingWarning(padded, self.n, seg_len, segmenter.sr),
                    ShortRecordingWarning,
                ),
            )
        return out

    def result(self) -> np.ndarray:
        out = self.dense if self.ragged is None else self.ragged
        assert out is not None  # every recording was put
        return out


class FrontEnd(StatelessTransformer, auto_wrap_output_keys=None):
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
        Recordings processed in parallel (joblib; ``-1`` for all cores; 0 is
        refused by ``fit``).
    memory : str, joblib.Memory or None, default=None
        Folder (or a Memory, whose location is used) where each recording's
        features are cached, one ``.npy`` file per recording. An entry that
        cannot be read (cut short by a crash or a full disk) is a cache miss:
        it is recomputed and replaced atomically, with one warning listing
        such entries.
    verbose : int, default=0
        ``>= 1`` prints how many recordings were served from the cache and shows
        a tqdm progress bar over the recordings featurised.

    Examples
    --------
    >>> import numpy as np
    >>> from skasc import FrontEnd
    >>> rng = np.random.default_rng(0)
    >>> X = [0.1 * rng.standard_normal(22050 * 4).astype(np.float32) for _ in range(2)]
    >>> FrontEnd().fit_transform(X).shape  # (n_recordings, n_segments, K, M, T)
    (2, 2, 2, 64, 80)
    """

    _parameter_checks = {"n_jobs": NJobs(), "verbose": Int(low=0)}

    def __init__(
        self,
        *,
        loader=None,
        denoiser=None,
        segmenter=None,
        extractor=None,
        n_jobs=None,
        memory=None,
        verbose=0,
    ):
        self.loader = loader
        self.denoiser = denoiser
        self.segmenter = segmenter
        self.extractor = extractor
        self.n_jobs = n_jobs
        self.memory = memory
        self.verbose = verbose

    def _check_params(self) -> None:
        self._steps()
        self._memory()

    def _steps(self) -> list[BaseEstimator]:
        return [step for step in self.resolved_steps().values() if step is not None]

    def resolved_steps(self) -> dict[str, BaseEstimator | None]:
        """The four steps by name (``"loader"``, ``"denoiser"``, ``"segmenter"``,
        ``"extractor"``): clones with the defaults filled in (``denoiser`` None when
        it is "drop"), their parameters checked."""
        steps = {
            "loader": AudioLoader() if self.loader is None else clone(self.loader),
            "denoiser": (
                MinStatsDenoiser()
                if self.denoiser is None
                else None
                if isinstance(self.denoiser, str) and self.denoiser == "drop"
                else clone(self.denoiser)
            ),
            "segmenter": Segmenter() if self.segmenter is None else clone(self.segmenter),
            "extractor": LogMelExtractor() if self.extractor is None else clone(self.extractor),
        }
        rates = {
            name: getattr(step, "sr", None) for name, step in steps.items() if step is not None
        }
        if len(set(rates.values())) > 1:
            shown = ", ".join(f"{k}.sr={v}" for k, v in rates.items())
            raise SkascValueError(
                f"The steps of FrontEnd must share one sampling rate; got {shown}. "
                "Set the same 'sr' on all of them."
            )
        check_params(self)
        return steps

    def _memory(self) -> str | None:
        """The cache folder, or None."""
        if self.memory is None:
            return None
        if isinstance(self.memory, joblib.Memory):
            return self.memory.location
        if isinstance(self.memory, (str, os.PathLike)):
            return os.fspath(self.memory)
        raise InvalidParameterError(
            "The 'memory' parameter of FrontEnd must be None, a folder path or a "
            f"joblib.Memory. Got {self.memory!r} instead."
        )

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
        named = self.resolved_steps()
        steps = [step for step in named.values() if step is not None]
        memory = self._memory()
        # The loader's batch checks (one recording passed bare, a 2-D array, an empty
        # batch...) run on the whole batch before anything is dispatched.
        items = check_audio_batch(X)
        batch = _Batch(len(items))
        if memory is None:
            todo = list(range(len(items)))
            calls = (delayed(_featurise)(items[i], steps, i) for i in todo)
        else:
            cache = _FeatureCache(memory, steps)
            keys = [_file_key(item) for item in items]
            # Entries already in the cache are read here: through a worker each would
            # only add a pickling round trip.
            todo = []
            unreadable = []
            for i, key in enumerate(keys):
                try:
                    hit = cache.get(key)
                except _UnreadableEntry as exc:
                    unreadable.append(str(exc))
                    hit = None
                if hit is None:
                    todo.append(i)
                else:
                    batch.put(i, *hit)
            if unreadable:
                shown = "\n".join(f"  {entry}" for entry in unreadable[:10])
                more = f"\n  ... and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
                n = len(unreadable)
                warn(
                    f"{n} feature-cache {'entry' if n == 1 else 'entries'} in {memory} could "
                    "not be read (cut short or corrupt); the features are recomputed and "
                    f"the {'entry' if n == 1 else 'entries'} replaced:\n{shown}{more}",
                    UserWarning,
                )
            if self.verbose:
                print(
                    f"[FrontEnd] {len(items) - len(todo)}/{len(items)} recordings served "
                    f"from the cache in {memory}"
                )
            calls = (
                delayed(_featurise_and_store)(keys[i], items[i], steps, i, cache) for i in todo
            )
        if todo:
            # As a generator, each result is copied into the batch as it arrives, so a
            # recording's features exist once (not in a list and again in np.stack).
            results = Parallel(n_jobs=self.n_jobs, return_as="generator")(calls)
            if self.verbose:
                from tqdm.auto import tqdm

                results = tqdm(results, total=len(todo), desc="features", unit="recording")
            for i, (features, notes) in zip(todo, results):
                batch.put(i, features, notes)
        for message, category in batch.warnings(named["segmenter"]):
            warn(message, category)
        return batch.result()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags
