"""Tests for skasc.datasets.litis: LITIS Rouen loader, splitter and writer."""

import os
import pickle
import re

import numpy as np
import pytest
import soundfile as sf
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate

from skasc.datasets import DatasetError, LitisSplits, load_litis_rouen, write_litis_layout
from skasc.datasets.litis import LitisRouen, class_from_filename

SR = 8000
LABELS = ["avion", "avion", "metro-paris", "metro-paris", "train-tgv", "train-tgv"]
SPLITS = [([0, 2, 4], [1, 3, 5]), ([1, 3, 5], [0, 2, 4]), ([0, 1, 2, 3], [4, 5])]


@pytest.fixture
def waves(rng):
    return (0.5 * rng.uniform(-1, 1, size=(len(LABELS), SR // 2))).astype(np.float32)


@pytest.fixture
def root(tmp_path, waves):
    return write_litis_layout(tmp_path / "litis", waves, LABELS, sr=SR, splits=SPLITS)


def _write(folder, relation, learn, test, wavs=()):
    """Hand-written LITIS files (bytes written verbatim, so CRLF survives)."""
    os.makedirs(folder / "data_rouen", exist_ok=True)
    for name in wavs:
        sf.write(folder / "data_rouen" / name, np.zeros(80, dtype=np.float32), SR)
    for fname, text in (
        ("relation_wav_examples.txt", relation),
        ("fold3026-matrices_Learn.txt", learn),
        ("fold3026-matrices_Test.txt", test),
    ):
        if text is not None:
            (folder / fname).write_bytes(text.encode("utf-8"))
    return folder


GOOD_RELATION = "avion1.wav 1\nbus2.wav 2\nbus1.wav 3\navion2.wav 4\n"
GOOD_WAVS = ("avion1.wav", "avion2.wav", "bus1.wav", "bus2.wav")


# ---------------------------------------------------------------------------
# class names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("metro-paris12.wav", "metro-paris"),
        ("train-tgv3", "train-tgv"),
        ("avion1.wav", "avion"),
        ("busystreet107.WAV", "busystreet"),
        ("data_rouen/kid-game4.wav", "kid-game"),
        ("tubestation-1", "tubestation"),
        ("bus__1.wav", "bus"),
    ],
)
def test_class_from_filename(name, expected):
    assert class_from_filename(name) == expected


@pytest.mark.parametrize("name", ["avion.wav", "12.wav", "bus"])
def test_class_from_filename_rejects_names_without_class_and_number(name):
    with pytest.raises(DatasetError, match="Cannot read a class from the file name"):
        class_from_filename(name)


# ---------------------------------------------------------------------------
# writer -> loader -> splitter round trip
# ---------------------------------------------------------------------------


def test_round_trip_loader(root, waves):
    data = load_litis_rouen(root)
    assert isinstance(data, LitisRouen)
    paths, labels, class_names = data  # 3-tuple unpacking
    assert [os.path.basename(p) for p in paths] == [
        "avion1.wav",
        "avion2.wav",
        "metro-paris1.wav",
        "metro-paris2.wav",
        "train-tgv1.wav",
        "train-tgv2.wav",
    ]
    assert all(os.path.isabs(p) for p in paths)
    np.testing.assert_array_equal(labels, LABELS)
    assert class_names == ["avion", "metro-paris", "train-tgv"]
    np.testing.assert_array_equal(data.ids, np.arange(1, 7))
    for path, x in zip(paths, waves):
        y, sr = sf.read(path, dtype="float32")
        assert sr == SR and sf.info(path).subtype == "PCM_16"
        np.testing.assert_allclose(y, x, atol=1.0 / 32768 + 1e-7)


def test_round_trip_splits(root):
    cv = LitisSplits(root)
    assert cv.get_n_splits() == 3
    got = list(cv.split())
    assert len(got) == 3
    for (train, test), (exp_train, exp_test) in zip(got, SPLITS):
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        np.testing.assert_array_equal(train, exp_train)
        np.testing.assert_array_equal(test, exp_test)


def test_written_split_files_use_matlab_float_format(root):
    line = re.compile(r"^(\s+\d\.\d{7}e[+-]\d{2})+$")
    for fname in ("fold3026-matrices_Learn.txt", "fold3026-matrices_Test.txt"):
        lines = open(os.path.join(root, fname)).read().splitlines()
        assert len(lines) == len(SPLITS)
        assert all(line.match(text) for text in lines)
    learn = open(os.path.join(root, "fold3026-matrices_Learn.txt")).readline().split()
    assert learn == ["1.0000000e+00", "3.0000000e+00", "5.0000000e+00"]


def test_parsing_tolerates_floats_tabs_blank_lines_and_crlf(tmp_path):
    # names without .wav, tabs, extra spaces, blank lines, trailing blanks, CRLF
    relation = "avion1\t1\r\n\r\n  bus2   2  \r\nbus1.wav\t\t3\r\navion2 4\t\r\n\r\n"
    learn = "\t1.0000000e+00\t   2.0000000e+00  \r\n\r\n3.0000000e+00 4\r\n"
    test = "3.0000000E+00   4.0000000e+00\r\n\r\n   1.0000000e+00\t2\r\n\r\n"
    root = _write(tmp_path, relation, learn, test, GOOD_WAVS)
    paths, labels, class_names = load_litis_rouen(root)
    assert [os.path.basename(p) for p in paths] == [
        "avion1.wav",
        "bus2.wav",
        "bus1.wav",
        "avion2.wav",
    ]
    np.testing.assert_array_equal(labels, ["avion", "bus", "bus", "avion"])
    assert class_names == ["avion", "bus"]
    got = [(a.tolist(), b.tolist()) for a, b in LitisSplits(root).split()]
    assert got == [([0, 1], [2, 3]), ([2, 3], [0, 1])]


def test_paths_follow_id_order_not_file_order(tmp_path):
    relation = "bus1.wav 30\navion1.wav 10\navion2.wav 20\nbus2.wav 40\n"
    root = _write(tmp_path, relation, "10 40\n", "20 30\n", GOOD_WAVS)
    data = load_litis_rouen(root)
    assert [os.path.basename(p) for p in data.paths] == [
        "avion1.wav",
        "avion2.wav",
        "bus1.wav",
        "bus2.wav",
    ]
    np.testing.assert_array_equal(data.ids, [10, 20, 30, 40])
    ((train, test),) = LitisSplits(root).split()
    np.testing.assert_array_equal(train, [0, 3])
    np.testing.assert_array_equal(test, [1, 2])


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relation, learn, test, match",
    [
        (GOOD_RELATION, "1 2\n", "3 9\n", r"Test\.txt, line 1: the id 9 maps to no recording"),
        (
            GOOD_RELATION,
            "1 2\n1 3\n",
            "3 4\n2 3\n",
            r"Split 2 .*both the training and the test set, e\.g\. id 3",
        ),
        (
            GOOD_RELATION,
            "1 2\n3 4\n",
            "3 4\n",
            r"Learn\.txt holds 2 splits but .*Test\.txt holds 1",
        ),
        (GOOD_RELATION, "1 two\n", "3 4\n", r"Learn\.txt, line 1: the id 'two' is not a number"),
        (GOOD_RELATION, "1 2_0\n", "3 4\n", r"Learn\.txt, line 1: the id '2_0' is not a number"),
        (GOOD_RELATION, "1 2\n", "3 inf\n", r"Test\.txt, line 1: the id 'inf' is not an integer"),
        (GOOD_RELATION, "1 2\n", "\n3 1.5\n", r"Test\.txt, line 2: the id '1.5' is not an integer"),
        (GOOD_RELATION, "1 2 1\n", "3 4\n", r"Learn\.txt, line 1: the id 1 is listed twice"),
        (GOOD_RELATION, "\n\n", "3 4\n", r"Learn\.txt contains no splits"),
        (
            "avion1.wav 1\nbus1.wav\n",
            "1\n",
            "2\n",
            r"relation_wav_examples\.txt, line 2: expected two columns .* got 1",
        ),
        (
            "avion1.wav 1 extra\n",
            "1\n",
            "1\n",
            r"relation_wav_examples\.txt, line 1: expected two columns .* got 3",
        ),
        (
            "avion1.wav 1\nbus1.wav 1\n",
            "1\n",
            "1\n",
            r"relation_wav_examples\.txt, line 2: duplicate id 1 \(first on line 1\)",
        ),
        (
            "avion1.wav 1\navion1 2\n",
            "1\n",
            "2\n",
            r"relation_wav_examples\.txt, line 2: duplicate file name 'avion1\.wav'",
        ),
        (
            "avion1.wav 1\nbus1.wav 2.5\n",
            "1\n",
            "2\n",
            r"relation_wav_examples\.txt, line 2: the id '2\.5' is not an integer",
        ),
        (
            "avion1.wav 1\nbus.wav 2\n",
            "1\n",
            "2\n",
            r"Cannot read a class from the file name 'bus\.wav'",
        ),
        ("\n", "1\n", "2\n", r"relation_wav_examples\.txt lists no recordings"),
    ],
)
def test_malformed_files_raise(tmp_path, relation, learn, test, match):
    root = _write(tmp_path, relation, learn, test, GOOD_WAVS)
    with pytest.raises(DatasetError, match=match):
        list(LitisSplits(root).split())
    if "relation" in match or "class" in match:  # the loader reads the same file
        with pytest.raises(DatasetError, match=match):
            load_litis_rouen(root)


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


def test_missing_root(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"LITIS Rouen folder .*nowhere.* does not exist"):
        load_litis_rouen(missing)
    with pytest.raises(DatasetError, match=r"LITIS Rouen folder .*nowhere.* does not exist"):
        LitisSplits(missing).get_n_splits()


@pytest.mark.parametrize(
    "fname",
    ["relation_wav_examples.txt", "fold3026-matrices_Learn.txt", "fold3026-matrices_Test.txt"],
)
def test_missing_files(root, fname):
    os.remove(os.path.join(root, fname))
    with pytest.raises(DatasetError, match=re.escape(fname) + "' does not exist"):
        LitisSplits(root).get_n_splits()


def test_missing_recording_on_disk(root):
    os.remove(os.path.join(root, "data_rouen", "metro-paris2.wav"))
    with pytest.raises(
        DatasetError,
        match=r"1 recording\(s\) .* do not exist, e\.g\. "
        r"'.*metro-paris2\.wav'",
    ):
        load_litis_rouen(root)
    data = load_litis_rouen(root, check_files=False)  # no check: listed anyway
    assert len(data.paths) == 6


def test_missing_audio_folder(tmp_path):
    root = _write(tmp_path, GOOD_RELATION, "1\n", "2\n")
    os.rmdir(tmp_path / "data_rouen")
    with pytest.raises(DatasetError, match=r"audio folder .*data_rouen' does not exist"):
        load_litis_rouen(root)
    assert len(load_litis_rouen(root, check_files=False).paths) == 4


# ---------------------------------------------------------------------------
# the splitter as a scikit-learn CV object
# ---------------------------------------------------------------------------


def test_n_splits_keeps_the_first_splits(root):
    cv = LitisSplits(root, n_splits=2)
    assert cv.get_n_splits() == 2
    got = [(a.tolist(), b.tolist()) for a, b in cv.split()]
    assert got == [tuple(map(list, s)) for s in SPLITS[:2]]


@pytest.mark.parametrize(
    "n_splits, err, match",
    [
        (0, ValueError, r"must be an int in the range \[1, inf\) or None\. Got 0 instead"),
        (4, ValueError, r"must be an int in the range \[1, 3\] or None\. Got 4 instead"),
        (1.0, TypeError, r"must be an int .* Got 1\.0 instead"),
    ],
)
def test_n_splits_validation(root, n_splits, err, match):
    with pytest.raises(err, match="The 'n_splits' parameter of LitisSplits " + match):
        LitisSplits(root, n_splits=n_splits).get_n_splits()


def test_split_checks_the_number_of_recordings(root):
    with pytest.raises(DatasetError, match=r"X has 5 recordings but .* lists 6"):
        next(LitisSplits(root).split(np.zeros((5, 2))))
    with pytest.raises(DatasetError, match=r"y has 7 recordings but .* lists 6"):
        next(LitisSplits(root).split(np.zeros((6, 2)), np.zeros(7)))


def test_pickle_and_repr(root):
    cv = LitisSplits(root, n_splits=2)
    clone = pickle.loads(pickle.dumps(cv))
    assert clone.root == cv.root and clone.n_splits == 2
    assert [t.tolist() for _, t in clone.split()] == [t.tolist() for _, t in cv.split()]
    assert " ".join(repr(cv).split()) == f"LitisSplits(n_splits=2, root={str(root)!r})"


def test_cross_val_score_uses_every_official_split(root, rng):
    data = load_litis_rouen(root)
    X = rng.normal(size=(len(data.paths), 3))
    cv = LitisSplits(root)
    scores = cross_val_score(LogisticRegression(), X, data.labels, cv=cv)
    assert scores.shape == (cv.get_n_splits(),) == (3,)
    res = cross_validate(DummyClassifier(), X, data.labels, cv=cv, return_indices=True)
    for test, (_, expected) in zip(res["indices"]["test"], SPLITS):
        np.testing.assert_array_equal(test, expected)


def test_grid_search_accepts_the_splitter(root):
    data = load_litis_rouen(root)
    # feature = class index, so the best C is learnable; the point is that cv works
    X = np.searchsorted(data.class_names, data.labels)[:, None].astype(float)
    search = GridSearchCV(
        LogisticRegression(), {"C": [0.01, 100.0]}, cv=LitisSplits(root, n_splits=2)
    ).fit(X, data.labels)
    assert search.n_splits_ == 2
    assert search.cv_results_["split1_test_score"].shape == (2,)


# ---------------------------------------------------------------------------
# writer errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(labels=LABELS[:5]), r"Got 6 recordings but 5 labels"),
        (dict(labels=["bus2"] * 6), r"The label 'bus2' cannot be a LITIS Rouen class name"),
        (dict(labels=["a b"] * 6), r"The label 'a b' cannot be"),
        (dict(labels=["bus-"] * 6), r"The label 'bus-' cannot be"),
        (dict(splits=[([0, 1], [1, 2])]), r"Split 1 puts position 1 in both"),
        (
            dict(splits=[([0, 1], [2]), ([0, 6], [1])]),
            r"The training set of split 2 holds positions outside \[0, 5\], e\.g\. 6",
        ),
        (dict(splits=[([0, 0], [1])]), r"The training set of split 1 lists a position twice"),
        (dict(splits=[([0.0], [1])]), r"must hold integer positions"),
        (dict(splits=[([0], [])]), r"The test set of split 1 must be a non-empty"),
        (dict(splits=[]), r"Got no splits to write"),
        (dict(splits=[[0, 1, 2]]), r"Split 1 must be a \(train, test\) pair"),
    ],
)
def test_writer_rejects_bad_input(tmp_path, waves, change, match):
    kwargs = dict(labels=LABELS, splits=SPLITS) | change
    with pytest.raises(DatasetError, match=match):
        write_litis_layout(
            tmp_path / "out", waves, kwargs["labels"], sr=SR, splits=kwargs["splits"]
        )


def test_writer_rejects_bad_samples(tmp_path, waves):
    bad = waves.copy()
    bad[3, 10] = np.nan
    with pytest.raises(DatasetError, match=r"Recording 3 contains NaN or inf samples"):
        write_litis_layout(tmp_path / "a", bad, LABELS, sr=SR, splits=SPLITS)
    bad = waves.copy()
    bad[2, 0] = 1.5
    with pytest.raises(DatasetError, match=r"Recording 2 has samples outside \[-1, 1\]"):
        write_litis_layout(tmp_path / "b", bad, LABELS, sr=SR, splits=SPLITS)
    with pytest.raises(ValueError, match=r"The 'sr' parameter of write_litis_layout"):
        write_litis_layout(tmp_path / "c", waves, LABELS, sr=0, splits=SPLITS)


def test_writer_refuses_a_non_empty_folder_unless_told(root, waves):
    with pytest.raises(DatasetError, match=r"already holds files; pass overwrite=True"):
        write_litis_layout(root, waves, LABELS, sr=SR, splits=SPLITS)
    write_litis_layout(root, -waves, LABELS, sr=SR, splits=SPLITS[:1], overwrite=True)
    assert LitisSplits(root).get_n_splits() == 1
    y, _ = sf.read(load_litis_rouen(root).paths[0], dtype="float32")
    np.testing.assert_allclose(y, -waves[0], atol=1.0 / 32768 + 1e-7)


def test_writer_accepts_ragged_recordings(tmp_path, rng):
    ragged = [rng.uniform(-0.5, 0.5, n).astype(np.float32) for n in (100, 200)]
    root = write_litis_layout(tmp_path, ragged, ["bus", "park"], sr=SR, splits=[([0], [1])])
    paths = load_litis_rouen(root).paths
    assert [sf.info(p).frames for p in paths] == [100, 200]
