"""Any data set as a folder of audio files and one CSV: the loader for everything else.

The CSV (comma-separated, one header line, UTF-8 with or without a byte-order
mark) lists one recording per row::

    filename,label,fold
    audio/bus-01.wav,bus,1
    audio/park-07.wav,park,2

* ``filename``: the audio file, relative to the folder holding the CSV (or
  absolute);
* ``label``: its class;
* ``fold``: either fold names or numbers (leave-one-fold-out: each distinct
  value is tested once, in sorted order) or the words ``train`` and ``test``
  (one split);
* optional columns: a leakage group (``group_column``; every file is its own
  group otherwise, and a group may not span folds) and a device
  (``device_column``).

The column names are parameters; ``load_dataset("csv", root)`` uses the
defaults above.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from .base import (
    AudioDataset,
    DatasetError,
    OfficialSplits,
    dataset_from_folds,
    find_root,
    read_table,
)

__all__ = ["load_csv"]

_FOLD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_csv(
    root: str | os.PathLike,
    *,
    check_files: bool = True,
    metadata: str = "metadata.csv",
    path_column: str = "filename",
    label_column: str = "label",
    fold_column: str = "fold",
    group_column: str | None = None,
    device_column: str | None = None,
) -> AudioDataset:
    """Load a folder of recordings described by one CSV with a fold column.

    Parameters
    ----------
    root : str or path-like
        The folder holding ``metadata``, or its parent.
    check_files : bool, default=True
        Check that every listed file exists.
    metadata : str, default="metadata.csv"
        The CSV's path relative to the folder.
    path_column, label_column, fold_column : str
        Columns of the file, its class and its fold (or ``train``/``test``).
    group_column, device_column : str or None, default=None
        Optional columns of the leakage group and of the device.

    Returns
    -------
    AudioDataset
        ``name`` is ``"csv"``.

    Raises
    ------
    DatasetError
        Naming the file and line of a missing column, an empty field, a group
        in two folds, a ``train``/``test`` column with other values, or the
        first missing audio file.

    Examples
    --------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> with open(os.path.join(root, "metadata.csv"), "w") as f:
    ...     _ = f.write("filename,label,fold\\na.wav,bus,train\\nb.wav,park,train\\n"
    ...                 "c.wav,bus,test\\n")
    >>> data = load_csv(root, check_files=False)
    >>> [(tr.tolist(), te.tolist()) for tr, te in data.cv.split()], data.cv.fold_names
    ([([0, 1], [2])], ['test'])
    """
    root = find_root(os.fspath(root), metadata, "CSV data set")
    table = os.path.join(root, metadata)
    wanted = [path_column, label_column, fold_column] + [
        c for c in (group_column, device_column) if c is not None
    ]
    rows: list[dict[str, Any]] = []
    for line, row in read_table(table, delimiter=",", columns=wanted):
        empty = [c for c in wanted if not row[c]]
        if empty:
            raise DatasetError(f"{table}, line {line}: empty {', '.join(map(repr, empty))}.")
        path = row[path_column]
        entry: dict[str, Any] = {
            "line": line,
            "label": row[label_column],
            "fold": row[fold_column],
            "path": path if os.path.isabs(path) else os.path.join(root, *path.split("/")),
            "group": row[group_column] if group_column else path,
        }
        if device_column:
            entry["device"] = row[device_column]
        rows.append(entry)
    first_of: dict[str, dict] = {}
    for r in rows:  # fold names become folder names (skasc cv): plain, distinct in any case
        if not _FOLD_NAME.match(r["fold"]):
            raise DatasetError(
                f"{table}, line {r['line']}: fold {r['fold']!r} must be made of "
                "letters, digits, '_', '-' and '.' (not first)."
            )
        seen = first_of.setdefault(r["fold"].lower(), r)
        if seen["fold"] != r["fold"]:
            raise DatasetError(
                f"{table}, line {r['line']}: fold {r['fold']!r} differs from fold "
                f"{seen['fold']!r} (line {seen['line']}) only in case."
            )
    values = {r["fold"].lower() for r in rows}
    if values & {"train", "test"}:
        bad = next((r for r in rows if r["fold"].lower() not in ("train", "test")), None)
        if bad is not None:
            raise DatasetError(
                f"{table}, line {bad['line']}: the {fold_column!r} column mixes train/test with "
                f"{bad['fold']!r}; use train and test only, or fold names only."
            )
        if values != {"train", "test"}:
            raise DatasetError(
                f"{table}: the {fold_column!r} column has only "
                f"{sorted(values)[0]!r} rows; a train/test split needs both."
            )
        for r in rows:  # one split: "test" is the fold tested, "train" never is
            r["fold"] = r["fold"].lower()
        data = dataset_from_folds(
            "csv", root, table, rows, check_files=check_files, group_key=group_column or path_column
        )
        is_test = np.array([r["fold"] == "test" for r in rows])
        cv = OfficialSplits(
            [(np.flatnonzero(~is_test), np.flatnonzero(is_test))], len(rows), names=["test"]
        )
        return AudioDataset(
            name=data.name,
            root=data.root,
            paths=data.paths,
            labels=data.labels,
            class_names=data.class_names,
            groups=data.groups,
            cv=cv,
            devices=data.devices,
        )
    if all(v.lstrip("-").isdigit() for v in values):
        for r in rows:
            r["fold"] = int(r["fold"])
    return dataset_from_folds(
        "csv", root, table, rows, check_files=check_files, group_key=group_column or path_column
    )
