"""Does a refactoring change what the model learns? SHA-1 of weights and posteriors.

Trains tiny systems on the CPU with one thread and seed 0 and prints the SHA-1 of
every weight, of the posteriors at both levels and of the training losses:

* ``att_crnn``: ``make_att_crnn_pipeline`` (SVM head), 3 epochs, fitted with a
  ``checkpoint_dir`` (the resumable path), then its recording and segment
  posteriors on held-out recordings;
* ``fused_cnn``: ``make_fused_pipeline("cnn_baseline", classifier="softmax")``,
  both systems and the fused posteriors;
* ``evaluate``: ``evaluate`` of the Att-CRNN pipeline over 2 folds and
  ``fuse_reports`` of it with itself (the split posteriors);
* ``protocol``: ``run_protocol`` on a LITIS-layout copy of the data (one fold,
  held-out accuracy every epoch): the saved fold arrays and scores.

Run it at two commits and compare the outputs line by line (``diff``); every
line must be equal. It takes about a minute on one core::

    OMP_NUM_THREADS=1 python benchmarks/bit_identity.py > before.txt

Since the factories' defaults moved away from the paper (a cosine learning rate, the
geometric mean of the segment posteriors; augmented training for a while), the script
asks for the paper's recipe wherever the installed skasc has those arguments
(:data:`PAPER`), so the same systems are compared across that change. Scores print
the metrics every version has.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings

import numpy as np


def sha(value) -> str:
    """SHA-1 of an array's dtype, shape and bytes (first 12 hex digits)."""
    array = np.ascontiguousarray(value)
    digest = hashlib.sha1(f"{array.dtype}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()[:12]


def nets_of(pipe) -> dict:
    """The fitted networks of a single or fused pipeline, by system name."""
    fusion = pipe.named_steps["fusion"]
    systems = (
        {"system": fusion}
        if not hasattr(fusion, "named_estimators_")
        else {
            name: system.named_steps["fusion"] for name, system in fusion.named_estimators_.items()
        }
    )
    out = {}
    for name, recording_fusion in systems.items():
        inner = recording_fusion.estimator_
        out[name] = inner.named_steps["net"] if hasattr(inner, "named_steps") else inner
    return out


def report_net(label: str, net) -> None:
    for key, tensor in net.module_.state_dict().items():
        print(f"{label} weight {key} {sha(tensor.detach().cpu().numpy())}")
    losses = [row["train_loss"] for row in net.history]
    print(f"{label} train_loss {' '.join(f'{v:.17g}' for v in losses)}")


def report_levels(label: str, pipe, X) -> None:
    from skasc.fusion import predict_proba_levels

    levels = predict_proba_levels(pipe, X)
    if isinstance(levels, tuple):  # before the Posteriors record
        recording, segment, index = levels
    else:
        recording, segment, index = levels.proba, levels.segment_proba, levels.segment_index
    print(f"{label} predict_proba {sha(pipe.predict_proba(X))}")
    print(f"{label} predict_log_proba {sha(pipe.predict_log_proba(X))}")
    print(f"{label} levels recording {sha(recording)} segment {sha(segment)} index {sha(index)}")


#: The paper's recipe, for a skasc whose factories default to something else.
PAPER = {"recording_posteriors": "paper", "augment": False, "lr_schedule": None}
OLD_METRICS = ("accuracy", "f1_macro", "precision_macro", "log_loss")


def paper_arguments(function) -> dict:
    """The :data:`PAPER` arguments ``function`` takes (none on older versions)."""
    import inspect

    return {k: v for k, v in PAPER.items() if k in inspect.signature(function).parameters}


def old_scores(scores: dict) -> dict:
    """The metrics every version reports, per level."""
    return {
        level: None if values is None else {k: values[k] for k in OLD_METRICS if k in values}
        for level, values in scores.items()
    }


def main() -> None:
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from skasc import (
        evaluate,
        fuse_reports,
        make_att_crnn_pipeline,
        make_fused_pipeline,
        make_scenes,
        run_protocol,
    )
    from skasc.datasets import write_litis_layout

    X, y, _ = make_scenes(n_recordings_per_class=4, n_classes=3, duration=4.0, random_state=0)
    train, test = np.arange(len(y)) % 4 != 3, np.arange(len(y)) % 4 == 3
    tiny = {
        "module__n_filters": (4, 8, 8),
        "module__hidden_size": 8,
        "module__attention_size": 8,
        "device": "cpu",
    }
    common = dict(
        max_epochs=3,
        lr=1e-3,
        batch_size=8,
        random_state=0,
        verbose=0,
        **paper_arguments(make_att_crnn_pipeline),
    )

    with tempfile.TemporaryDirectory() as tmp:
        pipe = make_att_crnn_pipeline(net_params={**tiny, "checkpoint_dir": tmp}, **common)
        pipe.fit(list(X[train]), y[train])
        report_net("att_crnn", nets_of(pipe)["system"])
        report_levels("att_crnn", pipe, list(X[test]))

    fused = make_fused_pipeline(
        "cnn_baseline",
        classifier="softmax",
        net_params={"module__n_filters": (4, 8, 8), "device": "cpu"},
        **common,
    )
    fused.fit(list(X[train]), y[train])
    for name, net in nets_of(fused).items():
        report_net(f"fused_cnn {name}", net)
    report_levels("fused_cnn", fused, list(X[test]))

    report = evaluate(make_att_crnn_pipeline(net_params=tiny, **common), list(X), y, cv=2)
    for name, rep in (("evaluate", report), ("fuse_reports", fuse_reports(report, report))):
        for k, split in enumerate(rep.splits):
            print(
                f"{name} split {k} proba {sha(split.proba)} segment {sha(split.segment_proba)} "
                f"index {sha(split.segment_index)} y_pred {sha(split.y_pred.astype(str))}"
            )
        summary = {
            level: {k: rep.to_dict()[level][k] for k in OLD_METRICS if k in rep.to_dict()[level]}
            for level in ("segment", "recording")
        }
        print(f"{name} scores {json.dumps(summary, sort_keys=True)}")

    with tempfile.TemporaryDirectory() as tmp:
        root = write_litis_layout(
            os.path.join(tmp, "litis"),
            X,
            list(y),
            sr=22050,
            splits=[(np.flatnonzero(train), np.flatnonzero(test))],
        )
        paper = {k: v for k, v in paper_arguments(run_protocol).items()}
        net_paper = (
            {"crop": False, "freq_mask_width": 0, "time_mask_width": 0, "lr_schedule": None}
            if paper
            else {}
        )
        run_protocol(
            "litis",
            root,
            epochs=3,
            lr=1e-3,
            batch_size=8,
            eval_every=1,
            verbose=0,
            out=os.path.join(tmp, "out"),
            device="cpu",
            **paper,
            net_params={**{k: v for k, v in tiny.items() if k != "device"}, **net_paper},
        )
        with np.load(os.path.join(tmp, "out", "folds", "fold1", "result.npz")) as data:
            for name in sorted(data.files):
                print(f"protocol result.npz {name} {sha(data[name])}")
        with open(os.path.join(tmp, "out", "folds", "fold1", "result.json")) as fh:
            fold = json.load(fh)
        print(f"protocol scores {json.dumps(old_scores(fold['scores']), sort_keys=True)}")
        print(f"protocol heldout {json.dumps(fold['heldout_accuracy'], sort_keys=True)}")


if __name__ == "__main__":
    main()
