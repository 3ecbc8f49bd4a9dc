"""Scene timelines: a fitted pipeline run over hours of audio in bounded memory.

:func:`predict_timeline` reads one long file block by block
(:func:`~skasc.frontend.audio.iter_audio_blocks`), denoises it with the
minimum-statistics tracker's state carried from block to block
(:class:`~skasc.dsp.minstats.MinStatsStream`), cuts the pipeline's 2-s segments,
featurises and classifies each segment once, and classifies every window of
``window`` seconds by the same product rule the pipeline applies to a recording
(:func:`~skasc.fusion.segment_log_evidence`). Nothing grows with the file but
one row of log evidence per segment (a few bytes per second of audio).

What equals what. The waveform, the denoised channel and therefore every
segment's features are those of processing the whole file at once: the streaming
resampler and denoiser give the same samples (tests check it), whatever the block
size. A window's posteriors are the product rule over the segments that lie
wholly inside it, so a window covering the whole file gives
``pipeline.predict_proba([path])``. A window is *not* the same as a separate
recording cut out of the file: its denoised channel was tracked with the
history before the window.

The window grid is on the segment grid: ``window`` and ``hop`` must be whole
numbers of segment hops (2 s for the paper's segmenter). Windows start at
``0, hop, 2 hop, ...`` and hold ``window`` seconds of segments; when the last one
ends before the file's last segment, one more window ends at that segment, so
every segment is in a window. A file shorter than a window gives one window.

Two threads share the work: while the networks classify the segments of one
block, a second thread reads, resamples, denoises and featurises the next (the
file reading, soxr, numba kernels, FFTs and the networks release the GIL).
``backend`` runs the networks on onnxruntime (:func:`skasc.backend.with_backend`).

The composition of the front end's streaming pieces is skasc's own; there is no
maintained library for sliding-window inference over a scikit-learn pipeline.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._warnings import warn
from .exceptions import InvalidParameterError, SkascTypeError, SkascValueError
from .frontend.audio import iter_audio_blocks
from .frontend.front_end import FrontEnd
from .frontend.segment import Segmenter, ShortRecordingWarning, count_segments
from .fusion import fuse_log_posteriors, has_segment_posteriors, segment_log_evidence

__all__ = ["SceneTimeline", "predict_timeline"]


@dataclass(frozen=True)
class SceneTimeline:
    """Labels and posteriors of the windows of one long recording.

    Attributes
    ----------
    start, end : ndarray of shape (n_windows,)
        Start and end of each window in seconds from the start of the file: the
        start of its first segment and the end of its last (the last end is at
        most the file's duration).
    labels : ndarray of shape (n_windows,)
        Most likely class of each window.
    proba : ndarray of shape (n_windows, n_classes)
        Fused posteriors of each window; rows sum to 1; columns follow ``classes``.
    classes : ndarray of shape (n_classes,)
    duration : float
        The file's duration in seconds at the pipeline's sampling rate.
    source : str
        The file's path (the figure's default title).
    """

    start: np.ndarray
    end: np.ndarray
    labels: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    duration: float
    source: str = field(default="")

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @property
    def boundaries(self) -> np.ndarray:
        """Times between consecutive windows, shape (n_windows - 1,): the middle of
        their overlap (``(start[i + 1] + end[i]) / 2``), which is the boundary
        between them when they do not overlap."""
        return (np.asarray(self.start[1:], float) + np.asarray(self.end[:-1], float)) / 2

    @property
    def change_points(self) -> list[tuple[float, Any, Any]]:
        """Where the label changes: ``(time_s, previous_label, new_label)`` per change,
        at the :attr:`boundaries` between windows of different labels."""
        changed = np.flatnonzero(self.labels[1:] != self.labels[:-1])
        cuts = self.boundaries
        return [(float(cuts[i]), self.labels[i], self.labels[i + 1]) for i in changed]

    def to_csv(self, path_or_buffer: Any) -> None:
        """Write one row per window: ``start_s, end_s, label, p_<class>...``.

        Parameters
        ----------
        path_or_buffer : path-like or text file object
            The CSV file (written whole and atomically, replacing one that
            exists), or an open text stream such as ``sys.stdout``.
        """
        if hasattr(path_or_buffer, "write"):
            self._write_rows(path_or_buffer)
            return
        from ._atomic import atomic_text_write

        with atomic_text_write(os.fspath(path_or_buffer)) as text:
            self._write_rows(text)

    def _write_rows(self, fh: Any) -> None:
        writer = csv.writer(fh)
        writer.writerow(["start_s", "end_s", "label", *(f"p_{c}" for c in self.classes)])
        for s, e, label, row in zip(self.start, self.end, self.labels, self.proba):
            writer.writerow([f"{s:.3f}", f"{e:.3f}", label, *(f"{p:.6g}" for p in row)])


def _check_seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SkascTypeError(
            f"'{name}' of predict_timeline must be a number of seconds; got {value!r}."
        )
    if not math.isfinite(value):
        raise SkascValueError(f"'{name}' of predict_timeline must be finite; got {value!r}.")
    return float(value)


def _grid_steps(seconds: float, name: str, step_s: float, sr: int, *, first: float = 0.0) -> int:
    """``seconds - first`` as a whole number of segment hops, or a ValueError saying so
    (``first``: the first segment's duration, for a window).

    A segment hop is a whole number of samples (0.25 s is 5512 samples, 0.249977 s,
    at 22 050 Hz), so ``seconds`` may be off the exact grid by that rounding: up to
    one sample, or 1e-4 of ``seconds``."""
    steps = round((seconds - first) / step_s)
    if abs(seconds - first - steps * step_s) > max(1.0 / sr, 1e-4 * seconds):
        allowed = ", ".join(
            f"{first + k * step_s:g}" for k in range(1 if not first else 0, 4 if not first else 3)
        )
        rule = (
            f"one segment ({first:g} s) plus a whole number of segment hops ({step_s:g} s)"
            if first
            else f"a whole number of segment hops ({step_s:g} s)"
        )
        raise SkascValueError(
            f"'{name}'={seconds:g} s is not on the segment grid: it must be "
            f"{rule}, e.g. {allowed} s."
        )
    return int(steps)


@dataclass(frozen=True)
class _WindowGrid:
    """Windows of ``per_window`` segments every ``hop_steps`` segments."""

    segment_s: float
    step_s: float
    per_window: int
    hop_steps: int

    @classmethod
    def from_seconds(cls, window: Any, hop: Any, segmenter: Segmenter, sr: int) -> _WindowGrid:
        """The grid of ``window`` and ``hop`` seconds, or the error that names them."""
        window = _check_seconds(window, "window")
        hop = _check_seconds(hop, "hop")
        seg_len, seg_hop = segmenter.lengths()
        segment_s, step_s = seg_len / sr, seg_hop / sr
        if window < segment_s - 1e-9:
            raise SkascValueError(
                f"'window'={window!r} s is shorter than one segment "
                f"({segment_s:g} s); a window must hold at least one "
                "segment."
            )
        if hop <= 0:
            raise SkascValueError(f"'hop'={hop!r} s must be > 0.")
        if hop > window:
            raise SkascValueError(
                f"'hop'={hop!r} s is longer than 'window'={window!r} s: "
                "the segments between windows would be in none."
            )
        per_window = 1 + (
            _grid_steps(window, "window", step_s, sr, first=segment_s) if window > segment_s else 0
        )
        hop_steps = _grid_steps(hop, "hop", step_s, sr)
        if hop_steps == 0:
            raise SkascValueError(
                f"'hop'={hop!r} s is shorter than one segment hop ({step_s:g} s)."
            )
        return cls(segment_s, step_s, per_window, hop_steps)

    def rows(self, n_segments: int) -> list[tuple[int, int]]:
        """[first, last) segment of every window (see the module docstring)."""
        if n_segments <= self.per_window:
            return [(0, n_segments)]
        rows = [
            (s, s + self.per_window)
            for s in range(0, n_segments - self.per_window + 1, self.hop_steps)
        ]
        if rows[-1][1] < n_segments:
            rows.append((n_segments - self.per_window, n_segments))
        return rows

    def timeline(
        self, log_evidence: np.ndarray, rule: str, classes: np.ndarray, duration: float, source: str
    ) -> SceneTimeline:
        """The pipeline's fusion ``rule`` over each window's rows of ``log_evidence``."""
        rows = self.rows(log_evidence.shape[0])
        lengths = np.array([b - a for a, b in rows], dtype=np.intp)
        gathered = np.concatenate([log_evidence[a:b] for a, b in rows])
        proba = np.exp(fuse_log_posteriors(gathered, lengths=lengths, rule=rule))
        start = np.array([a * self.step_s for a, _ in rows])
        end = np.minimum(
            np.array([(b - 1) * self.step_s + self.segment_s for _, b in rows]), duration
        )
        return SceneTimeline(
            start=start,
            end=end,
            labels=classes[np.argmax(proba, axis=1)],
            proba=proba,
            classes=classes,
            duration=duration,
            source=source,
        )


def _frontend_steps(estimator: Any) -> tuple[dict, Any]:
    """The fitted pipeline's front-end steps by name, and the rest of the pipeline."""
    if not (
        isinstance(estimator, Pipeline)
        and isinstance(estimator.steps[0][1], FrontEnd)
        and len(estimator.steps) > 1
    ):
        raise SkascTypeError(
            "predict_timeline needs a fitted Pipeline whose first step is a FrontEnd "
            "(e.g. from make_att_crnn_pipeline or make_fused_pipeline); got "
            f"{type(estimator).__name__}."
        )
    rest = estimator[1:]
    if not has_segment_posteriors(rest):
        raise SkascTypeError(
            "predict_timeline needs a pipeline ending in a RecordingFusion or a "
            "SystemFusion of them (it classifies windows from segment posteriors)."
        )
    check_is_fitted(estimator.steps[-1][1])
    return estimator.steps[0][1].resolved_steps(), rest


class _SegmentStream:
    """Cut 2-channel (or 1-channel) streamed audio into the Segmenter's segments."""

    def __init__(self, segmenter: Segmenter, n_channels: int) -> None:
        self.length, self.hop = segmenter.lengths()
        self.tail = segmenter.tail
        self._buf = np.zeros((n_channels, 0), np.float32)
        self._buf_start = 0  # sample index of _buf[:, 0]
        self.n_emitted = 0

    def push(self, samples: np.ndarray, *, n_total: int | None = None) -> np.ndarray:
        """Add samples (n_channels, n); return the segments now complete
        (n_segments, n_channels, length). ``n_total``: the file's length, at the end."""
        self._buf = np.concatenate([self._buf, samples], axis=1)
        available = self._buf_start + self._buf.shape[1]
        if n_total is None:
            n_ready = max(0, (available - self.length) // self.hop + 1)
        else:
            n_ready = count_segments(n_total, self.length, self.hop, self.tail)
            needed = (n_ready - 1) * self.hop + self.length - available
            if needed > 0:
                self._buf = np.pad(self._buf, ((0, 0), (0, needed)))
        starts = [k * self.hop - self._buf_start for k in range(self.n_emitted, n_ready)]
        segments = (
            np.stack([self._buf[:, s : s + self.length] for s in starts])
            if starts
            else np.zeros((0, self._buf.shape[0], self.length), np.float32)
        )
        self.n_emitted = max(self.n_emitted, n_ready)
        drop = min(self.n_emitted * self.hop - self._buf_start, self._buf.shape[1])
        if drop > 0:
            self._buf = self._buf[:, drop:]
            self._buf_start += drop
        return segments


class _FeatureStream:
    """One file's front end, block by block: the denoiser's state carried across
    blocks, the Segmenter's segments cut as they complete, and featurised."""

    def __init__(self, steps: dict) -> None:
        denoiser = steps["denoiser"]
        self._denoiser = None if denoiser is None else denoiser.stream()
        self._cutter = _SegmentStream(steps["segmenter"], 1 if denoiser is None else 2)
        self._extractor = steps["extractor"]
        self._raw = np.zeros(0, np.float32)  # raw samples waiting for their denoised copy
        self.n_samples = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """Features (n_segments, ...) of the segments the next samples complete."""
        self.n_samples += block.size
        denoised = None if self._denoiser is None else self._denoiser.push(block)
        return self._features(block, denoised, end=False)

    def finish(self) -> np.ndarray:
        """Features of the last segments (the tail, padded as the Segmenter pads it)."""
        denoised = None if self._denoiser is None else self._denoiser.finish()
        return self._features(np.zeros(0, np.float32), denoised, end=True)

    def _features(self, raw: np.ndarray, denoised: np.ndarray | None, *, end: bool) -> np.ndarray:
        if denoised is None:
            pair = raw[np.newaxis]
        else:  # the denoiser holds back its last samples until the next block
            self._raw = np.concatenate([self._raw, raw])
            pair = np.stack([self._raw[: denoised.size], denoised])
            self._raw = self._raw[denoised.size :]
        segments = self._cutter.push(pair, n_total=self.n_samples if end else None)
        if not segments.shape[0]:
            return segments[:, :0]
        return self._extractor.transform(segments[np.newaxis])[0]


def _feature_batches(
    path: str | os.PathLike, stream: _FeatureStream, sr: int, block_duration: float, verbose: int
) -> Iterator[np.ndarray]:
    """The features of a file's segments, one batch per block read."""
    progress = None
    for block in iter_audio_blocks(path, sr=sr, block_duration=block_duration):
        if verbose and progress is None:  # the file is open and checked by now
            import soundfile as sf
            from tqdm.auto import tqdm

            progress = tqdm(
                total=round(sf.info(os.fsencode(path)).duration, 1), unit="s", desc="timeline"
            )
        yield stream.push(block)
        if progress is not None:
            progress.update(round(block.size / sr, 1))
    yield stream.finish()
    if progress is not None:
        progress.close()


def _log_evidence(batches: Iterator[np.ndarray], rest: Any) -> tuple[np.ndarray, str]:
    """Each segment's log evidence (n_segments, n_classes) and how it pools, each batch
    classified while a second thread computes the next (the file's reading, resampling,
    denoising and features release the GIL, as the network does)."""
    evidence, rule = [], "product"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skasc-timeline") as pool:
        pending = pool.submit(next, batches, None)
        while (features := pending.result()) is not None:
            pending = pool.submit(next, batches, None)
            if features.shape[0]:
                levels = segment_log_evidence(rest, features[np.newaxis])
                assert levels.segment_log_evidence is not None and levels.rule is not None
                evidence.append(levels.segment_log_evidence)
                rule = levels.rule
    return np.concatenate(evidence), rule


def predict_timeline(
    estimator: Any,
    path: str | os.PathLike,
    *,
    window: float = 30.0,
    hop: float = 10.0,
    block_duration: float = 60.0,
    backend: str | None = "auto",
    calibration: Any = None,
    verbose: int = 0,
) -> SceneTimeline:
    """Classify every window of a long recording with a fitted pipeline.

    Parameters
    ----------
    estimator : fitted Pipeline
        A :class:`~skasc.frontend.FrontEnd` first, a :class:`~skasc.fusion.RecordingFusion`
        or :class:`~skasc.fusion.SystemFusion` last (as the factories build them).
    path : str or os.PathLike
        An audio file of any length (read block by block).
    window : float, default=30.0
        Window duration in seconds: at least one segment, and a whole number of
        segment hops beyond it (for 2-s segments: 2, 4, 6...).
    hop : float, default=10.0
        Seconds between window starts; > 0, at most ``window``, and a whole
        number of segment hops.
    block_duration : float, default=60.0
        Seconds of audio read, denoised and classified per step; memory is set
        by this, not by the file's length.
    backend : {"auto", "torch", "onnx", "onnx-int8"} or None, default="auto"
        Where the networks run (:func:`skasc.backend.with_backend`): ``"auto"`` is
        onnxruntime in float32 when the ``onnx`` extra is installed (posteriors
        within 1e-6 of torch's, about 1.7x faster), else torch; None: the
        estimator as it is. An onnx backend exports the networks on every call:
        to classify many files, convert once with
        ``with_backend(estimator, "onnx")`` and pass that with ``backend=None``
        (as ``skasc predict --timeline`` does).
    calibration : list of paths or waveforms, or None, default=None
        For ``backend="onnx-int8"``: recordings whose segments set the int8 ranges.
    verbose : int, default=0
        ``>= 1`` shows a tqdm progress bar over the file's duration.

    Returns
    -------
    SceneTimeline
        One row per window, with ``change_points``, ``to_csv`` and
        :func:`skasc.plotting.plot_timeline`.

    Raises
    ------
    ValueError
        For a window shorter than one segment, a hop <= 0 or longer than the
        window, or either off the segment grid or not finite; a backend or
        calibration :func:`~skasc.backend.with_backend` refuses; an unreadable file
        (:class:`~skasc.frontend.audio.AudioFileError`, naming it).
    TypeError
        For an estimator that is not such a pipeline, or a window or hop that is
        not a number.
    ImportError
        For an onnx backend without ``pip install 'skasc[onnx]'``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline, make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skasc import FrontEnd, RecordingFusion
    >>> rng = np.random.default_rng(0)
    >>> X = [0.1 * rng.standard_normal(22050 * 4).astype(np.float32) for _ in range(4)]
    >>> flat = FunctionTransformer(lambda s: s.reshape(len(s), -1)[:, ::97])
    >>> pipe = Pipeline([("frontend", FrontEnd()), ("fusion", RecordingFusion(
    ...     make_pipeline(flat, LogisticRegression())))]).fit(X, [0, 1, 0, 1])
    >>> path = os.path.join(tempfile.mkdtemp(), "long.wav")
    >>> sf.write(path, 0.1 * rng.standard_normal(22050 * 20), 22050)
    >>> timeline = predict_timeline(pipe, path, window=6.0, hop=4.0)
    >>> timeline.start.tolist(), timeline.end.tolist()
    ([0.0, 4.0, 8.0, 12.0, 14.0], [6.0, 10.0, 14.0, 18.0, 20.0])
    >>> timeline.proba.shape
    (5, 2)
    """
    steps, rest = _frontend_steps(estimator)
    sr = steps["loader"].sr
    grid = _WindowGrid.from_seconds(window, hop, steps["segmenter"], sr)
    rest = _on_backend(estimator, rest, backend, calibration)
    stream = _FeatureStream(steps)
    log_evidence, rule = _log_evidence(
        _feature_batches(path, stream, sr, block_duration, verbose), rest
    )
    _warn_if_short(stream.n_samples, steps["segmenter"], sr)
    return grid.timeline(
        log_evidence, rule, estimator.classes_, stream.n_samples / sr, os.fspath(path)
    )


def _warn_if_short(n_samples: int, segmenter: Segmenter, sr: int) -> None:
    """The Segmenter's warning for a file shorter than one segment (zero-padded)."""
    seg_len = segmenter.lengths()[0]
    if n_samples < seg_len:
        warn(ShortRecordingWarning([(0, n_samples)], 1, seg_len, sr), UserWarning)


def _on_backend(estimator: Any, rest: Any, backend: str | None, calibration: Any) -> Any:
    """The pipeline after the front end, its networks on ``backend`` (None: as it is)."""
    if backend is None:
        if calibration is not None:
            raise InvalidParameterError(
                "'calibration' applies to backend='onnx-int8' only; got backend=None."
            )
        return rest
    from .backend import with_backend

    return _frontend_steps(with_backend(estimator, backend, calibration=calibration))[1]
