"""A data set's official protocol, end to end: the researcher's main job in one call.

:func:`run_protocol` (and ``skasc cv DATASET ROOT``) loads a data set by its
registry name (:func:`skasc.datasets.load_dataset`), and runs every official
fold (or the ones asked for) through the full system from file paths: fit on
the fold's training recordings, then score its test recordings per 2-s segment
and per recording. Everything lands in one output folder::

    OUT/protocol.json           the settings of the run (a rerun must match them)
    OUT/feature-cache/          one entry per recording, shared by all folds
    OUT/folds/<fold>/checkpoints/  per-epoch training state (skasc.nn.checkpoint)
    OUT/folds/<fold>/result.json   the fold's scores, held-out curve, timing
    OUT/folds/<fold>/result.npz    its test labels and posteriors (plain arrays)
    OUT/results.json            per fold, mean and std of every score
    OUT/results.md              the paper-style table, per fold and per device
    OUT/confusion-recordings.png, OUT/confusion-segments.png
    OUT/reliability-recordings.png, OUT/reliability-segments.png
    OUT/figure2.png             held-out 2-s accuracy per epoch (Figure 2)

A killed run, started again with the same command, resumes where it stopped:
finished folds are read back, the unfinished one continues from its last
completed epoch, and features come from the cache. ``scheduler`` runs the folds
on a Dask cluster through joblib's Dask backend, one fold per task.

The held-out curve of Figure 2 is the network's own (softmax) accuracy on the
test fold's segments every ``eval_every`` epochs; it is recorded in the
network's history and never used for any decision (no early stopping, no model
selection).

Nothing here is new computation: the system is :mod:`skasc.pipelines`', the
scores and calibration are :mod:`skasc.evaluation`'s and the figures
:mod:`skasc.plotting`'s; this module orders them, persists them and resumes.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from skorch.callbacks import Callback

from ._atomic import atomic_write
from ._paths import regular_file_problem
from .datasets import AudioDataset, load_dataset
from .evaluation import (EvaluationReport, SplitResult, format_table, predict_split,
                         training_history)
from .exceptions import InvalidParameterError, SkascError, SkascValueError
from .pipelines import FEATURES, NETWORKS, make_system, segment_network, system_name

__all__ = ["run_protocol", "ProtocolResult", "HeldOutAccuracy"]

_FORMAT = "skasc-protocol"
# settings that may differ between a run and its resumption
_RESUMABLE = ("folds", "device", "n_jobs", "scheduler", "verbose")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class HeldOutAccuracy(Callback):
    """Record the network's accuracy on held-out segments every ``every`` epochs.

    The value goes into the history as ``heldout_acc`` (None at the epochs not
    scored); nothing reads it during training. Prediction runs in eval mode and draws no random numbers, so the
    training is the same with or without this callback.

    Parameters
    ----------
    X : ndarray of shape (n_segments, n_channels, n_bands, n_frames)
        Held-out segment images, as the network takes them.
    y : ndarray of shape (n_segments,)
        Their labels, in the network's own label space (the codes it was fit on).
    every : int
        Score after epochs ``every``, ``2 * every``, ... and after the last one.

    Examples
    --------
    >>> import numpy as np
    >>> cb = HeldOutAccuracy(np.zeros((2, 2, 64, 80), np.float32), np.array([0, 1]), every=5)
    >>> cb.every
    5
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, every: int) -> None:
        self.X = X
        self.y = y
        self.every = every

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        epoch = len(net.history)
        if epoch % self.every and epoch != net.max_epochs:
            # None, so that skorch's epoch table has the column from the first row
            net.history.record("heldout_acc", None)
            return
        predicted = np.asarray(net.predict(self.X))
        net.history.record("heldout_acc", float(np.mean(predicted == self.y)))


@dataclass
class ProtocolResult:
    """What :func:`run_protocol` returns.

    Attributes
    ----------
    results : dict
        The content of ``results.json``.
    report : EvaluationReport
        The folds run, as :func:`skasc.evaluate` reports them (posteriors included).
    out : str
        The output folder.
    """

    results: dict
    report: EvaluationReport
    out: str

    def table(self, *, markdown: bool = True) -> str:
        """The paper-style table (mean ± std over the folds, log loss included)."""
        return format_table({self.results["system"]: self.report}, std=True, log_loss=True,
                            markdown=markdown)


# --------------------------------------------------------------------------- settings
#: Net parameters run_protocol sets itself, and from what (its argument, skasc cv's option).
_OWN_NET_PARAMS = {"max_epochs": "epochs (--epochs)", "lr": "lr (--lr)",
                   "batch_size": "batch_size (--batch-size)",
                   "random_state": "random_state (--seed)", "verbose": "verbose",
                   "device": "device (--device)", "checkpoint_dir": "the output folder"}
def _check_settings(network: str, features: str, epochs: Any, lr: Any, batch_size: Any,
                    eval_every: Any, random_state: Any, net_params: Any, device: Any,
                    classifier: Any, svm_C: Any) -> None:
    from ._validation import MAX_SEED, Int, Options, Real, check_device

    Options(tuple(NETWORKS))(network, "network", "run_protocol")
    Options(("svm", "softmax"))(classifier, "classifier", "run_protocol")
    Real(low=0.0, low_inclusive=False)(svm_C, "svm_C", "run_protocol")
    Options(tuple(FEATURES))(features, "features", "run_protocol")
    Int(low=1)(epochs, "epochs", "run_protocol")
    Real(low=0.0, low_inclusive=False)(lr, "lr", "run_protocol")
    Int(low=1)(batch_size, "batch_size", "run_protocol")
    Int(low=0)(eval_every, "eval_every", "run_protocol")
    Int(low=0, high=MAX_SEED)(random_state, "random_state", "run_protocol")
    check_device(device, "run_protocol")
    if net_params is not None and not isinstance(net_params, dict):
        raise InvalidParameterError("The 'net_params' parameter of run_protocol must be a dict "
                                    f"or None. Got {net_params!r} instead.")
    own = sorted(set(net_params or {}) & set(_OWN_NET_PARAMS))
    if own:
        shown = ", ".join(f"{name!r} (set by {_OWN_NET_PARAMS[name]})" for name in own)
        raise InvalidParameterError(
            f"The 'net_params' parameter of run_protocol sets {shown}: run_protocol sets "
            "these itself; pass them as its own arguments.")


def _select_folds(folds: Sequence[int] | None, names: list[str]) -> list[int]:
    """0-based positions of the folds to run; ``folds`` counts from 1."""
    if folds is None:
        return list(range(len(names)))
    chosen = []
    for f in folds:
        if isinstance(f, (bool, np.bool_)) or not isinstance(f, (int, np.integer)) \
                or not 1 <= f <= len(names):
            raise InvalidParameterError(
                f"The 'folds' parameter of run_protocol must list fold numbers from 1 to "
                f"{len(names)} ({', '.join(names)}). Got {f!r}.")
        if f - 1 not in chosen:
            chosen.append(int(f) - 1)
    return chosen


def _settings_file(out: str, settings: dict) -> None:
    """Write ``protocol.json``, or check that the one there describes the same run."""
    path = os.path.join(out, "protocol.json")
    fixed = {k: v for k, v in settings.items() if k not in _RESUMABLE}
    if os.path.exists(path):
        problem = regular_file_problem(path)
        if problem is not None:
            raise SkascValueError(f"{path} is not a skasc protocol file: it {problem}.")
        with open(path) as fh:
            try:
                before = json.load(fh)
            except json.JSONDecodeError as exc:
                raise SkascValueError(f"{path} is not a skasc protocol file ({exc}).") from None
        if not isinstance(before, dict) or before.get("format") != _FORMAT:
            raise SkascValueError(f"{path} is not a skasc protocol file; choose another 'out'.")
        old = before.get("settings", {})
        changed = sorted(k for k in set(old) | set(fixed) if old.get(k) != fixed.get(k))
        if changed:
            shown = "; ".join(f"{k}: {old.get(k)!r} then, {fixed.get(k)!r} now" for k in changed)
            raise SkascValueError(f"{out} holds a run with other settings ({shown}); resume it "
                                  "with the same settings or choose another output folder.")
        return
    with atomic_write(path) as fh:
        fh.write(json.dumps({"format": _FORMAT, "settings": fixed}, indent=2).encode())


def _build(settings: dict, net_params: dict, out: str, fold_dir: str, device: str,
           n_jobs: int | None):
    """The fold's pipeline; ``net_params`` are the caller's values (``settings`` holds
    only their JSON record)."""
    net_params = {**net_params, "device": device,
                  "checkpoint_dir": os.path.join(fold_dir, "checkpoints")}
    pipe = make_system(settings["network"], settings["features"],
                       max_epochs=settings["epochs"], lr=settings["lr"],
                       batch_size=settings["batch_size"], random_state=settings["random_state"],
                       n_jobs=n_jobs, feature_cache=os.path.join(out, "feature-cache"),
                       verbose=settings["verbose"], net_params=net_params,
                       classifier=settings["classifier"], svm_C=settings["svm_C"])
    return pipe.set_params(frontend__verbose=settings["verbose"])  # tqdm over the recordings


def _systems(pipe: Any, *, fitted: bool = False) -> list[tuple[str, Any, int | None]]:
    """(system name, its RecordingFusion, feature type index or None) of a pipeline."""
    from .fusion import SystemFusion

    final = pipe.named_steps["fusion"]
    if isinstance(final, SystemFusion):
        systems = final.estimators_ if fitted else [est for _, est in final.estimators]
        return [(name, system.named_steps["fusion"], index)
                for index, ((name, _), system) in enumerate(zip(final.estimators, systems))]
    return [("system", final, None)]


def _add_heldout(pipe: Any, paths: list, y_test: np.ndarray, classes: np.ndarray,
                 every: int) -> None:
    """Give every network of ``pipe`` a :class:`HeldOutAccuracy` on the test fold."""
    from .fusion import flatten_segments

    features = pipe.named_steps["frontend"].transform(paths)  # fills the cache
    codes = np.searchsorted(classes, y_test)
    for _, fusion, index in _systems(pipe):
        X = features
        if index is not None:
            from .frontend.features import FeatureTypeSelector
            X = FeatureTypeSelector(index).transform(features)
        segments, lengths = flatten_segments(X)
        net = segment_network(fusion)
        net.set_params(callbacks=list(net.callbacks or []) + [("heldout", HeldOutAccuracy(
            np.ascontiguousarray(segments, dtype=np.float32), np.repeat(codes, lengths), every))])


def _check_networks(pipe: Any) -> None:
    """Build each network once (skorch checks its parameters only then), so that a
    misspelt ``net_params`` entry fails before anything is written."""
    import torch

    for _, fusion, _ in _systems(pipe):
        with torch.random.fork_rng():  # initialize() seeds torch's global RNG
            try:
                segment_network(fusion).initialize()
            except (TypeError, ValueError) as exc:
                if isinstance(exc, SkascError):  # skasc's own check: already one line
                    raise
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise InvalidParameterError(  # skorch's and torch's refusals of net_params
                    f"The 'net_params' parameter of run_protocol does not fit the network: "
                    f"{reason}") from exc


def _curves(pipe: Any) -> dict[str, list[list[float]]]:
    curves = {}
    for name, fusion, _ in _systems(pipe, fitted=True):
        history = training_history(fusion)
        curves[name] = [[row["epoch"], row["heldout_acc"]] for row in history or []
                        if row.get("heldout_acc") is not None]
    return curves


# --------------------------------------------------------------------------- one fold
_ARRAYS = ("test_index", "y_true", "y_pred", "classes", "proba", "segment_y_true",
           "segment_y_pred", "segment_proba", "segment_index")


def _save_fold(fold_dir: str, split: SplitResult, info: dict) -> None:
    arrays = {name: np.asarray(getattr(split, name)) for name in _ARRAYS
              if getattr(split, name) is not None}
    # what allow_pickle=False can read back: labels as strings, never objects
    arrays = {name: a.astype(str) if a.dtype == object else a for name, a in arrays.items()}
    with atomic_write(os.path.join(fold_dir, "result.npz")) as fh:
        np.savez(fh, **arrays)
    with atomic_write(os.path.join(fold_dir, "result.json")) as fh:  # last: marks it done
        fh.write(json.dumps({**info, "scores": split.scores}, indent=2).encode())


def _load_fold(fold_dir: str) -> tuple[SplitResult, dict] | None:
    path = os.path.join(fold_dir, "result.json")
    if not os.path.exists(path):
        return None
    arrays_path = os.path.join(fold_dir, "result.npz")
    try:
        for name in (path, arrays_path):
            problem = regular_file_problem(name)
            if problem is not None:
                raise OSError(f"{name} {problem}")
        with open(path) as fh:
            info = json.load(fh)
        with np.load(arrays_path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        scores = info.pop("scores")
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise SkascValueError(f"{fold_dir} does not hold a fold result skasc wrote "
                              f"({type(exc).__name__}: {exc}); move it away to run this fold "
                              "again.") from exc
    split = SplitResult(scores=scores, **{name: arrays.get(name) for name in _ARRAYS})
    return split, info


def _fold_dir(out: str, name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise SkascValueError(f"Fold name {name!r} cannot name a folder; use letters, digits, "
                              "'_', '-' and '.' (not first).")
    return os.path.join(out, "folds", name)


def _run_fold(ds: AudioDataset, position: int, train: np.ndarray, test: np.ndarray,
              settings: dict, net_params: dict, out: str, device: str, n_jobs: int | None
              ) -> tuple[SplitResult, dict]:
    name = ds.cv.fold_names[position]
    fold_dir = _fold_dir(out, name)
    labels = np.asarray(ds.labels).astype(str)
    done = _load_fold(fold_dir)
    if done is not None:
        split, info = done
        if (not np.array_equal(split.test_index, test) or info.get("n_train") != len(train)
                or not np.array_equal(split.y_true, labels[test])):
            raise SkascValueError(
                f"{fold_dir} holds the result of another {name}: its test recordings or "
                "labels differ from the data set's now (was the metadata edited?). Move it "
                "away to run this fold again.")
        return done
    os.makedirs(fold_dir, exist_ok=True)
    started = time.perf_counter()
    paths = np.asarray(ds.paths, dtype=object)
    pipe = _build(settings, net_params, out, fold_dir, device, n_jobs)
    classes = np.unique(labels[train])
    if settings["eval_every"]:
        _add_heldout(pipe, list(paths[test]), labels[test], classes, settings["eval_every"])
    pipe.fit(list(paths[train]), labels[train])
    split = predict_split(pipe, list(paths[test]), test, labels[test])
    info = {"fold": name, "n_train": int(len(train)), "n_test": int(len(test)),
            "seconds": round(time.perf_counter() - started, 3),
            "heldout_accuracy": _curves(pipe)}
    if ds.devices is not None:
        devices = np.asarray(ds.devices).astype(str)[test]
        info["device_accuracy"] = {
            d: float(np.mean(split.y_pred[devices == d] == split.y_true[devices == d]))
            for d in sorted(set(devices))}
    _save_fold(fold_dir, split, info)
    return split, info


# --------------------------------------------------------------------------- outputs
def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def _results(ds: AudioDataset, settings: dict, names: list[str], infos: list[dict],
             report: EvaluationReport, n_folds: int) -> dict:
    folds = {}
    for name, info, split in zip(names, infos, report.splits):
        folds[name] = {**info, "scores": split.scores}
    scores = report.to_dict()  # per level and metric: the folds' values, mean and std
    summary: dict[str, Any] = {lv: scores[lv] for lv in ("segment", "recording") if lv in scores}
    if all("device_accuracy" in info for info in infos):
        devices = sorted({d for info in infos for d in info["device_accuracy"]})
        summary["device_accuracy"] = {
            d: _summary([info["device_accuracy"][d] for info in infos
                         if d in info["device_accuracy"]]) for d in devices}
    return {"dataset": ds.name, "root": os.path.abspath(ds.root), "system": system_name(
                settings["network"], settings["features"]),
            "settings": settings, "classes": [str(c) for c in report.class_names],
            "n_recordings": len(ds), "folds_run": names, "complete": len(names) == n_folds,
            "folds": folds, "summary": summary}


def _markdown(results: dict, report: EvaluationReport) -> str:
    lines = [f"# {results['system']} on {results['dataset']}", "",
             f"{len(results['folds_run'])} of the official folds"
             + ("" if results["complete"] else " (not all: the table is not the official "
                "protocol's)") + f", {results['n_recordings']} recordings; mean ± std over "
             "folds, percent (log loss in nats).", "",
             format_table({results["system"]: report}, std=True, log_loss=True, markdown=True),
             "", "## Per fold", "",
             format_table({name: EvaluationReport.from_splits([split],
                                                              np.asarray(report.class_names))
                           for name, split in zip(results["folds_run"], report.splits)},
                          log_loss=True, markdown=True)]
    devices = results["summary"].get("device_accuracy")
    if devices:
        lines += ["", "## Recording accuracy per device", "", "| Device | Acc. |",
                  "| --- | ---: |"]
        lines += [f"| {d} | {100 * v['mean']:.2f} ± {100 * v['std']:.2f} |"
                  for d, v in devices.items()]
    return "\n".join(lines) + "\n"


def _figures(out: str, results: dict, report: EvaluationReport) -> None:
    from .plotting import (plot_confusion_matrix, plot_heldout_accuracy,
                           plot_reliability_diagram)

    system = results["system"]
    for level, confusion, what in (("recording", report.recording_confusion, "recordings"),
                                   ("segment", report.segment_confusion, "segments")):
        if confusion is None:  # no segment level
            continue
        label = "2-s segments" if level == "segment" else what
        plot_confusion_matrix(confusion, report.class_names,
                              path=os.path.join(out, f"confusion-{what}.png"),
                              title=f"{system}: {label}")
        plot_reliability_diagram(report.reliability(level),
                                 path=os.path.join(out, f"reliability-{what}.png"),
                                 title=f"{system}, {label}")
    curves = {}
    for fold, entry in results["folds"].items():
        for name, points in entry["heldout_accuracy"].items():
            curves[fold if name == "system" else f"{fold} {name}"] = points
    if any(curves.values()):
        plot_heldout_accuracy(curves, path=os.path.join(out, "figure2.png"),
                              title=f"{system}: held-out 2-s accuracy per epoch")


# --------------------------------------------------------------------------- entry point
def run_protocol(dataset: str | AudioDataset, root: str | os.PathLike | None = None, *,
                 network: str = "att_crnn", features: str = "logmel", epochs: int = 500,
                 lr: float = 1e-4, batch_size: int = 100, classifier: str = "svm",
                 svm_C: float = 0.1, folds: Sequence[int] | None = None,
                 eval_every: int = 5, device: str = "auto", n_jobs: int | None = None,
                 out: str | os.PathLike = "results", scheduler: str | None = None,
                 random_state: int = 0, net_params: dict | None = None,
                 verbose: int = 1) -> ProtocolResult:
    """Run a data set's official protocol through the full system; resumable.

    Parameters
    ----------
    dataset : str or AudioDataset
        A registry name (``"litis"``, ``"esc50"``, ``"tau2020mobile"``, ... see
        :data:`skasc.datasets.DATASETS`) or a loaded data set.
    root : str or path-like, default=None
        The data set's folder; required with a name.
    network : {"att_crnn", "cnn_baseline"}, default="att_crnn"
    features : {"logmel", "loggam", "fusion"}, default="logmel"
        ``"fusion"``: both systems on one shared front end, product rule.
    epochs, lr, batch_size : int, float, int
        Training schedule; defaults are the paper's (500 epochs, Adam at 1e-4,
        100 segments per batch).
    classifier : {"svm", "softmax"}, default="svm"
    svm_C : float, default=0.1
    folds : sequence of int, default=None
        Fold numbers (from 1, in the official order) to run; None runs all.
    eval_every : int, default=5
        Score the test fold's segments every ``eval_every`` epochs for Figure 2
        (0: never). Recorded only; it decides nothing.
    device : str, default="auto"
        Torch device of the networks (``"auto"``: CUDA when available).
    n_jobs : int or None, default=None
        Recordings featurised in parallel.
    out : path-like, default="results"
        Output folder (see the module docstring); a rerun resumes it.
    scheduler : str, default=None
        Address of a Dask scheduler (``"tcp://host:8786"``): the folds run on
        that cluster, one per task. The output folder must be visible to the
        workers at the same path.
    random_state : int, default=0
        Seeds every network and SVM (each fold the same way).
    net_params : dict, default=None
        Extra parameters of the networks (e.g. ``{"module__hidden_size": 32}``).
    verbose : int, default=1
        1: fold headers, skorch's epoch table, time estimates; 0: silent.

    Returns
    -------
    ProtocolResult

    Raises
    ------
    DatasetError
        For an unknown data set name (listing the known ones) or a root that does
        not match the layout (naming the first missing file).
    ValueError
        For settings out of range, or an ``out`` folder holding a run with other
        settings.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skasc.datasets import write_litis_layout
    >>> x = np.random.default_rng(0).normal(size=(4, 44100)).astype(np.float32) * 0.1
    >>> root = write_litis_layout(tempfile.mkdtemp(), x, ["bus", "bus", "park", "park"],
    ...                           sr=22050, splits=[([0, 2], [1, 3])])
    >>> tiny = {"module__n_filters": (4, 8, 8), "module__hidden_size": 8,
    ...         "module__attention_size": 8}
    >>> result = run_protocol("litis", root, epochs=1, lr=1e-3, eval_every=1, verbose=0,
    ...                       out=tempfile.mkdtemp(), net_params=tiny, device="cpu")
    >>> result.results["folds_run"], sorted(result.results["summary"]["recording"])
    (['fold1'], ['accuracy', 'f1_macro', 'log_loss', 'precision_macro'])
    """
    _check_settings(network, features, epochs, lr, batch_size, eval_every, random_state,
                    net_params, device, classifier, svm_C)
    ds = dataset if isinstance(dataset, AudioDataset) else _load(dataset, root)
    out = os.path.abspath(os.fspath(out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise InvalidParameterError(
            f"The 'out' parameter of run_protocol must be a folder; {out} is a file.")
    splits = list(ds.cv.split(ds.paths, ds.labels, ds.groups))
    names = list(ds.cv.fold_names)
    chosen = _select_folds(folds, names)
    settings = {"dataset": ds.name, "root": os.path.abspath(ds.root), "network": network,
                "features": features, "epochs": int(epochs), "lr": float(lr),
                "batch_size": int(batch_size), "classifier": classifier,
                "svm_C": float(svm_C), "eval_every": int(eval_every),
                "random_state": int(random_state), "net_params": _plain(net_params or {}),
                "verbose": int(verbose)}
    net_params = dict(net_params or {})
    labels = np.asarray(ds.labels).astype(str)
    for k in chosen:  # before anything is written: faults a rerun could not undo
        _fold_dir(out, names[k])
        unseen = sorted(set(labels[splits[k][1]].tolist()) - set(labels[splits[k][0]].tolist()))
        if unseen:
            raise SkascValueError(f"Fold {names[k]} of {ds.name} tests classes never seen in its "
                                  f"training recordings: {unseen}.")
    _check_networks(_build(settings, net_params, out, out, device, n_jobs))
    os.makedirs(out, exist_ok=True)
    _settings_file(out, settings)
    say = print if verbose else (lambda *a, **k: None)
    say(f"{system_name(network, features)} on {ds.name}: {len(chosen)} of {len(names)} "
        f"official folds, {len(ds)} recordings, {epochs} epochs; output in {out}", flush=True)
    tasks = [(k, splits[k][0], splits[k][1]) for k in chosen]
    if scheduler is not None:
        done = _run_on_dask(scheduler, ds, tasks, settings, net_params, out, device, n_jobs)
    else:
        done, started = [], time.perf_counter()
        for i, (k, train, test) in enumerate(tasks):
            say(f"\n=== fold {i + 1} of {len(tasks)} ({names[k]}): {len(train)} training, "
                f"{len(test)} test recordings ===", flush=True)
            done.append(_run_fold(ds, k, train, test, settings, net_params, out, device,
                                  n_jobs))
            left = (time.perf_counter() - started) / (i + 1) * (len(tasks) - i - 1)
            rec = done[-1][0].scores["recording"]["accuracy"]
            say(f"{names[k]}: recording accuracy {100 * rec:.2f} %"
                + (f"; about {_duration(left)} left" if i + 1 < len(tasks) else ""), flush=True)
    report = EvaluationReport.from_splits([split for split, _ in done], np.unique(
        np.asarray(ds.labels).astype(str)))
    results = _results(ds, settings, [names[k] for k in chosen], [info for _, info in done],
                       report, len(names))
    with atomic_write(os.path.join(out, "results.json")) as fh:
        fh.write(json.dumps(results, indent=2).encode())
    with atomic_write(os.path.join(out, "results.md")) as fh:
        fh.write(_markdown(results, report).encode())
    _figures(out, results, report)
    say("\n" + format_table({results["system"]: report}, std=True, log_loss=True), flush=True)
    say(f"Results in {out}/results.json, results.md and PNG figures", flush=True)
    return ProtocolResult(results=results, report=report, out=out)


def _load(name: str, root: Any) -> AudioDataset:
    if root is None:
        raise SkascValueError(f"run_protocol needs the folder of data set {name!r}: pass 'root'.")
    return load_dataset(name, root)


def _plain(value: Any) -> Any:
    """The record of net_params in protocol.json: JSON values (tuples as lists), and the
    repr of anything else (a class, a callable); the networks get the values themselves."""
    return json.loads(json.dumps(value, default=repr))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _run_on_dask(address: str, ds: AudioDataset, tasks: list, settings: dict,
                 net_params: dict, out: str, device: str, n_jobs: int | None
                 ) -> list[tuple[SplitResult, dict]]:
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - the dask extra is not installed
        raise ImportError("scheduler= needs dask.distributed: pip install 'skasc[dask]'") from exc
    from joblib import Parallel, delayed, parallel_config

    with Client(address), parallel_config(backend="dask"):
        return Parallel(n_jobs=-1)(
            delayed(_run_fold)(ds, k, train, test, {**settings, "verbose": 0}, net_params, out,
                               device, n_jobs) for k, train, test in tasks)
