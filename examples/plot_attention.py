"""
Where the Att-CRNN listens: attention maps
==========================================

The attention pooling of Phan et al. (2019) weighs the recurrent features of a 2-s
segment twice: over time (``a_tem``, eq. 4) and over the 2H features (``a_spa``,
eq. 5); their outer product is the mask ``A`` (eq. 8) that pools the segment into one
vector (eq. 9). This example trains a tiny network on generated scenes for a few
seconds and draws the three for one segment beside its log-Mel image.
"""

# %%
# Generated scenes through the paper's front end
# ----------------------------------------------
# :func:`~skasc.make_scenes` draws scenes with class-specific backgrounds and recurring
# events. :class:`~skasc.FrontEnd` turns each recording into 2-s segments of two
# channels (the recording and its noise-subtracted copy) of 64 log-Mel bands x 80 frames.
import numpy as np

from skasc import FrontEnd, make_scenes
from skasc.nn import AttCRNNClassifier
from skasc.plotting import plot_attention

X, y, class_names = make_scenes(
    n_recordings_per_class=4, n_classes=3, duration=10.0, random_state=0
)
features = FrontEnd().transform(list(X))  # (n_recordings, n_segments, 2, 64, 80)
segments = np.concatenate(list(features))  # the network sees segments
segment_labels = np.repeat(y, features.shape[1])
print(class_names, features.shape, "->", segments.shape)

# %%
# A tiny network, a few epochs
# ----------------------------
# The paper's network has 64/128/256 filters and H = 128; one this small trains in
# seconds and already attends to the events. ``mask_scale="n_features"`` is the
# factories' default (the mask multiplied by 2H inside eq. (9), see :doc:`/design`);
# ``standardize_input=True`` standardises each band of the input, which a network this
# small needs to learn in 20 epochs.
clf = AttCRNNClassifier(
    module__n_filters=(8, 16, 16),
    module__hidden_size=16,
    module__attention_size=16,
    module__mask_scale="n_features",
    standardize_input=True,
    max_epochs=20,
    lr=3e-3,
    batch_size=20,
    random_state=0,
    verbose=0,
)
clf.fit(segments, segment_labels)
print(f"training accuracy of the segments: {clf.score(segments, segment_labels):.2f}")

# %%
# The maps of one segment
# -----------------------
# :meth:`~skasc.AttCRNNClassifier.attention_maps` returns the temporal weights
# ``(n_segments, n_frames)``, the spatial weights ``(n_segments, 2H)`` and the mask
# ``(n_segments, 2H, n_frames)``; :func:`~skasc.plotting.plot_attention` draws them.
i = 1  # the second segment of the first recording
maps = clf.attention_maps(segments[i : i + 1])
a_tem = maps["temporal"][0]
print(
    f"{segment_labels[i]}: a_tem in [{a_tem.min():.4f}, {a_tem.max():.4f}] "
    f"(uniform: {1 / len(a_tem):.4f})"
)
fig = plot_attention(segments[i, 0], a_tem, maps["spatial"][0], maps["mask"][0])
