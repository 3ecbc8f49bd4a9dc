"""Interrupts and long runs: Ctrl-C, diverging losses, untrained nets, torch's global
RNG, skorch's private API, and a demo that can run twice."""

import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import skorch
import torch
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from sklearn import config_context
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from skorch.callbacks import Callback

from skasc.nn import AttCRNNClassifier, CNNBaselineClassifier, _skorch
from skasc.nn.classifier import TrainingDivergedError
from test_pipelines import TINY_NET

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(TINY_NET, batch_size=10)


def make_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % 2
    X = rng.normal(size=(n, 2, 64, 8)).astype(np.float32) + codes[:, None, None, None]
    return X.astype(np.float32), np.array(["bus", "park"])[codes]


class InterruptAt(Callback):
    """Raises KeyboardInterrupt (what Ctrl-C raises) after batch ``batch`` of ``epoch``."""

    def __init__(self, epoch=2, batch=2):
        self.epoch = epoch
        self.batch = batch

    def on_batch_end(self, net, training=False, **kwargs):
        if (
            training
            and len(net.history) == self.epoch
            and len(net.history[-1, "batches"]) == self.batch
        ):
            raise KeyboardInterrupt


class Events(Callback):
    def initialize(self):
        self.seen = []
        return self

    def on_train_begin(self, net, **kwargs):
        self.seen.append("begin")

    def on_train_end(self, net, **kwargs):
        self.seen.append("end")


# ----------------------------------------------------------------------- Ctrl-C
def test_keyboard_interrupt_propagates_out_of_fit_and_no_svm_is_trained():
    X, y = make_data()
    net = AttCRNNClassifier(**TINY, max_epochs=5, callbacks=[InterruptAt(epoch=2)])
    pipe = Pipeline([("net", net), ("svm", LinearSVC())])
    with pytest.raises(KeyboardInterrupt):
        pipe.fit(X, y)
    assert len(net.history) == 2  # stopped inside epoch 2, not run to the end
    assert not hasattr(pipe.named_steps["svm"], "coef_")  # no SVM on a half-trained net
    # the interrupted epoch's losses are host floats, as after a complete epoch
    losses = net.history[-1, "batches", :, "train_loss"]
    assert len(losses) == 2 and all(type(v) is float for v in losses)


def test_keyboard_interrupt_in_partial_fit_propagates():
    X, y = make_data()
    net = AttCRNNClassifier(**TINY, max_epochs=1).fit(X, y)
    net.set_params(callbacks=[InterruptAt(epoch=2, batch=1)])
    net.initialize_callbacks()
    with pytest.raises(KeyboardInterrupt):
        net.partial_fit(X, y)


def test_interrupted_fit_with_checkpoint_dir_resumes_like_the_uninterrupted_one(tmp_path):
    X, y = make_data()
    reference = AttCRNNClassifier(**TINY, max_epochs=4).fit(X, y)
    interrupted = AttCRNNClassifier(
        **TINY, max_epochs=4, checkpoint_dir=tmp_path, callbacks=[InterruptAt(epoch=3)]
    )
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y)
    checkpoint = Path(interrupted.checkpoint_path_)
    saved = checkpoint.read_bytes()
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2  # epochs 1 and 2 done
    # the fit's checkpoint callback was disarmed: continuing by hand writes nothing
    interrupted.set_params(max_epochs=1).partial_fit(X, y)
    assert checkpoint.read_bytes() == saved
    resumed = AttCRNNClassifier(**TINY, max_epochs=4, checkpoint_dir=tmp_path).fit(X, y)
    assert resumed.resumed_from_epoch_ == 2
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    assert resumed.history[:, "train_loss"] == reference.history[:, "train_loss"]
    for name, value in reference.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[name], value), name
    assert checkpoint.read_bytes() != saved  # the rerun went on writing epochs 3 and 4


# ---------------------------------------------------------------- diverging loss
def test_nan_loss_stops_training_naming_the_epoch_and_lr():
    X, y = make_data()
    # (lr=1e6 on these tiny nets gives huge but finite losses; 1e20 overflows at once)
    net = AttCRNNClassifier(**dict(TINY, lr=1e20), max_epochs=20)
    pipe = Pipeline([("net", net), ("svm", LinearSVC())])
    with pytest.raises(
        TrainingDivergedError,
        match=r"The training loss became (nan|inf|-inf) in epoch (\d+) \(batch "
        r"\d+ of 4\): training diverged\. Lower the learning rate "
        r"\(lr=1e\+20\), e\.g\. to lr=1e\+19\.",
    ) as info:
        pipe.fit(X, y)
    epoch = int(re.search(r"in epoch (\d+)", str(info.value)).group(1))
    assert epoch == len(net.history) < 20  # stopped at the first bad epoch
    assert isinstance(info.value, ValueError)
    assert not hasattr(pipe.named_steps["svm"], "coef_")
    # the epochs before it were finite
    for row in net.history[:-1]:
        assert all(np.isfinite(b["train_loss"]) for b in row["batches"])


def test_infinite_loss_is_caught_too(monkeypatch):
    X, y = make_data()
    real = AttCRNNClassifier.get_loss

    def inf_in_epoch_2(self, y_pred, y_true, X=None, training=False):
        loss = real(self, y_pred, y_true, X=X, training=training)
        return loss * float("inf") if training and len(self.history) == 2 else loss

    monkeypatch.setattr(AttCRNNClassifier, "get_loss", inf_in_epoch_2)
    with pytest.raises(TrainingDivergedError, match=r"became inf in epoch 2 \(batch 1 of 4\)"):
        AttCRNNClassifier(**TINY, max_epochs=3).fit(X, y)


def test_diverged_weights_are_named_before_the_svm_sees_nan():
    """Weights (or batch-norm statistics) can go non-finite while the loss read back
    stays finite; the net's outputs are checked on the host, so the pipeline fails
    with the net's error, not scikit-learn's "Input X contains NaN"."""
    X, y = make_data()
    net = AttCRNNClassifier(**TINY, max_epochs=1).fit(X, y)
    with torch.no_grad():
        net.module_.classifier.weight[0, 0] = float("nan")
        net.module_.conv.layers[2].running_mean[1] = float("inf")
    with pytest.raises(
        TrainingDivergedError,
        match=r"gives NaN or infinite features for 40 of "
        r"40 segments .*lower lr \(now 0\.01\)",
    ):
        net.transform(X)
    with pytest.raises(TrainingDivergedError, match=r"NaN or infinite posteriors"):
        net.predict(X)


# ---------------------------------------------------------------- max_epochs=0
def test_max_epochs_0_warns_once_that_the_net_is_untrained():
    X, y = make_data(n=20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = CNNBaselineClassifier(
            module__n_filters=(4, 8, 8), max_epochs=0, random_state=0, device="cpu", verbose=0
        ).fit(X, y)
    untrained = [w for w in caught if "untrained" in str(w.message)]
    assert len(untrained) == 1, [str(w.message) for w in caught]
    assert "CNNBaselineClassifier was fitted with max_epochs=0: the net is untrained" in str(
        untrained[0].message
    )
    assert untrained[0].filename == __file__  # stacklevel points at the caller
    assert len(net.history) == 0
    with warnings.catch_warnings(record=True) as caught:  # trained: no warning
        warnings.simplefilter("always")
        CNNBaselineClassifier(
            module__n_filters=(4, 8, 8), max_epochs=1, random_state=0, device="cpu", verbose=0
        ).fit(X, y)
    assert not [w for w in caught if "untrained" in str(w.message)]


# ---------------------------------------------------------------- between_class
@pytest.mark.parametrize(
    "flag", ["between_class", "standardize_input", "mixed_precision", "progress_bar"]
)
@pytest.mark.parametrize("value", [0, 1, 1.0, np.int64(0)])
def test_boolean_parameters_refuse_numbers(flag, value):
    X, y = make_data(n=20)
    with pytest.raises(
        ValueError,
        match=rf"The '{flag}' parameter of AttCRNNClassifier must "
        rf"be one of {{False, True}}\. Got "
        rf"{re.escape(repr(value))} instead\.",
    ):
        AttCRNNClassifier(**TINY, max_epochs=1, **{flag: value}).fit(X, y)


def test_boolean_parameters_accept_bools():
    X, y = make_data(n=20)
    for value in (False, np.True_):
        net = AttCRNNClassifier(**TINY, max_epochs=1, between_class=value).fit(X, y)
        assert net.between_class is value  # stored verbatim


# ---------------------------------------------------------------- global RNG
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_fit_leaves_torch_global_rng_as_it_was(method):
    X, y = make_data(n=20)
    torch.manual_seed(1234)
    expected = torch.rand(5)  # what the caller's stream gives without any fit
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    getattr(AttCRNNClassifier(**TINY, max_epochs=2), method)(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(torch.rand(5), expected)


def test_rng_restored_after_an_error_too():
    X, y = make_data(n=20)
    torch.manual_seed(99)
    before = torch.get_rng_state()
    with pytest.raises(KeyboardInterrupt):
        AttCRNNClassifier(**TINY, max_epochs=3, callbacks=[InterruptAt(epoch=2, batch=1)]).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)


def test_unseeded_fit_draws_from_the_global_stream():
    # random_state=None: two fits must differ, so the global stream advances as usual
    X, y = make_data(n=20)
    params = dict(TINY, random_state=None)
    torch.manual_seed(5)
    a = AttCRNNClassifier(**params, max_epochs=1).fit(X, y).predict_proba(X)
    b = AttCRNNClassifier(**params, max_epochs=1).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, b)


def test_seeded_fits_are_still_equal_whatever_the_global_state():
    X, y = make_data(n=20)
    torch.manual_seed(1)
    a = AttCRNNClassifier(**TINY, max_epochs=2).fit(X, y)
    torch.manual_seed(2)
    b = AttCRNNClassifier(**TINY, max_epochs=2).fit(X, y)
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]
    for (name, pa), pb in zip(a.module_.named_parameters(), b.module_.parameters()):
        assert torch.equal(pa, pb), name


# ---------------------------------------------------------------- skorch internals
def test_installed_skorch_is_in_the_pinned_and_tested_range():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("skorch")]
    assert pins == [f"skorch{_skorch.TESTED_SKORCH}"]
    assert Version(skorch.__version__) in SpecifierSet(_skorch.TESTED_SKORCH)


def test_skorch_private_api_that_skasc_uses_is_there():
    params = inspect.signature(skorch.NeuralNet.fit_loop).parameters
    assert params["_routing_method"].kind is inspect.Parameter.KEYWORD_ONLY
    X, y = make_data(n=20)
    net = AttCRNNClassifier(**TINY, max_epochs=1).fit(X, y)
    # the overridden _default_callbacks property is what skorch builds callbacks_ from
    assert [name for name, _ in net.callbacks_] == [
        "epoch_timer",
        "train_loss",
        "valid_loss",
        "valid_acc",
        "print_log",
    ]


@pytest.mark.parametrize("routing", [False, True])
def test_train_passes_the_entry_point_to_skorch_routing(monkeypatch, routing):
    X, y = make_data(n=20)
    seen = []
    real = skorch.NeuralNet.fit_loop

    def spy(self, X, y=None, epochs=None, *, _routing_method="fit", **fit_params):
        seen.append(_routing_method)
        return real(self, X, y, epochs=epochs, _routing_method=_routing_method, **fit_params)

    monkeypatch.setattr(skorch.NeuralNet, "fit_loop", spy)
    with config_context(enable_metadata_routing=routing):
        net = AttCRNNClassifier(**TINY, max_epochs=1).fit(X, y)
        net.partial_fit(X, y)
    assert seen == ["fit", "partial_fit"]
    assert len(net.history) == 2


def test_train_reraises_keyboard_interrupt_after_on_train_end():
    X, y = make_data(n=20)
    events = Events()
    net = AttCRNNClassifier(**TINY, max_epochs=3, callbacks=[events, InterruptAt(epoch=1, batch=1)])
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y)
    assert events.seen == ["begin", "end"]  # callbacks are told training ended, as in skorch


def test_skorch_private_names_are_used_only_in_the_compat_module():
    offenders = []
    for path in (ROOT / "skasc").rglob("*.py"):
        if path.name == "_skorch.py":
            continue
        text = path.read_text()
        for name in (
            "_routing_method",
            "NeuralNet.partial_fit",
            "NeuralNet.fit(",
            '"_modules"',
            '"_criteria"',
            '"_optimizers"',
        ):
            if name in text:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_checkpoint_key_ignores_what_a_pipeline_sets_during_fit():
    # sklearn's Pipeline sets _parent_callback_ctx (a per-process object) on its final
    # step while it fits; skorch lists it among the parameters. It must not change the
    # key, or a CLI fit interrupted inside a Pipeline would never resume.
    from skasc.nn import checkpoint as ckpt

    X, y = make_data(n=20)
    net = AttCRNNClassifier(**TINY, max_epochs=1)
    key = ckpt.fit_key(net, X, y)
    net._parent_callback_ctx = object()
    assert "_parent_callback_ctx" in net.get_params(deep=False)
    assert ckpt.fit_key(net, X, y) == key


# ---------------------------------------------------------------- the demo, twice
from skasc.datasets import (  # noqa: E402
    DatasetError,
    make_litis_like,
    scenes,
)

CORPUS = dict(
    n_recordings_per_class=3,
    n_classes=2,
    n_splits=2,
    test_size=0.5,
    duration=0.5,
    sr=8000,
    random_state=3,
)


def _snapshot(root):
    """{relative path: (bytes, mtime_ns, inode)} of every file below root."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(root))] = (path.read_bytes(), st.st_mtime_ns, st.st_ino)
    return out


def _leftovers(parent):
    return [p.name for p in Path(parent).iterdir() if p.name.endswith(".tmp")]


class Stop(Exception):
    pass


def test_demo_runs_twice_reusing_its_corpus(tmp_path, monkeypatch):
    import skasc.evaluation
    from skasc.demo import run_demo

    def stop_before_training(*args, **kwargs):
        raise Stop  # the corpus is ready; training is not what this test is about

    monkeypatch.setattr(skasc.evaluation, "evaluate", stop_before_training)
    settings = dict(
        out_dir=str(tmp_path / "demo"),
        n_classes=2,
        n_per_class=4,
        n_splits=1,
        max_epochs=1,
        baseline=False,
    )
    with pytest.raises(Stop):
        run_demo(**settings)
    corpus = tmp_path / "demo" / "corpus"
    first = _snapshot(corpus)
    assert "data_rouen/bus4.wav" in first and scenes.MANIFEST in first
    with pytest.raises(Stop):  # today: DatasetError "already holds files"
        run_demo(**settings)
    assert _snapshot(corpus) == first  # reused: not rewritten, mtimes kept for the cache
    with pytest.raises(Stop):  # other settings: regenerated in place
        run_demo(**dict(settings, n_per_class=5))
    assert "data_rouen/bus5.wav" in _snapshot(corpus)


def test_reuse_returns_the_corpus_untouched_when_settings_match(tmp_path):
    root = tmp_path / "corpus"
    assert make_litis_like(root, **CORPUS, reuse=True) == str(root)
    first = _snapshot(root)
    assert scenes.write_litis_like(root, **CORPUS, overwrite=False, reuse=True) == (str(root), True)
    assert _snapshot(root) == first
    assert _leftovers(tmp_path) == []


def test_reuse_regenerates_for_other_settings_and_drops_stale_files(tmp_path):
    root = tmp_path / "corpus"
    make_litis_like(root, **CORPUS, reuse=True)
    fewer = dict(CORPUS, n_recordings_per_class=2)
    assert scenes.write_litis_like(root, **fewer, overwrite=False, reuse=True)[1] is False
    files = _snapshot(root)
    assert "data_rouen/bus2.wav" in files and "data_rouen/bus3.wav" not in files
    reference = make_litis_like(tmp_path / "reference", **fewer)
    assert {k: v[0] for k, v in files.items()} == {k: v[0] for k, v in _snapshot(reference).items()}
    other_seed = dict(CORPUS, random_state=4)
    make_litis_like(root, **other_seed, reuse=True)
    assert _snapshot(root)["data_rouen/bus1.wav"][0] != files["data_rouen/bus1.wav"][0]
    assert _leftovers(tmp_path) == []


def test_reuse_regenerates_a_damaged_corpus(tmp_path):
    root = tmp_path / "corpus"
    make_litis_like(root, **CORPUS, reuse=True)
    good = _snapshot(root)["data_rouen/metro-station2.wav"][0]
    damaged = bytearray(good)
    damaged[-1] ^= 0xFF  # same size, other bytes
    (root / "data_rouen" / "metro-station2.wav").write_bytes(bytes(damaged))
    assert scenes.write_litis_like(root, **CORPUS, overwrite=False, reuse=True)[1] is False
    assert (root / "data_rouen" / "metro-station2.wav").read_bytes() == good
    (root / "data_rouen" / "bus1.wav").unlink()
    make_litis_like(root, **CORPUS, reuse=True)
    assert (root / "data_rouen" / "bus1.wav").is_file()


def test_reuse_adopts_an_identical_corpus_written_without_a_manifest(tmp_path):
    root = tmp_path / "corpus"
    make_litis_like(root, **CORPUS)  # reuse=False also records the manifest
    (root / scenes.MANIFEST).unlink()  # as a corpus written before manifests existed
    before = _snapshot(root)
    assert scenes.write_litis_like(root, **CORPUS, overwrite=False, reuse=True) == (str(root), True)
    after = _snapshot(root)
    assert scenes.MANIFEST in after
    del after[scenes.MANIFEST]
    assert after == before  # the same files, not rewritten
    assert _leftovers(tmp_path) == []


def test_reuse_refuses_a_folder_with_other_files_and_removes_nothing(tmp_path):
    root = tmp_path / "corpus"
    (root / "data_rouen").mkdir(parents=True)
    (root / "data_rouen" / "my-recording1.wav").write_bytes(b"precious")
    (root / "notes.txt").write_text("mine")
    before = _snapshot(root)
    with pytest.raises(
        DatasetError,
        match=r"The folder '.*corpus' holds files that "
        r"make_litis_like did not write \(e\.g\. "
        r"'data_rouen/my-recording1\.wav'\); remove them",
    ):
        make_litis_like(root, **CORPUS, reuse=True)
    assert _snapshot(root) == before
    assert _leftovers(tmp_path) == []
    # a file the manifest does not list, added to a generated corpus, is protected too
    other = tmp_path / "generated"
    make_litis_like(other, **CORPUS, reuse=True)
    (other / "data_rouen" / "extra1.wav").write_bytes(b"added by hand")
    with pytest.raises(DatasetError, match="extra1.wav"):
        make_litis_like(other, **dict(CORPUS, random_state=9), reuse=True)
    assert (other / "data_rouen" / "extra1.wav").read_bytes() == b"added by hand"


def test_interrupted_generation_leaves_the_previous_corpus(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    make_litis_like(root, **CORPUS, reuse=True)
    before = _snapshot(root)
    real = scenes.write_litis_layout

    def interrupted(folder, *args, **kwargs):
        real(folder, *args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C after the audio, before the manifest

    monkeypatch.setattr(scenes, "write_litis_layout", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_litis_like(root, **dict(CORPUS, random_state=8), reuse=True)
    assert _snapshot(root) == before
    assert _leftovers(tmp_path) == []
    # a temporary folder left by a killed process is cleaned up by the next call
    monkeypatch.setattr(scenes, "write_litis_layout", real)
    (tmp_path / ".corpus.killed.tmp").mkdir()
    make_litis_like(root, **CORPUS, reuse=True)
    assert _leftovers(tmp_path) == []


def test_reuse_needs_an_int_seed_and_a_bool(tmp_path):
    root = tmp_path / "corpus"
    unseeded = dict(CORPUS, random_state=None)
    make_litis_like(root, **unseeded, reuse=True)
    assert scenes.write_litis_like(root, **unseeded, overwrite=False, reuse=True)[1] is False
    with pytest.raises(
        ValueError,
        match=r"The 'reuse' parameter of make_litis_like must be "
        r"one of \{False, True\}\. Got 1 instead\.",
    ):
        make_litis_like(root, **CORPUS, reuse=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_leaves_the_cuda_rng_as_it_was():
    X, y = make_data(n=20)
    torch.cuda.manual_seed_all(77)
    before = [torch.cuda.get_rng_state(i) for i in range(torch.cuda.device_count())]
    cpu_before = torch.get_rng_state()
    AttCRNNClassifier(**dict(TINY, device="cuda"), max_epochs=2).fit(X, y)
    assert all(torch.equal(torch.cuda.get_rng_state(i), state) for i, state in enumerate(before))
    assert torch.equal(torch.get_rng_state(), cpu_before)
