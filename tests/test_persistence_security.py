"""A model file is data: loading a crafted file must not create, change or remove files.

Each test forges a file the way an attacker would (editing ``manifest.json`` or
the skops part of a real saved model) and checks that ``load`` refuses it with
a documented error before anything from the file is created.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline

import skasc
from skasc.calibration import make_svm_calibrator
from skasc.fusion import RecordingFusion
from skasc.nn import AttCRNNClassifier
from skasc.persistence import UntrustedTypeError, load, save

TINY = dict(module__n_filters=(2, 4, 4), module__hidden_size=4, module__attention_size=4,
            max_epochs=1, batch_size=8, random_state=0, device="cpu", verbose=0)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real skasc segment model (Att-CRNN -> calibrated SVM, fused per
    recording), fitted in well under a second and saved once; tests mutate copies."""
    rng = np.random.default_rng(0)
    y = np.array(["bus", "park"] * 4)
    X = rng.normal(size=(8, 2, 2, 64, 8)).astype(np.float32)
    X[y == "bus"] += 0.5
    segment_model = Pipeline([("net", AttCRNNClassifier(**TINY)),
                              ("svm", make_svm_calibrator(random_state=0))])
    model = RecordingFusion(segment_model).fit(X, y)
    path = tmp_path_factory.mktemp("saved") / "model.skasc"
    save(model, path)
    return path


# --------------------------------------------------------------------------
# Helpers: read and rewrite the members of a model file
# --------------------------------------------------------------------------

def read_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def skops_schema(data: bytes) -> tuple[dict, dict[str, bytes]]:
    """The ``schema.json`` of a skops dump and its other members."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("schema.json")), files


def skops_bytes(schema: dict, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def json_node(value) -> dict:
    """A skops node holding a JSON value (a string, number, bool or None)."""
    return {"__class__": type(value).__name__, "__module__": "builtins",
            "__loader__": "JsonNode", "content": json.dumps(value), "is_json": True}


def tuple_node(*values) -> dict:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
            "content": [json_node(v) for v in values]}


def snapshot(folder) -> dict[str, tuple]:
    """Every file and folder under ``folder``: size, mtime and content hash."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            full = os.path.join(root, name)
            info = os.lstat(full)
            digest = None
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            state[os.path.relpath(full, folder)] = (info.st_size, info.st_mtime_ns, digest)
    return state


def victim_folder(tmp_path):
    folder = tmp_path / "victims"
    folder.mkdir()
    (folder / "precious.txt").write_text("do not touch")
    return folder


def forge_manifest(path, target, change) -> None:
    members = read_members(path)
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    write_members(target, members)


def trained_entry(manifest) -> dict:
    (entry,) = [e for e in manifest["nets"] if e["initialized"]]
    return entry


# --------------------------------------------------------------------------
# The attacks of issue 11
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name, kwargs", [
    ("torch.serialization._open_file", {"name": "{victim}", "mode": "w"}),
    ("torch.package.PackageExporter", {"f": "{victim}"}),
    ("torch.package.package_exporter.PackageExporter", {"f": "{new}"}),
])
def test_manifest_object_cannot_open_a_file(tmp_path, saved, name, kwargs):
    folder = victim_folder(tmp_path)
    paths = {"victim": str(folder / "precious.txt"), "new": str(folder / "new.bin")}
    kwargs = {k: v.format(**paths) for k, v in kwargs.items()}
    forged = tmp_path / "forged.skasc"

    def change(manifest):
        trained_entry(manifest)["params"]["train_split"] = {
            "__kind__": "object", "class": name, "kwargs": kwargs}

    forge_manifest(saved, forged, change)
    before = snapshot(folder)
    with pytest.raises(UntrustedTypeError, match=rf"forged\.skasc.*{name.replace('.', '[.]')}"):
        load(forged)
    assert snapshot(folder) == before
    assert (folder / "precious.txt").read_text() == "do not touch"


def test_manifest_import_outside_the_allow_list_is_refused(tmp_path, saved):
    # A class under torch that is not one skasc writes, in a parameter that is
    # merely imported (not called while loading) is refused all the same.
    forged = tmp_path / "forged.skasc"

    def change(manifest):
        trained_entry(manifest)["params"]["iterator_valid"] = {
            "__kind__": "import", "name": "torch.serialization._open_file"}

    forge_manifest(saved, forged, change)
    with pytest.raises(UntrustedTypeError,
                       match=r"forged\.skasc.*'torch\.serialization\._open_file'"):
        load(forged)


def test_skops_part_cannot_construct_a_file_writer(tmp_path, saved):
    # skops' ConstructorFromReduceNode calls a class with arguments from the
    # file. scipy.io.FortranFile(name, "w") truncates ``name``; the old
    # allow-list trusted every class under scipy.
    folder = victim_folder(tmp_path)
    victim = str(folder / "precious.txt")
    members = read_members(saved)
    schema, files = skops_schema(members["estimator.skops"])
    schema["content"]["estimator"]["content"]["content"]["floor"] = {
        "__class__": "FortranFile", "__module__": "scipy.io._fortran",
        "__loader__": "ConstructorFromReduceNode", "content": tuple_node(victim, "w")}
    members["estimator.skops"] = skops_bytes(schema, files)
    forged = tmp_path / "forged.skasc"
    write_members(forged, members)
    before = snapshot(folder)
    with pytest.raises(UntrustedTypeError, match=r"forged\.skasc.*scipy\.io\._fortran\.FortranFile"):
        load(forged)
    assert snapshot(folder) == before


def test_unmodified_file_loads_without_trust(saved):
    # The allow-list must accept everything skasc itself writes.
    model = load(saved)
    assert isinstance(model.estimator_.named_steps["net"], AttCRNNClassifier)
    assert skasc.load is load
