"""Gallery helpers named in ``conf.py``'s ``sphinx_gallery_conf`` (by name, so that the
configuration stays picklable)."""

from __future__ import annotations

from typing import Any

_shown: dict[str, set[int]] = {}


def figure_scraper(block: Any, block_vars: dict, gallery_conf: dict) -> str:
    """Show the figures :mod:`skasc.plotting` returns.

    Those figures have their own Agg canvas and never pass through pyplot, so
    sphinx-gallery's matplotlib scraper does not see them: every ``Figure`` held by a
    variable of the example is saved once, after the code block that made it.
    """
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    shown = _shown.setdefault(str(block_vars["src_file"]), set())
    new = [
        value
        for value in block_vars["example_globals"].values()
        if isinstance(value, Figure) and id(value) not in shown
    ]
    paths = []
    for fig, path in zip(new, block_vars["image_path_iterator"]):
        fig.savefig(path)
        shown.add(id(fig))
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


def one_thread(gallery_conf: dict, fname: str) -> None:
    """Run every example on one thread of torch: the gallery is built beside other work."""
    import torch

    torch.set_num_threads(1)
