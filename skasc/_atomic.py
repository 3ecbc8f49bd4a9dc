"""Atomic file writes, shared by the model files, the checkpoints and the feature cache.

A crash (or SIGKILL) at any moment leaves either the previous file or the new one,
never half a file: the data go to a temporary file in the same folder, which is
flushed, fsynced and renamed over the target; the folder is fsynced so the rename
survives a power cut. The file is created with mode ``0o666`` filtered by the
process's umask, like any file ``open(path, "w")`` creates.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
from collections.abc import Iterator
from typing import BinaryIO, TextIO

__all__ = ["atomic_write", "atomic_text_write", "check_output_path", "temporary_name_pattern"]


def temporary_name_pattern(path: str) -> str:
    """The glob pattern of the temporary files :func:`atomic_write` makes for ``path``."""
    return os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.*.tmp")


def output_path_problem(path: str | os.PathLike) -> tuple[type[OSError], int, str] | None:
    """Why no file can be written at ``path``, or None if one can.

    Returns the ``OSError`` subclass, the errno and a phrase naming the folder as
    the user gave it, e.g. ``"the folder /no/such does not exist"``; the one check
    behind :func:`check_output_path` and the command line's output options.

    Examples
    --------
    >>> output_path_problem("/no/such/folder/model.skasc")[2]
    'the folder /no/such/folder does not exist'
    >>> output_path_problem("model.skasc") is None
    True
    """
    given = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(given))
    shown = os.path.dirname(given) or "."
    if not os.path.exists(folder):
        return FileNotFoundError, errno.ENOENT, f"the folder {shown} does not exist"
    if not os.path.isdir(folder):
        return NotADirectoryError, errno.ENOTDIR, f"{shown} is not a folder"
    if os.path.isdir(given):
        return IsADirectoryError, errno.EISDIR, "it is a folder; give a file name"
    if not os.access(folder, os.W_OK | os.X_OK):
        return PermissionError, errno.EACCES, f"the folder {shown} is not writable"
    return None


def check_output_path(path: str | os.PathLike) -> None:
    """Check that a file can be written at ``path``, before any work is done.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist.
    NotADirectoryError
        If the folder of ``path`` is not a folder.
    IsADirectoryError
        If ``path`` is a folder.
    PermissionError
        If the folder of ``path`` is not writable.

    Every message names ``path`` as given.

    Examples
    --------
    >>> check_output_path("/no/such/folder/model.skasc")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] Cannot write '/no/such/folder/model.skasc': the folder /no/such/folder does not exist.
    """  # noqa: E501 (a doctest's exception line cannot wrap)
    problem = output_path_problem(path)
    if problem is not None:
        kind, code, text = problem
        # (errno, message) without a filename: the message names the path once.
        raise kind(code, f"Cannot write {os.fspath(path)!r}: {text}.")


def _create_temporary(path: str) -> tuple[int, str]:
    """Create a new, empty temporary file next to ``path`` (mode 0o666 & ~umask)."""
    directory = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", path)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` only once the block ends without error.

    The new file's mode is ``0o666 & ~umask`` (as for ``open(path, "wb")``).

    Raises
    ------
    FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError
        Before the block runs, naming ``path``, if it cannot be written
        (see :func:`check_output_path`).

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "data.bin")
    >>> with atomic_write(target) as fh:
    ...     _ = fh.write(b"complete")
    >>> open(target, "rb").read()
    b'complete'
    """
    path = os.fspath(path)
    check_output_path(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_text_write(path: str | os.PathLike) -> Iterator[TextIO]:
    """:func:`atomic_write` for UTF-8 text, with newlines written as given (as
    ``open(path, "w", newline="")``, what :mod:`csv` needs). A file name that is not
    valid UTF-8 (decoded by Python with surrogate escapes) is written as the bytes the
    file system holds.

    Examples
    --------
    >>> import csv, os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "rows.csv")
    >>> with atomic_text_write(target) as fh:
    ...     _ = csv.writer(fh).writerow(["file", "label"])
    >>> open(target, newline="").read()
    'file,label\\r\\n'
    """
    with atomic_write(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        yield text
        text.flush()
        text.detach()  # the binary file stays open for atomic_write to commit
