"""Tiny ESC-50, UrbanSound8K and generic-CSV folders, spelled as ../shared/datasets.md
specifies them (sections 1 and 2): folder names, the byte-order mark of esc50.csv,
comma-separated headers in the real column order, file names that encode fold,
source and class, one folder per fold in UrbanSound8K."""

import os

import numpy as np
import soundfile as sf

ESC50_CATEGORIES = [
    "dog",
    "rooster",
    "pig",
    "cow",
    "frog",
    "cat",
    "hen",
    "insects",
    "sheep",
    "crow",
    "rain",
    "sea_waves",
    "crackling_fire",
    "crickets",
    "chirping_birds",
    "water_drops",
    "wind",
    "pouring_water",
    "toilet_flush",
    "thunderstorm",
    "crying_baby",
    "sneezing",
    "clapping",
    "breathing",
    "coughing",
    "footsteps",
    "laughing",
    "brushing_teeth",
    "snoring",
    "drinking_sipping",
    "door_wood_knock",
    "mouse_click",
    "keyboard_typing",
    "door_wood_creaks",
    "can_opening",
    "washing_machine",
    "vacuum_cleaner",
    "clock_alarm",
    "clock_tick",
    "glass_breaking",
    "helicopter",
    "chainsaw",
    "siren",
    "car_horn",
    "engine",
    "train",
    "church_bells",
    "airplane",
    "fireworks",
    "hand_saw",
]
ESC10_TARGETS = (0, 1, 10, 11, 12, 20, 21, 38, 40, 41)
US8K_CLASSES = [
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
]


def _wav(path, rng, sr, duration, channels=1):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n = int(round(sr * duration))
    x = 0.1 * rng.standard_normal((n, channels) if channels > 1 else n)
    sf.write(path, x, sr, subtype="PCM_16")


def write_esc50(root, *, targets=(0, 1, 14), takes=2, sr=8000, duration=0.25, bom=True, seed=0):
    """``root/ESC-50-master/`` with, per target and fold, one Freesound source cut
    into ``takes`` clips (A, B, ...). Returns the folder and the rows written."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(os.fspath(root), "ESC-50-master")
    os.makedirs(os.path.join(folder, "meta"), exist_ok=True)
    rows = []
    source = 100000
    for fold in range(1, 6):
        for target in targets:
            source += 7
            for take in "ABCDEFGH"[:takes]:
                name = f"{fold}-{source}-{take}-{target}.wav"
                rows.append(
                    [
                        name,
                        str(fold),
                        str(target),
                        ESC50_CATEGORIES[target],
                        str(target in ESC10_TARGETS),
                        str(source),
                        take,
                    ]
                )
                _wav(os.path.join(folder, "audio", name), rng, sr, duration)
    with open(
        os.path.join(folder, "meta", "esc50.csv"),
        "w",
        newline="",
        encoding="utf-8-sig" if bom else "utf-8",
    ) as fh:
        fh.write("filename,fold,target,category,esc10,src_file,take\n")
        fh.writelines(",".join(r) + "\n" for r in rows)
    return folder, rows


def write_urbansound8k(root, *, class_ids=(1, 3, 9), n_folds=10, slices=2, duration=0.25, seed=0):
    """``root/UrbanSound8K/`` with, per class and fold, one Freesound recording cut
    into ``slices`` slices; sample rates and channel counts vary as in the real set."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(os.fspath(root), "UrbanSound8K")
    os.makedirs(os.path.join(folder, "metadata"), exist_ok=True)
    rows = []
    fs_id = 50000
    for fold in range(1, n_folds + 1):
        for class_id in class_ids:
            fs_id += 13
            for s in range(slices):
                name = f"{fs_id}-{class_id}-0-{s}.wav"
                start = round(s * duration, 6)
                rows.append(
                    [
                        name,
                        str(fs_id),
                        str(start),
                        str(round(start + duration, 6)),
                        str(1 + (s % 2)),
                        str(fold),
                        str(class_id),
                        US8K_CLASSES[class_id],
                    ]
                )
                sr, channels = (8000, 1) if (fs_id + s) % 2 else (11025, 2)
                _wav(
                    os.path.join(folder, "audio", f"fold{fold}", name), rng, sr, duration, channels
                )
    with open(os.path.join(folder, "metadata", "UrbanSound8K.csv"), "w", newline="") as fh:
        fh.write("slice_file_name,fsID,start,end,salience,fold,classID,class\n")
        fh.writelines(",".join(r) + "\n" for r in rows)
    return folder, rows


def write_folder_csv(
    root,
    *,
    folds=("1", "2", "3"),
    classes=("bus", "park"),
    per_fold=2,
    sr=8000,
    duration=0.25,
    seed=0,
    extra_columns=False,
):
    """``root/`` with ``audio/*.wav`` and ``metadata.csv`` (filename,label,fold[,group,device])."""
    rng = np.random.default_rng(seed)
    root = os.fspath(root)
    rows = []
    for fold in folds:
        for label in classes:
            for k in range(per_fold):
                rel = f"audio/{label}-{fold}-{k}.wav"
                row = [rel, label, fold]
                if extra_columns:
                    row += [f"{label}-{fold}", "ab"[k % 2]]
                rows.append(row)
                _wav(os.path.join(root, *rel.split("/")), rng, sr, duration)
    with open(os.path.join(root, "metadata.csv"), "w", newline="") as fh:
        fh.write("filename,label,fold" + (",group,device" if extra_columns else "") + "\n")
        fh.writelines(",".join(r) + "\n" for r in rows)
    return root, rows
