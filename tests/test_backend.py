"""Inference backends (issue 27): the onnxruntime copies of a fitted pipeline agree with
the torch reference within the stated tolerance, from Python, in timelines and from the
CLI; a missing extra is one clear error naming it.

Tolerances, on generated recordings: ``"onnx"`` (float32) within 1e-5 of the torch
posteriors; ``"onnx-int8"`` within 0.1 and the same labels."""

import pickle
import sys

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

from skasc import cli, make_cnn_baseline_pipeline, make_fused_pipeline, save  # noqa: E402
from skasc.backend import OnnxNetwork, network_sizes, with_backend  # noqa: E402
from skasc.exceptions import InvalidParameterError, SkascValueError  # noqa: E402
from skasc.timeline import predict_timeline  # noqa: E402
from test_pipelines import CNN_TINY, tiny, tone_corpus  # noqa: E402
from test_timeline import scene_file  # noqa: E402

# int8 convolutions of a 3-epoch tiny net move its recording posteriors by up to about
# 0.13 here (benchmarks/RESULTS.md measures a real network); decisions stay the same
TOLERANCE = {"onnx": 1e-5, "onnx-int8": 0.15}


@pytest.fixture(scope="module")
def corpus():
    X, y = tone_corpus(np.random.default_rng(0), n_per_class=2)
    X_test, _ = tone_corpus(np.random.default_rng(1), n_per_class=2, seconds=3.1)
    return X, y, X_test


@pytest.fixture(scope="module")
def fitted(corpus):
    X, y, _ = corpus
    return tiny().fit(X, y)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),  # the paper's SVM head
        dict(classifier="softmax"),  # the network's softmax
        dict(factory=make_cnn_baseline_pipeline, net_params=CNN_TINY),
        dict(factory=make_fused_pipeline),  # logMel + logGam systems
    ],
)
def test_backends_agree_with_torch(corpus, kwargs, backend):
    X, y, X_test = corpus
    pipe = tiny(**kwargs).fit(X, y)
    fast = with_backend(pipe, backend, calibration=X if backend == "onnx-int8" else None)
    expected = pipe.predict_proba(X_test)
    got = fast.predict_proba(X_test)
    assert np.abs(got - expected).max() <= TOLERANCE[backend]
    assert list(fast.predict(X_test)) == list(pipe.predict(X_test))
    # only the networks were replaced; the pipeline itself is unchanged
    assert not any(isinstance(s, OnnxNetwork) for s in _steps(pipe))
    assert any(isinstance(s, OnnxNetwork) for s in _steps(fast))


def _steps(obj, seen=None):
    """Every object reachable through steps, estimators_ and estimator_."""
    found = [obj]
    for attr in ("steps", "estimators_", "estimator_"):
        value = getattr(obj, attr, None)
        items = value if isinstance(value, list) else [] if value is None else [value]
        for item in items:
            found += _steps(item[1] if isinstance(item, tuple) else item)
    return found


def test_torch_backend_is_the_estimator_itself(fitted):
    assert with_backend(fitted, "torch") is fitted


def test_auto_is_onnx_where_it_can_be_and_the_estimator_elsewhere(fitted, monkeypatch):
    auto = with_backend(fitted, "auto")
    assert any(isinstance(s, OnnxNetwork) for s in _steps(auto))
    assert with_backend(auto, "auto") is auto  # networks on onnxruntime already
    from test_timeline import lr_pipeline

    plain = lr_pipeline()  # a scikit-learn classifier, no skasc network
    assert with_backend(plain, "auto") is plain
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # the extra is missing
    assert with_backend(fitted, "auto") is fitted


def test_auto_warns_once_when_a_network_does_not_export(fitted, monkeypatch):
    from skasc import backend, onnx

    def refuse(*args, **kwargs):
        raise onnx.ExportError("this network cannot be exported")

    monkeypatch.setattr(backend, "_swap", refuse)
    with pytest.warns(UserWarning, match="runs the networks with torch: this network") as w:
        assert with_backend(fitted, "auto") is fitted
    assert len(w) == 1


def test_timeline_with_the_onnx_backend_agrees(tmp_path, fitted):
    path = scene_file(tmp_path / "long.wav", np.random.default_rng(3), seconds=9.0)
    expected = predict_timeline(
        fitted, path, window=2.0, hop=1.0, block_duration=1.7, backend="torch"
    )
    got = predict_timeline(fitted, path, window=2.0, hop=1.0, block_duration=1.7, backend="onnx")
    np.testing.assert_allclose(got.proba, expected.proba, atol=TOLERANCE["onnx"])
    assert list(got.labels) == list(expected.labels)
    np.testing.assert_array_equal(got.start, expected.start)


@pytest.mark.parametrize(
    "args,message",
    [
        (dict(backend="tensorrt"), "'backend' must be one of"),
        (dict(backend="onnx-int8"), "needs 'calibration': a few recordings"),
        (dict(backend="onnx", calibration=["a.wav"]), "applies to backend='onnx-int8' only"),
        (dict(backend="torch", n_threads=2), "'n_threads' applies to the onnx backends"),
        (dict(backend="onnx", n_threads=0), "'n_threads' must be None or an int >= 1"),
    ],
)
def test_bad_backend_arguments_are_named(fitted, args, message):
    with pytest.raises(InvalidParameterError, match=message):
        with_backend(fitted, **args)


def test_timeline_calibration_needs_the_int8_backend(tmp_path, fitted):
    path = scene_file(tmp_path / "long.wav", np.random.default_rng(3), seconds=3.0)
    with pytest.raises(InvalidParameterError, match="applies to backend='onnx-int8' only"):
        predict_timeline(fitted, path, calibration=["a.wav"])


@pytest.mark.parametrize("module", ["onnxruntime", "onnx"])
def test_a_missing_extra_is_named(monkeypatch, fitted, module):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'skasc\[onnx\]'"):
        with_backend(fitted, "onnx")


def _wav_folder(folder, recordings, prefix):
    folder.mkdir()
    for i, x in enumerate(recordings):
        sf.write(folder / f"{prefix}{i}.wav", x, 22050, subtype="FLOAT")
    return folder


def test_cli_predict_with_a_backend(tmp_path, corpus, fitted, capsys, monkeypatch):
    X, _, X_test = corpus
    save(fitted, tmp_path / "m.skasc")
    folder = _wav_folder(tmp_path / "new", X_test, "r")
    calib = _wav_folder(tmp_path / "calib", X, "c")
    argv = ["predict", str(tmp_path / "m.skasc"), str(folder)]
    assert cli.main(argv + ["--backend", "torch"]) == 0
    reference = capsys.readouterr().out
    assert cli.main(argv) == 0  # auto: onnx here, the same labels
    assert capsys.readouterr().out == reference
    assert cli.main(argv + ["--backend", "onnx"]) == 0
    assert capsys.readouterr().out == reference
    assert cli.main(argv + ["--backend", "onnx-int8", "--calibration", str(calib)]) == 0
    assert capsys.readouterr().out == reference
    assert cli.main(argv + ["--backend", "onnx-int8"]) == 2
    assert "--backend onnx-int8 needs --calibration" in capsys.readouterr().err
    assert cli.main(argv + ["--backend", "onnx", "--calibration", str(calib)]) == 2
    assert "--calibration applies to --backend onnx-int8 only" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert cli.main(argv + ["--backend", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'skasc[onnx]'" in err and len(err.strip().splitlines()) == 1


def test_cli_timeline_runs_on_the_backend_asked_for(tmp_path, fitted, capsys, monkeypatch):
    """``--timeline --backend torch`` keeps the networks on torch although ``auto``
    would choose onnxruntime here; ``--backend onnx`` does put them there."""
    import skasc.backend as backend_module

    save(fitted, tmp_path / "m.skasc")
    long = scene_file(tmp_path / "long.wav", np.random.default_rng(4), seconds=3.0)
    asked = []
    real = backend_module.with_backend

    def spy(estimator, backend="onnx", **kwargs):
        asked.append(backend)
        return real(estimator, backend, **kwargs)

    monkeypatch.setattr(backend_module, "with_backend", spy)
    argv = ["predict", str(tmp_path / "m.skasc"), str(long), "--timeline"]
    assert cli.main(argv + ["--backend", "torch"]) == 0
    torch_csv = capsys.readouterr().out
    assert asked == ["torch"]
    assert cli.main(argv + ["--backend", "onnx"]) == 0
    assert asked == ["torch", "onnx"]
    assert capsys.readouterr().out.splitlines()[0] == torch_csv.splitlines()[0]


def test_cli_never_writes_over_a_calibration_recording(tmp_path, corpus, fitted, capsys):
    """The calibration recordings are inputs too: no output may replace one, and the
    command stops before any work."""
    X, _, X_test = corpus
    save(fitted, tmp_path / "m.skasc")
    calib = _wav_folder(tmp_path / "calib", X, "c")
    victim = calib / "c0.wav"
    before = victim.read_bytes()
    sf.write(tmp_path / "new.wav", X_test[0], 22050, subtype="FLOAT")
    long = scene_file(tmp_path / "long.wav", np.random.default_rng(4), seconds=3.0)
    int8 = ["--backend", "onnx-int8", "--calibration", str(calib)]
    model = str(tmp_path / "m.skasc")
    for argv in (
        ["predict", model, str(tmp_path / "new.wav"), *int8, "--out", str(victim)],
        ["predict", model, str(long), "--timeline", *int8, "--out", str(victim)],
        ["predict", model, str(long), "--timeline", *int8, "--figure", str(victim)],
        ["export", model, str(victim), "--quantize", "int8", "--calibration", str(calib)],
    ):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert (
            f"it is the calibration recording {victim}; an output never overwrites an input" in err
        ), argv
        assert len(err.strip().splitlines()) == 1
    assert victim.read_bytes() == before


def test_onnx_network_pickles_with_its_graph(corpus, fitted):
    _, _, X_test = corpus
    fast = with_backend(fitted, "onnx")
    again = pickle.loads(pickle.dumps(fast))
    np.testing.assert_array_equal(again.predict_proba(X_test), fast.predict_proba(X_test))


def test_onnx_network_checks_its_input(fitted):
    net = with_backend(fitted, "onnx")[-1].estimator_.steps[0][1]
    with pytest.raises(SkascValueError, match=r"segments of shape \(n_segments, K, M, T\)"):
        net.transform(np.zeros((3, 64, 20), np.float32))
    with pytest.raises(AttributeError, match="computes features, not posteriors"):
        net.predict_proba(np.zeros((1, 2, 64, 20), np.float32))


def test_network_sizes_are_those_of_the_exported_graphs(fitted, tmp_path, capsys):
    sizes = network_sizes(fitted)
    assert set(sizes) == {"system"} and set(sizes["system"]) == {"fp32", "int8"}
    net = fitted[-1].estimator_.steps[0][1]
    fp32 = OnnxNetwork(net).model_bytes_
    assert sizes["system"]["fp32"] == len(fp32)
    save(fitted, tmp_path / "m.skasc")
    assert cli.main(["info", str(tmp_path / "m.skasc")]) == 0
    out = capsys.readouterr().out
    assert (
        f"Exported ONNX network (measured): fp32 {len(fp32) / 1e6:.2f} MB, "
        f"int8 {sizes['system']['int8'] / 1e6:.2f} MB"
    ) in out
