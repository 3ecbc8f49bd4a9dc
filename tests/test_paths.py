"""Paths skasc reads: regular files only, and one file is one file however it is spelt.

A FIFO where skasc expects a file would block the reader forever: every reader must
refuse it with its documented error, at once (each test is guarded by a timeout that
frees a blocked reader). Two rows of a data set that name one file (``./a.wav``, a
link) would put one recording on both sides of a split: every registered loader must
refuse it, naming both lines.
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np
import pytest
import soundfile as sf

import skasc
from layouts_dcase import write_dcase
from layouts_esc_us8k import write_esc50, write_folder_csv, write_urbansound8k
from skasc import cli
from skasc._paths import file_identity, regular_file_problem
from skasc.datasets import DATASETS, DatasetError, load_dataset, write_litis_layout
from skasc.exceptions import AudioFileError, CheckpointError, CLIError, ModelFileError


def _returns_at_once(call, fifo, timeout=30.0):
    """Run ``call()`` in a thread; fail if it is still blocked after ``timeout`` s (then
    open the FIFO for writing, so the blocked reader gets an end of file and the
    thread ends)."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(timeout)
        pytest.fail(f"reading the FIFO {fifo} blocked")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def test_regular_file_problem_follows_links(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    (tmp_path / "file").write_bytes(b"x")
    (tmp_path / "to-file").symlink_to(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    assert (
        regular_file_problem(tmp_path / "link")
        == "is not a regular file (it is a FIFO (named pipe))"
    )
    assert regular_file_problem(tmp_path / "to-file") is None
    assert regular_file_problem(tmp_path / "dangling") == "does not exist"
    assert regular_file_problem(tmp_path) == "is a folder"
    assert regular_file_problem("/dev/null") == "is not a regular file (it is a character device)"


def test_file_identity_sees_through_spellings_and_links(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    (tmp_path / "sym.wav").symlink_to(tmp_path / "a.wav")
    os.link(tmp_path / "a.wav", tmp_path / "hard.wav")
    same = {
        file_identity(p)
        for p in (
            tmp_path / "a.wav",
            f"{tmp_path}/./a.wav",
            tmp_path / "sym.wav",
            tmp_path / "hard.wav",
        )
    }
    assert len(same) == 1
    assert file_identity(tmp_path / "new.csv") == file_identity(f"{tmp_path}/./new.csv")
    assert file_identity(tmp_path / "new.csv") != file_identity(tmp_path / "a.wav")


# ----------------------------------------------------------------------------- FIFOs
def _fifo(tmp_path, name, *, link=False):
    path = tmp_path / name
    if link:  # a symbolic link to a FIFO: checked after following it
        os.mkfifo(tmp_path / "pipe")
        path.symlink_to(tmp_path / "pipe")
    else:
        os.mkfifo(path)
    return path


def _reads(kind, tmp_path, fifo):
    """The call that reads ``fifo`` as ``kind``, the error it must raise and a message."""
    from skasc.datasets import load_csv
    from skasc.frontend.audio import check_recordings, iter_audio_blocks, load_audio
    from skasc.nn.checkpoint import load_checkpoint

    if kind == "model":
        return (
            lambda: skasc.load(fifo),
            ModelFileError,
            r"is not a skasc model file: it is not a regular file \(it is a FIFO",
        )
    if kind == "audio":
        return (
            lambda: load_audio(fifo),
            AudioFileError,
            r"Audio file .* is not a regular file \(it is a FIFO",
        )
    if kind == "audio blocks":
        return lambda: list(iter_audio_blocks(fifo)), AudioFileError, "is not a regular file"
    if kind == "checked recordings":
        return (
            lambda: check_recordings([str(fifo)]),
            AudioFileError,
            r"Recording 0 failed to load: .* is not a regular file",
        )
    if kind == "metadata":
        return (
            lambda: load_csv(tmp_path),
            DatasetError,
            r"The metadata file .*metadata\.csv' is not a regular file",
        )
    if kind == "labels":
        return (
            lambda: cli.read_labels_csv(str(fifo), str(tmp_path)),
            CLIError,
            r"labels file .* is not a regular file",
        )
    if kind == "checkpoint":
        return (
            lambda: load_checkpoint(str(tmp_path), "key"),
            CheckpointError,
            r"The checkpoint file .*checkpoint\.pt' is not a regular file",
        )
    if kind == "onnx":
        pytest.importorskip("onnxruntime")
        from skasc.onnx import OnnxPredictor

        return (
            lambda: OnnxPredictor(fifo),
            ModelFileError,
            r"is not an ONNX model: it is not a regular file",
        )
    raise AssertionError(kind)


NAMES = {
    "model": "model.skasc",
    "audio": "a.wav",
    "audio blocks": "long.wav",
    "checked recordings": "a.wav",
    "metadata": "metadata.csv",
    "labels": "labels.csv",
    "checkpoint": "checkpoint.pt",
    "onnx": "scene.onnx",
}


@pytest.mark.parametrize("link", [False, True], ids=["fifo", "link to a fifo"])
@pytest.mark.parametrize("kind", sorted(NAMES))
def test_every_reader_refuses_a_fifo_at_once(tmp_path, kind, link):
    fifo = _fifo(tmp_path, NAMES[kind], link=link)
    call, error, message = _reads(kind, tmp_path, fifo)
    with pytest.raises(error, match=message):
        _returns_at_once(call, fifo)


def test_predict_and_timeline_refuse_a_fifo_among_the_recordings(tmp_path, capsys):
    """``skasc predict`` scans a folder holding a FIFO named like audio."""
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a1.wav", np.zeros(22050, np.float32), 22050)
    fifo = _fifo(data, "b1.wav")
    model = tmp_path / "m.skasc"
    skasc.save(_tiny_pipeline(), model)
    for argv in (
        ["predict", str(model), str(data)],
        ["predict", str(model), str(fifo), "--timeline"],
    ):
        assert _returns_at_once(functools.partial(cli.main, argv), fifo) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "b1.wav' is not a regular file (it is a FIFO" in err[0], err


def _tiny_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from skasc import FrontEnd, RecordingFusion

    rng = np.random.default_rng(0)
    X = [0.1 * (1 + k % 2) * rng.standard_normal(22050 * 2).astype(np.float32) for k in range(4)]
    return Pipeline(
        [("frontend", FrontEnd()), ("fusion", RecordingFusion(LogisticRegression(), flatten=True))]
    ).fit(X, ["a", "b"] * 2)


# ----------------------------------------------------------------------------- one file,
# one row: every registered loader
def _write(name, root):
    """A tiny layout of data set ``name`` under ``root``."""
    if name == "litis":
        rng = np.random.default_rng(0)
        x = (0.1 * rng.standard_normal((4, 800))).astype(np.float32)
        return write_litis_layout(
            root, x, ["bus", "bus", "park", "park"], sr=8000, splits=[([0, 2], [1, 3])]
        )
    if name in ("esc50", "esc10"):
        return write_esc50(root, targets=(0, 1))[0]
    if name == "urbansound8k":
        return write_urbansound8k(root, n_folds=10, slices=1)[0]
    if name == "csv":
        return write_folder_csv(root)[0]
    return write_dcase(root, name)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_loader_refuses_one_file_on_two_rows(tmp_path, name):
    """The second recording becomes a link to the first: the same file on two rows."""
    folder = _write(name, tmp_path / "set")
    paths = load_dataset(name, folder).paths
    os.remove(paths[1])
    os.symlink(paths[0], paths[1])
    with pytest.raises(
        DatasetError,
        match=r", line \d+: .* is the same file as .* \(first on "
        r"line \d+\); a recording may be listed once",
    ):
        load_dataset(name, folder)


@pytest.mark.parametrize("spelling", ["./bus-0.wav", "audio/../bus-0.wav", "link"])
def test_a_csv_set_listing_one_file_twice_is_refused(tmp_path, spelling):
    """bus-0.wav in fold 1 and the same file, spelt otherwise, in fold 2."""
    (tmp_path / "audio").mkdir()
    for name in ("bus-0.wav", "park-0.wav", "park-1.wav"):
        sf.write(tmp_path / name, np.zeros(800, np.float32), 8000)
    if spelling == "link":
        (tmp_path / "bus-copy.wav").symlink_to(tmp_path / "bus-0.wav")
        spelling = "bus-copy.wav"
    (tmp_path / "metadata.csv").write_text(
        "filename,label,fold\nbus-0.wav,bus,1\npark-0.wav,park,1\n"
        f"{spelling},bus,2\npark-1.wav,park,2\n"
    )
    with pytest.raises(
        DatasetError,
        match=r"metadata\.csv, line 4: .* is the same file as "
        r".*bus-0\.wav' \(first on line 2\)",
    ):
        load_dataset("csv", tmp_path)
    with pytest.raises(DatasetError, match="line 4"):  # also without checking the files
        load_dataset("csv", tmp_path, check_files=False)


def test_skasc_cv_refuses_the_same_recording_in_two_folds(tmp_path, capsys):
    for name in ("bus-0.wav", "park-0.wav", "park-1.wav"):
        sf.write(tmp_path / name, np.zeros(800, np.float32), 8000)
    (tmp_path / "metadata.csv").write_text(
        "filename,label,fold\nbus-0.wav,bus,1\npark-0.wav,park,1\n./bus-0.wav,bus,2\n"
        "park-1.wav,park,2\n"
    )
    assert cli.main(["cv", "csv", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 4: " in err[0] and "(first on line 2)" in err[0]
    assert not (tmp_path / "out").exists()
