"""Every use of skorch's private API in skasc, in one place.

skorch is pinned in ``pyproject.toml`` to the range these uses were tested
with (:data:`TESTED_SKORCH`); ``tests/test_interrupts.py`` checks the installed
version against the pin and exercises each use, so an upgrade that breaks one
fails there, not deep inside a user's fit.

What skasc relies on beyond skorch's public API:

* ``NeuralNet.fit_loop(..., _routing_method=...)`` (skorch >= 1.4): the public
  method (``"fit"`` or ``"partial_fit"``) that scikit-learn's metadata routing
  resolves requests against.  Used by :func:`train` only.
* ``NeuralNet.partial_fit``'s body, re-implemented by :func:`train` because it
  catches ``KeyboardInterrupt`` and returns as if training had finished; skasc
  must not train an SVM on, or save, a half-trained net.
* The ``_default_callbacks`` property, which the segment classifiers override
  (in :mod:`skasc.nn.classifier`, marked there) to set their default callbacks;
  skorch reads it in ``initialize_callbacks``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TESTED_SKORCH", "train"]

TESTED_SKORCH = ">=1.4,<1.5"
"""The skorch versions skasc is tested with; the pin in ``pyproject.toml``."""


def train(net: Any, X: Any, y: Any, *, epochs: int | None = None, method: str = "fit",
          **fit_params) -> Any:
    """Run skorch's training loop on an initialized ``net``, letting Ctrl-C through.

    The same calls as ``skorch.NeuralNet.partial_fit`` (``on_train_begin``,
    ``fit_loop``, ``on_train_end``), except that a ``KeyboardInterrupt`` is
    re-raised after ``on_train_end`` instead of ending training quietly.  Other
    exceptions propagate without ``on_train_end``, as in skorch.

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialized net.
    X, y : array-like
        Training data as ``fit_loop`` takes it (``y`` already encoded).
    epochs : int or None, default=None
        Epochs to train; None: ``net.max_epochs``.
    method : {"fit", "partial_fit"}, default="fit"
        The public entry point, for scikit-learn's metadata routing.
    **fit_params : dict
        Passed on to ``fit_loop``.

    Returns
    -------
    net

    Raises
    ------
    KeyboardInterrupt
        When training was interrupted; the net holds the epochs completed so far.
    """
    net.notify("on_train_begin", X=X, y=y)
    try:
        net.fit_loop(X, y, epochs=epochs, _routing_method=method, **fit_params)
    except KeyboardInterrupt:
        net.notify("on_train_end", X=X, y=y)
        raise
    net.notify("on_train_end", X=X, y=y)
    return net
