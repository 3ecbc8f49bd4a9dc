"""ESC-50 and its ESC-10 subset (Piczak 2015): 5-s clips, 5 official folds.

The archive unpacks to ``ESC-50-master/``::

    ESC-50-master/audio/{fold}-{src_file}-{take}-{target}.wav   2000 clips, flat
    ESC-50-master/meta/esc50.csv

``meta/esc50.csv`` is comma-separated with the header ``filename, fold, target,
category, esc10, src_file, take`` (the real file may start with a byte-order
mark). Each row is checked against the naming rule: the fold and the
``src_file`` are the file name's first two dash fields, the target its last; a
target always has the same category; ``esc10`` is ``True`` or ``False``.

The protocol is leave-one-fold-out over folds 1-5 (mean accuracy over the
folds); clips cut from one Freesound recording (``src_file``, the leakage
group) are all in one fold, which the loader checks. ESC-10 is the rows with
``esc10 == True`` (10 classes), under the same protocol. Labels are the
category names (``dog``, ``sea_waves`` ...); ``class_names`` is sorted.
"""

from __future__ import annotations

import os
from typing import Any

from .base import (
    AudioDataset,
    DatasetError,
    check_one_name,
    dataset_from_folds,
    metadata_rows,
    name_fields,
    parse_int,
)

__all__ = ["load_esc50", "load_esc10"]

META = os.path.join("meta", "esc50.csv")
COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
N_FOLDS = 5
N_TARGETS = 50


def _read(root: str, *, esc10_only: bool, name: str, check_files: bool) -> AudioDataset:
    root, table, table_rows = metadata_rows(root, META, "ESC-50", COLUMNS)
    rows: list[dict[str, Any]] = []
    category_of: dict[int, tuple[str, int]] = {}
    for line, where, row in table_rows:
        filename = row["filename"]
        parts = name_fields(filename, "{fold}-{src_file}-{take}-{target}.wav", where)
        fold = parse_int(row["fold"], "fold", where, 1, N_FOLDS)
        target = parse_int(row["target"], "target", where, 0, N_TARGETS - 1)
        if parts[0] != str(fold) or parts[3] != str(target) or parts[1] != row["src_file"]:
            raise DatasetError(
                f"{where}: {filename!r} does not match its row (fold {row['fold']}, src_file "
                f"{row['src_file']}, target {row['target']}); the file name is "
                "{fold}-{src_file}-{take}-{target}.wav."
            )
        if row["esc10"] not in ("True", "False"):
            raise DatasetError(
                f"{where}: expected esc10 to be True or False, got {row['esc10']!r}."
            )
        check_one_name(category_of, "target", target, row["category"], line, where)
        if esc10_only and row["esc10"] != "True":
            continue
        rows.append(
            {
                "line": line,
                "path": os.path.join(root, "audio", filename),
                "label": row["category"],
                "group": row["src_file"],
                "fold": fold,
            }
        )
    return dataset_from_folds(
        name, root, table, rows, check_files=check_files, group_key="src_file"
    )


def load_esc50(root: str | os.PathLike, *, check_files: bool = True) -> AudioDataset:
    """Load ESC-50: 2000 clips of 50 classes, 5 official folds.

    Parameters
    ----------
    root : str or path-like
        ``ESC-50-master/`` (the folder holding ``meta/esc50.csv``), or its parent.
    check_files : bool, default=True
        Check that every listed clip exists.

    Returns
    -------
    AudioDataset
        ``groups`` are the ``src_file`` ids; ``cv`` tests on fold 1, ..., 5.

    Raises
    ------
    DatasetError
        Naming the file and line of a malformed row, a ``src_file`` in two
        folds, or the first missing clip.

    Examples
    --------
    >>> import os, tempfile
    >>> root = os.path.join(tempfile.mkdtemp(), "ESC-50-master")
    >>> os.makedirs(os.path.join(root, "meta"))
    >>> with open(os.path.join(root, "meta", "esc50.csv"), "w", encoding="utf-8-sig") as f:
    ...     _ = f.write("filename,fold,target,category,esc10,src_file,take\\n"
    ...                 "1-100032-A-0.wav,1,0,dog,True,100032,A\\n"
    ...                 "2-100038-A-14.wav,2,14,chirping_birds,False,100038,A\\n")
    >>> data = load_esc50(os.path.dirname(root), check_files=False)
    >>> data.labels.tolist(), data.cv.fold_names
    (['dog', 'chirping_birds'], ['fold1', 'fold2'])
    >>> load_esc10(root, check_files=False).labels.tolist()
    ['dog']
    """
    return _read(os.fspath(root), esc10_only=False, name="esc50", check_files=check_files)


def load_esc10(root: str | os.PathLike, *, check_files: bool = True) -> AudioDataset:
    """Load ESC-10: the 400 clips of ESC-50 marked ``esc10``, 10 classes, 5 folds.

    Parameters and errors are those of :func:`load_esc50`.

    Returns
    -------
    AudioDataset
    """
    return _read(os.fspath(root), esc10_only=True, name="esc10", check_files=check_files)
