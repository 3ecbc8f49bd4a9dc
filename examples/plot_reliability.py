"""
Are the posteriors calibrated? A reliability diagram
====================================================

The system's recording posteriors are the renormalised product of its segments'
posteriors, which the SVM's calibration (Platt's sigmoid or one temperature) makes
probabilities. A reliability diagram bins the test items by their confidence (their
largest posterior) and compares each bin's accuracy with its mean confidence; the
expected calibration error (ECE) is the gap, weighted by the bins' shares.
"""

# %%
# A tiny system, trained and tested on generated scenes
# -----------------------------------------------------
# :func:`~skasc.make_att_crnn_pipeline` assembles the paper's system: front end,
# Att-CRNN, min-max scaling, the calibrated linear SVM and the fusion of segments into
# recordings. Training and test scenes come from two seeds.
import numpy as np

from skasc import make_att_crnn_pipeline, make_scenes, reliability_curve
from skasc.plotting import plot_reliability_diagram

X_train, y_train, classes = make_scenes(
    n_recordings_per_class=6, n_classes=3, duration=6.0, random_state=0
)
X_test, y_test, _ = make_scenes(n_recordings_per_class=8, n_classes=3, duration=6.0, random_state=1)
tiny = {"module__n_filters": (4, 8, 8), "module__hidden_size": 8, "module__attention_size": 8}
pipe = make_att_crnn_pipeline(
    max_epochs=8, lr=3e-3, batch_size=20, random_state=0, verbose=0, net_params=tiny
)
pipe.fit(list(X_train), y_train)

# %%
# Recordings
# ----------
# ``predict_proba`` gives one row per recording, its columns in the order of
# ``pipe.classes_``.
proba = pipe.predict_proba(list(X_test))
print(f"recording accuracy: {np.mean(pipe.classes_[proba.argmax(1)] == y_test):.2f}")
curve = reliability_curve(y_test, proba, pipe.classes_, n_bins=5)
fig_recordings = plot_reliability_diagram(curve, title="Recordings")

# %%
# 2-s segments
# ------------
# The segment posteriors stay reachable on the fusion step; each segment carries its
# recording's label.
fusion = pipe.named_steps["fusion"]
features = pipe.named_steps["frontend"].transform(list(X_test))
segment_proba = fusion.predict_proba_segments(features)
segment_labels = y_test[fusion.segment_recording_index(features)]
curve = reliability_curve(segment_labels, segment_proba, fusion.classes_, n_bins=5)
print(f"{len(segment_labels)} segments, ECE {curve['ece']:.3f}")
fig_segments = plot_reliability_diagram(curve, title="2-s segments")
