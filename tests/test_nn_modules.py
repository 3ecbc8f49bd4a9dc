"""Tests of skasc.nn.modules and skasc.nn.attention (shapes, eqs. 4-9, sizes)."""

import warnings

import numpy as np
import pytest
import torch

from skasc.nn import AttCRNN, CNNBaseline, ConvBlock, SpatioTemporalAttentionPooling

torch.set_num_threads(1)

TINY = dict(n_filters=(4, 8, 8), hidden_size=8, attention_size=8, n_frames=8, n_classes=3)


def test_conv_block_shapes_keep_time_and_pool_frequency():
    block = ConvBlock(n_channels=2, n_filters=(4, 8, 16))
    out = block(torch.randn(3, 2, 64, 80))
    assert out.shape == (3, 16, 1, 80)
    out = ConvBlock(n_filters=(4, 8, 16))(torch.randn(2, 2, 128, 7))
    assert out.shape == (2, 16, 2, 7)


def test_conv_block_layer_order_conv_relu_bn_pool_dropout():
    block = ConvBlock(n_filters=(4, 8, 8))
    kinds = [type(m).__name__ for m in block.layers]
    assert kinds[:5] == ["Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d", "Dropout"]
    assert kinds[5:10] == ["Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d", "Dropout"]
    # even 2x2 kernel: TensorFlow SAME padding (0 before, 1 after) then a valid conv
    assert kinds[10:12] == ["ZeroPad2d", "Conv2d"]
    assert block.layers[10].padding == (0, 1, 0, 1)
    assert block.layers[3].kernel_size == (4, 1) and block.layers[3].stride == (4, 1)
    assert block.layers[4].p == 0.25


def test_even_kernel_same_padding_matches_torch_same():
    block = ConvBlock(n_channels=3, n_filters=(5,), kernel_sizes=(2,), pool_size=1, dropout=0.0)
    ref = torch.nn.Conv2d(3, 5, 2, padding="same")
    ref.load_state_dict(block.layers[1].state_dict())
    x = torch.randn(2, 3, 6, 7)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's own note on even kernels
        ours = block.layers[1](block.layers[0](x))
        theirs = ref(x)
    torch.testing.assert_close(ours, theirs)


def test_attention_weights_are_distributions_and_mask_is_outer_product():
    torch.manual_seed(0)
    pool = SpatioTemporalAttentionPooling(n_features=6, n_steps=5, attention_size=4)
    Z = torch.randn(3, 5, 6)
    x, a_tem, a_spa, A = pool(Z, return_attention=True)
    torch.testing.assert_close(a_tem.sum(1), torch.ones(3))
    torch.testing.assert_close(a_spa.sum(1), torch.ones(3))
    assert (a_tem > 0).all() and (a_spa > 0).all()
    torch.testing.assert_close(A, torch.einsum("bs,bt->bst", a_spa, a_tem))
    torch.testing.assert_close(pool(Z), x)


@pytest.mark.parametrize("mask_scale, factor", [(1.0, 1.0), ("n_features", 4.0), (80.0, 80.0)])
def test_attention_matches_direct_numpy_formula(mask_scale, factor):
    """Eqs. (4)-(9) computed independently in numpy from the layer weights."""
    torch.manual_seed(1)
    pool = SpatioTemporalAttentionPooling(
        n_features=4, n_steps=3, attention_size=5, mask_scale=mask_scale
    )
    Z = torch.randn(2, 3, 4)
    x = pool(Z).detach().numpy()
    P = {k: v.detach().numpy().astype(np.float64) for k, v in pool.state_dict().items()}
    Zn = Z.numpy().astype(np.float64)

    def softmax(e):
        e = np.exp(e - e.max())
        return e / e.sum()

    for b in range(2):
        Zb = Zn[b].T  # (2H, T): columns z_t, rows z~_s
        f = [
            P["temporal_score.weight"][0]
            @ np.tanh(P["temporal_hidden.weight"] @ Zb[:, t] + P["temporal_hidden.bias"])
            for t in range(3)
        ]
        g = [
            P["spatial_score.weight"][0]
            @ np.tanh(P["spatial_hidden.weight"] @ Zb[s] + P["spatial_hidden.bias"])
            for s in range(4)
        ]
        A = np.outer(softmax(np.array(g)), softmax(np.array(f)))
        np.testing.assert_allclose(x[b], np.tanh(factor * A * Zb).sum(axis=1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "mask_scale, error", [(0.0, ValueError), ("2H", ValueError), (None, TypeError)]
)
def test_attention_rejects_bad_mask_scale(mask_scale, error):
    with pytest.raises(error, match="'mask_scale' parameter of SpatioTemporalAttentionPooling"):
        SpatioTemporalAttentionPooling(n_features=4, n_steps=3, mask_scale=mask_scale)


def test_attention_rejects_wrong_shape():
    pool = SpatioTemporalAttentionPooling(n_features=6, n_steps=5, attention_size=4)
    with pytest.raises(ValueError, match=r"expects Z of shape \(batch, 5, 6\); got \(3, 6, 5\)"):
        pool(torch.randn(3, 6, 5))


def test_att_crnn_shapes_embed_attention():
    net = AttCRNN(**TINY)
    X = torch.randn(5, 2, 64, 8)
    assert net(X).shape == (5, 3)
    assert net.embed(X).shape == (5, 16)
    maps = net.attention(X)
    assert maps["temporal"].shape == (5, 8)
    assert maps["spatial"].shape == (5, 16)
    assert maps["mask"].shape == (5, 16, 8)
    net.eval()
    # forward ignores extra keyword arguments (skorch may forward fit params)
    torch.testing.assert_close(net(X, sample_weight=None), net(X))
    torch.testing.assert_close(net(X), net.classifier(net.embed(X)))


def test_att_crnn_rnn_input_size_follows_frequency_reduction():
    net = AttCRNN(n_bands=128, **TINY)
    assert net.rnn.input_size == 2 * 8  # (M / 64) * n_filters[-1]
    assert net.rnn.num_layers == 2 and net.rnn.bidirectional and net.rnn.dropout == 0.1


def test_bad_input_shape_message():
    net = AttCRNN(**TINY)
    with pytest.raises(
        ValueError,
        match=r"AttCRNN expects input of shape \(batch, 2, 64, 8\); "
        r"got \(4, 2, 64, 9\)",
    ):
        net(torch.randn(4, 2, 64, 9))
    with pytest.raises(ValueError, match=r"AttCRNN expects input of shape"):
        net(torch.randn(2, 64, 8))
    cnn = CNNBaseline(n_filters=(4, 8, 8), n_classes=3)
    with pytest.raises(
        ValueError,
        match=r"CNNBaseline expects input of shape "
        r"\(batch, 2, 64, n_frames\); got \(4, 1, 64, 9\)",
    ):
        cnn(torch.randn(4, 1, 64, 9))


def test_constructor_validation():
    with pytest.raises(
        ValueError,
        match=r"'n_bands' parameter of AttCRNN must be divisible "
        r"by pool_size\*\*len\(n_filters\) = 64.*Got 48",
    ):
        AttCRNN(n_bands=48)
    with pytest.raises(
        ValueError,
        match=r"'kernel_sizes' parameter of CNNBaseline must have "
        r"one entry per layer",
    ):
        CNNBaseline(kernel_sizes=(5, 3))
    with pytest.raises(
        ValueError,
        match=r"'n_classes' parameter of AttCRNN must be an int in "
        r"the range \[2, inf\). Got 1 instead",
    ):
        AttCRNN(n_classes=1)
    with pytest.raises(TypeError, match=r"'hidden_size' parameter of AttCRNN must be an int"):
        AttCRNN(hidden_size=12.5)


def test_cnn_baseline_is_global_max_of_conv_block():
    net = CNNBaseline(n_filters=(4, 8, 8), n_classes=3).eval()
    X = torch.randn(5, 2, 64, 11)  # any number of frames
    feats = net.embed(X)
    assert feats.shape == (5, 8)
    torch.testing.assert_close(feats, net.conv(X).flatten(2).max(dim=2).values)
    assert net(X).shape == (5, 3)


def _conv_bn(cin, cout, k):
    return k * k * cin * cout + cout + 2 * cout


def _gru(n_in, H):
    return 3 * (n_in * H + H * H + 2 * H)  # per direction and layer, two biases per gate


def test_parameter_count_paper_configuration():
    K, M, T, C, H, att = 2, 64, 80, 19, 128, 64
    conv = _conv_bn(K, 64, 5) + _conv_bn(64, 128, 3) + _conv_bn(128, 256, 2)
    F = (M // 64) * 256
    rnn = 2 * _gru(F, H) + 2 * _gru(2 * H, H)
    eq1 = 2 * H * 2 * H + 2 * H
    attention = (att * 2 * H + att + att) + (att * T + att + att)
    out = 2 * H * C + C
    expected = conv + rnn + eq1 + attention + out
    net = AttCRNN()
    assert sum(p.numel() for p in net.parameters()) == expected == 894675
    cnn = CNNBaseline()
    assert sum(p.numel() for p in cnn.parameters()) == conv + 256 * C + C == 214227


def test_the_gru_runs_in_float32_under_autocast():
    # mixed precision (bf16 autocast) must not cast the GRU: under fp16/bf16 most of its
    # gradients at initialisation underflow; the layers around it do run in bf16
    from skasc.nn import AttCRNN

    module = AttCRNN(n_classes=3, n_frames=10, n_filters=(4, 8, 8), hidden_size=8, attention_size=4)
    seen = {}

    def record(name):
        def hook(mod, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            seen[name] = (inputs[0].dtype, out.dtype)

        return hook

    module.rnn.register_forward_hook(record("rnn"))
    module.projection.register_forward_hook(record("projection"))
    x = torch.randn(4, 2, 64, 10)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = module(x)
    assert seen["rnn"] == (torch.float32, torch.float32)
    assert all(p.dtype == torch.float32 for p in module.rnn.parameters())
    assert seen["projection"][1] == torch.bfloat16  # autocast still applies after it
    logits.float().sum().backward()
    grads = [p.grad for p in module.rnn.parameters()]
    assert all(g is not None and g.dtype == torch.float32 for g in grads)
