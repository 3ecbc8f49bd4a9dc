"""
Model complexity as DCASE reports it
====================================

DCASE Task 1 limits and reports a system's parameters, its multiply-accumulates
(MACs) per inference and its size in memory. :func:`~skasc.complexity` counts them
per part of the network, with torch's own counter (convolutions and matrix
products; element-wise work is not counted, as in DCASE's counters). A fitted
pipeline is counted the same way, with the min-max scaler and the calibrated SVM in
place of the network's softmax layer; ``skasc info model.skasc`` prints the same
table for a saved model.
"""

# %%
# The paper's two networks
# ------------------------
# The Att-CRNN and the CNN baseline of Phan et al. (2019) at the paper's sizes:
# 19 classes (LITIS Rouen), two channels of 64 log-Mel bands x 80 frames per 2-s
# segment. Building the modules draws random weights; nothing is trained.
import matplotlib.pyplot as plt
import numpy as np

from skasc import complexity
from skasc.nn import AttCRNN, CNNBaseline

reports = {
    "Att-CRNN": complexity(AttCRNN(n_classes=19, mask_scale="n_features")),
    "CNN baseline": complexity(CNNBaseline(n_classes=19)),
}
print(reports["Att-CRNN"].to_table())

# %%
print(reports["CNN baseline"].to_table())

# %%
# Where the parameters and the MACs are
# -------------------------------------
# The recurrent part holds two thirds of the Att-CRNN's parameters, the convolutions
# three quarters of its MACs; the CNN baseline is the same convolutions and a softmax.
parts = list(reports["Att-CRNN"].parameters)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for ax, what, scale, unit in (
    (axes[0], "parameters", 1e3, "thousands"),
    (axes[1], "macs", 1e6, "millions per 2-s segment"),
):
    for k, (name, report) in enumerate(reports.items()):
        values = [getattr(report, what).get(part, 0) / scale for part in parts]
        ax.barh(np.arange(len(parts)) + 0.4 * k, values, height=0.4, label=name)
    ax.set_yticks(np.arange(len(parts)) + 0.2, parts)
    ax.invert_yaxis()
    ax.set_xlabel(f"{'MACs' if what == 'macs' else 'parameters'} ({unit})")
axes[0].legend()

# %%
# Sizes at the precisions DCASE counts (bytes per parameter: 4, 2 and 1):
for name, report in reports.items():
    sizes = ", ".join(f"{p} {report.size_bytes(p) / 1e6:.2f} MB" for p in ("fp32", "fp16", "int8"))
    print(
        f"{name}: {report.total_parameters:,} parameters, "
        f"{report.macs_per_second / 1e6:.1f} M MACs per second of audio; {sizes}"
    )
