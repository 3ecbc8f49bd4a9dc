"""Tests for skasc.persistence: exact, safe round trips of fitted trees with skorch nets."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC
from skorch.callbacks import EpochScoring
from skorch.dataset import ValidSplit

import _persistence_fixtures as fx
import skasc
from skasc import persistence
from skasc.persistence import UntrustedTypeError, load, save

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS_DIR)
TRUST = ["_persistence_fixtures"]


# Fitting is the slow part: fit once per module. Tests must not modify these
# (test_cuda_net_loads_on_cpu works on a copy).
@pytest.fixture(scope="module")
def Xy():
    return fx.data()


@pytest.fixture(scope="module")
def fitted_net(Xy):
    torch.manual_seed(0)
    return fx.make_net().fit(*Xy)


@pytest.fixture(scope="module")
def nested(Xy):
    """Wrapper(Pipeline(StandardScaler, TinyNet (transform), CalibratedClassifierCV))."""
    torch.manual_seed(0)
    pipe = make_pipeline(
        StandardScaler(), fx.make_net(), CalibratedClassifierCV(LinearSVC(C=0.1), cv=3)
    )
    return fx.Wrapper(pipe).fit(*Xy)


def _rewrite(path, member, transform):
    """Rewrite one member of the archive at ``path`` with ``transform(bytes)``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if transform is None:
        del members[member]
    else:
        members[member] = transform(members[member])
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _manifest(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------


def test_net_round_trip_is_exact(tmp_path, Xy, fitted_net):
    X, y = Xy
    path = tmp_path / "net.skasc"
    save(fitted_net, path)
    loaded = load(path, trusted=TRUST)
    assert type(loaded) is fx.TinyNet and loaded is not fitted_net
    assert np.array_equal(loaded.predict_proba(X), fitted_net.predict_proba(X))
    assert np.array_equal(loaded.classes_, fitted_net.classes_)
    assert loaded.n_features_in_ == 6
    # A fitted sklearn object as a net attribute keeps its fitted state.
    assert np.array_equal(loaded.label_encoder_.classes_, [0, 1, 2])
    for key, value in fitted_net.module_.state_dict().items():
        assert torch.equal(loaded.module_.state_dict()[key], value)
    # The training history comes back as plain data.
    assert len(loaded.history) == 3
    assert loaded.history[:, "train_loss"] == fitted_net.history[:, "train_loss"]
    # The loaded net can go on training (max_epochs=3 more epochs).
    loaded.partial_fit(X, y)
    assert len(loaded.history) == 6


def test_training_goes_on_exactly_after_a_round_trip(tmp_path, Xy):
    # The optimizer's state (Adam's moments and step counts here) is saved, so a
    # loaded net trains on as the original would have.
    X, y = Xy
    torch.manual_seed(0)
    original = fx.make_net(optimizer=torch.optim.Adam, lr=0.01).fit(X, y)
    path = tmp_path / "adam.skasc"
    save(original, path)
    with zipfile.ZipFile(path) as archive:
        archive.extract("weights.safetensors", tmp_path)
    assert "net0/optimizer_/state/0/exp_avg" in load_file(tmp_path / "weights.safetensors")
    loaded = load(path, trusted=TRUST)
    saved = original.optimizer_.state_dict()
    restored = loaded.optimizer_.state_dict()
    assert restored["param_groups"] == saved["param_groups"]
    for index, values in saved["state"].items():
        for name, value in values.items():
            assert torch.equal(restored["state"][index][name], value), (index, name)
    for net in (original, loaded):
        torch.manual_seed(1)
        net.partial_fit(X, y)
    for key, value in original.module_.state_dict().items():
        assert torch.equal(loaded.module_.state_dict()[key], value), key
    # without the saved state, the same continuation differs (the check can fail)
    fresh = load(path, trusted=TRUST)
    fresh.initialize_optimizer()
    torch.manual_seed(1)
    fresh.partial_fit(X, y)
    assert not torch.equal(fresh.module_.out.weight, original.module_.out.weight)


def test_file_without_optimizer_state_loads_with_a_fresh_optimizer(tmp_path, Xy, fitted_net):
    path = tmp_path / "old.skasc"
    save(fitted_net, path)

    def drop(data):  # a file written before optimizer states were saved
        manifest = json.loads(data)
        for entry in manifest["nets"]:
            del entry["optimizer_states"]
        return json.dumps(manifest).encode()

    _rewrite(path, "manifest.json", drop)
    loaded = load(path, trusted=TRUST)
    assert loaded.optimizer_.state_dict()["state"] == {}
    assert np.array_equal(loaded.predict_proba(Xy[0]), fitted_net.predict_proba(Xy[0]))


def test_nested_tree_round_trip_is_exact(tmp_path, Xy, nested):
    X, _ = Xy
    expected = nested.predict_proba(X)
    path = tmp_path / "nested.skasc"
    save(nested, path)
    loaded = load(path, trusted=TRUST)
    assert np.array_equal(loaded.predict_proba(X), expected)
    net = loaded.estimator_.steps[1][1]
    assert isinstance(net, fx.TinyNet) and net.initialized_
    assert np.array_equal(net.transform(X), nested.estimator_.steps[1][1].transform(X))
    # The unfitted template net in the `estimator` parameter comes back unfitted.
    template = loaded.estimator.steps[1][1]
    assert isinstance(template, fx.TinyNet)
    assert not getattr(template, "initialized_", False)
    manifest = _manifest(path)
    paths = sorted(entry["path"] for entry in manifest["nets"])
    assert paths == ["estimator.estimator.steps[1][1]", "estimator.estimator_.steps[1][1]"]


def test_save_does_not_modify_the_estimator(tmp_path, Xy, nested):
    net = nested.estimator_.steps[1][1]
    before = nested.predict_proba(Xy[0])
    save(nested, tmp_path / "m.skasc")
    assert nested.estimator_.steps[1][1] is net
    assert net.module_ is not None
    assert np.array_equal(nested.predict_proba(Xy[0]), before)


def test_pure_sklearn_round_trip_without_trust(tmp_path, Xy):
    X, y = Xy
    model = make_pipeline(
        FunctionTransformer(np.log1p, validate=False),
        StandardScaler(),
        CalibratedClassifierCV(LinearSVC(), cv=3),
    ).fit(np.abs(X), y)
    path = tmp_path / "sk.skasc"
    save(model, path)
    loaded = load(path)
    assert np.array_equal(loaded.predict_proba(np.abs(X)), model.predict_proba(np.abs(X)))
    assert _manifest(path)["nets"] == []


def test_fresh_process_round_trip(tmp_path, Xy, nested):
    X, _ = Xy
    path = tmp_path / "m.skasc"
    np.save(tmp_path / "X.npy", X)
    save(nested, path)
    script = textwrap.dedent(f"""
        import numpy as np
        import skasc
        model = skasc.load({str(path)!r}, trusted=["_persistence_fixtures"])
        np.save({str(tmp_path / "proba.npy")!r},
                model.predict_proba(np.load({str(tmp_path / "X.npy")!r})))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS_DIR, ROOT]))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(tmp_path / "proba.npy"), nested.predict_proba(X))


def test_top_level_exports():
    assert skasc.save is save and skasc.load is load


# --------------------------------------------------------------------------
# Format
# --------------------------------------------------------------------------


def test_weights_are_safetensors(tmp_path, fitted_net):
    path = tmp_path / "net.skasc"
    save(fitted_net, path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["manifest.json", "weights.safetensors", "estimator.skops"]
        )
        archive.extract("weights.safetensors", tmp_path)
    tensors = load_file(tmp_path / "weights.safetensors", device="cpu")
    state = fitted_net.module_.state_dict()
    module_keys = {k for k in tensors if k.startswith("net0/module_/")}
    assert module_keys == {f"net0/module_/{k}" for k in state}
    for key, value in state.items():
        assert torch.equal(tensors[f"net0/module_/{key}"], value)


def test_manifest_records_versions_and_params(tmp_path, fitted_net):
    path = tmp_path / "net.skasc"
    save(fitted_net, path)
    manifest = _manifest(path)
    assert manifest["format_version"] == persistence.FORMAT_VERSION
    assert manifest["versions"]["scikit-learn"] and manifest["versions"]["torch"]
    assert manifest["versions"]["numpy"] == np.__version__
    (entry,) = manifest["nets"]
    assert entry["class"] == "_persistence_fixtures.TinyNet"
    assert entry["params"]["module"] == {
        "__kind__": "import",
        "name": "_persistence_fixtures.TinyModule",
    }
    assert entry["params"]["module__n_hidden"] == 8
    assert entry["classes_"]["data"] == [0, 1, 2]


def test_object_and_tensor_params_round_trip(tmp_path, Xy):
    torch.manual_seed(0)
    weight = torch.tensor([1.0, 2.0, 0.5])
    net = fx.make_net(
        train_split=ValidSplit(3, stratified=True),
        criterion=torch.nn.CrossEntropyLoss,
        criterion__weight=weight,
        module__n_hidden=5,
        iterator_valid__shuffle=False,
    ).fit(*Xy)
    path = tmp_path / "net.skasc"
    save(net, path)
    loaded = load(path, trusted=TRUST)
    assert isinstance(loaded.train_split, ValidSplit)
    assert (loaded.train_split.cv, loaded.train_split.stratified) == (3, True)
    assert torch.equal(loaded.criterion__weight, weight)
    assert torch.equal(loaded.criterion_.weight, weight)
    assert np.array_equal(loaded.predict_proba(Xy[0]), net.predict_proba(Xy[0]))


# --------------------------------------------------------------------------
# Devices, callbacks and unsupported parameters
# --------------------------------------------------------------------------


def test_cuda_net_loads_on_cpu(tmp_path, Xy, fitted_net, monkeypatch):
    # Simulate a net trained on CUDA: its device parameter says "cuda", while
    # the weights (here really on the CPU) are moved to the CPU by save anyway.
    cuda_net = copy.deepcopy(fitted_net)
    cuda_net.device = "cuda"
    path = tmp_path / "cuda.skasc"
    save(cuda_net, path)
    assert _manifest(path)["nets"][0]["device"] == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match=r"device='cuda'.*loaded on the CPU"):
        loaded = load(path, trusted=TRUST)
    assert loaded.device == "cpu"
    assert next(loaded.module_.parameters()).device.type == "cpu"
    assert np.array_equal(loaded.predict_proba(Xy[0]), fitted_net.predict_proba(Xy[0]))


def test_callbacks_are_dropped_with_a_warning(tmp_path, Xy):
    torch.manual_seed(0)
    net = fx.make_net(callbacks=[("acc", EpochScoring("accuracy", on_train=True))]).fit(*Xy)
    path = tmp_path / "cb.skasc"
    with pytest.warns(UserWarning, match=r"Callbacks are not saved.*\['callbacks'\]") as seen:
        save(net, path)
    assert seen[0].filename == __file__  # points at the call of save
    assert _manifest(path)["nets"][0]["dropped_params"] == ["callbacks"]
    loaded = load(path, trusted=TRUST)
    assert loaded.callbacks is None
    assert np.array_equal(loaded.predict_proba(Xy[0]), net.predict_proba(Xy[0]))
    assert loaded.history[:, "train_loss"] == net.history[:, "train_loss"]


def test_lambda_parameter_is_refused(tmp_path, Xy):
    net = fx.make_net(iterator_valid__collate_fn=lambda batch: batch)
    with pytest.raises(
        ValueError,
        match=r"iterator_valid__collate_fn.*cannot be stored "
        r"by import path",
    ):
        save(net, tmp_path / "x.skasc")
    assert not (tmp_path / "x.skasc").exists()


def test_module_instance_is_refused(tmp_path, Xy):
    net = fx.make_net(module=fx.TinyModule())
    with pytest.raises(ValueError, match=r"'module' parameter is an instance \(TinyModule\)"):
        save(net, tmp_path / "x.skasc")


# --------------------------------------------------------------------------
# Security
# --------------------------------------------------------------------------


def test_untrusted_net_class_is_refused(tmp_path, fitted_net):
    path = tmp_path / "net.skasc"
    save(fitted_net, path)
    with pytest.raises(
        UntrustedTypeError,
        match=r"_persistence_fixtures\.TinyNet.*not one of the classes "
        r"skasc stores",
    ):
        load(path)
    # Trusting only the net class is not enough: its module is imported too.
    with pytest.raises(UntrustedTypeError, match=r"_persistence_fixtures\.TinyModule"):
        load(path, trusted=[fx.TinyNet])
    assert isinstance(load(path, trusted=[fx.TinyNet, fx.TinyModule]), fx.TinyNet)


def test_untrusted_type_in_sklearn_tree_is_refused(tmp_path, Xy):
    model = StandardScaler().fit(Xy[0])
    model.note_ = fx.Opaque(3)
    path = tmp_path / "sk.skasc"
    save(model, path)
    with pytest.raises(
        UntrustedTypeError, match=r"untrusted types \['_persistence_fixtures\.Opaque'\]"
    ):
        load(path)
    loaded = load(path, trusted=[fx.Opaque])
    assert loaded.note_.value == 3
    assert np.array_equal(loaded.mean_, model.mean_)


def test_function_from_allowed_module_needs_trust(tmp_path):
    # Only classes (and numpy ufuncs) are trusted by prefix: a numpy *function*
    # could be called with data from the file.
    model = FunctionTransformer(np.atleast_2d).fit(np.ones((2, 2)))
    path = tmp_path / "f.skasc"
    save(model, path)
    with pytest.raises(UntrustedTypeError, match=r"numpy\.atleast_2d"):
        load(path)
    assert load(path, trusted=["numpy.atleast_2d"]).func is np.atleast_2d


def test_forged_net_class_must_be_a_net(tmp_path, fitted_net):
    path = tmp_path / "net.skasc"
    save(fitted_net, path)

    def forge(data):
        manifest = json.loads(data)
        manifest["nets"][0]["class"] = "torch.load"
        return json.dumps(manifest).encode()

    _rewrite(path, "manifest.json", forge)
    with pytest.raises(
        UntrustedTypeError,
        match=r"'torch\.load' as a net class, which is "
        r"not one of the classes skasc stores",
    ):
        load(path, trusted=TRUST)
    # Even where the user trusts all of torch, the net class must be a class.
    with pytest.raises(UntrustedTypeError, match=r"'torch.load' should be a class"):
        load(path, trusted=TRUST + ["torch"])


# --------------------------------------------------------------------------
# Atomic writes, versions, broken files
# --------------------------------------------------------------------------


def test_failed_save_keeps_the_old_file(tmp_path, Xy, fitted_net, monkeypatch):
    path = tmp_path / "m.skasc"
    old = LogisticRegression().fit(*Xy)
    save(old, path)
    before = path.read_bytes()
    real_add = zipfile.ZipFile.writestr

    def crash(archive, name, data, *args, **kwargs):
        if name == "weights.safetensors":
            raise OSError("disk full (simulated)")
        real_add(archive, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(OSError, match="simulated"):
        save(fitted_net, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.skasc"]
    monkeypatch.undo()
    assert np.array_equal(load(path).coef_, old.coef_)


def test_other_major_version_warns(tmp_path, Xy):
    path = tmp_path / "m.skasc"
    save(LogisticRegression().fit(*Xy), path)

    def fake(data):
        manifest = json.loads(data)
        manifest["versions"]["scikit-learn"] = "0.24.2"
        return json.dumps(manifest).encode()

    _rewrite(path, "manifest.json", fake)
    with pytest.warns(
        UserWarning,
        match=r"scikit-learn 0\.24\.2.*scikit-learn "
        r"\d+\.\d+.*different major version",
    ):
        load(path)


def test_same_major_version_does_not_warn(tmp_path, Xy):
    path = tmp_path / "m.skasc"
    save(LogisticRegression().fit(*Xy), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "junk.skasc"
    path.write_bytes(b"definitely not a zip file")
    with pytest.raises(
        ValueError,
        match=rf"{path.name} is not a skasc model file "
        r"\(not a valid zip",
    ):
        load(path)


def test_truncated_file(tmp_path, fitted_net):
    path = tmp_path / "cut.skasc"
    save(fitted_net, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=rf"{path.name} is not a skasc model file"):
        load(path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            None,
            r"m\.skasc is not a skasc model file: the members \['weights.safetensors'\] "
            r"are missing",
        ),  # the member removed
        (lambda data: b"\x00" * 7, r"weights.safetensors is not a valid safetensors"),  # corrupt
    ],
)
def test_damaged_weights_member(tmp_path, fitted_net, edit, match):
    path = tmp_path / "m.skasc"
    save(fitted_net, path)
    _rewrite(path, "weights.safetensors", edit)
    with pytest.raises(ValueError, match=match):
        load(path, trusted=TRUST)


def test_other_zip_is_refused(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("manifest.json", "weights.safetensors", "estimator.skops"):
            archive.writestr(name, b"{}")
    with pytest.raises(
        ValueError,
        match=rf"{path.name} is not a skasc model file: "
        r"manifest.json does not declare",
    ):
        load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.skasc")


def test_trusted_must_be_names_or_types(tmp_path, Xy):
    path = tmp_path / "m.skasc"
    save(LogisticRegression().fit(*Xy), path)
    with pytest.raises(TypeError, match=r"'trusted' parameter of load.*Got 3 instead"):
        load(path, trusted=[3])


def test_other_format_version_is_refused(tmp_path, Xy):
    path = tmp_path / "m.skasc"
    save(LogisticRegression().fit(*Xy), path)

    def bump(data):
        manifest = json.loads(data)
        manifest["format_version"] = 99
        return json.dumps(manifest).encode()

    _rewrite(path, "manifest.json", bump)
    with pytest.raises(ValueError, match=rf"{path.name} has format version 99"):
        load(path)


def test_damaged_optimizer_state_is_named(tmp_path, Xy):
    torch.manual_seed(0)
    net = fx.make_net(optimizer=torch.optim.Adam, lr=0.01).fit(*Xy)
    path = tmp_path / "adam.skasc"
    save(net, path)

    def drop_tensor(data):
        manifest = json.loads(data)
        slot = manifest["nets"][0]["optimizer_states"]["optimizer_"]["state"]["0"]
        slot["exp_avg"] = {"__tensor__": "net0/optimizer_/state/0/nowhere"}
        return json.dumps(manifest).encode()

    _rewrite(path, "manifest.json", drop_tensor)
    with pytest.raises(
        ValueError,
        match=r"adam\.skasc: the saved state of optimizer_ of the "
        r"net at .* is damaged.*nowhere",
    ):
        load(path, trusted=TRUST)


# --------------------------------------------------------------------------
# Files written by earlier versions
# --------------------------------------------------------------------------


def test_file_written_before_the_package_split_still_loads(Xy):
    # tests/data/persistence_format1.skasc was written by skasc.save at commit
    # a2c9361 (the single-module skasc/persistence.py): Wrapper(Pipeline(
    # StandardScaler, TinyNet with Adam, NLLLoss(weight=tensor), ValidSplit,
    # MinMaxScaler, CalibratedClassifierCV(LinearSVC))). Its skops part names
    # the placeholder class as skasc.persistence._NetSlot.
    X, y = Xy
    path = os.path.join(TESTS_DIR, "data", "persistence_format1.skasc")
    expected = np.load(os.path.join(TESTS_DIR, "data", "persistence_format1_proba.npy"))
    model = load(path, trusted=TRUST)
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-6, atol=1e-7)
    net = model.estimator_.steps[1][1]
    assert isinstance(net.train_split, ValidSplit) and net.train_split.cv == 3
    assert torch.equal(net.criterion_.weight, torch.tensor([1.0, 2.0, 0.5]))
    assert net.optimizer_.state_dict()["state"]  # Adam's moments came back
    net.partial_fit(X, y)  # and it trains on


# --------------------------------------------------------------------------
# Output paths and permissions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_model_file_follows_the_umask(tmp_path, Xy, umask):
    # Written like any other file: 0o666 & ~umask (it used to be 0600 always).
    model = LogisticRegression().fit(*Xy)
    old = os.umask(umask)
    try:
        save(model, tmp_path / "m.skasc")
        save(model, tmp_path / "m.skasc")  # replacing a file, too
    finally:
        os.umask(old)
    assert (tmp_path / "m.skasc").stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_to_a_missing_folder_fails_before_any_work(tmp_path, Xy, monkeypatch):
    import skops.io

    def no_work(*args, **kwargs):
        raise AssertionError("the estimator was serialised")

    monkeypatch.setattr(skops.io, "dumps", no_work)
    model = LogisticRegression().fit(*Xy)
    target = tmp_path / "missing" / "m.skasc"
    with pytest.raises(
        FileNotFoundError,
        match=rf"Cannot write '{target}': the folder "
        rf"{target.parent} does not exist",
    ):
        save(model, target)
    (tmp_path / "file").write_text("")
    with pytest.raises(
        NotADirectoryError,
        match=r"Cannot write '.*file/m\.skasc': .*file "
        r"is not a folder",
    ):
        save(model, str(tmp_path / "file" / "m.skasc"))
    (tmp_path / "folder.skasc").mkdir()
    with pytest.raises(IsADirectoryError, match=r"Cannot write '.*folder\.skasc': it is a folder"):
        save(model, tmp_path / "folder.skasc")
    assert sorted(os.listdir(tmp_path)) == ["file", "folder.skasc"]


def test_validsplit_with_a_cv_splitter_round_trips(tmp_path, Xy):
    from sklearn.model_selection import StratifiedKFold

    torch.manual_seed(0)
    net = fx.make_net(train_split=ValidSplit(StratifiedKFold(3)), max_epochs=1).fit(*Xy)
    path = tmp_path / "net.skasc"
    save(net, path)
    loaded = load(path, trusted=TRUST)
    assert isinstance(loaded.train_split.cv, StratifiedKFold)
    assert loaded.train_split.cv.n_splits == 3


def test_front_end_saved_before_the_frontend_package_still_loads():
    # tests/data/frontend_before_move.skasc was written by skasc.save at dfb9e93,
    # when the front end's modules were skasc.audio, skasc.features, skasc.frontend...:
    # FrontEnd(extractor=GammatoneExtractor(n_bands=32)). Its skops part names
    # those modules; load maps them to skasc.frontend.* (MOVED_MODULES).
    from skasc.frontend import FrontEnd, GammatoneExtractor

    path = os.path.join(TESTS_DIR, "data", "frontend_before_move.skasc")
    model = load(path)
    assert isinstance(model, FrontEnd)
    assert isinstance(model.extractor, GammatoneExtractor) and model.extractor.n_bands == 32
    rng = np.random.default_rng(0)
    x = [rng.standard_normal(22050 * 3).astype(np.float32)]
    expected = np.load(os.path.join(TESTS_DIR, "data", "frontend_before_move_out.npy"))
    np.testing.assert_allclose(np.asarray(model.transform(x)[0]), expected, rtol=1e-5, atol=1e-6)


def test_every_internal_skorch_attribute_is_one_save_could_write():
    # the list filters names that pass _is_attribute_name; an entry that cannot
    # pass it (a private "_modules") can never match and is dead
    from skasc.nn._skorch import INTERNAL_ATTRIBUTES
    from skasc.persistence._nets import _is_attribute_name

    assert all(_is_attribute_name(name) for name in INTERNAL_ATTRIBUTES)
