"""
Hours of audio: a scene timeline
================================

:func:`~skasc.predict_timeline` runs a fitted pipeline over one long file in bounded
memory: it reads the file block by block, carries the denoiser's state across blocks
(so every segment's features equal those of the whole file at once), classifies each
2-s segment once, and fuses the segments of every window by the pipeline's own rule.
Here the long file is a minute of generated scenes, one class after the other.
"""

# %%
# A fitted system and a long recording
# ------------------------------------
import os
import tempfile

import numpy as np
import soundfile as sf

from skasc import make_att_crnn_pipeline, make_scenes, predict_timeline
from skasc.plotting import plot_timeline

X, y, classes = make_scenes(n_recordings_per_class=6, n_classes=3, duration=6.0, random_state=0)
tiny = {"module__n_filters": (8, 16, 16), "module__hidden_size": 16, "module__attention_size": 16}
pipe = make_att_crnn_pipeline(
    max_epochs=12, lr=3e-3, batch_size=20, random_state=0, verbose=0, net_params=tiny
)
pipe.fit(list(X), y)

# 20 s of each class in turn, from scenes the system has not heard
scenes, labels, _ = make_scenes(
    n_recordings_per_class=1, n_classes=3, duration=20.0, random_state=7
)
order = [0, 2, 1]
path = os.path.join(tempfile.mkdtemp(prefix="skasc-timeline-"), "walk.wav")
sf.write(path, np.concatenate([scenes[i] for i in order]), 22050, subtype="PCM_16")
print("played:", [f"{labels[i]} from {20 * k} s" for k, i in enumerate(order)])

# %%
# The timeline
# ------------
# Windows of 4 s every 2 s (whole numbers of 2-s segments). Each row has the window's
# start and end, its label and its posteriors; ``to_csv`` writes the same rows.
timeline = predict_timeline(pipe, path, window=4.0, hop=2.0)
print(len(timeline), "windows; change points (s, from, to):")
for time_s, before, after in timeline.change_points:
    print(f"  {time_s:5.1f}  {before} -> {after}")

# %%
# Each window is drawn in its class's colour, its posterior as the opacity.
fig = plot_timeline(timeline, title="A minute of generated scenes")
