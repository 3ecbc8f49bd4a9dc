"""ESC-50 / ESC-10, UrbanSound8K and the generic CSV loader on fixtures written as
../shared/datasets.md specifies the real layouts (tests/layouts_esc_us8k.py)."""

import os

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import cross_val_score

from layouts_esc_us8k import (
    ESC10_TARGETS,
    ESC50_CATEGORIES,
    write_esc50,
    write_folder_csv,
    write_urbansound8k,
)
from skasc.datasets import (
    DatasetError,
    load_csv,
    load_dataset,
    load_esc10,
    load_esc50,
    load_urbansound8k,
)


def _check_folds(ds, fold_of_row):
    """Fold k tests exactly the rows of fold k and trains on all the others; no group
    is on both sides."""
    fold_of_row = np.asarray(fold_of_row)
    values = sorted(set(fold_of_row.tolist()), key=lambda v: (isinstance(v, str), v))
    assert ds.cv.get_n_splits() == len(values)
    for value, (train, test) in zip(values, ds.cv.split(ds.paths, ds.labels, ds.groups)):
        np.testing.assert_array_equal(test, np.flatnonzero(fold_of_row == value))
        np.testing.assert_array_equal(train, np.flatnonzero(fold_of_row != value))
        assert not set(ds.groups[train]) & set(ds.groups[test])


def _rewrite(path, edit, encoding="utf-8-sig"):
    with open(path, encoding=encoding) as fh:
        lines = fh.read().splitlines()
    edit(lines)
    with open(path, "w", encoding=encoding) as fh:
        fh.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- ESC-50
@pytest.mark.parametrize("bom", [True, False])
def test_esc50_counts_labels_folds_and_groups(tmp_path, bom):
    folder, rows = write_esc50(tmp_path, targets=(0, 1, 14, 41), takes=2, bom=bom)
    if bom:
        assert open(os.path.join(folder, "meta", "esc50.csv"), "rb").read(3) == b"\xef\xbb\xbf"
    ds = load_esc50(folder)
    assert len(ds) == 4 * 5 * 2 and ds.name == "esc50"
    assert ds.paths == [os.path.join(folder, "audio", r[0]) for r in rows]
    assert ds.labels.tolist() == [ESC50_CATEGORIES[int(r[2])] for r in rows]
    assert ds.class_names == sorted({"dog", "rooster", "chirping_birds", "chainsaw"})
    assert ds.groups.tolist() == [r[5] for r in rows]
    assert ds.cv.fold_names == [f"fold{k}" for k in range(1, 6)]
    _check_folds(ds, [int(r[1]) for r in rows])
    assert ds.devices is None


def test_esc10_is_the_rows_marked_esc10(tmp_path):
    folder, rows = write_esc50(tmp_path, targets=(0, 1, 14, 41), takes=1)
    ds = load_esc10(folder)
    kept = [r for r in rows if r[4] == "True"]
    assert {int(r[2]) for r in kept} <= set(ESC10_TARGETS) and len(kept) == 15
    assert ds.paths == [os.path.join(folder, "audio", r[0]) for r in kept]
    assert ds.class_names == ["chainsaw", "dog", "rooster"] and ds.name == "esc10"
    _check_folds(ds, [int(r[1]) for r in kept])


def test_esc50_parent_folder_and_registry(tmp_path):
    folder, _ = write_esc50(tmp_path, takes=1)
    by_parent = load_dataset("esc50", tmp_path)
    assert by_parent.root == folder and len(by_parent) == 15
    X = np.zeros((len(by_parent), 1))
    scores = cross_val_score(DummyClassifier(), X, by_parent.labels, cv=by_parent.cv)
    assert scores.shape == (5,)
    import shutil

    copy, _ = write_esc50(tmp_path / "again", takes=1)
    shutil.copytree(copy, tmp_path / "again" / "ESC-50-copy")
    with pytest.raises(DatasetError, match=r"holds 2 ESC-50 folders"):
        load_esc50(tmp_path / "again")  # a folder holding two copies: say so


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda L: L.__setitem__(2, L[2].replace(",1,0,dog,", ",x,0,dog,")),
            r"esc50\.csv, line 3: expected fold to be an integer from 1 to 5, got 'x'",
        ),
        (
            lambda L: L.__setitem__(2, L[2] + ",extra"),
            r"esc50\.csv, line 3: expected 7 comma-separated fields",
        ),
        (
            lambda L: L.__setitem__(0, L[0].replace("src_file", "source")),
            r"esc50\.csv, line 1: the header lacks the column\(s\) 'src_file'",
        ),
        (
            lambda L: L.__setitem__(2, L[2].replace(",dog,", ",cat,")),
            r"esc50\.csv, line 3: target 0 is 'cat' here but 'dog' on line 2",
        ),
        (
            lambda L: L.__setitem__(2, L[2].replace(",1,0,dog,", ",2,0,dog,")),
            r"esc50\.csv, line 3: '1-.*-B-0\.wav' does not match its row \(fold 2",
        ),
        (
            lambda L: L.__setitem__(2, L[2].replace(",True,", ",yes,")),
            r"esc50\.csv, line 3: expected esc10 to be True or False, got 'yes'",
        ),
    ],
)
def test_esc50_malformed_rows_name_file_and_line(tmp_path, edit, match):
    folder, _ = write_esc50(tmp_path, takes=2)
    _rewrite(os.path.join(folder, "meta", "esc50.csv"), edit)
    with pytest.raises(DatasetError, match=match):
        load_esc50(folder)


def test_esc50_source_in_two_folds_and_missing_clip(tmp_path):
    folder, rows = write_esc50(tmp_path, takes=1)
    # the fold-2 row of target 0 claims the fold-1 row's source (file renamed to match)
    moved = next(i for i, r in enumerate(rows) if r[1] == "2" and r[2] == "0")
    src = rows[0][5]
    old = rows[moved][0]
    new = f"2-{src}-B-0.wav"
    os.rename(os.path.join(folder, "audio", old), os.path.join(folder, "audio", new))
    _rewrite(
        os.path.join(folder, "meta", "esc50.csv"),
        lambda L: L.__setitem__(moved + 1, ",".join([new, "2", "0", "dog", "True", src, "B"])),
    )
    with pytest.raises(
        DatasetError,
        match=rf"line {moved + 2}: src_file '{src}' is in fold 2 "
        r"but also in fold 1 \(line 2\)",
    ):
        load_esc50(folder)
    folder2, rows2 = write_esc50(tmp_path / "b", takes=1)
    os.remove(os.path.join(folder2, "audio", rows2[4][0]))
    with pytest.raises(
        DatasetError,
        match=rf"1 recording\(s\) listed in .*esc50\.csv do not "
        rf"exist, e.g. .*{rows2[4][0]}' \(line 6\)",
    ):
        load_esc50(folder2)
    assert len(load_esc50(folder2, check_files=False)) == len(rows2)


# ---------------------------------------------------------------------- UrbanSound8K
def test_urbansound8k_counts_paths_folds_and_groups(tmp_path):
    folder, rows = write_urbansound8k(tmp_path, class_ids=(1, 3, 9), slices=2)
    ds = load_urbansound8k(tmp_path)  # the parent of UrbanSound8K/
    assert ds.root == folder and len(ds) == 3 * 10 * 2
    assert ds.paths == [os.path.join(folder, "audio", f"fold{r[5]}", r[0]) for r in rows]
    assert ds.labels.tolist() == [r[7] for r in rows]
    assert ds.class_names == ["car_horn", "dog_bark", "street_music"]
    assert ds.groups.tolist() == [r[1] for r in rows]
    assert ds.cv.fold_names == [f"fold{k}" for k in range(1, 11)]
    _check_folds(ds, [int(r[5]) for r in rows])
    assert load_dataset("urbansound8k", folder).paths == ds.paths


@pytest.mark.parametrize(
    "column, value, match",
    [
        (6, "4", r"line 2: '.*-1-0-0\.wav' does not match its row \(fsID \d+, classID 4\)"),
        (3, "9.5", r"line 2: expected 0 < end - start <= 4 s, got 9.5 s"),
        (4, "3", r"line 2: expected salience 1 or 2, got '3'"),
        (5, "11", r"line 2: expected fold to be an integer from 1 to 10, got '11'"),
        (5, "one", r"line 2: expected fold to be an integer from 1 to 10, got 'one'"),
    ],
)
def test_urbansound8k_malformed_rows_name_file_and_line(tmp_path, column, value, match):
    folder, rows = write_urbansound8k(tmp_path, n_folds=2)

    def edit(lines):
        fields = lines[1].split(",")
        fields[column] = value
        lines[1] = ",".join(fields)

    _rewrite(os.path.join(folder, "metadata", "UrbanSound8K.csv"), edit, encoding="utf-8")
    with pytest.raises(DatasetError, match=r"UrbanSound8K\.csv, " + match):
        load_urbansound8k(folder, check_files=False)


def test_urbansound8k_class_mismatch_fsid_leak_and_wrong_fold_folder(tmp_path):
    folder, rows = write_urbansound8k(tmp_path, n_folds=2, class_ids=(1, 3))
    table = os.path.join(folder, "metadata", "UrbanSound8K.csv")
    _rewrite(table, lambda L: L.__setitem__(4, L[4].replace("dog_bark", "siren")), encoding="utf-8")
    with pytest.raises(
        DatasetError,
        match=r"line 5: classID 3 is 'siren' here but 'dog_bark' "
        r"on line 4",
    ):
        load_urbansound8k(folder)
    folder, rows = write_urbansound8k(tmp_path / "b", n_folds=2, class_ids=(1,), slices=1)
    table = os.path.join(folder, "metadata", "UrbanSound8K.csv")
    first_fs = rows[0][1]

    def leak(lines):  # the fold-2 slice claims fold 1's fsID
        fields = lines[2].split(",")
        fields[0] = f"{first_fs}-1-0-7.wav"
        fields[1] = first_fs
        lines[2] = ",".join(fields)

    _rewrite(table, leak, encoding="utf-8")
    with pytest.raises(
        DatasetError,
        match=rf"line 3: fsID '{first_fs}' is in fold 2 but also "
        r"in fold 1 \(line 2\)",
    ):
        load_urbansound8k(folder, check_files=False)
    folder, rows = write_urbansound8k(tmp_path / "c", n_folds=2, class_ids=(1,), slices=1)
    os.rename(
        os.path.join(folder, "audio", "fold1", rows[0][0]),
        os.path.join(folder, "audio", "fold2", rows[0][0]),
    )  # in the wrong fold's folder
    with pytest.raises(DatasetError, match=r"fold1/" + rows[0][0]):
        load_urbansound8k(folder)


# ------------------------------------------------------------------------ generic CSV
def test_csv_fold_numbers(tmp_path):
    root, rows = write_folder_csv(tmp_path, folds=("2", "1", "3"))
    ds = load_dataset("csv", root)
    assert ds.name == "csv" and len(ds) == 12
    assert ds.paths == [os.path.join(root, *r[0].split("/")) for r in rows]
    assert ds.cv.fold_names == ["fold1", "fold2", "fold3"]
    _check_folds(ds, [int(r[2]) for r in rows])
    assert ds.groups.tolist() == [r[0] for r in rows]  # every file its own group


def test_csv_named_folds_groups_and_devices(tmp_path):
    root, rows = write_folder_csv(tmp_path, folds=("north", "south"), extra_columns=True)
    ds = load_csv(root, group_column="group", device_column="device")
    assert ds.cv.fold_names == ["north", "south"]
    _check_folds(ds, [r[2] for r in rows])
    assert ds.groups.tolist() == [r[3] for r in rows]
    assert ds.devices.tolist() == [r[4] for r in rows]


def test_csv_train_test_column(tmp_path):
    root, rows = write_folder_csv(tmp_path, folds=("train", "test"), per_fold=3)
    ds = load_csv(root)
    ((train, test),) = ds.cv.split()
    np.testing.assert_array_equal(test, [i for i, r in enumerate(rows) if r[2] == "test"])
    np.testing.assert_array_equal(train, [i for i, r in enumerate(rows) if r[2] == "train"])
    _rewrite(
        os.path.join(root, "metadata.csv"),
        lambda L: L.__setitem__(2, L[2].replace(",train", ",dev")),
        encoding="utf-8",
    )
    with pytest.raises(
        DatasetError,
        match=r"line 3: the 'fold' column mixes train/test with "
        r"'dev'",
    ):
        load_csv(root)


def test_csv_errors(tmp_path):
    root, rows = write_folder_csv(tmp_path, extra_columns=True)
    with pytest.raises(DatasetError, match=r"line 1: the header lacks the column\(s\) 'split'"):
        load_csv(root, fold_column="split")
    _rewrite(
        os.path.join(root, "metadata.csv"),
        lambda L: L.__setitem__(5, L[5].replace(",bus-2,", ",bus-1,")),
        encoding="utf-8",
    )
    with pytest.raises(
        DatasetError,
        match=r"line 6: group 'bus-1' is in fold 2 but also in "
        r"fold 1 \(line 2\)",
    ):
        load_csv(root, group_column="group")
    _rewrite(
        os.path.join(root, "metadata.csv"),
        lambda L: L.__setitem__(2, L[2].replace(",bus,", ",,")),
        encoding="utf-8",
    )
    with pytest.raises(DatasetError, match=r"line 3: empty 'label'"):
        load_csv(root)
    with pytest.raises(DatasetError, match=r"expected the file .*metadata\.csv"):
        load_csv(tmp_path / "audio")


@pytest.mark.parametrize(
    "folds, match",
    [
        (("train", "train"), r"metadata\.csv: the 'fold' column has only 'train' rows"),
        (("../up", "b"), r"line 2: fold '\.\./up' must be made of letters"),
        (("A", "a"), r"line 6: fold 'a' differs from fold 'A' \(line 2\) only in case"),
    ],
)
def test_csv_fold_values_that_cannot_work(tmp_path, folds, match):
    import shutil

    root, _ = write_folder_csv(tmp_path / "d", folds=("x", "y"))
    table = os.path.join(root, "metadata.csv")
    with open(table) as fh:
        lines = fh.read().splitlines()
    for i in range(1, len(lines)):
        fields = lines[i].split(",")
        fields[2] = folds[(i - 1) // 4]
        lines[i] = ",".join(fields)
    with open(table, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=match):
        load_csv(root)
    shutil.rmtree(root)
