"""Opt-in real-audio check on the Free Spoken Digit Dataset (issue 10).

Skipped unless ``SKASC_FSDD=1`` is set and ``../shared/data/fsdd/recordings`` exists.
A short version of ``benchmarks/accuracy.py``: half of the official training set
(1 350 recordings), the whole official test set (300), 6 epochs at lr 1e-3, seed 0,
every other setting at its default, from file paths. It takes about 5 minutes on
two cores.
"""

import os
import re

import numpy as np
import pytest

FSDD = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "fsdd", "recordings")
NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SKASC_FSDD") != "1", reason="set SKASC_FSDD=1 to run the real-audio check"
    ),
    pytest.mark.skipif(not os.path.isdir(FSDD), reason="../shared/data/fsdd is not present"),
]


def _split():
    train, test = ([], []), ([], [])
    for name in sorted(os.listdir(FSDD)):
        m = NAME.match(name)
        if m:
            side = test if int(m.group(3)) < 5 else train
            side[0].append(os.path.join(FSDD, name))
            side[1].append(int(m.group(1)))
    return (train[0][::2], np.array(train[1][::2])), (test[0], np.array(test[1]))


@pytest.mark.filterwarnings("ignore:Recording")
@pytest.mark.filterwarnings("ignore:recordings")
def test_default_system_learns_spoken_digits_from_paths(tmp_path):
    from skasc import make_att_crnn_pipeline, make_cnn_baseline_pipeline

    (X, y), (X_test, y_test) = _split()
    common = dict(
        max_epochs=6, lr=1e-3, random_state=0, verbose=0, feature_cache=str(tmp_path / "features")
    )
    att = make_att_crnn_pipeline(**common).fit(X, y)
    acc = np.mean(att.predict(X_test) == y_test)
    # The SVM on min-max scaled features must not lose to the network's own softmax
    # by much, and the system must be far above chance (10 %).
    fusion = att.named_steps["fusion"]
    net = fusion.estimator_.named_steps["net"]
    feats = att.named_steps["frontend"].transform(X_test)
    segments = np.concatenate([np.asarray(f) for f in feats])
    softmax_acc = np.mean(net.predict(segments) == np.repeat(y_test, [len(f) for f in feats]))
    # measured (2026-12-02, 1 thread): 0.880, its softmax 0.657, the CNN 0.937. After 6
    # epochs the calibrated SVM on scaled features is far ahead of the young network's
    # own softmax; the paper's ordering (Att-CRNN >= CNN) needs the longer training of
    # benchmarks/accuracy.py (40 epochs: 100 % for the default).
    assert acc >= 0.75, acc
    assert acc >= softmax_acc, (acc, softmax_acc)
    cnn = make_cnn_baseline_pipeline(**common).fit(X, y)
    cnn_acc = np.mean(cnn.predict(X_test) == y_test)
    print(
        f"FSDD short run: Att-CRNN {acc:.3f} (its softmax {softmax_acc:.3f}), "
        f"CNN baseline {cnn_acc:.3f}"
    )
    assert cnn_acc >= 0.75, cnn_acc
