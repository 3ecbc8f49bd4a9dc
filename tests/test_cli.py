import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from skasc import cli


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "skasc", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_help_does_not_import_torch():
    code = (
        "import sys; import skasc, skasc.cli; skasc.cli.build_parser().format_help(); "
        "print('torch' in sys.modules, 'librosa' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize(
    "name, label",
    [
        ("metro-paris12.wav", "metro-paris"),
        ("train-tgv3.flac", "train-tgv"),
        ("/a/b/bus_01.wav", "bus"),
        ("avion1.wav", "avion"),
        ("park.wav", "park"),
        ("bus__1.wav", "bus"),
        ("bus - 2.wav", "bus"),
        ("12.wav", "12"),
    ],
)
def test_fit_folder_labels_follow_the_litis_reading(name, label):
    # one reading of <class><number> names for the CLI and the LITIS loader
    # (they disagreed on bus__1.wav: 'bus' and 'bus_')
    from skasc.datasets.litis import class_from_filename

    assert class_from_filename(name, require_number=False) == label
    if label != "12" and label != "park":
        assert class_from_filename(name) == label


def test_bad_arguments_exit_2_with_one_line(tmp_path):
    out = run_cli("fit", str(tmp_path / "missing"), "--model", str(tmp_path / "m.skasc"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "no such file or folder" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("demo", "--epochs", "0")
    assert out.returncode == 2 and "expected a positive integer" in out.stderr
    assert out.stderr.strip().count("\n") == 0
    out = run_cli("predict", str(tmp_path / "nope.skasc"), str(tmp_path))
    assert out.returncode == 2 and "model file not found" in out.stderr
    out = run_cli("frobnicate")
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_labels_csv_errors(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    bad = tmp_path / "labels.csv"
    bad.write_text("file,label\na.wav\n")
    with pytest.raises(cli.CLIError, match=r"labels.csv:2: expected 'file,label'"):
        cli.read_labels_csv(str(bad), str(tmp_path))
    bad.write_text("b.wav,bus\n")
    with pytest.raises(cli.CLIError, match="audio file not found: .*b.wav"):
        cli.read_labels_csv(str(bad), str(tmp_path))
    bad.write_text("file,label\n a.wav , bus \n")
    paths, labels = cli.read_labels_csv(str(bad), str(tmp_path))
    assert labels == ["bus"] and paths == [os.path.join(str(tmp_path), "a.wav")]


def _write_corpus(folder, rng, sr=22050, seconds=2.0):
    """Two classes that differ in spectrum: low tone vs high tone, in noise."""
    folder.mkdir()
    t = np.arange(int(sr * seconds)) / sr
    for k in range(4):
        for label, f in (("low", 300.0), ("high", 4000.0)):
            x = 0.3 * np.sin(2 * np.pi * f * (1 + 0.01 * k) * t) + 0.02 * rng.standard_normal(
                t.size
            )
            sf.write(folder / f"{label}{k + 1}.wav", x.astype(np.float32), sr, subtype="PCM_16")


def test_fit_predict_evaluate_round_trip(tmp_path, rng):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    model = tmp_path / "model.skasc"
    out = run_cli(
        "fit",
        str(data),
        "--model",
        str(model),
        "--epochs",
        "2",
        "--lr",
        "1e-3",
        "--network",
        "cnn_baseline",
        "--seed",
        "0",
    )
    assert out.returncode == 0, out.stderr
    assert model.is_file()
    preds = tmp_path / "preds.csv"
    out = run_cli("predict", str(model), str(data), "--out", str(preds))
    assert out.returncode == 0, out.stderr
    rows = preds.read_text().strip().splitlines()
    assert rows[0] == "file,label" and len(rows) == 9
    assert {r.split(",")[1] for r in rows[1:]} <= {"low", "high"}
    fig = tmp_path / "cm.png"
    out = run_cli("evaluate", str(model), str(data), "--figure", str(fig))
    assert out.returncode == 0, out.stderr
    assert "accuracy:" in out.stdout and fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from sklearn.metrics import balanced_accuracy_score, recall_score

    truth = [re.match(r"[a-z]+", os.path.basename(r.split(",")[0])).group() for r in rows[1:]]
    predicted = [r.split(",")[1] for r in rows[1:]]
    assert (
        f"macro class-wise accuracy: {100 * balanced_accuracy_score(truth, predicted):6.2f} %"
    ) in out.stdout
    high, low = recall_score(truth, predicted, average=None, labels=["high", "low"])
    assert f"class-wise accuracy: high {100 * high:.2f} %, low {100 * low:.2f} %" in out.stdout
    # a label the model never saw is a clear error, exit code 2
    sf.write(data / "tram1.wav", np.zeros(22050 * 2, np.float32), 22050)
    out = run_cli("evaluate", str(model), str(data))
    assert out.returncode == 2 and "never seen in fit: ['tram']" in out.stderr


def test_skip_bad_lists_what_was_skipped(tmp_path, rng):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    (data / "broken3.wav").write_bytes(b"RIFF1234")
    with pytest.raises(ValueError, match="broken3.wav"):
        cli.labelled_recordings(str(data), None)
    with pytest.warns(UserWarning, match="broken3.wav"):
        paths, labels = cli.labelled_recordings(str(data), None, skip_bad=True)
    assert len(paths) == 8 and len(labels) == 8
    assert not any("broken" in p for p in paths)


# ----------------------------------------------------------------------------- interrupts,
# output paths, broken pipes and which errors are the user's
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _popen_cli(*args, **kwargs):
    """``python -m skasc`` on this checkout, unbuffered so that lines arrive as printed."""
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    # A background job of a non-interactive shell starts with SIGINT ignored, and the
    # child would inherit that: give it the default disposition, as a terminal has.
    return subprocess.Popen(
        [sys.executable, "-m", "skasc", *args],
        env=env,
        text=True,
        preexec_fn=_default_sigint,
        **kwargs,
    )


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_during_fit_exits_130_and_keeps_the_old_model(tmp_path, rng):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    model = tmp_path / "model.skasc"
    model.write_bytes(b"the model of an earlier fit")
    proc = _popen_cli(
        "fit",
        str(data),
        "--model",
        str(model),
        "--epochs",
        "1000",
        "--network",
        "cnn_baseline",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    watchdog = threading.Timer(120, proc.kill)  # the table never showed epoch 1: fail, not hang
    watchdog.start()
    try:
        seen = []
        while not (seen and seen[-1].split()[:1] == ["1"]):  # epoch 1's row of the table
            line = proc.stdout.readline()
            assert line, f"fit ended before its first epoch: {proc.stderr.read()}"
            seen.append(line)
        proc.send_signal(signal.SIGINT)  # Ctrl-C, during epoch 2
        _, stderr = proc.communicate(timeout=60)
    finally:
        watchdog.cancel()
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == [
        f"skasc fit: interrupted; the model file {model} was left as it was"
    ], stderr
    assert model.read_bytes() == b"the model of an earlier fit"
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _interrupt_in_epoch(monkeypatch, epoch):
    from skasc.nn.classifier import SegmentNetClassifier

    real = SegmentNetClassifier.run_single_epoch

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if training and len(self.history) == epoch:
            raise KeyboardInterrupt
        return real(self, iterator, training, prefix, step_fn, **fit_params)

    monkeypatch.setattr(SegmentNetClassifier, "run_single_epoch", run_single_epoch)


def test_interrupted_fit_with_checkpoint_dir_resumes_on_rerun(tmp_path, rng, monkeypatch, capsys):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    model, checkpoints = tmp_path / "model.skasc", tmp_path / "ckpt"
    args = [
        "fit",
        str(data),
        "--model",
        str(model),
        "--epochs",
        "3",
        "--network",
        "cnn_baseline",
        "--checkpoint-dir",
        str(checkpoints),
    ]
    with monkeypatch.context() as patch:
        _interrupt_in_epoch(patch, 3)
        assert cli.main(args) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"skasc fit: interrupted; the model file {model} was not written; rerun the same "
        f"command to resume from the last epoch saved in {checkpoints}"
    ]
    assert not model.exists()
    import torch

    (saved,) = checkpoints.glob("*/checkpoint.pt")
    assert torch.load(saved, weights_only=True)["epoch"] == 2
    assert cli.main(args) == 0
    table = [line.split() for line in capsys.readouterr().out.splitlines()]
    epochs = [row[0] for row in table if row and row[0].isdigit()]
    assert epochs == ["3"]  # epochs 1 and 2 came from the checkpoint
    assert model.is_file()


@pytest.mark.parametrize("command", ["fit", "predict", "evaluate"])
def test_missing_output_folder_fails_first_naming_the_given_path(tmp_path, rng, capsys, command):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    target = os.path.join(str(tmp_path), "no-such-folder", "out.file")
    model = tmp_path / "model.skasc"
    model.write_bytes(b"never read: the output path is checked first")
    argv = {
        "fit": ["fit", str(data), "--model", target, "--epochs", "1"],
        "predict": ["predict", str(model), str(data), "--out", target],
        "evaluate": ["evaluate", str(model), str(data), "--figure", target],
    }[command]
    option = {"fit": "--model", "predict": "--out", "evaluate": "--figure"}[command]
    started = time.perf_counter()
    assert cli.main(argv) == 2
    assert time.perf_counter() - started < 10.0  # nothing was loaded or trained
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"skasc {command}: error: cannot write {option} {target}: the folder "
        f"{os.path.dirname(target)} does not exist"
    ]
    assert captured.out == ""  # no work started


def test_output_path_that_is_a_folder_or_in_a_read_only_folder(tmp_path):
    with pytest.raises(cli.CLIError, match=r"cannot write --model .*: it is a folder"):
        cli.check_output_path(str(tmp_path), "--model")
    (tmp_path / "file").write_text("")
    with pytest.raises(
        cli.CLIError,
        match=r"cannot write --model .*m.skasc: .*file is not a "
        r"folder",
    ):
        cli.check_output_path(str(tmp_path / "file" / "m.skasc"), "--model")
    cli.check_output_path("model.skasc", "--model")  # the current folder
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(cli.CLIError, match=r"locked is not writable"):
            cli.check_output_path(str(locked / "m.skasc"), "--model")


def test_closed_stdout_pipe_does_not_lose_the_model(tmp_path, rng):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    model = tmp_path / "model.skasc"
    # skasc fit ... | head -1
    proc = _popen_cli(
        "fit",
        str(data),
        "--model",
        str(model),
        "--epochs",
        "1",
        "--network",
        "cnn_baseline",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = proc.stdout.readline()
        proc.stdout.close()  # the reader has gone: every later write hits a broken pipe
        stderr = proc.stderr.read()
        proc.wait(timeout=300)
    finally:
        proc.kill()
    assert first.startswith("Fitting on 8 recordings")
    assert proc.returncode == 0, stderr
    assert "Broken pipe" not in stderr and "Traceback" not in stderr, stderr
    assert model.read_bytes()[:2] == b"PK"  # the saved zip archive


# ----------------------------------------------------------------------------- which
# errors are the user's: told by their class (skasc.exceptions), never by where they
# were raised
def _python_bug(args):
    return len(None)  # a TypeError raised by Python while skasc runs


def _numpy_bug(args):
    return np.zeros(4).reshape(3)  # a ValueError raised by numpy


def _bare_value_error(args):  # a check that forgot the family is a bug, loudly
    raise ValueError(
        "The 'n_mels' parameter of LogMelExtractor must be an int in the "
        "range [1, inf). Got 0 instead."
    )


@pytest.mark.parametrize(
    "command, error",
    [(_python_bug, TypeError), (_numpy_bug, ValueError), (_bare_value_error, ValueError)],
)
def test_a_bug_shows_its_traceback(monkeypatch, tmp_path, command, error):
    monkeypatch.setattr(cli, "cmd_predict", command)
    with pytest.raises(error):  # propagates: the interpreter prints the traceback
        cli.main(["predict", str(tmp_path / "m.skasc"), str(tmp_path)])


def test_an_assertion_inside_skasc_exits_1_with_a_traceback(tmp_model, tmp_path):
    """An AssertionError raised deep inside skasc (here: the model loader) is a bug."""
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(22050, np.float32), 22050)
    code = (
        "import sys, skasc.cli as c, skasc.persistence as p\n"
        "def load(path, **kwargs):\n"
        "    raise AssertionError('an invariant of skasc is broken')\n"
        "p.load = load\n"
        f"sys.exit(c.main(['predict', {str(tmp_model)!r}, {str(wav)!r}]))\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 1
    assert "Traceback" in out.stderr
    assert "AssertionError: an invariant of skasc is broken" in out.stderr


def test_a_skasc_error_is_one_line_whatever_raises_it(monkeypatch, tmp_path, capsys):
    from skasc.exceptions import InvalidParameterError

    def command(args):
        raise InvalidParameterError(
            "The 'n_mels' parameter of LogMelExtractor must be an int "
            "in the range [1, inf). Got 0 instead.\nmore detail"
        )

    monkeypatch.setattr(cli, "cmd_predict", command)
    assert cli.main(["predict", str(tmp_path / "m.skasc"), str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "skasc predict: error: The 'n_mels' parameter of LogMelExtractor must be an int in the "
        "range [1, inf). Got 0 instead."
    ]


def test_is_user_error_classifies_by_class():
    from skasc.datasets import DatasetError
    from skasc.frontend.audio import AudioFileError

    assert cli.is_user_error(AudioFileError("Audio file 'a.wav' does not exist."))
    assert cli.is_user_error(DatasetError("bad corpus"))
    assert cli.is_user_error(PermissionError(13, "Permission denied", "out.csv"))
    assert not cli.is_user_error(ValueError("raised outside skasc"))
    assert not cli.is_user_error(AssertionError())
    assert not cli.is_user_error(KeyboardInterrupt())


@pytest.fixture(scope="module")
def tmp_model(tmp_path_factory):
    """A small fitted pipeline (FrontEnd -> RecordingFusion of a logistic regression),
    saved: a real model file for commands that load one."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from skasc import FrontEnd, RecordingFusion, save

    rng = np.random.default_rng(0)
    X = [0.1 * rng.standard_normal(22050 * 2).astype(np.float32) * (1 + k % 2) for k in range(4)]
    pipe = Pipeline(
        [("frontend", FrontEnd()), ("fusion", RecordingFusion(LogisticRegression(), flatten=True))]
    )
    path = tmp_path_factory.mktemp("model") / "model.skasc"
    save(pipe.fit(X, ["quiet", "loud"] * 2), path)
    return path


def _csv_set(root, metadata: bytes | None = None):
    """A folder data set for ``skasc cv csv``: four tiny WAVs in two folds."""
    root.mkdir()
    rows = []
    for k, (label, fold) in enumerate([("bus", 1), ("park", 1), ("bus", 2), ("park", 2)]):
        sf.write(root / f"{label}-{k}.wav", np.zeros(8000, np.float32), 8000)
        rows.append(f"{label}-{k}.wav,{label},{fold}")
    text = "filename,label,fold\n" + "\n".join(rows) + "\n"
    (root / "metadata.csv").write_bytes(metadata if metadata is not None else text.encode())
    return root, text


def _forged_untrusted(model, target):
    import io
    import json
    import zipfile

    with zipfile.ZipFile(model) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(io.BytesIO(members["estimator.skops"])) as inner:
        files = {name: inner.read(name) for name in inner.namelist()}
    schema = json.loads(files.pop("schema.json"))
    stack = [schema]
    while stack:  # the FrontEnd's node names subprocess.Popen instead
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("__class__") == "FrontEnd":
                node.update(__module__="subprocess", __class__="Popen")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("schema.json", json.dumps(schema))
        for name, data in files.items():
            inner.writestr(name, data)
    members["estimator.skops"] = buffer.getvalue()
    manifest = json.loads(members["manifest.json"])
    manifest["member_sizes"]["estimator.skops"] = len(members["estimator.skops"])
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _stub_fit(error):
    class Stub:
        def fit(self, X, y):
            raise error

    return lambda args: Stub()


def _scenario(name, tmp_path, tmp_model, monkeypatch):
    """argv of a command that hits the documented error ``name``, and a fragment of
    its one line."""
    from skasc.exceptions import CheckpointError, TrainingDivergedError

    data = tmp_path / "data"
    data.mkdir()
    for k, label in enumerate(["quiet", "loud"]):
        sf.write(data / f"{label}{k + 1}.wav", np.zeros(22050 * 2, np.float32), 22050)
    model = str(tmp_model)
    if name == "CLIError":
        return ["predict", str(tmp_path / "missing.skasc"), str(data)], "model file not found"
    if name == "OSError":

        def load(path, **kwargs):
            raise PermissionError(13, "Permission denied", path)

        monkeypatch.setattr("skasc.persistence.load", load)
        return ["predict", model, str(data)], f"Permission denied: {model}"
    if name == "AudioFileError":
        (data / "broken3.wav").write_bytes(b"RIFF1234")
        return ["predict", model, str(data)], "broken3.wav' could not be read as audio"
    if name == "DatasetError":  # a UTF-16 metadata.csv (the fit labels CSV says it well too)
        root, text = _csv_set(tmp_path / "set")
        (root / "metadata.csv").write_bytes(text.encode("utf-16"))
        return ["cv", "csv", str(root), "--out", str(tmp_path / "out")], "is not UTF-8 text"
    if name == "ModelFileError":
        garbage = tmp_path / "garbage.skasc"
        garbage.write_bytes(b"not a zip archive")
        return ["info", str(garbage)], "is not a skasc model file"
    if name == "UntrustedTypeError":
        _forged_untrusted(tmp_model, tmp_path / "forged.skasc")
        return ["info", str(tmp_path / "forged.skasc")], "untrusted types ['subprocess.Popen']"
    if name == "InvalidParameterError":  # a net parameter skasc cv sets itself
        root, _ = _csv_set(tmp_path / "set")
        return (
            ["cv", "csv", str(root), "--out", str(tmp_path / "out"), "--net-param", "lr=0.5"],
            "The 'net_params' parameter of run_protocol sets 'lr' (set by lr (--lr))",
        )
    if name in ("CheckpointError", "TrainingDivergedError"):
        error = {
            "CheckpointError": CheckpointError("Cannot read the checkpoint 'c.pt'."),
            "TrainingDivergedError": TrainingDivergedError(
                "The training loss became NaN at epoch 1."
            ),
        }[name]
        monkeypatch.setattr(cli, "_build", _stub_fit(error))
        return ["fit", str(data), "--model", str(tmp_path / "m.skasc")], str(error)
    if name == "ExportError":
        pytest.importorskip("onnx")
        return ["export", model, str(tmp_path / "m.onnx")], "cannot be exported"
    if name == "SkascValueError":  # a timeline window off the segment grid
        return (
            [
                "predict",
                model,
                str(data / "quiet1.wav"),
                "--timeline",
                "--window",
                "3",
                "--hop",
                "2",
            ],
            "'window'=3 s is not on the segment grid",
        )
    raise AssertionError(name)


DOCUMENTED = [
    "CLIError",
    "OSError",
    "AudioFileError",
    "DatasetError",
    "ModelFileError",
    "UntrustedTypeError",
    "InvalidParameterError",
    "CheckpointError",
    "TrainingDivergedError",
    "ExportError",
    "SkascValueError",
]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_each_documented_error_exits_2_with_one_line(
    name, tmp_path, tmp_model, monkeypatch, capsys
):
    import skasc.exceptions

    argv, fragment = _scenario(name, tmp_path, tmp_model, monkeypatch)
    seen = []
    real = cli.is_user_error
    monkeypatch.setattr(cli, "is_user_error", lambda exc: seen.append(exc) or real(exc))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"skasc {argv[0]}: error: "), err
    assert fragment in err[0]
    expected = OSError if name == "OSError" else getattr(skasc.exceptions, name)
    assert type(seen[0]) is expected or (name == "OSError" and isinstance(seen[0], OSError))
    assert not (tmp_path / "out").exists()  # cv failed before writing anything


# ----------------------------------------------------------------------------- outputs
# never overwrite inputs (checked before any work, whatever the spelling)
def _outputs_case(case, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("a1.wav", "b1.wav"):
        (data / name).write_bytes(b"RIFF never read: the output check comes first")
    model = tmp_path / "m.skasc"
    model.write_bytes(b"never read: the output check comes first")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\na1.wav,a\nb1.wav,b\n")
    link = tmp_path / "link.wav"
    link.symlink_to(data / "a1.wav")
    m, d = str(model), str(data)
    return {
        "predict --out MODEL": (["predict", m, d, "--out", m], "--out", m, "the model file"),
        "predict --out RECORDING": (
            ["predict", m, d, "--out", f"{d}/a1.wav"],
            "--out",
            f"{d}/a1.wav",
            "the recording",
        ),
        "predict --out ./RECORDING": (
            ["predict", m, d, "--out", f"{d}/./b1.wav"],
            "--out",
            f"{d}/./b1.wav",
            "the recording",
        ),
        "fit --model RECORDING": (
            ["fit", d, "--model", f"{d}/a1.wav"],
            "--model",
            f"{d}/a1.wav",
            "the recording",
        ),
        "fit --model LINK TO RECORDING": (
            ["fit", d, "--model", str(link)],
            "--model",
            str(link),
            "the recording",
        ),
        "fit --model LABELS": (
            ["fit", d, "--labels", str(labels), "--model", str(labels)],
            "--model",
            str(labels),
            "the labels file",
        ),
        "export MODEL MODEL": (["export", m, m], "ONNX", m, "the model file"),
        "evaluate --figure RECORDING": (
            ["evaluate", m, d, "--figure", f"{d}/a1.wav"],
            "--figure",
            f"{d}/a1.wav",
            "the recording",
        ),
        "timeline --figure RECORDING": (
            ["predict", m, f"{d}/a1.wav", "--timeline", "--figure", f"{d}/a1.wav"],
            "--figure",
            f"{d}/a1.wav",
            "the recording",
        ),
        "timeline --out = --figure": (
            [
                "predict",
                m,
                f"{d}/a1.wav",
                "--timeline",
                "--out",
                str(tmp_path / "t.csv"),
                "--figure",
                str(tmp_path / "t.csv"),
            ],
            "--figure",
            str(tmp_path / "t.csv"),
            "the --out output",
        ),
    }[case]


@pytest.mark.parametrize(
    "case",
    [
        "predict --out MODEL",
        "predict --out RECORDING",
        "predict --out ./RECORDING",
        "fit --model RECORDING",
        "fit --model LINK TO RECORDING",
        "fit --model LABELS",
        "export MODEL MODEL",
        "evaluate --figure RECORDING",
        "timeline --figure RECORDING",
        "timeline --out = --figure",
    ],
)
def test_an_output_that_is_an_input_is_refused_before_any_work(case, tmp_path, capsys):
    argv, option, output, what = _outputs_case(case, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    started = time.perf_counter()
    assert cli.main(argv) == 2
    assert time.perf_counter() - started < 10.0  # nothing was loaded, read or trained
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(
        f"skasc {argv[0]}: error: cannot write {option} {output}: it is {what} "
    )
    assert err[0].endswith("an output never overwrites an input")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_predict_out_is_written_atomically(tmp_path, tmp_model, monkeypatch, capsys):
    """A failure while the CSV is written leaves the previous file as it was."""
    import csv as csv_module

    real_writer = csv_module.writer
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a1.wav", np.zeros(22050 * 2, np.float32), 22050)
    out = tmp_path / "preds.csv"
    out.write_text("the predictions of an earlier run\n")

    class HalfWriter:
        def __init__(self, fh):
            self.fh = fh

        def writerows(self, rows):
            self.fh.write("file,label\n")
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.csv, "writer", HalfWriter)
    assert cli.main(["predict", str(tmp_model), str(data), "--out", str(out)]) == 2
    assert out.read_text() == "the predictions of an earlier run\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.setattr(cli.csv, "writer", real_writer)
    capsys.readouterr()
    assert cli.main(["predict", str(tmp_model), str(data), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "file,label"


# ----------------------------------------------------------------------------- user errors
# are one line, before any training
def test_a_seed_numpy_cannot_take_is_refused_by_the_parser(tmp_path):
    out = run_cli(
        "fit", str(tmp_path), "--model", str(tmp_path / "m.skasc"), "--seed", "4294967296"
    )
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "expected an integer from 0 to 4294967295 (2**32 - 1), got '4294967296'" in out.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cv_on_a_cuda_device_without_cuda_is_one_line_before_training(tmp_path, capsys):
    root, _ = _csv_set(tmp_path / "set")
    argv = ["cv", "csv", str(root), "--out", str(tmp_path / "out"), "--device", "cuda"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and "The 'device' parameter of run_protocol is 'cuda', but this torch" in err[0]
        and "sees 0 CUDA device(s)" in err[0]
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--jobs", "0", "expected a non-zero integer (-1 for all cores), got '0'"),
        ("--seed", "-1", "expected an integer from 0 to 4294967295 (2**32 - 1), got '-1'"),
    ],
)
def test_jobs_and_seed_are_checked_by_the_parser(tmp_path, option, value, message):
    out = run_cli("fit", str(tmp_path), "--model", str(tmp_path / "m.skasc"), option, value)
    assert out.returncode == 2 and message in out.stderr
    assert out.stderr.strip().count("\n") == 0


def test_a_recording_whose_name_is_not_utf8_is_predicted(tmp_path, tmp_model, capsys):
    """The name is reported as the file system holds it, in the CSV too."""
    data = tmp_path / "data"
    data.mkdir()
    raw = os.fsencode(str(data)) + b"/caf\xe9.wav"
    sf.write(raw, np.zeros(22050 * 2, np.float32), 22050)
    out = tmp_path / "preds.csv"
    assert cli.main(["predict", str(tmp_model), str(data), "--out", str(out)]) == 0
    rows = out.read_bytes().splitlines()
    assert rows[0] == b"file,label" and rows[1].startswith(raw + b",")


def test_messages_print_labels_as_plain_strings(tmp_path, tmp_model, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("loud1.wav", "tram1.wav"):
        sf.write(data / name, np.zeros(22050 * 2, np.float32), 22050)
    assert cli.main(["evaluate", str(tmp_model), str(data)]) == 2
    assert capsys.readouterr().err.strip() == (
        "skasc evaluate: error: labels never seen in fit: ['tram']; the model knows "
        "['loud', 'quiet']"
    )
