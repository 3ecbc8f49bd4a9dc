"""Warnings attributed to the user's line.

A warning's ``stacklevel`` counts frames, and the frames between a user's call and
the code that warns depend on the path taken: ``fusion.fit(X, y)`` is one frame
above :class:`~skasc.fusion.RecordingFusion`, ``Pipeline.fit`` two or three, the
``skasc`` command many more. :func:`warn` walks the stack instead: the warning is
attributed to the first frame outside skasc and the libraries that call into it
(scikit-learn, skorch, torch, joblib, dask), so it names the user's line whichever
path led there, and Python's default filter shows it once per line. A warning raised
in a worker thread or process (a DataLoader worker) names the first frame of the
standard library's machinery there instead.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

#: libraries whose frames lie between a user's call and skasc's code
_CALLERS = ("sklearn", "skorch", "torch", "joblib", "dask", "distributed")


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _internal_folders() -> tuple[str, ...]:
    folders = [os.path.dirname(_real(__file__))]
    for name in _CALLERS:  # only those already imported: nothing is imported here
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            folders.append(os.path.dirname(_real(path)))
    return tuple(folder + os.sep for folder in folders)


def warn(message: str | Warning, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the user's line (the first
    frame outside skasc and the libraries in ``_CALLERS``)."""
    internal = _internal_folders()
    frame: FrameType | None = sys._getframe(1)
    level = 2
    while frame is not None and _real(frame.f_code.co_filename).startswith(internal):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
