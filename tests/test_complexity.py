"""skasc.complexity: counts checked against hand formulas and torch's own numbers."""

import numpy as np
import pytest
import torch

from skasc import complexity
from skasc.nn import AttCRNN, CNNBaseline


def _conv_macs(n_channels, n_bands, n_frames, n_filters, kernel_sizes, pool):
    """Sum over the conv layers of C_out * M * T * C_in * k^2 (SAME padding; pooling
    over frequency divides M by ``pool`` after each layer)."""
    macs, c_in, m = 0, n_channels, n_bands
    for c_out, k in zip(n_filters, kernel_sizes):
        macs += c_out * m * n_frames * c_in * k * k
        c_in, m = c_out, m // pool
    return macs


def _gru_counts(n_in, hidden, layers, steps):
    """Bidirectional GRU: per layer and direction, 3 gates of (I x H + H x H) weights and
    2 x 3 x H biases; MACs per step are the weights' count."""
    params = macs = 0
    for layer in range(layers):
        i = n_in if layer == 0 else 2 * hidden
        weights = 3 * (i * hidden + hidden * hidden)
        params += 2 * (weights + 6 * hidden)
        macs += 2 * steps * weights
    return params, macs


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # the paper's network: M=64, T=80, K=2, 64/128/256 filters, 2 x BiGRU(128)
        {
            "n_bands": 64,
            "n_frames": 20,
            "n_filters": (4, 8, 16),
            "hidden_size": 8,
            "attention_size": 4,
            "n_rnn_layers": 1,
            "n_channels": 1,
        },
    ],
)
def test_att_crnn_counts_match_the_hand_formulas(kwargs):
    module = AttCRNN(n_classes=7, **kwargs)
    K, M, T = module.n_channels, module.n_bands, module.n_frames
    filters = kwargs.get("n_filters", (64, 128, 256))
    H, L = kwargs.get("hidden_size", 128), kwargs.get("n_rnn_layers", 2)
    report = complexity(module)
    assert report.macs["conv"] == _conv_macs(K, M, T, filters, (5, 3, 2), 4)
    gru_params, gru_macs = _gru_counts((M // 64) * filters[-1], H, L, T)
    assert report.parameters["gru"] == gru_params == sum(p.numel() for p in module.rnn.parameters())
    assert report.macs["gru"] == gru_macs
    assert report.macs["projection"] == T * (2 * H) ** 2
    assert report.macs["classifier"] == 2 * H * 7
    assert report.total_parameters == sum(p.numel() for p in module.parameters())
    assert "other" not in report.parameters
    assert report.size_bytes("fp32") == 4 * report.total_parameters
    assert report.size_bytes("fp16") == 2 * report.total_parameters
    assert report.size_bytes("int8") == report.total_parameters
    assert report.macs_per_second == report.macs_per_segment / 2.0
    assert module.training  # left as it was


def test_cnn_baseline_has_no_recurrent_part():
    report = complexity(CNNBaseline(n_classes=5))
    assert set(report.parameters) == {"conv", "classifier"}
    assert report.macs["conv"] == _conv_macs(2, 64, 80, (64, 128, 256), (5, 3, 2), 4)


def test_fitted_pipeline_counts_the_svm_and_info_prints_it(tmp_path, capsys):
    from skasc import make_att_crnn_pipeline, make_fused_pipeline

    rng = np.random.default_rng(0)
    X = [0.1 * rng.standard_normal(22050 * 2).astype(np.float32) for _ in range(6)]
    y = ["a", "b", "c"] * 2
    tiny = {
        "module__n_filters": (4, 8, 8),
        "module__hidden_size": 8,
        "module__attention_size": 8,
        "device": "cpu",
    }
    pipe = make_att_crnn_pipeline(
        max_epochs=1, lr=1e-2, random_state=0, verbose=0, net_params=tiny
    ).fit(X, y)
    report = complexity(pipe)
    svm = pipe.named_steps["fusion"].estimator_.named_steps["svm"]
    n_models = len(svm.calibrated_classifiers_)
    assert report.macs["svm"] == n_models * 3 * 16  # one dot product per class, 2H = 16
    assert report.parameters["svm"] == n_models * (3 * 16 + 3 + 2 * 3)
    assert report.parameters["scaler"] == 2 * 16
    # the SVM replaces the softmax layer: it is not part of the system
    assert "classifier" not in report.parameters and "classifier" not in report.macs
    module = pipe.named_steps["fusion"].estimator_.named_steps["net"].module_
    alone = complexity(module)
    assert report.total_parameters == (
        alone.total_parameters
        - alone.parameters["classifier"]
        + report.parameters["svm"]
        + report.parameters["scaler"]
    )
    half = complexity(pipe, segment_duration=1.0)
    assert half.macs_per_second == half.macs_per_segment
    from skasc import save
    from skasc.cli import main

    save(pipe, tmp_path / "m.skasc")
    assert main(["info", str(tmp_path / "m.skasc"), "--classes"]) == 0
    out = capsys.readouterr().out
    assert "classes ['a', 'b', 'c']" in out
    assert (
        f"| **total** | **{report.total_parameters:,}** | **{report.macs_per_segment:,}** |" in out
    )
    fused = make_fused_pipeline(
        max_epochs=1, lr=1e-2, random_state=0, verbose=0, net_params=tiny
    ).fit(X, y)
    both = complexity(fused)
    assert sorted(both) == ["loggam", "logmel"]
    assert both["logmel"].macs_per_segment == report.macs_per_segment


def test_not_a_network_is_refused():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(TypeError, match="expects a skasc network"):
        complexity(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="a Pipeline of \\['standardscaler'"):
        complexity(make_pipeline(StandardScaler(), LogisticRegression()))


@pytest.fixture(scope="module")
def default_svm_system():
    """The default system (Att-CRNN, SVM head), tiny, fitted for one epoch."""
    from skasc import make_att_crnn_pipeline

    rng = np.random.default_rng(0)
    X = [0.1 * rng.standard_normal(22050 * 2).astype(np.float32) for _ in range(6)]
    tiny = {
        "module__n_filters": (4, 8, 8),
        "module__hidden_size": 8,
        "module__attention_size": 8,
        "device": "cpu",
    }
    return make_att_crnn_pipeline(
        max_epochs=1, lr=1e-2, random_state=0, verbose=0, net_params=tiny
    ).fit(X, ["a", "b", "c"] * 2)


@pytest.mark.parametrize("network", ["att_crnn", "cnn_baseline"])
def test_svm_head_counts_the_network_parts_as_the_network_alone(network):
    """With the SVM head the count runs the network's ``embed``, not ``forward``: each
    part's MACs must still be the network's own (a regression: they were all 0 and
    the whole count went to 'other')."""
    from skasc._complexity import _network_counts

    module = (
        AttCRNN(n_classes=3, n_filters=(4, 8, 8), hidden_size=8, attention_size=8)
        if network == "att_crnn"
        else CNNBaseline(n_classes=3, n_filters=(4, 8, 8))
    )
    alone = complexity(module)
    _, macs = _network_counts(module, (2, 64, 80), embed_only=True)
    assert macs == {part: n for part, n in alone.macs.items() if part != "classifier"}
    assert all(n > 0 for n in macs.values())


def test_info_of_the_default_svm_system_counts_macs_per_part(default_svm_system, tmp_path, capsys):
    from skasc import load, save
    from skasc.cli import main

    module = default_svm_system.named_steps["fusion"].estimator_.named_steps["net"].module_
    alone = complexity(module)
    path = tmp_path / "m.skasc"
    save(default_svm_system, path)
    for model in (default_svm_system, load(path)):
        report = complexity(model)
        for part in ("conv", "gru", "projection", "attention"):
            assert report.macs[part] == alone.macs[part] > 0, part
        assert "other" not in report.macs
        assert report.macs_per_segment == (
            alone.macs_per_segment
            - alone.macs["classifier"]
            + report.macs["scaler"]
            + report.macs["svm"]
        )
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    for part in ("conv", "gru", "projection", "attention"):
        row = f"| {part} | {alone.parameters[part]:,} | {alone.macs[part]:,} |"
        assert row in out, row


def test_the_table_shows_every_part_that_has_macs():
    from skasc import ComplexityReport

    report = ComplexityReport("system", parameters={"conv": 10}, macs={"conv": 5, "other": 7})
    table = report.to_table()
    assert "| other | 0 | 7 |" in table and "| **total** | **10** | **12** |" in table


def test_temperature_scaling_counts_one_parameter_per_calibrated_model(default_svm_system):
    """Platt's sigmoid has two parameters per class; temperature scaling one in all."""
    from sklearn.base import clone

    rng = np.random.default_rng(0)
    X = [0.1 * rng.standard_normal(22050 * 2).astype(np.float32) for _ in range(6)]
    pipe = clone(default_svm_system).set_params(fusion__estimator__svm__method="temperature")
    pipe.fit(X, ["a", "b", "c"] * 2)
    n_models = len(pipe.named_steps["fusion"].estimator_.named_steps["svm"].calibrated_classifiers_)
    assert complexity(pipe).parameters["svm"] == n_models * (3 * 16 + 3 + 1)
