"""Interrupted training resumes exactly (checkpoint_dir, skasc.nn.checkpoint)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skasc.nn import AttCRNNClassifier, CNNBaselineClassifier
from skasc.nn import checkpoint as ckpt
from test_pipelines import TINY_NET

torch.set_num_threads(1)

TINY = dict(TINY_NET, batch_size=10)
ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from skasc.nn import AttCRNNClassifier

    checkpoint_dir, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    X = rng.normal(size=(60, 2, 64, 8)).astype(np.float32) + y[:, None, None, None]
    clf = AttCRNNClassifier(module__n_filters=(4, 8, 8), module__hidden_size=8,
                            module__attention_size=8, max_epochs=8, lr=1e-2, batch_size=10,
                            random_state=0, device="cpu", verbose=0,
                            checkpoint_dir=checkpoint_dir)
    clf.fit(X, np.array(["bus", "park", "street"])[y])
    torch.save(clf.module_.state_dict(), out + ".pt")
    with open(out + ".json", "w") as fh:
        json.dump({"resumed_from_epoch": clf.resumed_from_epoch_,
                   "train_loss": clf.history[:, "train_loss"],
                   "epochs": clf.history[:, "epoch"]}, fh)
""")


def make_data(n=60, seed=0, shift=1.0):
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % 3
    X = rng.normal(size=(n, 2, 64, 8)).astype(np.float32)
    X += (shift * codes)[:, None, None, None].astype(np.float32)
    return X, np.array(["bus", "park", "street"])[codes]


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def run_script(script, checkpoint_dir, out, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, str(script), str(checkpoint_dir), str(out)],
        env=env,
        cwd=str(ROOT),
        **kwargs,
    )


def test_sigkill_at_random_moment_then_rerun_matches_uninterrupted(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    # reference: the same command, uninterrupted, in its own checkpoint directory
    ref = run_script(script, tmp_path / "ref_ckpt", tmp_path / "ref")
    assert ref.wait(timeout=120) == 0

    ckpt_dir = tmp_path / "ckpt"
    proc = run_script(script, ckpt_dir, tmp_path / "killed")
    deadline = time.monotonic() + 60
    while not list(ckpt_dir.glob("*/checkpoint.pt")):  # one epoch has completed
        assert proc.poll() is None, "training finished before the first checkpoint was seen"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(np.random.default_rng(6).uniform(0.0, 0.4))  # a "random" moment, fixed seed
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not (tmp_path / "killed.pt").exists()
    (path,) = ckpt_dir.glob("*/checkpoint.pt")
    saved_epoch = torch.load(path, weights_only=True)["epoch"]
    assert 1 <= saved_epoch < 8

    rerun = run_script(script, ckpt_dir, tmp_path / "resumed")
    assert rerun.wait(timeout=120) == 0
    info = json.loads((tmp_path / "resumed.json").read_text())
    reference = json.loads((tmp_path / "ref.json").read_text())
    assert info["resumed_from_epoch"] == saved_epoch
    assert reference["resumed_from_epoch"] == 0
    assert info["epochs"] == list(range(1, 9))  # 8 in total, not 8 more
    assert info["train_loss"] == reference["train_loss"]
    assert_same_weights(
        torch.load(tmp_path / "resumed.pt", weights_only=True),
        torch.load(tmp_path / "ref.pt", weights_only=True),
    )
    assert not list(ckpt_dir.glob("*/*.tmp"))


def test_crash_between_write_and_rename_keeps_previous_checkpoint(tmp_path, monkeypatch):
    X, y = make_data()
    reference = AttCRNNClassifier(**TINY, max_epochs=4).fit(X, y)  # no checkpoints at all

    real_replace = os.replace
    calls = []

    def crash_on_third(src, dst):
        calls.append(src)
        if len(calls) == 3:
            raise OSError("simulated crash before the rename")
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", crash_on_third)
    clf = AttCRNNClassifier(**TINY, max_epochs=4, checkpoint_dir=tmp_path)
    with pytest.raises(OSError, match="simulated crash"):
        clf.fit(X, y)
    monkeypatch.setattr(ckpt.os, "replace", real_replace)
    directory = Path(clf.checkpoint_path_).parent
    assert sorted(p.name for p in directory.iterdir()) == ["checkpoint.pt", "history.jsonl"]
    state = torch.load(clf.checkpoint_path_, weights_only=True)  # loadable, plain data
    assert state["epoch"] == 2 and "history" not in state
    # epoch 3's row was appended before its checkpoint failed: resuming cuts it off
    assert len((directory / "history.jsonl").read_text().splitlines()) == 3

    # a temporary left by a process killed mid-write is ignored and deleted
    (directory / ".checkpoint.pt.999.tmp").write_bytes(b"half a file")
    resumed = AttCRNNClassifier(**TINY, max_epochs=4, checkpoint_dir=tmp_path).fit(X, y)
    assert resumed.resumed_from_epoch_ == 2
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    assert not (directory / ".checkpoint.pt.999.tmp").exists()
    rows = [json.loads(line) for line in (directory / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    assert rows == json.loads(json.dumps(resumed.history.to_list()))
    assert_same_weights(resumed.module_.state_dict(), reference.module_.state_dict())
    ref_opt = reference.optimizer_.state_dict()["state"]
    for index, entry in resumed.optimizer_.state_dict()["state"].items():
        for name, value in entry.items():
            assert torch.equal(value, ref_opt[index][name]), (index, name)

    # a finished fit rerun loads the last checkpoint and trains no more epochs
    again = AttCRNNClassifier(**TINY, max_epochs=4, checkpoint_dir=tmp_path).fit(X, y)
    assert again.resumed_from_epoch_ == 4 and len(again.history) == 4
    assert_same_weights(again.module_.state_dict(), reference.module_.state_dict())


def test_different_fits_never_share_a_checkpoint(tmp_path):
    X, y = make_data()
    X2, y2 = make_data(seed=1)
    first = CNNBaselineClassifier(
        module__n_filters=(4, 8, 8),
        lr=1e-2,
        batch_size=10,
        random_state=0,
        device="cpu",
        verbose=0,
        max_epochs=2,
        checkpoint_dir=tmp_path,
    ).fit(X, y)
    other_y = CNNBaselineClassifier(**first.get_params()).fit(X, y[::-1])
    other_X = CNNBaselineClassifier(**first.get_params()).fit(X2, y)
    other_lr = CNNBaselineClassifier(**dict(first.get_params(), lr=5e-3)).fit(X, y)
    for net in (other_y, other_X, other_lr):
        assert net.resumed_from_epoch_ == 0
    paths = {net.checkpoint_path_ for net in (first, other_y, other_X, other_lr)}
    assert len(paths) == 4 and all(Path(p).parent.parent == tmp_path for p in paths)
    # not part of the key: verbosity and the device setting; the same fit resumes
    same = CNNBaselineClassifier(**dict(first.get_params(), verbose=1, device="auto"))
    same.set_params(verbose=0).fit(X, y)
    assert same.checkpoint_path_ == first.checkpoint_path_ and same.resumed_from_epoch_ == 2
    assert ckpt.fit_key(first, X, y) != ckpt.fit_key(first, X, y[::-1])


def test_checkpoint_from_another_fit_is_refused(tmp_path):
    X, y = make_data()
    a = AttCRNNClassifier(**TINY, max_epochs=1, checkpoint_dir=tmp_path).fit(X, y)
    b = AttCRNNClassifier(**TINY, max_epochs=1, checkpoint_dir=tmp_path).fit(X, y[::-1])
    # a file copied by hand into another fit's directory is not loaded
    os.replace(a.checkpoint_path_, b.checkpoint_path_)
    with pytest.raises(ckpt.CheckpointError, match="belongs to fit .*moved or copied by hand"):
        AttCRNNClassifier(**TINY, max_epochs=1, checkpoint_dir=tmp_path).fit(X, y[::-1])
    Path(b.checkpoint_path_).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="Cannot read the checkpoint .*delete it"):
        AttCRNNClassifier(**TINY, max_epochs=1, checkpoint_dir=tmp_path).fit(X, y[::-1])


def test_checkpoint_dir_parameter(tmp_path):
    clf = AttCRNNClassifier(checkpoint_dir=tmp_path)
    assert clf.get_params()["checkpoint_dir"] == tmp_path
    assert AttCRNNClassifier().get_params()["checkpoint_dir"] is None
    assert clone(clf).get_params()["checkpoint_dir"] == tmp_path
    assert clone(clf.set_params(checkpoint_dir="x")).checkpoint_dir == "x"
    X, y = make_data(n=9)
    with pytest.raises(
        TypeError,
        match=r"The 'checkpoint_dir' parameter of AttCRNNClassifier "
        r"must be a str, a path-like object or None. Got 3 "
        r"instead",
    ):
        AttCRNNClassifier(**TINY, checkpoint_dir=3).fit(X, y)


def test_partial_fit_and_no_checkpoint_dir_write_nothing(tmp_path):
    X, y = make_data(n=30)
    clf = AttCRNNClassifier(**TINY, max_epochs=1)
    clf.fit(X, y)
    assert not hasattr(clf, "checkpoint_path_")
    assert "epoch_checkpoint" not in dict(clf.callbacks_)
    with_dir = AttCRNNClassifier(**TINY, max_epochs=1, checkpoint_dir=tmp_path).fit(X, y)
    before = Path(with_dir.checkpoint_path_).read_bytes()
    with_dir.partial_fit(X, y)  # continues training; the fit's checkpoint is untouched
    assert len(with_dir.history) == 2
    assert Path(with_dir.checkpoint_path_).read_bytes() == before


def test_checkpoint_bytes_per_epoch_do_not_grow_and_load_on_the_cpu(tmp_path, monkeypatch):
    from skorch.callbacks import Callback

    sizes = []

    class Sizes(Callback):  # runs before the checkpoint of its epoch: read the previous one
        def on_epoch_end(self, net, **kwargs):
            d = Path(net.checkpoint_path_).parent
            sizes.append(
                tuple(
                    os.path.getsize(d / n) if (d / n).exists() else 0
                    for n in ("checkpoint.pt", "history.jsonl")
                )
            )

    X, y = make_data()
    clf = AttCRNNClassifier(
        **TINY, max_epochs=9, checkpoint_dir=tmp_path, callbacks=[("sizes", Sizes())]
    ).fit(X, y)
    directory = Path(clf.checkpoint_path_).parent
    sizes.append(
        (os.path.getsize(directory / "checkpoint.pt"), os.path.getsize(directory / "history.jsonl"))
    )
    sizes = sizes[1:]  # after epochs 1 ... 9
    checkpoint = [c for c, _ in sizes]
    appended = np.diff([h for _, h in sizes])
    # the state is the same size every epoch; the history grows by one epoch's row
    assert max(checkpoint) - min(checkpoint) <= 64
    assert appended.max() <= 1.2 * appended.min()
    assert appended.mean() < 0.2 * checkpoint[0] + 5000

    seen = []
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("map_location"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(ckpt.torch, "load", spy)
    again = AttCRNNClassifier(**TINY, max_epochs=9, checkpoint_dir=tmp_path).fit(X, y)
    assert seen == ["cpu"] and again.resumed_from_epoch_ == 9
    steps = [entry["step"] for entry in again.optimizer_.state_dict()["state"].values()]
    assert steps and all(s.device.type == "cpu" for s in steps)


def test_a_killed_first_epoch_leaves_no_stale_history(tmp_path):
    X, y = make_data()
    clf = AttCRNNClassifier(**TINY, max_epochs=2, checkpoint_dir=tmp_path).fit(X, y)
    directory = Path(clf.checkpoint_path_).parent
    os.remove(directory / "checkpoint.pt")  # as if killed before the first rename
    again = AttCRNNClassifier(**TINY, max_epochs=2, checkpoint_dir=tmp_path).fit(X, y)
    assert again.resumed_from_epoch_ == 0
    rows = (directory / "history.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [1, 2]


def test_resume_keeps_this_runs_optimizer_flags(tmp_path, monkeypatch):
    # a checkpoint of a CUDA run (fused Adam, chosen by the device, not in the fit key)
    # resumed on the CPU steps with the CPU's plain Adam, not the saved run's flags
    from skorch.callbacks import Callback

    import skasc.nn.classifier as classifier

    class StopAtEpoch2(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

    X, y = make_data()
    real = classifier._optimizer_kwargs
    monkeypatch.setattr(
        classifier, "_optimizer_kwargs", lambda opt, kwargs, device: {**kwargs, "fused": True}
    )
    with pytest.raises(KeyboardInterrupt):
        AttCRNNClassifier(
            **TINY, max_epochs=3, checkpoint_dir=tmp_path, callbacks=[("stop", StopAtEpoch2())]
        ).fit(X, y)
    monkeypatch.setattr(classifier, "_optimizer_kwargs", real)
    resumed = AttCRNNClassifier(**TINY, max_epochs=3, checkpoint_dir=tmp_path).fit(X, y)
    assert resumed.resumed_from_epoch_ == 1
    assert not resumed.optimizer_.param_groups[0].get("fused")
    assert len(resumed.history) == 3


def test_a_failed_fit_leaves_no_checkpoint_target_behind(tmp_path):
    """After a fit that failed mid-epoch, partial_fit writes nothing into its folder."""
    from skorch.callbacks import Callback

    failures = []

    class FailOnce(Callback):  # before the checkpoint callback: epoch 1 is not saved
        def on_epoch_end(self, net, **kwargs):
            if not failures:
                failures.append(len(net.history))
                raise RuntimeError("the first epoch fails")

    X, y = make_data()
    clf = AttCRNNClassifier(
        **TINY, max_epochs=2, checkpoint_dir=tmp_path, callbacks=[("fail", FailOnce())]
    )
    with pytest.raises(RuntimeError, match="first epoch fails"):
        clf.fit(X, y)
    folder = Path(clf.checkpoint_path_).parent
    assert failures == [1] and os.listdir(folder) == []
    clf.partial_fit(X, y)  # trains 2 more epochs: none is the fit's to save
    assert len(clf.history) == 3 and os.listdir(folder) == []
