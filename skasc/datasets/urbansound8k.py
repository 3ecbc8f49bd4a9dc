"""UrbanSound8K (Salamon et al. 2014): 8732 clips of at most 4 s, 10 official folds.

The archive unpacks to ``UrbanSound8K/``::

    UrbanSound8K/audio/fold{1..10}/{fsID}-{classID}-{occurrenceID}-{sliceID}.wav
    UrbanSound8K/metadata/UrbanSound8K.csv

The metadata is comma-separated with the header ``slice_file_name, fsID, start,
end, salience, fold, classID, class``. Each row is checked: ``fsID`` and
``classID`` are the file name's first two dash fields, a ``classID`` always has
the same ``class``, ``fold`` is 1-10 and the clip is in ``audio/fold{fold}/``,
``0 < end - start <= 4`` s, ``salience`` is 1 (foreground) or 2 (background).
Sample rates and channel counts vary from file to file; the front end
resamples and downmixes.

The protocol is leave-one-fold-out over the 10 folds (mean accuracy); the
Freesound recording ``fsID`` is the leakage group, and no ``fsID`` may be in two
folds (checked). Labels are the class names; ``class_names`` is sorted.
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

__all__ = ["load_urbansound8k"]

META = os.path.join("metadata", "UrbanSound8K.csv")
COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")
N_FOLDS = 10
MAX_DURATION = 4.0


def _seconds(value: str, what: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise DatasetError(
            f"{where}: expected {what} to be a number of seconds, got {value!r}."
        ) from None


def load_urbansound8k(root: str | os.PathLike, *, check_files: bool = True) -> AudioDataset:
    """Load UrbanSound8K: 10 classes, 10 official folds, ``fsID`` groups.

    Parameters
    ----------
    root : str or path-like
        ``UrbanSound8K/`` (the folder holding ``metadata/UrbanSound8K.csv``), or
        its parent.
    check_files : bool, default=True
        Check that every listed clip exists in its fold's folder.

    Returns
    -------
    AudioDataset
        ``cv`` tests on fold 1, ..., 10 in turn.

    Raises
    ------
    DatasetError
        Naming the file and line of a malformed row, an ``fsID`` in two folds,
        or the first missing clip.

    Examples
    --------
    >>> import os, tempfile
    >>> root = os.path.join(tempfile.mkdtemp(), "UrbanSound8K")
    >>> os.makedirs(os.path.join(root, "metadata"))
    >>> with open(os.path.join(root, "metadata", "UrbanSound8K.csv"), "w") as f:
    ...     _ = f.write("slice_file_name,fsID,start,end,salience,fold,classID,class\\n"
    ...                 "100032-3-0-0.wav,100032,0.0,0.317551,1,5,3,dog_bark\\n"
    ...                 "79377-9-0-4.wav,79377,2.0,6.0,2,2,9,street_music\\n")
    >>> data = load_urbansound8k(root, check_files=False)
    >>> data.cv.fold_names, os.path.relpath(data.paths[0], root)
    (['fold2', 'fold5'], 'audio/fold5/100032-3-0-0.wav')
    """
    root, table, table_rows = metadata_rows(root, META, "UrbanSound8K", COLUMNS)
    rows: list[dict[str, Any]] = []
    class_of: dict[int, tuple[str, int]] = {}
    for line, where, row in table_rows:
        name = row["slice_file_name"]
        parts = name_fields(name, "{fsID}-{classID}-{occurrenceID}-{sliceID}.wav", where)
        fold = parse_int(row["fold"], "fold", where, 1, N_FOLDS)
        class_id = parse_int(row["classID"], "classID", where)
        if parts[0] != row["fsID"] or parts[1] != str(class_id):
            raise DatasetError(
                f"{where}: {name!r} does not match its row (fsID {row['fsID']}, "
                f"classID {row['classID']})."
            )
        duration = _seconds(row["end"], "end", where) - _seconds(row["start"], "start", where)
        if not 0 < duration <= MAX_DURATION + 1e-3:
            raise DatasetError(
                f"{where}: expected 0 < end - start <= {MAX_DURATION:g} s, got {duration:g} s."
            )
        if row["salience"] not in ("1", "2"):
            raise DatasetError(f"{where}: expected salience 1 or 2, got {row['salience']!r}.")
        check_one_name(class_of, "classID", class_id, row["class"], line, where)
        rows.append(
            {
                "line": line,
                "path": os.path.join(root, "audio", f"fold{fold}", name),
                "label": row["class"],
                "group": row["fsID"],
                "fold": fold,
            }
        )
    return dataset_from_folds(
        "urbansound8k", root, table, rows, check_files=check_files, group_key="fsID"
    )
