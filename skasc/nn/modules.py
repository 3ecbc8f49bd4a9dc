"""Torch modules of Phan et al. (2019): the convolutional block, the attention
CRNN (sections 2.2-2.3) and the CNN baseline (section 4.4).

Shapes are batch-first and channels-first, ``(batch, K, M, T)`` with ``K``
channels (2: original and noise-subtracted), ``M`` frequency bands (64) and
``T`` frames (80 for a 2-s segment).  The modules return class *logits*; the
estimators in :mod:`skasc.nn.classifier` apply the softmax and the KL loss.

Reading of the paper
--------------------
* Each convolution is followed by ReLU and *then* batch normalisation, in the
  order section 2.2 states, then max pooling and dropout 0.25 (section 4.3).
* Section 2.2 says the 4x1 pooling has "a stride 1x1", Table 1 says 4x1 and
  the feature map shrinks ``M -> M/4``; only the 4x1 stride is consistent with
  the sizes, so we use it.
* The 2x2 kernel of the third convolution is even-sized; "SAME" padding then
  pads one more row/column after than before, as TensorFlow does (an explicit
  ``ZeroPad2d``, equivalent to torch's ``padding="same"`` without its warning).
* "A dropout rate of 0.1 was commonly applied to their [the GRUs'] inputs and
  outputs": dropout 0.1 before the first GRU layer, between the two layers
  and after the second one.
* Eq. (1), ``z_t = [h_b (+) h_f] W + b`` with ``W in R^{2H x 2H}``, is a
  linear layer on the concatenated GRU states, without a nonlinearity.
* Not in the paper: both networks start with :class:`InputStandardization`, a
  fixed per-(channel, band) affine map whose statistics the estimator sets from
  the training segments (identity until then), so that between-class mixing and
  the first convolution see zero-mean images (see docs/design.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .._validation import check_int, check_real
from ..exceptions import InvalidParameterError, SkascValueError
from .attention import SpatioTemporalAttentionPooling

__all__ = ["InputStandardization", "ConvBlock", "AttCRNN", "CNNBaseline"]


def _check_sizes(n_filters, kernel_sizes, owner):
    n_filters = tuple(n_filters)
    kernel_sizes = tuple(kernel_sizes)
    if len(n_filters) == 0:
        raise InvalidParameterError(
            f"The 'n_filters' parameter of {owner} must be a non-empty "
            f"sequence of ints. Got {n_filters!r} instead."
        )
    if len(kernel_sizes) != len(n_filters):
        raise InvalidParameterError(
            f"The 'kernel_sizes' parameter of {owner} must have one entry per layer "
            f"(len(n_filters)={len(n_filters)}). Got {kernel_sizes!r} instead."
        )
    for f in n_filters:
        check_int(f, "n_filters", owner, low=1)
    for k in kernel_sizes:
        check_int(k, "kernel_sizes", owner, low=1)
    return n_filters, kernel_sizes


class InputStandardization(nn.Module):
    """``(X - mean) / std`` per channel and band, with fixed (non-trained) statistics.

    The statistics are buffers, so they travel with the ``state_dict`` (model files,
    checkpoints, devices). They start as the identity (mean 0, std 1); the
    estimators of :mod:`skasc.nn.classifier` set them from the training segments
    with :meth:`set_statistics`. A ``state_dict`` written before this layer
    existed loads as the identity.

    Parameters
    ----------
    n_channels : int, default=2
        Input channels ``K``.
    n_bands : int, default=64
        Frequency bands ``M``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> norm = InputStandardization(n_channels=1, n_bands=2)
    >>> norm.set_statistics(np.array([[-40.0, -60.0]]), np.array([[10.0, 5.0]]))
    >>> norm(torch.full((1, 1, 2, 3), -50.0))[0, 0, :, 0]
    tensor([-1.,  2.])
    """

    mean: torch.Tensor  # buffers
    std: torch.Tensor

    def __init__(self, n_channels: int = 2, n_bands: int = 64):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_channels, n_bands, 1))
        self.register_buffer("std", torch.ones(n_channels, n_bands, 1))

    def set_statistics(self, mean, std) -> None:
        """Set the statistics from arrays of shape ``(n_channels, n_bands)``."""
        mean = np.asarray(mean, dtype=np.float32).reshape(self.mean.shape)
        std = np.asarray(std, dtype=np.float32).reshape(self.std.shape)
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise SkascValueError("Input statistics must be finite, with std > 0.")
        with torch.no_grad():  # checked on the host: no device reads
            self.mean.copy_(torch.from_numpy(mean))
            self.std.copy_(torch.from_numpy(std))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Standardise ``(batch, K, M, T)`` images."""
        return (X - self.mean) / self.std

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        present = [prefix + name in state_dict for name in ("mean", "std")]
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if not any(present):  # a state_dict from before this layer: keep the identity
            for name in ("mean", "std"):
                if prefix + name in missing_keys:
                    missing_keys.remove(prefix + name)


class ConvBlock(nn.Module):
    """Convolutional block of Table 1: (conv -> ReLU -> BN -> max-pool -> dropout) x 3.

    Convolutions use stride 1 and SAME padding, so time is never reduced; max
    pooling ``(pool_size, 1)`` acts on frequency only.

    Parameters
    ----------
    n_channels : int, default=2
        Input channels ``K``.
    n_filters : sequence of int, default=(64, 128, 256)
        Filters per convolutional layer.
    kernel_sizes : sequence of int, default=(5, 3, 2)
        Square kernel size per layer.
    pool_size : int, default=4
        Frequency pooling factor per layer (kernel and stride ``pool_size x 1``).
    dropout : float, default=0.25
        Dropout after each pooling layer.

    Examples
    --------
    >>> import torch
    >>> block = ConvBlock(n_filters=(4, 8, 8))
    >>> block(torch.zeros(3, 2, 64, 80)).shape
    torch.Size([3, 8, 1, 80])
    """

    def __init__(
        self,
        n_channels: int = 2,
        n_filters: Sequence[int] = (64, 128, 256),
        kernel_sizes: Sequence[int] = (5, 3, 2),
        pool_size: int = 4,
        dropout: float = 0.25,
    ):
        super().__init__()
        owner = type(self).__name__
        check_int(n_channels, "n_channels", owner, low=1)
        n_filters, kernel_sizes = _check_sizes(n_filters, kernel_sizes, owner)
        check_int(pool_size, "pool_size", owner, low=1)
        check_real(dropout, "dropout", owner, low=0.0, high=1.0, high_inclusive=False)
        layers: list[nn.Module] = []
        c_in = n_channels
        for c_out, k in zip(n_filters, kernel_sizes):
            if k % 2:
                layers.append(nn.Conv2d(c_in, c_out, kernel_size=k, padding=k // 2))
            else:  # SAME padding of an even kernel: one more row/column after
                before = (k - 1) // 2
                after = k - 1 - before
                layers += [
                    nn.ZeroPad2d((before, after, before, after)),
                    nn.Conv2d(c_in, c_out, kernel_size=k),
                ]
            layers += [
                nn.ReLU(),
                nn.BatchNorm2d(c_out),
                nn.MaxPool2d(kernel_size=(pool_size, 1), stride=(pool_size, 1)),
                nn.Dropout(dropout),
            ]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.n_channels = n_channels
        self.n_filters = n_filters
        self.pool_size = pool_size
        self.reduction = pool_size ** len(n_filters)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, K, M, T)`` to ``(batch, n_filters[-1], M / pool_size**3, T)``."""
        return self.layers(X)


def _check_input(module, X, check_frames=True):
    expected = (module.n_channels, module.n_bands, module.n_frames)
    ok = (
        X.ndim == 4
        and tuple(X.shape[1:3]) == expected[:2]
        and (not check_frames or X.shape[3] == expected[2])
    )
    if not ok:
        shape = (
            f"(batch, {expected[0]}, {expected[1]}, {expected[2] if check_frames else 'n_frames'})"
        )
        raise SkascValueError(
            f"{type(module).__name__} expects input of shape {shape}; got {tuple(X.shape)}."
        )


def _check_geometry(
    owner, n_channels, n_bands, n_frames, n_classes, n_filters, kernel_sizes, pool_size
):
    check_int(n_channels, "n_channels", owner, low=1)
    check_int(n_bands, "n_bands", owner, low=1)
    check_int(n_frames, "n_frames", owner, low=1)
    check_int(n_classes, "n_classes", owner, low=2)
    check_int(pool_size, "pool_size", owner, low=1)
    n_filters, kernel_sizes = _check_sizes(n_filters, kernel_sizes, owner)
    reduction = pool_size ** len(n_filters)
    if n_bands % reduction:
        raise InvalidParameterError(
            f"The 'n_bands' parameter of {owner} must be divisible by "
            f"pool_size**len(n_filters) = {reduction} (each pooling layer divides the "
            f"frequency axis by {pool_size}). Got {n_bands!r} instead."
        )
    return n_filters, kernel_sizes


class AttCRNN(nn.Module):
    """Attention CRNN of Phan et al. (2019), Fig. 1.

    ``ConvBlock`` -> reshape to ``T`` vectors of ``F = (M/64)*256`` features ->
    dropout 0.1 -> 2-layer bidirectional GRU (``H=128``, dropout 0.1 between
    layers) -> dropout 0.1 -> linear ``2H -> 2H`` (eq. 1) ->
    :class:`SpatioTemporalAttentionPooling` (eqs. 4-9) -> linear ``2H -> C``.

    With the paper's configuration (``K=2, M=64, T=80``, 19 classes) the
    network has 894,675 trainable parameters: conv 3,264 + 73,856 + 131,328,
    batch norm 128 + 256 + 512, GRU 2 layers x 2 directions x 148,224 (torch's
    GRU has two bias vectors per gate), eq. (1) 65,792, temporal attention
    16,512, spatial attention 5,248, output 4,883.

    Parameters
    ----------
    n_channels : int, default=2
        Input channels ``K``.
    n_bands : int, default=64
        Frequency bands ``M``; divisible by ``pool_size**len(n_filters)``.
    n_frames : int, default=80
        Frames ``T`` (fixed: the spatial attention reads rows of length ``T``).
    n_classes : int, default=19
        Number of classes (19 in LITIS Rouen).
    n_filters : sequence of int, default=(64, 128, 256)
        Filters of the three convolutional layers.
    kernel_sizes : sequence of int, default=(5, 3, 2)
        Kernel sizes of the three convolutional layers.
    pool_size : int, default=4
        Frequency pooling factor per layer.
    hidden_size : int, default=128
        GRU hidden size ``H``.
    n_rnn_layers : int, default=2
        Stacked bidirectional GRU layers.
    attention_size : int, default=64
        Size of the two attention scoring layers.
    conv_dropout : float, default=0.25
        Dropout in the convolutional block.
    rnn_dropout : float, default=0.1
        Dropout on the GRU inputs, between GRU layers and on the GRU outputs.
    mask_scale : float or "n_features", default=1.0
        Factor on the attention mask inside eq. (9); 1 is the paper's formula,
        ``"n_features"`` (2H) learns much faster (see
        :class:`~skasc.nn.SpatioTemporalAttentionPooling`).

    Examples
    --------
    >>> import torch
    >>> net = AttCRNN(n_filters=(4, 8, 8), hidden_size=8, attention_size=8, n_frames=10,
    ...               n_classes=3)
    >>> net(torch.zeros(5, 2, 64, 10)).shape, net.embed(torch.zeros(5, 2, 64, 10)).shape
    (torch.Size([5, 3]), torch.Size([5, 16]))
    """

    def __init__(
        self,
        n_channels: int = 2,
        n_bands: int = 64,
        n_frames: int = 80,
        n_classes: int = 19,
        n_filters: Sequence[int] = (64, 128, 256),
        kernel_sizes: Sequence[int] = (5, 3, 2),
        pool_size: int = 4,
        hidden_size: int = 128,
        n_rnn_layers: int = 2,
        attention_size: int = 64,
        conv_dropout: float = 0.25,
        rnn_dropout: float = 0.1,
        mask_scale: float | str = 1.0,
    ):
        super().__init__()
        owner = type(self).__name__
        n_filters, kernel_sizes = _check_geometry(
            owner, n_channels, n_bands, n_frames, n_classes, n_filters, kernel_sizes, pool_size
        )
        check_int(hidden_size, "hidden_size", owner, low=1)
        check_int(n_rnn_layers, "n_rnn_layers", owner, low=1)
        check_real(rnn_dropout, "rnn_dropout", owner, low=0.0, high=1.0, high_inclusive=False)
        self.n_channels, self.n_bands, self.n_frames = n_channels, n_bands, n_frames
        self.n_classes = n_classes
        self.input_norm = InputStandardization(n_channels, n_bands)
        self.conv = ConvBlock(n_channels, n_filters, kernel_sizes, pool_size, conv_dropout)
        n_rnn_in = (n_bands // self.conv.reduction) * n_filters[-1]
        self.rnn_in_dropout = nn.Dropout(rnn_dropout)
        self.rnn = nn.GRU(
            n_rnn_in,
            hidden_size,
            num_layers=n_rnn_layers,
            batch_first=True,
            bidirectional=True,
            dropout=rnn_dropout if n_rnn_layers > 1 else 0.0,
        )
        self.rnn_out_dropout = nn.Dropout(rnn_dropout)
        self.projection = nn.Linear(2 * hidden_size, 2 * hidden_size)  # eq. (1)
        self.pooling = SpatioTemporalAttentionPooling(
            2 * hidden_size, n_frames, attention_size, mask_scale
        )
        self.classifier = nn.Linear(2 * hidden_size, n_classes)
        self.embedding_size = 2 * hidden_size

    def _sequence(self, X: torch.Tensor) -> torch.Tensor:
        _check_input(self, X)
        o = self.conv(self.input_norm(X))  # (batch, C, M/64, T)
        b, c, m, t = o.shape
        o = o.permute(0, 3, 1, 2).reshape(b, t, c * m)  # T vectors o_t in R^F
        # the GRU runs in float32 (TF32 on CUDA) even under autocast: cuDNN would cast it
        # to fp16, where most of its gradients at initialisation underflow to zero
        with torch.autocast(o.device.type, enabled=False):
            Z, _ = self.rnn(self.rnn_in_dropout(o.float()))
        return self.projection(self.rnn_out_dropout(Z))  # eq. (1): (batch, T, 2H)

    def embed(self, X: torch.Tensor) -> torch.Tensor:
        """Pooled feature vector ``x`` of eq. (9), shape ``(batch, 2H)``."""
        return self.pooling(self._sequence(X))

    def attention(self, X: torch.Tensor) -> dict:
        """Attention weights: ``temporal (batch, T)``, ``spatial (batch, 2H)``,
        ``mask (batch, 2H, T)``."""
        _, a_tem, a_spa, A = self.pooling(self._sequence(X), return_attention=True)
        return {"temporal": a_tem, "spatial": a_spa, "mask": A}

    def forward(self, X: torch.Tensor, **kwargs) -> torch.Tensor:
        """Class logits ``(batch, n_classes)`` (no softmax).

        Extra keyword arguments (skorch forwards fit parameters) are ignored.
        """
        return self.classifier(self.embed(X))


class CNNBaseline(nn.Module):
    """CNN baseline of section 4.4: ``ConvBlock`` -> global max pooling -> linear.

    Global max pooling over frequency and time gives a ``n_filters[-1]``
    (256) vector.  Any number of frames is accepted; ``n_frames`` is kept for
    symmetry with :class:`AttCRNN`.  With the paper's configuration and 19
    classes the network has 214,227 trainable parameters.

    Parameters
    ----------
    n_channels, n_bands, n_frames, n_classes, n_filters, kernel_sizes, pool_size, conv_dropout
        As for :class:`AttCRNN`.

    Examples
    --------
    >>> import torch
    >>> net = CNNBaseline(n_filters=(4, 8, 8), n_classes=3)
    >>> net(torch.zeros(5, 2, 64, 80)).shape, net.embed(torch.zeros(5, 2, 64, 80)).shape
    (torch.Size([5, 3]), torch.Size([5, 8]))
    """

    def __init__(
        self,
        n_channels: int = 2,
        n_bands: int = 64,
        n_frames: int = 80,
        n_classes: int = 19,
        n_filters: Sequence[int] = (64, 128, 256),
        kernel_sizes: Sequence[int] = (5, 3, 2),
        pool_size: int = 4,
        conv_dropout: float = 0.25,
    ):
        super().__init__()
        owner = type(self).__name__
        n_filters, kernel_sizes = _check_geometry(
            owner, n_channels, n_bands, n_frames, n_classes, n_filters, kernel_sizes, pool_size
        )
        self.n_channels, self.n_bands, self.n_frames = n_channels, n_bands, n_frames
        self.n_classes = n_classes
        self.input_norm = InputStandardization(n_channels, n_bands)
        self.conv = ConvBlock(n_channels, n_filters, kernel_sizes, pool_size, conv_dropout)
        self.classifier = nn.Linear(n_filters[-1], n_classes)
        self.embedding_size = n_filters[-1]

    def embed(self, X: torch.Tensor) -> torch.Tensor:
        """Globally max-pooled feature vector, shape ``(batch, n_filters[-1])``."""
        _check_input(self, X, check_frames=False)
        return torch.amax(self.conv(self.input_norm(X)), dim=(2, 3))

    def forward(self, X: torch.Tensor, **kwargs) -> torch.Tensor:
        """Class logits ``(batch, n_classes)``; extra keyword arguments are ignored."""
        return self.classifier(self.embed(X))
