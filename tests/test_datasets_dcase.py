"""The DCASE scene development set loaders, on fixtures spelled like the real metadata."""

import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import cross_val_score

from layouts_dcase import CLASSES_2016, CLASSES_2018, DEVICES, TEST_ONLY_DEVICES, write_dcase
from skasc.datasets import DATASETS, DCASE_SETS, DatasetError, OfficialSplits, load_dataset
from skasc.datasets.dcase import load_dcase

NAMES = list(DCASE_SETS)
FOUR_FOLD = ["tut2016", "tut2017"]


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Every set written once with default sizes, each in its own parent."""
    return {name: write_dcase(tmp_path_factory.mktemp(name), name) for name in NAMES}


def expected_sizes(name, L=None, S=2, P=2, U=0):
    """(n_recordings, [(n_train, n_test)] per fold) computed from the writer's parameters."""
    if name in FOUR_FOLD:
        L = 4 if L is None else L
        C = len(CLASSES_2016)
        per_fold = [C * len([j for j in range(L) if j % 4 == k]) * S for k in range(4)]
        return C * (L + U) * S, [(C * L * S - t, t) for t in per_fold]
    L = 3 if L is None else L
    C = len(CLASSES_2018)
    D = len(DEVICES[name])
    Dtrain = D - len(TEST_ONLY_DEVICES.get(name, ()))
    P = P if name == "tau2022mobile" else 1
    return C * (L + U) * S * D * P, [(C * (L - 1) * S * Dtrain * P, C * S * D * P)]


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(line + "\n" for line in lines))


# ----------------------------------------------------------------------------
# reading the well-formed sets
# ----------------------------------------------------------------------------


def test_registry_has_the_eight_sets():
    assert set(NAMES) == {
        "tut2016",
        "tut2017",
        "tut2018",
        "tut2018mobile",
        "tau2019",
        "tau2019mobile",
        "tau2020mobile",
        "tau2022mobile",
    }
    assert set(NAMES) <= set(DATASETS)


@pytest.mark.parametrize("name", NAMES)
def test_counts_labels_and_folds(sets, name):
    data = load_dataset(name, sets[name])
    n, folds = expected_sizes(name)
    assert data.name == name and len(data) == n
    assert data.root == sets[name]
    assert isinstance(data.cv, OfficialSplits)
    assert data.cv.get_n_splits() == (4 if name in FOUR_FOLD else 1)
    assert data.cv.fold_names == [f"fold{k}" for k in range(1, len(folds) + 1)]
    sizes = [(len(tr), len(te)) for tr, te in data.cv.split()]
    assert sizes == folds
    expected_classes = sorted(CLASSES_2016 if name in FOUR_FOLD else CLASSES_2018)
    assert data.class_names == expected_classes
    if name in FOUR_FOLD:
        assert "cafe/restaurant" in data.labels.tolist()
    # paths are root joined with the listed path, in meta order, and exist
    meta = os.path.join(sets[name], DCASE_SETS[name].meta)
    lines = read_lines(meta)[(0 if name in FOUR_FOLD else 1) :]
    listed = [line.split("\t")[0] for line in lines]
    assert data.paths == [os.path.join(sets[name], *p.split("/")) for p in listed]
    assert all(os.path.isfile(p) for p in data.paths)
    # labels from meta, independently parsed
    assert data.labels.tolist() == [line.split("\t")[1] for line in lines]


@pytest.mark.parametrize("name", NAMES)
def test_folds_match_the_split_files(sets, name):
    data = load_dcase(name, sets[name])
    rel = [os.path.relpath(p, sets[name]).replace(os.sep, "/") for p in data.paths]
    spec = DCASE_SETS[name]
    skip = 1 if spec.split_header else 0
    for k, (train, test) in enumerate(data.cv.split(), start=1):
        tr = read_lines(os.path.join(sets[name], spec.split_file(k, "train")))[skip:]
        ev = read_lines(os.path.join(sets[name], spec.split_file(k, "evaluate")))[skip:]
        assert sorted(rel[i] for i in train) == sorted(line.split("\t")[0] for line in tr)
        assert sorted(rel[i] for i in test) == sorted(line.split("\t")[0] for line in ev)
        assert not set(train) & set(test)


@pytest.mark.parametrize("name", NAMES)
def test_groups_devices_and_no_leakage(sets, name):
    data = load_dcase(name, sets[name])
    names = [os.path.basename(p) for p in data.paths]
    if name in FOUR_FOLD:
        assert data.devices is None
        assert data.groups.tolist() == [n.split("_")[0] for n in names]
        assert re.fullmatch(r"[ab]\d{3}_0_(30|10)\.wav", names[0])
    else:
        assert data.devices.tolist() == [n[:-4].split("-")[-1] for n in names]
        assert set(data.devices.tolist()) == set(DEVICES[name])
        # the identifier is city-location: the 2nd and 3rd dash fields, also for 2022
        assert data.groups.tolist() == ["-".join(n.split("-")[1:3]) for n in names]
        if name == "tau2022mobile":
            assert re.fullmatch(r"airport-\w+-1000-40000-0-a\.wav", names[0])
            assert data.groups[0].endswith("-1000")
        train = data.cv.splits[0][0]
        only_test = TEST_ONLY_DEVICES.get(name, set())
        assert not set(data.devices[train].tolist()) & only_test
    for train, test in data.cv.split():
        assert not set(data.groups[train].tolist()) & set(data.groups[test].tolist())
    # every recording in exactly one test fold for the 4-fold sets
    if name in FOUR_FOLD:
        tests = np.concatenate([te for _, te in data.cv.split()])
        assert sorted(tests.tolist()) == list(range(len(data)))


@pytest.mark.parametrize("name", NAMES)
def test_parent_folder_root(sets, name):
    parent = os.path.dirname(sets[name])
    assert load_dcase(name, parent).root == sets[name]


def test_parent_holding_several_sets_picks_the_official_folder(tmp_path):
    a = write_dcase(tmp_path, "tut2016", classes=["bus", "park"])
    b = write_dcase(tmp_path, "tut2017", classes=["bus", "park"])
    assert load_dcase("tut2016", tmp_path).root == a
    assert load_dcase("tut2017", tmp_path).root == b


def test_unknown_root_and_name(tmp_path):
    with pytest.raises(DatasetError, match="fold1_train.csv"):
        load_dcase("tau2019", tmp_path)
    with pytest.raises(DatasetError, match="Unknown DCASE set"):
        load_dcase("tau2030", tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_cross_val_score_with_official_cv(sets, name):
    data = load_dcase(name, sets[name])
    X = np.zeros((len(data), 1))
    scores = cross_val_score(DummyClassifier(), X, data.labels, cv=data.cv)
    assert scores.shape == (data.cv.get_n_splits(),)
    assert np.all(np.isfinite(scores))


def test_fixture_audio_is_real_pcm16(sets):
    data = load_dcase("tau2020mobile", sets["tau2020mobile"])
    info = sf.info(data.paths[0])
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (8000, 1, "PCM_16", 2000)
    # class-dependent tone: the dominant frequency differs between two classes
    peaks = []
    for label in ("airport", "tram"):
        x, sr = sf.read(data.paths[data.labels.tolist().index(label)])
        peaks.append(np.argmax(np.abs(np.fft.rfft(x))) * sr / len(x))
    assert abs(peaks[0] - peaks[1]) > 500


def test_tab_separated_csv_with_header_read_by_column_name(tmp_path):
    root = write_dcase(tmp_path, "tau2019", classes=["bus", "park"])
    meta = os.path.join(root, "meta.csv")
    lines = read_lines(meta)
    assert lines[0] == "filename\tscene_label\tidentifier\tsource_label"
    # reorder the columns: read by name, the header row is no recording
    rows = [line.split("\t") for line in lines]
    write_lines(meta, ["\t".join([r[3], r[2], r[0], r[1]]) for r in rows])
    data = load_dcase("tau2019", root)
    assert len(data) == len(lines) - 1
    assert data.labels.tolist() == [r[1] for r in rows[1:]]
    assert data.groups.tolist() == [r[2] for r in rows[1:]]
    # a comma-separated meta.csv is refused at its header
    write_lines(meta, [",".join(r) for r in rows])
    with pytest.raises(DatasetError, match=re.escape(meta) + ", line 1: .*tab-separated"):
        load_dcase("tau2019", root)


def test_recording_in_no_split_is_allowed(tmp_path):
    root = write_dcase(
        tmp_path, "tau2020mobile", classes=["bus", "park"], unused_locations_per_class=1
    )
    data = load_dcase("tau2020mobile", root)
    n, folds = expected_sizes("tau2020mobile", U=1)
    n = n // 5  # 2 of the 10 classes
    assert len(data) == n
    train, test = next(data.cv.split())
    unused = sorted(set(range(n)) - set(train) - set(test))
    assert len(unused) == n - len(train) - len(test) > 0
    # the S4-S6 files of training locations and the whole extra locations are unused
    assert len(train) == 2 * 2 * 2 * 6 and len(test) == 2 * 2 * 9


def test_missing_test_file_is_allowed_but_evaluate_is_required(tmp_path):
    root = write_dcase(tmp_path, "tau2019", classes=["bus", "park"])
    os.remove(os.path.join(root, "evaluation_setup", "fold1_test.csv"))
    assert load_dcase("tau2019", root).cv.get_n_splits() == 1
    os.remove(os.path.join(root, "evaluation_setup", "fold1_evaluate.csv"))
    with pytest.raises(DatasetError, match="fold1_evaluate.csv"):
        load_dcase("tau2019", root)


def test_missing_audio_file(tmp_path):
    root = write_dcase(tmp_path, "tau2020mobile", classes=["airport", "park"])
    paths = load_dcase("tau2020mobile", root).paths
    # the first is in the (unused) part of a training location: still checked
    gone = os.path.join(root, "audio", "airport-helsinki-1001-40002-s4.wav")
    assert gone in paths
    os.remove(gone)
    os.remove(paths[-1])
    with pytest.raises(DatasetError, match=r"^2 recording\(s\) .*meta\.csv.*" + re.escape(gone)):
        load_dcase("tau2020mobile", root)
    assert len(load_dcase("tau2020mobile", root, check_files=False)) == 2 * 3 * 2 * 9


def test_whole_audio_folder_missing(tmp_path):
    root = write_dcase(tmp_path, "tut2017", classes=["bus"])
    shutil.rmtree(os.path.join(root, "audio"))
    with pytest.raises(DatasetError, match=r"^8 recording\(s\)"):
        load_dcase("tut2017", root)
    assert len(load_dcase("tut2017", root, check_files=False)) == 8


# ----------------------------------------------------------------------------
# malformed metadata: each error names the file and the line
# ----------------------------------------------------------------------------


def _edit(path, fn):
    write_lines(path, fn(read_lines(path)))


def _swap_label(line, label):
    fields = line.split("\t")
    return "\t".join([fields[0], label] + fields[2:])


CASES = {
    # a split file lists a file not in meta
    "unknown file": (
        "tau2019",
        "evaluation_setup/fold1_train.csv",
        3,
        lambda L: L[:2] + ["audio/bus-nowhere-9-9-a.wav\tbus"] + L[2:],
        "not listed in",
    ),
    "unknown file txt": (
        "tut2016",
        "evaluation_setup/fold2_evaluate.txt",
        1,
        lambda L: ["audio/z999_0_30.wav\tbus"] + L,
        "not listed in",
    ),
    # train and test share a file
    "train and test": (
        "tut2018",
        "evaluation_setup/fold1_evaluate.txt",
        None,
        None,
        "also in the training list",
    ),
    # a location on both sides of a fold
    "group both sides": (
        "tau2022mobile",
        "evaluation_setup/fold1_evaluate.csv",
        None,
        None,
        "shares the recording/location",
    ),
    # a split label disagreeing with meta
    "label": (
        "tau2019mobile",
        "evaluation_setup/fold1_train.csv",
        3,
        lambda L: L[:2] + [_swap_label(L[2], "tram")] + L[3:],
        "disagrees with meta.csv",
    ),
    "label txt": (
        "tut2017",
        "evaluation_setup/fold3_train.txt",
        2,
        lambda L: L[:1] + [_swap_label(L[1], "beach")] + L[2:],
        "disagrees",
    ),
    # wrong field counts
    "fields meta.txt": (
        "tut2016",
        "meta.txt",
        3,
        lambda L: L[:2] + [L[2].split("\t")[0]] + L[3:],
        "expected 2 or 3",
    ),
    "fields meta.csv": (
        "tau2020mobile",
        "meta.csv",
        4,
        lambda L: L[:3] + [L[3] + "\textra"] + L[4:],
        "expected 4",
    ),
    "fields split txt": (
        "tut2018mobile",
        "evaluation_setup/fold1_train.txt",
        1,
        lambda L: [L[0].split("\t")[0]] + L[1:],
        "expected 2 tab-separated",
    ),
    "fields test csv": (
        "tau2019",
        "evaluation_setup/fold1_test.csv",
        2,
        lambda L: L[:1] + [L[1] + "\tbus"] + L[2:],
        "expected 1",
    ),
    # duplicates
    "duplicate meta": ("tau2019", "meta.csv", 3, lambda L: L[:2] + [L[1]] + L[2:], "twice"),
    "duplicate split": (
        "tut2017",
        "evaluation_setup/fold1_train.txt",
        2,
        lambda L: L[:1] + [L[0]] + L[1:],
        "twice",
    ),
    # test and evaluate differ: the file listed in one names its line there
    "evaluate lacks": (
        "tau2020mobile",
        "evaluation_setup/fold1_evaluate.csv",
        2,
        lambda L: L[:1] + L[2:],
        "must list the same files",
    ),
    "test lacks": (
        "tut2016",
        "evaluation_setup/fold4_test.txt",
        1,
        lambda L: L[1:],
        "must list the same files",
    ),
    # 2017's third meta column must be the recording id
    "2017 id column": (
        "tut2017",
        "meta.txt",
        1,
        lambda L: [L[0].rsplit("\t", 1)[0] + "\tb999"] + L[1:],
        "recording id",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_metadata_names_file_and_line(tmp_path, case):
    name, rel, line, edit, message = CASES[case]
    root = write_dcase(tmp_path, name, classes=["bus", "park"])
    path = os.path.join(root, *rel.split("/"))
    if case == "train and test":
        # the first training file is also written in the scored (and blind) test list
        train_first = read_lines(os.path.join(root, "evaluation_setup", "fold1_train.txt"))[0]
        _edit(path, lambda L: L + [train_first])
        _edit(
            os.path.join(root, "evaluation_setup", "fold1_test.txt"),
            lambda L: L + [train_first.split("\t")[0]],
        )
        line = len(read_lines(path))
    elif case == "group both sides":
        # a training location's S4 file (in no list) moves into the test list
        meta = read_lines(os.path.join(root, "meta.csv"))
        train = {
            x.split("\t")[0]
            for x in read_lines(os.path.join(root, "evaluation_setup", "fold1_train.csv"))
        }
        train_ids = {x.split("\t")[2] for x in meta[1:] if x.split("\t")[0] in train}
        s4 = next(
            x.split("\t")
            for x in meta[1:]
            if x.split("\t")[2] in train_ids and x.split("\t")[3] == "s4"
        )
        _edit(path, lambda L: L + [f"{s4[0]}\t{s4[1]}"])
        _edit(os.path.join(root, "evaluation_setup", "fold1_test.csv"), lambda L: L + [s4[0]])
        line = len(read_lines(path))
    else:
        _edit(path, edit)
    if case == "evaluate lacks":  # the blind list's line of the file evaluate lacks
        path = os.path.join(root, "evaluation_setup", "fold1_test.csv")
    if case == "test lacks":
        path = os.path.join(root, "evaluation_setup", "fold4_evaluate.txt")
    with pytest.raises(DatasetError, match=re.escape(f"{path}, line {line}: ") + ".*" + message):
        load_dataset(name, root)
