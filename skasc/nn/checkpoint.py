"""Per-epoch checkpoints that let an interrupted ``fit`` resume exactly.

With ``checkpoint_dir`` set, the segment classifiers of
:mod:`skasc.nn.classifier` write the whole training state (module,
optimizer and criterion ``state_dict`` s and the epoch history) after every
completed epoch, and a later ``fit`` of the *same* estimator on the *same*
data loads it and trains only the remaining epochs.

Why not skorch's ``Checkpoint`` + ``LoadInitState``:

* **One fit, one directory.**  A checkpoint lives in
  ``checkpoint_dir/<key>``, where ``key`` hashes the training parameters and
  the data (:func:`fit_key`).  Parallel fits (cross-validation splits, grid
  points) sharing a ``checkpoint_dir`` therefore never overwrite or load each
  other's files, which skorch's file-name-based checkpoints do with
  ``n_jobs > 1``.
* **Atomic.**  The state is one file, written to a temporary name in the same
  directory, flushed to disk and renamed over the previous one
  (:func:`save_checkpoint`).  A process killed at any moment leaves either
  the previous complete checkpoint or the new one, never a mixture.
* **Total epochs.**  A resumed ``fit`` trains ``max_epochs - len(history)``
  epochs, so a killed and restarted command ends where the uninterrupted one
  does (skorch's ``LoadInitState`` trains ``max_epochs`` *more*).
* **Safe loading.**  ``torch.load(..., weights_only=True,
  map_location="cpu")``: the file holds only tensors and plain containers; the
  optimizer's ``load_state_dict`` then moves each state where the *current*
  optimizer wants it (its ``fused``/``foreach``/``capturable`` flags are kept,
  not the saved run's): on a GPU, fused Adam's step counters go to the device,
  plain Adam's stay on the host.
* **History written once.**  Each epoch's history row (with its per-batch
  rows) is appended to ``history.jsonl`` and fsynced before the checkpoint is
  replaced, so the bytes written per epoch do not grow with the epoch count.
  The checkpoint's ``epoch`` says how many rows are valid; rows after it (a
  kill between the append and the rename) are cut off on resume.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os

import joblib
import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from skasc._atomic import atomic_write, temporary_name_pattern
from skasc._paths import regular_file_problem
from skasc.exceptions import CheckpointError, SkascTypeError

__all__ = [
    "fit_key",
    "save_checkpoint",
    "load_checkpoint",
    "restore",
    "EpochCheckpoint",
    "CheckpointError",
]

FILENAME = "checkpoint.pt"
HISTORY = "history.jsonl"
FORMAT = "skasc-epoch-checkpoint"
VERSION = 2

# parameters that do not change the trained weights (or cannot be hashed
# meaningfully): left out of the key so that, e.g., a rerun with verbose=0
# or on another device still resumes
_NOT_IN_KEY = frozenset(
    {"checkpoint_dir", "verbose", "progress_bar", "device", "predict_batch_size", "callbacks"}
)


def fit_key(net, X: np.ndarray, y: np.ndarray) -> str:
    """Short hash naming one fit: the net's class, training parameters, ``X`` and ``y``.

    Parameters left out: ``checkpoint_dir``, ``verbose``, ``progress_bar``,
    ``device``, ``predict_batch_size`` and ``callbacks`` (with their
    ``callbacks__*`` settings), and names starting with ``_``: skorch reports
    every attribute without a trailing underscore as a parameter, including
    ones a meta-estimator sets for the duration of a fit (scikit-learn's
    ``Pipeline`` sets ``_parent_callback_ctx``, an object that differs in
    every process), which would give the same fit a new key on every run.

    Returns
    -------
    str
        16 hexadecimal characters.
    """
    params = {
        name: value
        for name, value in net.get_params(deep=False).items()
        if name not in _NOT_IN_KEY and not name.startswith(("callbacks__", "_"))
    }
    try:
        digest = joblib.hash(
            (type(net).__module__, type(net).__qualname__, sorted(params.items()), X, y)
        )
    except Exception as exc:  # e.g. a lambda as iterator_train__collate_fn
        raise SkascTypeError(
            f"checkpoint_dir needs picklable parameters to name the fit's "
            f"checkpoint; hashing them failed: {exc}"
        ) from exc
    return digest[:16]


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    raise TypeError(
        f"history value {value!r} of type {type(value).__name__} is not JSON serializable"
    )


def append_history(directory: str, rows: list) -> None:
    """Append history rows to ``directory/history.jsonl``, one JSON line each, fsynced."""
    if not rows:
        return
    text = "".join(json.dumps(row, default=_jsonable) + "\n" for row in rows)
    with open(os.path.join(directory, HISTORY), "ab") as fh:
        fh.write(text.encode())
        fh.flush()
        os.fsync(fh.fileno())


def save_checkpoint(directory: str, net, key: str) -> str:
    """Write ``net``'s training state atomically to ``directory/checkpoint.pt``.

    The history goes to ``history.jsonl`` (:func:`append_history`, called first
    by :class:`EpochCheckpoint`). The checkpoint is ``torch.save`` of
    ``{"format", "version", "key", "epoch", "module", "optimizer",
    "criterion"}``, written atomically (:func:`skasc._atomic.atomic_write`).

    Returns
    -------
    str
        Path of the checkpoint file.
    """
    rows = net.history.to_list()
    state = {
        "format": FORMAT,
        "version": VERSION,
        "key": key,
        "epoch": len(rows),
        "module": net.module_.state_dict(),
        "optimizer": net.optimizer_.state_dict(),
        "criterion": net.criterion_.state_dict(),
    }
    final = os.path.join(directory, FILENAME)
    with atomic_write(final) as fh:
        torch.save(state, fh)
    return final


def remove_stale_temporaries(directory: str) -> None:
    """Delete the temporary files left by a process killed mid-write."""
    for path in glob.glob(temporary_name_pattern(os.path.join(glob.escape(directory), FILENAME))):
        with contextlib.suppress(OSError):
            os.remove(path)


def _history_rows(directory: str, n: int, path: str) -> list:
    """The first ``n`` rows of ``history.jsonl``; later rows are cut off the file."""
    history = os.path.join(directory, HISTORY)
    if not os.path.exists(history):
        if n:
            raise CheckpointError(
                f"The checkpoint {path!r} is inconsistent: epoch {n} but "
                f"no {HISTORY}; delete the folder to train from scratch."
            )
        return []
    _check_regular(history)
    with open(history, "rb") as fh:
        lines = fh.read().split(b"\n")
    complete = lines[:-1]  # the part after the last newline is a cut-short append
    if len(complete) < n:
        raise CheckpointError(
            f"The checkpoint {path!r} is inconsistent: epoch {n} but "
            f"{len(complete)} rows in {HISTORY}."
        )
    try:
        rows = [json.loads(line) for line in complete[:n]]
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"{os.path.join(directory, HISTORY)!r} is corrupt ({exc}); delete "
            "the folder to train from scratch."
        ) from None
    if len(lines) != n + 1 or lines[-1]:
        with open(history, "r+b") as fh:  # rows of an epoch whose checkpoint never landed
            fh.truncate(sum(len(line) + 1 for line in complete[:n]))
    return rows


def _check_regular(path: str) -> None:
    """Refuse a checkpoint file that is not a regular file (a FIFO would block reads)."""
    problem = regular_file_problem(path)
    if problem is not None:
        raise CheckpointError(
            f"The checkpoint file {path!r} {problem}; delete it to train from scratch."
        )


def load_checkpoint(directory: str, key: str) -> dict | None:
    """Read ``directory/checkpoint.pt``, or return None when there is none.

    Tensors are loaded onto the CPU (``restore`` moves them where the net's
    parameters are); the history comes from ``history.jsonl``.

    Raises
    ------
    CheckpointError
        The file cannot be read, is not a skasc checkpoint, or belongs to
        another fit (its key differs).
    """
    path = os.path.join(directory, FILENAME)
    if not os.path.exists(path):
        _history_rows(directory, 0, path)  # a killed first epoch's row, if any, goes
        return None
    _check_regular(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(
            f"Cannot read the checkpoint {path!r} ({reason}); delete it to train from scratch."
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path!r} is not a skasc training checkpoint; delete it to train from scratch."
        )
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"The checkpoint {path!r} has format version "
            f"{state.get('version')!r}; this skasc reads version {VERSION}. "
            "Delete its folder to train from scratch."
        )
    if state.get("key") != key:
        raise CheckpointError(
            f"The checkpoint {path!r} belongs to fit {state.get('key')!r}, "
            f"not {key!r}; it was moved or copied by hand."
        )
    state["history"] = _history_rows(directory, int(state["epoch"]), path)
    return state


def restore(net, state: dict) -> None:
    """Load a state returned by :func:`load_checkpoint` into an initialized ``net``."""
    net.module_.load_state_dict(state["module"])
    saved = state["optimizer"]
    for group, current in zip(saved["param_groups"], net.optimizer_.param_groups):
        # how to step (fused, foreach, ...) is this run's choice, not the saved run's
        group.update(
            {
                k: current[k]
                for k in ("fused", "foreach", "capturable", "differentiable")
                if k in current
            }
        )
    net.optimizer_.load_state_dict(saved)
    net.criterion_.load_state_dict(state["criterion"])
    net.history_ = History(state["history"])


class EpochCheckpoint(Callback):
    """Saves the training state after every epoch of the fit it was pointed at.

    The classifiers add it (as ``"epoch_checkpoint"``, after every other
    callback, so the epoch's history row is complete) when ``checkpoint_dir``
    is set, and call :meth:`resume` in ``fit``: the training run that follows saves
    into the fit's directory. Any other run (``partial_fit``, a warm-started fit, a
    run after a failed fit) saves nothing.
    """

    def initialize(self):
        self.directory_ = None
        self.key_ = None
        self.rows_on_disk_ = 0
        self.next_fit_ = None
        return self

    def resume(self, net, X: np.ndarray, y: np.ndarray) -> str:
        """Point the next training run at this fit's directory and load its state.

        The directory is ``net.checkpoint_dir/<fit_key(net, X, y)>``; a checkpoint
        found there is restored into the initialized ``net`` (its history included).

        Returns
        -------
        str
            Path of the fit's checkpoint file.
        """
        key = fit_key(net, X, y)
        directory = os.path.join(os.fspath(net.checkpoint_dir), key)
        os.makedirs(directory, exist_ok=True)
        remove_stale_temporaries(directory)
        state = load_checkpoint(directory, key)
        if state is not None:
            restore(net, state)
        self.next_fit_ = (directory, key)
        return os.path.join(directory, FILENAME)

    def on_train_begin(self, net, **kwargs):
        # only the run that resume() prepared saves; the rows restored are on disk
        (self.directory_, self.key_), self.next_fit_ = self.next_fit_ or (None, None), None
        self.rows_on_disk_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        if self.directory_ is not None:
            append_history(self.directory_, net.history.to_list()[self.rows_on_disk_ :])
            self.rows_on_disk_ = len(net.history)  # on disk now, even if the save below fails
            save_checkpoint(self.directory_, net, self.key_)  # type: ignore[arg-type]  # set with directory_

    def on_train_end(self, net, **kwargs):
        self.directory_ = None
        self.key_ = None
