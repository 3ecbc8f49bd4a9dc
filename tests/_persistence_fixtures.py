"""Importable helpers for tests/test_persistence.py.

They live in a module of their own so that a fresh Python process (with
``tests/`` on ``PYTHONPATH``) can import them by name, as ``load`` must.
This module is deliberately *not* on skasc's allow-list: loading a file that
uses it needs ``trusted=["_persistence_fixtures"]``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.preprocessing import LabelEncoder
from skorch import NeuralNetClassifier
from torch import nn

N_FEATURES = 6


class TinyModule(nn.Module):
    """A two-layer perceptron; ``embed`` gives the hidden features."""

    def __init__(self, n_in: int = N_FEATURES, n_hidden: int = 8, n_classes: int = 3):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_classes)
        self.register_buffer("scale", torch.ones(n_in))

    def embed(self, X: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.hidden(X * self.scale))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.out(self.embed(X)), dim=-1)


class TinyNet(NeuralNetClassifier):
    """A skorch classifier with a ``transform`` (the hidden features) and
    fitted attributes of its own: plain data (``n_features_in_``) and a fitted
    scikit-learn object (``label_encoder_``, stored through skops)."""

    def fit(self, X, y=None, **fit_params):
        self.n_features_in_ = int(np.asarray(X).shape[1])
        self.label_encoder_ = LabelEncoder().fit(y)
        return super().fit(X, y, **fit_params)

    def transform(self, X):
        self.module_.eval()
        with torch.no_grad():
            Xt = torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.device)
            return self.module_.embed(Xt).cpu().numpy()


def make_net(**params) -> TinyNet:
    """A small, deterministic TinyNet (fit it under a fixed torch seed)."""
    defaults = dict(
        module=TinyModule,
        module__n_hidden=8,
        module__n_classes=3,
        max_epochs=3,
        lr=0.1,
        batch_size=16,
        train_split=None,
        verbose=0,
    )
    defaults.update(params)
    return TinyNet(**defaults)


class Wrapper(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A minimal meta-estimator: fits a clone of ``estimator`` as ``estimator_``."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        return self.estimator_.predict(X)


class Opaque:
    """A plain class that is not on the allow-list."""

    def __init__(self, value: int = 0):
        self.value = value


def data(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separable-ish classes in ``N_FEATURES`` dimensions, float32."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    X[:, 0] += 2.0 * y
    return X, y
