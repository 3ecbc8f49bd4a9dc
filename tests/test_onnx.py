"""ONNX export (issue 14): the exported graph and the onnxruntime predictor give the
fitted pipeline's posteriors, steps that cannot be exported are named, and the
metadata is read as data."""

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

import onnx  # noqa: E402

from skasc import (  # noqa: E402
    cli,
    make_cnn_baseline_pipeline,
    make_fused_pipeline,
    save,
)
from skasc.exceptions import InvalidParameterError  # noqa: E402
from skasc.onnx import ExportError, OnnxPredictor, export_onnx  # noqa: E402
from test_pipelines import CNN_TINY, TINY, tiny, tone_corpus  # noqa: E402


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    X, y = tone_corpus(rng, n_per_class=2)
    X_test, _ = tone_corpus(np.random.default_rng(1), n_per_class=1, seconds=3.1)
    return X, y, X_test


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),  # the paper: min-max, calibrated SVM
        dict(calibration=3, feature_scaling="standard"),  # out-of-fold ensemble of SVMs
        dict(feature_scaling=None),  # passthrough before the SVM
        dict(classifier="softmax"),  # the network's own softmax
        dict(factory=make_cnn_baseline_pipeline, net_params=CNN_TINY),
    ],
)
def test_onnx_posteriors_equal_the_pipelines(tmp_path, corpus, kwargs):
    X, y, X_test = corpus
    pipe = tiny(**kwargs).fit(X, y)
    export_onnx(pipe, tmp_path / "m.onnx")
    predictor = OnnxPredictor(tmp_path / "m.onnx")
    features = pipe[0].transform(X_test)
    np.testing.assert_allclose(
        predictor.predict_proba_segments(np.concatenate(list(features))),
        pipe[-1].predict_proba_segments(features),
        atol=1e-4,
    )
    np.testing.assert_allclose(
        predictor.predict_proba(X_test), pipe.predict_proba(X_test), atol=1e-4
    )
    assert list(predictor.predict(X_test)) == list(pipe.predict(X_test))
    assert list(predictor.classes_) == list(pipe.classes_)
    # the graph alone: segment images in, posteriors out, any batch size
    model = onnx.load(tmp_path / "m.onnx")
    assert [i.name for i in model.graph.input] == ["segments"]
    assert [o.name for o in model.graph.output] == ["probabilities"]


def test_the_fusion_rule_and_temperature_travel_in_the_metadata(tmp_path, corpus):
    X, y, X_test = corpus
    pipe = tiny().set_params(fusion__rule="mean", fusion__temperature=2.5).fit(X, y)
    export_onnx(pipe, tmp_path / "m.onnx")
    predictor = OnnxPredictor(tmp_path / "m.onnx")
    assert (predictor.rule, predictor.temperature) == ("mean", 2.5)
    np.testing.assert_allclose(
        predictor.predict_proba(X_test), pipe.predict_proba(X_test), atol=1e-4
    )
    product = tiny().fit(X, y).predict_proba(X_test)
    assert not np.allclose(product, pipe.predict_proba(X_test), atol=1e-3)


def test_the_front_end_travels_in_the_metadata(tmp_path, corpus):
    X, y, _ = corpus
    from skasc import MinStatsDenoiser

    pipe = tiny().fit(X, y)
    pipe.set_params(frontend__denoiser=MinStatsDenoiser(floor=0.2))
    export_onnx(pipe, tmp_path / "m.onnx")
    predictor = OnnxPredictor(tmp_path / "m.onnx")
    assert predictor.frontend.segmenter.segment_duration == 0.5
    assert predictor.frontend.denoiser.floor == 0.2
    assert type(predictor.frontend.extractor).__name__ == "LogMelExtractor"


class Opaque(BaseEstimator, TransformerMixin):
    """A step skl2onnx has no converter for."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def test_steps_that_cannot_be_exported_are_named(tmp_path, corpus):
    X, y, _ = corpus
    fused = make_fused_pipeline(
        max_epochs=1, batch_size=16, random_state=0, verbose=0, net_params=TINY
    )
    with pytest.raises(
        ExportError,
        match=r"Step 'fusion' \(SystemFusion\) cannot be "
        r"exported.*each system",
    ):
        export_onnx(fused, tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="not fitted"):
        export_onnx(tiny(), tmp_path / "m.onnx")
    pipe = tiny().set_params(fusion__estimator__scaler=Opaque()).fit(X, y)
    with pytest.raises(
        ExportError,
        match=r"Step fusion.estimator_\['scaler'\] \(Opaque\) "
        r"cannot be exported by skl2onnx",
    ):
        export_onnx(pipe, tmp_path / "m.onnx")
    from skasc import FeatureStack, GammatoneExtractor, LogMelExtractor

    stacked = (
        tiny()
        .fit(X, y)
        .set_params(
            frontend__extractor=FeatureStack(
                [("logmel", LogMelExtractor()), ("loggam", GammatoneExtractor())]
            )
        )
    )
    with pytest.raises(
        ExportError,
        match=r"Step frontend.extractor \(FeatureStack\) cannot "
        r"be exported",
    ):
        export_onnx(stacked, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def _rewrite_metadata(src, dst, change):
    model = onnx.load(src)
    meta = json.loads(model.metadata_props[0].value)
    change(meta)
    model.metadata_props[0].value = json.dumps(meta)
    onnx.save(model, dst)


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda m: m["frontend"].update(loader={"class": "os.system", "params": {}}),
            "frontend step 'loader' is not one of",
        ),
        (
            lambda m: m["frontend"]["segmenter"]["params"].update(segment_duration=[1, 2]),
            "non-scalar parameters",
        ),
        (lambda m: m["frontend"]["segmenter"]["params"].update(evil=1), "unexpected keyword"),
        (lambda m: m.update(columns=[0, 99]), "inconsistent"),
        (lambda m: m.update(format=7), "unknown metadata format 7"),
        (lambda m: m.update(floor="0"), "'floor' metadata"),
        (lambda m: m.update(columns=[0, 1]), "do not match the graph's output"),
        (lambda m: m.update(columns=[0, 0, 1]), "inconsistent"),
        (lambda m: m.update(classes=[["a"], "b", "c"]), "inconsistent"),
        (lambda m: m.clear() or m.update(), "unknown metadata format None"),
    ],
)
def test_tampered_metadata_is_refused_as_data(tmp_path, corpus, change, message):
    X, y, _ = corpus
    pipe = tiny(classifier="softmax").fit(X, y)
    export_onnx(pipe, tmp_path / "m.onnx")
    _rewrite_metadata(tmp_path / "m.onnx", tmp_path / "bad.onnx", change)
    with pytest.raises(ValueError, match=message):
        OnnxPredictor(tmp_path / "bad.onnx")


def test_cli_export(tmp_path, corpus, capsys):
    X, y, X_test = corpus
    pipe = tiny().fit(X, y)
    save(pipe, tmp_path / "m.skasc")
    assert cli.main(["export", str(tmp_path / "m.skasc"), str(tmp_path / "m.onnx")]) == 0
    assert "Wrote" in capsys.readouterr().out
    np.testing.assert_allclose(
        OnnxPredictor(tmp_path / "m.onnx").predict_proba(X_test),
        pipe.predict_proba(X_test),
        atol=1e-4,
    )
    assert cli.main(["export", str(tmp_path / "m.skasc"), str(tmp_path / "no" / "m.onnx")]) == 2
    assert "cannot write ONNX" in capsys.readouterr().err


def test_metadata_that_is_not_a_json_object_is_refused(tmp_path, corpus):
    X, y, _ = corpus
    export_onnx(tiny(classifier="softmax").fit(X, y), tmp_path / "m.onnx")
    model = onnx.load(tmp_path / "m.onnx")
    for value, message in (("[1]", "not a JSON object"), ("{", "is not JSON")):
        model.metadata_props[0].value = value
        onnx.save(model, tmp_path / "bad.onnx")
        with pytest.raises(ValueError, match=message):
            OnnxPredictor(tmp_path / "bad.onnx")


@pytest.mark.parametrize("content", [b"not an onnx file", b""])
def test_a_file_that_is_not_onnx_names_the_file(tmp_path, content):
    from skasc.exceptions import ModelFileError

    path = tmp_path / "not-onnx-file"
    path.write_bytes(content)
    with pytest.raises(
        ModelFileError,
        match=r"not-onnx-file is not an ONNX model onnxruntime "
        r"can load \(",
    ):
        OnnxPredictor(path)


def test_each_opset_domain_is_imported_once(tmp_path, corpus):
    # onnx.compose.merge_models lists both models' imports; onnxruntime's quantization
    # tools refuse a model that imports the default domain twice
    X, y, _ = corpus
    export_onnx(tiny().fit(X, y), tmp_path / "m.onnx")
    domains = [imp.domain for imp in onnx.load(tmp_path / "m.onnx").opset_import]
    assert len(domains) == len(set(domains))


def test_int8_export_is_quantized_and_agrees(tmp_path, corpus):
    X, y, X_test = corpus
    pipe = tiny().fit(X, y)
    export_onnx(pipe, tmp_path / "q.onnx", quantize="int8", calibration=X)
    ops = {node.op_type for node in onnx.load(tmp_path / "q.onnx").graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    predictor = OnnxPredictor(tmp_path / "q.onnx", n_threads=1)
    # a 3-epoch tiny net's int8 convolutions move its posteriors by up to about 0.12
    # here (benchmarks/RESULTS.md measures a real network); decisions stay the same
    assert np.abs(predictor.predict_proba(X_test) - pipe.predict_proba(X_test)).max() <= 0.15
    assert list(predictor.predict(X_test)) == list(pipe.predict(X_test))
    with pytest.raises(InvalidParameterError, match="needs 'calibration': a few recordings"):
        export_onnx(pipe, tmp_path / "x.onnx", quantize="int8")
    with pytest.raises(
        InvalidParameterError, match="'quantize' of export_onnx must be None or 'int8'"
    ):
        export_onnx(pipe, tmp_path / "x.onnx", quantize="fp16", calibration=X)
    with pytest.raises(InvalidParameterError, match="applies to int8 only"):
        export_onnx(pipe, tmp_path / "x.onnx", calibration=X)


def test_cli_export_int8(tmp_path, corpus, capsys):
    import soundfile as sf

    X, y, X_test = corpus
    pipe = tiny().fit(X, y)
    save(pipe, tmp_path / "m.skasc")
    (tmp_path / "calib").mkdir()
    for i, x in enumerate(X):
        sf.write(tmp_path / "calib" / f"c{i}.wav", x, 22050, subtype="FLOAT")
    argv = ["export", str(tmp_path / "m.skasc"), str(tmp_path / "q.onnx"), "--quantize", "int8"]
    assert cli.main(argv) == 2
    assert "--quantize int8 needs --calibration" in capsys.readouterr().err
    assert cli.main(argv + ["--calibration", str(tmp_path / "calib")]) == 0
    assert "int8 convolutions" in capsys.readouterr().out
    assert list(OnnxPredictor(tmp_path / "q.onnx").predict(X_test)) == list(pipe.predict(X_test))


def test_the_exported_network_pools_before_relu_and_batch_norm(tmp_path, corpus):
    X, y, _ = corpus
    export_onnx(tiny(classifier="softmax").fit(X, y), tmp_path / "m.onnx")
    ops = [
        node.op_type
        for node in onnx.load(tmp_path / "m.onnx").graph.node
        if node.op_type in ("Conv", "MaxPool", "Relu", "BatchNormalization")
    ]
    assert ops[:4] == ["Conv", "MaxPool", "Relu", "BatchNormalization"]
