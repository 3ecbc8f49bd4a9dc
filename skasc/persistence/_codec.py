"""The codec: net parameters and attributes as JSON for the manifest, and back.

Plain values are stored as JSON; numpy arrays and scalars with their dtype;
tensors as keys into the safetensors member; classes and functions as dotted
import paths (``{"__kind__": "import"}``); objects rebuildable from their
constructor arguments (skorch's ``ValidSplit``) as their class plus arguments
(``{"__kind__": "object"}``); anything else as a key into the skops part.

Decoding turns names back into objects only through
:class:`skasc.persistence._trust.ManifestNames`, the allow-list.
"""

from __future__ import annotations

import inspect
import math
import sys
import types
from typing import Any

import numpy as np

from ..exceptions import ModelFileError, SkascError
from ._trust import IMPORT, OBJECT, ManifestNames, import_dotted, torch_dtype

__all__ = ["Unencodable", "Encoder", "Decoder", "dotted_name", "imported_names"]

# numpy dtype kinds stored as JSON data (the encoder writes no others).
_MAX_ITEMSIZE = 1 << 20  # bytes per element of an array stored in the manifest
_ARRAY_KINDS = "biufcUS?"


class Unencodable(SkascError):
    """A value that the manifest cannot hold as plain data."""


def dotted_name(obj: Any) -> str:
    """``module.qualname`` of a class or function (raises Unencodable)."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise Unencodable(
            f"{obj!r} cannot be stored by import path (lambdas, local and __main__ "
            "objects cannot be imported back); define it at module level in an "
            "importable module"
        )
    name = f"{module}.{qualname}"
    try:
        found = import_dotted(name)  # the object's own name, not file data
    except ImportError as exc:
        raise Unencodable(f"{name} cannot be imported back: {exc}") from exc
    if found is not obj:
        raise Unencodable(f"importing {name} does not give back {obj!r}")
    return name


class Encoder:
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
            if value.dtype.kind in _ARRAY_KINDS:
                return {
                    "__kind__": "ndarray",
                    "dtype": value.dtype.str,
                    "shape": list(value.shape),
                    "data": _array_data(value),
                }
            if value.dtype == object:
                return {
                    "__kind__": "objarray",
                    "shape": list(value.shape),
                    "items": [
                        self(v, f"{where}[{i}]") for i, v in enumerate(value.ravel().tolist())
                    ],
                }
            raise Unencodable(f"{where}: arrays of dtype {value.dtype} are not supported")
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {
                "__kind__": "tuple",
                "items": [self(v, f"{where}[{i}]") for i, v in enumerate(value)],
            }
        if isinstance(value, (set, frozenset)):
            return {
                "__kind__": type(value).__name__,
                "items": [
                    self(v, f"{where}{{{i}}}") for i, v in enumerate(sorted(value, key=repr))
                ],
            }
        if isinstance(value, dict):
            return {
                "__kind__": "dict",
                "items": [
                    [self(k, f"{where}<key {i}>"), self(v, f"{where}[{k!r}]")]
                    for i, (k, v) in enumerate(value.items())
                ],
            }
        if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
            return {"__kind__": "import", "name": dotted_name(value)}
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
            except Unencodable:
                pass
        self.side[where] = value
        return {"__kind__": "skops", "key": where}

    def _object(self, value: Any, where: str) -> Any:
        """An object rebuilt as ``cls(**kwargs)`` (e.g. skorch's ``ValidSplit``)."""
        cls = type(value)
        try:
            name = dotted_name(cls)
            signature = inspect.signature(cls)
        except (Unencodable, TypeError, ValueError) as exc:
            raise Unencodable(f"{where}: {value!r} cannot be stored ({exc})") from exc
        kwargs = {}
        for pname, param in signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if not hasattr(value, pname):
                raise Unencodable(
                    f"{where}: {value!r} cannot be stored: its constructor argument "
                    f"{pname!r} is not kept as an attribute"
                )
            kwargs[pname] = self(getattr(value, pname), f"{where}.{pname}")
        return {"__kind__": "object", "class": name, "kwargs": kwargs}


def _array_data(array: np.ndarray) -> Any:
    if array.dtype.kind == "c":
        return [[z.real, z.imag] for z in array.ravel().tolist()]
    if array.dtype.kind == "S":
        return [b.decode("latin-1") for b in array.ravel().tolist()]
    return array.ravel().tolist()


def imported_names(value: Any) -> list[tuple[str, Any]]:
    """(role, name) of every name the encoded ``value`` asks for, checked or not."""
    names: list[tuple[str, Any]] = []
    if isinstance(value, list):
        for item in value:
            names += imported_names(item)
    elif isinstance(value, dict):
        kind = value.get("__kind__")
        if kind == "import":
            names.append((IMPORT, value.get("name")))
        elif kind == "object":
            names.append((OBJECT, value.get("class")))
        for item in value.values():
            names += imported_names(item)
    return names


class Decoder:
    """Inverse of :class:`Encoder`; names are resolved by the allow-list only.

    Parameters
    ----------
    names : ManifestNames
        The allow-list for this load.
    tensors : dict
        The safetensors member, by key.
    side : dict
        This net's objects from the skops part, by key.
    """

    def __init__(
        self, names: ManifestNames, tensors: dict[str, Any], side: dict[str, Any] | None = None
    ):
        self.names = names
        self.path = names.path
        self.tensors = tensors
        self.side = side or {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        kind = value["__kind__"]
        if kind == "npscalar":
            dtype = self._dtype(value["dtype"])
            return self._build(lambda: dtype.type(value["value"]), dtype)
        if kind == "ndarray":
            dtype = self._dtype(value["dtype"])
            data, shape = value["data"], value["shape"]
            if (
                not isinstance(shape, list)
                or not all(isinstance(n, int) and n >= 0 for n in shape)
                or not isinstance(data, list)
                or math.prod(shape) != len(data)
            ):
                raise ModelFileError(
                    f"Cannot load {self.path}: an array's shape {shape!r} does "
                    "not match its stored values."
                )
            self._check_itemsize(dtype, data)
            if dtype.kind == "c":
                data = [complex(re, im) for re, im in data]
            elif dtype.kind == "S":
                data = [s.encode("latin-1") for s in data]
            return self._build(lambda: np.array(data, dtype=dtype).reshape(shape), dtype)
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
            return self.names.resolve(value["name"], IMPORT)
        if kind == "tensor":
            return self.tensors[value["key"]]
        if kind == "skops":
            return self.side[value["key"]]
        if kind == "torch.device":
            import torch

            if not isinstance(value["value"], str):
                raise ModelFileError(
                    f"Cannot load {self.path}: {value['value']!r} is not a device name."
                )
            return torch.device(value["value"])
        if kind == "torch.dtype":
            return torch_dtype(value["value"], self.path)
        if kind == "object":
            cls = self.names.resolve(value["class"], OBJECT)
            kwargs = value["kwargs"]
            if not isinstance(kwargs, dict) or not all(
                isinstance(k, str) and k.isidentifier() for k in kwargs
            ):
                raise ModelFileError(
                    f"Cannot load {self.path}: the arguments of {value['class']} "
                    "are not a mapping of names."
                )
            return cls(**{k: self(v) for k, v in kwargs.items()})
        raise ModelFileError(
            f"Cannot load {self.path}: unknown value kind {kind!r} in its manifest."
        )

    def _check_itemsize(self, dtype: np.dtype, data: list) -> None:
        """Refuse a string dtype wider than the longest stored string needs, so that an
        array takes at most 4 bytes per stored character (``'<U262144'`` holding empty
        strings would take 1 MiB per element); other dtypes have a fixed size."""
        if dtype.kind not in "US":
            return
        if not all(isinstance(s, str) for s in data):
            raise ModelFileError(
                f"Cannot load {self.path}: an array of dtype {dtype.str} "
                "holds values that are not strings."
            )
        longest = max((len(s) for s in data), default=0)
        needed = max(1, longest) * (4 if dtype.kind == "U" else 1)
        if dtype.itemsize > needed:
            raise ModelFileError(
                f"Cannot load {self.path}: an array of dtype {dtype.str} ({dtype.itemsize} "
                f"bytes per element) stores strings of at most {longest} characters; "
                "arrays may not ask for more memory than they store."
            )

    def _build(self, make: Any, dtype: np.dtype) -> Any:
        """``make()``, with numpy's refusal of a stored value (``10**30`` as ``<i2``, a
        string as a float) raised as a ModelFileError naming the file."""
        try:
            return make()
        except (OverflowError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"Cannot load {self.path}: a stored value does not fit its "
                f"dtype {dtype.str} ({type(exc).__name__}: {exc})."
            ) from exc

    def _dtype(self, name: Any) -> np.dtype:
        try:
            dtype = np.dtype(name) if isinstance(name, str) else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.kind not in _ARRAY_KINDS:
            raise ModelFileError(f"Cannot load {self.path}: {name!r} is not a dtype skasc stores.")
        if dtype.itemsize > _MAX_ITEMSIZE:  # e.g. '|S2000000000': 2 GB per element
            raise ModelFileError(
                f"Cannot load {self.path}: dtype {name!r} has "
                f"{dtype.itemsize} bytes per element (at most {_MAX_ITEMSIZE})."
            )
        return dtype
