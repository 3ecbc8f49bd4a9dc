"""Which paths skasc reads: regular files only, each known by what it is, not how it is named.

Every file skasc opens for reading (audio, metadata and label tables, model files,
checkpoints, cached features, ONNX models) must be a regular file after following
symbolic links: opening a FIFO blocks until something writes to it, and a device
can be read forever. :func:`regular_file_problem` says why a path is not one, and
each reader raises its own documented error with that phrase. (The check comes just
before the open; a file swapped for a FIFO in between is not caught.)

Two paths name the same file when :func:`file_identity` agrees: ``a.wav``,
``./a.wav``, a symbolic link to it and a hard link all do. The data set loaders use
it to refuse one recording listed twice (it would leak between folds), and the
command line to refuse an output that is one of its inputs.
"""

from __future__ import annotations

import os
import stat
from typing import Any

__all__ = ["regular_file_problem", "file_identity"]

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def regular_file_problem(path: str | bytes | os.PathLike) -> str | None:
    """Why ``path`` is not a regular file that can be opened for reading, or None.

    Symbolic links are followed. The answer is a phrase to follow the path in a
    message: ``"does not exist"``, ``"is a folder"``, ``"is not a regular file (it
    is a FIFO (named pipe))"`` or ``"cannot be read (Permission denied)"``.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> regular_file_problem(folder)
    'is a folder'
    >>> fifo = os.path.join(folder, "model.skasc")
    >>> os.mkfifo(fifo)
    >>> regular_file_problem(fifo)
    'is not a regular file (it is a FIFO (named pipe))'
    >>> regular_file_problem(os.path.join(folder, "missing.wav"))
    'does not exist'
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "does not exist"
    except ValueError:  # an embedded NUL character
        return "is not a valid path"
    except OSError as exc:  # no permission on a folder above it, a loop of links
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder"
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"is not a regular file (it is {kind})"


def file_identity(path: str | os.PathLike) -> tuple[Any, ...]:
    """What two paths share when they name the same file.

    For an existing file, its device and inode (so a symbolic or hard link, or
    another spelling of the path, is the same file); otherwise its real path
    (``os.path.realpath``: ``./a.wav`` and ``a.wav`` agree).

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "a.wav"), "wb") as f:
    ...     _ = f.write(b"RIFF")
    >>> os.symlink(os.path.join(folder, "a.wav"), os.path.join(folder, "b.wav"))
    >>> same = file_identity(os.path.join(folder, ".", "a.wav"))
    >>> same == file_identity(os.path.join(folder, "b.wav"))
    True
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return ("path", os.path.realpath(os.fspath(path)))
    return ("file", info.st_dev, info.st_ino)
