"""The archive: a model file's zip members, written atomically and read within limits.

A ``.skasc`` file is a zip of ``manifest.json``, ``weights.safetensors`` and
``estimator.skops`` (see ``docs/persistence.md``). The manifest is read first
(at most :data:`MAX_MANIFEST_BYTES`); it declares the sizes of the other two
members (``member_sizes``; files written before that entry existed are sized
by their zip headers). A member whose zip header claims more than declared, or
a file whose members (including those inside the skops part, itself a zip)
would expand to more than :func:`size_cap` allows, is refused **before** any
of it is decompressed. Reads never go past the declared sizes.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import zipfile
from typing import Any

from skasc._atomic import atomic_write
from skasc._paths import regular_file_problem
from skasc.exceptions import ModelFileError

__all__ = [
    "FORMAT_VERSION",
    "FORMAT_NAME",
    "MANIFEST",
    "WEIGHTS",
    "ESTIMATOR",
    "MAX_MANIFEST_BYTES",
    "MAX_EXPANSION",
    "MIN_SIZE_CAP",
    "MOVED_MODULES",
    "size_cap",
    "write_archive",
    "read_archive",
    "check_skops_part",
    "rename_moved_modules",
    "manifest_entries",
]

FORMAT_VERSION = 1
FORMAT_NAME = "skasc-model"

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
ESTIMATOR = "estimator.skops"
MEMBERS = (MANIFEST, WEIGHTS, ESTIMATOR)
SIZED = (WEIGHTS, ESTIMATOR)

#: The manifest is JSON of a few kB to a few MB (histories, small arrays).
MAX_MANIFEST_BYTES = 64 * 2**20
#: The members of a file may expand to at most this many times the file's size ...
MAX_EXPANSION = 100
#: ... or this many bytes, whichever is larger (so small files are never refused).
MIN_SIZE_CAP = 64 * 2**20


def size_cap(compressed_bytes: int) -> int:
    """The most bytes the members of a file of ``compressed_bytes`` may expand to.

    Weights (float tensors) barely compress and the skops part a few times, so
    honest files expand by far less than :data:`MAX_EXPANSION`; a zip bomb (a
    2 MB file holding 2 GiB of zeros) expands by about 1000.
    """
    return max(MIN_SIZE_CAP, MAX_EXPANSION * compressed_bytes)


def write_archive(path: str, manifest: dict, weights: bytes, tree: bytes) -> None:
    """Write the three members atomically (see :func:`skasc._atomic.atomic_write`).

    ``manifest`` gets ``member_sizes``, the sizes ``read_archive`` will hold the
    other members to.
    """
    manifest = dict(manifest, member_sizes={WEIGHTS: len(weights), ESTIMATOR: len(tree)})
    manifest_bytes = json.dumps(manifest, indent=1).encode("utf-8")
    with atomic_write(path) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, manifest_bytes)
            archive.writestr(WEIGHTS, weights)
            archive.writestr(ESTIMATOR, tree)


def _not_a_model(path: str, problem: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a skasc model file: {problem}")


def _members(archive: zipfile.ZipFile, path: str, what: str) -> dict[str, zipfile.ZipInfo]:
    """The members of a zip by name; a name that occurs twice is refused (zip tools
    disagree on which copy they read: Python's reads the last, others the first)."""
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.filename in infos:
            raise _not_a_model(path, f"{what} holds two members named {info.filename!r}.")
        infos[info.filename] = info
    return infos


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: str) -> bytes:
    """At most ``limit`` bytes of a member (whose header was already checked)."""
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise _not_a_model(
            path, f"{info.filename} holds more than the {limit} bytes declared for it."
        )
    return data


def _parse_manifest(raw: bytes, path: str) -> dict:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _not_a_model(path, f"{MANIFEST} is not valid JSON ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _not_a_model(path, f"{MANIFEST} does not declare format {FORMAT_NAME!r}.")
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # not 1.0, not True
        raise ModelFileError(
            f"{path} has format version {version!r}; this skasc "
            f"reads version {FORMAT_VERSION}. Re-save it with a matching skasc."
        )
    return manifest


def _limits(
    manifest: dict, infos: dict[str, zipfile.ZipInfo], path: str, cap: int
) -> dict[str, int]:
    """The size each sized member is held to, after checking headers and the cap."""
    declared = manifest.get("member_sizes")
    if declared is not None and (
        not isinstance(declared, dict)
        or any(
            not isinstance(size := declared.get(name), int) or isinstance(size, bool) or size < 0
            for name in SIZED
        )
    ):
        raise _not_a_model(path, f"the member sizes in {MANIFEST} are malformed ({declared!r}).")
    limits = {}
    for name in SIZED:
        header = infos[name].file_size
        limit = header if declared is None else declared[name]
        if header > limit:
            raise _not_a_model(
                path, f"{name} would expand to {header} bytes; the manifest declares {limit}."
            )
        limits[name] = limit
    total = infos[MANIFEST].file_size + sum(limits.values())
    if total > cap:
        raise _not_a_model(
            path,
            f"its members would expand to {total} bytes, more than the {cap} bytes "
            f"allowed for a file of {os.path.getsize(path)} bytes (at most "
            f"{MAX_EXPANSION} times its size, or {MIN_SIZE_CAP} bytes); it may be a "
            "zip bomb.",
        )
    return limits


def read_archive(path: str) -> tuple[dict, bytes, bytes]:
    """The parsed manifest, the weights and the skops part of the model file at ``path``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        (a ``ValueError``) Naming ``path``, if it is not a regular file (a FIFO, a
        folder), not a readable skasc model file, or its members exceed their
        declared sizes or the cap.
    """
    problem = regular_file_problem(path)
    if problem == "does not exist":
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if problem is not None:
        raise _not_a_model(path, f"it {problem}.")
    try:
        cap = size_cap(os.path.getsize(path))
        with zipfile.ZipFile(path) as archive:
            infos = _members(archive, path, "it")
            missing = [m for m in MEMBERS if m not in infos]
            if missing:
                raise _not_a_model(path, f"the members {missing} are missing.")
            manifest_info = infos[MANIFEST]
            if manifest_info.file_size > MAX_MANIFEST_BYTES:
                raise _not_a_model(
                    path,
                    f"{MANIFEST} would expand to "
                    f"{manifest_info.file_size} bytes (at most "
                    f"{MAX_MANIFEST_BYTES} are read).",
                )
            manifest = _parse_manifest(
                _read_member(archive, manifest_info, manifest_info.file_size, path), path
            )
            limits = _limits(manifest, infos, path, cap)
            weights = _read_member(archive, infos[WEIGHTS], limits[WEIGHTS], path)
            tree = _read_member(archive, infos[ESTIMATOR], limits[ESTIMATOR], path)
    except zipfile.BadZipFile as exc:
        raise ModelFileError(
            f"{path} is not a skasc model file (not a valid zip archive: {exc})."
        ) from exc
    except (zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ModelFileError(f"{path} is not a readable skasc model file ({exc}).") from exc
    return manifest, weights, tree


def check_skops_part(tree: bytes, path: str) -> dict:
    """The parsed ``schema.json`` of the skops part, after checking what it makes skops
    allocate.

    Refuses a skops part that is not a zip, whose members (those of its ``.npz``
    members included) would expand past the cap, whose ``.npy`` arrays declare more
    bytes than they hold, or one of whose members is read by more than one node.
    skops reads its own members with :mod:`zipfile`, which never returns more than a
    member's header declares, once per node that names the member, and numpy
    allocates an array as its header declares before reading it; so these checks
    bound the memory a file can make ``load`` take by the bytes it stores.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(tree)) as inner:
            infos = _members(inner, path, ESTIMATOR)
            if "schema.json" not in infos:
                raise _not_a_model(
                    path, f"{ESTIMATOR} is not a skops file (it has no schema.json)."
                )
            total = sum(info.file_size for info in infos.values())
            cap = size_cap(len(tree))
            if total > cap:
                raise _not_a_model(
                    path,
                    f"the members of {ESTIMATOR} would expand to "
                    f"{total} bytes, more than the {cap} allowed for "
                    "it; it may be a zip bomb.",
                )
            total += _check_arrays(inner, infos, path, ESTIMATOR, cap - total)
            raw = _read_member(inner, infos["schema.json"], infos["schema.json"].file_size, path)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise _not_a_model(
            path, f"{ESTIMATOR} is not a skops file (not a valid zip archive: {exc})."
        ) from exc
    try:
        schema = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _not_a_model(
            path, f"{ESTIMATOR} is not a readable skops file (its schema is not valid JSON: {exc})."
        ) from exc
    if not isinstance(schema, dict):
        raise _not_a_model(
            path, f"{ESTIMATOR} is not a readable skops file (its schema is not a mapping)."
        )
    _check_member_reads(schema, path)
    return schema


def _check_arrays(
    archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], path: str, where: str, budget: int
) -> int:
    """Check the header of every ``.npy`` member against the member's size, and the
    members of every ``.npz`` member (scipy's sparse matrices) likewise; return the
    bytes the ``.npz`` members' own members expand to (at most ``budget``)."""
    nested = 0
    for name, info in infos.items():
        if name.endswith(".npy"):
            with archive.open(info) as stream:
                _check_npy_header(stream, info.file_size, f"{where}/{name}", path)
        elif name.endswith(".npz"):
            data = _read_member(archive, info, info.file_size, path)
            with zipfile.ZipFile(io.BytesIO(data)) as npz:
                members = _members(npz, path, f"{where}/{name}")
                nested += sum(member.file_size for member in members.values())
                if nested > budget:
                    raise _not_a_model(
                        path,
                        f"the arrays in {where}/{name} would expand "
                        "past the size cap; it may be a zip bomb.",
                    )
                nested += _check_arrays(npz, members, path, f"{where}/{name}", budget - nested)
    return nested


def _check_npy_header(stream: Any, size: int, where: str, path: str) -> None:
    """Refuse a ``.npy`` member whose header declares more data than the member holds
    (numpy would allocate the declared array before reading a byte of it)."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(stream)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except (ValueError, TypeError, EOFError, SyntaxError) as exc:
        raise _not_a_model(path, f"{where} is not a numpy array file ({exc}).") from exc
    held = size - stream.tell()
    declared = math.prod(shape) * dtype.itemsize
    if declared > held:
        raise _not_a_model(
            path,
            f"{where} declares an array of shape {shape} and dtype "
            f"{dtype.str} ({declared} bytes) but holds {held} bytes; "
            "arrays may not ask for more memory than they store.",
        )


def _check_member_reads(schema: dict, path: str) -> None:
    """Refuse a member read by more than one node of the schema.

    skops reads a member once per node naming it in ``"file"``; the copies of one
    node (same ``__id__``, as skops writes an object held twice) are read once.
    Files skops writes never have two different nodes read one member, and one
    member read by many would make a small file allocate its size many times.
    """
    readers: dict[str, set[str]] = {}
    stack: list[Any] = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "__loader__" in value and "file" in value:
                node = value.get("__id__")
                readers.setdefault(repr(value["file"]), set()).add(
                    repr(node) if node is not None else f"node at {id(value)}"
                )
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    for member, nodes in readers.items():
        if len(nodes) > 1:
            raise _not_a_model(
                path,
                f"{len(nodes)} different nodes of {ESTIMATOR} read its "
                f"member {member}; each stored array is read by one.",
            )


#: Modules that moved, by their name in files written before the move: the front
#: end's five modules went under ``skasc/frontend/`` (issue 15).
MOVED_MODULES = {
    "skasc.audio": "skasc.frontend.audio",
    "skasc.denoise": "skasc.frontend.denoise",
    "skasc.segment": "skasc.frontend.segment",
    "skasc.features": "skasc.frontend.features",
    "skasc.frontend": "skasc.frontend.front_end",
}


def rename_moved_modules(tree: bytes, schema: dict) -> bytes:
    """The skops part with every ``__module__`` of :data:`MOVED_MODULES` renamed.

    skops imports each node's ``__module__``; a file written before a module
    moved names the old one. Only the module names change, so the types the
    file names are checked against the allow-lists as usual. ``schema`` is the
    part's parsed ``schema.json`` (from :func:`check_skops_part`).
    """
    moved = False
    stack: list[Any] = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("__module__") in MOVED_MODULES:
                value["__module__"] = MOVED_MODULES[value["__module__"]]
                moved = True
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    if not moved:
        return tree
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(tree)) as old,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as new,
    ):
        for info in old.infolist():
            data = (
                json.dumps(schema).encode("utf-8")
                if info.filename == "schema.json"
                else old.read(info)
            )
            new.writestr(info.filename, data)
    return out.getvalue()


def manifest_entries(manifest: dict, path: str) -> list[Any]:
    """The ``nets`` list of a manifest (checked to be a list)."""
    nets = manifest.get("nets", [])
    if not isinstance(nets, list):
        raise _not_a_model(path, f"the 'nets' of {MANIFEST} are not a list.")
    return nets
