"""Inference-only forms of the networks' layers: the same function, cheaper to run.

:class:`PooledConvBlock` computes what a :class:`~skasc.nn.modules.ConvBlock` in
eval mode computes, with each max-pooling moved before its ReLU and batch norm.
The ONNX export (:mod:`skasc.onnx`) writes the networks with it: ReLU and batch
norm then see a quarter of the values, and in int8 the pooling runs on the
quantized convolution's output, where onnxruntime keeps it in integers.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["PooledConvBlock"]

_LAYER = (nn.Conv2d, nn.ReLU, nn.BatchNorm2d, nn.MaxPool2d, nn.Dropout)


class _PooledLayer(nn.Module):
    """``bn(relu(sign * pool(conv(pad(x)))))`` with the conv's filters times ``sign``."""

    sign: torch.Tensor | None  # a buffer

    def __init__(
        self, pad: nn.Module | None, conv: nn.Conv2d, bn: nn.BatchNorm2d, pool: nn.MaxPool2d
    ) -> None:
        super().__init__()
        sign = torch.where(bn.weight.detach() < 0, -1.0, 1.0)
        conv = copy.deepcopy(conv)
        with torch.no_grad():
            conv.weight.mul_(sign.view(-1, 1, 1, 1))
            if conv.bias is not None:
                conv.bias.mul_(sign)
        self.pad = pad if pad is not None else nn.Identity()
        self.conv, self.pool, self.bn = conv, pool, copy.deepcopy(bn)
        # a constant only where some channel's batch-norm scale is negative
        self.register_buffer("sign", sign.view(1, -1, 1, 1) if bool((sign < 0).any()) else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv(self.pad(x)))
        return self.bn(torch.relu(x if self.sign is None else x * self.sign))


class PooledConvBlock(nn.Module):
    """A ConvBlock in eval mode with each max-pooling before its ReLU and batch norm.

    A layer of the block computes ``pool(bn(relu(conv(x))))`` (dropout is the
    identity in eval mode). ReLU commutes with max-pooling, and so does batch
    norm's per-channel map ``a * r + b`` where ``a >= 0``; where ``a < 0`` it turns
    a maximum into a minimum, so those channels' filters are negated before the
    pooling (``max(-z) = -min(z)``, exact in floating point) and the sign is
    restored after it. The maximum picks the same element either way, so the
    output equals the block's bit for bit.

    Build it with :meth:`from_block`; it holds copies, the block is not changed.

    Examples
    --------
    >>> from skasc.nn.modules import ConvBlock
    >>> block = ConvBlock(n_filters=(4, 8, 8)).eval()
    >>> x = torch.randn(3, 2, 64, 80)
    >>> bool(torch.equal(PooledConvBlock.from_block(block)(x), block(x)))
    True
    """

    def __init__(self, layers: list[_PooledLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    @classmethod
    def from_block(cls, block: nn.Module | None) -> PooledConvBlock | None:
        """The pooled form of ``block``, or None when its layers are not a
        ConvBlock's (``[ZeroPad2d] Conv2d ReLU BatchNorm2d MaxPool2d Dropout``, repeated)."""
        layers, i, out = list(getattr(block, "layers", ())), 0, []
        while i < len(layers):
            pad = layers[i] if isinstance(layers[i], nn.ZeroPad2d) else None
            i += pad is not None
            group = layers[i : i + len(_LAYER)]
            if len(group) < len(_LAYER) or not all(
                isinstance(layer, kind) for layer, kind in zip(group, _LAYER)
            ):
                return None
            conv, _, bn, pool, _ = group
            out.append(_PooledLayer(pad, conv, bn, pool))
            i += len(_LAYER)
        return cls(out).eval() if out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, K, M, T)`` as the block does."""
        for layer in self.layers:
            x = layer(x)
        return x
