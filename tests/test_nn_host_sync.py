"""The training loop's host round trips, counted on the CPU.

On a GPU, ``tensor.item()``, ``.tolist()``, ``.cpu()``, ``float(tensor)`` and a
blocking ``.to(device)`` make the host wait for the device.  A
``TorchFunctionMode`` sees every such call; these tests count the ones that
skorch's and skasc's own code makes while ``fit`` runs (torch's optimiser is the
same for any training loop and is left out), so the count can be checked
without a GPU.  The CUDA test at the end checks the same with torch's sync
debug mode, on a machine that has one.
"""

import sys
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from skorch.net import NeuralNet
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from skasc.nn import AttCRNNClassifier
from test_pipelines import TINY_NET

torch.set_num_threads(1)

TINY = TINY_NET
READS = {
    torch.Tensor.item,
    torch.Tensor.tolist,
    torch.Tensor.cpu,
    torch.Tensor.numpy,
    torch.Tensor.__float__,
    torch.Tensor.__int__,
    torch.Tensor.__bool__,
}


class HostReads(TorchFunctionMode):
    """Records device-to-host reads made by skorch or skasc code, and whether the
    first move of each tensor to a device (the host-to-device copy on a GPU; later
    moves of the same tensor are no-ops there) is asynchronous."""

    def __init__(self):
        super().__init__()
        self.reads = []
        self.first_moves = {}  # id(tensor) -> (tensor, caller, non_blocking)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.split(".")[0] in ("skorch", "skasc"):
            if func in READS:
                self.reads.append((caller, func.__name__))
            elif func is torch.Tensor.to and self._to_device(args, kwargs):
                tensor = args[0]  # kept alive, so that its id is not reused
                self.first_moves.setdefault(
                    id(tensor), (tensor, caller, kwargs.get("non_blocking", False))
                )
        return func(*args, **kwargs)

    @staticmethod
    def _to_device(args, kwargs) -> bool:
        return "device" in kwargs or any(isinstance(a, (str, torch.device)) for a in args[1:])

    @property
    def blocking_copies(self) -> list:
        return [caller for _, caller, non_blocking in self.first_moves.values() if not non_blocking]


def data(n):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2, 64, 8)).astype(np.float32)
    return X, np.arange(n) % 3


class StockEpochLoop(AttCRNNClassifier):
    """The same estimator with skorch's own epoch loop (a ``loss.item()`` per batch)."""

    run_single_epoch = NeuralNet.run_single_epoch


def count_reads(cls, n_segments):
    X, y = data(n_segments)
    with HostReads() as mode:
        cls(max_epochs=1, batch_size=10, **TINY).fit(X, y)
    return mode


@pytest.fixture
def dataloader_path(monkeypatch):
    """The DataLoader path, which CUDA fits take for data too large for the device.
    (The in-memory path reads its host-side permutation with ``.numpy()``, which this
    mode cannot tell from a device read; the dispatch-level counts below cover it.)"""
    from skasc.nn.classifier import SegmentNetClassifier

    monkeypatch.setattr(SegmentNetClassifier, "_device_data_on_cpu", False)


@pytest.mark.usefixtures("dataloader_path")
def test_reads_per_epoch_do_not_grow_with_the_number_of_batches():
    few = count_reads(AttCRNNClassifier, 30)  # 3 batches
    many = count_reads(AttCRNNClassifier, 120)  # 12 batches
    assert len(many.reads) == len(few.reads) <= 2, many.reads
    assert many.blocking_copies == [], many.blocking_copies
    assert len(many.first_moves) == 24  # X and y of 12 batches
    # the check can fail: skorch's loop reads once per batch
    stock_few = count_reads(StockEpochLoop, 30)
    stock_many = count_reads(StockEpochLoop, 120)
    assert len(stock_many.reads) - len(stock_few.reads) == 9


def test_history_equals_skorch_loop():
    X, y = data(60)
    ours = AttCRNNClassifier(max_epochs=3, batch_size=10, **TINY).fit(X, y)
    stock = StockEpochLoop(max_epochs=3, batch_size=10, **TINY).fit(X, y)
    for key in ("train_loss", "train_batch_size"):
        got = ours.history[:, "batches", :, key]
        want = stock.history[:, "batches", :, key]
        assert got == want  # floats equal: the same computation, read later
        assert all(type(v) in (float, int) for epoch in got for v in epoch)
    assert ours.history[:, "train_loss"] == stock.history[:, "train_loss"]
    assert ours.history[:, "train_batch_count"] == [6, 6, 6]
    for a, b in zip(ours.module_.parameters(), stock.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_validation_losses_are_floats_per_batch():
    X, y = data(60)
    net = AttCRNNClassifier(
        max_epochs=2,
        batch_size=10,
        predict_batch_size=7,
        train_split=predefined_split(Dataset(X[:20], y[:20])),
        **TINY,
    ).fit(X, y)
    valid = net.history[-1, "batches", :, "valid_loss"]
    assert len(valid) == 3 and all(type(v) is float for v in valid)  # 20 segments / 7
    sizes = net.history[-1, "batches", :, "valid_batch_size"]
    expected = np.average(valid, weights=sizes)
    assert net.history[-1, "valid_loss"] == pytest.approx(expected)


def test_progress_bar_shows_float_losses_per_batch():
    seen = []

    class Spy(ProgressBar):
        def on_batch_end(self, net, **kwargs):
            seen.append(net.history[-1, "batches", -1, "train_loss"])
            super().on_batch_end(net, **kwargs)

    X, y = data(30)
    AttCRNNClassifier(max_epochs=1, batch_size=10, callbacks=[Spy()], **TINY).fit(X, y)
    assert len(seen) == 3 and all(type(v) is float for v in seen)


def test_interrupted_epoch_leaves_floats_in_history():
    X, y = data(40)

    class Stop(RuntimeError):
        pass

    class StopAtThirdBatch(Callback):
        def on_batch_end(self, net, **kwargs):
            if len(net.history[-1, "batches"]) == 3:
                raise Stop

    net = AttCRNNClassifier(max_epochs=1, batch_size=10, callbacks=[StopAtThirdBatch()], **TINY)
    with pytest.raises(Stop):
        net.fit(X, y)
    losses = net.history[-1, "batches", :, "train_loss"]
    assert len(losses) == 3 and all(type(v) is float and np.isfinite(v) for v in losses)


def test_bf16_autocast_path_on_cpu(monkeypatch):
    # The CUDA bf16 path differs from float32 only by the autocast context; run the
    # same code under CPU bf16 autocast to check that losses and outputs come out
    # as finite float32.
    monkeypatch.setattr(
        AttCRNNClassifier, "_autocast", lambda self: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    X, y = data(60)
    X += (y * 2.0)[:, None, None, None].astype(np.float32)
    net = AttCRNNClassifier(max_epochs=6, batch_size=10, **TINY).fit(X, y)
    losses = net.history[:, "train_loss"]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    with torch.no_grad(), net._autocast():
        assert net.module_(torch.from_numpy(X[:2])).dtype == torch.bfloat16  # really bf16
    proba = net.predict_proba(X)
    assert proba.dtype == np.float32 and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    embedding = net.transform(X)
    assert embedding.dtype == np.float32 and np.isfinite(embedding).all()
    assert net.score(X, y) > 0.6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_few_synchronizing_calls_in_a_cuda_training_epoch():
    X, y = data(200)  # 20 batches
    net = AttCRNNClassifier(
        max_epochs=1, batch_size=10, mixed_precision=True, **dict(TINY, device="cuda")
    ).fit(X, y)  # warm-up, initialised
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            net.partial_fit(X, y)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message) for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) < 10, syncs  # skorch's loop alone would make 20


def test_prediction_copies_batches_asynchronously():
    X, y = data(60)
    net = AttCRNNClassifier(max_epochs=1, batch_size=10, predict_batch_size=25, **TINY).fit(X, y)
    with HostReads() as mode:
        proba = net.predict_proba(X)
    assert len(mode.first_moves) == 3 and mode.blocking_copies == []  # 60 / 25
    with torch.no_grad():
        expected = torch.softmax(net.module_.eval()(torch.from_numpy(X)), dim=1).numpy()
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-6)


def test_fused_adam_and_cudnn_autotuning_only_on_cuda():
    from skasc.nn.classifier import _cudnn_autotune, _optimizer_kwargs

    assert _optimizer_kwargs(torch.optim.Adam, {"lr": 1e-3}, "cuda") == {"lr": 1e-3, "fused": True}
    assert _optimizer_kwargs(torch.optim.AdamW, {}, "cuda:1") == {"fused": True}
    assert _optimizer_kwargs(torch.optim.Adam, {"foreach": True}, "cuda") == {"foreach": True}
    assert _optimizer_kwargs(torch.optim.Adam, {"fused": False}, "cuda") == {"fused": False}
    assert _optimizer_kwargs(torch.optim.SGD, {}, "cuda") == {}
    assert _optimizer_kwargs(torch.optim.Adam, {}, "cpu") == {}  # the same numbers as before
    before = torch.backends.cudnn.benchmark
    with _cudnn_autotune("cpu"):
        assert torch.backends.cudnn.benchmark == before
    with _cudnn_autotune("cuda"):  # setting the flag needs no GPU
        assert torch.backends.cudnn.benchmark is True
    assert torch.backends.cudnn.benchmark == before
    # a CPU fit builds the plain Adam, with the lr skorch passes
    X = np.random.default_rng(0).normal(size=(20, 2, 64, 8)).astype(np.float32)
    clf = AttCRNNClassifier(**TINY, max_epochs=1, batch_size=10).fit(X, np.arange(20) % 2)
    group = clf.optimizer_.param_groups[0]
    assert group["lr"] == TINY["lr"] and not group.get("fused")


class DispatchCount(TorchDispatchMode):
    """Counts every aten op, and the ones that make the host wait for the device."""

    SYNCS = {"_local_scalar_dense", "nonzero", "item", "equal", "is_nonzero"}

    def __init__(self):
        super().__init__()
        self.ops = 0
        self.syncs = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        name = func.overloadpacket.__name__
        if name in self.SYNCS:
            self.syncs.append(name)
        elif name == "_to_copy" and (kwargs or {}).get("non_blocking") is False:
            self.syncs.append("blocking copy")
        return func(*args, **(kwargs or {}))


class _StopAtEpoch(Callback):
    """Ctrl-C at the start of epoch ``k`` (the epochs before it are checkpointed)."""

    def __init__(self, k):
        self.k = k

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.k:
            raise KeyboardInterrupt


def _count_per_step(monkeypatch, tmp_path=None, resume=False):
    from skasc.nn.classifier import SegmentNetClassifier

    # what a CUDA fit does: data resident on the device, fused Adam
    monkeypatch.setattr(SegmentNetClassifier, "_device_data_on_cpu", True)
    X, y = data(200)
    counts = []
    for n in (100, 200):  # 10 and 20 steps: the difference is 10 steps' worth
        params = dict(max_epochs=2 if resume else 1, batch_size=10, optimizer__fused=True, **TINY)
        if resume:  # one epoch checkpointed, then a new estimator resumes the second
            params["checkpoint_dir"] = tmp_path / str(n)
            with pytest.raises(KeyboardInterrupt):
                AttCRNNClassifier(**params, callbacks=[("stop", _StopAtEpoch(2))]).fit(X[:n], y[:n])
        net = AttCRNNClassifier(**params)
        with DispatchCount() as mode:
            net.fit(X[:n], y[:n])
        if resume:
            assert net.resumed_from_epoch_ == 1
        counts.append(mode)
    return counts


OPS_PER_STEP = 2000  # tiny net, BC mixing, forward, KL loss, backward, fused Adam: ~1 800


def test_a_training_step_makes_no_host_sync(monkeypatch):
    short, long = _count_per_step(monkeypatch)
    assert len(long.syncs) - len(short.syncs) == 0, long.syncs
    assert (long.ops - short.ops) / 10 <= OPS_PER_STEP


def test_no_host_sync_per_step_after_a_resume(monkeypatch, tmp_path):
    # step counters loaded onto the device cost two syncs per parameter per step
    short, long = _count_per_step(monkeypatch, tmp_path, resume=True)
    assert len(long.syncs) - len(short.syncs) == 0, long.syncs
    assert (long.ops - short.ops) / 10 <= OPS_PER_STEP
