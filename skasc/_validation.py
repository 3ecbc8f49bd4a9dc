"""Parameter validation shared by every skasc estimator.

Messages follow scikit-learn's template, e.g.
"The 'n_mels' parameter of LogMelExtractor must be an int in the range [1, inf). Got 0 instead."
Parameter errors are :class:`InvalidParameterError`, both a ``ValueError`` and
a ``TypeError`` as in scikit-learn, so ordinary ``except`` clauses catch them.

Each estimator declares its parameters' allowed values once, as the class
attribute ``_parameter_checks`` (``{"n_mels": Int(low=1), ...}``, the way
scikit-learn's ``_parameter_constraints`` does), and its ``_check_params`` calls
:func:`check_params`, then checks what depends on several parameters at once.
The check functions below are also called directly for function arguments.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from .exceptions import InvalidParameterError, SkascTypeError, SkascValueError


def _owner(estimator: Any) -> str:
    return estimator if isinstance(estimator, str) else type(estimator).__name__


def _is_real(value: Any) -> bool:
    """A real number that is not a bool (a plain bool, not a TypeGuard: ``value`` stays Any,
    so numpy's comparisons and ufuncs type-check on every real type they accept)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


@overload
def check_int(
    value: Any,
    name: str,
    estimator: Any,
    *,
    low: int | None = ...,
    high: int | None = ...,
    allow_none: Literal[False] = ...,
) -> int: ...
@overload
def check_int(
    value: Any,
    name: str,
    estimator: Any,
    *,
    low: int | None = ...,
    high: int | None = ...,
    allow_none: bool,
) -> int | None: ...
def check_int(
    value: Any,
    name: str,
    estimator: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Check that ``value`` is an int in ``[low, high]`` and return it."""
    if value is None and allow_none:
        return None
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    rng = f"[{lo}, {hi}{']' if high is not None else ')'}"
    extra = " or None" if allow_none else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(
            f"The '{name}' parameter of {_owner(estimator)} must be an int in the range "
            f"{rng}{extra}. Got {value!r} instead."
        )
    number = int(value)  # the same order as value's for every Integral
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidParameterError(
            f"The '{name}' parameter of {_owner(estimator)} must be an int in the range "
            f"{rng}{extra}. Got {value!r} instead."
        )
    return number


def check_n_jobs(value: Any, estimator: Any) -> int | None:
    """Check a joblib ``n_jobs``: None or a non-zero int (-1 means all cores).

    joblib itself refuses 0 only when work is dispatched, deep inside a fit.
    """
    if value is None:
        return None
    msg = (
        f"The 'n_jobs' parameter of {_owner(estimator)} must be a non-zero int "
        f"(-1 for all cores) or None. Got {value!r} instead."
    )
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(msg)
    if value == 0:
        raise InvalidParameterError(msg)
    return int(value)


@overload
def check_real(
    value: Any,
    name: str,
    estimator: Any,
    *,
    low: float | None = ...,
    high: float | None = ...,
    low_inclusive: bool = ...,
    high_inclusive: bool = ...,
    allow_none: Literal[False] = ...,
) -> float: ...
@overload
def check_real(
    value: Any,
    name: str,
    estimator: Any,
    *,
    low: float | None = ...,
    high: float | None = ...,
    low_inclusive: bool = ...,
    high_inclusive: bool = ...,
    allow_none: bool,
) -> float | None: ...
def check_real(
    value: Any,
    name: str,
    estimator: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
) -> float | None:
    """Check that ``value`` is a finite real number in the given interval."""
    if value is None and allow_none:
        return None
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    rng = (
        ("[" if low_inclusive and low is not None else "(")
        + f"{lo}, {hi}"
        + ("]" if high_inclusive and high is not None else ")")
    )
    extra = " or None" if allow_none else ""
    msg = (
        f"The '{name}' parameter of {_owner(estimator)} must be a float in the range "
        f"{rng}{extra}. Got {value!r} instead."
    )
    if not _is_real(value):
        raise InvalidParameterError(msg)
    if not np.isfinite(value):
        raise InvalidParameterError(msg)
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise InvalidParameterError(msg)
    if high is not None and (value > high or (value == high and not high_inclusive)):
        raise InvalidParameterError(msg)
    return float(value)


#: The largest ``random_state``: seeds are numpy's legacy ones, which scikit-learn's
#: estimators (the SVM, the splitters) accept up to ``2**32 - 1``.
MAX_SEED = 2**32 - 1


def check_device(value: Any, estimator: Any) -> Any:
    """Check a torch ``device`` parameter: ``"auto"``, or a device this machine has.

    A CUDA or MPS device that torch cannot use here is refused at once, rather than
    failing inside torch when the first tensor moves there.

    >>> check_device("auto", "AttCRNNClassifier")
    'auto'
    >>> check_device("gpu", "AttCRNNClassifier")
    Traceback (most recent call last):
    ...
    skasc.exceptions.InvalidParameterError: The 'device' parameter of AttCRNNClassifier must be 'auto' or a torch device such as 'cpu' or 'cuda'. Got 'gpu' instead.
    """  # noqa: E501 (a doctest's exception line cannot wrap)
    if isinstance(value, str) and value == "auto":
        return value
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidParameterError(
            f"The 'device' parameter of {_owner(estimator)} must be 'auto' or a torch device "
            f"such as 'cpu' or 'cuda'. Got {value!r} instead."
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise InvalidParameterError(
                f"The 'device' parameter of {_owner(estimator)} is {str(value)!r}, but this "
                f"torch {torch.__version__} sees {count} CUDA device(s); use 'cpu' or 'auto'."
            )
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise InvalidParameterError(
            f"The 'device' parameter of {_owner(estimator)} is {str(value)!r}, but MPS is not "
            "available here; use 'cpu' or 'auto'."
        )
    return value


def check_option(value: Any, name: str, estimator: Any, options: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``options``.

    A bool option matches only a bool (``0 == False`` in Python, but ``0`` is not a
    valid flag).

    >>> check_option(0, "between_class", "AttCRNNClassifier", [False, True])
    Traceback (most recent call last):
    ...
    skasc.exceptions.InvalidParameterError: The 'between_class' parameter of AttCRNNClassifier must be one of {False, True}. Got 0 instead.
    """  # noqa: E501 (a doctest's exception line cannot wrap)
    options = list(options)
    if not any(
        value == o and isinstance(value, (bool, np.bool_)) == isinstance(o, bool) for o in options
    ):
        shown = ", ".join(repr(o) for o in options)
        raise InvalidParameterError(
            f"The '{name}' parameter of {_owner(estimator)} must be one of {{{shown}}}. "
            f"Got {value!r} instead."
        )
    return value


def check_label_types(y: Any, owner: str) -> None:
    """Refuse labels that are missing (None, NaN) or mix strings and numbers.

    Run *before* ``np.asarray(y)``, which would turn ``["a", 1]`` into the strings
    ``["a", "1"]`` and leave ``["a", None]`` to fail in sorting with a bare
    ``TypeError``. Messages follow scikit-learn's ("Mix of label input types
    (string and number)") and name the recordings.
    """
    if isinstance(y, np.ndarray) and y.dtype != object:
        return  # one numpy dtype: homogeneous (NaN in floats is sklearn's to refuse)
    try:
        values = np.asarray(y, dtype=object)
    except (TypeError, ValueError):
        return  # not array-like: the caller's own checks give the message
    if values.ndim == 0:
        return  # a scalar: the caller's shape check gives the message
    values = values.ravel().tolist()
    missing = [
        i
        for i, v in enumerate(values)
        if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v))
    ]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise SkascValueError(
            f"{owner} got {len(missing)} missing label{'s' if len(missing) > 1 else ''} "
            f"(None or NaN) in y, at recording index {shown}; every recording needs a "
            "label."
        )
    strings = [i for i, v in enumerate(values) if isinstance(v, (str, bytes))]
    numbers_ = [i for i, v in enumerate(values) if isinstance(v, numbers.Number)]
    others = [i for i, v in enumerate(values) if not isinstance(v, (str, bytes, numbers.Number))]
    if others:
        i = others[0]
        raise SkascTypeError(
            f"{owner} expected labels that are strings or numbers; y at recording index "
            f"{i} is a {type(values[i]).__name__} ({values[i]!r})."
        )
    if strings and numbers_:
        a, b = sorted((strings[0], numbers_[0]))
        raise SkascValueError(
            f"Mix of label input types (string and number) in the y of {owner}: "
            f"recording {a} has {values[a]!r} and recording {b} has {values[b]!r}. Use "
            "labels of one type (e.g. all strings)."
        )


# --------------------------------------------------------------------------- #
# Declared rules, read by check_params
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Int:
    """An int in ``[low, high]`` (bools refused); ``none`` also allows None."""

    low: int | None = None
    high: int | None = None
    none: bool = False

    def __call__(self, value: Any, name: str, owner: Any) -> int | None:
        return check_int(value, name, owner, low=self.low, high=self.high, allow_none=self.none)


@dataclass(frozen=True)
class Real:
    """A finite real in the interval (bools refused); ``none`` also allows None."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    none: bool = False

    def __call__(self, value: Any, name: str, owner: Any) -> float | None:
        return check_real(
            value,
            name,
            owner,
            low=self.low,
            high=self.high,
            low_inclusive=self.low_inclusive,
            high_inclusive=self.high_inclusive,
            allow_none=self.none,
        )


@dataclass(frozen=True)
class Options:
    """One of ``values`` (a bool matches only a bool)."""

    values: tuple

    def __call__(self, value: Any, name: str, owner: Any) -> Any:
        return check_option(value, name, owner, self.values)


@dataclass(frozen=True)
class NJobs:
    """A joblib ``n_jobs``: None or a non-zero int."""

    def __call__(self, value: Any, name: str, owner: Any) -> int | None:
        return check_n_jobs(value, owner)


@dataclass(frozen=True)
class Instance:
    """An instance of ``types`` (described as ``description``); ``none`` also allows None."""

    types: tuple
    description: str
    none: bool = False

    def __call__(self, value: Any, name: str, owner: Any) -> Any:
        if (value is None and self.none) or (value is not None and isinstance(value, self.types)):
            return value
        extra = " or None" if self.none else ""
        raise InvalidParameterError(
            f"The '{name}' parameter of {_owner(owner)} must be {self.description}"
            f"{extra}. Got {value!r} instead."
        )


#: A flag: exactly False or True (``0`` and ``1`` are refused).
BOOL = Options((False, True))


def check_params(estimator: Any) -> dict[str, Any]:
    """Check every parameter that ``type(estimator)._parameter_checks`` declares.

    Returns
    -------
    dict
        The checked value of each declared parameter, by name.

    Examples
    --------
    >>> class Demo:
    ...     _parameter_checks = {"n_mels": Int(low=1), "flag": BOOL}
    ...     n_mels, flag = 0, True
    >>> check_params(Demo())
    Traceback (most recent call last):
    ...
    skasc.exceptions.InvalidParameterError: The 'n_mels' parameter of Demo must be an int in the range [1, inf). Got 0 instead.
    """  # noqa: E501 (a doctest's exception line cannot wrap)
    return {
        name: rule(getattr(estimator, name), name, estimator)
        for name, rule in type(estimator)._parameter_checks.items()
    }
