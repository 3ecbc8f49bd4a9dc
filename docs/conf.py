"""Sphinx configuration of the skasc documentation (``make docs``).

The build is offline: no intersphinx inventories, no remote images. It runs the gallery
(``examples/plot_*.py``, on generated data) and writes the API stubs (``generated/``), the
gallery pages (``auto_examples/``) and the command-line help (``generated/cli/``), all
ignored by git.
"""

from __future__ import annotations

import os
import re
import sys
import warnings

import skasc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sphinxext"))

project = "skasc"
author = "the skasc developers"
copyright = "the skasc developers"
version = release = skasc.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_templates",
    "auto_examples/*.ipynb",
    "**/*.py.md5",
    "**/*.codeobj.json",
    "auto_examples/*.zip",
]
default_role = "literal"  # `x` in a docstring is code, as in the Markdown notes

# --- API reference -----------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters section says the types, in words
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # a skorch or scikit-learn parent's docstring is not ours
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# --- Markdown notes (docs/*.md) ----------------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]

# --- gallery -----------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "doc_module": ("skasc",),
    "reference_url": {"skasc": None},
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "plot_gallery": "True",
    "capture_repr": (),  # the examples print what they show; no "<Legend object>"
    "image_scrapers": ("matplotlib", "skasc_gallery.figure_scraper"),
    "reset_modules": ("matplotlib", "skasc_gallery.one_thread"),
}

# --- HTML --------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skasc {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False

# Examples and autodoc import torch and matplotlib: no display, no threads fighting the
# build for the CPU.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


def _write_cli_help(app) -> None:
    """Write ``skasc --help`` and every sub-command's help to ``generated/cli/``."""
    import argparse

    from skasc.cli import build_parser

    os.environ["COLUMNS"] = "88"
    out = os.path.join(app.srcdir, "generated", "cli")
    os.makedirs(out, exist_ok=True)
    parser = build_parser()
    pages = {"skasc": parser.format_help()}
    for action in parser._actions:  # argparse keeps its sub-parsers here only
        if isinstance(action, argparse._SubParsersAction):
            pages.update(
                {f"skasc-{name}": sub.format_help() for name, sub in action.choices.items()}
            )
    for name, text in pages.items():
        path = os.path.join(out, f"{name}.txt")
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if text != old:  # unchanged files keep their time, so Sphinx rereads nothing
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)


def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's ``set_{method}_request`` methods (metadata routing), as its
    own reference does: they are generated for every estimator and cite its glossary."""
    return True if re.fullmatch(r"set_\w+_request", name) else None


def setup(app) -> None:
    app.connect("builder-inited", _write_cli_help)
    app.connect("autodoc-skip-member", _skip_member)
