"""Plot where a briefly trained Att-CRNN listens, on real recordings.

Reads the TUT Urban 2018 sample recordings (one 10-s recording per scene, in
``../shared/data/tut-urban-2018-samples`` or a folder given as argument), runs the
paper's front end (minimum-statistics auxiliary channel, 2-s segments, 64 x 80
log-Mel images), trains a small ``AttCRNNClassifier`` for about a minute, and plots,
for one segment, its log-Mel image with the temporal attention ``a_tem`` (eq. 4),
the spatial weights ``a_spa`` (eq. 5) and the mask ``A`` (eq. 8) to a PNG.

By default the attention mask is scaled by 2H inside eq. (9)
(``module__mask_scale="n_features"``): with the printed formula and such a short
training the temporal scorer saturates and ``a_tem`` comes out uniform
(``--paper-mask`` shows that).

Usage::

    python examples/plot_attention.py [FOLDER] [--out attention.png] [--epochs 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

DEFAULT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "..",
    "shared",
    "data",
    "tut-urban-2018-samples",
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=DEFAULT)
    parser.add_argument("--out", default="attention.png")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--paper-mask", action="store_true", help="use eq. (9) as printed (mask_scale=1)"
    )
    args = parser.parse_args(argv)
    folder = os.path.abspath(args.folder)
    paths = (
        sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".wav"))
        if os.path.isdir(folder)
        else []
    )
    if not paths:
        print(f"No .wav recordings found in {folder}; pass a folder of recordings.")
        return 0

    from skasc import FrontEnd
    from skasc.nn import AttCRNNClassifier
    from skasc.plotting import plot_attention

    features = FrontEnd(n_jobs=2).transform(paths)  # (10, 5, 2, 64, 80)
    X = np.concatenate(list(features))  # (50, 2, 64, 80)
    X = (X - X.mean()) / X.std()  # one standardisation for the small net
    labels = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    y = np.repeat(labels, features.shape[1])
    print(f"{len(paths)} recordings -> {X.shape[0]} segments of {X.shape[1:]}")

    t0 = time.perf_counter()
    clf = AttCRNNClassifier(
        module__n_filters=(16, 32, 64),
        module__hidden_size=32,
        module__attention_size=16,
        module__mask_scale=1.0 if args.paper_mask else "n_features",
        lr=3e-3,
        batch_size=25,
        max_epochs=args.epochs,
        random_state=0,
        verbose=0,
    )
    clf.fit(X, y)
    print(
        f"trained {args.epochs} epochs in {time.perf_counter() - t0:.0f} s; "
        f"training accuracy {clf.score(X, y):.2f}"
    )

    i = 1  # the second segment of the first recording
    maps = clf.attention_maps(X[i : i + 1])
    a_tem = maps["temporal"][0]
    print(
        f"segment {i} ({y[i]}): a_tem in [{a_tem.min():.4f}, {a_tem.max():.4f}] "
        f"(uniform: {1 / len(a_tem):.4f})"
    )
    plot_attention(X[i, 0], a_tem, maps["spatial"][0], maps["mask"][0], path=args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
