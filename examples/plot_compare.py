"""
Is system A better than system B? A paired comparison
=====================================================

Two systems trained on the same folds with the same seeds differ run by run, and the
runs are not independent: cross-validation's training sets overlap. :func:`~skasc.compare_runs`
(``skasc compare A B``) pairs two finished :func:`~skasc.run_protocol` folders and
reports the mean difference with the corrected resampled t-test of Nadeau and Bengio
(2003), McNemar's test on the test recordings, and a one-line verdict.
"""

# %%
# Two systems, the same folds and seeds
# -------------------------------------
# A tiny LITIS-shaped folder (:func:`~skasc.make_litis_like` writes generated scenes as
# the protocol example's ``write_litis_layout`` does, with stratified splits), the
# Att-CRNN and the CNN baseline, two splits x two seeds each, tiny networks and few
# epochs.
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

from skasc import compare_runs, make_litis_like, run_protocol

workdir = tempfile.mkdtemp(prefix="skasc-compare-")
root = make_litis_like(
    os.path.join(workdir, "LITIS_ROUEN"),
    n_recordings_per_class=6,
    n_classes=3,
    n_splits=2,
    test_size=1 / 3,
    duration=6.0,
    random_state=0,
)
tiny = {"module__n_filters": (4, 8, 8), "module__hidden_size": 8, "module__attention_size": 8}
folders = {}
for network in ("att_crnn", "cnn_baseline"):
    folders[network] = os.path.join(workdir, network)
    run_protocol(
        "litis",
        root,
        network=network,
        epochs=6,
        lr=3e-3,
        batch_size=20,
        eval_every=0,
        seeds=[0, 1],
        device="cpu",
        out=folders[network],
        verbose=0,
        net_params=tiny if network == "att_crnn" else {"module__n_filters": (4, 8, 8)},
    )

# %%
# The comparison
# --------------
# Per fold and seed both scores and their difference; the corrected t-test's
# confidence interval; McNemar's test per seed on the recordings of all folds (exact
# binomial when few recordings are discordant); the verdict at ``alpha``. With four
# runs of six test recordings nothing can be significant, and the verdict says so.
comparison = compare_runs(folders["att_crnn"], folders["cnn_baseline"], alpha=0.05)
print(comparison)

# %%
# ``to_markdown()`` is what ``skasc compare --out cmp.md`` writes, ``to_dict()`` the
# JSON of ``--json``. The differences and the confidence interval of their mean, in
# percentage points:
differences = 100 * np.array([run["difference"] for run in comparison.runs])
mean = 100 * comparison.ttest["mean"]
low, high = (100 * value for value in comparison.ttest["ci"])
names = [f"{run['fold']}\nseed {run['seed']}" for run in comparison.runs]
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.bar(names, differences, color="tab:blue", label="A - B per run")
ax.errorbar(
    ["mean"],
    [mean],
    yerr=[[mean - low], [high - mean]],
    fmt="o",
    color="tab:orange",
    capsize=6,
    label="mean, 95 % CI (corrected t-test)",
)
ax.axhline(0, color="black", linewidth=0.8)
ax.set_ylabel("recording accuracy, A - B (points)")
ax.set_title(f"{comparison.a['label']} - {comparison.b['label']}")
ax.legend(loc="lower left", fontsize="small")
