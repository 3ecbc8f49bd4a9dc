"""What every data set loader returns, its official splitter, and the metadata reading they share.

* :class:`AudioDataset` is the one object every loader returns: paths, labels,
  class names, the groups that must never be split, devices where the set has
  them, and the official splitter ``cv``;
* :class:`OfficialSplits` is that splitter: fixed (train, test) positions read
  from the set's metadata, usable as ``cv=`` in ``cross_val_score``,
  ``GridSearchCV`` and :func:`skasc.evaluate`;
* :func:`find_root` accepts the set's folder or its parent, :func:`read_table`
  reads a delimited metadata file and names the file and line of any fault;
* :func:`dataset_from_folds` builds the data set of a table with a fold column
  (ESC-50, UrbanSound8K, the generic CSV), checking that no group spans folds.

Python's :mod:`csv` does the parsing; what is written here is only the checking
that no metadata library does with file-and-line messages.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from .._paths import file_identity, regular_file_problem
from .._recordings import n_recordings
from ..exceptions import DatasetError

__all__ = [
    "AudioDataset",
    "DatasetError",
    "OfficialSplits",
    "check_one_name",
    "check_recording_files",
    "dataset_from_folds",
    "find_root",
    "metadata_rows",
    "name_fields",
    "parse_int",
    "read_table",
    "read_text",
]


# ----------------------------------------------------------------------------
# splitter
# ----------------------------------------------------------------------------


class OfficialSplits(BaseCrossValidator):
    """Fixed train/test splits of a data set, as a scikit-learn CV splitter.

    Holds, for each official fold, the positions (into the loader's ``paths``)
    of its training and its test recordings. A recording may be in neither
    (TAU 2020 Mobile leaves some out of fold 1); none is in both.

    Parameters
    ----------
    splits : sequence of (train, test) pairs of int arrays
        Positions of each fold's training and test recordings.
    n_recordings : int
        Number of recordings of the data set; ``split`` checks ``X`` against it.
    names : sequence of str or None, default=None
        A name per fold (``"fold1"`` ...); None numbers them from 1.

    Examples
    --------
    >>> cv = OfficialSplits.from_folds([1, 1, 2, 2, 3])
    >>> cv.get_n_splits()
    3
    >>> [test.tolist() for _, test in cv.split()]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(
        self,
        splits: Sequence[tuple[Any, Any]],
        n_recordings: int,
        *,
        names: Sequence[str] | None = None,
    ) -> None:
        self.splits = splits
        self.n_recordings = n_recordings
        self.names = names

    @classmethod
    def from_folds(cls, folds: Any) -> OfficialSplits:
        """Leave-one-fold-out splits from a fold number per recording.

        Fold ``k`` tests on the recordings whose fold is ``k`` and trains on all
        others, in increasing fold order (the ESC-50 and UrbanSound8K protocol).

        Parameters
        ----------
        folds : array-like of int or str, shape (n_recordings,)
            Folds numbered ``k`` are named ``"fold{k}"``; named folds keep their names.

        Returns
        -------
        OfficialSplits
        """
        folds = np.asarray(folds)
        if folds.ndim != 1 or folds.size == 0:
            raise DatasetError("folds must be a non-empty 1-D array of fold numbers.")
        values = np.unique(folds)
        splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in values]
        return cls(
            splits,
            folds.size,
            names=[f"fold{k}" if isinstance(k, int) else str(k) for k in values.tolist()],
        )

    @property
    def fold_names(self) -> list[str]:
        """The name of each fold, in split order."""
        if self.names is None:
            return [f"fold{k}" for k in range(1, len(self.splits) + 1)]
        return [str(n) for n in self.names]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of official folds.

        Parameters
        ----------
        X, y, groups : ignored
            Present for scikit-learn compatibility.

        Returns
        -------
        int
        """
        return len(self.splits)

    def split(
        self, X: Any = None, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the training and test positions of each fold.

        Parameters
        ----------
        X : array-like of shape (n_recordings, ...) or None
            When given, its length must equal ``n_recordings`` (the recordings
            of the loader, in its order).
        y : array-like of shape (n_recordings,) or None
            Checked for its length like ``X``.
        groups : ignored

        Yields
        ------
        train, test : ndarray of int
            Sorted positions of the fold's training and test recordings.
        """
        for name, value in (("X", X), ("y", y)):
            if value is not None and n_recordings(value) != self.n_recordings:
                raise DatasetError(
                    f"{name} has {n_recordings(value)} recordings but the data set has "
                    f"{self.n_recordings}; pass the recordings of the loader in its order."
                )
        for train, test in self.splits:
            yield (
                np.sort(np.asarray(train, dtype=np.intp)),
                np.sort(np.asarray(test, dtype=np.intp)),
            )


# ----------------------------------------------------------------------------
# the data set
# ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AudioDataset:
    """The recordings of a data set and its official protocol, as a loader returns them.

    Unpacks as a 3-tuple ``paths, labels, class_names = load_...(root)``.

    Attributes
    ----------
    name : str
        Registry name (``"esc50"``, ``"tau2020mobile"`` ...).
    root : str
        Absolute path of the folder holding the set's metadata.
    paths : list of str, length n_recordings
        Absolute paths of the audio files; the positions in this list are the
        indices ``cv`` yields.
    labels : ndarray of str, shape (n_recordings,)
        Class name of each recording.
    class_names : list of str
        Sorted distinct class names.
    groups : ndarray of str, shape (n_recordings,)
        The source recording or location of each file: files sharing a group
        must stay on one side of any split (pass as ``groups=`` to a
        ``GroupKFold`` when building a validation split).
    cv : OfficialSplits or BaseCrossValidator
        The official splitter; it has ``fold_names`` (one name per split).
    devices : ndarray of str, shape (n_recordings,), or None
        Recording device of each file, for the sets that have devices.
    """

    name: str
    root: str
    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    groups: np.ndarray = field(repr=False)
    cv: Any = field(repr=False)
    devices: np.ndarray | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.paths, self.labels, self.class_names))

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, n_recordings={len(self.paths)}, "
            f"n_classes={len(self.class_names)}, n_folds={self.cv.get_n_splits()})"
        )


# ----------------------------------------------------------------------------
# reading metadata
# ----------------------------------------------------------------------------


def find_root(root: str | os.PathLike, marker: str, dataset: str) -> str:
    """The folder holding ``marker`` (a metadata file): ``root`` or its one child holding it.

    Parameters
    ----------
    root : str or path-like
        The set's folder (e.g. ``ESC-50-master/``) or its parent.
    marker : str
        Relative path of the file that identifies the set (``meta/esc50.csv``).
    dataset : str
        The set's name, for messages.

    Returns
    -------
    str
        Absolute path of the set's folder.

    Raises
    ------
    DatasetError
        When ``root`` does not exist, or neither it nor exactly one of its
        sub-folders holds ``marker``; the message names the file expected.
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise DatasetError(f"The {dataset} folder {root!r} does not exist.")
    problem = regular_file_problem(os.path.join(root, marker))
    if problem is None:
        return root
    if problem != "does not exist":  # there, but not a file that can be read
        raise DatasetError(f"The metadata file {os.path.join(root, marker)!r} {problem}.")
    children = sorted(
        os.path.join(root, name)
        for name in os.listdir(root)
        if os.path.isfile(os.path.join(root, name, marker))
    )
    if len(children) == 1:
        return children[0]
    if len(children) > 1:
        raise DatasetError(
            f"{root!r} holds {len(children)} {dataset} folders "
            f"({', '.join(os.path.basename(c) for c in children)}); pass one of them."
        )
    raise DatasetError(
        f"{root!r} is not a {dataset} folder: expected the file "
        f"{os.path.join(root, marker)!r} (or a sub-folder holding {marker!r})."
    )


@overload
def read_table(
    path: str,
    *,
    delimiter: str,
    columns: Sequence[str] | None = ...,
    header: Literal[True] = ...,
    min_columns: int = ...,
) -> list[tuple[int, dict[str, str]]]: ...
@overload
def read_table(
    path: str,
    *,
    delimiter: str,
    columns: Sequence[str] | None = ...,
    header: Literal[False],
    min_columns: int = ...,
) -> list[tuple[int, list[str]]]: ...
def read_table(
    path: str,
    *,
    delimiter: str,
    columns: Sequence[str] | None = None,
    header: bool = True,
    min_columns: int = 1,
) -> list[tuple[int, dict[str, str]]] | list[tuple[int, list[str]]]:
    """Rows of a delimited metadata file, with their 1-based line numbers.

    A leading byte-order mark, Windows line endings and blank lines are
    tolerated; surrounding whitespace of each field is stripped.

    Parameters
    ----------
    path : str
        The file.
    delimiter : str
        ``","`` or ``"\\t"``: hard-coded per set, never sniffed.
    columns : sequence of str or None, default=None
        With ``header=True``, the columns that must appear in the header; each
        row is then a dict of all header columns. Ignored without a header.
    header : bool, default=True
        Whether the first non-blank line names the columns.
    min_columns : int, default=1
        Without a header, the fewest fields a row may have; rows are lists.

    Returns
    -------
    list of (int, dict or list)

    Raises
    ------
    DatasetError
        Naming the file, and the line, when it is missing, lacks a required
        column, or a row has the wrong number of fields.
    """
    text = read_text(path, "metadata file")
    lines = list(enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1))
    lines = [
        (lineno, [f.strip() for f in row]) for lineno, row in lines if any(f.strip() for f in row)
    ]
    if not header:
        for lineno, row in lines:
            if len(row) < min_columns:
                raise DatasetError(
                    f"{path}, line {lineno}: expected at least {min_columns} "
                    f"{_delimiter_name(delimiter)}-separated fields, got {len(row)}: "
                    f"{delimiter.join(row)!r}."
                )
        return lines
    if not lines:
        raise DatasetError(f"{path} is empty; expected a header line.")
    head_line, head = lines[0]
    missing = [c for c in (columns or []) if c not in head]
    if missing:
        raise DatasetError(
            f"{path}, line {head_line}: the header lacks the column(s) "
            f"{', '.join(map(repr, missing))}; got {head}. Expected a "
            f"{_delimiter_name(delimiter)}-separated header."
        )
    rows = []
    for lineno, row in lines[1:]:
        if len(row) != len(head):
            raise DatasetError(
                f"{path}, line {lineno}: expected {len(head)} "
                f"{_delimiter_name(delimiter)}-separated fields (as in the header), got "
                f"{len(row)}: {delimiter.join(row)!r}."
            )
        rows.append((lineno, dict(zip(head, row))))
    return rows


def read_text(path: str, what: str) -> str:
    """The text of a metadata file, which must be a regular file of UTF-8 text (a
    byte-order mark, as Excel writes, is dropped); ``what`` names it in errors.

    Raises
    ------
    DatasetError
        Naming the file when it is missing, not a regular file, or not UTF-8.
    """
    problem = regular_file_problem(path)
    if problem is not None:
        raise DatasetError(f"The {what} {path!r} {problem}.")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8."
        ) from None


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma"}.get(delimiter, repr(delimiter))


def dataset_from_folds(
    name: str,
    root: str,
    table: str,
    rows: Sequence[dict[str, Any]],
    *,
    check_files: bool,
    group_key: str,
) -> AudioDataset:
    """The data set of a metadata table whose rows carry a fold each.

    Parameters
    ----------
    name : str
        Registry name.
    root : str
        The set's folder.
    table : str
        Path of the metadata file, for messages.
    rows : sequence of dict
        One per recording, in file order, with ``line`` (1-based), ``path``
        (absolute), ``label``, ``group``, ``fold`` and optionally ``device``.
    check_files : bool
        Check that every audio file exists.
    group_key : str
        The column the groups come from, for messages (``"src_file"``).

    Returns
    -------
    AudioDataset
        ``cv`` tests on each fold in turn (increasing fold order) and trains on
        the others.

    Raises
    ------
    DatasetError
        When no row is given, a group is in two folds (naming both lines), a
        file is listed twice, or (with ``check_files``) audio files are missing.
    """
    if not rows:
        raise DatasetError(f"{table} lists no recordings.")
    check_recording_files(
        [r["path"] for r in rows], [r["line"] for r in rows], table, check_files=check_files
    )
    first_of: dict[str, dict[str, Any]] = {}
    for row in rows:
        before = first_of.setdefault(row["group"], row)
        if before["fold"] != row["fold"]:
            raise DatasetError(
                f"{table}, line {row['line']}: {group_key} {row['group']!r} is in fold "
                f"{row['fold']!r} but also in fold {before['fold']!r} (line {before['line']}); "
                "clips of one source must stay in one fold."
            )
    labels = np.asarray([r["label"] for r in rows], dtype=str)
    devices = [r["device"] for r in rows] if all("device" in r for r in rows) else None
    return AudioDataset(
        name=name,
        root=root,
        paths=[r["path"] for r in rows],
        labels=labels,
        class_names=sorted(set(labels.tolist())),
        groups=np.asarray([r["group"] for r in rows], dtype=str),
        cv=OfficialSplits.from_folds([r["fold"] for r in rows]),
        devices=None if devices is None else np.asarray(devices, dtype=str),
    )


def check_recording_files(
    paths: Sequence[str], lines: Sequence[int], table: str, *, check_files: bool = True
) -> None:
    """Refuse one audio file listed on two rows, and (with ``check_files``) files that
    are missing or not regular files.

    ``paths[i]`` is listed on line ``lines[i]`` of ``table``. Two rows name the same
    file when :func:`skasc._paths.file_identity` agrees (``a.wav`` and ``./a.wav``, a
    link to it): its recording would be trained and tested on in one split.

    Raises
    ------
    DatasetError
        Naming both lines of a file listed twice; naming the table, the number of
        missing files and the first one; or naming the line of a file that is not
        a regular file (a folder, a FIFO).
    """
    first: dict[tuple, tuple[str, int]] = {}
    for path, line in zip(paths, lines):
        key = file_identity(path)
        if key in first:
            other, other_line = first[key]
            same = "is listed again" if other == path else f"is the same file as {other!r}"
            raise DatasetError(
                f"{table}, line {line}: {path!r} {same} (first on line "
                f"{other_line}); a recording may be listed once."
            )
        first[key] = (path, line)
    if not check_files:
        return
    problems = [(path, line, regular_file_problem(path)) for path, line in zip(paths, lines)]
    missing = [(path, line) for path, line, problem in problems if problem == "does not exist"]
    if missing:
        raise DatasetError(
            f"{len(missing)} recording(s) listed in {table} do not exist, e.g. "
            f"{missing[0][0]!r} (line {missing[0][1]})."
        )
    for path, line, problem in problems:
        if problem is not None:
            raise DatasetError(f"{table}, line {line}: the recording {path!r} {problem}.")


def name_fields(name: str, spelled: str, where: str) -> list[str]:
    """The dash-separated fields of a WAV file name spelled like ``spelled``.

    ``name_fields("1-100032-A-0.wav", "{fold}-{src_file}-{take}-{target}.wav", where)``
    gives ``["1", "100032", "A", "0"]``; another number of fields, or another
    extension, raises a DatasetError at ``where`` (file and line).
    """
    n = spelled.count("-") + 1
    parts = name[:-4].split("-") if name.lower().endswith(".wav") else []
    if len(parts) != n:
        raise DatasetError(f"{where}: expected a file name {spelled}, got {name!r}.")
    return parts


def parse_int(
    value: str, what: str, where: str, low: int | None = None, high: int | None = None
) -> int:
    """``value`` as an int in ``[low, high]``, or a DatasetError at ``where``."""
    bounds = "" if low is None or high is None else f" from {low} to {high}"
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or (low is not None and number < low) or (high is not None and number > high):
        raise DatasetError(f"{where}: expected {what} to be an integer{bounds}, got {value!r}.")
    return number


def check_one_name(
    names: dict[int, tuple[str, int]], what: str, code: int, name: str, line: int, where: str
) -> None:
    """Each class code ``what`` names one class: ``names`` keeps the first ``(name, line)``
    seen for each code; another name for it is a DatasetError at ``where``."""
    known = names.setdefault(code, (name, line))
    if known[0] != name:
        raise DatasetError(
            f"{where}: {what} {code} is {name!r} here but {known[0]!r} on line {known[1]}."
        )


def metadata_rows(
    root: str | os.PathLike, marker: str, dataset: str, columns: Sequence[str]
) -> tuple[str, str, list[tuple[int, str, dict[str, str]]]]:
    """The set's folder, its comma-separated metadata file ``marker`` and the rows of it.

    Returns ``(root, table, rows)`` with each row as ``(line, where, fields)``:
    ``where`` (``"<table>, line <n>"``) starts every message about the row.
    """
    root = find_root(os.fspath(root), marker, dataset)
    table = os.path.join(root, marker)
    return (
        root,
        table,
        [
            (line, f"{table}, line {line}", row)
            for line, row in read_table(table, delimiter=",", columns=columns)
        ],
    )
