"""The documentation's promises that can be checked without building it.

``make docs`` builds the site (and fails on any warning); these tests read its sources:
every public name has a page in the API reference (docs/api.rst, whose autosummary
lists Sphinx turns into pages), every top-level name is the object its module defines
whatever was imported before, and neither the README nor the docs point to files
outside the project.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import pkgutil
import re

import pytest

import skasc

ROOT = pathlib.Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.rst"


def _public_modules() -> list[str]:
    """Every module of skasc without a private part (``_x``) in its dotted name."""
    names = ["skasc"]
    for info in pkgutil.walk_packages(skasc.__path__, "skasc."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def _public_names(module) -> list[str]:
    """A module's ``__all__``; without one, the functions and classes it defines whose
    names do not start with an underscore."""
    if hasattr(module, "__all__"):
        return [name for name in module.__all__ if not name.startswith("__")]
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    ]


def autosummary_entries(text: str) -> list[str]:
    """The full names listed by the ``autosummary`` directives of an RST text, each
    prefixed by the ``currentmodule`` in force."""
    entries, module, in_block = [], "", False
    for line in text.splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line)
        if current:
            module, in_block = current.group(1), False
        elif line.startswith(".. autosummary::"):
            in_block = True
        elif in_block and line.strip() and not line.startswith(" "):
            in_block = False
        elif in_block and line.strip() and not line.strip().startswith(":"):
            entries.append(f"{module}.{line.strip()}")
    return entries


def _resolve(full_name: str):
    module, _, name = full_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_autosummary_entries_reads_modules_and_blocks():
    text = """
.. currentmodule:: skasc

.. autosummary::
   :toctree: generated/

   FrontEnd
   load

Prose that ends the block names no_entry.

.. currentmodule:: skasc.dsp.gammatone

.. autosummary::

   hz_to_erb_rate
"""
    assert autosummary_entries(text) == [
        "skasc.FrontEnd",
        "skasc.load",
        "skasc.dsp.gammatone.hz_to_erb_rate",
    ]


def test_every_top_level_name_is_its_modules_object_after_every_import():
    # Importing a submodule sets the package's attribute of that name: a top-level
    # name equal to a public submodule's name then meant the module, not the function
    # (``skasc.complexity`` after ``import skasc.complexity``).
    modules = [importlib.import_module(name) for name in _public_modules()]
    assert len(modules) > 20
    for name, module in skasc._EXPORTS.items():
        assert getattr(skasc, name) is getattr(importlib.import_module(module), name), name


def test_every_public_name_has_an_api_page():
    documented = {}
    for full_name in autosummary_entries(API.read_text(encoding="utf-8")):
        documented.setdefault(id(_resolve(full_name)), []).append(full_name)
    twice = {names[0]: names for names in documented.values() if len(names) > 1}
    assert twice == {}, "documented under several names"
    missing = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            if id(getattr(module, name)) not in documented:
                missing.append(f"{module_name}.{name}")
    assert missing == [], "public names without a page in docs/api.rst"


def test_the_top_level_names_are_documented_as_top_level_names():
    entries = set(autosummary_entries(API.read_text(encoding="utf-8")))
    assert {f"skasc.{name}" for name in skasc.__all__ if not name.startswith("__")} <= entries


@pytest.mark.parametrize("pattern", ["../shared", "/work/"])
def test_readme_and_docs_name_no_path_outside_the_project(pattern):
    sources = [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "docs").glob("*.rst"),
        *(ROOT / "examples").glob("*.py"),
    ]
    assert len(sources) > 8
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern in line
    ]
    assert hits == []
