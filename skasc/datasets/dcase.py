"""DCASE acoustic scene development sets (TUT 2016 ... TAU 2022 Mobile): one reader, eight loaders.

Every set unpacks to one folder (``TUT-acoustic-scenes-2016-development/`` ...)
laid out as::

    <folder>/audio/                       every WAV, flat
    <folder>/meta.txt | meta.csv          every recording and its scene label
    <folder>/evaluation_setup/fold{k}_train.<ext>     file, label   (training list)
    <folder>/evaluation_setup/fold{k}_test.<ext>      file          (blind test list)
    <folder>/evaluation_setup/fold{k}_evaluate.<ext>  file, label   (scored test list)
    <folder>/error.txt                    2016/2017 only: audio errors (not read)

All files are TAB-separated, the ``.csv`` ones too; ``.txt`` files have no
header, ``.csv`` files have one. Paths are relative to the folder and carry the
``audio/`` prefix (``audio/airport-barcelona-0-0-a.wav``); a path written
without a folder is taken to be in ``audio/``.

The facts that differ between the sets are in :data:`DCASE_SETS`:

=================  ========  ===========  =====  ====================
set                meta      split files  folds  devices
=================  ========  ===========  =====  ====================
``tut2016``        meta.txt  .txt         4      no
``tut2017``        meta.txt  .txt         4      no
``tut2018``        meta.csv  .txt         1      yes (a)
``tut2018mobile``  meta.csv  .txt         1      yes (a, b, c)
``tau2019``        meta.csv  .csv         1      yes (a)
``tau2019mobile``  meta.csv  .csv         1      yes (a, b, c)
``tau2020mobile``  meta.csv  .csv         1      yes (a, b, c, s1-s6)
``tau2022mobile``  meta.csv  .csv         1      yes (a, b, c, s1-s6)
=================  ========  ===========  =====  ====================

``meta.txt`` (2016/2017) rows are ``file, label`` or ``file, label, recording
id``; the leakage group is the file name's prefix before the first ``_``
(``a001`` of ``a001_0_30.wav``), and a third column, when present, must equal
it. ``meta.csv`` (2018+) has the columns ``filename, scene_label, identifier,
source_label``: the group is the ``identifier`` column (never derived from the
name, which would be wrong for 2022) and the device is ``source_label``.

The official protocol, as :class:`~skasc.datasets.OfficialSplits` named
``fold1`` ... ``foldK``: train on ``fold{k}_train``, test on
``fold{k}_evaluate``, which must list the same files as ``fold{k}_test`` when
that file exists. A recording may be in no list of a fold (TAU 2019/2020 leave
some unused); none may be on both sides, nor may a group. Every fault raises
:class:`DatasetError` naming the file and the 1-based line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import (
    AudioDataset,
    DatasetError,
    OfficialSplits,
    check_recording_files,
    find_root,
    read_table,
)

__all__ = [
    "DCASE_SETS",
    "DcaseSet",
    "load_dcase",
    "load_tau2019",
    "load_tau2019mobile",
    "load_tau2020mobile",
    "load_tau2022mobile",
    "load_tut2016",
    "load_tut2017",
    "load_tut2018",
    "load_tut2018mobile",
]

SETUP_DIR = "evaluation_setup"
META_COLUMNS = ("filename", "scene_label", "identifier", "source_label")


@dataclass(frozen=True)
class DcaseSet:
    """What differs between the DCASE scene sets' layouts.

    Attributes
    ----------
    folder : str
        The folder the packages unpack to.
    meta : str
        ``"meta.txt"`` (no header; 2016/2017) or ``"meta.csv"`` (header).
    split_ext : str
        Extension of the ``evaluation_setup/fold{k}_*`` files.
    split_header : bool
        Whether the split files start with a header line.
    n_folds : int
        Number of official folds.
    has_devices : bool
        Whether the meta file has a ``source_label`` (device) column.
    """

    folder: str
    meta: str
    split_ext: str
    split_header: bool
    n_folds: int
    has_devices: bool

    def split_file(self, fold: int, kind: str) -> str:
        """Relative path of fold ``fold``'s ``kind`` list (``train``, ``test``, ``evaluate``)."""
        return f"{SETUP_DIR}/fold{fold}_{kind}{self.split_ext}"


#: Registry name -> layout facts of each DCASE development set.
DCASE_SETS: dict[str, DcaseSet] = {
    "tut2016": DcaseSet(
        "TUT-acoustic-scenes-2016-development", "meta.txt", ".txt", False, 4, False
    ),
    "tut2017": DcaseSet(
        "TUT-acoustic-scenes-2017-development", "meta.txt", ".txt", False, 4, False
    ),
    "tut2018": DcaseSet(
        "TUT-urban-acoustic-scenes-2018-development", "meta.csv", ".txt", False, 1, True
    ),
    "tut2018mobile": DcaseSet(
        "TUT-urban-acoustic-scenes-2018-mobile-development", "meta.csv", ".txt", False, 1, True
    ),
    "tau2019": DcaseSet(
        "TAU-urban-acoustic-scenes-2019-development", "meta.csv", ".csv", True, 1, True
    ),
    "tau2019mobile": DcaseSet(
        "TAU-urban-acoustic-scenes-2019-mobile-development", "meta.csv", ".csv", True, 1, True
    ),
    "tau2020mobile": DcaseSet(
        "TAU-urban-acoustic-scenes-2020-mobile-development", "meta.csv", ".csv", True, 1, True
    ),
    "tau2022mobile": DcaseSet(
        "TAU-urban-acoustic-scenes-2022-mobile-development", "meta.csv", ".csv", True, 1, True
    ),
}


# ----------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------


def _relpath(name: str) -> str:
    """The listed path in one spelling: ``/`` separators, ``audio/`` when no folder is given."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name if "/" in name else "audio/" + name


def _rows(
    path: str, header: bool, columns: tuple[str, ...], n_fields: tuple[int, ...]
) -> list[tuple[int, list[str]]]:
    """``(line, fields)`` of a TAB-separated file, ``fields`` in the order of ``columns``."""
    if header:
        return [
            (lineno, [row[c] for c in columns])
            for lineno, row in read_table(path, delimiter="\t", columns=columns)
        ]
    rows = read_table(path, delimiter="\t", header=False)
    for lineno, row in rows:
        if len(row) not in n_fields:
            expected = " or ".join(map(str, n_fields))
            raise DatasetError(
                f"{path}, line {lineno}: expected {expected} tab-separated fields "
                f"({', '.join(columns)}), got {len(row)}: {chr(9).join(row)!r}."
            )
    return rows


def _read_meta(
    root: str, spec: DcaseSet
) -> tuple[list[str], list[str], list[str], list[str] | None, list[int]]:
    """Relative paths, labels, groups, devices (or None) and lines of the meta file."""
    path = os.path.join(root, spec.meta)
    if spec.has_devices:
        rows = _rows(path, True, META_COLUMNS, (4,))
    else:
        rows = _rows(path, False, ("filename", "scene_label", "identifier"), (2, 3))
    names: list[str] = []
    labels: list[str] = []
    groups: list[str] = []
    devices: list[str] = []
    seen: dict[str, int] = {}
    for lineno, row in rows:
        name = _relpath(row[0])
        if name in seen:
            raise DatasetError(
                f"{path}, line {lineno}: {row[0]!r} is listed twice (also on line {seen[name]})."
            )
        seen[name] = lineno
        empty = [c for c, v in zip(META_COLUMNS, row) if not v]
        if empty or name.endswith("/"):
            raise DatasetError(
                f"{path}, line {lineno}: empty {', '.join(empty) or 'filename'} field."
            )
        if spec.has_devices:
            group, device = row[2], row[3]
            devices.append(device)
        else:
            group = os.path.basename(name).split("_")[0]
            if len(row) == 3 and row[2] != group:
                raise DatasetError(
                    f"{path}, line {lineno}: the recording id {row[2]!r} is not the file "
                    f"name's prefix before the first '_' ({group!r})."
                )
        names.append(name)
        labels.append(row[1])
        groups.append(group)
    if not names:
        raise DatasetError(f"{path} lists no recordings.")
    return names, labels, groups, (devices if spec.has_devices else None), list(seen.values())


def _read_split(
    root: str, spec: DcaseSet, fold: int, kind: str, position: dict[str, int], labels: list[str]
) -> dict[int, int]:
    """Meta position -> line of each file in fold ``fold``'s ``kind`` list, checked against meta."""
    rel = spec.split_file(fold, kind)
    path = os.path.join(root, *rel.split("/"))
    with_label = kind != "test"
    columns = ("filename", "scene_label") if with_label else ("filename",)
    rows = _rows(path, spec.split_header, columns, (len(columns),))
    found: dict[int, int] = {}
    for lineno, row in rows:
        name = _relpath(row[0])
        if name not in position:
            raise DatasetError(
                f"{path}, line {lineno}: {row[0]!r} is not listed in "
                f"{os.path.join(root, spec.meta)}."
            )
        pos = position[name]
        if pos in found:
            raise DatasetError(
                f"{path}, line {lineno}: {row[0]!r} is listed twice (also on line {found[pos]})."
            )
        if with_label and row[1] != labels[pos]:
            raise DatasetError(
                f"{path}, line {lineno}: label {row[1]!r} of {row[0]!r} disagrees with "
                f"{spec.meta}, which says {labels[pos]!r}."
            )
        found[pos] = lineno
    return found


def _read_fold(
    root: str,
    spec: DcaseSet,
    fold: int,
    names: list[str],
    position: dict[str, int],
    labels: list[str],
    groups: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Training and test positions of one fold, after every consistency check."""
    train = _read_split(root, spec, fold, "train", position, labels)
    test = _read_split(root, spec, fold, "evaluate", position, labels)
    train_path = os.path.join(root, *spec.split_file(fold, "train").split("/"))
    eval_path = os.path.join(root, *spec.split_file(fold, "evaluate").split("/"))
    test_path = os.path.join(root, *spec.split_file(fold, "test").split("/"))
    if os.path.isfile(test_path):
        blind = _read_split(root, spec, fold, "test", position, labels)
        extra = [p for p in blind if p not in test]
        if extra:
            raise DatasetError(
                f"{test_path}, line {blind[extra[0]]}: {names[extra[0]]!r}"
                f" is not in {eval_path}; the two must list the same files "
                f"({len(extra)} differ)."
            )
        lacking = [p for p in test if p not in blind]
        if lacking:
            raise DatasetError(
                f"{eval_path}, line {test[lacking[0]]}: {names[lacking[0]]!r} is not "
                f"in {test_path}; the two must list the same files ({len(lacking)} differ)."
            )
    both = [p for p in test if p in train]
    if both:
        raise DatasetError(
            f"{eval_path}, line {test[both[0]]}: {names[both[0]]!r} is also in the "
            f"training list {train_path}, line {train[both[0]]} ({len(both)} such files)."
        )
    train_groups: dict[str, int] = {}
    for p in train:
        train_groups.setdefault(groups[p], p)
    for p, lineno in test.items():
        if groups[p] in train_groups:
            q = train_groups[groups[p]]
            raise DatasetError(
                f"{eval_path}, line {lineno}: {names[p]!r} shares the recording/"
                f"location {groups[p]!r} with {names[q]!r} in {train_path}, line "
                f"{train[q]}; a group must stay on one side of a fold."
            )
    return (
        np.fromiter(sorted(train), dtype=np.intp, count=len(train)),
        np.fromiter(sorted(test), dtype=np.intp, count=len(test)),
    )


def load_dcase(name: str, root: str | os.PathLike, *, check_files: bool = True) -> AudioDataset:
    """List the recordings, labels, groups, devices and official folds of a DCASE scene set.

    No audio is read: pass ``paths`` to ``AudioLoader`` (or the ``FrontEnd``).

    Parameters
    ----------
    name : str
        One of :data:`DCASE_SETS` (``"tut2016"`` ... ``"tau2022mobile"``).
    root : str or path-like
        The set's folder (holding the meta file and ``evaluation_setup/``), or its
        parent when that holds the set's official folder (``DCASE_SETS[name].folder``)
        or exactly one folder with the set's ``fold1_train`` file.
    check_files : bool, default=True
        Check that every audio file of the meta file exists.

    Returns
    -------
    AudioDataset
        ``paths`` (absolute, in meta order), ``labels`` and ``groups`` (ndarray
        of str, shape (n_recordings,)), ``devices`` (ndarray of str, or None for
        2016/2017), and ``cv``, an :class:`OfficialSplits` with folds
        ``fold1`` ... ``foldK`` of positions into ``paths``.

    Raises
    ------
    DatasetError
        For an unknown set or folder, a missing metadata file, or a malformed
        one (naming file and line): a wrong number of fields, a duplicate, a
        split entry not in meta or with another label, ``test`` and
        ``evaluate`` lists that differ, a file or a group on both sides of a
        fold; with ``check_files``, the number of missing audio files and the
        first of them.

    Examples
    --------
    >>> import os, tempfile
    >>> root = os.path.join(tempfile.mkdtemp(), DCASE_SETS["tau2019"].folder)
    >>> os.makedirs(os.path.join(root, "evaluation_setup"))
    >>> def write(rel, *lines):
    ...     with open(os.path.join(root, rel), "w") as f:
    ...         f.write("".join(line + "\\n" for line in lines))
    >>> write("meta.csv", "filename\\tscene_label\\tidentifier\\tsource_label",
    ...       "audio/bus-lyon-1-0-a.wav\\tbus\\tlyon-1\\ta",
    ...       "audio/park-lyon-2-0-a.wav\\tpark\\tlyon-2\\ta",
    ...       "audio/park-lyon-3-0-a.wav\\tpark\\tlyon-3\\ta")
    >>> write("evaluation_setup/fold1_train.csv", "filename\\tscene_label",
    ...       "audio/bus-lyon-1-0-a.wav\\tbus")
    >>> write("evaluation_setup/fold1_evaluate.csv", "filename\\tscene_label",
    ...       "audio/park-lyon-2-0-a.wav\\tpark")
    >>> data = load_dcase("tau2019", os.path.dirname(root), check_files=False)
    >>> data
    AudioDataset(name='tau2019', n_recordings=3, n_classes=2, n_folds=1)
    >>> [(tr.tolist(), te.tolist()) for tr, te in data.cv.split()]
    [([0], [1])]
    >>> data.groups.tolist(), data.devices.tolist()
    (['lyon-1', 'lyon-2', 'lyon-3'], ['a', 'a', 'a'])
    """
    if name not in DCASE_SETS:
        raise DatasetError(f"Unknown DCASE set {name!r}; known: {', '.join(DCASE_SETS)}.")
    spec = DCASE_SETS[name]
    marker = spec.split_file(1, "train")
    official = os.path.join(os.fspath(root), spec.folder)
    # a parent holding several DCASE sets: pick this one by its official folder name
    root = official if os.path.isfile(os.path.join(official, marker)) else root
    root = find_root(root, marker, spec.folder)
    names, labels, groups, devices, lines = _read_meta(root, spec)
    position = {n: i for i, n in enumerate(names)}
    splits = [
        _read_fold(root, spec, k, names, position, labels, groups)
        for k in range(1, spec.n_folds + 1)
    ]
    paths = [os.path.join(root, *n.split("/")) for n in names]
    check_recording_files(paths, lines, os.path.join(root, spec.meta), check_files=check_files)
    label_array = np.asarray(labels, dtype=str)
    return AudioDataset(
        name=name,
        root=root,
        paths=paths,
        labels=label_array,
        class_names=sorted(set(labels)),
        groups=np.asarray(groups, dtype=str),
        cv=OfficialSplits(
            splits, len(paths), names=[f"fold{k}" for k in range(1, spec.n_folds + 1)]
        ),
        devices=None if devices is None else np.asarray(devices, dtype=str),
    )


def _loader(name: str) -> Callable[..., AudioDataset]:
    def load(root: str | os.PathLike, *, check_files: bool = True) -> AudioDataset:
        return load_dcase(name, root, check_files=check_files)

    load.__name__ = load.__qualname__ = f"load_{name}"
    load.__doc__ = (
        f"Load the {DCASE_SETS[name].folder} set: ``load_dcase({name!r}, root, "
        f"check_files=check_files)``; see :func:`load_dcase`."
    )
    return load


load_tut2016 = _loader("tut2016")
load_tut2017 = _loader("tut2017")
load_tut2018 = _loader("tut2018")
load_tut2018mobile = _loader("tut2018mobile")
load_tau2019 = _loader("tau2019")
load_tau2019mobile = _loader("tau2019mobile")
load_tau2020mobile = _loader("tau2020mobile")
load_tau2022mobile = _loader("tau2022mobile")
