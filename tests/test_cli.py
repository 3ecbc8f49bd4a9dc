import os
import subprocess
import sys

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
])
def test_label_from_filename(name, label):
    assert cli.label_from_filename(name) == label


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
