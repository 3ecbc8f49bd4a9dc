import os
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
    return subprocess.run([sys.executable, "-m", "skasc", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_help_does_not_import_torch():
    code = ("import sys; import skasc, skasc.cli; skasc.cli.build_parser().format_help(); "
            "print('torch' in sys.modules, 'librosa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False False"


@pytest.mark.parametrize("name, label", [
    ("metro-paris12.wav", "metro-paris"), ("train-tgv3.flac", "train-tgv"),
    ("/a/b/bus_01.wav", "bus"), ("avion1.wav", "avion"), ("park.wav", "park"),
    ("bus__1.wav", "bus"), ("bus - 2.wav", "bus"), ("12.wav", "12"),
])
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
            x = 0.3 * np.sin(2 * np.pi * f * (1 + 0.01 * k) * t) + 0.02 * rng.standard_normal(t.size)
            sf.write(folder / f"{label}{k + 1}.wav", x.astype(np.float32), sr, subtype="PCM_16")


def test_fit_predict_evaluate_round_trip(tmp_path, rng):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    model = tmp_path / "model.skasc"
    out = run_cli("fit", str(data), "--model", str(model), "--epochs", "2", "--lr", "1e-3",
                  "--network", "cnn_baseline", "--seed", "0")
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
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # A background job of a non-interactive shell starts with SIGINT ignored, and the
    # child would inherit that: give it the default disposition, as a terminal has.
    return subprocess.Popen([sys.executable, "-m", "skasc", *args], env=env, text=True,
                            preexec_fn=_default_sigint, **kwargs)


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_during_fit_exits_130_and_keeps_the_old_model(tmp_path, rng):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    model = tmp_path / "model.skasc"
    model.write_bytes(b"the model of an earlier fit")
    proc = _popen_cli("fit", str(data), "--model", str(model), "--epochs", "1000",
                      "--network", "cnn_baseline", stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
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
        f"skasc fit: interrupted; the model file {model} was left as it was"], stderr
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


def test_interrupted_fit_with_checkpoint_dir_resumes_on_rerun(tmp_path, rng, monkeypatch,
                                                             capsys):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    model, checkpoints = tmp_path / "model.skasc", tmp_path / "ckpt"
    args = ["fit", str(data), "--model", str(model), "--epochs", "3", "--network",
            "cnn_baseline", "--checkpoint-dir", str(checkpoints)]
    with monkeypatch.context() as patch:
        _interrupt_in_epoch(patch, 3)
        assert cli.main(args) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"skasc fit: interrupted; the model file {model} was not written; rerun the same "
        f"command to resume from the last epoch saved in {checkpoints}"]
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
def test_missing_output_folder_fails_first_naming_the_given_path(tmp_path, rng, capsys,
                                                                 command):
    data = tmp_path / "data"
    _write_corpus(data, rng)
    target = os.path.join(str(tmp_path), "no-such-folder", "out.file")
    model = tmp_path / "model.skasc"
    model.write_bytes(b"never read: the output path is checked first")
    argv = {"fit": ["fit", str(data), "--model", target, "--epochs", "1"],
            "predict": ["predict", str(model), str(data), "--out", target],
            "evaluate": ["evaluate", str(model), str(data), "--figure", target]}[command]
    option = {"fit": "--model", "predict": "--out", "evaluate": "--figure"}[command]
    started = time.perf_counter()
    assert cli.main(argv) == 2
    assert time.perf_counter() - started < 10.0  # nothing was loaded or trained
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"skasc {command}: error: cannot write {option} {target}: the folder "
        f"{os.path.dirname(target)} does not exist"]
    assert captured.out == ""  # no work started


def test_output_path_that_is_a_folder_or_in_a_read_only_folder(tmp_path):
    with pytest.raises(cli.CLIError, match=r"cannot write --model .*: it is a folder"):
        cli.check_output_path(str(tmp_path), "--model")
    (tmp_path / "file").write_text("")
    with pytest.raises(cli.CLIError, match=r"cannot write --model .*m.skasc: .*file is not a "
                                           r"folder"):
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
    proc = _popen_cli("fit", str(data), "--model", str(model), "--epochs", "1",
                      "--network", "cnn_baseline", stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
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


def _skasc_code(source: str):
    """Functions compiled as part of the skasc package (their frames are skasc's)."""
    namespace = {"__name__": "skasc._cli_test_code"}
    exec(compile(source, "skasc/_cli_test_code.py", "exec"), namespace)
    return namespace


SKASC_CODE = _skasc_code('''
import numpy as np

def internal_bug(args):
    return len(None)  # a TypeError raised by Python inside skasc: a bug

def numpy_bug(args):
    return np.zeros(4).reshape(3)  # a ValueError raised by numpy: a bug

def documented_check(args):
    raise ValueError("The 'n_mels' parameter of LogMelExtractor must be an int in the "
                     "range [1, inf). Got 0 instead.\\nmore detail")

def rewrapped_bug(args):
    try:  # as FrontEnd renames a step's error: same type, message edited, a bug all the same
        np.zeros(4).reshape(3)
    except ValueError as exc:
        raise ValueError(f"Recording 3: {exc}") from exc

def wrapped_check(args):
    try:
        int("x")
    except ValueError as exc:
        raise TypeError("Recording 3 must be a path or an array; got 'x'.") from exc
''')


@pytest.mark.parametrize("name, error", [("internal_bug", TypeError),
                                         ("numpy_bug", ValueError),
                                         ("rewrapped_bug", ValueError)])
def test_a_bug_shows_its_traceback(monkeypatch, tmp_path, name, error):
    monkeypatch.setattr(cli, "cmd_predict", SKASC_CODE[name])
    with pytest.raises(error):  # propagates: the interpreter prints the traceback
        cli.main(["predict", str(tmp_path / "m.skasc"), str(tmp_path)])


def test_a_bug_exits_1_with_a_traceback_in_a_real_process(tmp_path):
    code = ("import sys, skasc.cli as c\n"
            "ns = {'__name__': 'skasc._bug'}\n"
            "exec(compile('def f(args):\\n    return len(None)\\n', 'skasc/_bug.py', 'exec'), ns)\n"
            "c.cmd_predict = ns['f']\n"
            "sys.exit(c.main(['predict', 'm.skasc', '.']))\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=str(tmp_path), timeout=120)
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "TypeError: object of type 'NoneType' has no len()" \
        in out.stderr


@pytest.mark.parametrize("name, message", [
    ("documented_check", "The 'n_mels' parameter of LogMelExtractor must be an int in the "
                         "range [1, inf). Got 0 instead."),
    ("wrapped_check", "Recording 3 must be a path or an array; got 'x'.")])
def test_skasc_checks_are_one_line_user_errors(monkeypatch, tmp_path, capsys, name, message):
    monkeypatch.setattr(cli, "cmd_predict", SKASC_CODE[name])
    assert cli.main(["predict", str(tmp_path / "m.skasc"), str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"skasc predict: error: {message}"]


def test_documented_error_classes_and_file_errors_are_user_errors(tmp_path, capsys):
    from skasc.frontend.audio import AudioFileError
    from skasc.datasets import DatasetError

    assert cli.is_user_error(AudioFileError("Audio file 'a.wav' does not exist."))
    assert cli.is_user_error(DatasetError("bad corpus"))
    assert cli.is_user_error(PermissionError(13, "Permission denied", "out.csv"))
    assert not cli.is_user_error(ValueError("raised outside skasc"))
    assert not cli.is_user_error(KeyboardInterrupt())
    garbage = tmp_path / "model.skasc"
    garbage.write_bytes(b"not a zip archive")
    assert cli.main(["predict", str(garbage), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(garbage) in err


@pytest.mark.parametrize("option, value, message", [
    ("--jobs", "0", "expected a non-zero integer (-1 for all cores), got '0'"),
    ("--seed", "-1", "expected an integer >= 0, got '-1'")])
def test_jobs_and_seed_are_checked_by_the_parser(tmp_path, option, value, message):
    out = run_cli("fit", str(tmp_path), "--model", str(tmp_path / "m.skasc"), option, value)
    assert out.returncode == 2 and message in out.stderr
    assert out.stderr.strip().count("\n") == 0


def test_loaded_models_forget_the_cache_folders_their_file_names(tmp_path):
    """A model file from elsewhere decides no folder that predict writes to."""
    from sklearn.base import clone

    from sklearn.pipeline import Pipeline

    from skasc import FrontEnd, make_fused_pipeline

    fused = make_fused_pipeline(feature_cache=str(tmp_path / "elsewhere"))
    systems = fused.named_steps["fusion"]
    # as if fitted, with a (legacy) per-system front end in every fitted system
    systems.estimators_ = [Pipeline([("frontend", clone(fused.named_steps["frontend"])),
                                     *est.steps]) for _, est in systems.estimators]
    cli._without_stored_folders(fused)
    fronts = [step for system in [fused] + systems.estimators_
              for _, step in system.steps if isinstance(step, FrontEnd)]
    assert len(fronts) == 3 and all(front.memory is None for front in fronts)
