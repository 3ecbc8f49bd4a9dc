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

The composition of the front end's streaming pieces is skasc's own; there is no
maintained library for sliding-window inference over a scikit-learn pipeline.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .dsp.minstats import MinStatsStream
from .exceptions import SkascTypeError, SkascValueError
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
        from ._atomic import atomic_write

        with atomic_write(os.fspath(path_or_buffer)) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            self._write_rows(text)
            text.flush()
            text.detach()  # the binary file stays open for atomic_write to commit

    def _write_rows(self, fh: Any) -> None:
        writer = csv.writer(fh)
        writer.writerow(["start_s", "end_s", "label", *(f"p_{c}" for c in self.classes)])
        for s, e, label, row in zip(self.start, self.end, self.labels, self.proba):
            writer.writerow([f"{s:.3f}", f"{e:.3f}", label, *(f"{p:.6g}" for p in row)])


def _check_seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SkascTypeError(f"'{name}' of predict_timeline must be a number of seconds; "
                             f"got {value!r}.")
    if not math.isfinite(value):
        raise SkascValueError(f"'{name}' of predict_timeline must be finite; got {value!r}.")
    return float(value)


def _grid_steps(seconds: float, name: str, step_s: float, sr: int, *,
                first: float = 0.0) -> int:
    """``seconds - first`` as a whole number of segment hops, or a ValueError saying so
    (``first``: the first segment's duration, for a window).

    A segment hop is a whole number of samples (0.25 s is 5512 samples, 0.249977 s,
    at 22 050 Hz), so ``seconds`` may be off the exact grid by that rounding: up to
    one sample, or 1e-4 of ``seconds``."""
    steps = round((seconds - first) / step_s)
    if abs(seconds - first - steps * step_s) > max(1.0 / sr, 1e-4 * seconds):
        allowed = ", ".join(f"{first + k * step_s:g}" for k in range(1 if not first else 0,
                                                                      4 if not first else 3))
        rule = (f"one segment ({first:g} s) plus a whole number of segment hops "
                f"({step_s:g} s)" if first else f"a whole number of segment hops ({step_s:g} s)")
        raise SkascValueError(f"'{name}'={seconds:g} s is not on the segment grid: it must be "
                              f"{rule}, e.g. {allowed} s.")
    return int(steps)


def _window_rows(n_segments: int, per_window: int, hop_steps: int) -> list[tuple[int, int]]:
    """[first, last) segment of every window (see the module docstring)."""
    if n_segments <= per_window:
        return [(0, n_segments)]
    rows = [(s, s + per_window) for s in range(0, n_segments - per_window + 1, hop_steps)]
    if rows[-1][1] < n_segments:
        rows.append((n_segments - per_window, n_segments))
    return rows


def _frontend_steps(estimator: Any) -> tuple[dict, Any]:
    """The fitted pipeline's front-end steps by name, and the rest of the pipeline."""
    if not (isinstance(estimator, Pipeline) and isinstance(estimator.steps[0][1], FrontEnd)
            and len(estimator.steps) > 1):
        raise SkascTypeError(
            "predict_timeline needs a fitted Pipeline whose first step is a FrontEnd "
            "(e.g. from make_att_crnn_pipeline or make_fused_pipeline); got "
            f"{type(estimator).__name__}.")
    rest = estimator[1:]
    if not has_segment_posteriors(rest):
        raise SkascTypeError(
            "predict_timeline needs a pipeline ending in a RecordingFusion or a "
            "SystemFusion of them (it classifies windows from segment posteriors).")
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
        segments = np.stack([self._buf[:, s:s + self.length] for s in starts]) if starts \
            else np.zeros((0, self._buf.shape[0], self.length), np.float32)
        self.n_emitted = max(self.n_emitted, n_ready)
        drop = min(self.n_emitted * self.hop - self._buf_start, self._buf.shape[1])
        if drop > 0:
            self._buf = self._buf[:, drop:]
            self._buf_start += drop
        return segments


def _classify(rest: Any, extractor: Any, segments: np.ndarray) -> np.ndarray:
    """Log evidence (n_segments, n_classes) of a batch of segments."""
    features = extractor.transform(segments[np.newaxis])
    return segment_log_evidence(rest, features).segment_log_evidence


def predict_timeline(estimator: Any, path: str | os.PathLike, *, window: float = 30.0,
                     hop: float = 10.0, block_duration: float = 60.0,
                     verbose: int = 0) -> SceneTimeline:
    """Classify every window of a long recording with a fitted pipeline.

    Parameters
    ----------
    estimator : fitted Pipeline
        First step a :class:`~skasc.frontend.FrontEnd`, last a
        :class:`~skasc.fusion.RecordingFusion` or a
        :class:`~skasc.fusion.SystemFusion` of them (every pipeline the
        factories build, fitted).
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
        window, or either not on the segment grid; an
        :class:`~skasc.frontend.audio.AudioFileError` (a ValueError) naming the
        file when it cannot be read.
    TypeError
        For an estimator that is not such a pipeline, or a window or hop that is
        not a number (a non-finite one is a ValueError).

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
    loader, denoiser = steps["loader"], steps["denoiser"]
    segmenter, extractor = steps["segmenter"], steps["extractor"]
    window = _check_seconds(window, "window")
    hop = _check_seconds(hop, "hop")
    seg_len, seg_hop = segmenter.lengths()
    sr = loader.sr
    segment_s, step_s = seg_len / sr, seg_hop / sr
    if window < segment_s - 1e-9:
        raise SkascValueError(f"'window'={window!r} s is shorter than one segment "
                              f"({segment_s:g} s); a window must hold at least one segment.")
    if hop <= 0:
        raise SkascValueError(f"'hop'={hop!r} s must be > 0.")
    if hop > window:
        raise SkascValueError(f"'hop'={hop!r} s is longer than 'window'={window!r} s: the "
                              "segments between windows would be in none.")
    per_window = 1 + (_grid_steps(window, "window", step_s, sr, first=segment_s)
                      if window > segment_s else 0)
    hop_steps = _grid_steps(hop, "hop", step_s, sr)
    if hop_steps == 0:
        raise SkascValueError(f"'hop'={hop!r} s is shorter than one segment hop ({step_s:g} s).")

    stream = (None if denoiser is None else MinStatsStream(
        sr=denoiser.sr, n_fft=denoiser.n_fft, hop_length=denoiser.hop_length,
        window_duration=denoiser.window_duration, n_subwindows=denoiser.n_subwindows,
        oversubtraction=denoiser.oversubtraction, floor=denoiser.floor))
    cutter = _SegmentStream(segmenter, 1 if denoiser is None else 2)
    raw_pending = np.zeros(0, np.float32)  # raw samples waiting for their denoised copy
    evidence: list[np.ndarray] = []
    n_total = 0
    progress = None

    def consume(raw: np.ndarray, denoised: np.ndarray | None, *, end: bool) -> None:
        nonlocal raw_pending
        if denoised is None:
            pair = raw[np.newaxis]
        else:
            raw_pending = np.concatenate([raw_pending, raw])
            pair = np.stack([raw_pending[:denoised.size], denoised])
            raw_pending = raw_pending[denoised.size:]
        segments = cutter.push(pair, n_total=n_total if end else None)
        if segments.shape[0]:
            evidence.append(_classify(rest, extractor, segments))

    for block in iter_audio_blocks(path, sr=sr, block_duration=block_duration):
        if verbose and progress is None:  # the file is open and checked by now
            import soundfile as sf
            from tqdm.auto import tqdm
            progress = tqdm(total=round(sf.info(os.fsencode(path)).duration, 1), unit="s",
                            desc="timeline")
        n_total += block.size
        consume(block, None if stream is None else stream.push(block), end=False)
        if progress is not None:
            progress.update(round(block.size / sr, 1))
    consume(np.zeros(0, np.float32), None if stream is None else stream.finish(), end=True)
    if progress is not None:
        progress.close()
    if n_total < seg_len:
        warnings.warn(ShortRecordingWarning([(0, n_total)], 1, seg_len, sr), UserWarning,
                      stacklevel=2)

    log_evidence = np.concatenate(evidence)
    rows = _window_rows(log_evidence.shape[0], per_window, hop_steps)
    lengths = np.array([b - a for a, b in rows], dtype=np.intp)
    gathered = np.concatenate([log_evidence[a:b] for a, b in rows])
    proba = np.exp(fuse_log_posteriors(gathered, lengths=lengths))
    classes = estimator.classes_
    duration = n_total / sr
    start = np.array([a * step_s for a, _ in rows])
    end = np.minimum(np.array([(b - 1) * step_s + segment_s for _, b in rows]), duration)
    return SceneTimeline(start=start, end=end, labels=classes[np.argmax(proba, axis=1)],
                         proba=proba, classes=classes, duration=duration,
                         source=os.fspath(path))
