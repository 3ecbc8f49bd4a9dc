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
* The registries ``net._modules``, ``net._criteria`` and ``net._optimizers`` (the
  names of a net's modules, criteria and optimizers) and skorch's own bookkeeping
  attributes (:data:`INTERNAL_ATTRIBUTES`), which :mod:`skasc.persistence` needs
  to know what state a net holds: :func:`module_names`, :func:`optimizer_names`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TESTED_SKORCH", "INTERNAL_ATTRIBUTES", "module_names", "optimizer_names", "train"]

TESTED_SKORCH = ">=1.4,<1.5"
"""The skorch versions skasc is tested with; the pin in ``pyproject.toml``."""


INTERNAL_ATTRIBUTES = frozenset(
    {
        "module_",
        "criterion_",
        "optimizer_",
        "callbacks_",
        "history_",
        "initialized_",
        "virtual_params_",
        "prefixes_",
        "cuda_dependent_attributes_",
        "init_context_",
    }
)
"""skorch's fitted attributes (``name_``) that ``initialize()`` rebuilds or that hold
torch objects. Private ones (``_modules``...) need no entry: ``save`` never writes a
name that does not end in ``_``."""


def module_names(net: Any) -> list[str]:
    """Names of the net's modules and criteria (``"module"``, ``"criterion"``, ...)."""
    names = list(getattr(net, "_modules", []) or ["module"])
    names += list(getattr(net, "_criteria", []) or ["criterion"])
    return list(dict.fromkeys(names))


def optimizer_names(net: Any) -> list[str]:
    """Names of the net's optimizers (``"optimizer"``, ...)."""
    return list(getattr(net, "_optimizers", []))


def train(
    net: Any, X: Any, y: Any, *, epochs: int | None = None, method: str = "fit", **fit_params
) -> Any:
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
