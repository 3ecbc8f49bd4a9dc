"""Every error skasc raises on purpose, as one family.

A caller, and the ``skasc`` command, tells a user error from a bug by its class:
an instance of :class:`SkascError` is skasc refusing something it was given (an
argument, a recording, a data set, a model file) with a message that names it
and says what was expected; any other exception escaping skasc is a bug. Each
class keeps the builtin base its errors had before the family existed
(``ValueError`` or ``TypeError``), so ordinary ``except ValueError`` clauses
still catch them::

    SkascError                      (Exception) the family
    ├── SkascValueError             (ValueError) a value refused: data, an argument, a file
    │   ├── InvalidParameterError   (also SkascTypeError) a parameter of an estimator
    │   ├── AudioFileError          an audio file: missing, not regular, unreadable, bad
    │   ├── DatasetError            a data set's folder or metadata
    │   ├── ModelFileError          not a valid skasc model file (or ONNX export)
    │   │   └── UntrustedTypeError  a model file naming a type that is not trusted
    │   ├── CheckpointError         a training checkpoint that cannot be used
    │   ├── TrainingDivergedError   training (or a net's outputs) became NaN or infinite
    │   └── ExportError             a fitted pipeline that cannot be exported to ONNX
    ├── SkascTypeError              (TypeError) an argument of the wrong type
    └── CLIError                    a command-line usage error (bad option, no input)

Use the most specific class that fits; a plain :class:`SkascValueError` or
:class:`SkascTypeError` is for bad input that no other class describes (a
batch of the wrong shape, labels that do not match the recordings).

Examples
--------
>>> from skasc.exceptions import AudioFileError, SkascError
>>> issubclass(AudioFileError, SkascError), issubclass(AudioFileError, ValueError)
(True, True)
"""

from __future__ import annotations

__all__ = [
    "SkascError",
    "SkascValueError",
    "SkascTypeError",
    "InvalidParameterError",
    "AudioFileError",
    "DatasetError",
    "ModelFileError",
    "UntrustedTypeError",
    "CheckpointError",
    "TrainingDivergedError",
    "ExportError",
    "CLIError",
]


class SkascError(Exception):
    """Base class of every error skasc raises on purpose (a user error, not a bug)."""


class SkascValueError(SkascError, ValueError):
    """A value skasc refuses: data, an argument or a file's content.

    The message names the argument, recording index or file, and what was expected.
    """


class SkascTypeError(SkascError, TypeError):
    """An argument of the wrong type; the message names it and the expected type."""


class InvalidParameterError(SkascValueError, SkascTypeError):
    """A parameter of the wrong type or out of range.

    Both a ``ValueError`` and a ``TypeError``, as scikit-learn's error of the
    same name, so either ``except`` clause catches it.
    """


class AudioFileError(SkascValueError):
    """An audio file is missing, not a regular file, unreadable, empty, too large or
    holds non-finite samples.

    Subclasses ``ValueError``, and its message names the file's path.
    """


class DatasetError(SkascValueError):
    """A dataset folder is missing, incomplete or malformed.

    Subclasses ``ValueError`` (also for missing files), so ordinary
    ``except ValueError`` clauses catch it. The message names the file, and the
    line when there is one.
    """


class ModelFileError(SkascValueError):
    """A file that is not a valid skasc model file (or skasc ONNX export); nothing
    from it was used.

    Raised by :func:`skasc.load` and :class:`skasc.OnnxPredictor`; the message
    names the file and the problem.
    """


class UntrustedTypeError(ModelFileError):
    """A model file names a type or callable that is not trusted; nothing was created.

    Raised by :func:`skasc.load`. The message names the file and the type; pass
    the type (or its module) in ``load(..., trusted=[...])`` if you trust the file.
    """


class CheckpointError(SkascValueError):
    """A checkpoint file exists but cannot be used; the message names it."""


class TrainingDivergedError(SkascValueError):
    """The training loss, or the trained net's outputs, became NaN or infinite
    (usually: the learning rate is too high)."""


class ExportError(SkascValueError):
    """A fitted pipeline, or one of its steps, cannot be exported to ONNX.

    The message names the step (e.g. ``fusion.estimator_['svm']``) and why.
    """


class CLIError(SkascError):
    """A command-line usage error: printed as one line, exit code 2."""
