"""The pooled form of the ConvBlock (issue 27) computes the block's function bit for bit,
whatever the signs of the batch-norm scales."""

import pytest
import torch

from skasc.nn.inference import PooledConvBlock
from skasc.nn.modules import AttCRNN, CNNBaseline, ConvBlock


def _randomise_batch_norm(block, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in block.layers:
            if isinstance(layer, torch.nn.BatchNorm2d):
                n = layer.weight.numel()
                weight = torch.randn(n, generator=g)  # about half negative
                weight[0], weight[-1] = -weight[0].abs(), weight[-1].abs()  # both signs
                layer.weight.copy_(weight)
                layer.bias.copy_(torch.randn(n, generator=g))
                layer.running_mean.copy_(torch.randn(n, generator=g))
                layer.running_var.copy_(torch.rand(n, generator=g) + 0.1)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_filters=(4, 8, 8)),
        dict(n_filters=(6, 5), kernel_sizes=(4, 3), pool_size=2),
        dict(n_filters=(3,), kernel_sizes=(2,), pool_size=8),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_pooled_block_equals_the_block_bit_for_bit(kwargs, seed):
    torch.manual_seed(seed)
    block = ConvBlock(**kwargs).eval()
    _randomise_batch_norm(block, seed)
    signs = torch.cat(
        [layer.weight for layer in block.layers if isinstance(layer, torch.nn.BatchNorm2d)]
    )
    assert (signs < 0).any() and (signs > 0).any()
    x = torch.randn(5, 2, 64, 12) * 10
    pooled = PooledConvBlock.from_block(block)
    with torch.inference_mode():
        assert torch.equal(pooled(x), block(x))
    # a copy: the block itself is unchanged
    assert all(not isinstance(layer, type(pooled.layers[0])) for layer in block.layers)


def test_all_positive_scales_need_no_sign():
    block = ConvBlock(n_filters=(4, 8), kernel_sizes=(5, 3)).eval()
    pooled = PooledConvBlock.from_block(block)
    assert all(layer.sign is None for layer in pooled.layers)


def test_other_layouts_are_not_rewritten():
    assert PooledConvBlock.from_block(torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3))) is None
    assert PooledConvBlock.from_block(None) is None


@pytest.mark.parametrize(
    "module",
    [
        AttCRNN(n_filters=(4, 8, 8), hidden_size=8, attention_size=8, n_classes=3),
        CNNBaseline(n_filters=(4, 8, 8), n_classes=3),
    ],
)
def test_networks_with_the_pooled_block_give_the_same_outputs(module):
    module = module.eval()
    _randomise_batch_norm(module.conv, 3)
    x = torch.randn(4, 2, 64, 80) * 10
    with torch.inference_mode():
        expected = module(x)
        module.conv = PooledConvBlock.from_block(module.conv)
        assert torch.equal(module(x), expected)
