"""scikit-learn's estimator checks over every public estimator that they can apply to.

skasc's estimators take batches of *recordings* (lists of paths or waveforms, or
arrays with a recording axis and a segment axis), not the 2-D feature tables the
checks generate. Each check that cannot apply is listed below with the reason; it is
run anyway and expected to fail (an unexpected pass is reported as XPASS).
The networks (skasc.nn) take 4-D segment images and are covered in tests/test_nn_*.py.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skasc.frontend.audio import AudioLoader
from skasc.frontend.denoise import MinStatsDenoiser
from skasc.frontend.features import (
    FeatureStack,
    FeatureTypeSelector,
    GammatoneExtractor,
    LogMelExtractor,
)
from skasc.frontend.front_end import FrontEnd
from skasc.frontend.segment import Segmenter
from skasc.fusion import RecordingFusion, SystemFusion

NOT_A_TABLE = (
    "takes a batch of recordings (a list of paths/waveforms, or segment arrays "
    "with a recording axis), not a 2-D feature table"
)
STATELESS_FIT = (
    "stateless transformer: fit validates parameters only; each recording is "
    "checked in transform, where the error can name its index"
)
NO_N_FEATURES = (
    "recordings have any length, so there is no fixed number of input features to record at fit"
)
FLOAT32 = "outputs are float32 by design (the network's input dtype)"
SEGMENTS_VARY = (
    "the number of segments per recording may differ between fit and "
    "predict (recordings of different lengths), so no feature count is enforced"
)

DATA_IN_FIT = [
    "check_complex_data",
    "check_dtype_object",
    "check_estimator_sparse_tag",
    "check_estimators_empty_data_messages",
    "check_estimators_nan_inf",
    "check_fit1d",
    "check_fit2d_predict1d",
]
TABLE_INPUT = [
    "check_fit_score_takes_y",
    "check_estimators_dtypes",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformers_unfitted_stateless",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_dict_unchanged",
    "check_fit_idempotent",
]


def _stateless(extra_table_checks=()):
    failed = {name: STATELESS_FIT for name in DATA_IN_FIT}
    failed.update(
        {
            name: NO_N_FEATURES
            for name in ("check_n_features_in", "check_n_features_in_after_fitting")
        }
    )
    failed["check_transformer_preserve_dtypes"] = FLOAT32
    failed.update({name: NOT_A_TABLE for name in extra_table_checks})
    return failed


def _fusion():
    failed = {
        name: SEGMENTS_VARY
        for name in (
            "check_classifiers_train",
            "check_n_features_in",
            "check_n_features_in_after_fitting",
            "check_fit2d_predict1d",
        )
    }
    failed["check_estimators_empty_data_messages"] = (
        "an empty batch is refused with a message about recordings, not sklearn's wording"
    )
    return failed


EXPECTED_FAILED = {
    "AudioLoader": _stateless(TABLE_INPUT),
    "LogMelExtractor": _stateless(TABLE_INPUT),
    "GammatoneExtractor": _stateless(TABLE_INPUT),
    "FeatureStack": _stateless(TABLE_INPUT),
    "FeatureTypeSelector": _stateless(TABLE_INPUT),
    "Segmenter": _stateless(),
    "MinStatsDenoiser": _stateless(),
    "FrontEnd": _stateless(TABLE_INPUT),
    "RecordingFusion": _fusion(),
    "SystemFusion": _fusion(),
}


def _expected_failed(estimator):
    return EXPECTED_FAILED[type(estimator).__name__]


@parametrize_with_checks(
    [
        AudioLoader(),
        Segmenter(),
        MinStatsDenoiser(),
        LogMelExtractor(),
        GammatoneExtractor(),
        FeatureStack([("logmel", LogMelExtractor()), ("loggam", GammatoneExtractor())]),
        FeatureTypeSelector(),
        FrontEnd(),
        RecordingFusion(LogisticRegression(), flatten=True),
        SystemFusion(
            [
                ("a", RecordingFusion(LogisticRegression(), flatten=True)),
                ("b", RecordingFusion(LogisticRegression(C=0.5), flatten=True)),
            ]
        ),
    ],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_no_estimator_shadows_sklearns_validate_params():
    # scikit-learn's BaseEstimator._validate_params checks _parameter_constraints and
    # returns None; skasc's own hook (which may return framing values) is _check_params
    from sklearn.base import BaseEstimator

    import skasc

    for name in skasc.__all__:
        obj = getattr(skasc, name)
        if isinstance(obj, type) and issubclass(obj, BaseEstimator):
            owners = [c for c in obj.__mro__ if "_validate_params" in vars(c)]
            assert all(c.__module__.startswith(("sklearn", "skorch")) for c in owners), (
                name,
                owners,
            )


def test_installed_scikit_learn_is_in_the_pinned_and_tested_range():
    """skasc uses a few scikit-learn private names (skasc._sklearn); the pin in
    pyproject.toml is the range they were tested with."""
    from pathlib import Path

    import pytest
    import sklearn
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from skasc import _sklearn

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    root = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("scikit-learn")]
    assert pins == [f"scikit-learn{_sklearn.TESTED_SKLEARN}"]
    assert Version(sklearn.__version__) in SpecifierSet(_sklearn.TESTED_SKLEARN)


def test_scikit_learn_private_names_are_imported_only_in_the_compat_module():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "skasc"
    offenders = []
    assert (root / "_sklearn.py").is_file()
    for path in root.rglob("*.py"):
        if path.name == "_sklearn.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("sklearn")
                and any(a.name.startswith("_") for a in node.names)
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


# the functions allowed more than MAX_FUNCTION_LINES lines, and why
LONG_FUNCTIONS = {
    "skasc/dsp/minstats.py::_track": "the numba kernel of Martin's tracker: one loop over "
    "frames whose steps are the paper's, kept whole so "
    "numba compiles it as one function",
}
MAX_FUNCTION_LINES = 80


def test_no_function_is_longer_than_80_lines():
    """Lines of the body, from its first statement to its last: neither the signature
    (ruff's formatting puts each parameter of a long one on a line of its own) nor the
    docstring (numpydoc docstrings with parameters, shapes and Examples are the
    project's standard) count."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    long = {}
    for path in sorted((root / "skasc").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            lines = node.end_lineno - body[0].lineno + 1 if body else 0
            if lines > MAX_FUNCTION_LINES:
                long[f"{path.relative_to(root).as_posix()}::{node.name}"] = lines
    assert set(long) == set(LONG_FUNCTIONS), long
