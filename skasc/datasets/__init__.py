"""Datasets: the LITIS Rouen corpus (loader, official splits, writer) and
synthetic LITIS-shaped scenes.

* :func:`load_litis_rouen` lists the recordings and labels of a LITIS Rouen folder;
* :class:`LitisSplits` yields its 20 official train/test splits as a CV splitter;
* :func:`write_litis_layout` writes recordings in that folder layout;
* :func:`make_scenes` generates synthetic scenes, :func:`make_litis_like` writes
  them as a LITIS-shaped folder with stratified random splits.

Malformed or missing dataset files raise :class:`DatasetError` (a ``ValueError``).
"""

from .litis import DatasetError, LitisRouen, LitisSplits, load_litis_rouen, write_litis_layout
from .scenes import SCENE_CLASSES, make_litis_like, make_scenes

__all__ = ["DatasetError", "LitisRouen", "LitisSplits", "SCENE_CLASSES", "load_litis_rouen",
           "make_litis_like", "make_scenes", "write_litis_layout"]
