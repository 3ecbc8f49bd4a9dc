"""The documentation's promises that can be checked without building it: every
top-level name is the object its module defines whatever was imported before."""

from __future__ import annotations

import importlib
import pkgutil

import skasc


def _public_modules() -> list[str]:
    """Every module of skasc without a private part (``_x``) in its dotted name."""
    names = ["skasc"]
    for info in pkgutil.walk_packages(skasc.__path__, "skasc."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def test_every_top_level_name_is_its_modules_object_after_every_import():
    # Importing a submodule sets the package's attribute of that name: a top-level
    # name equal to a public submodule's name then meant the module, not the function
    # (``skasc.complexity`` after ``import skasc.complexity``).
    modules = [importlib.import_module(name) for name in _public_modules()]
    assert len(modules) > 20
    for name, module in skasc._EXPORTS.items():
        assert getattr(skasc, name) is getattr(importlib.import_module(module), name), name
