"""Nets and their optimizers: to manifest entries and tensors, and rebuilt from them.

A net entry records the net's class, its constructor parameters, its fitted
attributes, the names of its tensors, its optimizers' states and its history
(see ``docs/persistence.md``). Rebuilding checks every name of an entry
against the allow-list (:mod:`skasc.persistence._trust`) before anything is
created, creates the net from its parameters, initialises it and loads the
tensors with ``load_state_dict``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .._warnings import warn
from ..exceptions import ModelFileError, SkascValueError
from ._codec import Decoder, Encoder, Unencodable, dotted_name, imported_names
from ._trust import IMPORT, NET, ManifestNames
from ._walk import FOLDER_PARAMS

__all__ = ["net_entry", "check_net_entry", "rebuild_net"]


def _compat() -> Any:
    """skasc's one module of skorch internals (imports torch: only when nets are saved
    or loaded)."""
    from ..nn import _skorch

    return _skorch


def _state_attrs(net: Any) -> list[str]:
    return [n + "_" for n in _compat().module_names(net) if hasattr(net, n + "_")]


def _history_json(net: Any, path: str) -> Any:
    history = getattr(net, "history_", None)
    if history is None:
        return None

    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(type(value).__name__)  # json's protocol

    try:
        return json.loads(json.dumps(list(history), default=default))
    except (TypeError, ValueError) as exc:
        warn(
            f"The training history of the net at {path} is not plain data "
            f"({exc}) and is not saved.",
            UserWarning,
        )
        return None


def _optimizer_states(net: Any, net_id: str, path: str, tensors: dict) -> dict:
    """Each optimizer's ``state_dict()``: tensors added to ``tensors`` under
    ``<net id>/<attr>/state/<index>/<name>``, the rest as JSON (with
    ``{"__tensor__": key}`` where a tensor was)."""
    import torch

    states = {}
    for attr in (name + "_" for name in _compat().optimizer_names(net)):
        optimizer = getattr(net, attr, None)
        if not isinstance(optimizer, torch.optim.Optimizer):
            continue
        state_dict = optimizer.state_dict()
        found, record_state = {}, {}
        for index, values in state_dict["state"].items():
            slot = {}
            for name, value in values.items():
                if isinstance(value, torch.Tensor):
                    key = f"{net_id}/{attr}/state/{index}/{name}"
                    found[key] = value.detach().to("cpu").contiguous().clone()
                    slot[name] = {"__tensor__": key}
                else:
                    slot[name] = value
            record_state[str(index)] = slot
        try:
            states[attr] = json.loads(
                json.dumps({"state": record_state, "param_groups": state_dict["param_groups"]})
            )
        except (TypeError, ValueError) as exc:
            warn(
                f"The state of {attr} of the net at {path} is not plain data "
                f"({exc}) and is not saved: the loaded net trains on with a "
                "fresh optimizer.",
                UserWarning,
            )
            continue
        tensors.update(found)
    return states


def _restore_optimizers(net: Any, entry: dict, tensors: dict, path: str) -> None:
    """Load the optimizer states saved by :func:`_optimizer_states` into ``net``."""

    def value(item: Any) -> Any:
        if isinstance(item, dict) and set(item) == {"__tensor__"}:
            return tensors[item["__tensor__"]]  # KeyError: not in the weights
        return item

    optimizers = {name + "_" for name in _compat().optimizer_names(net)}
    for attr, record in (entry.get("optimizer_states") or {}).items():
        try:
            if attr not in optimizers:
                raise KeyError(f"{attr!r} is not an optimizer of this net")
            state = {
                int(index): {name: value(item) for name, item in slot.items()}
                for index, slot in record["state"].items()
            }
            groups = [
                {
                    name: tuple(item) if isinstance(item, list) and name != "params" else item
                    for name, item in group.items()
                }
                for group in record["param_groups"]
            ]
            getattr(net, attr).load_state_dict({"state": state, "param_groups": groups})
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{path}: the saved state of {attr} of the net at "
                f"{entry['path']} is damaged or does not fit its optimizer "
                f"({type(exc).__name__}: {exc})."
            ) from exc


def net_entry(net: Any, net_id: str, path: str) -> tuple[dict, dict, dict]:
    """The manifest entry of one net, its tensors and its objects for skops."""
    try:
        net_class = dotted_name(type(net))
    except Unencodable as exc:
        raise SkascValueError(f"Cannot save the net at {path}: its class {exc}") from exc
    encoder = Encoder(net_id)
    params = net.get_params(deep=False)
    entry_params, dropped = _encoded_params(params, encoder, path)
    initialized = bool(getattr(net, "initialized_", False))
    attributes = _encoded_attributes(net, params, encoder, path)
    state_keys = _state_tensors(net, net_id, encoder, path) if initialized else {}

    classes = None
    if initialized:
        try:
            classes = encoder(np.asarray(net.classes_), "classes_")
        except (AttributeError, Unencodable):
            classes = None
    entry = {
        "id": net_id,
        "path": path,
        "class": net_class,
        "params": entry_params,
        "dropped_params": dropped,
        "device": str(params.get("device")),
        "initialized": initialized,
        "attributes": attributes,
        "classes_": classes,
        "state_dicts": state_keys,
        "optimizer_states": (
            _optimizer_states(net, net_id, path, encoder.tensors) if initialized else {}
        ),
        "history": _history_json(net, path) if initialized else None,
    }
    return entry, encoder.tensors, encoder.side


def _encoded_params(params: dict, encoder: Encoder, path: str) -> tuple[dict, list[str]]:
    """A net's parameters as the manifest stores them, and the callbacks left out."""
    import torch

    entry_params: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in params.items():
        if name.startswith("_"):
            continue
        if name == "callbacks" or name.startswith("callbacks__"):
            if value is not None and not (name == "callbacks" and value == []):
                dropped.append(name)
                entry_params[name] = None if name == "callbacks" else encoder(None, name)
                continue
        if name == "module" and isinstance(value, torch.nn.Module):
            raise SkascValueError(
                f"Cannot save the net at {path}: its 'module' parameter is an instance "
                f"({type(value).__name__}); pass the module class and its arguments as "
                "module__* parameters so the net can be rebuilt."
            )
        try:
            entry_params[name] = encoder(value, f"params/{name}")
        except Unencodable as exc:
            raise SkascValueError(
                f"Cannot save the parameter {name!r} of the net at {path}: {exc}"
            ) from exc
    if dropped:
        warn(
            f"Callbacks are not saved: the net at {path} loses its parameters "
            f"{dropped} (they are stored as None; training callbacks do not affect "
            "predictions).",
            UserWarning,
        )  # at the call of save
    return entry_params, dropped


def _encoded_attributes(net: Any, params: dict, encoder: Encoder, path: str) -> dict:
    """A net's fitted attributes that are neither skorch's own nor torch state."""
    attributes: dict[str, Any] = {}
    optimizers = {n + "_" for n in _compat().optimizer_names(net)}
    state_attrs = set(_state_attrs(net))
    for name, value in vars(net).items():
        if (
            not _is_attribute_name(name)
            or name in _compat().INTERNAL_ATTRIBUTES
            or name in optimizers
            or name in params
            or name in state_attrs
        ):
            continue
        try:
            # Fitted objects (e.g. a LabelEncoder) keep their state through skops.
            attributes[name] = encoder(value, f"attrs/{name}", by_constructor=False)
        except Unencodable as exc:
            raise SkascValueError(
                f"Cannot save the fitted attribute {name!r} of the net at {path}: {exc}"
            ) from exc
    return attributes


def _state_tensors(net: Any, net_id: str, encoder: Encoder, path: str) -> dict[str, list[str]]:
    """Put an initialized net's module and criterion tensors into ``encoder.tensors``;
    return the keys of each state dict."""
    import torch

    state_keys: dict[str, list[str]] = {}
    for attr in _state_attrs(net):
        keys = []
        for key, tensor in getattr(net, attr).state_dict().items():
            if not isinstance(tensor, torch.Tensor):
                raise SkascValueError(
                    f"Cannot save the net at {path}: {attr}.state_dict() entry "
                    f"{key!r} is not a tensor."
                )
            encoder.tensors[f"{net_id}/{attr}/{key}"] = (
                tensor.detach().to("cpu").contiguous().clone()
            )
            keys.append(key)
        state_keys[attr] = keys
    return state_keys


def _is_attribute_name(name: Any) -> bool:
    """A fitted attribute as ``save`` writes them: ``name_``, not private or dunder."""
    return (
        isinstance(name, str)
        and name.isidentifier()
        and name.endswith("_")
        and not name.startswith("__")
    )


def _is_param_name(name: Any) -> bool:
    return isinstance(name, str) and name.isidentifier() and not name.startswith("_")


#: The devices a net is saved on (and rebuilt on, falling back to the CPU).
_DEVICE_TYPES = ("cpu", "cuda", "mps")


def _device_for(device: Any, path: str) -> tuple[Any, bool]:
    """The device to rebuild on, and whether it had to fall back to the CPU."""
    import torch

    if device is None:
        return None, False
    try:
        kind = torch.device(device).type
    except (TypeError, RuntimeError, ValueError):
        return device, False  # a net-specific value such as "auto": the net resolves it
    if kind not in _DEVICE_TYPES:  # e.g. "meta": a net without data, failing at predict
        raise ModelFileError(
            f"{path} is not a skasc model file: a net is stored with device "
            f"{str(device)!r}; nets are saved on {', '.join(_DEVICE_TYPES)}."
        )
    if kind == "cuda" and not torch.cuda.is_available():
        return "cpu", True
    if kind == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        return "cpu", True
    return device, False


_CLASS_CHECKS = {
    "module": "torch.nn.Module",
    "criterion": "torch.nn.Module",
    "optimizer": "torch.optim.Optimizer",
}


def _required_base(param: str) -> type:
    import torch

    return {"torch.nn.Module": torch.nn.Module, "torch.optim.Optimizer": torch.optim.Optimizer}[
        _CLASS_CHECKS[param]
    ]


def check_net_entry(entry: Any, names: ManifestNames) -> None:
    """Refuse an entry that is malformed or names anything off the allow-list,
    before anything is created (raises ``UntrustedTypeError`` or ``ValueError``)."""
    import skorch

    path = names.path
    if not isinstance(entry, dict):
        raise ModelFileError(
            f"{path} is not a skasc model file: a net entry of its manifest is not a mapping."
        )
    for key, kind in (
        ("params", dict),
        ("attributes", dict),
        ("state_dicts", dict),
        ("id", str),
        ("class", str),
    ):
        if not isinstance(entry.get(key), kind):
            raise ModelFileError(
                f"{path} is not a skasc model file: the net entry "
                f"{entry.get('id')!r} of its manifest has no valid {key!r}."
            )
    names.resolve(entry["class"], NET, subclass_of=skorch.NeuralNet, what="a net class")
    bad = [k for k in entry["params"] if not _is_param_name(k)]
    internal = _compat().INTERNAL_ATTRIBUTES
    bad += [k for k in entry["attributes"] if not _is_attribute_name(k) or k in internal]
    if bad:
        raise ModelFileError(
            f"{path} is not a skasc model file: the net {entry['id']!r} has "
            f"parameters or attributes that save does not write: {bad}."
        )
    for param, value in entry["params"].items():
        if param in _CLASS_CHECKS and isinstance(value, dict) and value.get("__kind__") == "import":
            names.resolve(
                value.get("name"),
                IMPORT,
                subclass_of=_required_base(param),
                what=f"the {param!r} of a net",
            )
    for role, name in imported_names([entry["params"], entry["attributes"]]):
        names.resolve(name, role)


def rebuild_net(entry: dict, tensors: dict, side: dict, names: ManifestNames) -> Any:
    """The net of a checked manifest entry, initialised, with its tensors loaded."""
    import skorch
    from skorch.history import History

    path = names.path
    decoder = Decoder(names, tensors, side)
    cls = names.resolve(entry["class"], NET, subclass_of=skorch.NeuralNet)
    params = {}
    for name, value in entry["params"].items():
        if name in _CLASS_CHECKS and isinstance(value, dict) and value.get("__kind__") == "import":
            params[name] = names.resolve(value["name"], IMPORT, subclass_of=_required_base(name))
        else:
            params[name] = decoder(value)
    for name in FOLDER_PARAMS:  # a file never decides where the net writes
        if name in params:
            params[name] = None
    device, fell_back = _device_for(params.get("device"), path)
    if fell_back:
        warn(
            f"The net at {entry.get('path')} was saved with device={params['device']!r}, "
            "which is not available here; it is loaded on the CPU.",
            UserWarning,
        )
        params["device"] = device
    net = cls(**params)
    attributes = {k: decoder(v) for k, v in entry["attributes"].items()}
    for name, value in attributes.items():
        setattr(net, name, value)
    if not entry.get("initialized"):
        return net
    net.initialize()
    for attr, keys in entry["state_dicts"].items():
        if attr not in _state_attrs(net):
            raise KeyError(f"{attr!r} is not a module or criterion of {entry['class']}")
        state = {key: tensors[f"{entry['id']}/{attr}/{key}"] for key in keys}
        _check_finite(state, f"{entry['id']}/{attr}", path)
        getattr(net, attr).load_state_dict(state, strict=True)
    _restore_optimizers(net, entry, tensors, path)
    for name, value in attributes.items():  # initialize() may have reset them
        setattr(net, name, value)
    history = entry.get("history")
    if history is not None:
        if not _is_history(history):
            raise ModelFileError(
                f"{path} is not a skasc model file: the history of the net "
                f"{entry['id']!r} is not a list of rows (mappings, with "
                "'batches' a list of mappings)."
            )
        net.history_ = History(history)
    return net


def _check_finite(state: dict, prefix: str, path: str) -> None:
    """Refuse NaN or infinite weights: a file that holds them is damaged (or was saved
    from a net whose training diverged), and its predictions would all be NaN."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(
                f"{path} holds NaN or infinite weights ({prefix}/{key}); "
                "the file is damaged, or was saved from a net whose "
                "training diverged."
            )


def _is_history(history: Any) -> bool:
    """Whether ``history`` has the shape of a skorch history: a list of epoch rows
    (dicts), each with an optional ``batches`` list of dicts."""
    return isinstance(history, list) and all(
        isinstance(row, dict)
        and isinstance(row.get("batches", []), list)
        and all(isinstance(batch, dict) for batch in row.get("batches", []))
        for row in history
    )
