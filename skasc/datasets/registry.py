"""One registry from a data set's name (``"esc50"``, ``"tau2020mobile"`` ...) to its loader.

:func:`load_dataset` is what ``skasc cv DATASET ROOT`` and
:func:`skasc.run_protocol` call; every loader returns an
:class:`~skasc.datasets.AudioDataset` whose ``cv`` is the official splitter.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .base import AudioDataset, DatasetError
from .dcase import (
    load_tau2019,
    load_tau2019mobile,
    load_tau2020mobile,
    load_tau2022mobile,
    load_tut2016,
    load_tut2017,
    load_tut2018,
    load_tut2018mobile,
)
from .esc50 import load_esc10, load_esc50
from .folder_csv import load_csv
from .litis import load_litis_rouen
from .urbansound8k import load_urbansound8k

__all__ = ["DATASETS", "load_dataset"]

#: Registry name -> loader ``f(root, *, check_files=True) -> AudioDataset``.
DATASETS: dict[str, Callable[..., AudioDataset]] = {
    "litis": load_litis_rouen,
    "esc50": load_esc50,
    "esc10": load_esc10,
    "urbansound8k": load_urbansound8k,
    "tut2016": load_tut2016,
    "tut2017": load_tut2017,
    "tut2018": load_tut2018,
    "tut2018mobile": load_tut2018mobile,
    "tau2019": load_tau2019,
    "tau2019mobile": load_tau2019mobile,
    "tau2020mobile": load_tau2020mobile,
    "tau2022mobile": load_tau2022mobile,
    "csv": load_csv,
}


def load_dataset(name: str, root: str | os.PathLike, *, check_files: bool = True) -> AudioDataset:
    """Load a data set by its registry name.

    Parameters
    ----------
    name : str
        One of ``DATASETS`` (e.g. ``"litis"``, ``"esc50"``).
    root : str or path-like
        The folder holding the set's metadata, or its parent when that holds
        exactly one such folder.
    check_files : bool, default=True
        Check that every listed audio file exists.

    Returns
    -------
    AudioDataset

    Raises
    ------
    DatasetError
        For an unknown name (the message lists the known ones) or a folder
        that does not match the set's layout.

    Examples
    --------
    >>> load_dataset("nope", ".")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skasc.exceptions.DatasetError: Unknown data set 'nope'; known: ...
    """
    if name not in DATASETS:
        raise DatasetError(f"Unknown data set {name!r}; known: {', '.join(DATASETS)}.")
    return DATASETS[name](root, check_files=check_files)
