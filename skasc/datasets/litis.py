"""The LITIS Rouen corpus: loader, official train/test splits, and a writer.

LITIS Rouen (Rakotomamonjy & Gasso, 2015) holds 3026 recordings of 30 s at
22050 Hz from 19 scene classes. It is not redistributed with skasc: users unpack
it to a folder ``root`` laid out as::

    root/data_rouen/<class><number>.wav      e.g. avion1.wav, metro-paris12.wav
    root/relation_wav_examples.txt           "<file name> <id>" per line
    root/fold3026-matrices_Learn.txt         one split per line: training ids
    root/fold3026-matrices_Test.txt          one split per line: test ids

The class of a recording is its file name without the ``.wav`` extension and
without the trailing recording number (``metro-paris12.wav`` -> ``metro-paris``,
``train-tgv3`` -> ``train-tgv``). The file names in the relation file may be
written with or without ``.wav``; both are accepted. Ids are integers, and the
split files may write them as floats (``1.0000000e+00``, MATLAB's ``-ascii``
format). Columns may be separated by any mix of spaces and tabs; blank lines,
trailing whitespace and Windows line endings are tolerated.

Every malformed or missing input raises :class:`DatasetError`, a ``ValueError``
subclass (also for missing files and folders), whose message names the file,
and the line where there is one.

Phan et al. (2019) report the mean accuracy over the 20 official splits; use
:class:`LitisSplits` as the ``cv`` argument of scikit-learn's model selection
tools to do the same.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from .._recordings import iter_recordings, n_recordings
from .._validation import check_int
from .base import AudioDataset, DatasetError, check_recording_files, find_root, read_text

__all__ = [
    "DatasetError",
    "LitisRouen",
    "LitisSplits",
    "class_from_filename",
    "load_litis_rouen",
    "write_litis_layout",
]

AUDIO_DIR = "data_rouen"
RELATION_FILE = "relation_wav_examples.txt"
LEARN_FILE = "fold3026-matrices_Learn.txt"
TEST_FILE = "fold3026-matrices_Test.txt"


# ----------------------------------------------------------------------------
# parsing helpers
# ----------------------------------------------------------------------------

_TRAILING_NUMBER = re.compile(r"^(.*?)[-_ ]*(\d+)$")


def class_from_filename(name: str, *, require_number: bool = True) -> str:
    """Class name of a recording named ``<class><number>.<ext>`` (the LITIS convention).

    Strips any folder, the extension and the trailing recording number, with
    the ``-``, ``_`` or spaces just before it (``bus__1.wav`` gives ``bus``).
    The one reading of such names in skasc: the LITIS loader and the CLI's
    ``fit FOLDER`` both use it.

    Parameters
    ----------
    name : str
        File name such as ``"metro-paris12.wav"`` or ``"train-tgv3"``.
    require_number : bool, default=True
        If False, a name without a class before a number (``park.wav``,
        ``12.wav``) gives its stem instead of an error.

    Returns
    -------
    str
        The class name, e.g. ``"metro-paris"``.

    Raises
    ------
    DatasetError
        With ``require_number=True``, when the name does not end with a
        recording number, or nothing is left before it.

    Examples
    --------
    >>> class_from_filename("metro-paris12.wav")
    'metro-paris'
    >>> class_from_filename("train-tgv3")
    'train-tgv'
    >>> class_from_filename("park.wav", require_number=False)
    'park'
    """
    stem = os.path.splitext(os.path.basename(str(name)))[0]
    match = _TRAILING_NUMBER.match(stem)
    if match is None or not match.group(1):
        if not require_number:
            return stem
        raise DatasetError(
            f"Cannot read a class from the file name {name!r}: expected "
            "'<class><number>.wav', e.g. 'metro-paris12.wav'."
        )
    return match.group(1)


def _read_lines(path: str) -> list[tuple[int, list[str]]]:
    """Whitespace-split tokens of each non-blank line, with 1-based line numbers."""
    text = read_text(path, "LITIS Rouen file")
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if tokens:
            out.append((lineno, tokens))
    return out


def _parse_id(token: str, path: str, lineno: int) -> int:
    """An integer id, written as an int (``17``) or an integral float (``1.7e+01``)."""
    if "_" in token:  # int() and float() would accept "1_000"
        raise DatasetError(f"{path}, line {lineno}: the id {token!r} is not a number.")
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        raise DatasetError(f"{path}, line {lineno}: the id {token!r} is not a number.") from None
    if not np.isfinite(value) or value != np.floor(value):
        raise DatasetError(f"{path}, line {lineno}: the id {token!r} is not an integer.")
    return int(value)


def _read_relation(root: str) -> tuple[list[str], np.ndarray, list[int]]:
    """File names, ids and lines of the relation file, sorted by id."""
    path = os.path.join(root, RELATION_FILE)
    names: list[str] = []
    ids: list[int] = []
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    for lineno, tokens in _read_lines(path):
        if len(tokens) != 2:
            raise DatasetError(
                f"{path}, line {lineno}: expected two columns (file name and id), "
                f"got {len(tokens)}: {' '.join(tokens)!r}."
            )
        name = tokens[0]
        if not name.lower().endswith(".wav"):
            name = name + ".wav"
        ident = _parse_id(tokens[1], path, lineno)
        if ident in seen_ids:
            raise DatasetError(
                f"{path}, line {lineno}: duplicate id {ident} (first on line {seen_ids[ident]})."
            )
        if name in seen_names:
            raise DatasetError(
                f"{path}, line {lineno}: duplicate file name {name!r} (first on line "
                f"{seen_names[name]})."
            )
        class_from_filename(name)  # fail early on names without a class
        seen_ids[ident] = lineno
        seen_names[name] = lineno
        names.append(name)
        ids.append(ident)
    if not names:
        raise DatasetError(f"{path} lists no recordings.")
    order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
    return (
        [names[i] for i in order],
        np.asarray(ids, dtype=np.int64)[order],
        [seen_names[names[i]] for i in order],
    )


def _read_split_file(
    path: str, position: dict[int, int], relation: str
) -> list[tuple[int, np.ndarray]]:
    """Per non-blank line: (line number, sorted positions of its ids)."""
    out = []
    for lineno, tokens in _read_lines(path):
        pos = []
        seen: set[int] = set()
        for token in tokens:
            ident = _parse_id(token, path, lineno)
            if ident not in position:
                raise DatasetError(
                    f"{path}, line {lineno}: the id {ident} maps to no recording in {relation}."
                )
            if ident in seen:
                raise DatasetError(f"{path}, line {lineno}: the id {ident} is listed twice.")
            seen.add(ident)
            pos.append(position[ident])
        out.append((lineno, np.sort(np.asarray(pos, dtype=np.intp))))
    if not out:
        raise DatasetError(f"{path} contains no splits.")
    return out


def _read_splits(root: str | os.PathLike) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Number of recordings and the (train, test) positions of every split."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DatasetError(f"The LITIS Rouen folder {root!r} does not exist.")
    _, ids, _ = _read_relation(root)
    relation = os.path.join(root, RELATION_FILE)
    position = {int(ident): i for i, ident in enumerate(ids)}
    learn_path = os.path.join(root, LEARN_FILE)
    test_path = os.path.join(root, TEST_FILE)
    learn = _read_split_file(learn_path, position, relation)
    test = _read_split_file(test_path, position, relation)
    if len(learn) != len(test):
        raise DatasetError(
            f"{learn_path} holds {len(learn)} splits but {test_path} holds {len(test)}; "
            "each line of one must pair with the same line of the other."
        )
    splits = []
    for k, ((line_a, train), (line_b, tst)) in enumerate(zip(learn, test), start=1):
        both = np.intersect1d(train, tst)
        if both.size:
            raise DatasetError(
                f"Split {k} ({learn_path}, line {line_a}; {test_path}, line {line_b}) "
                f"puts {both.size} recording(s) in both the training and the test set, "
                f"e.g. id {int(ids[both[0]])}."
            )
        splits.append((train, tst))
    return len(ids), splits


# ----------------------------------------------------------------------------
# loader
# ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class LitisRouen(AudioDataset):
    """The recordings of a LITIS Rouen folder, as returned by :func:`load_litis_rouen`.

    An :class:`~skasc.datasets.AudioDataset` (``name="litis"``) whose ``cv`` is
    :class:`LitisSplits` and whose ``groups`` are the recordings themselves
    (each file is its own source recording). Unpacks as a 3-tuple
    ``paths, labels, class_names = load_litis_rouen(root)``; ``ids`` is
    reachable as an attribute only.

    Attributes
    ----------
    paths : list of str, length n_recordings
        Absolute paths of the WAV files, in increasing id order. The positions
        in this list are the indices yielded by :class:`LitisSplits`.
    labels : ndarray of str, shape (n_recordings,)
        Class name of each recording.
    class_names : list of str
        Sorted distinct class names (19 for the real corpus).
    ids : ndarray of int64, shape (n_recordings,)
        The id of each recording in ``relation_wav_examples.txt``.
    """

    ids: np.ndarray | None = field(default=None, repr=False)


def load_litis_rouen(root: str | os.PathLike, *, check_files: bool = True) -> LitisRouen:
    """List the recordings and labels of a LITIS Rouen folder.

    No audio is read: pass ``paths`` to ``AudioLoader`` (or the ``FrontEnd``).

    Parameters
    ----------
    root : str or path-like
        Folder holding ``data_rouen/`` and ``relation_wav_examples.txt``, or its
        parent when that holds exactly one such folder.
    check_files : bool, default=True
        Check that every WAV file named in the relation file exists.

    Returns
    -------
    LitisRouen
        ``paths`` (list of str), ``labels`` (ndarray of str), ``class_names``
        (sorted list of str) and ``ids`` (ndarray of int64), all in increasing id
        order. Unpacks as ``paths, labels, class_names``.

    Raises
    ------
    DatasetError
        A ``ValueError`` naming the missing path, or the file and line of a
        malformed entry (a line without two columns, a non-integer or duplicate
        id, a duplicate file name, a name without class and number).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> x = np.zeros((4, 800), dtype=np.float32)
    >>> root = write_litis_layout(tempfile.mkdtemp(), x, ["bus", "bus", "park", "park"],
    ...                           sr=8000, splits=[([0, 2], [1, 3])])
    >>> paths, labels, class_names = load_litis_rouen(root)
    >>> [os.path.basename(p) for p in paths]
    ['bus1.wav', 'bus2.wav', 'park1.wav', 'park2.wav']
    >>> class_names
    ['bus', 'park']
    """
    root = find_root(root, RELATION_FILE, "LITIS Rouen")
    names, ids, lines = _read_relation(root)
    audio_dir = os.path.join(root, AUDIO_DIR)
    paths = [os.path.join(audio_dir, name) for name in names]
    if check_files and not os.path.isdir(audio_dir):
        raise DatasetError(f"The LITIS Rouen audio folder {audio_dir!r} does not exist.")
    check_recording_files(paths, lines, os.path.join(root, RELATION_FILE), check_files=check_files)
    labels = np.asarray([class_from_filename(n) for n in names], dtype=str)
    return LitisRouen(
        name="litis",
        root=root,
        paths=paths,
        labels=labels,
        class_names=sorted(set(labels.tolist())),
        groups=np.asarray([os.path.splitext(n)[0] for n in names], dtype=str),
        cv=LitisSplits(root),
        ids=ids,
    )


# ----------------------------------------------------------------------------
# splitter
# ----------------------------------------------------------------------------


class LitisSplits(BaseCrossValidator):
    """The official LITIS Rouen train/test splits, as a scikit-learn CV splitter.

    Line ``k`` of ``fold3026-matrices_Learn.txt`` and of
    ``fold3026-matrices_Test.txt`` give the training and the test ids of split
    ``k`` (20 splits in the real corpus). They are yielded as positions into the
    ``paths`` of :func:`load_litis_rouen` (increasing id order), so the splitter
    can be passed as ``cv=`` to ``cross_val_score`` or ``GridSearchCV``.

    The files are read (and checked) at every call of :meth:`split` and
    :meth:`get_n_splits`, not in ``__init__``; that takes milliseconds.

    Parameters
    ----------
    root : str or path-like
        The LITIS Rouen folder (see :mod:`skasc.datasets.litis`).
    n_splits : int or None, default=None
        Use only the first ``n_splits`` splits (e.g. for a quick demo); None
        uses them all. Must not exceed the number of splits in the files.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> x = np.zeros((4, 800), dtype=np.float32)
    >>> root = write_litis_layout(tempfile.mkdtemp(), x, ["bus", "bus", "park", "park"],
    ...                           sr=8000, splits=[([0, 2], [1, 3]), ([1, 3], [0, 2])])
    >>> cv = LitisSplits(root)
    >>> cv.get_n_splits()
    2
    >>> [(train.tolist(), test.tolist()) for train, test in cv.split()]
    [([0, 2], [1, 3]), ([1, 3], [0, 2])]
    """

    def __init__(self, root: str | os.PathLike, *, n_splits: int | None = None) -> None:
        self.root = root
        self.n_splits = n_splits

    def _splits(self) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
        check_int(self.n_splits, "n_splits", self, low=1, allow_none=True)
        n, splits = _read_splits(self.root)
        if self.n_splits is not None:
            check_int(self.n_splits, "n_splits", self, low=1, high=len(splits), allow_none=True)
            splits = splits[: self.n_splits]
        return n, splits

    @property
    def fold_names(self) -> list[str]:
        """``"fold1"`` ... one name per split, as :class:`OfficialSplits` names them."""
        return [f"fold{k}" for k in range(1, self.get_n_splits() + 1)]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of splits: ``n_splits``, or all lines of the split files.

        Parameters
        ----------
        X, y, groups : ignored
            Present for scikit-learn compatibility.

        Returns
        -------
        int
        """
        return len(self._splits()[1])

    def split(
        self, X: Any = None, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield the training and test positions of each split.

        Parameters
        ----------
        X : array-like of shape (n_recordings, ...) or None
            When given, its length must equal the number of recordings in the
            relation file (the order must be that of :func:`load_litis_rouen`).
        y : array-like of shape (n_recordings,) or None
            Checked for its length like ``X``.
        groups : ignored

        Yields
        ------
        train : ndarray of int, shape (n_train,)
            Sorted positions of the training recordings.
        test : ndarray of int, shape (n_test,)
            Sorted positions of the test recordings.
        """
        n, splits = self._splits()
        for name, value in (("X", X), ("y", y)):
            if value is not None and n_recordings(value) != n:
                raise DatasetError(
                    f"{name} has {n_recordings(value)} recordings but "
                    f"{os.path.join(os.fspath(self.root), RELATION_FILE)} lists {n}; "
                    "pass the recordings of load_litis_rouen(root) in their order."
                )
        yield from ((train.copy(), test.copy()) for train, test in splits)


# ----------------------------------------------------------------------------
# writer
# ----------------------------------------------------------------------------


def _check_index_array(values: Any, n: int, where: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise DatasetError(f"{where} must be a non-empty 1-D array of positions.")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DatasetError(f"{where} must hold integer positions; got dtype {arr.dtype}.")
    if arr.min() < 0 or arr.max() >= n:
        raise DatasetError(
            f"{where} holds positions outside [0, {n - 1}], e.g. "
            f"{int(arr[(arr < 0) | (arr >= n)][0])}."
        )
    if np.unique(arr).size != arr.size:
        raise DatasetError(f"{where} lists a position twice.")
    return arr.astype(np.int64)


def write_litis_layout(
    root: str | os.PathLike,
    recordings: Any,
    labels: Sequence[str] | np.ndarray,
    *,
    sr: int,
    splits: Sequence[tuple[Any, Any]],
    overwrite: bool = False,
) -> str:
    """Write recordings in the LITIS Rouen folder layout.

    Recording ``i`` (0-based) gets id ``i + 1`` and the file
    ``data_rouen/<label><k>.wav`` (16-bit PCM), ``k`` counting the recordings of
    its class from 1. The relation file lists ``<label><k>.wav<TAB><id>``, and the
    split files list ids in MATLAB's ``-ascii`` format (``   1.0000000e+00``),
    one split per line.

    Parameters
    ----------
    root : str or path-like
        Output folder; created when missing.
    recordings : ndarray of shape (n_recordings, n_samples) or sequence of 1-D arrays
        Mono waveforms in [-1, 1].
    labels : sequence of str, length n_recordings
        Class names. Each must be non-empty, without whitespace or path
        separators, and must not end with a digit (it would merge with the
        recording number).
    sr : int
        Sampling rate in Hz.
    splits : sequence of (train, test) pairs
        0-based, disjoint, non-empty position arrays into ``recordings``.
    overwrite : bool, default=False
        Allow writing into a ``root`` whose ``data_rouen`` folder already holds
        files (they are not removed).

    Returns
    -------
    str
        The absolute path of ``root``.

    Raises
    ------
    DatasetError
        On mismatched lengths, bad labels, non-finite or clipping samples
        (naming the recording), bad splits, or an existing non-empty folder.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> x = np.zeros((2, 800), dtype=np.float32)
    >>> root = write_litis_layout(tempfile.mkdtemp(), x, ["bus", "park"], sr=8000,
    ...                           splits=[([0], [1])])
    >>> sorted(os.listdir(root))  # doctest: +NORMALIZE_WHITESPACE
    ['data_rouen', 'fold3026-matrices_Learn.txt', 'fold3026-matrices_Test.txt',
     'relation_wav_examples.txt']
    """
    import soundfile as sf

    sr = check_int(sr, "sr", "write_litis_layout", low=1)
    waves = [np.asarray(x) for x in iter_recordings(recordings)]
    labels = [str(label) for label in labels]
    if len(labels) != len(waves):
        raise DatasetError(
            f"Got {len(waves)} recordings but {len(labels)} labels; expected one label "
            "per recording."
        )
    if not waves:
        raise DatasetError("Got no recordings to write.")
    for label in set(labels):
        ok = (
            label
            and not any(c.isspace() for c in label)
            and "/" not in label
            and os.sep not in label
            and not label[-1].isdigit()
        )
        if not ok or class_from_filename(label + "1") != label:
            raise DatasetError(
                f"The label {label!r} cannot be a LITIS Rouen class name: it must be "
                "non-empty, without whitespace or '/', and must not end with a digit."
            )
    for i, x in enumerate(waves):
        if x.ndim != 1 or x.size == 0:
            raise DatasetError(
                f"Recording {i} must be a non-empty 1-D waveform; got shape {x.shape}."
            )
        if not np.all(np.isfinite(x)):
            raise DatasetError(f"Recording {i} contains NaN or inf samples.")
        if np.max(np.abs(x)) > 1.0:
            raise DatasetError(
                f"Recording {i} has samples outside [-1, 1] (peak {np.max(np.abs(x)):.3g}); "
                "16-bit PCM would clip them."
            )
    n = len(waves)
    checked = []
    for k, pair in enumerate(splits, start=1):
        try:
            train, test = pair
        except (TypeError, ValueError):
            raise DatasetError(f"Split {k} must be a (train, test) pair.") from None
        train = _check_index_array(train, n, f"The training set of split {k}")
        test = _check_index_array(test, n, f"The test set of split {k}")
        both = np.intersect1d(train, test)
        if both.size:
            raise DatasetError(
                f"Split {k} puts position {int(both[0])} in both the training and the test set."
            )
        checked.append((train, test))
    if not checked:
        raise DatasetError("Got no splits to write.")

    root = os.path.abspath(os.fspath(root))
    audio_dir = os.path.join(root, AUDIO_DIR)
    if os.path.isdir(audio_dir) and os.listdir(audio_dir) and not overwrite:
        raise DatasetError(
            f"The folder {audio_dir!r} already holds files; pass overwrite=True or "
            "choose an empty root."
        )
    os.makedirs(audio_dir, exist_ok=True)

    counts: dict[str, int] = {}
    relation = []
    for i, (x, label) in enumerate(zip(waves, labels)):
        counts[label] = counts.get(label, 0) + 1
        name = f"{label}{counts[label]}.wav"
        sf.write(os.path.join(audio_dir, name), x.astype(np.float32), sr, subtype="PCM_16")
        relation.append(f"{name}\t{i + 1}\n")
    with open(os.path.join(root, RELATION_FILE), "w", encoding="utf-8") as handle:
        handle.writelines(relation)
    for fname, which in ((LEARN_FILE, 0), (TEST_FILE, 1)):
        with open(os.path.join(root, fname), "w", encoding="utf-8") as handle:
            for pair in checked:
                handle.write(
                    "".join(f"   {ident:.7e}" for ident in (pair[which] + 1).astype(float)) + "\n"
                )
    return root
