"""Writers of tiny DCASE scene development sets, laid out and spelled as the real ones.

Not a test module: the DCASE loader tests (and the CLI end-to-end tests) import
:func:`write_dcase`. The metadata follows datasets.md section 3 byte for byte:
TAB separators everywhere, ``.txt`` files without and ``.csv`` files with a
header, ``audio/`` paths, 2016/2017 names ``a001_0_30.wav`` and 2018+ names
``airport-barcelona-0-0-a.wav`` (2022: ``airport-lisbon-1000-40000-0-a.wav``).
The audio is a class-dependent tone plus noise, so classes are separable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import soundfile as sf

from skasc.datasets.dcase import DCASE_SETS

CLASSES_2016 = [
    "beach",
    "bus",
    "cafe/restaurant",
    "car",
    "city_center",
    "forest_path",
    "grocery_store",
    "home",
    "library",
    "metro_station",
    "office",
    "park",
    "residential_area",
    "train",
    "tram",
]
CLASSES_2018 = [
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
]
CITIES = [
    "barcelona",
    "helsinki",
    "lisbon",
    "london",
    "lyon",
    "milan",
    "paris",
    "prague",
    "stockholm",
    "vienna",
]
DEVICES = {
    "tut2018": ["a"],
    "tut2018mobile": ["a", "b", "c"],
    "tau2019": ["a"],
    "tau2019mobile": ["a", "b", "c"],
    "tau2020mobile": ["a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"],
    "tau2022mobile": ["a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"],
}
#: Devices that appear only in the test list (2020/2022: S4-S6).
TEST_ONLY_DEVICES = {"tau2020mobile": {"s4", "s5", "s6"}, "tau2022mobile": {"s4", "s5", "s6"}}


def _tone(class_index: int, sr: int, duration: float, rng: np.random.Generator) -> np.ndarray:
    n = max(1, int(round(sr * duration)))
    t = np.arange(n) / sr
    freq = 150.0 + 180.0 * class_index
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(n)
    return np.clip(x, -1.0, 1.0)


def _write_table(path: str, header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        if header is not None:
            f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


def write_dcase(
    root: str | os.PathLike,
    name: str,
    *,
    n_locations_per_class: int | None = None,
    segments_per_location: int = 2,
    sr: int = 8000,
    duration: float = 0.25,
    devices: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    unused_locations_per_class: int = 0,
    pieces_per_segment: int = 2,
    seed: int = 0,
) -> str:
    """Write a tiny ``name`` development set under ``root/<its folder>/``.

    Parameters
    ----------
    root : str or path-like
        Parent folder; created when missing.
    name : str
        A key of ``DCASE_SETS``.
    n_locations_per_class : int or None
        Recording ids (2016/2017) or locations (2018+) per class in the splits;
        None gives 4 for the 4-fold sets (one test fold each) and 3 otherwise
        (the last is the test location).
    segments_per_location : int, default=2
        Segments per recording id / location (and device).
    sr, duration : int, float
        Sample rate and length in seconds of every WAV (PCM_16, mono).
    devices : sequence of str or None
        2018+ only: the devices each segment is recorded with; None gives the
        set's real devices. In 2020/2022, S4-S6 files of training locations
        are listed in no split (they are test-only devices).
    classes : sequence of str or None
        Scene labels; None gives the set's real 15 or 10 classes.
    unused_locations_per_class : int, default=0
        Extra locations per class listed in meta but in no split (2018+), or
        extra recording ids in no fold's test (and no train) list (2016/2017).
    pieces_per_segment : int, default=2
        2022 only: 1-s pieces per 10-s segment (10 in the real set).
    seed : int, default=0

    Returns
    -------
    str
        The set's folder, the path its loader takes.
    """
    spec = DCASE_SETS[name]
    four_fold = spec.n_folds > 1
    if classes is None:
        classes = CLASSES_2016 if four_fold else CLASSES_2018
    if n_locations_per_class is None:
        n_locations_per_class = 4 if four_fold else 3
    rng = np.random.default_rng(seed)
    folder = os.path.join(os.fspath(root), spec.folder)
    os.makedirs(os.path.join(folder, "audio"), exist_ok=True)
    # (relative path, label, group, device, role): role = test fold number (4-fold),
    # "train"/"test" (1 fold) or None (in no list).
    entries: list[tuple[str, str, str, str | None, object]] = []
    n_locations = n_locations_per_class + unused_locations_per_class
    if four_fold:
        seg = 30 if name == "tut2016" else 10
        counter = 0
        for label in classes:
            for j in range(n_locations):
                counter += 1
                rec = f"{'ab'[j % 2]}{counter:03d}"
                role = (j % spec.n_folds) + 1 if j < n_locations_per_class else None
                for s in range(segments_per_location):
                    entries.append(
                        (f"audio/{rec}_{s * seg}_{(s + 1) * seg}.wav", label, rec, None, role)
                    )
    else:
        devs = list(DEVICES[name] if devices is None else devices)
        test_only = TEST_ONLY_DEVICES.get(name, set())
        base_id = 1000 if name in ("tau2020mobile", "tau2022mobile") else 0
        loc = base_id
        segment = 40000 if base_id else 0
        for ci, label in enumerate(classes):
            for j in range(n_locations):
                city = CITIES[(ci + j) % len(CITIES)]
                identifier = f"{city}-{loc}"
                if j >= n_locations_per_class:
                    role = None
                elif j == n_locations_per_class - 1:
                    role = "test"
                else:
                    role = "train"
                for _ in range(segments_per_location):
                    for dev in devs:
                        dev_role = None if (role == "train" and dev in test_only) else role
                        if name == "tau2022mobile":
                            for piece in range(pieces_per_segment):
                                entries.append(
                                    (
                                        f"audio/{label}-{city}-{loc}-{segment}-{piece}-{dev}.wav",
                                        label,
                                        identifier,
                                        dev,
                                        dev_role,
                                    )
                                )
                        else:
                            entries.append(
                                (
                                    f"audio/{label}-{city}-{loc}-{segment}-{dev}.wav",
                                    label,
                                    identifier,
                                    dev,
                                    dev_role,
                                )
                            )
                    segment += 1
                loc += 1
    class_index = {c: i for i, c in enumerate(classes)}
    for rel, label, _, _, _ in entries:
        sf.write(
            os.path.join(folder, *rel.split("/")),
            _tone(class_index[label], sr, duration, rng),
            sr,
            subtype="PCM_16",
        )
    setup = os.path.join(folder, "evaluation_setup")
    if four_fold:
        meta_rows = [
            (rel, label, group) if name == "tut2017" else (rel, label)
            for rel, label, group, _, _ in entries
        ]
        _write_table(os.path.join(folder, "meta.txt"), None, meta_rows)
        _write_table(
            os.path.join(folder, "error.txt"),
            None,
            [(entries[0][0], "1.991448", "2.446579", "error")],
        )
        for k in range(1, spec.n_folds + 1):
            train = [
                (rel, label) for rel, label, _, _, role in entries if role is not None and role != k
            ]
            test = [(rel, label) for rel, label, _, _, role in entries if role == k]
            _write_table(os.path.join(setup, f"fold{k}_train.txt"), None, train)
            _write_table(os.path.join(setup, f"fold{k}_test.txt"), None, [(r,) for r, _ in test])
            _write_table(os.path.join(setup, f"fold{k}_evaluate.txt"), None, test)
    else:
        _write_table(
            os.path.join(folder, "meta.csv"),
            ["filename", "scene_label", "identifier", "source_label"],
            [(rel, label, group, dev) for rel, label, group, dev, _ in entries],
        )
        header = spec.split_header
        train = [(rel, label) for rel, label, _, _, role in entries if role == "train"]
        test = [(rel, label) for rel, label, _, _, role in entries if role == "test"]
        ext = spec.split_ext
        _write_table(
            os.path.join(setup, f"fold1_train{ext}"),
            ["filename", "scene_label"] if header else None,
            train,
        )
        _write_table(
            os.path.join(setup, f"fold1_test{ext}"),
            ["filename"] if header else None,
            [(r,) for r, _ in test],
        )
        _write_table(
            os.path.join(setup, f"fold1_evaluate{ext}"),
            ["filename", "scene_label"] if header else None,
            test,
        )
    return folder
