"""Plot the spatio-temporal attention of a briefly trained AttCRNN on real audio.

Loads the TUT Urban 2018 sample recordings (one 10-s recording per scene),
makes 2-s segments with two channels (original and minimum-statistics
denoised, as in the paper), computes 64 x 80 log-Mel images, trains a small
``AttCRNNClassifier`` for under a minute, and plots, for one segment, its
log-Mel image with the temporal attention curve ``a_tem`` (eq. 4) and the
spatial x temporal mask ``A`` (eq. 8).

Usage::

    python examples/plot_attention.py [FOLDER] [--out attention.png] [--epochs 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

DEFAULT = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                       "tut-urban-2018-samples")
SR = 22050


def load(path: str) -> np.ndarray:
    """Mono float32 signal at 22050 Hz."""
    import soundfile as sf
    import soxr

    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    return soxr.resample(audio.mean(axis=1), sr, SR).astype(np.float32)


def two_channels(signal: np.ndarray) -> np.ndarray:
    """(2, n_samples): original and noise-subtracted (MinStatsDenoiser if available)."""
    try:
        from skasc.denoise import MinStatsDenoiser

        return MinStatsDenoiser().fit_transform(signal[None])[0]
    except ImportError:  # fall back to a duplicated channel
        return np.stack([signal, signal])


def log_mel(segments: np.ndarray) -> np.ndarray:
    """(n_seg, 2, n_samples) -> (n_seg, 2, 64, 80) log-Mel images."""
    try:
        from skasc.features import LogMelExtractor

        return LogMelExtractor(sr=SR).fit_transform(segments[None])[0]
    except ImportError:
        import librosa

        S = librosa.feature.melspectrogram(y=segments, sr=SR, n_fft=1102, hop_length=551,
                                           n_mels=64, fmin=50.0, center=False)
        S = np.pad(S, [(0, 0)] * 3 + [(0, max(0, 80 - S.shape[-1]))])[..., :80]
        return np.log(S + 1e-6).astype(np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=DEFAULT)
    parser.add_argument("--out", default="attention.png")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)
    folder = os.path.abspath(args.folder)
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.endswith(".wav")) if os.path.isdir(folder) else []
    if not paths:
        print(f"No .wav recordings found in {folder}; pass a folder of recordings.")
        return 0

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from skasc.nn import AttCRNNClassifier

    torch.manual_seed(0)
    seg_len = 2 * SR
    X, y = [], []
    for path in paths:
        signal = two_channels(load(path))
        n_seg = signal.shape[1] // seg_len
        segs = signal[:, :n_seg * seg_len].reshape(2, n_seg, seg_len).transpose(1, 0, 2)
        X.append(log_mel(np.ascontiguousarray(segs)))
        y += [os.path.splitext(os.path.basename(path))[0]] * n_seg
    X = np.concatenate(X).astype(np.float32)
    X = (X - X.mean()) / X.std()  # one global standardisation for the small net
    y = np.array(y)
    print(f"{len(paths)} recordings -> X {X.shape}, {len(set(y))} classes")

    t0 = time.perf_counter()
    clf = AttCRNNClassifier(module__n_filters=(16, 32, 64), module__hidden_size=32,
                            module__attention_size=16, lr=3e-3, batch_size=25,
                            max_epochs=args.epochs, random_state=0, verbose=0)
    clf.fit(X, y)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - t0:.1f} s; "
          f"final KL {clf.history[-1, 'train_loss']:.3f}; "
          f"training accuracy {clf.score(X, y):.2f}")

    i = int(np.flatnonzero(y == y[0])[1]) if (y == y[0]).sum() > 1 else 0
    maps = clf.attention_maps(X[i:i + 1])
    with torch.no_grad():  # how saturated is the temporal scorer's tanh (eq. 6)?
        module = clf.module_.eval()
        hidden = module.pooling.temporal_hidden(module._sequence(torch.from_numpy(X[i:i + 1])))
    print(f"temporal scorer: {float((hidden.abs() > 3).float().mean()):.0%} of tanh inputs "
          f"beyond +-3 (saturated units give every frame the same score)")
    a_tem, mask = maps["temporal"][0], maps["mask"][0]
    fig, axes = plt.subplots(2, 1, figsize=(8, 7), constrained_layout=True)
    ax = axes[0]
    ax.imshow(X[i, 0], origin="lower", aspect="auto", cmap="magma")
    ax.set(title=f"log-Mel, segment {i} ({y[i]}); line: temporal attention a_tem",
           xlabel="frame", ylabel="Mel band")
    twin = ax.twinx()
    twin.plot(a_tem, color="cyan", lw=2)
    twin.set_ylabel("a_tem")
    print(f"segment {i}: a_tem in [{a_tem.min():.4f}, {a_tem.max():.4f}] "
          f"(uniform = {1 / len(a_tem):.4f}); a_spa in [{maps['spatial'][0].min():.4f}, "
          f"{maps['spatial'][0].max():.4f}]")
    im = axes[1].imshow(mask, origin="lower", aspect="auto", cmap="viridis")
    axes[1].set(title="spatio-temporal mask A = a_spa (x) a_tem", xlabel="frame",
                ylabel="feature (2H)")
    fig.colorbar(im, ax=axes[1])
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
