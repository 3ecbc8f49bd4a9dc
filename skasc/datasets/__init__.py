"""Datasets: loaders with official folds, the LITIS Rouen corpus, and synthetic scenes.

* :func:`load_dataset` resolves a registry name (``DATASETS``) to its loader;
  every loader returns an :class:`AudioDataset` whose ``cv`` is an
  :class:`OfficialSplits` (or :class:`LitisSplits`) splitter;
* :func:`load_dcase` (and ``load_tut2016`` ... ``load_tau2022mobile``, registered
  as ``tut2016`` ... ``tau2022mobile``) reads the eight DCASE acoustic scene
  development sets: labels, location groups, devices and the official folds;
* :func:`load_esc50`, :func:`load_esc10` and :func:`load_urbansound8k` read the
  environmental-sound sets with their 5 and 10 official folds;
* :func:`load_csv` reads any folder described by one CSV with a fold column;
* :func:`load_litis_rouen` lists the recordings and labels of a LITIS Rouen folder;
* :class:`LitisSplits` yields its 20 official train/test splits as a CV splitter;
* :func:`write_litis_layout` writes recordings in that folder layout;
* :func:`make_scenes` generates synthetic scenes, :func:`make_litis_like` writes
  them as a LITIS-shaped folder with stratified random splits.

Malformed or missing dataset files raise :class:`DatasetError` (a ``ValueError``).
"""

from .base import AudioDataset, DatasetError, OfficialSplits
from .dcase import (
    DCASE_SETS,
    load_dcase,
    load_tau2019,
    load_tau2019mobile,
    load_tau2020mobile,
    load_tau2022mobile,
    load_tut2016,
    load_tut2017,
    load_tut2018,
    load_tut2018mobile,
)
from .esc50 import load_esc10, load_esc50
from .folder_csv import load_csv
from .litis import LitisRouen, LitisSplits, load_litis_rouen, write_litis_layout
from .registry import DATASETS, load_dataset
from .scenes import SCENE_CLASSES, make_litis_like, make_scenes
from .urbansound8k import load_urbansound8k

__all__ = [
    "AudioDataset",
    "DATASETS",
    "DCASE_SETS",
    "DatasetError",
    "LitisRouen",
    "LitisSplits",
    "OfficialSplits",
    "SCENE_CLASSES",
    "load_csv",
    "load_dataset",
    "load_dcase",
    "load_esc10",
    "load_esc50",
    "load_urbansound8k",
    "load_litis_rouen",
    "load_tau2019",
    "load_tau2019mobile",
    "load_tau2020mobile",
    "load_tau2022mobile",
    "load_tut2016",
    "load_tut2017",
    "load_tut2018",
    "load_tut2018mobile",
    "make_litis_like",
    "make_scenes",
    "write_litis_layout",
]
