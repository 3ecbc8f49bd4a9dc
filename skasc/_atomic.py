"""Atomic file writes, shared by the model files, the checkpoints and the feature cache.

A crash (or SIGKILL) at any moment leaves either the previous file or the new one,
never half a file: the data go to a temporary file in the same folder, which is
flushed, fsynced and renamed over the target; the folder is fsynced so the rename
survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import BinaryIO, Iterator

__all__ = ["atomic_write", "temporary_name_pattern"]


def temporary_name_pattern(path: str) -> str:
    """The glob pattern of the temporary files :func:`atomic_write` makes for ``path``."""
    return os.path.join(os.path.dirname(os.path.abspath(path)),
                        f".{os.path.basename(path)}.*.tmp")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` only once the block ends without error.

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
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                               suffix=".tmp")
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
