"""One family of errors: every error skasc raises on purpose is a SkascError.

The classes are discovered from the package (every module is imported), not listed
by hand, so a new error class that forgets the family fails here.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pathlib
import pkgutil

import skasc
from skasc import exceptions
from skasc.exceptions import SkascError, SkascTypeError, SkascValueError

PACKAGE = pathlib.Path(skasc.__file__).parent


def _modules():
    for info in pkgutil.walk_packages(skasc.__path__, "skasc."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running it is the command line
        yield importlib.import_module(info.name)


def _error_classes() -> dict[str, type]:
    """Every exception class defined in skasc with a public name, by qualified name
    (warning categories, such as ShortRecordingWarning, are not errors)."""
    found = {}
    for module in [skasc, *_modules()]:
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and not issubclass(value, Warning)
                and value.__module__.startswith("skasc")
                and not name.startswith("_")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_public_error_class_is_a_skasc_error():
    classes = _error_classes()
    # the discovery sees the classes that used to live in their own modules
    for name in (
        "AudioFileError",
        "DatasetError",
        "UntrustedTypeError",
        "TrainingDivergedError",
        "ExportError",
        "InvalidParameterError",
        "CheckpointError",
        "CLIError",
        "ModelFileError",
        "SkascValueError",
        "SkascTypeError",
    ):
        assert f"skasc.exceptions.{name}" in classes
    outside = [name for name, cls in classes.items() if not issubclass(cls, SkascError)]
    assert outside == []


def test_error_classes_keep_their_builtin_bases_and_are_exported():
    builtin_base = {
        name: cls
        for name, cls in vars(builtins).items()
        if inspect.isclass(cls) and issubclass(cls, Exception)
    }
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert getattr(skasc, name) is cls  # skasc.AudioFileError, ...
        if cls not in (SkascError, exceptions.CLIError):  # the base and the command line's
            assert issubclass(cls, (ValueError, TypeError)), name
        assert not any(cls is b for b in builtin_base.values())
    # the old homes still give the same classes
    from skasc.cli import CLIError
    from skasc.datasets import DatasetError
    from skasc.frontend.audio import AudioFileError
    from skasc.nn import TrainingDivergedError
    from skasc.nn.checkpoint import CheckpointError
    from skasc.onnx import ExportError
    from skasc.persistence import UntrustedTypeError

    assert (
        CLIError,
        DatasetError,
        AudioFileError,
        TrainingDivergedError,
        CheckpointError,
        ExportError,
        UntrustedTypeError,
    ) == (
        exceptions.CLIError,
        exceptions.DatasetError,
        exceptions.AudioFileError,
        exceptions.TrainingDivergedError,
        exceptions.CheckpointError,
        exceptions.ExportError,
        exceptions.UntrustedTypeError,
    )
    assert issubclass(exceptions.InvalidParameterError, (SkascValueError, SkascTypeError))


# Raises of builtin exception classes that are not errors for the user: each is caught
# inside skasc, or is a protocol another library defines.
_INTERNAL_RAISES = {
    ("skasc/persistence/__init__.py", "TypeError"),  # 'net_objects' check, caught at once
    ("skasc/persistence/_nets.py", "TypeError"),  # json.dumps' default= protocol
    ("skasc/persistence/_nets.py", "KeyError"),  # caught and reported as ModelFileError
    ("skasc/nn/checkpoint.py", "TypeError"),  # json.dumps' default= protocol
    ("skasc/nn/classifier.py", "AttributeError"),  # hasattr(net, "classes_") before fit
    ("skasc/backend.py", "AttributeError"),  # OnnxNetwork: the method its graph lacks
    ("skasc/__init__.py", "AttributeError"),  # the module __getattr__ protocol
    ("skasc/persistence/_trust.py", "ImportError"),  # import_dotted, caught by its callers
    ("skasc/onnx.py", "ImportError"),  # a missing optional extra
    ("skasc/protocol.py", "ImportError"),  # a missing optional extra
}


def test_skasc_raises_no_bare_builtin_error_for_bad_input():
    """A ValueError or TypeError raised by skasc's own checks is a SkascError subclass;
    a bare one would be reported as a bug by the command line. (File errors are
    OSErrors, which the command line reports as one line too.)"""
    bare = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = call.id if isinstance(call, ast.Name) else None
            if (
                name in vars(builtins)
                and inspect.isclass(vars(builtins)[name])
                and issubclass(vars(builtins)[name], Exception)
                and not issubclass(vars(builtins)[name], (OSError, NotImplementedError))
            ):
                bare.add((path.relative_to(PACKAGE.parent).as_posix(), name))
    assert bare - _INTERNAL_RAISES == set()
