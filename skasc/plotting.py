"""Figures for evaluation reports: confusion matrices, training curves, held-out
accuracy per epoch (the paper's Figure 2), reliability diagrams, attention maps,
scene timelines of long recordings.

Every function builds a :class:`matplotlib.figure.Figure` attached to its own
Agg canvas, so nothing touches pyplot's global state or the user's backend. The
figure is returned, and written as PNG when ``path`` is given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .exceptions import SkascValueError

__all__ = [
    "plot_confusion_matrix",
    "plot_training_curves",
    "plot_heldout_accuracy",
    "plot_reliability_diagram",
    "plot_attention",
    "plot_timeline",
]


def _figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike | None) -> None:
    """Write the figure as a PNG, atomically (a crash leaves any previous file)."""
    if path is not None:
        from ._atomic import atomic_write

        with atomic_write(os.fspath(path)) as fh:
            fig.savefig(fh, format="png", dpi=100)


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[Any],
    *,
    path: str | os.PathLike | None = None,
    normalize: bool = True,
    title: str | None = None,
) -> Any:
    """Plot a confusion matrix (rows: true class, columns: predicted class).

    Parameters
    ----------
    cm : ndarray of shape (n_classes, n_classes)
        Counts, e.g. ``EvaluationReport.recording_confusion``.
    class_names : sequence of length n_classes
        Tick labels.
    path : path-like, default=None
        Where to write the PNG; nothing is written when None.
    normalize : bool, default=True
        Show each row as percentages of the true class (rows without samples
        stay 0) instead of counts.
    title : str, default=None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_confusion_matrix(np.array([[9, 1], [2, 8]]), ["bus", "park"])
    >>> fig.axes[0].images[0].get_array().tolist()
    [[90.0, 10.0], [20.0, 80.0]]
    """
    cm = np.asarray(cm, dtype=np.float64)
    n = len(class_names)
    if cm.ndim != 2 or cm.shape != (n, n):
        raise SkascValueError(
            f"'cm' must have shape ({n}, {n}) to match {n} class names; got shape {cm.shape}."
        )
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        values = np.divide(100.0 * cm, totals, out=np.zeros_like(cm), where=totals > 0)
        fmt, label = "{:.1f}", "% of true class"
    else:
        values = cm
        fmt, label = "{:.0f}", "count"
    size = max(4.0, 0.45 * n + 2.5)
    fig = _figure((size + 1.0, size))
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0)
    fig.colorbar(image, ax=ax, label=label)
    ticks = np.arange(n)
    names = [str(c) for c in class_names]
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    if n <= 25:
        high = values.max() / 2 if values.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    fmt.format(values[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if values[i, j] > high else "black",
                )
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig


def _history_rows(history: Any) -> list[dict]:
    rows = [dict(entry) for entry in history]
    for i, row in enumerate(rows):
        if "train_loss" not in row:
            raise SkascValueError(f"History entry {i} has no 'train_loss'; got keys {sorted(row)}.")
    return rows


def plot_training_curves(histories: Sequence[Any], *, path: str | os.PathLike | None = None) -> Any:
    """Loss (and validation accuracy, when recorded) per epoch, one line per split.

    Parameters
    ----------
    histories : sequence of skorch History or of lists of dict
        One history per split; each entry has ``epoch`` (optional, defaults to
        its position + 1) and ``train_loss``, and optionally ``valid_loss`` and
        ``valid_acc``. ``None`` items (splits without a net) are skipped.
    path : path-like, default=None
        Where to write the PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> history = [{"epoch": 1, "train_loss": 1.2, "valid_acc": 0.5},
    ...            {"epoch": 2, "train_loss": 0.8, "valid_acc": 0.7}]
    >>> len(plot_training_curves([history, history]).axes)
    2
    """
    runs = [(i, _history_rows(h)) for i, h in enumerate(histories) if h is not None]
    if not runs or all(not rows for _, rows in runs):
        raise SkascValueError("plot_training_curves needs at least one non-empty history.")
    has_acc = any("valid_acc" in row for _, rows in runs for row in rows)
    fig = _figure((10.0 if has_acc else 5.5, 4.0))
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    for split, rows in runs:
        epochs = [row.get("epoch", k + 1) for k, row in enumerate(rows)]
        (line,) = axes[0].plot(
            epochs, [row["train_loss"] for row in rows], label=f"split {split} train"
        )
        if any("valid_loss" in row for row in rows):
            axes[0].plot(
                [e for e, r in zip(epochs, rows) if "valid_loss" in r],
                [r["valid_loss"] for r in rows if "valid_loss" in r],
                linestyle="--",
                color=line.get_color(),
                label=f"split {split} valid",
            )
        if any("valid_acc" in row for row in rows):
            axes[1].plot(
                [e for e, r in zip(epochs, rows) if "valid_acc" in r],
                [r["valid_acc"] for r in rows if "valid_acc" in r],
                color=line.get_color(),
                label=f"split {split}",
            )
    axes[0].set_xlabel("Epoch")
    axes[0].set_ylabel("Loss")
    axes[0].legend(fontsize=7)
    if has_acc:
        axes[1].set_xlabel("Epoch")
        axes[1].set_ylabel("Validation accuracy")
        axes[1].legend(fontsize=7)
    _save(fig, path)
    return fig


def plot_heldout_accuracy(
    curves: dict[str, Sequence[tuple[int, float]]],
    *,
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Any:
    """Test accuracy of the 2-s segments per epoch, one line per fold (Figure 2).

    Parameters
    ----------
    curves : dict of str to sequence of (epoch, accuracy)
        Fold name -> the epochs at which the held-out fold was scored and the
        network's segment accuracy there (a fraction).
    path : path-like, default=None
        Where to write the PNG.
    title : str, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_heldout_accuracy({"fold1": [(1, 0.4), (2, 0.6)], "fold2": [(1, 0.5)]})
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['fold1', 'fold2']
    """
    if not curves or all(len(points) == 0 for points in curves.values()):
        raise SkascValueError("plot_heldout_accuracy needs at least one scored epoch.")
    fig = _figure((6.0, 4.0))
    ax = fig.subplots()
    for name, points in curves.items():
        if len(points):
            epochs, acc = zip(*points)
            ax.plot(
                epochs,
                100 * np.asarray(acc),
                marker="." if len(points) < 30 else None,
                label=str(name),
            )
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Test accuracy of 2-s segments (%)")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig


def plot_reliability_diagram(
    curve: dict, *, path: str | os.PathLike | None = None, title: str | None = None
) -> Any:
    """Reliability diagram: accuracy against confidence per bin, ECE in the title.

    Parameters
    ----------
    curve : dict
        Output of :func:`skasc.evaluation.reliability_curve` (or
        ``EvaluationReport.reliability``).
    path : path-like, default=None
        Where to write the PNG.
    title : str, default=None
        Prefix of the title; the expected calibration error is appended.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from skasc.evaluation import reliability_curve
    >>> curve = reliability_curve(["a", "b"], [[0.9, 0.1], [0.8, 0.2]], ["a", "b"])
    >>> plot_reliability_diagram(curve).axes[0].get_title()
    'ECE = 0.450'
    """
    edges = np.asarray(curve["edges"])
    filled = np.asarray(curve["count"]) > 0
    fig = _figure((4.5, 4.5))
    ax = fig.subplots()
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    ax.bar(
        centres[filled],
        np.asarray(curve["accuracy"])[filled],
        width=width[filled],
        edgecolor="black",
        alpha=0.7,
        label="accuracy",
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(
        np.asarray(curve["confidence"])[filled],
        np.asarray(curve["accuracy"])[filled],
        marker="o",
        color="C1",
        label="per bin",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Confidence (largest posterior)")
    ax.set_ylabel("Accuracy")
    ax.legend(fontsize=7, loc="upper left")
    ece = f"ECE = {curve['ece']:.3f}"
    ax.set_title(f"{title}: {ece}" if title else ece)
    _save(fig, path)
    return fig


def plot_attention(
    logmel: np.ndarray,
    temporal: np.ndarray,
    spatial: np.ndarray,
    mask: np.ndarray,
    *,
    path: str | os.PathLike | None = None,
) -> Any:
    """Show a segment's log-Mel spectrogram with its attention weights.

    Parameters
    ----------
    logmel : ndarray of shape (n_bands, n_frames)
        Log-Mel spectrogram of the segment (one channel).
    temporal : ndarray of shape (n_steps,)
        Temporal attention weights over the recurrent time steps.
    spatial : ndarray of shape (2 * n_hidden,)
        Spatial attention weights over the bidirectional recurrent features.
    mask : ndarray of shape (2 * n_hidden, n_steps)
        Spatio-temporal attention mask (outer product of ``spatial`` and
        ``temporal``).
    path : path-like, default=None
        Where to write the PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> temporal, spatial = np.full(5, 0.2), np.linspace(0, 1, 8)
    >>> fig = plot_attention(np.zeros((64, 80)), temporal, spatial,
    ...                      np.outer(spatial, temporal))
    >>> len(fig.axes)
    4
    """
    logmel = np.asarray(logmel, dtype=np.float64)
    temporal = np.asarray(temporal, dtype=np.float64).ravel()
    spatial = np.asarray(spatial, dtype=np.float64).ravel()
    mask = np.asarray(mask, dtype=np.float64)
    if logmel.ndim != 2:
        raise SkascValueError(f"'logmel' must have shape (n_bands, n_frames); got {logmel.shape}.")
    if mask.shape != (spatial.shape[0], temporal.shape[0]):
        raise SkascValueError(
            f"'mask' must have shape (len(spatial), len(temporal)) = "
            f"({spatial.shape[0]}, {temporal.shape[0]}); got {mask.shape}."
        )
    fig = _figure((8.0, 8.0))
    grid = fig.add_gridspec(3, 2, width_ratios=(12, 1), height_ratios=(3, 1.2, 3))
    ax_mel = fig.add_subplot(grid[0, 0])
    ax_mel.imshow(logmel, origin="lower", aspect="auto", cmap="magma")
    ax_mel.set_xlabel("Frame")
    ax_mel.set_ylabel("Mel band")
    ax_mel.set_title("log-Mel spectrogram")
    ax_t = fig.add_subplot(grid[1, 0])
    ax_t.plot(np.arange(temporal.shape[0]), temporal, marker=".")
    ax_t.set_xlim(-0.5, temporal.shape[0] - 0.5)
    ax_t.set_ylabel("Temporal\nattention")
    ax_mask = fig.add_subplot(grid[2, 0])
    ax_mask.imshow(mask, origin="lower", aspect="auto", cmap="viridis")
    ax_mask.set_xlabel("Recurrent time step")
    ax_mask.set_ylabel("Feature (2H)")
    ax_mask.set_title("Spatio-temporal mask")
    ax_s = fig.add_subplot(grid[2, 1], sharey=ax_mask)
    ax_s.plot(spatial, np.arange(spatial.shape[0]))
    ax_s.set_xlabel("Spatial")
    ax_s.tick_params(labelleft=False)
    _save(fig, path)
    return fig


def plot_timeline(
    timeline: Any, *, path: str | os.PathLike | None = None, title: str | None = None
) -> Any:
    """Plot a scene timeline: one coloured cell per window, the posterior as opacity.

    Each window is drawn on its share of the time axis: from the
    middle of its overlap with the previous window to the middle of its overlap
    with the next (the whole window when windows do not overlap), in its
    label's colour, with opacity the window's posterior of that label. The
    change points are marked by vertical lines.

    Parameters
    ----------
    timeline : SceneTimeline
        From :func:`skasc.timeline.predict_timeline`.
    path : path-like, default=None
        Where to write the PNG; nothing is written when None.
    title : str, default=None
        Figure title (default: the file's name).

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skasc.timeline import SceneTimeline
    >>> tl = SceneTimeline(start=np.array([0.0, 10.0]), end=np.array([10.0, 20.0]),
    ...                    labels=np.array(["bus", "park"]),
    ...                    proba=np.array([[0.9, 0.1], [0.3, 0.7]]),
    ...                    classes=np.array(["bus", "park"]), duration=20.0)
    >>> fig = plot_timeline(tl)
    >>> [round(p.get_alpha(), 2) for p in fig.axes[0].patches]
    [0.9, 0.7]
    """
    from matplotlib.patches import Patch, Rectangle

    n = len(timeline)
    if n == 0:
        raise SkascValueError("The timeline has no windows to plot.")
    classes = list(timeline.classes)
    column = {c: i for i, c in enumerate(classes)}
    palette = _class_colours(len(classes))
    end = np.asarray(timeline.end, float)
    cuts = timeline.boundaries  # each window's share of the axis
    left = np.concatenate([[float(timeline.start[0])], cuts])
    right = np.concatenate([cuts, [end[-1]]])
    fig = _figure((10.0, 2.6))
    ax = fig.add_subplot()
    for i in range(n):
        k = column[timeline.labels[i]]
        ax.add_patch(
            Rectangle(
                (left[i], 0.0),
                right[i] - left[i],
                1.0,
                facecolor=palette[k],
                edgecolor="none",
                alpha=float(timeline.proba[i, k]),
            )
        )
    for time, _, _ in timeline.change_points:
        ax.axvline(time, color="black", linewidth=0.8)
    ax.set_xlim(0.0, max(float(timeline.duration), float(end[-1])))
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_xlabel("time (s)")
    shown = sorted(set(timeline.labels), key=column.__getitem__)
    ax.legend(
        handles=[Patch(color=palette[column[c]], label=str(c)) for c in shown],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.35),
        ncol=min(len(shown), 6),
        frameon=False,
    )
    ax.set_title(
        title
        if title is not None
        else os.path.basename(getattr(timeline, "source", "")) or "scene timeline"
    )
    _save(fig, path)
    return fig


def _class_colours(n: int) -> list:
    """``n`` distinct colours (tab10, then tab20, then a sampled hsv map)."""
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["hsv"](i / n) for i in range(n)]
