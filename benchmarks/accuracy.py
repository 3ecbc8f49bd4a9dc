"""Recording accuracy on real audio: the Free Spoken Digit Dataset (FSDD), official split.

Every row runs the whole system from file paths (``Pipeline.fit(paths, labels)``:
loading, minimum-statistics denoising, 2-s segments, log Mel, network, SVM) on the
2 700 training recordings and scores the 300 test recordings (take 0-4 of every
digit and speaker; ``../shared/data/fsdd/README.txt``).

Rows are networks, columns the heads that turn the trained network into a
recording decision. Training the network does not depend on the head, so each
network is trained once and its heads are read from it:

* ``svm-minmax``: the default system, i.e. ``pipe.predict_proba(test_paths)`` of the
  fitted pipeline itself (pooled features min-max scaled to [-1, 1] on the training
  segments, calibrated linear SVM, product over the recording's segments);
* ``svm-standard`` / ``svm-none``: the same trained network's pooled features,
  standardised or unscaled, into the same calibrated SVM (what
  ``feature_scaling="standard"`` / ``None`` fit; checked against the default head
  by recomputing ``svm-minmax`` the same way);
* ``svm-minmax-cv5``: min-max features into the SVM calibrated by 5-fold
  cross-validation (``calibration=5``) instead of the paper's Platt scaling on the
  training set itself (``calibration="train"``, every SVM head above);
* ``svm-minmax-temp`` / ``svm-minmax-cv5-temp``: the same two, with one temperature
  for all classes instead of a sigmoid per class (``calibration_method="temperature"``,
  scikit-learn's ``CalibratedClassifierCV(method="temperature")``);
* ``softmax``: the network's own softmax posteriors, product over segments (the
  ``classifier="softmax"`` system, which trains the identical network).

Each head is scored by recording accuracy, DCASE's multi-class log loss and the
expected calibration error (top label, 10 bins; ``skasc.evaluation.reliability_curve``).

Diagnostics per Att-CRNN row, on the test segments: the normalised entropy of the
temporal attention (1 = uniform), the share of saturated units (|tanh| > 0.99) in
the temporal scorer, the typical size of ``A * Z`` inside eq. (9)'s tanh, the pooled
features' mean |x| and std, and how far the first batch norm's running mean lies
from the mean of what it sees on unmixed training data (in units of its std).

Usage (about 30 s per epoch and network on 2 CPU cores; rows run one after the
other, results are appended to ``--out``/results.jsonl as each row finishes)::

    python benchmarks/accuracy.py                       # the issue's rows, 40 epochs
    python benchmarks/accuracy.py --rows att_crnn cnn_baseline --epochs 5
    python benchmarks/accuracy.py --rows att_crnn --heads svm-minmax svm-minmax-cv5 \
        svm-minmax-temp                                 # the calibration table
    python benchmarks/accuracy.py --table-only          # print the table of results.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import numpy as np
import torch
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import make_pipeline

from skasc import make_att_crnn_pipeline, make_cnn_baseline_pipeline, make_feature_scaler
from skasc.calibration import make_svm_calibrator
from skasc.evaluation import reliability_curve
from skasc.fusion import product_fusion

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.join(HERE, "..", "..", "shared", "data", "fsdd")

# name -> (factory, keyword arguments on top of the run's schedule)
ROWS = {
    "att_crnn": (make_att_crnn_pipeline, {}),  # the default
    "cnn_baseline": (make_cnn_baseline_pipeline, {}),  # the default
    "att_crnn_standardized": (make_att_crnn_pipeline, {"net_params": {"standardize_input": True}}),
    "cnn_baseline_standardized": (
        make_cnn_baseline_pipeline,
        {"net_params": {"standardize_input": True}},
    ),
    "att_crnn_eq9": (make_att_crnn_pipeline, {"mask_scale": 1.0}),  # eq. (9) as printed
    "att_crnn_eq9_standardized": (
        make_att_crnn_pipeline,
        {"mask_scale": 1.0, "net_params": {"standardize_input": True}},
    ),
}
HEADS = (
    "svm-minmax",
    "svm-minmax-cv5",
    "svm-minmax-temp",
    "svm-minmax-cv5-temp",
    "svm-standard",
    "svm-none",
    "softmax",
)
# the SVM heads fitted on the trained network's pooled features:
# name -> (feature scaling, calibration, calibration method)
SVM_HEADS = {
    "svm-minmax-recomputed": ("minmax", "train", "sigmoid"),
    "svm-minmax-cv5": ("minmax", 5, "sigmoid"),
    "svm-minmax-temp": ("minmax", "train", "temperature"),
    "svm-minmax-cv5-temp": ("minmax", 5, "temperature"),
    "svm-standard": ("standard", "train", "sigmoid"),
    "svm-none": (None, "train", "sigmoid"),
}
NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def fsdd_split(root: str):
    """Paths and digit labels of the official train/test split (take 0-4 = test)."""
    folder = os.path.join(root, "recordings")
    if not os.path.isdir(folder):
        raise SystemExit(f"FSDD not found: {folder!r} does not exist (pass --root).")
    train, test = ([], []), ([], [])
    for name in sorted(os.listdir(folder)):
        m = NAME.match(name)
        if m is None:
            continue
        side = test if int(m.group(3)) < 5 else train
        side[0].append(os.path.join(folder, name))
        side[1].append(int(m.group(1)))
    return (train[0], np.array(train[1])), (test[0], np.array(test[1]))


def _segments(features):
    """Flatten a batch of recordings' segment features; also the segments per recording."""
    parts = [np.asarray(f) for f in features]
    return np.concatenate(parts), np.array([len(p) for p in parts])


def _attention_diagnostics(net, segments: np.ndarray, train_segments: np.ndarray) -> dict:
    """What the attention and the first batch norm do on real data (see the docstring)."""
    module = net.module_.eval()
    out = {}
    with torch.no_grad():
        xb = torch.from_numpy(np.ascontiguousarray(segments[:512], dtype=np.float32))
        if hasattr(module, "pooling"):
            Z = module._sequence(xb)
            pool = module.pooling
            hidden = torch.tanh(pool.temporal_hidden(Z))
            x, a_tem, a_spa, A = pool(Z, return_attention=True)
            T = a_tem.shape[1]
            entropy = -(a_tem * torch.log(a_tem.clamp_min(1e-30))).sum(1) / np.log(T)
            inside = pool.mask_scale * A * Z.transpose(1, 2)
            out.update(
                temporal_entropy=float(entropy.mean()),
                temporal_scorer_saturated=float((hidden.abs() > 0.99).float().mean()),
                eq9_tanh_argument_rms=float(inside.pow(2).mean().sqrt()),
                Z_rms=float(Z.pow(2).mean().sqrt()),
                pooled_abs_mean=float(x.abs().mean()),
                pooled_std=float(x.std()),
            )
        # first batch norm: its running mean against the mean of its input on unmixed data
        conv, bn = module.conv.layers[0], module.conv.layers[2]
        xt = torch.from_numpy(np.ascontiguousarray(train_segments[:512], dtype=np.float32))
        pre = torch.relu(conv(module.input_norm(xt)))
        mean = pre.mean(dim=(0, 2, 3))
        std = pre.std(dim=(0, 2, 3)).clamp_min(1e-6)
        out["bn1_running_mean_offset_in_std"] = float(((bn.running_mean - mean).abs() / std).mean())
    return out


def run_row(name: str, args, train, test) -> dict:
    factory, extra = ROWS[name]
    kwargs = dict(
        max_epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        random_state=args.seed,
        feature_cache=os.path.join(args.out, "features"),
        verbose=1,
    )
    kwargs.update({k: v for k, v in extra.items()})
    pipe = factory(**kwargs)
    print(
        f"\n=== {name}: {factory.__name__}({', '.join(f'{k}={v!r}' for k, v in extra.items())}), "
        f"{args.epochs} epochs at lr {args.lr} ===",
        flush=True,
    )
    t0 = time.perf_counter()
    pipe.fit(train[0], train[1])
    fit_s = time.perf_counter() - t0
    frontend = pipe.named_steps["frontend"]
    fusion = pipe.named_steps["fusion"]
    net = fusion.estimator_.named_steps["net"]
    classes = fusion.classes_
    train_seg, train_len = _segments(frontend.transform(train[0]))  # cached: no recompute
    test_seg, test_len = _segments(frontend.transform(test[0]))
    train_y = np.repeat(train[1], train_len)
    E_train, E_test = net.transform(train_seg), net.transform(test_seg)
    train_s = float(sum(row["dur"] for row in net.history))

    heads = {}
    t0 = time.perf_counter()
    proba = pipe.predict_proba(test[0])  # the whole default system from file paths
    heads["svm-minmax"] = {
        "proba": proba,
        "head_fit_s": None,
        "predict_s": time.perf_counter() - t0,
    }
    for head, (scaling, calibration, method) in SVM_HEADS.items():
        if head != "svm-minmax-recomputed" and head not in args.heads:
            continue
        t0 = time.perf_counter()
        svm = make_pipeline(
            make_feature_scaler(scaling),
            make_svm_calibrator(calibration=calibration, method=method, random_state=args.seed),
        ).fit(E_train, train_y)
        fitted = time.perf_counter() - t0
        seg = np.zeros((len(E_test), len(classes)))
        seg[:, np.searchsorted(classes, svm.classes_)] = svm.predict_proba(E_test)
        heads[head] = {"proba": product_fusion(seg, lengths=test_len), "head_fit_s": fitted}
    if "softmax" in args.heads:
        heads["softmax"] = {
            "proba": product_fusion(
                net.predict_proba(test_seg).astype(np.float64), lengths=test_len
            ),
            "head_fit_s": 0.0,
        }
    agree = np.abs(heads["svm-minmax"]["proba"] - heads.pop("svm-minmax-recomputed")["proba"])
    result = {
        "row": name,
        "epochs": args.epochs,
        "lr": args.lr,
        "seed": args.seed,
        "fit_s": fit_s,
        "train_s": train_s,
        "threads": torch.get_num_threads(),
        "minmax_head_recomputed_max_abs_diff": float(agree.max()),
        "train_loss": [row["train_loss"] for row in net.history],
        "heads": {},
    }
    for head, h in heads.items():
        p = np.clip(h["proba"], 1e-15, 1.0)
        result["heads"][head] = {
            "accuracy": float(accuracy_score(test[1], classes[np.argmax(p, axis=1)])),
            "log_loss": float(log_loss(test[1], p / p.sum(1, keepdims=True), labels=classes)),
            "ece": reliability_curve(test[1], p / p.sum(1, keepdims=True), classes)["ece"],
            "head_fit_s": h["head_fit_s"],
        }
    result["diagnostics"] = _attention_diagnostics(net, test_seg, train_seg)
    return result


def print_table(results: list[dict]) -> None:
    print("\n| network | head | recording accuracy | log loss | ECE | fit time |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        for head in HEADS:
            h = r["heads"].get(head)
            if h is None:
                continue
            fit = r["fit_s"] if head == "svm-minmax" else r["train_s"] + (h["head_fit_s"] or 0)
            ece = f"{h['ece']:.3f}" if "ece" in h else "-"
            print(
                f"| {r['row']} ({r['epochs']} ep.) | {head} | {100 * h['accuracy']:.1f} % | "
                f"{h['log_loss']:.3f} | {ece} | {fit / 60:.1f} min |"
            )
    print(
        "\n| network | temporal entropy | scorer saturated | eq.(9) tanh arg. rms | "
        "Z rms | pooled mean abs | BN1 offset (std) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        d = r["diagnostics"]
        cells = [
            f"{d[k]:.3g}" if k in d else "-"
            for k in (
                "temporal_entropy",
                "temporal_scorer_saturated",
                "eq9_tanh_argument_rms",
                "Z_rms",
                "pooled_abs_mean",
                "bn1_running_mean_offset_in_std",
            )
        ]
        print(f"| {r['row']} | " + " | ".join(cells) + " |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=DEFAULT_ROOT, help="the FSDD folder")
    parser.add_argument(
        "--rows",
        nargs="+",
        default=["att_crnn", "cnn_baseline", "att_crnn_standardized", "att_crnn_eq9_standardized"],
        choices=sorted(ROWS),
    )
    parser.add_argument(
        "--heads",
        nargs="+",
        default=list(HEADS),
        choices=HEADS,
        help="heads to score (svm-minmax, the fitted system, always runs)",
    )
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(HERE, "..", "out", "accuracy"))
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="keep every k-th recording of each side (a quick smoke run)",
    )
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = os.path.join(args.out, "results.jsonl")
    if not args.table_only:
        if args.threads:
            torch.set_num_threads(args.threads)
        train, test = fsdd_split(args.root)
        if args.limit:
            train = ([p for p in train[0][:: args.limit]], train[1][:: args.limit])
            test = ([p for p in test[0][:: args.limit]], test[1][:: args.limit])
        print(
            f"FSDD: {len(train[0])} training and {len(test[0])} test recordings; "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads",
            flush=True,
        )
        for name in args.rows:
            result = run_row(name, args, train, test)
            with open(log, "a") as fh:
                fh.write(json.dumps(result) + "\n")
            print_table([result])
            sys.stdout.flush()
    with open(log) as fh:
        print_table([json.loads(line) for line in fh if line.strip()])


if __name__ == "__main__":
    main()
