"""Training and inference speed of AttCRNNClassifier against a hand-written PyTorch loop.

Both train the same module (:class:`skasc.nn.AttCRNN`, the paper's configuration:
2 x 64 x 80 inputs, 19 classes, 894 675 parameters) for one epoch on the same
synthetic segments, with the same work per mini-batch:

* mini-batches of 100 shuffled segments, between-class mixing of each batch on the
  CPU (:func:`skasc.nn.mix_between_class`, as skasc's training iterator does),
* KL-divergence loss on ``log_softmax`` of the logits, Adam (lr 1e-4),
* bf16 autocast on CUDA (``mixed_precision=True``); float32 on the CPU.

The hand-written loop keeps the segments in a pinned CPU tensor and copies each
mixed batch with ``non_blocking=True``; skorch goes through its DataLoader. Each
side gets a warm-up (cuDNN autotuning, allocator) before the timed epoch.
Inference is ``predict_proba`` against ``module.eval()`` under ``no_grad`` in slices
of 512 segments. Goal on one H100: <= 3 s per epoch of 36 000 segments and
skasc >= 0.9x the hand-written loop.

The timed epoch is the epoch loop alone (skorch's ``dur`` of the epoch, from
``on_epoch_begin`` to ``on_epoch_end``), not ``partial_fit``'s input checks.

``--host-overhead`` measures what skasc adds per training step on the host: both
sides train a trivial module (one linear layer on the mean of each segment), so
the step is almost all data handling and dispatch; skasc runs once through its
DataLoader path (forced) and once with the training data resident on the device
(``DeviceBatches`` with reused buffers: what CUDA fits use, and CPU fits whose
``X`` is float32 and C-contiguous). Goal: <= 1 ms per step on the project's
2-core machine.

Usage::

    python benchmarks/gpu.py                      # 36 000 segments on CUDA, 1 000 on CPU
    python benchmarks/gpu.py --n-segments 300     # a quick check on a CPU
    python benchmarks/gpu.py --host-overhead      # host microseconds per step, trivial module
    python benchmarks/gpu.py --compile            # skasc with torch.compile of conv + attention
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from skasc.nn import AttCRNN, AttCRNNClassifier, mix_between_class

N_CLASSES = 19
SHAPE = (2, 64, 80)
BATCH = 100
PREDICT_BATCH = 512
LR = 1e-4


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES  # every class in any prefix of >= 19 segments
    X = rng.standard_normal((n,) + SHAPE, dtype=np.float32)
    X += y[:, None, None, None].astype(np.float32) / N_CLASSES  # something to learn
    return X, y


def _autocast(device: str, mixed: bool):
    if mixed and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _module_params(tiny: bool) -> dict:
    if tiny:
        return {"n_filters": (4, 8, 8), "hidden_size": 8, "attention_size": 8}
    return {}


# ----------------------------------------------------------------------------
# skasc
# ----------------------------------------------------------------------------


def time_skasc(
    X, y, *, device: str, mixed: bool, tiny: bool, n_warmup: int, compile: bool = False
) -> dict:
    net = AttCRNNClassifier(
        compile=compile,
        max_epochs=1,
        lr=LR,
        batch_size=BATCH,
        predict_batch_size=PREDICT_BATCH,
        between_class=True,
        mixed_precision=mixed,
        device="auto",
        random_state=0,
        verbose=0,
        iterator_train__pin_memory=device.startswith("cuda"),  # the documented GPU path
        **{f"module__{k}": v for k, v in _module_params(tiny).items()},
    )
    net.fit(X[:n_warmup], y[:n_warmup])  # warm-up: initialisation, cuDNN, allocator
    net.predict_proba(X[:n_warmup])
    _sync(device)
    t0 = time.perf_counter()
    net.partial_fit(X, y)  # one epoch on the same (initialised) network
    _sync(device)
    epoch = net.history[-1, "dur"]  # the epoch loop only (partial_fit also checks X)
    t0 = time.perf_counter()
    net.predict_proba(X)
    _sync(device)
    infer = time.perf_counter() - t0
    return {
        "epoch_s": epoch,
        "infer_s": infer,
        "history_dur_s": net.history[-1, "dur"],
        "device": net.device,
    }


# ----------------------------------------------------------------------------
# hand-written loop
# ----------------------------------------------------------------------------


def _epoch(
    module,
    optimizer,
    X_cpu: torch.Tensor,
    y: np.ndarray,
    *,
    device: str,
    mixed: bool,
    rng: np.random.Generator,
    generator: torch.Generator,
) -> float:
    module.train()
    order = torch.randperm(len(y), generator=generator).numpy()
    X_np = X_cpu.numpy()
    total = 0.0
    for start in range(0, len(order), BATCH):
        idx = np.sort(order[start : start + BATCH])
        xb, yb, _, _ = mix_between_class(X_np[idx], y[idx], N_CLASSES, rng)
        xb = torch.from_numpy(xb)
        yb = torch.from_numpy(yb)
        if device.startswith("cuda"):
            xb, yb = xb.pin_memory(), yb.pin_memory()
        xb = xb.to(device, non_blocking=True)
        yb = yb.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, mixed):
            logits = module(xb)
        loss = torch.nn.functional.kl_div(
            torch.log_softmax(logits.float(), dim=1), yb, reduction="batchmean"
        )
        loss.backward()
        optimizer.step()
        total += loss.detach()
    return float(total)


def _predict(module, X_cpu: torch.Tensor, *, device: str, mixed: bool) -> np.ndarray:
    module.eval()
    out = []
    with torch.no_grad(), _autocast(device, mixed):
        for start in range(0, len(X_cpu), PREDICT_BATCH):
            xb = X_cpu[start : start + PREDICT_BATCH].to(device, non_blocking=True)
            out.append(torch.softmax(module(xb).float(), dim=1).cpu())
    return torch.cat(out).numpy()


def time_hand(X, y, *, device: str, mixed: bool, tiny: bool, n_warmup: int) -> dict:
    torch.manual_seed(0)
    module = AttCRNN(
        n_channels=SHAPE[0],
        n_bands=SHAPE[1],
        n_frames=SHAPE[2],
        n_classes=N_CLASSES,
        **_module_params(tiny),
    ).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    X_cpu = torch.from_numpy(X)
    if device.startswith("cuda"):
        X_cpu = X_cpu.pin_memory()
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    kwargs = {"device": device, "mixed": mixed, "rng": rng, "generator": generator}
    _epoch(module, optimizer, X_cpu[:n_warmup], y[:n_warmup], **kwargs)  # warm-up
    _predict(module, X_cpu[:n_warmup], device=device, mixed=mixed)
    _sync(device)
    t0 = time.perf_counter()
    _epoch(module, optimizer, X_cpu, y, **kwargs)
    _sync(device)
    epoch = time.perf_counter() - t0
    t0 = time.perf_counter()
    _predict(module, X_cpu, device=device, mixed=mixed)
    _sync(device)
    return {"epoch_s": epoch, "infer_s": time.perf_counter() - t0}


class Trivial(torch.nn.Module):
    """A module with almost no compute: the step is data handling and dispatch."""

    def __init__(self, n_channels=2, n_bands=64, n_frames=80, n_classes=N_CLASSES, **kwargs):
        super().__init__()
        self.n_channels, self.n_bands, self.n_frames = n_channels, n_bands, n_frames
        self.n_classes = n_classes
        self.linear = torch.nn.Linear(n_channels, n_classes)

    def embed(self, X):
        return X.mean(dim=(2, 3))

    def forward(self, X, **kwargs):
        return self.linear(self.embed(X))


def host_overhead(X, y, *, device: str, repeats: int) -> list[tuple[str, float]]:
    """Microseconds per training step of a trivial module: hand loop, skasc's
    DataLoader path, skasc with the data on the device."""
    from skasc.nn.classifier import SegmentNetClassifier

    steps = -(-len(y) // BATCH)
    rows = []
    module = Trivial().to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    X_cpu = torch.from_numpy(X)
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        _epoch(
            module, optimizer, X_cpu, y, device=device, mixed=False, rng=rng, generator=generator
        )
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    rows.append(("hand-written loop (numpy mixing)", best / steps * 1e6))
    for name, resident in (("skasc, DataLoader path", False), ("skasc, in-memory batches", True)):
        old = SegmentNetClassifier._device_data_on_cpu
        SegmentNetClassifier._device_data_on_cpu = resident
        try:
            net = AttCRNNClassifier(
                module=Trivial,
                max_epochs=1,
                lr=LR,
                batch_size=BATCH,
                device=device,
                random_state=0,
                verbose=0,
            )
            net.fit(X, y)
            durs = []
            for _ in range(repeats):
                net.partial_fit(X, y)
                durs.append(net.history[-1, "dur"])
        finally:
            SegmentNetClassifier._device_data_on_cpu = old
        rows.append((name, min(durs) / steps * 1e6))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n-segments",
        type=int,
        default=None,
        help="segments per epoch (default 36000 on CUDA, 1000 on CPU)",
    )
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--no-mixed-precision", action="store_true", help="float32 on CUDA too")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a tiny network (4/8/8 filters, H=8), to check the script runs",
    )
    parser.add_argument("--n-warmup", type=int, default=500, help="warm-up segments (500)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (torch.set_num_threads); 1 avoids the "
        "slow-down of busy-waiting threads on a shared machine",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="time each side this many times, report the best"
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="skasc side with compile=True (conv block and attention "
        "compiled; the warm-up epoch pays the compilation)",
    )
    parser.add_argument(
        "--host-overhead",
        action="store_true",
        help="host microseconds per step with a trivial module (see above)",
    )
    args = parser.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("CUDA is not available on this machine")
    n = args.n_segments or (36_000 if device.startswith("cuda") else 1_000)
    mixed = device.startswith("cuda") and not args.no_mixed_precision
    n_warmup = min(args.n_warmup, n)
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        torch.backends.cudnn.benchmark = True
    else:
        name = f"CPU ({torch.get_num_threads()} torch threads)"
    X, y = _data(n)
    print(
        f"device: {name}; {n} segments of {SHAPE}, {N_CLASSES} classes, batch {BATCH}, "
        f"BC mixing on, mixed precision {'bf16' if mixed else 'off'}"
        f"{', tiny network' if args.tiny else ''}"
    )

    if args.host_overhead:
        rows = host_overhead(X, y, device=device, repeats=max(args.repeats, 3))
        print(
            f"host time per training step (batch {BATCH}, {len(rows) and -(-n // BATCH)} "
            "steps, trivial module):"
        )
        for label, micros in rows:
            print(f"  {label:<34} {micros:8.0f} us/step ({micros / rows[0][1]:.2f}x hand)")
        print("goal: <= 1000 us/step on the project's 2-core machine")
        return 0
    kwargs = {"device": device, "mixed": mixed, "tiny": args.tiny, "n_warmup": n_warmup}
    skasc_kwargs = {**kwargs, "compile": args.compile}
    if device != "cpu" and not device.startswith("cuda"):
        parser.error("--device must be cpu or cuda[:k]")
    if device.startswith("cuda") and device != "cuda":
        torch.cuda.set_device(torch.device(device))  # device="auto" uses the current one
    sk = min(
        (time_skasc(X, y, **skasc_kwargs) for _ in range(args.repeats)), key=lambda r: r["epoch_s"]
    )
    hand = min((time_hand(X, y, **kwargs) for _ in range(args.repeats)), key=lambda r: r["epoch_s"])

    steps = -(-n // BATCH)
    rows = [("", "skasc (skorch)", "hand-written", "skasc / hand speed")]
    rows.append(
        (
            "train: s/epoch",
            f"{sk['epoch_s']:.2f}",
            f"{hand['epoch_s']:.2f}",
            f"{hand['epoch_s'] / sk['epoch_s']:.2f}x",
        )
    )
    rows.append(
        ("train: segments/s", f"{n / sk['epoch_s']:,.0f}", f"{n / hand['epoch_s']:,.0f}", "")
    )
    rows.append(
        (
            "train: ms/step",
            f"{sk['epoch_s'] / steps * 1e3:.2f}",
            f"{hand['epoch_s'] / steps * 1e3:.2f}",
            "",
        )
    )
    rows.append(
        (
            "inference: segments/s",
            f"{n / sk['infer_s']:,.0f}",
            f"{n / hand['infer_s']:,.0f}",
            f"{hand['infer_s'] / sk['infer_s']:.2f}x",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(
                f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths))
            )
        )
    if n != 36_000:
        print(
            f"36 000 segments extrapolated: {sk['epoch_s'] * 36_000 / n:.1f} s/epoch (skasc), "
            f"{hand['epoch_s'] * 36_000 / n:.1f} s/epoch (hand-written)"
        )
    print(
        f"goal on one H100: <= 3 s/epoch for 36 000 segments, skasc >= 0.9x hand-written "
        f"(skorch history 'dur' of the timed epoch: {sk['history_dur_s']:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
