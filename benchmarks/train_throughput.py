"""Training and inference throughput: skasc's AttCRNNClassifier vs a plain torch loop.

Both sides train the same module (the paper's AttCRNN, input 2 x 64 x 80,
batch 100, Adam, lr 1e-4) on the same synthetic segments:

(a) the anchor: a minimal hand-written loop (random permutation, manual
    batching of a float32 tensor, log_softmax + KL loss on one-hot targets);
(b) ``AttCRNNClassifier`` with between-class mixing (skorch's DataLoader
    with BetweenClassCollate, KL loss on soft targets, epoch bookkeeping).

Inference compares a plain ``no_grad`` loop with ``predict_proba``.  One
warm-up epoch (and pass) is run and not timed.  Prints segments/s and the
ratio skasc / plain (goal >= 0.95).

Usage::

    python benchmarks/train_throughput.py --n-segments 600 --epochs 2
    python benchmarks/train_throughput.py --litis   # 36000 segments, s/epoch (GPU)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from skasc.nn import AttCRNN, AttCRNNClassifier


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def plain_train(X, y, n_classes, epochs, device, seed=0):
    torch.manual_seed(seed)
    module = AttCRNN(n_classes=n_classes).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=1e-4)
    Xt = torch.from_numpy(X)
    Y = torch.nn.functional.one_hot(torch.from_numpy(y), n_classes).float()
    g = torch.Generator().manual_seed(seed)
    times = []
    for _epoch in range(epochs + 1):  # epoch 0 is the warm-up
        _sync(device)
        t0 = time.perf_counter()
        module.train()
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(perm), 100):
            idx = perm[i : i + 100]
            xb, yb = Xt[idx].to(device), Y[idx].to(device)
            opt.zero_grad()
            loss = torch.nn.functional.kl_div(
                torch.log_softmax(module(xb), 1), yb, reduction="batchmean"
            )
            loss.backward()
            opt.step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return module, times[1:]


def plain_predict(module, X, device, batch_size=512):
    module.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            out.append(
                torch.softmax(module(torch.from_numpy(X[i : i + batch_size]).to(device)), 1).cpu()
            )
    _sync(device)
    return torch.cat(out).numpy()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-segments", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after 1 warm-up)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-classes", type=int, default=19)
    parser.add_argument(
        "--litis",
        action="store_true",
        help="LITIS Rouen scale: 36000 segments; report seconds per epoch",
    )
    args = parser.parse_args(argv)
    n = 36000 if args.litis else args.n_segments
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2, 64, 80)).astype(np.float32)
    y = np.arange(n) % args.n_classes
    print(
        f"device={device} torch threads={torch.get_num_threads()} segments={n} "
        f"epochs={args.epochs} (+1 warm-up) batch=100"
    )

    module, t_plain = plain_train(X, y, args.n_classes, args.epochs, device)
    clf = AttCRNNClassifier(max_epochs=args.epochs + 1, random_state=0, device=device, verbose=0)
    clf.fit(X, y)
    t_skasc = list(clf.history[1:, "dur"])  # epoch durations from skorch's EpochTimer
    plain_rate = n / np.mean(t_plain)
    skasc_rate = n / np.mean(t_skasc)

    plain_predict(module, X[:512], device)  # warm-up
    t0 = time.perf_counter()
    plain_predict(module, X, device)
    plain_inf = n / (time.perf_counter() - t0)
    clf.predict_proba(X[:512])
    t0 = time.perf_counter()
    clf.predict_proba(X)
    _sync(device)
    skasc_inf = n / (time.perf_counter() - t0)

    print(f"{'':10s}{'plain loop':>14s}{'skasc':>14s}{'ratio':>8s}")
    print(f"{'train':10s}{plain_rate:11.1f} /s{skasc_rate:11.1f} /s{skasc_rate / plain_rate:8.3f}")
    print(f"{'inference':10s}{plain_inf:11.1f} /s{skasc_inf:11.1f} /s{skasc_inf / plain_inf:8.3f}")
    if args.litis:
        print(f"seconds per epoch: plain {np.mean(t_plain):.1f}, skasc {np.mean(t_skasc):.1f}")


if __name__ == "__main__":
    main()
