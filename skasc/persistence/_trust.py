"""What a model file may name: the one place that turns names from a file into objects.

A ``.skasc`` file names classes and functions in two places: the manifest (a
net's class, its ``module``, ``criterion``, ``optimizer``, iterators and
objects such as skorch's ``ValidSplit``) and the skops part (the types of the
scikit-learn tree). Both are checked here against **exact** allow-lists of the
objects skasc itself writes, by full dotted name:

* :data:`MANIFEST_ALLOWED` (public paths, e.g. ``"torch.optim.Adam"``; the
  canonical ``module.qualname`` of each, e.g. ``"torch.optim.adam.Adam"``, is
  what files contain and is accepted as well);
* :data:`SKOPS_ALLOWED`, the types skops does not trust by default but skasc's
  pipelines contain (skasc's estimators, scikit-learn's calibration helpers and
  CV splitters); everything skops trusts by default (scikit-learn's public
  estimators, numpy arrays, dtypes and ufuncs, ...) is accepted by skops itself.

A name from a file is never imported to find out what it is: it is looked up
among the objects of the allow-lists, which are themselves imported from the
constants below. The only exception is what the user names in
``load(..., trusted=[...])``: those names (and everything below them) are
imported on request. Anything else raises :class:`UntrustedTypeError` naming
the file and the type, before anything from the file is created.

Adding a class to skasc that a saved model may contain (a new estimator, a
new network module) means adding it here; ``tests/test_persistence_security.py``
checks that every estimator skasc exports is listed.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable
from typing import Any

from ..exceptions import InvalidParameterError, ModelFileError, UntrustedTypeError

__all__ = [
    "UntrustedTypeError",
    "MANIFEST_ALLOWED",
    "SKOPS_ALLOWED",
    "trusted_names",
    "import_dotted",
    "dotted_name_of",
    "ManifestNames",
    "check_skops_schema",
    "skops_trusted",
    "torch_dtype",
]


# Roles a manifest name may play.
NET = "net"  # a net's class (``entry["class"]``): a skorch.NeuralNet subclass
IMPORT = "import"  # a class or function stored by import path (``module=AttCRNN``)
OBJECT = "object"  # a class called with keyword arguments from the file (``ValidSplit``)

_SPLITTERS = (
    "KFold",
    "StratifiedKFold",
    "GroupKFold",
    "StratifiedGroupKFold",
    "ShuffleSplit",
    "StratifiedShuffleSplit",
    "GroupShuffleSplit",
    "PredefinedSplit",
    "LeaveOneOut",
    "LeaveOneGroupOut",
    "LeavePOut",
    "LeavePGroupsOut",
    "RepeatedKFold",
    "RepeatedStratifiedKFold",
    "TimeSeriesSplit",
)
_LOSSES = (
    "KLDivLoss",
    "NLLLoss",
    "CrossEntropyLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "HuberLoss",
)
_OPTIMIZERS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam")

#: Every name the manifest may contain, by public path, with the roles it may play.
#: Nets are created (``cls(**params)``); ``OBJECT`` classes are called with the
#: file's keyword arguments; ``IMPORT`` names are only passed as parameters
#: (skorch creates modules, criteria, optimizers and iterators from them, with
#: the ``module__*`` ... arguments of the file).
MANIFEST_ALLOWED: dict[str, frozenset[str]] = {
    "skasc.nn.AttCRNNClassifier": frozenset({NET}),
    "skasc.nn.CNNBaselineClassifier": frozenset({NET}),
    "skorch.NeuralNet": frozenset({NET}),
    "skorch.NeuralNetClassifier": frozenset({NET}),
    "skorch.NeuralNetBinaryClassifier": frozenset({NET}),
    "skorch.NeuralNetRegressor": frozenset({NET}),
    "skasc.nn.AttCRNN": frozenset({IMPORT}),
    "skasc.nn.CNNBaseline": frozenset({IMPORT}),
    **{f"torch.nn.{name}": frozenset({IMPORT}) for name in _LOSSES},
    **{f"torch.optim.{name}": frozenset({IMPORT}) for name in _OPTIMIZERS},
    "torch.utils.data.DataLoader": frozenset({IMPORT}),
    "skorch.dataset.Dataset": frozenset({IMPORT}),
    "skorch.dataset.ValidSplit": frozenset({OBJECT}),
    # ValidSplit(cv=StratifiedKFold(...)): constructors that only store their arguments
    **{f"sklearn.model_selection.{name}": frozenset({OBJECT}) for name in _SPLITTERS},
}

#: Types of the skops part that skops does not trust by default but skasc
#: writes, by public path. skops creates them without calling ``__init__``
#: (or, for some loaders, calls the class with arguments from the file: these
#: constructors only store their arguments, the scikit-learn convention).
SKOPS_ALLOWED: tuple[str, ...] = (
    "skasc.persistence._NetSlot",
    "skasc.frontend.audio.AudioLoader",
    "skasc.frontend.segment.Segmenter",
    "skasc.frontend.denoise.MinStatsDenoiser",
    "skasc.frontend.features.LogMelExtractor",
    "skasc.frontend.features.GammatoneExtractor",
    "skasc.frontend.features.FeatureStack",
    "skasc.frontend.features.FeatureTypeSelector",
    "skasc.frontend.FrontEnd",
    "skasc.fusion.RecordingFusion",
    "skasc.fusion.SystemFusion",
    "skasc.calibration.TrainingSetCalibration",
    "skasc.datasets.LitisSplits",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",  # calibration_method="temperature"
    "sklearn.utils.Bunch",
    *(f"sklearn.model_selection.{name}" for name in _SPLITTERS),
)


# --------------------------------------------------------------------------
# Names and imports
# --------------------------------------------------------------------------


def import_dotted(name: str) -> Any:
    """Import ``a.b.C.D``: the longest importable module prefix, then attributes.

    Only for names that skasc chose (the allow-lists, the objects being saved)
    or that the user passed in ``trusted``; never for a name read from a file
    that is not under ``trusted``.
    """
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


def dotted_name_of(obj: Any) -> str:
    """``module.qualname`` of a class or function, as files record it."""
    return f"{obj.__module__}.{obj.__qualname__}"


def trusted_names(trusted: Iterable[Any] | None) -> list[str]:
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
                raise InvalidParameterError(
                    "The 'trusted' parameter of load must be a list of types, functions "
                    f"or dotted names. Got {item!r} instead."
                )
            names.append(f"{module}.{qualname}")
    return names


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _allowed_objects(public: Iterable[str]) -> dict[str, Any]:
    """``{name: object}`` for every public path and its canonical name.

    A name this installation lacks (an optimizer of a newer torch) is left out:
    no file written here can contain it.
    """
    found: dict[str, Any] = {}
    for name in public:
        try:
            obj = import_dotted(name)
        except ImportError:
            continue
        found[name] = obj
        found[dotted_name_of(obj)] = obj
    return found


# --------------------------------------------------------------------------
# The manifest
# --------------------------------------------------------------------------


class ManifestNames:
    """Resolves the names of a manifest for one ``load`` call.

    Parameters
    ----------
    path : str
        The file being loaded (named in errors).
    trusted : list of str
        Dotted names the user trusts (see :func:`trusted_names`).
    """

    def __init__(self, path: str, trusted: list[str]) -> None:
        self.path = path
        self.trusted = list(trusted)
        self._objects: dict[str, tuple[Any, frozenset[str]]] = {}
        objects = _allowed_objects(MANIFEST_ALLOWED)
        for public, roles in MANIFEST_ALLOWED.items():
            if public in objects:
                obj = objects[public]
                for name in (public, dotted_name_of(obj)):
                    self._objects[name] = (obj, roles)

    def resolve(
        self, name: Any, role: str, *, subclass_of: type | None = None, what: str = ""
    ) -> Any:
        """The object a manifest ``name`` stands for, checked for ``role``.

        Raises
        ------
        UntrustedTypeError
            If ``name`` is not on the allow-list for ``role`` nor under ``trusted``,
            or is not a class (a subclass of ``subclass_of``) where one is required.
        """
        where = f" as {what}" if what else ""
        if not isinstance(name, str):
            raise UntrustedTypeError(
                f"Refusing to load {self.path}: it names {name!r}{where}, which is not a "
                "dotted name."
            )
        if _under(name, self.trusted):
            try:
                obj = import_dotted(name)
            except ImportError as exc:
                raise ModelFileError(f"Cannot load {self.path}: {exc}") from exc
        else:
            obj, roles = self._objects.get(name, (None, frozenset()))
            if role not in roles:
                raise UntrustedTypeError(
                    f"Refusing to load {self.path}: it names {name!r}{where}, which is not "
                    "one of the classes skasc stores. If you trust this file, pass "
                    f"trusted=[{name!r}] (or its module) to load."
                )
        if (role in (NET, OBJECT) or subclass_of is not None) and not isinstance(obj, type):
            raise UntrustedTypeError(f"Refusing to load {self.path}: {name!r} should be a class.")
        if subclass_of is not None and not issubclass(obj, subclass_of):
            raise UntrustedTypeError(
                f"Refusing to load {self.path}: {name!r} is not a subclass of "
                f"{subclass_of.__module__}.{subclass_of.__qualname__}."
            )
        return obj


def torch_dtype(value: Any, path: str) -> Any:
    """The torch dtype named ``value`` (``"float32"``), found without importing anything."""
    torch = sys.modules["torch"]
    dtypes = {key: obj for key, obj in vars(torch).items() if isinstance(obj, torch.dtype)}
    if not isinstance(value, str) or value not in dtypes:
        raise ModelFileError(f"Cannot load {path}: {value!r} is not a torch dtype.")
    return dtypes[value]


# --------------------------------------------------------------------------
# The skops part
# --------------------------------------------------------------------------


def skops_trusted(untrusted: Iterable[str], trusted: list[str], path: str) -> list[str]:
    """The types of the skops part (those skops does not trust by default) to accept.

    Parameters
    ----------
    untrusted : list of str
        ``skops.io.get_untrusted_types`` of the skops part.
    trusted : list of str
        Dotted names the user trusts.
    path : str
        The file being loaded (named in errors).

    Raises
    ------
    UntrustedTypeError
        Listing every type that is neither on :data:`SKOPS_ALLOWED` nor under
        ``trusted``.
    """
    untrusted = list(untrusted)
    allowed: set[str] = set()
    if any(not _under(name, trusted) for name in untrusted):
        allowed = set(_allowed_objects(SKOPS_ALLOWED))
    accepted: list[str] = []
    refused: list[str] = []
    for name in untrusted:
        (accepted if name in allowed or _under(name, trusted) else refused).append(name)
    if refused:
        raise UntrustedTypeError(
            f"Refusing to load {path}: it contains the untrusted types {refused}. Only "
            "the types skasc stores and those skops trusts are loaded by default; if you "
            "trust this file, pass them in load(..., trusted=[...])."
        )
    return accepted


# The classes skops writes for a JsonNode (a value stored as JSON text).
_JSON_CLASSES = frozenset({"str", "int", "float", "bool", "NoneType", "list", "dict"})


def _without_ids(value: Any) -> Any:
    """A schema node with the ``__id__`` of every node inside it removed.

    skops writes an object it meets twice (a fitted system held by both
    ``estimators_`` and ``named_estimators_``) twice in full, and the state
    dicts it builds on the way get new ids each time: two copies of one object
    are equal up to those ids. skops loads only the first copy.
    """
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "__id__"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def check_skops_schema(schema: dict, path: str) -> None:
    """Refuse names in the skops schema that skops would not look at.

    skops checks the types of the nodes it loads, but ignores the type named
    by a JSON value and every repeat of a node it has already seen (same
    ``__id__``). skasc refuses both kinds of tampering, so that every name in a
    file is one that is checked: a JSON value must name a JSON type, and a
    repeated node must equal its first copy.

    Raises
    ------
    UntrustedTypeError
        If a JSON value names another type.
    ValueError
        If two nodes with the same ``__id__`` differ.
    """
    nodes: list[dict] = []
    stack: list[Any] = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "__loader__" in value:
                nodes.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    counts: dict[Any, int] = {}
    for node in nodes:
        if node.get("__loader__") == "JsonNode" and (
            node.get("__module__") != "builtins" or node.get("__class__") not in _JSON_CLASSES
        ):
            raise UntrustedTypeError(
                f"Refusing to load {path}: a JSON value in its skops part names the type "
                f"{node.get('__module__')!r}.{node.get('__class__')!r}."
            )
        key = node.get("__id__")
        if key is not None and node.get("__loader__") != "CachedNode":
            counts[repr(key)] = counts.get(repr(key), 0) + 1
    first: dict[str, str] = {}
    for node in nodes:
        key = repr(node.get("__id__"))
        if counts.get(key, 0) < 2 or node.get("__loader__") == "CachedNode":
            continue
        text = json.dumps(_without_ids(node), sort_keys=True)
        if first.setdefault(key, text) != text:
            raise ModelFileError(
                f"{path} is not a skasc model file: its skops part holds two "
                f"different objects under the id {node.get('__id__')!r}."
            )
