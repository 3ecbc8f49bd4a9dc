"""Opt-in real-audio check on ESC-10: multi-segment recordings, the default posteriors.

Skipped unless ``SKASC_ESC10=1`` is set and ``../shared/data/esc10`` exists. A short
version of ``benchmarks/esc10.py``: official fold 1 through ``run_protocol`` with the
factories' defaults, 8 epochs at lr 1e-3, seed 0 (about 6 minutes on two cores).
"""

import json
import os

import numpy as np
import pytest

ESC10 = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "esc10")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SKASC_ESC10") != "1", reason="set SKASC_ESC10=1 to run the ESC-10 check"
    ),
    pytest.mark.skipif(not os.path.isdir(ESC10), reason="../shared/data/esc10 is not present"),
]


def test_default_system_is_accurate_and_calibrated_on_one_fold(tmp_path):
    from skasc import run_protocol
    from skasc.evaluation import classification_scores
    from skasc.fusion import product_fusion

    run_protocol(
        "esc10",
        ESC10,
        epochs=8,
        lr=1e-3,
        folds=[1],
        eval_every=0,
        device="cpu",
        out=tmp_path,
        verbose=0,
    )
    fold = tmp_path / "folds" / "fold1"
    with np.load(fold / "result.npz", allow_pickle=False) as data:
        r = {name: data[name] for name in data.files}
    classes, y = r["classes"], r["y_true"]
    scores = classification_scores(y, classes[r["proba"].argmax(1)], r["proba"], classes)
    # the paper's rule on the same network's segment posteriors
    lengths = np.bincount(r["segment_index"], minlength=len(y))
    paper = product_fusion(r["segment_proba"], lengths=lengths)
    paper_scores = classification_scores(y, classes[paper.argmax(1)], paper, classes)
    assert json.loads((fold / "result.json").read_text())["n_test"] == 80
    assert scores["accuracy"] >= 0.6, scores  # chance is 0.1
    assert scores["accuracy"] == paper_scores["accuracy"]  # the same decisions
    assert scores["log_loss"] < paper_scores["log_loss"], (scores, paper_scores)
    assert scores["log_loss"] < np.log(10)  # better than a uniform guess
