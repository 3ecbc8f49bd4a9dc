"""Safe, exact persistence of fitted estimator trees that may contain skorch nets.

``save(estimator, path)`` writes one zip file with three members:

``manifest.json``
    Format version, the versions of skasc / torch / scikit-learn / numpy, the
    creation time and, for every skorch net found in the tree, its position,
    its class, its constructor parameters (classes and functions written as
    dotted import paths), its fitted attributes (``classes_inferred_`` ...)
    and its training history.
``weights.safetensors``
    The ``state_dict`` tensors of every net's modules and criteria, on the CPU,
    keyed ``"<net id>/<attribute>/<tensor name>"``, and those of its optimizers
    (``"<net id>/optimizer_/state/<index>/<name>"``), so that training goes on
    exactly after loading.
``estimator.skops``
    ``{"estimator": tree, "net_objects": {net id: {key: object}}}`` written
    with :func:`skops.io.dumps`: the tree with every net replaced by a small
    placeholder, and the nets' fitted attributes that are not plain data.

``load(path, trusted=None)`` reads the tree back without unpickling anything:
the skops part is loaded with a type allow-list and the nets are rebuilt from
their parameters and weights. See ``docs/persistence.md`` for the security
model.

``import skasc.persistence`` is light; this module imports skorch and
safetensors' torch bindings only when a tree contains nets. (skops itself,
imported by ``save`` and ``load``, currently pulls in torch through
scikit-learn's testing utilities.)
"""

from __future__ import annotations

import copy
import datetime
import importlib
import importlib.metadata
import inspect
import json
import numbers
import os
import sys
import types
import warnings
import zipfile
from typing import Any, Iterable

import numpy as np

from skasc._atomic import atomic_write

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_FORMAT_NAME = "skasc-model"

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
ESTIMATOR = "estimator.skops"
_MEMBERS = (MANIFEST, WEIGHTS, ESTIMATOR)

# Module prefixes whose *classes* may be created while loading the skops part.
# Functions from these modules are not trusted automatically: pass them in
# ``trusted``.
SKOPS_TRUSTED_PREFIXES = ("skasc", "sklearn", "numpy", "scipy", "builtins",
                          "collections", "joblib")
# Module prefixes from which a net's class, module, criterion, optimizer and
# other callable parameters may be imported.
NET_TRUSTED_PREFIXES = ("torch", "skorch", "skasc")
# Classes under the allowed prefixes that touch the file system when created.
_DENIED = frozenset({"numpy.memmap", "numpy.lib.npyio.DataSource",
                     "numpy.lib._datasource.DataSource", "joblib.Memory",
                     "joblib.memory.Memory"})

# skorch attributes that are rebuilt by ``initialize()`` or hold torch objects.
_SKORCH_INTERNAL = frozenset({
    "module_", "criterion_", "optimizer_", "callbacks_", "history_",
    "initialized_", "virtual_params_", "prefixes_", "cuda_dependent_attributes_",
    "init_context_", "_modules", "_criteria", "_optimizers", "_params_to_validate",
})


class _NetSlot:
    """Stands in for a skorch net inside the skops part of the artefact."""

    def __init__(self, net_id: str) -> None:
        self.net_id = net_id

    def __repr__(self) -> str:
        return f"_NetSlot({self.net_id!r})"


class _Unencodable(Exception):
    """A value that the manifest cannot hold as plain data."""


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _skasc_version() -> str | None:
    import skasc
    return getattr(skasc, "__version__", None) or _version("skasc")


def _versions() -> dict[str, str | None]:
    return {"skasc": _skasc_version(), "torch": _version("torch"),
            "scikit-learn": _version("scikit-learn"), "numpy": _version("numpy"),
            "skorch": _version("skorch")}


def _major(version: str | None) -> str | None:
    if not version:
        return None
    return version.split("+")[0].split(".")[0]


def _dotted_name(obj: Any) -> str:
    """``module.qualname`` of a class or function (raises _Unencodable)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise _Unencodable(
            f"{obj!r} cannot be stored by import path (lambdas, local and __main__ "
            "objects cannot be imported back); define it at module level in an "
            "importable module")
    name = f"{module}.{qualname}"
    try:
        found = _import_dotted(name)
    except ImportError as exc:
        raise _Unencodable(f"{name} cannot be imported back: {exc}") from exc
    if found is not obj:
        raise _Unencodable(f"importing {name} does not give back {obj!r}")
    return name


def _import_dotted(name: str) -> Any:
    """Import ``a.b.C.D``: the longest importable module prefix, then attributes."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError as exc:
            raise ImportError(f"cannot import {name!r}: {exc}") from exc
        return obj
    raise ImportError(f"cannot import {name!r}: no importable module")


def _trusted_names(trusted: Iterable[Any] | None) -> list[str]:
    """Normalise ``trusted`` (types, functions or dotted strings) to strings."""
    if trusted is None:
        return []
    if isinstance(trusted, (str, type)):
        trusted = [trusted]
    names = []
    for item in trusted:
        if isinstance(item, str):
            names.append(item.rstrip("."))
        else:
            module = getattr(item, "__module__", None)
            qualname = getattr(item, "__qualname__", None)
            if not module or not qualname:
                raise TypeError(
                    "The 'trusted' parameter of load must be a list of types, functions "
                    f"or dotted names. Got {item!r} instead.")
            names.append(f"{module}.{qualname}")
    return names


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# --------------------------------------------------------------------------
# Finding nets and swapping them for placeholders
# --------------------------------------------------------------------------

_LEAVES = (str, bytes, bytearray, numbers.Number, np.ndarray, np.generic, type,
           types.FunctionType, types.BuiltinFunctionType, types.MethodType,
           types.ModuleType, np.dtype, np.ufunc, range, slice)


def _net_type() -> type | None:
    # A net can only exist if skorch was imported; do not import it otherwise.
    if "skorch" not in sys.modules:
        return None
    return sys.modules["skorch"].NeuralNet


def _find_nets(root: Any) -> list[tuple[Any, str]]:
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


def _put_nets_back(root: Any, nets: dict[str, Any]) -> Any:
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


# --------------------------------------------------------------------------
# Plain-data encoding of net parameters and attributes
# --------------------------------------------------------------------------

class _Encoder:
    """Encode values as JSON.

    Tensors go to ``self.tensors`` (the safetensors member) and objects that
    are neither plain data nor rebuildable from constructor arguments go to
    ``self.side`` (the skops member, under the same type checks as the tree).
    Classes and functions must be importable by name.
    """

    def __init__(self, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.tensors: dict[str, Any] = {}
        self.side: dict[str, Any] = {}

    def __call__(self, value: Any, where: str, *, by_constructor: bool = True) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)) and type(value) in (int, float):
            return value
        if isinstance(value, np.generic) and not isinstance(value, np.object_):
            return {"__kind__": "npscalar", "dtype": value.dtype.str, "value": value.item()}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biufcUS?":
                return {"__kind__": "ndarray", "dtype": value.dtype.str,
                        "shape": list(value.shape), "data": _array_data(value)}
            if value.dtype == object:
                return {"__kind__": "objarray", "shape": list(value.shape),
                        "items": [self(v, f"{where}[{i}]")
                                  for i, v in enumerate(value.ravel().tolist())]}
            raise _Unencodable(f"{where}: arrays of dtype {value.dtype} are not supported")
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {"__kind__": "tuple",
                    "items": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, (set, frozenset)):
            return {"__kind__": type(value).__name__,
                    "items": [self(v, f"{where}{{{i}}}")
                              for i, v in enumerate(sorted(value, key=repr))]}
        if isinstance(value, dict):
            return {"__kind__": "dict",
                    "items": [[self(k, f"{where}<key {i}>"), self(v, f"{where}[{k!r}]")]
                              for i, (k, v) in enumerate(value.items())]}
        if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
            return {"__kind__": "import", "name": _dotted_name(value)}
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(value, torch.Tensor):
                key = f"{self.key_prefix}/{where}"
                self.tensors[key] = value.detach().to("cpu").contiguous().clone()
                return {"__kind__": "tensor", "key": key}
            if isinstance(value, torch.device):
                return {"__kind__": "torch.device", "value": str(value)}
            if isinstance(value, torch.dtype):
                return {"__kind__": "torch.dtype", "value": str(value).split(".")[-1]}
        if by_constructor:
            try:
                return self._object(value, where)
            except _Unencodable:
                pass
        self.side[where] = value
        return {"__kind__": "skops", "key": where}

    def _object(self, value: Any, where: str) -> Any:
        """An object rebuilt as ``cls(**kwargs)`` (e.g. skorch's ``ValidSplit``)."""
        cls = type(value)
        try:
            name = _dotted_name(cls)
            signature = inspect.signature(cls)
        except (_Unencodable, TypeError, ValueError) as exc:
            raise _Unencodable(f"{where}: {value!r} cannot be stored ({exc})") from exc
        kwargs = {}
        for pname, param in signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if not hasattr(value, pname):
                raise _Unencodable(
                    f"{where}: {value!r} cannot be stored: its constructor argument "
                    f"{pname!r} is not kept as an attribute")
            kwargs[pname] = self(getattr(value, pname), f"{where}.{pname}")
        return {"__kind__": "object", "class": name, "kwargs": kwargs}


def _array_data(array: np.ndarray) -> Any:
    if array.dtype.kind == "c":
        return [[z.real, z.imag] for z in array.ravel().tolist()]
    if array.dtype.kind == "S":
        return [b.decode("latin-1") for b in array.ravel().tolist()]
    return array.ravel().tolist()


class _Decoder:
    """Inverse of :class:`_Encoder`; imports only under the allowed prefixes."""

    def __init__(self, tensors: dict[str, Any], prefixes: tuple[str, ...], path: str,
                 side: dict[str, Any] | None = None):
        self.tensors = tensors
        self.prefixes = prefixes
        self.path = path
        self.side = side or {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        kind = value["__kind__"]
        if kind == "npscalar":
            return np.dtype(value["dtype"]).type(value["value"])
        if kind == "ndarray":
            dtype = np.dtype(value["dtype"])
            data = value["data"]
            if dtype.kind == "c":
                data = [complex(re, im) for re, im in data]
            elif dtype.kind == "S":
                data = [s.encode("latin-1") for s in data]
            return np.array(data, dtype=dtype).reshape(value["shape"])
        if kind == "objarray":
            items = [self(v) for v in value["items"]]
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(value["shape"])
        if kind == "tuple":
            return tuple(self(v) for v in value["items"])
        if kind in ("set", "frozenset"):
            return (set if kind == "set" else frozenset)(self(v) for v in value["items"])
        if kind == "dict":
            return {self(k): self(v) for k, v in value["items"]}
        if kind == "import":
            return self.resolve(value["name"])
        if kind == "tensor":
            return self.tensors[value["key"]]
        if kind == "skops":
            return self.side[value["key"]]
        if kind == "torch.device":
            import torch
            return torch.device(value["value"])
        if kind == "torch.dtype":
            import torch
            dtype = getattr(torch, value["value"])
            if not isinstance(dtype, torch.dtype):
                raise ValueError(f"{self.path}: {value['value']!r} is not a torch dtype")
            return dtype
        if kind == "object":
            cls = self.resolve(value["class"], must_be_class=True)
            return cls(**{k: self(v) for k, v in value["kwargs"].items()})
        raise ValueError(f"{self.path}: unknown value kind {kind!r} in {MANIFEST}")

    def resolve(self, name: str, *, must_be_class: bool = False,
                subclass_of: type | None = None) -> Any:
        if not isinstance(name, str) or not _under(name, self.prefixes):
            raise UntrustedTypeError(
                f"Refusing to load {self.path}: it names {name!r}, which is not under "
                f"the trusted prefixes {sorted(self.prefixes)}. If you trust this file, "
                f"pass trusted=[{name!r}] (or its module) to load.")
        if name in _DENIED:
            raise UntrustedTypeError(f"Refusing to load {self.path}: {name!r} is never trusted.")
        try:
            obj = _import_dotted(name)
        except ImportError as exc:
            raise ValueError(f"Cannot load {self.path}: {exc}") from exc
        if (must_be_class or subclass_of is not None) and not isinstance(obj, type):
            raise UntrustedTypeError(
                f"Refusing to load {self.path}: {name!r} should be a class.")
        if subclass_of is not None and not issubclass(obj, subclass_of):
            raise UntrustedTypeError(
                f"Refusing to load {self.path}: {name!r} is not a subclass of "
                f"{subclass_of.__module__}.{subclass_of.__qualname__}.")
        return obj


class UntrustedTypeError(ValueError):
    """The file names a type or callable that is not trusted; nothing was created."""


# --------------------------------------------------------------------------
# Nets: to manifest entries and back
# --------------------------------------------------------------------------

def _state_attrs(net: Any) -> list[str]:
    names = list(getattr(net, "_modules", []) or ["module"])
    names += list(getattr(net, "_criteria", []) or ["criterion"])
    return [n + "_" for n in dict.fromkeys(names) if hasattr(net, n + "_")]


def _history_json(net: Any, path: str) -> Any:
    history = getattr(net, "history_", None)
    if history is None:
        return None

    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(type(value).__name__)

    try:
        return json.loads(json.dumps(list(history), default=default))
    except (TypeError, ValueError) as exc:
        warnings.warn(f"The training history of the net at {path} is not plain data "
                      f"({exc}) and is not saved.", UserWarning, stacklevel=4)
        return None


def _optimizer_states(net: Any, net_id: str, path: str, tensors: dict) -> dict:
    """Each optimizer's ``state_dict()``: tensors added to ``tensors`` under
    ``<net id>/<attr>/state/<index>/<name>``, the rest as JSON (with
    ``{"__tensor__": key}`` where a tensor was)."""
    import torch

    states = {}
    for attr in (name + "_" for name in getattr(net, "_optimizers", [])):
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
            states[attr] = json.loads(json.dumps(
                {"state": record_state, "param_groups": state_dict["param_groups"]}))
        except (TypeError, ValueError) as exc:
            warnings.warn(f"The state of {attr} of the net at {path} is not plain data "
                          f"({exc}) and is not saved: the loaded net trains on with a "
                          "fresh optimizer.", UserWarning, stacklevel=4)
            continue
        tensors.update(found)
    return states


def _restore_optimizers(net: Any, entry: dict, tensors: dict, path: str) -> None:
    """Load the optimizer states saved by :func:`_optimizer_states` into ``net``."""
    def value(item: Any) -> Any:
        if isinstance(item, dict) and set(item) == {"__tensor__"}:
            return tensors[item["__tensor__"]]  # KeyError: not in the weights
        return item

    for attr, record in (entry.get("optimizer_states") or {}).items():
        try:
            state = {int(index): {name: value(item) for name, item in slot.items()}
                     for index, slot in record["state"].items()}
            groups = [{name: tuple(item) if isinstance(item, list) and name != "params"
                       else item for name, item in group.items()}
                      for group in record["param_groups"]]
            getattr(net, attr).load_state_dict({"state": state, "param_groups": groups})
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{path}: the saved state of {attr} of the net at "
                             f"{entry['path']} is damaged or does not fit its optimizer "
                             f"({type(exc).__name__}: {exc}).") from exc


def _net_entry(net: Any, net_id: str, path: str) -> tuple[dict, dict, dict]:
    """The manifest entry of one net, its tensors and its objects for skops."""
    import torch

    try:
        net_class = _dotted_name(type(net))
    except _Unencodable as exc:
        raise ValueError(f"Cannot save the net at {path}: its class {exc}") from exc
    encoder = _Encoder(net_id)
    params = net.get_params(deep=False)
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
            raise ValueError(
                f"Cannot save the net at {path}: its 'module' parameter is an instance "
                f"({type(value).__name__}); pass the module class and its arguments as "
                "module__* parameters so the net can be rebuilt.")
        try:
            entry_params[name] = encoder(value, f"params/{name}")
        except _Unencodable as exc:
            raise ValueError(
                f"Cannot save the parameter {name!r} of the net at {path}: {exc}") from exc
    if dropped:
        warnings.warn(
            f"Callbacks are not saved: the net at {path} loses its parameters "
            f"{dropped} (they are stored as None; training callbacks do not affect "
            "predictions).", UserWarning, stacklevel=3)

    initialized = bool(getattr(net, "initialized_", False))
    attributes: dict[str, Any] = {}
    optimizers = {n + "_" for n in getattr(net, "_optimizers", [])}
    state_attrs = set(_state_attrs(net))
    for name, value in vars(net).items():
        if (not name.endswith("_") or name.startswith("__") or name in _SKORCH_INTERNAL
                or name in optimizers or name in params or name in state_attrs):
            continue
        try:
            # Fitted objects (e.g. a LabelEncoder) keep their state through skops.
            attributes[name] = encoder(value, f"attrs/{name}", by_constructor=False)
        except _Unencodable as exc:
            raise ValueError(f"Cannot save the fitted attribute {name!r} of the net at "
                             f"{path}: {exc}") from exc

    state_keys: dict[str, list[str]] = {}
    if initialized:
        for attr in _state_attrs(net):
            keys = []
            for key, tensor in getattr(net, attr).state_dict().items():
                if not isinstance(tensor, torch.Tensor):
                    raise ValueError(
                        f"Cannot save the net at {path}: {attr}.state_dict() entry "
                        f"{key!r} is not a tensor.")
                encoder.tensors[f"{net_id}/{attr}/{key}"] = (
                    tensor.detach().to("cpu").contiguous().clone())
                keys.append(key)
            state_keys[attr] = keys

    classes = None
    if initialized:
        try:
            classes = encoder(np.asarray(net.classes_), "classes_")
        except (AttributeError, _Unencodable):
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
        "optimizer_states": (_optimizer_states(net, net_id, path, encoder.tensors)
                             if initialized else {}),
        "history": _history_json(net, path) if initialized else None,
    }
    return entry, encoder.tensors, encoder.side


def _device_for(device: Any) -> tuple[Any, bool]:
    """The device to rebuild on, and whether it had to fall back to the CPU."""
    import torch

    if device is None:
        return None, False
    try:
        kind = torch.device(device).type
    except (TypeError, RuntimeError, ValueError):
        return device, False  # a net-specific value such as "auto": the net resolves it
    if kind == "cuda" and not torch.cuda.is_available():
        return "cpu", True
    if kind == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        return "cpu", True
    return device, False


def _imported_names(value: Any) -> list[tuple[str, str]]:
    """(kind, dotted name) of every import the encoded ``value`` asks for."""
    names: list[tuple[str, str]] = []
    if isinstance(value, list):
        for item in value:
            names += _imported_names(item)
    elif isinstance(value, dict):
        kind = value.get("__kind__")
        if kind == "import":
            names.append(("import", value["name"]))
        elif kind == "object":
            names.append(("class", value["class"]))
        for item in value.values():
            names += _imported_names(item)
    return names


def _check_net_entry(entry: dict, prefixes: tuple[str, ...], path: str) -> None:
    """Refuse untrusted names in a net entry before anything is created."""
    import skorch

    decoder = _Decoder({}, prefixes, path)
    decoder.resolve(entry["class"], subclass_of=skorch.NeuralNet)
    for kind, name in _imported_names([entry["params"], entry["attributes"]]):
        decoder.resolve(name, must_be_class=kind == "class")


def _rebuild_net(entry: dict, tensors: dict, side: dict, prefixes: tuple[str, ...],
                 path: str) -> Any:
    import skorch
    import torch
    from skorch.history import History

    decoder = _Decoder(tensors, prefixes, path, side)
    cls = decoder.resolve(entry["class"], subclass_of=skorch.NeuralNet)
    checks = {"module": torch.nn.Module, "criterion": torch.nn.Module,
              "optimizer": torch.optim.Optimizer}
    params = {}
    for name, value in entry["params"].items():
        if (name in checks and isinstance(value, dict)
                and value.get("__kind__") == "import"):
            params[name] = decoder.resolve(value["name"], subclass_of=checks[name])
        else:
            params[name] = decoder(value)
    device, fell_back = _device_for(params.get("device"))
    if fell_back:
        warnings.warn(
            f"The net at {entry['path']} was saved with device={params['device']!r}, "
            "which is not available here; it is loaded on the CPU.",
            UserWarning, stacklevel=3)
        params["device"] = device
    net = cls(**params)
    attributes = {k: decoder(v) for k, v in entry["attributes"].items()}
    for name, value in attributes.items():
        setattr(net, name, value)
    if not entry["initialized"]:
        return net
    net.initialize()
    for attr, keys in entry["state_dicts"].items():
        state = {key: tensors[f"{entry['id']}/{attr}/{key}"] for key in keys}
        getattr(net, attr).load_state_dict(state, strict=True)
    _restore_optimizers(net, entry, tensors, path)
    for name, value in attributes.items():  # initialize() may have reset them
        setattr(net, name, value)
    if entry.get("history") is not None:
        net.history_ = History(entry["history"])
    return net


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def _add_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    archive.writestr(name, data)


def save(estimator: Any, path: str | os.PathLike) -> None:
    """Save a fitted estimator tree, skorch nets included, to one file.

    The file is a zip archive of a JSON manifest, the nets' weights in the
    safetensors format and the rest of the tree in the skops format; loading it
    never unpickles anything. The write is atomic: the archive is written to a
    temporary file next to ``path``, synced to disk and renamed over ``path``,
    so a crash leaves any previous file untouched. ``estimator`` is not
    modified.

    Parameters
    ----------
    estimator : object
        A scikit-learn estimator (fitted or not), e.g. a ``Pipeline`` or a
        ``RecordingFusion``, possibly containing skorch nets anywhere in its
        parameters or fitted attributes.
    path : str or path-like
        Destination file; the suffix ``.skasc`` is conventional.

    Raises
    ------
    ValueError
        If a net parameter cannot be stored by value or import path (a lambda,
        a module instance instead of a class) or skops cannot serialise the tree.

    Warns
    -----
    UserWarning
        If a net has callbacks: they are dropped (stored as ``None``).

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, X[:, 0] > 0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skasc")
    >>> save(model, path)
    >>> bool(np.array_equal(load(path).predict_proba(X), model.predict_proba(X)))
    True
    """
    import skops.io

    path = os.fspath(path)
    found = _find_nets(estimator)
    entries, tensors, net_objects = [], {}, {}
    memo: dict[int, Any] = {}
    for i, (net, where) in enumerate(found):
        net_id = f"net{i}"
        entry, net_tensors, side = _net_entry(net, net_id, where)
        entries.append(entry)
        tensors.update(net_tensors)
        if side:
            net_objects[net_id] = side
        memo[id(net)] = _NetSlot(net_id)
    # Copy with the nets pre-seeded in the memo: they are replaced by their
    # placeholders wherever they occur and are never copied themselves.
    payload = copy.deepcopy({"estimator": estimator, "net_objects": net_objects}, memo)
    try:
        tree_bytes = skops.io.dumps(payload)
    except Exception as exc:  # skops raises various types for unsupported objects
        raise ValueError(f"Cannot save to {path}: skops cannot serialise the "
                         f"estimator tree ({type(exc).__name__}: {exc})") from exc
    if tensors:
        import safetensors.torch
        weights = safetensors.torch.save(tensors, metadata={"format": "pt"})
    else:
        import safetensors.numpy
        weights = safetensors.numpy.save({}, metadata={"format": "pt"})
    manifest = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "estimator_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "nets": entries,
    }
    manifest_bytes = json.dumps(manifest, indent=1).encode("utf-8")

    with atomic_write(path) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            _add_member(archive, MANIFEST, manifest_bytes)
            _add_member(archive, WEIGHTS, weights)
            _add_member(archive, ESTIMATOR, tree_bytes)




def _read_archive(path: str) -> tuple[dict, bytes, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in _MEMBERS if m not in names]
            if missing:
                raise ValueError(f"{path} is not a skasc model file: the members "
                                 f"{missing} are missing.")
            raw_manifest = archive.read(MANIFEST)
            weights = archive.read(WEIGHTS)
            tree = archive.read(ESTIMATOR)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a skasc model file (not a valid zip archive: "
                         f"{exc}).") from exc
    except (zipfile.LargeZipFile, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable skasc model file ({exc}).") from exc
    try:
        manifest = json.loads(raw_manifest.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a skasc model file: {MANIFEST} is not "
                         f"valid JSON ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT_NAME:
        raise ValueError(f"{path} is not a skasc model file: {MANIFEST} does not "
                         f"declare format {_FORMAT_NAME!r}.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {manifest.get('format_version')!r}; this skasc "
            f"reads version {FORMAT_VERSION}. Re-save it with a matching skasc.")
    return manifest, weights, tree


def _warn_versions(manifest: dict, path: str) -> None:
    recorded = manifest.get("versions", {})
    current = _versions()
    for package in ("skasc", "torch", "scikit-learn"):
        then, now = recorded.get(package), current.get(package)
        if then and now and _major(then) != _major(now):
            warnings.warn(
                f"{path} was saved with {package} {then}; this is {package} {now}, a "
                "different major version. The loaded model may behave differently.",
                UserWarning, stacklevel=3)


def _skops_trusted(data: bytes, extra: list[str], path: str) -> list[str]:
    """The untrusted types of the skops part that the allow-list accepts.

    Raises ``UntrustedTypeError`` listing all the others.
    """
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=data)
    accepted, refused = [], []
    for name in untrusted:
        if _under(name, extra):
            accepted.append(name)
        elif _under(name, SKOPS_TRUSTED_PREFIXES) and name not in _DENIED:
            try:
                obj = _import_dotted(name)
            except ImportError:
                refused.append(name)
                continue
            # Classes (constructors) and numpy ufuncs only: other functions from
            # the allowed modules could be called with data from the file.
            if isinstance(obj, (type, np.ufunc)):
                accepted.append(name)
            else:
                refused.append(name)
        else:
            refused.append(name)
    if refused:
        raise UntrustedTypeError(
            f"Refusing to load {path}: it contains the untrusted types {refused}. "
            "Only classes from the modules "
            f"{list(SKOPS_TRUSTED_PREFIXES)} are trusted by default; if you trust this "
            "file, pass them in load(..., trusted=[...]).")
    return accepted


def load(path: str | os.PathLike, *, trusted: Iterable[Any] | None = None) -> Any:
    """Load an estimator tree written by :func:`save`, without unpickling.

    Types in the skops part are accepted only if they are classes from the
    modules ``skasc``, ``sklearn``, ``numpy``, ``scipy``, ``builtins``,
    ``collections`` and ``joblib`` (or numpy ufuncs), or are listed in
    ``trusted``. Nets are rebuilt from their recorded parameters, whose
    classes and functions must come from ``torch``, ``skorch`` or ``skasc``
    (or ``trusted``), and their weights are read from safetensors. A net saved
    with a CUDA device is loaded on the CPU when CUDA is not available.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    trusted : list of (type or str), default=None
        Extra types, functions or dotted names to trust. A dotted name also
        trusts everything below it, so ``"mypackage"`` trusts every class and
        function of ``mypackage``.

    Returns
    -------
    estimator : object
        The estimator tree, with its nets initialised and their weights loaded.

    Raises
    ------
    ValueError
        If ``path`` is not a skasc model file (not a zip, a member missing, a
        bad manifest). ``UntrustedTypeError`` (a ``ValueError``) if the file
        names a type or callable that is not trusted; nothing from the file is
        created in that case.
    FileNotFoundError
        If ``path`` does not exist.

    Warns
    -----
    UserWarning
        If the file was written with another major version of skasc, torch or
        scikit-learn, or a net falls back from CUDA to the CPU.
    """
    import skops.io

    path = os.fspath(path)
    extra = _trusted_names(trusted)
    manifest, weights, tree_bytes = _read_archive(path)
    _warn_versions(manifest, path)
    accepted = _skops_trusted(tree_bytes, extra, path)
    entries = manifest.get("nets", [])
    prefixes = NET_TRUSTED_PREFIXES + tuple(extra)
    # Every name is checked before anything from the file is created.
    for entry in entries:
        try:
            _check_net_entry(entry, prefixes, path)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a skasc model file: a net entry of "
                             f"{MANIFEST} is malformed ({exc!r}).") from exc
    tensors = {}
    if entries:
        import safetensors.torch
        try:
            tensors = safetensors.torch.load(weights)
        except Exception as exc:  # safetensors raises its own error type
            raise ValueError(f"{path} is not a skasc model file: {WEIGHTS} is not a "
                             f"valid safetensors file ({exc}).") from exc
    try:
        payload = skops.io.loads(tree_bytes, trusted=accepted)
        tree, net_objects = payload["estimator"], payload["net_objects"]
    except Exception as exc:
        raise ValueError(f"Cannot load {path}: the skops part is unreadable "
                         f"({type(exc).__name__}: {exc}).") from exc
    nets = {}
    for entry in entries:
        try:
            nets[entry["id"]] = _rebuild_net(entry, tensors, net_objects.get(entry["id"], {}),
                                             prefixes, path)
        except (KeyError, TypeError, AttributeError, RuntimeError) as exc:
            raise ValueError(f"Cannot rebuild the net {entry.get('path')} from {path}: "
                             f"{type(exc).__name__}: {exc}") from exc
    return _put_nets_back(tree, nets)
