"""The base of skasc's transformers that learn nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator, TransformerMixin


class StatelessTransformer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """A transformer whose ``fit`` only validates its parameters.

    Subclasses implement ``_check_params()`` (called by ``fit`` and again by
    ``transform``, since ``set_params`` may change them in between) and
    ``transform``. The ``requires_fit=False`` tag says that ``transform`` works
    without ``fit``. Subclasses defining ``transform`` pass
    ``auto_wrap_output_keys=None`` too: their outputs are recording batches, never
    DataFrames, and unwrapped methods keep warnings pointing at the caller.
    """

    if TYPE_CHECKING:  # scikit-learn's set_output hook, which its untyped base declares

        def __init_subclass__(cls, auto_wrap_output_keys: Any = ..., **kwargs: Any) -> None: ...

    def _check_params(self) -> Any:  # pragma: no cover - always overridden
        raise NotImplementedError

    def fit(self, X: Any = None, y: Any = None):
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
