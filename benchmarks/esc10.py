"""Recording accuracy and calibration on real multi-segment recordings: ESC-10, 5 folds.

ESC-10 (``../shared/data/esc10``, laid out as ESC-50) holds 400 real 5-s field
recordings of 10 classes in 5 official folds; every recording is three 2-s segments
(the last zero-padded), so the recording decision fuses several segments, which FSDD
never exercised. Each row runs the official folds through :func:`skasc.run_protocol`
(the whole system from file paths; resumable: rerun the same command after an
interruption) and is scored per fold by

* recording accuracy, macro class-wise accuracy (DCASE's ranking metric),
* DCASE's multi-class log loss of the recording posteriors (nats; ln 10 = 2.30 is a
  uniform guess) and the top-label expected calibration error (10 bins),
* the fold's wall time (network training dominates it),

and reported as mean ± std over the folds. A row whose recording posteriors are not
the paper's also reports, as ``<row> / paper's rule``, the paper's rule (renormalised
product of the same segment posteriors) on the *same trained networks*: the
calibration's cost or gain in accuracy, with the network held fixed. Every row also
reports ``<row> / geometric mean`` (unless that is its system already): the geometric
mean of the same segment posteriors (for ``paper``: the default's rule on the paper's
networks; for ``calibrated``: its networks without the held-out temperature).

Rows (``--rows``):

* ``paper``: the paper's literal recipe: Att-CRNN, fixed segments, a constant
  learning rate, the product of the train-set-Platt segment posteriors
  (``recording_posteriors="paper"``, ``augment=False``, ``lr_schedule=None``);
* ``default``: the factories' defaults (``make_att_crnn_pipeline()``: cosine learning
  rate, no augmentation, the geometric mean of the segment posteriors);
* ``calibrated``: the defaults with ``recording_posteriors="calibrated"`` (the geometric
  mean ÷ a temperature fitted on a held-out seventh of the training recordings; the
  factories' default until 2026-12-08);
* ``cnn_baseline``: the CNN baseline with the factories' defaults;
* ``default_augmented``: the defaults with ``augment=True`` (crops and masks; the
  factories' default until 2026-12-08, when the 5-fold table in RESULTS.md was run);
* ``softmax``: an option, for the design notes.

Usage (about 15-25 min per fold and row for 40 epochs on 2 idle cores; never run two
at once)::

    python benchmarks/esc10.py --rows paper default cnn_baseline --epochs 40
    python benchmarks/esc10.py --table-only       # the table of what --out holds
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys

import numpy as np

from skasc.pipelines import AUGMENTATION

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.join(HERE, "..", "..", "shared", "data", "esc10")

#: name -> keyword arguments of run_protocol on top of the run's schedule
_NO_AUGMENTATION = {"crop": False, "freq_mask_width": 0, "time_mask_width": 0}
_AUGMENTATION = dict(AUGMENTATION)  # what make_att_crnn_pipeline(augment=True) sets
ROWS: dict[str, dict] = {
    "paper": {
        "network": "att_crnn",
        "recording_posteriors": "paper",
        "net_params": {**_NO_AUGMENTATION, "lr_schedule": None},
    },
    "default": {"network": "att_crnn"},
    "calibrated": {"network": "att_crnn", "recording_posteriors": "calibrated"},
    "cnn_baseline": {"network": "cnn_baseline"},
    "default_augmented": {"network": "att_crnn", "net_params": _AUGMENTATION},
    "softmax": {"network": "att_crnn", "classifier": "softmax"},
}


def fold_scores(fold_dir: str) -> dict[str, dict[str, float]]:
    """Scores of one finished fold, read from its ``result.npz`` / ``result.json``."""
    from skasc.evaluation import classification_scores, reliability_curve
    from skasc.fusion import fuse_log_posteriors, product_fusion

    with np.load(os.path.join(fold_dir, "result.npz"), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    with open(os.path.join(fold_dir, "result.json")) as fh:
        info = json.load(fh)
    classes, y = arrays["classes"], arrays["y_true"]
    heads = {"system": arrays["proba"]}
    if "segment_proba" in arrays:  # the paper's rule on the same segment posteriors
        lengths = np.bincount(arrays["segment_index"], minlength=len(y))
        heads["paper's rule"] = product_fusion(arrays["segment_proba"], lengths=lengths)
        floor = inspect.signature(product_fusion).parameters["floor"].default
        floored = np.log(np.maximum(arrays["segment_proba"], floor))
        heads["geometric mean"] = np.exp(fuse_log_posteriors(floored, lengths=lengths, rule="mean"))
    out = {}
    for head, proba in heads.items():
        scores = classification_scores(y, classes[np.argmax(proba, axis=1)], proba, classes)
        out[head] = {
            "accuracy": scores["accuracy"],
            "balanced_accuracy": scores["balanced_accuracy"],
            "log_loss": scores["log_loss"],
            "ece": reliability_curve(y, proba, classes)["ece"],
            "seconds": float(info["seconds"]),
        }
    return out


def _recorded_posteriors(out: str, name: str) -> str:
    """The ``recording_posteriors`` a row's folder ran with (its protocol.json)."""
    with open(os.path.join(out, name, "protocol.json")) as fh:
        return json.load(fh)["settings"].get("recording_posteriors", "paper")


def row_table(out: str, name: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(row label, metric -> per-fold values) of the finished folds of one row."""
    folder = os.path.join(out, name, "folds")
    if not os.path.isdir(folder):
        return []
    per_head: dict[str, dict[str, list[float]]] = {}
    for fold in sorted(os.listdir(folder)):
        if not os.path.exists(os.path.join(folder, fold, "result.json")):
            continue
        for head, scores in fold_scores(os.path.join(folder, fold)).items():
            for metric, value in scores.items():
                per_head.setdefault(head, {}).setdefault(metric, []).append(value)
    rows = []
    for head, metrics in per_head.items():
        posteriors = _recorded_posteriors(out, name)
        if (head, posteriors) in (("paper's rule", "paper"), ("geometric mean", "mean")):
            continue  # the system is that rule already
        label = name if head == "system" else f"{name} / {head}"
        rows.append((label, {k: np.asarray(v) for k, v in metrics.items()}))
    return rows


def print_table(out: str, names: list[str]) -> str:
    lines = [
        "| row | folds | recording accuracy | macro class-wise accuracy | log loss | ECE "
        "| time per fold |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def cell(m: dict, key: str, scale: float = 1.0, fmt: str = ".3f") -> str:
        v = m[key] * scale
        return f"{v.mean():{fmt}} ± {v.std():{fmt}}"

    for name in names:
        for label, m in row_table(out, name):
            lines.append(
                f"| {label} | {len(m['accuracy'])} | {cell(m, 'accuracy', 100, '.2f')} % "
                f"| {cell(m, 'balanced_accuracy', 100, '.2f')} % | {cell(m, 'log_loss')} "
                f"| {cell(m, 'ece')} | {m['seconds'].mean() / 60:.1f} min |"
            )
    text = "\n".join(lines)
    print(text)
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=DEFAULT_ROOT, help="the ESC-10 folder")
    parser.add_argument(
        "--rows", nargs="+", default=["paper", "default", "cnn_baseline"], choices=sorted(ROWS)
    )
    parser.add_argument("--folds", default="1,2,3,4,5", help="official folds, e.g. 1,2")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--out", default=os.path.join(HERE, "..", "out", "esc10"))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.table_only:
        import torch

        from skasc import run_protocol

        if args.threads:
            torch.set_num_threads(args.threads)
        folds = [int(f) for f in args.folds.split(",")]
        for name in args.rows:
            print(
                f"\n=== {name}: {ROWS[name]}, {args.epochs} epochs at lr {args.lr} ===", flush=True
            )
            run_protocol(
                "esc10",
                args.root,
                epochs=args.epochs,
                lr=args.lr,
                folds=folds,
                eval_every=0,
                device="cpu",
                random_state=args.seed,
                out=os.path.join(args.out, name),
                verbose=1,
                **ROWS[name],
            )
            print_table(args.out, [name])
            sys.stdout.flush()
    print_table(args.out, args.rows)


if __name__ == "__main__":
    main()
