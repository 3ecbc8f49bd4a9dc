"""Every use of scikit-learn's private API in skasc, in one place.

scikit-learn is pinned in ``pyproject.toml`` to the range these uses were tested
with (:data:`TESTED_SKLEARN`); ``tests/test_common.py`` checks the installed version
against the pin, so an upgrade past it is a decision, not a surprise.

What skasc relies on beyond scikit-learn's public API:

* :class:`BaseComposition` (``sklearn.utils.metaestimators._BaseComposition``), the
  base of ``VotingClassifier`` and ``ColumnTransformer``: parameters of named
  sub-estimators (``_get_params``, ``_set_params``) and the check of their names
  (``_validate_names``), for :class:`~skasc.fusion.SystemFusion` and
  :class:`~skasc.frontend.features.FeatureStack`. Rewriting it would copy
  scikit-learn's routing of ``name__param`` parameters.
* :func:`safe_indexing` (``sklearn.utils._safe_indexing``): rows of a batch of
  recordings or labels, whatever its container (list, array, DataFrame, Series),
  as scikit-learn's own cross-validation takes them.
* The fitted state of ``CalibratedClassifierCV`` holds objects of the private
  classes ``sklearn.calibration._CalibratedClassifier`` and
  ``_SigmoidCalibration`` (``_TemperatureScaling`` with temperature scaling), which
  :mod:`skasc.persistence` allows by name.
"""

from __future__ import annotations

from sklearn.utils import _safe_indexing as safe_indexing
from sklearn.utils.metaestimators import _BaseComposition as BaseComposition

__all__ = ["TESTED_SKLEARN", "BaseComposition", "safe_indexing"]

TESTED_SKLEARN = ">=1.6,<1.10"
"""The scikit-learn versions skasc is tested with; the pin in ``pyproject.toml``."""
