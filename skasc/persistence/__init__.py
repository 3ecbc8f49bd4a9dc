"""Safe, exact persistence of fitted estimator trees that may contain skorch nets.

``save(estimator, path)`` writes one zip file with three members:

``manifest.json``
    Format version, the versions of skasc / torch / scikit-learn / numpy, the
    creation time, the sizes of the other members and, for every skorch net
    found in the tree, its position, its class, its constructor parameters
    (classes and functions written as dotted import paths), its fitted
    attributes (``classes_inferred_`` ...) and its training history.
``weights.safetensors``
    The ``state_dict`` tensors of every net's modules and criteria, on the CPU,
    keyed ``"<net id>/<attribute>/<tensor name>"``, and those of its optimizers
    (``"<net id>/optimizer_/state/<index>/<name>"``), so that training goes on
    exactly after loading.
``estimator.skops``
    ``{"estimator": tree, "net_objects": {net id: {key: object}}}`` written
    with :func:`skops.io.dumps`: the tree with every net replaced by a small
    placeholder, and the nets' fitted attributes that are not plain data.

``load(path, trusted=None)`` reads the tree back without unpickling anything.
The package is split along the trust boundary:

``_archive``
    the zip members, written atomically and read within size limits;
``_trust``
    the only module that turns names from a file into objects (exact allow-lists);
``_codec``
    net parameters as JSON and back;
``_nets``
    net entries, optimizer states, and rebuilding nets from them;
``_walk``
    finding nets in a tree and putting them back.

See ``docs/persistence.md`` for the format and the security model.

``import skasc.persistence`` is light; it imports skorch and safetensors'
torch bindings only when a tree contains nets. (skops itself, imported by
``save`` and ``load``, currently pulls in torch through scikit-learn's
testing utilities.)
"""

from __future__ import annotations

import copy
import datetime
import importlib.metadata
import os
from collections.abc import Iterable
from typing import Any

from skasc._atomic import check_output_path

from .._warnings import warn
from ..exceptions import ModelFileError, SkascValueError
from ._archive import (
    ESTIMATOR,
    FORMAT_VERSION,
    MANIFEST,
    WEIGHTS,
    check_skops_part,
    manifest_entries,
    read_archive,
    rename_moved_modules,
    write_archive,
)
from ._archive import FORMAT_NAME as _FORMAT_NAME
from ._nets import check_net_entry, net_entry, rebuild_net
from ._trust import (
    ManifestNames,
    UntrustedTypeError,
    check_skops_schema,
    skops_trusted,
    trusted_names,
)
from ._walk import _NetSlot, find_nets, forget_folders, put_nets_back, slot_ids

__all__ = ["save", "load", "FORMAT_VERSION", "UntrustedTypeError"]


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _skasc_version() -> str | None:
    import skasc

    return getattr(skasc, "__version__", None) or _version("skasc")


def _versions() -> dict[str, str | None]:
    return {
        "skasc": _skasc_version(),
        "torch": _version("torch"),
        "scikit-learn": _version("scikit-learn"),
        "numpy": _version("numpy"),
        "skorch": _version("skorch"),
    }


def _major(version: Any) -> str | None:
    if not version or not isinstance(version, str):
        return None
    return version.split("+")[0].split(".")[0]


def _warn_versions(manifest: dict, path: str) -> None:
    recorded = manifest.get("versions")
    recorded = recorded if isinstance(recorded, dict) else {}
    current = _versions()
    for package in ("skasc", "torch", "scikit-learn"):
        then, now = recorded.get(package), current.get(package)
        if _major(then) and now and _major(then) != _major(now):
            warn(
                f"{path} was saved with {package} {then}; this is {package} {now}, a "
                "different major version. The loaded model may behave differently.",
                UserWarning,
            )


def save(estimator: Any, path: str | os.PathLike) -> None:
    """Save a fitted estimator tree, skorch nets included, to one file.

    The file is a zip archive of a JSON manifest, the nets' weights in the
    safetensors format and the rest of the tree in the skops format; loading it
    never unpickles anything. The write is atomic: the archive is written to a
    temporary file next to ``path``, synced to disk and renamed over ``path``,
    so a crash leaves any previous file untouched. The file's permissions
    follow the umask (``0o666 & ~umask``). ``estimator`` is not modified.

    Parameters
    ----------
    estimator : object
        A scikit-learn estimator (fitted or not), e.g. a ``Pipeline`` or a
        ``RecordingFusion``, possibly containing skorch nets anywhere in its
        parameters or fitted attributes.
    path : str or path-like
        Destination file; the suffix ``.skasc`` is conventional. Its folder
        must exist; this is checked before anything is serialised.

    Raises
    ------
    FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError
        If the folder of ``path`` is missing, is not a folder or is not
        writable, or ``path`` is a folder; raised at once, naming ``path``.
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
    path = os.fspath(path)
    check_output_path(path)
    import skops.io

    found = find_nets(estimator)
    entries, tensors, net_objects = [], {}, {}
    memo: dict[int, Any] = {}
    for i, (net, where) in enumerate(found):
        net_id = f"net{i}"
        entry, net_tensors, side = net_entry(net, net_id, where)
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
        raise SkascValueError(
            f"Cannot save to {path}: skops cannot serialise the "
            f"estimator tree ({type(exc).__name__}: {exc})"
        ) from exc
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
    write_archive(path, manifest, weights, tree_bytes)


#: What building objects from a file's values may raise (a value out of a dtype's range,
#: a missing key, a constructor refusing an argument, torch refusing a tensor): each
#: becomes a ModelFileError naming the file.
_FROM_FILE_DATA = (
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    RuntimeError,
)


def _malformed(path: str, what: str, exc: BaseException) -> ModelFileError:
    return ModelFileError(
        f"{path} is not a skasc model file: {what} ({type(exc).__name__}: {exc})."
    )


def load(path: str | os.PathLike, *, trusted: Iterable[Any] | None = None) -> Any:
    """Load an estimator tree written by :func:`save`, without unpickling.

    Every class or function the file names is checked against an exact
    allow-list of what skasc itself stores (its estimators and networks, the
    torch losses, optimizers and data loader, skorch's nets, datasets and
    ``ValidSplit``, scikit-learn's calibration helpers and CV splitters),
    besides what skops trusts by default (scikit-learn's estimators, numpy
    arrays, ...), and anything named in ``trusted``. Members are read within
    size limits declared by the manifest. Nets are rebuilt from their recorded
    parameters and their weights are read from safetensors. A net saved with a
    CUDA device is loaded on the CPU when CUDA is not available.

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
    UntrustedTypeError
        (a ``ValueError``) If the file names a type or callable that is not
        trusted; it names the file and the type, and nothing from the file has
        been created.
    ValueError
        If ``path`` is not a skasc model file (not a zip, a member missing or
        larger than declared, a bad manifest, an unreadable skops part, nets
        that do not match the skops part), naming ``path``.
    FileNotFoundError
        If ``path`` does not exist.

    Warns
    -----
    UserWarning
        If the file was written with another major version of skasc, torch or
        scikit-learn, or a net falls back from CUDA to the CPU.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.skasc")
    >>> save(MinMaxScaler().fit([[0.0], [2.0]]), path)
    >>> load(path).transform([[1.0]])
    array([[0.5]])
    """
    import skops.io

    path = os.fspath(path)
    extra = trusted_names(trusted)
    manifest, weights, tree_bytes = read_archive(path)
    _warn_versions(manifest, path)
    schema = check_skops_part(tree_bytes, path)
    check_skops_schema(schema, path)
    tree_bytes = rename_moved_modules(tree_bytes, schema)
    try:
        untrusted = skops.io.get_untrusted_types(data=tree_bytes)
    except Exception as exc:  # skops raises many types for a broken schema
        raise _malformed(path, f"{ESTIMATOR} is not a readable skops file", exc) from exc
    accepted = skops_trusted(untrusted, extra, path)
    entries = manifest_entries(manifest, path)
    # Every name is checked before anything from the file is created.
    names = ManifestNames(path, extra) if entries else None
    for entry in entries:
        try:
            check_net_entry(entry, names)  # type: ignore[arg-type]  # entries imply names
        except ModelFileError:  # names the file (UntrustedTypeError, ...)
            raise
        except _FROM_FILE_DATA as exc:
            raise _malformed(path, f"a net entry of {MANIFEST} is malformed", exc) from exc
    ids = [entry["id"] for entry in entries]
    if len(set(ids)) != len(ids):
        raise ModelFileError(
            f"{path} is not a skasc model file: {MANIFEST} lists the nets {ids}, with repeats."
        )
    tensors = {}
    if entries:
        import safetensors.torch

        try:
            tensors = safetensors.torch.load(weights)
        except Exception as exc:  # safetensors raises its own error type
            raise ModelFileError(
                f"{path} is not a skasc model file: {WEIGHTS} is not a "
                f"valid safetensors file ({exc})."
            ) from exc
    try:
        payload = skops.io.loads(tree_bytes, trusted=accepted)
        tree, net_objects = payload["estimator"], payload["net_objects"]
        if not isinstance(net_objects, dict):
            raise TypeError("'net_objects' is not a dict")
    except Exception as exc:
        raise ModelFileError(
            f"Cannot load {path}: the skops part is unreadable ({type(exc).__name__}: {exc})."
        ) from exc
    slots = slot_ids(tree)
    if sorted(set(slots), key=str) != sorted(ids, key=str):
        raise ModelFileError(
            f"{path} is not a skasc model file: its manifest lists the nets "
            f"{sorted(ids)}, but its skops part holds places for "
            f"{sorted(set(slots), key=str)}."
        )
    nets = {}
    for entry in entries:
        side = net_objects.get(entry["id"], {})
        try:
            nets[entry["id"]] = rebuild_net(
                entry,
                tensors,
                side if isinstance(side, dict) else {},
                names,  # type: ignore[arg-type]  # entries imply names
            )
        except ModelFileError:  # names the file (UntrustedTypeError, ...)
            raise
        except _FROM_FILE_DATA as exc:
            raise ModelFileError(
                f"Cannot rebuild the net {entry.get('path')} from {path}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    tree = put_nets_back(tree, nets)
    forget_folders(tree)  # a file never decides where the loaded model writes
    return tree
