"""The object-tree walk: finding skorch nets in an estimator tree, and putting them back.

``save`` swaps every net for a :class:`_NetSlot` placeholder (the nets go to
the manifest and the weights, the rest of the tree to skops); ``load`` swaps
the placeholders for the rebuilt nets. Nothing here reads a file.
"""

from __future__ import annotations

import numbers
import sys
import types
from typing import Any

import numpy as np

__all__ = ["_NetSlot", "find_nets", "slot_ids", "put_nets_back", "FOLDER_PARAMS", "forget_folders"]


class _NetSlot:
    """Stands in for a skorch net inside the skops part of the artefact."""

    def __init__(self, net_id: str) -> None:
        self.net_id = net_id

    def __repr__(self) -> str:
        return f"_NetSlot({self.net_id!r})"


# Files name the placeholder ``skasc.persistence._NetSlot`` (its home before the
# module became a package); keep that name so old and new files agree.
_NetSlot.__module__ = "skasc.persistence"

_LEAVES = (
    str,
    bytes,
    bytearray,
    numbers.Number,
    np.ndarray,
    np.generic,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    np.dtype,
    np.ufunc,
    range,
    slice,
)


def _net_type() -> type | None:
    # A net can only exist if skorch was imported; do not import it otherwise.
    if "skorch" not in sys.modules:
        return None
    return sys.modules["skorch"].NeuralNet


def find_nets(root: Any) -> list[tuple[Any, str]]:
    """Every distinct skorch net in ``root`` with its path, in walk order.

    Walks lists, tuples, sets, dicts and the ``__dict__`` of objects
    (estimators, but also helpers such as scikit-learn's ``_CalibratedClassifier``).
    Nets are not walked into.
    """
    net_type = _net_type()
    if net_type is None:
        return []
    found: list[tuple[Any, str]] = []
    found_ids: set[int] = set()
    seen: set[int] = set()
    stack = [(root, "estimator")]
    while stack:
        obj, path = stack.pop()
        if isinstance(obj, net_type):
            if id(obj) not in found_ids:
                found_ids.add(id(obj))
                found.append((obj, path))
            continue
        if obj is None or isinstance(obj, _LEAVES) or id(obj) in seen:
            continue
        seen.add(id(obj))
        children: list[tuple[Any, str]] = []
        if isinstance(obj, dict):
            children = [(v, f"{path}[{k!r}]") for k, v in obj.items()]
        elif isinstance(obj, (list, tuple)):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        elif isinstance(obj, (set, frozenset)):
            children = [(v, f"{path}{{}}") for v in obj]
        elif hasattr(obj, "__dict__"):
            children = [(v, f"{path}.{k}") for k, v in vars(obj).items()]
        stack.extend(reversed(children))
    return found


def _children(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if hasattr(obj, "__dict__"):
        return list(vars(obj).values())
    return []


def slot_ids(root: Any) -> list[Any]:
    """The ``net_id`` of every placeholder in a freshly loaded tree, in walk order."""
    ids: list[Any] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, _NetSlot):
            net_id = getattr(obj, "net_id", None)
            ids.append(net_id if isinstance(net_id, str) else repr(net_id))
            continue
        if obj is None or isinstance(obj, _LEAVES) or id(obj) in seen:
            continue
        seen.add(id(obj))
        stack.extend(_children(obj))
    return ids


#: Parameters that name a folder an estimator writes to when it is used: the
#: feature cache (``memory`` of a ``Pipeline``, a ``FrontEnd``, scikit-learn's
#: clustering) and a net's ``checkpoint_dir``.
FOLDER_PARAMS = ("memory", "checkpoint_dir")


def forget_folders(root: Any) -> list[str]:
    """Set every folder parameter (:data:`FOLDER_PARAMS`) of every estimator in ``root``
    to None, wherever it sits (steps, wrappers' fitted attributes such as
    ``best_estimator_``, dicts, lists); return where they were, as paths like
    ``estimator.best_estimator_.steps[0][1].memory``.

    An estimator is an object with ``get_params`` (scikit-learn's and skorch's);
    nets are not walked into.
    """
    net_type = _net_type()
    forgotten: list[str] = []
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(root, "estimator")]
    while stack:
        obj, path = stack.pop()
        if obj is None or isinstance(obj, _LEAVES) or id(obj) in seen:
            continue
        seen.add(id(obj))
        state = vars(obj) if hasattr(obj, "__dict__") else {}
        if hasattr(obj, "get_params"):
            for name in FOLDER_PARAMS:
                if state.get(name) is not None:
                    setattr(obj, name, None)
                    forgotten.append(f"{path}.{name}")
        if net_type is not None and isinstance(obj, net_type):
            continue
        if isinstance(obj, dict):
            stack.extend((v, f"{path}[{k!r}]") for k, v in obj.items())
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(obj))
        elif isinstance(obj, (set, frozenset)):
            stack.extend((v, f"{path}{{}}") for v in obj)
        else:
            stack.extend((v, f"{path}.{k}") for k, v in state.items())
    return forgotten


def put_nets_back(root: Any, nets: dict[str, Any]) -> Any:
    """Replace every ``_NetSlot`` in the freshly loaded ``root`` by its net."""
    done: dict[int, Any] = {}

    def visit(obj: Any) -> Any:
        if isinstance(obj, _NetSlot):
            return nets[obj.net_id]
        if obj is None or isinstance(obj, _LEAVES):
            return obj
        if id(obj) in done:
            return done[id(obj)]
        if isinstance(obj, tuple):
            done[id(obj)] = obj  # cycles through tuples are impossible
            items = [visit(v) for v in obj]
            if any(a is not b for a, b in zip(items, obj)):
                new = type(obj)._make(items) if hasattr(obj, "_make") else type(obj)(items)
                done[id(obj)] = new
                return new
            return obj
        done[id(obj)] = obj
        if isinstance(obj, dict):
            for key, value in list(obj.items()):
                obj[key] = visit(value)
        elif isinstance(obj, list):
            obj[:] = [visit(v) for v in obj]
        elif hasattr(obj, "__dict__") and not isinstance(obj, (set, frozenset)):
            state = vars(obj)
            for key, value in list(state.items()):
                new = visit(value)
                if new is not value:
                    state[key] = new
        return obj

    return visit(root)
