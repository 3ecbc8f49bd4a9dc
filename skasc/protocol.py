"""A data set's official protocol, end to end: the researcher's main job in one call.

:func:`run_protocol` (and ``skasc cv DATASET ROOT``) loads a data set by its
registry name (:func:`skasc.datasets.load_dataset`), and runs every official
fold (or the ones asked for) through the full system from file paths: fit on
the fold's training recordings, then score its test recordings per 2-s segment
and per recording. Everything lands in one output folder::

    OUT/protocol.json           the settings of the run (a rerun must match them)
    OUT/feature-cache/          one entry per recording, shared by all folds and seeds
    OUT/folds/<fold>/checkpoints/  per-epoch training state (skasc.nn.checkpoint)
    OUT/folds/<fold>/result.json   the fold's scores, held-out curve, timing
    OUT/folds/<fold>/result.npz    its test labels and posteriors (plain arrays)
    OUT/results.json            per run (fold and seed), mean and std of every score
    OUT/results.md              the paper-style table, per fold, per class, per device
    OUT/confusion-recordings.png, OUT/confusion-segments.png
    OUT/reliability-recordings.png, OUT/reliability-segments.png
    OUT/figure2.png             held-out 2-s accuracy per epoch (Figure 2)

With several ``seeds`` (repeated runs), each fold's files are in
``OUT/folds/<fold>/seed<seed>/`` instead; a single seed keeps the layout above
(and ``protocol.json`` records it as ``random_state``), so folders written before
seeds existed resume and load as they are. Scores are read back from the runs'
predictions and computed again, so such a folder also gets the scores added since.

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

import glob
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from skorch.callbacks import Callback

from ._atomic import atomic_write
from ._paths import regular_file_problem
from .datasets import AudioDataset, load_dataset
from .evaluation import (
    LEVELS,
    METRICS,
    EvaluationReport,
    SplitResult,
    device_scores,
    format_class_table,
    format_table,
    predict_split,
    scored_split,
    system_segment_duration,
    training_history,
)
from .exceptions import InvalidParameterError, SkascError, SkascValueError
from .fusion import groups_fit_params
from .pipelines import (
    FEATURES,
    NETWORKS,
    RECORDING_POSTERIORS,
    make_system,
    segment_network,
    system_name,
)

__all__ = ["run_protocol", "read_protocol", "result_files", "ProtocolResult", "HeldOutAccuracy"]

_FORMAT = "skasc-protocol"
# settings that may differ between a run and its resumption
_RESUMABLE = ("folds", "device", "n_jobs", "scheduler", "verbose")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class HeldOutAccuracy(Callback):
    """Record the network's accuracy on held-out segments every ``every`` epochs.

    The value goes into the history as ``heldout_acc`` (None at the epochs not
    scored); nothing reads it during training. Prediction runs in eval mode and draws
    no random numbers, so the training is the same with or without this callback.

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
    """What :func:`run_protocol` (and :func:`read_protocol`) returns.

    Attributes
    ----------
    results : dict
        The content of ``results.json``.
    report : EvaluationReport
        Every run (fold and seed), as :func:`skasc.evaluate` reports splits
        (posteriors included), in the order of :attr:`runs`.
    out : str
        The output folder.
    runs : list of dict
        Per run, aligned with ``report.splits``: ``fold`` (its name), ``seed``,
        ``n_train``, ``n_test``, and what the run recorded (``seconds``,
        ``heldout_accuracy``; ``devices``, the per-device scores of
        :func:`~skasc.evaluation.device_scores`, for sets with devices).
    reports : dict of int to EvaluationReport
        One report per seed (over the folds), in the order of the seeds.
    """

    results: dict
    report: EvaluationReport
    out: str
    runs: list[dict] = field(default_factory=list)
    reports: dict[int, EvaluationReport] = field(default_factory=dict)

    def table(self, *, markdown: bool = True) -> str:
        """The paper-style table, log loss included: mean ± std over the folds, or with
        several seeds over the seeds (each seed's value the mean over its folds)."""
        return format_table(
            {self.results["system"]: self._runs()},
            std=True,
            log_loss=True,
            markdown=markdown,
            paper_terms=self.results["dataset"] == "litis",
        )

    def _runs(self) -> EvaluationReport | list[EvaluationReport]:
        return list(self.reports.values()) if len(self.reports) > 1 else self.report


# --------------------------------------------------------------------------- settings
#: Net parameters run_protocol sets itself, and from what (its argument, skasc cv's option).
_OWN_NET_PARAMS = {
    "max_epochs": "epochs (--epochs)",
    "lr": "lr (--lr)",
    "batch_size": "batch_size (--batch-size)",
    "random_state": "random_state (--seed)",
    "verbose": "verbose",
    "device": "device (--device)",
    "checkpoint_dir": "the output folder",
}


def _check_seeds(seeds: Any, random_state: Any) -> list[int]:
    """The seeds of the runs: ``seeds``, or ``[random_state]`` (0 when neither is given)."""
    from ._validation import MAX_SEED, Int

    if seeds is None:
        seed = 0 if random_state is None else random_state
        Int(low=0, high=MAX_SEED)(seed, "random_state", "run_protocol")
        return [int(seed)]
    if random_state is not None:
        raise InvalidParameterError(
            f"run_protocol takes 'random_state' (one run per fold) or 'seeds' (one run per "
            f"fold and seed), not both; got random_state={random_state!r} and "
            f"seeds={seeds!r}."
        )
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__") or not list(seeds):
        raise InvalidParameterError(
            "The 'seeds' parameter of run_protocol must be a non-empty "
            f"sequence of ints. Got {seeds!r} instead."
        )
    chosen: list[int] = []
    for seed in seeds:
        Int(low=0, high=MAX_SEED)(seed, "seeds", "run_protocol")
        if int(seed) in chosen:
            raise InvalidParameterError(
                f"The 'seeds' parameter of run_protocol lists seed {seed} twice."
            )
        chosen.append(int(seed))
    return chosen


def _check_settings(
    network: str,
    features: str,
    epochs: Any,
    lr: Any,
    batch_size: Any,
    eval_every: Any,
    net_params: Any,
    device: Any,
    classifier: Any,
    svm_C: Any,
    recording_posteriors: Any,
) -> None:
    from ._validation import Int, Options, Real, check_device

    Options(tuple(NETWORKS))(network, "network", "run_protocol")
    Options(tuple(RECORDING_POSTERIORS))(
        recording_posteriors, "recording_posteriors", "run_protocol"
    )
    Options(("svm", "softmax"))(classifier, "classifier", "run_protocol")
    Real(low=0.0, low_inclusive=False)(svm_C, "svm_C", "run_protocol")
    Options(tuple(FEATURES))(features, "features", "run_protocol")
    Int(low=1)(epochs, "epochs", "run_protocol")
    Real(low=0.0, low_inclusive=False)(lr, "lr", "run_protocol")
    Int(low=1)(batch_size, "batch_size", "run_protocol")
    Int(low=0)(eval_every, "eval_every", "run_protocol")
    check_device(device, "run_protocol")
    if net_params is not None and not isinstance(net_params, dict):
        raise InvalidParameterError(
            "The 'net_params' parameter of run_protocol must be a dict "
            f"or None. Got {net_params!r} instead."
        )
    own = sorted(set(net_params or {}) & set(_OWN_NET_PARAMS))
    if own:
        shown = ", ".join(f"{name!r} (set by {_OWN_NET_PARAMS[name]})" for name in own)
        raise InvalidParameterError(
            f"The 'net_params' parameter of run_protocol sets {shown}: run_protocol sets "
            "these itself; pass them as its own arguments."
        )


def _select_folds(folds: Sequence[int] | None, names: list[str]) -> list[int]:
    """0-based positions of the folds to run; ``folds`` counts from 1."""
    if folds is None:
        return list(range(len(names)))
    chosen = []
    for f in folds:
        if (
            isinstance(f, (bool, np.bool_))
            or not isinstance(f, (int, np.integer))
            or not 1 <= f <= len(names)
        ):
            raise InvalidParameterError(
                f"The 'folds' parameter of run_protocol must list fold numbers from 1 to "
                f"{len(names)} ({', '.join(names)}). Got {f!r}."
            )
        if f - 1 not in chosen:
            chosen.append(int(f) - 1)
    return chosen


def _read_settings(path: str) -> dict:
    """The settings recorded in a ``protocol.json``."""
    problem = regular_file_problem(path)
    if problem is not None:
        raise SkascValueError(f"{path} is not a skasc protocol file: it {problem}.")
    with open(path) as fh:
        try:
            before = json.load(fh)
        except json.JSONDecodeError as exc:
            raise SkascValueError(f"{path} is not a skasc protocol file ({exc}).") from None
    if (
        not isinstance(before, dict)
        or before.get("format") != _FORMAT
        or not isinstance(before.get("settings", {}), dict)
    ):
        raise SkascValueError(f"{path} is not a skasc protocol file; choose another 'out'.")
    return before.get("settings", {})


#: The network parameters that say how a run's networks train beyond the schedule.
TRAINING_RECIPE = ("crop", "freq_mask_width", "time_mask_width", "n_masks", "lr_schedule")
#: How runs written before the recipe was recorded trained: the paper's way.
_PAPER_RECIPE = {
    "crop": False,
    "freq_mask_width": 0,
    "time_mask_width": 0,
    "n_masks": 2,
    "lr_schedule": None,
}


def training_recipe(pipe: Any) -> dict:
    """The augmentation and learning-rate schedule of ``pipe``'s network (the first
    system's; the factories give every system the same), as :data:`TRAINING_RECIPE`."""
    net = segment_network(_systems(pipe)[0][1])
    params = net.get_params(deep=False)
    return {key: _plain(params[key]) for key in TRAINING_RECIPE}


def _settings_file(out: str, settings: dict) -> None:
    """Write ``protocol.json``, or check that the one there describes the same run."""
    path = os.path.join(out, "protocol.json")
    fixed = {k: v for k, v in settings.items() if k not in _RESUMABLE}
    if os.path.exists(path):
        old = {
            "recording_posteriors": "paper",  # what runs before the choice used
            "training": _PAPER_RECIPE,  # likewise
            **_read_settings(path),
        }
        changed = sorted(k for k in set(old) | set(fixed) if old.get(k) != fixed.get(k))
        if changed:
            shown = "; ".join(f"{k}: {old.get(k)!r} then, {fixed.get(k)!r} now" for k in changed)
            raise SkascValueError(
                f"{out} holds a run with other settings ({shown}); resume it "
                "with the same settings or choose another output folder."
            )
        return
    with atomic_write(path) as fh:
        fh.write(json.dumps({"format": _FORMAT, "settings": fixed}, indent=2).encode())


def _build(
    settings: dict,
    net_params: dict,
    out: str,
    run_dir: str,
    device: str,
    n_jobs: int | None,
    seed: int,
):
    """The run's pipeline; ``net_params`` are the caller's values (``settings`` holds
    only their JSON record)."""
    net_params = {
        **net_params,
        "device": device,
        "checkpoint_dir": os.path.join(run_dir, "checkpoints"),
    }
    pipe = make_system(
        settings["network"],
        settings["features"],
        max_epochs=settings["epochs"],
        lr=settings["lr"],
        batch_size=settings["batch_size"],
        random_state=seed,
        n_jobs=n_jobs,
        feature_cache=os.path.join(out, "feature-cache"),
        verbose=settings["verbose"],
        net_params=net_params,
        classifier=settings["classifier"],
        svm_C=settings["svm_C"],
        recording_posteriors=settings["recording_posteriors"],
    )
    return pipe.set_params(frontend__verbose=settings["verbose"])  # tqdm over the recordings


def _systems(pipe: Any, *, fitted: bool = False) -> list[tuple[str, Any, int | None]]:
    """(system name, its RecordingFusion, feature type index or None) of a pipeline."""
    from .fusion import SystemFusion

    final = pipe.named_steps["fusion"]
    if isinstance(final, SystemFusion):
        systems = final.estimators_ if fitted else [est for _, est in final.estimators]
        return [
            (name, system.named_steps["fusion"], index)
            for index, ((name, _), system) in enumerate(zip(final.estimators, systems))
        ]
    return [("system", final, None)]


def _add_heldout(
    pipe: Any, paths: list, y_test: np.ndarray, classes: np.ndarray, every: int
) -> None:
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
        net.set_params(
            callbacks=list(net.callbacks or [])
            + [
                (
                    "heldout",
                    HeldOutAccuracy(
                        np.ascontiguousarray(segments, dtype=np.float32),
                        np.repeat(codes, lengths),
                        every,
                    ),
                )
            ]
        )


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
                    f"The 'net_params' parameter of run_protocol does not fit the network: {reason}"
                ) from exc


def _curves(pipe: Any) -> dict[str, list[list[float]]]:
    curves = {}
    for name, fusion, _ in _systems(pipe, fitted=True):
        history = training_history(fusion)
        curves[name] = [
            [row["epoch"], row["heldout_acc"]]
            for row in history or []
            if row.get("heldout_acc") is not None
        ]
    return curves


# --------------------------------------------------------------------------- one run
_ARRAYS = (
    "test_index",
    "y_true",
    "y_pred",
    "classes",
    "proba",
    "segment_y_true",
    "segment_y_pred",
    "segment_proba",
    "segment_index",
)


def _save_fold(run_dir: str, split: SplitResult, info: dict) -> None:
    arrays: dict[str, Any] = {
        name: np.asarray(getattr(split, name))
        for name in _ARRAYS
        if getattr(split, name) is not None
    }
    # what allow_pickle=False can read back: labels as strings, never objects
    arrays = {name: a.astype(str) if a.dtype == object else a for name, a in arrays.items()}
    with atomic_write(os.path.join(run_dir, "result.npz")) as fh:
        np.savez(fh, **arrays)
    with atomic_write(os.path.join(run_dir, "result.json")) as fh:  # last: marks it done
        fh.write(json.dumps({**info, "scores": split.scores}, indent=2).encode())


def _load_fold(run_dir: str) -> tuple[SplitResult, dict] | None:
    """A finished run read back: its predictions, scored again (so a folder written by
    an older skasc gets today's scores), and what it recorded; None when unfinished."""
    path = os.path.join(run_dir, "result.json")
    if not os.path.exists(path):
        return None
    arrays_path = os.path.join(run_dir, "result.npz")
    try:
        for name in (path, arrays_path):
            problem = regular_file_problem(name)
            if problem is not None:
                raise OSError(f"{name} {problem}")
        with open(path) as fh:
            info = json.load(fh)
        with np.load(arrays_path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        info = {k: v for k, v in info.items() if k not in ("scores", "device_accuracy")}
        split = scored_split(
            arrays["test_index"],
            arrays["y_true"],
            arrays.get("classes"),
            arrays["y_pred"],
            proba=arrays.get("proba"),
            segment_y_pred=arrays.get("segment_y_pred"),
            segment_proba=arrays.get("segment_proba"),
            segment_index=arrays.get("segment_index"),
        )
    except (OSError, ValueError, KeyError, AttributeError, TypeError, IndexError) as exc:
        raise SkascValueError(
            f"{run_dir} does not hold a fold result skasc wrote "
            f"({type(exc).__name__}: {exc}); move it away to run this fold "
            "again."
        ) from exc
    return split, info


def _run_dir(out: str, name: str, seed: int, settings: dict) -> str:
    """``OUT/folds/<fold>``; with several seeds, ``OUT/folds/<fold>/seed<seed>``."""
    if not _SAFE_NAME.match(name):
        raise SkascValueError(
            f"Fold name {name!r} cannot name a folder; use letters, digits, "
            "'_', '-' and '.' (not first)."
        )
    folder = os.path.join(out, "folds", name)
    return os.path.join(folder, f"seed{seed}") if "seeds" in settings else folder


def _run_fold(
    ds: AudioDataset,
    position: int,
    seed: int,
    train: np.ndarray,
    test: np.ndarray,
    settings: dict,
    net_params: dict,
    out: str,
    device: str,
    n_jobs: int | None,
) -> tuple[SplitResult, dict]:
    name = ds.cv.fold_names[position]
    run_dir = _run_dir(out, name, seed, settings)
    labels = np.asarray(ds.labels).astype(str)
    done = _load_fold(run_dir)
    if done is not None:
        split, info = done
        if (
            not np.array_equal(split.test_index, test)
            or info.get("n_train") != len(train)
            or not np.array_equal(split.y_true, labels[test])
        ):
            raise SkascValueError(
                f"{run_dir} holds the result of another {name}: its test recordings or "
                "labels differ from the data set's now (was the metadata edited?). Move it "
                "away to run this fold again."
            )
    else:
        os.makedirs(run_dir, exist_ok=True)
        started = time.perf_counter()
        paths = np.asarray(ds.paths, dtype=object)
        pipe = _build(settings, net_params, out, run_dir, device, n_jobs, seed)
        if settings["eval_every"]:
            _add_heldout(
                pipe,
                list(paths[test]),
                labels[test],
                np.unique(labels[train]),
                settings["eval_every"],
            )
        groups = None if ds.groups is None else np.asarray(ds.groups)[train]
        pipe.fit(list(paths[train]), labels[train], **groups_fit_params(pipe, groups))
        split = predict_split(pipe, list(paths[test]), test, labels[test])
        info = {
            "fold": name,
            "seed": seed,
            "n_train": int(len(train)),
            "n_test": int(len(test)),
            "seconds": round(time.perf_counter() - started, 3),
            "heldout_accuracy": _curves(pipe),
        }
        _save_fold(run_dir, split, info)
    info = {**info, "fold": name, "seed": seed}  # a run written before seeds existed
    if ds.devices is not None:
        devices = np.asarray(ds.devices).astype(str)
        info["devices"] = device_scores(split, devices[test], set(devices[train].tolist()))
    return split, info


# --------------------------------------------------------------------------- outputs
def _spread(
    values: dict[tuple[str, int], float], folds: list[str], seeds: list[int]
) -> dict[str, Any]:
    """Mean and std over folds (each fold's value its mean over seeds) and, with several
    seeds, std over seeds (each seed's value its mean over folds); runs without a value
    (a class a fold does not test) are left out."""

    def means(groups: dict[Any, list[float]]) -> dict[Any, float]:
        return {key: float(np.mean(v)) for key, v in groups.items() if v}

    by_fold = means({f: [values[f, s] for s in seeds if (f, s) in values] for f in folds})
    out: dict[str, Any] = {
        "mean": float(np.mean(list(by_fold.values()))),
        "std": float(np.std(list(by_fold.values()))),
        "folds": by_fold,
    }
    if len(seeds) > 1:
        by_seed = means({s: [values[f, s] for f in folds if (f, s) in values] for s in seeds})
        out["std_seeds"] = float(np.std(list(by_seed.values())))
        out["seeds"] = {str(s): v for s, v in by_seed.items()}
    return out


def _summary(
    runs: list[tuple[SplitResult, dict]], folds: list[str], seeds: list[int], classes: list[str]
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    keyed = [((info["fold"], info["seed"]), split, info) for split, info in runs]
    for level in LEVELS:
        if any(split.scores.get(level) is None for _, split, _ in keyed):
            continue
        entry: dict[str, Any] = {
            m: _spread({key: split.scores[level][m] for key, split, _ in keyed}, folds, seeds)
            for m in METRICS
            if all(m in split.scores[level] for _, split, _ in keyed)
        }
        entry["class_accuracy"] = {
            c: _spread(
                {
                    key: split.scores[level]["class_accuracy"][c]
                    for key, split, _ in keyed
                    if c in split.scores[level]["class_accuracy"]
                },
                folds,
                seeds,
            )
            for c in classes
            if any(c in split.scores[level]["class_accuracy"] for _, split, _ in keyed)
        }
        summary[level] = entry
    if all("devices" in info for _, _, info in keyed):
        devices = sorted({d for _, _, info in keyed for d in info["devices"]})
        summary["devices"] = {}
        for d in devices:
            tested = [(key, info["devices"][d]) for key, _, info in keyed if d in info["devices"]]
            summary["devices"][d] = {
                "n_runs": len(tested),
                "seen_in_runs": sum(e["seen"] for _, e in tested),
                **{
                    m: _spread({key: e[m] for key, e in tested}, folds, seeds)
                    for m in ("accuracy", "balanced_accuracy", "log_loss")
                    if all(m in e for _, e in tested)
                },
            }
    return summary


def _results(
    ds: AudioDataset,
    settings: dict,
    names: list[str],
    seeds: list[int],
    runs: list[tuple[SplitResult, dict]],
    report: EvaluationReport,
    n_folds: int,
) -> dict:
    classes = [str(c) for c in report.class_names]
    return {
        "dataset": ds.name,
        "root": os.path.abspath(ds.root),
        "system": system_name(settings["network"], settings["features"]),
        "settings": settings,
        "classes": classes,
        "n_recordings": len(ds),
        "folds_run": names,
        "seeds": seeds,
        "complete": len(names) == n_folds,
        "segment_duration": report.segment_duration,
        "runs": [{**info, "scores": split.scores} for split, info in runs],
        "summary": _summary(runs, names, seeds, classes),
    }


def _markdown(result: ProtocolResult) -> str:
    results, report = result.results, result.report
    paper_terms = results["dataset"] == "litis"
    seeds = results["seeds"]
    over = (
        "folds"
        if len(seeds) == 1
        else f"the {len(seeds)} seeds ({', '.join(map(str, seeds))}), "
        "each seed's value the mean over its folds"
    )
    lines = [
        f"# {results['system']} on {results['dataset']}",
        "",
        f"{len(results['folds_run'])} of the official folds"
        + ("" if results["complete"] else " (not all: the table is not the official protocol's)")
        + f", {results['n_recordings']} recordings; mean ± std over "
        f"{over}; percent (log loss in nats).",
        "",
        result.table(),
        "",
        "## Per fold",
        "",
    ]
    labels = np.asarray(report.class_names)
    per_fold = {
        name: [
            EvaluationReport.from_splits([split], labels, segment_duration=report.segment_duration)
            for split, run in zip(report.splits, result.runs)
            if run["fold"] == name
        ]
        for name in results["folds_run"]
    }
    if len(seeds) > 1:
        lines.append(f"Mean ± std over the {len(seeds)} seeds.")
        lines.append("")
    lines.append(
        format_table(
            {name: runs if len(runs) > 1 else runs[0] for name, runs in per_fold.items()},
            std=len(seeds) > 1,
            log_loss=True,
            markdown=True,
            paper_terms=paper_terms,
        )
    )
    lines += [
        "",
        "## Class-wise accuracy",
        "",
        format_class_table(result._runs(), paper_terms=paper_terms),
    ]
    devices = results["summary"].get("devices")
    if devices:
        lines += ["", "## Recordings per device", "", *_device_rows(result, devices)]
    return "\n".join(lines) + "\n"


def _device_rows(result: ProtocolResult, devices: dict) -> list[str]:
    """The Markdown table of the summary's per-device figures, one row a device."""
    seeds = result.results["seeds"]
    spread = "std_seeds" if len(seeds) > 1 else "std"  # as in the table above
    lines = [
        "| Device | Seen in training | Recordings | Acc. | Macro class-wise Acc. | Log loss |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for d, v in devices.items():
        seen = (
            "yes"
            if v["seen_in_runs"] == v["n_runs"]
            else "no (unseen)"
            if v["seen_in_runs"] == 0
            else f"in {v['seen_in_runs']} of {v['n_runs']} runs"
        )
        n = sum(
            run["devices"][d]["n_recordings"]
            for run in result.runs
            if d in run["devices"] and run["seed"] == seeds[0]
        )
        cells = [
            f"{100 * v[m]['mean']:.2f} ± {100 * v[m][spread]:.2f}" if m in v else "-"
            for m in ("accuracy", "balanced_accuracy")
        ]
        cells.append(
            f"{v['log_loss']['mean']:.3f} ± {v['log_loss'][spread]:.3f}" if "log_loss" in v else "-"
        )
        lines.append(f"| {d} | {seen} | {n} | " + " | ".join(cells) + " |")
    return lines


def _figures(out: str, result: ProtocolResult) -> None:
    from .plotting import plot_confusion_matrix, plot_heldout_accuracy, plot_reliability_diagram

    report, system = result.report, result.results["system"]
    segments = f"{report.segment_duration:g}-s segments" if report.segment_duration else "segments"
    for level, confusion, what in (
        ("recording", report.recording_confusion, "recordings"),
        ("segment", report.segment_confusion, "segments"),
    ):
        if confusion is None:  # no segment level
            continue
        label = segments if level == "segment" else what
        plot_confusion_matrix(
            confusion,
            report.class_names,
            path=os.path.join(out, f"confusion-{what}.png"),
            title=f"{system}: {label}",
        )
        plot_reliability_diagram(
            report.reliability(level),
            path=os.path.join(out, f"reliability-{what}.png"),
            title=f"{system}, {label}",
        )
    curves = {}
    several = len(result.reports) > 1
    for run in result.runs:
        run_name = f"{run['fold']} seed {run['seed']}" if several else run["fold"]
        for name, points in run["heldout_accuracy"].items():
            curves[run_name if name == "system" else f"{run_name} {name}"] = points
    if any(curves.values()):
        plot_heldout_accuracy(
            curves,
            path=os.path.join(out, "figure2.png"),
            title=f"{system}: held-out {segments} accuracy per epoch",
        )


def _protocol_result(
    out: str, results: dict, runs: list[tuple[SplitResult, dict]], segment_duration: float | None
) -> ProtocolResult:
    """The result of the runs, ordered by seed then fold, as run_protocol returns it."""
    labels = np.asarray(results["classes"])
    reports = {
        seed: EvaluationReport.from_splits(
            [split for split, info in runs if info["seed"] == seed],
            labels,
            segment_duration=segment_duration,
        )
        for seed in results["seeds"]
    }
    report = EvaluationReport.from_splits(
        [split for split, _ in runs], labels, segment_duration=segment_duration
    )
    return ProtocolResult(
        results=results, report=report, out=out, runs=[info for _, info in runs], reports=reports
    )


# --------------------------------------------------------------------------- entry points
def run_protocol(
    dataset: str | AudioDataset,
    root: str | os.PathLike | None = None,
    *,
    network: str = "att_crnn",
    features: str = "logmel",
    epochs: int = 500,
    lr: float = 1e-4,
    batch_size: int = 100,
    classifier: str = "svm",
    svm_C: float = 0.1,
    recording_posteriors: str = "mean",
    folds: Sequence[int] | None = None,
    eval_every: int = 5,
    device: str = "auto",
    n_jobs: int | None = None,
    out: str | os.PathLike = "results",
    scheduler: str | None = None,
    random_state: int | None = None,
    seeds: Sequence[int] | None = None,
    net_params: dict | None = None,
    verbose: int = 1,
) -> ProtocolResult:
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
    recording_posteriors : {"mean", "calibrated", "paper"}, default="mean"
        See :func:`~skasc.make_att_crnn_pipeline`; the held-out recordings of
        ``"calibrated"`` are drawn by the data set's groups (e.g. ESC-50's source
        files), within the training folds.
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
        Address of a Dask scheduler (``"tcp://host:8786"``): the runs go to that
        cluster, one per task. The output folder must be visible to the workers
        at the same path.
    random_state : int or None, default=None
        Seeds every network and SVM (each fold the same way); None means 0. Not
        with ``seeds``.
    seeds : sequence of int, default=None
        Repeated runs: every selected fold is trained once per seed (as
        ``random_state``), and every score is reported as mean ± std over the
        seeds (each seed's value the mean over its folds) and over the folds.
        The runs live in ``OUT/folds/<fold>/seed<seed>/``; the seeds are a
        setting of the run (a rerun must list the same ones).
    net_params : dict, default=None
        Extra parameters of the networks (e.g. ``{"module__hidden_size": 32}``).
    verbose : int, default=1
        1: run headers, skorch's epoch table, time estimates; 0: silent.

    Returns
    -------
    ProtocolResult

    Raises
    ------
    DatasetError
        For an unknown data set name (listing the known ones) or a root that does
        not match the layout (naming the first missing file).
    InvalidParameterError, SkascValueError
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
    ...                       out=tempfile.mkdtemp(), net_params=tiny, device="cpu",
    ...                       seeds=[0, 1])
    >>> result.results["folds_run"], result.results["seeds"]
    (['fold1'], [0, 1])
    >>> sorted(result.results["summary"]["recording"]["accuracy"])
    ['folds', 'mean', 'seeds', 'std', 'std_seeds']
    """
    _check_settings(
        network,
        features,
        epochs,
        lr,
        batch_size,
        eval_every,
        net_params,
        device,
        classifier,
        svm_C,
        recording_posteriors,
    )
    seeds = _check_seeds(seeds, random_state)
    ds = dataset if isinstance(dataset, AudioDataset) else _load(dataset, root)
    out = os.path.abspath(os.fspath(out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise InvalidParameterError(
            f"The 'out' parameter of run_protocol must be a folder; {out} is a file."
        )
    splits = list(ds.cv.split(ds.paths, ds.labels, ds.groups))
    names = list(ds.cv.fold_names)
    chosen = _select_folds(folds, names)
    settings = {
        "dataset": ds.name,
        "root": os.path.abspath(ds.root),
        "network": network,
        "features": features,
        "epochs": int(epochs),
        "lr": float(lr),
        "batch_size": int(batch_size),
        "classifier": classifier,
        "svm_C": float(svm_C),
        "recording_posteriors": recording_posteriors,
        "eval_every": int(eval_every),
        **({"random_state": seeds[0]} if len(seeds) == 1 else {"seeds": seeds}),
        "net_params": _plain(net_params or {}),
        "verbose": int(verbose),
    }
    net_params = dict(net_params or {})
    labels = np.asarray(ds.labels).astype(str)
    for k in chosen:  # before anything is written: faults a rerun could not undo
        _run_dir(out, names[k], seeds[0], settings)
        unseen = sorted(set(labels[splits[k][1]].tolist()) - set(labels[splits[k][0]].tolist()))
        if unseen:
            raise SkascValueError(
                f"Fold {names[k]} of {ds.name} tests classes never seen in its "
                f"training recordings: {unseen}."
            )
    checked = _build(settings, net_params, out, out, device, n_jobs, seeds[0])
    _check_networks(checked)
    settings["training"] = training_recipe(checked)  # the factories' defaults can change
    os.makedirs(out, exist_ok=True)
    _settings_file(out, settings)
    tasks = [(k, seed, splits[k][0], splits[k][1]) for seed in seeds for k in chosen]
    runs = _run_all(ds, tasks, settings, net_params, out, device, n_jobs, scheduler, verbose)
    report = EvaluationReport.from_splits(
        [split for split, _ in runs],
        np.unique(labels),
        segment_duration=system_segment_duration(checked),
    )
    results = _results(ds, settings, [names[k] for k in chosen], seeds, runs, report, len(names))
    result = _protocol_result(out, results, runs, report.segment_duration)
    with atomic_write(os.path.join(out, "results.json")) as fh:
        fh.write(json.dumps(results, indent=2).encode())
    with atomic_write(os.path.join(out, "results.md")) as fh:
        fh.write(_markdown(result).encode())
    _figures(out, result)
    say = print if verbose else (lambda *a, **k: None)
    say("\n" + result.table(markdown=False), flush=True)
    say(f"Results in {out}/results.json, results.md and PNG figures", flush=True)
    return result


def _run_all(
    ds: AudioDataset,
    tasks: list,
    settings: dict,
    net_params: dict,
    out: str,
    device: str,
    n_jobs: int | None,
    scheduler: str | None,
    verbose: int,
) -> list[tuple[SplitResult, dict]]:
    """Every (fold, seed) run, here one after the other or on a Dask cluster."""
    say = print if verbose else (lambda *a, **k: None)
    names, seeds = ds.cv.fold_names, sorted({seed for _, seed, _, _ in tasks})
    several = "seeds" in settings
    say(
        f"{system_name(settings['network'], settings['features'])} on {ds.name}: "
        f"{len({k for k, _, _, _ in tasks})} of {len(names)} official folds"
        + (f" x {len(seeds)} seeds" if several else "")
        + f", {len(ds)} recordings, {settings['epochs']} epochs; output in {out}",
        flush=True,
    )
    if scheduler is not None:
        return _run_on_dask(scheduler, ds, tasks, settings, net_params, out, device, n_jobs)
    done, started = [], time.perf_counter()
    for i, (k, seed, train, test) in enumerate(tasks):
        which = f"{names[k]}, seed {seed}" if several else names[k]
        say(
            f"\n=== {'run' if several else 'fold'} {i + 1} of {len(tasks)} ({which}): "
            f"{len(train)} training, {len(test)} test recordings ===",
            flush=True,
        )
        done.append(_run_fold(ds, k, seed, train, test, settings, net_params, out, device, n_jobs))
        left = (time.perf_counter() - started) / (i + 1) * (len(tasks) - i - 1)
        rec = done[-1][0].scores["recording"]["accuracy"]
        say(
            f"{which}: recording accuracy {100 * rec:.2f} %"
            + (f"; about {_duration(left)} left" if i + 1 < len(tasks) else ""),
            flush=True,
        )
    return done


def read_protocol(out: str | os.PathLike) -> ProtocolResult:
    """The result of a finished :func:`run_protocol` (or ``skasc cv``), read back from
    its output folder without the data set.

    Every run's predictions are read from ``folds/`` and scored again, so a folder
    written by an older skasc gets today's scores (class-wise accuracy, ...).

    Parameters
    ----------
    out : path-like
        The output folder: it holds ``protocol.json``, ``results.json`` (written
        when the run finished) and a result for every fold (and seed) it names.

    Returns
    -------
    ProtocolResult
        ``results`` is ``results.json`` as written (the format of the skasc that
        wrote it); ``report``, ``reports`` and ``runs`` come from the runs' files.
        Per-device scores are not recomputed (they need the data set).

    Raises
    ------
    SkascValueError
        For a folder that is not a finished skasc protocol run, naming the file.

    Examples
    --------
    >>> read_protocol("no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skasc.exceptions.SkascValueError: no/such/folder is not a finished skasc cv output folder: ...
    """
    shown = os.fspath(out)
    out = os.path.abspath(shown)
    for name in ("protocol.json", "results.json"):
        problem = regular_file_problem(os.path.join(out, name))
        if problem is not None:
            raise SkascValueError(
                f"{shown} is not a finished skasc cv output folder: its {name} {problem}."
            )
    settings = _read_settings(os.path.join(out, "protocol.json"))
    path = os.path.join(out, "results.json")
    try:
        with open(path) as fh:
            results = json.load(fh)
        names = [str(name) for name in results["folds_run"]]
        classes = [str(c) for c in results["classes"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SkascValueError(
            f"{path} is not a results file skasc wrote ({type(exc).__name__}: {exc})."
        ) from None
    if not names:
        raise SkascValueError(f"{path} is not a results file skasc wrote: it lists no fold.")
    seeds = settings.get("seeds", [settings.get("random_state", 0)])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in seeds)
    ):
        raise SkascValueError(
            f"{os.path.join(out, 'protocol.json')} is not a skasc protocol "
            f"file: its seeds are {seeds!r}."
        )
    runs = []
    for seed in seeds:
        for name in names:
            run_dir = _run_dir(out, name, seed, settings)
            done = _load_fold(run_dir)
            if done is None:
                raise SkascValueError(
                    f"{shown} lists fold {name} (seed {seed}) but "
                    f"{run_dir} holds no finished result."
                )
            split, info = done
            runs.append((split, {**info, "fold": name, "seed": seed}))
    results = {**results, "classes": classes, "seeds": seeds}
    return _protocol_result(out, results, runs, results.get("segment_duration", 2.0))


def result_files(out: str | os.PathLike) -> list[str]:
    """The files :func:`read_protocol` reads in an output folder (those there now):
    ``protocol.json``, ``results.json`` and every run's ``result.json`` and
    ``result.npz``. An output of a command reading the folder may not be one of them."""
    out = os.path.abspath(os.fspath(out))
    found = [os.path.join(out, name) for name in ("protocol.json", "results.json")]
    return found + sorted(
        glob.glob(os.path.join(glob.escape(out), "folds", "**", "result.*"), recursive=True)
    )


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


def _run_on_dask(
    address: str,
    ds: AudioDataset,
    tasks: list,
    settings: dict,
    net_params: dict,
    out: str,
    device: str,
    n_jobs: int | None,
) -> list[tuple[SplitResult, dict]]:
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - the dask extra is not installed
        raise ImportError("scheduler= needs dask.distributed: pip install 'skasc[dask]'") from exc
    from joblib import Parallel, delayed, parallel_config

    with Client(address), parallel_config(backend="dask"):
        return Parallel(n_jobs=-1)(
            delayed(_run_fold)(
                ds,
                k,
                seed,
                train,
                test,
                {**settings, "verbose": 0},
                net_params,
                out,
                device,
                n_jobs,
            )
            for k, seed, train, test in tasks
        )
