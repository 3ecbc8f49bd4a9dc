"""The package as installed: its lazy exports, its version, its type marker."""

import ast
import importlib
import importlib.metadata
import importlib.resources
import os
import subprocess
import sys

import skasc

INIT = os.path.join(os.path.dirname(skasc.__file__), "__init__.py")


def _type_checking_imports() -> dict[str, str]:
    """``{name: module}`` of the imports under ``if TYPE_CHECKING:`` in skasc/__init__.py."""
    tree = ast.parse(open(INIT, encoding="utf-8").read())
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1, "expected one `if TYPE_CHECKING:` block"
    names = {}
    for node in blocks[0].body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1, ast.dump(node)
        for alias in node.names:
            assert alias.asname is None, alias.asname
            assert alias.name not in names, f"{alias.name} imported twice"
            names[alias.name] = f"skasc.{node.module}"
    return names


def test_type_checking_imports_match_the_lazy_exports():
    """What type checkers see is what ``skasc.<name>`` gives at run time."""
    assert _type_checking_imports() == skasc._EXPORTS


def test_every_lazy_export_resolves_to_its_module_attribute():
    for name, module in skasc._EXPORTS.items():
        assert getattr(skasc, name) is getattr(importlib.import_module(module), name), name
    assert sorted(skasc.__all__) == sorted([*skasc._EXPORTS, "__version__"])


def test_one_version_everywhere():
    """``skasc --version``, ``skasc.__version__`` and the installed metadata agree."""
    out = subprocess.run(
        [sys.executable, "-m", "skasc", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == f"skasc {skasc.__version__}"
    assert importlib.metadata.version("skasc") == skasc.__version__


def test_the_package_ships_its_type_marker():
    assert importlib.resources.files("skasc").joinpath("py.typed").is_file()


def test_complexity_stays_the_function_after_its_module_is_imported():
    """``skasc.complexity`` is the function; its module is private (``skasc._complexity``),
    so importing the module first cannot turn the package's ``complexity`` into it."""
    code = (
        "from skasc._complexity import ComplexityReport\n"
        "import skasc, sys\n"
        "assert callable(skasc.complexity), skasc.complexity\n"
        "assert skasc.ComplexityReport is ComplexityReport\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
