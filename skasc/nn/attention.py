"""Spatio-temporal attention pooling (Phan et al., 2019, section 2.3, eqs. 4-9).

Reading of the paper
--------------------
Eqs. (6)-(7) write the scoring functions as ``f(z) = tanh(z^T W_att + b_att)``
and section 4.3 says "both the spatial and temporal attention layers have the
same size of 64".  A score must be a scalar per time step (eq. 4) and per
feature row (eq. 5), so we read "an attention layer of size 64" as a one-hidden-
layer scoring MLP in the style of Bahdanau et al.::

    f(z_t)  = v^T  tanh(W_att  z_t  + b_att),   W_att  in R^{64 x 2H}, v  in R^64
    f~(z~_s) = v~^T tanh(W~_att z~_s + b~_att), W~_att in R^{64 x T},  v~ in R^64

``v`` has no bias: a constant added to every score cancels in the softmax.

Scale: the mask entries sum to one over all ``2H x T`` cells, so on average
``A_st = 1 / (2H T)`` and ``x_s ~ a_spa_s * sum_t a_tem_t Z_st`` is small; the
network compensates by growing ``Z`` (the linear layer of eq. 1) and the
output weights.  A large ``Z`` can saturate the temporal scorer's ``tanh``,
which makes ``a_tem`` close to uniform (seen in ``examples/plot_attention.py``
after a short, high-learning-rate training).

``mask_scale`` (default 1: eq. 9 as printed) multiplies the mask inside the
``tanh``. ``mask_scale="n_features"`` (``2H``) makes the spatial weights average
one, so ``x_s`` is an attention-weighted mean of ``Z_s`` scaled by a relative
spatial gain, as in ordinary attention pooling; docs/design.md gives the
measurements that made it the factories' default.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_int, check_real
from ..exceptions import InvalidParameterError, SkascValueError

__all__ = ["SpatioTemporalAttentionPooling"]


class SpatioTemporalAttentionPooling(nn.Module):
    """Pool a recurrent output ``Z`` with a spatial x temporal attention mask.

    Temporal weights ``a_tem`` (eq. 4) are a softmax over the ``T`` time steps
    of scores computed from each column ``z_t`` of ``Z``; spatial weights
    ``a_spa`` (eq. 5) are a softmax over the ``2H`` feature rows of scores
    computed from each row ``z~_s``.  The mask is their outer product
    ``A = a_spa (x) a_tem`` (eq. 8) and the pooled vector is
    ``x_s = sum_t tanh(A_st Z_st)`` (eq. 9).

    Parameters
    ----------
    n_features : int, default=256
        Number of features per time step, ``2H`` (256 for the paper's ``H=128``).
    n_steps : int, default=80
        Number of time steps ``T`` (80 frames for a 2-s segment).  The spatial
        scorer reads whole rows of length ``T``, so ``T`` is fixed.
    attention_size : int, default=64
        Hidden size of both scoring MLPs (section 4.3).
    mask_scale : float or "n_features", default=1.0
        Factor on the mask inside eq. (9)'s ``tanh``: 1 is the paper's formula;
        ``"n_features"`` means ``2H`` (spatial weights averaging one; see the
        module docstring for what it changes).

    Examples
    --------
    >>> import torch
    >>> pool = SpatioTemporalAttentionPooling(n_features=6, n_steps=5, attention_size=4)
    >>> x, a_tem, a_spa, A = pool(torch.randn(3, 5, 6), return_attention=True)
    >>> x.shape, a_tem.shape, a_spa.shape, A.shape
    (torch.Size([3, 6]), torch.Size([3, 5]), torch.Size([3, 6]), torch.Size([3, 6, 5]))
    """

    def __init__(
        self,
        n_features: int = 256,
        n_steps: int = 80,
        attention_size: int = 64,
        mask_scale: float | str = 1.0,
    ):
        super().__init__()
        name = type(self).__name__
        self.n_features = check_int(n_features, "n_features", name, low=1)
        self.n_steps = check_int(n_steps, "n_steps", name, low=1)
        self.attention_size = check_int(attention_size, "attention_size", name, low=1)
        if isinstance(mask_scale, str) and mask_scale == "n_features":
            self.mask_scale = float(self.n_features)
        elif isinstance(mask_scale, str):
            raise InvalidParameterError(
                f"The 'mask_scale' parameter of {name} must be a float in the range "
                f"(0, inf) or 'n_features'. Got {mask_scale!r} instead."
            )
        else:
            self.mask_scale = check_real(
                mask_scale, "mask_scale", name, low=0.0, low_inclusive=False
            )
        # temporal scorer, eq. (6): reads a column z_t in R^{2H}
        self.temporal_hidden = nn.Linear(self.n_features, self.attention_size)
        self.temporal_score = nn.Linear(self.attention_size, 1, bias=False)
        # spatial scorer, eq. (7): reads a row z~_s in R^T
        self.spatial_hidden = nn.Linear(self.n_steps, self.attention_size)
        self.spatial_score = nn.Linear(self.attention_size, 1, bias=False)

    def forward(self, Z: torch.Tensor, return_attention: bool = False):
        """Pool ``Z``.

        Parameters
        ----------
        Z : Tensor of shape (batch, n_steps, n_features)
            Recurrent output, time-major per example (``batch_first``).
        return_attention : bool, default=False
            Also return the attention weights.

        Returns
        -------
        x : Tensor of shape (batch, n_features)
            Pooled feature vector (eq. 9).
        a_tem : Tensor of shape (batch, n_steps)
            Temporal weights, sum to one over time.  Only with ``return_attention``.
        a_spa : Tensor of shape (batch, n_features)
            Spatial weights, sum to one over features.  Only with ``return_attention``.
        A : Tensor of shape (batch, n_features, n_steps)
            Mask ``a_spa (x) a_tem`` (eq. 8).  Only with ``return_attention``.
        """
        if Z.ndim != 3 or Z.shape[1] != self.n_steps or Z.shape[2] != self.n_features:
            raise SkascValueError(
                f"SpatioTemporalAttentionPooling expects Z of shape (batch, {self.n_steps}, "
                f"{self.n_features}); got {tuple(Z.shape)}."
            )
        # eqs. (4), (6): one score per time step, softmax over T
        e_tem = self.temporal_score(torch.tanh(self.temporal_hidden(Z))).squeeze(-1)
        a_tem = torch.softmax(e_tem, dim=1)
        # eqs. (5), (7): one score per feature row, softmax over 2H
        Zt = Z.transpose(1, 2)  # (batch, 2H, T): rows z~_s
        e_spa = self.spatial_score(torch.tanh(self.spatial_hidden(Zt))).squeeze(-1)
        a_spa = torch.softmax(e_spa, dim=1)
        # eq. (8): outer product; eq. (9): tanh then sum over time
        A = a_spa.unsqueeze(2) * a_tem.unsqueeze(1)
        x = torch.tanh(self.mask_scale * A * Zt).sum(dim=2)
        if return_attention:
            return x, a_tem, a_spa, A
        return x
