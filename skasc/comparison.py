"""Is system A better than system B? A paired comparison of two ``skasc cv`` runs.

:func:`compare_runs` (and ``skasc compare A B``) reads two finished
:func:`~skasc.run_protocol` output folders run on the same data set, folds and
seeds (the same test recordings in every run: anything else is refused, naming
the first difference) and compares them run by run:

* per fold and seed, both systems' score and the difference A - B;
* the mean difference with a confidence interval from the **corrected resampled
  t-test** of Nadeau and Bengio (2003), as Bouckaert and Frank (2004) apply it to
  cross-validation: the training sets of the runs overlap, so the variance of the
  differences is multiplied by ``1/J + n_test/n_train`` (``J`` runs, the mean
  ratio of test to training recordings) instead of ``1/J``, which the ordinary
  paired t-test (:func:`scipy.stats.ttest_rel`) uses and which finds differences
  that are not there;
* **McNemar's test** on the recordings both systems classified, pooled over the
  folds (every test recording once), per seed: the recordings only A labels
  correctly (``b``) against those only B does (``c``). Exact (two-sided binomial
  test of ``b`` among ``b + c`` at 1/2) when ``b + c < 25``, otherwise the
  chi-square statistic with continuity correction ``(|b - c| - 1)^2 / (b + c)``
  on one degree of freedom;
* a one-line verdict at significance level ``alpha``: the corrected t-test
  decides when there are two runs or more and the differences vary, McNemar's
  test otherwise (one fold and one seed, as DCASE's development sets have); the
  other test is reported beside it.

The statistics are scipy's (``scipy.stats.t``, ``binomtest``, ``chi2``); this
module pairs the runs, checks that they can be paired, and writes the result.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .evaluation import LEVELS, METRICS
from .exceptions import InvalidParameterError, SkascValueError

__all__ = ["compare_runs", "Comparison", "corrected_resampled_ttest", "mcnemar_test"]

#: McNemar's test is exact when fewer recordings than this are discordant.
EXACT_BELOW = 25

_METRIC_NAMES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "macro class-wise accuracy",
    "f1_macro": "macro F1-score",
    "precision_macro": "macro precision",
    "log_loss": "log loss",
}


def corrected_resampled_ttest(
    differences: Any, test_to_train: Any = 0.0, *, alpha: float = 0.05
) -> dict[str, Any]:
    """The corrected resampled t-test of Nadeau and Bengio (2003) on paired differences.

    Parameters
    ----------
    differences : array-like of shape (n_runs,)
        Score of A minus score of B in every run (fold, seed); at least 2.
    test_to_train : float or array-like of shape (n_runs,), default=0.0
        ``n_test / n_train`` of the runs (their mean is used). 0 gives the ordinary
        paired t-test, :func:`scipy.stats.ttest_rel` of the two systems' scores.
    alpha : float, default=0.05
        The confidence interval is at level ``1 - alpha``.

    Returns
    -------
    dict
        ``mean`` (the mean difference), ``variance_factor`` (``1/J +
        test_to_train``), ``std_error``, ``df`` (``J - 1``), ``t``, ``p_value``
        (two-sided) and ``ci`` (``[low, high]``). When the differences do not vary,
        ``t`` and ``p_value`` are None and ``ci`` is ``[mean, mean]``.

    Examples
    --------
    >>> test = corrected_resampled_ttest([0.02, 0.04, 0.03], test_to_train=0.25)
    >>> round(test["mean"], 3), round(test["variance_factor"], 4), test["df"]
    (0.03, 0.5833, 2)
    """
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size < 2 or not np.all(np.isfinite(d)):
        raise SkascValueError(
            "corrected_resampled_ttest needs 2 or more finite differences "
            f"(one per run); got {d.tolist()}."
        )
    ratio = float(np.mean(test_to_train))
    if not ratio >= 0:
        raise InvalidParameterError(
            "The 'test_to_train' parameter of corrected_resampled_ttest "
            f"must be >= 0. Got {test_to_train!r} instead."
        )
    factor = 1.0 / d.size + ratio
    mean = float(d.mean())
    std_error = float(np.sqrt(factor * d.var(ddof=1)))
    out = {
        "mean": mean,
        "variance_factor": factor,
        "std_error": std_error,
        "df": d.size - 1,
        "t": None,
        "p_value": None,
        "ci": [mean, mean],
    }
    if std_error > 0:
        t = mean / std_error
        half = float(stats.t.ppf(1 - alpha / 2, d.size - 1)) * std_error
        out.update(
            t=float(t),
            p_value=float(2 * stats.t.sf(abs(t), d.size - 1)),
            ci=[mean - half, mean + half],
        )
    return out


def mcnemar_test(a_correct: Any, b_correct: Any, *, exact: bool | None = None) -> dict[str, Any]:
    """McNemar's test of two classifiers on the same items.

    Parameters
    ----------
    a_correct, b_correct : array-like of bool of shape (n_items,)
        Whether A (B) labelled each item correctly.
    exact : bool or None, default=None
        The exact binomial form, or the chi-square form with continuity
        correction; None: exact when fewer than 25 items are discordant.

    Returns
    -------
    dict
        ``n`` (items), ``a_only`` (A right, B wrong: ``b``), ``b_only`` (``c``),
        ``method`` (``"exact binomial"`` or ``"chi-square with continuity
        correction"``), ``statistic`` (chi-square; None for the exact form) and
        ``p_value`` (two-sided; 1 when no item is discordant).

    Examples
    --------
    >>> test = mcnemar_test([1, 1, 1, 0], [0, 0, 1, 0])
    >>> test["a_only"], test["b_only"], test["method"], test["p_value"]
    (2, 0, 'exact binomial', 0.5)
    """
    from scipy import stats

    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.ndim != 1 or a.shape != b.shape:
        raise SkascValueError(
            f"mcnemar_test needs two 1-D arrays of the same length; got "
            f"shapes {a.shape} and {b.shape}."
        )
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = only_a + only_b
    if exact is None:
        exact = discordant < EXACT_BELOW
    out: dict[str, Any] = {
        "n": int(a.size),
        "a_only": only_a,
        "b_only": only_b,
        "method": "exact binomial" if exact else "chi-square with continuity correction",
        "statistic": None,
        "p_value": 1.0,
    }
    if discordant == 0:
        return out
    if exact:
        out["p_value"] = float(stats.binomtest(only_a, discordant, 0.5).pvalue)
    else:
        statistic = max(abs(only_a - only_b) - 1, 0) ** 2 / discordant
        out.update(statistic=float(statistic), p_value=float(stats.chi2.sf(statistic, 1)))
    return out


# --------------------------------------------------------------------------- pairing
def _first_difference(a: Any, b: Any) -> str | None:
    """What differs between the two runs' setups, the first thing found, or None."""
    if a.results["dataset"] != b.results["dataset"]:
        return f"the data sets differ: {a.results['dataset']} in A, {b.results['dataset']} in B"
    if a.results["folds_run"] != b.results["folds_run"]:
        return (
            f"the folds differ: A ran {', '.join(a.results['folds_run'])}, B ran "
            f"{', '.join(b.results['folds_run'])}"
        )
    if list(a.reports) != list(b.reports):
        return (
            f"the seeds differ: A ran {', '.join(map(str, a.reports))}, B ran "
            f"{', '.join(map(str, b.reports))}"
        )
    for run, split_a, split_b, info_b in zip(a.runs, a.report.splits, b.report.splits, b.runs):
        where = f"{run['fold']} (seed {run['seed']})"
        if run.get("n_train") != info_b.get("n_train"):
            return (
                f"{where}: A trained on {run.get('n_train')} recordings, B on "
                f"{info_b.get('n_train')}"
            )
        if len(split_a.test_index) != len(split_b.test_index):
            return (
                f"{where}: A tested {len(split_a.test_index)} recordings, B "
                f"{len(split_b.test_index)}"
            )
        for what, x, y in (
            ("is recording", split_a.test_index, split_b.test_index),
            ("has label", split_a.y_true, split_b.y_true),
        ):
            unequal = np.flatnonzero(np.asarray(x) != np.asarray(y))
            if unequal.size:
                k = int(unequal[0])
                return (
                    f"{where}: test recording {k} {what} {np.asarray(x)[k].tolist()!r} "
                    f"in A but {np.asarray(y)[k].tolist()!r} in B"
                )
    return None


# --------------------------------------------------------------------------- result
@dataclass
class Comparison:
    """What :func:`compare_runs` returns (see the module docstring).

    Attributes
    ----------
    a, b : dict
        Each system's ``path``, ``system`` (its name in reports) and ``label``
        (the system's name, with its folder where both names are the same).
    dataset : str
    level, metric : str
        The score compared (``"recording"``, ``"accuracy"`` by default).
    alpha : float
        The significance level; confidence intervals are at ``1 - alpha``.
    runs : list of dict
        Per run: ``fold``, ``seed``, ``a``, ``b`` and ``difference`` (A - B).
    ttest : dict or None
        :func:`corrected_resampled_ttest` of the differences (None with one run).
    mcnemar : dict of int to dict
        :func:`mcnemar_test` per seed, on the recordings of all its folds.
    verdict : str
        One line: which system is better at level ``alpha``, or that neither is.
    significant : bool
        Whether the deciding test rejects "no difference" at ``alpha``.
    better : {"a", "b", None}
        The better system when ``significant``.
    n_folds : int
        The folds each seed ran.
    """

    a: dict
    b: dict
    dataset: str
    level: str
    metric: str
    alpha: float
    runs: list[dict]
    ttest: dict | None
    mcnemar: dict[int, dict]
    verdict: str = ""
    significant: bool = False
    better: str | None = None
    n_folds: int = 0

    @property
    def higher_is_better(self) -> bool:
        """False for the log loss, True for the other scores."""
        return self.metric != "log_loss"

    def to_dict(self) -> dict[str, Any]:
        """Plain Python (JSON-serialisable) record of the comparison."""
        return {
            "a": self.a,
            "b": self.b,
            "dataset": self.dataset,
            "level": self.level,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "alpha": self.alpha,
            "difference": "a - b",
            "runs": self.runs,
            "corrected_resampled_ttest": self.ttest,
            "mcnemar": [{"seed": seed, **test} for seed, test in self.mcnemar.items()],
            "significant": self.significant,
            "better": self.better,
            "verdict": self.verdict,
        }

    def to_markdown(self) -> str:
        """The comparison as a Markdown document: runs, tests and verdict."""
        scale, _, digits = self._units()
        what = f"{self.level} {_METRIC_NAMES[self.metric]}"
        unit = "nats" if self.metric == "log_loss" else "percent"
        n_seeds = len({run["seed"] for run in self.runs})
        lines = [
            f"# {self.a['label']} vs {self.b['label']} on {self.dataset}",
            "",
            f"- A: {self.a['system']} ({self.a['path']})",
            f"- B: {self.b['system']} ({self.b['path']})",
            f"- Score: {what} ({unit}; {'higher' if self.higher_is_better else 'lower'} "
            f"is better), {_count(self.n_folds, 'fold')} x {_count(n_seeds, 'seed')}; "
            "difference A - B",
            "",
            "## Per fold and seed",
            "",
            "| Fold | Seed | A | B | A - B |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r['fold']} | {r['seed']} | {scale * r['a']:.{digits}f} | "
            f"{scale * r['b']:.{digits}f} | {scale * r['difference']:+.{digits}f} |"
            for r in self.runs
        ]
        lines += ["", "## Tests", ""]
        lines.append("- " + self._ttest_line())
        for seed, test in self.mcnemar.items():
            lines.append("- " + _mcnemar_line(test, seed if len(self.mcnemar) > 1 else None))
        lines += ["", f"**Verdict**: {self.verdict}"]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()

    # ---- wording --------------------------------------------------------- #
    def _units(self) -> tuple[float, str, int]:
        """Scale, unit of a difference, and decimals of the score."""
        if self.metric == "log_loss":
            return 1.0, "nats", 3
        return 100.0, "percentage points", 2

    def _ttest_line(self) -> str:
        test = self.ttest
        if test is None:
            return (
                "Corrected resampled t-test: not possible with one run (one fold, one "
                "seed); McNemar's test decides."
            )
        scale, unit, digits = self._units()
        level = f"{100 * (1 - self.alpha):g} %"
        text = (
            f"Corrected resampled t-test (Nadeau and Bengio 2003) over {len(self.runs)} "
            f"runs, variance x {test['variance_factor']:.4f} (1/{len(self.runs)} + "
            f"n_test/n_train): mean difference {scale * test['mean']:+.{digits}f} "
            f"{unit}, {level} CI [{scale * test['ci'][0]:+.{digits}f}, "
            f"{scale * test['ci'][1]:+.{digits}f}]"
        )
        if test["p_value"] is None:
            return text + "; the differences do not vary, so no t statistic."
        return text + f", t = {test['t']:.3f} ({test['df']} df), p = {_p(test['p_value'])}."


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


def _mcnemar_line(test: dict, seed: int | None) -> str:
    where = "all folds" + ("" if seed is None else f", seed {seed}")
    text = (
        f"McNemar's test on the {test['n']} test recordings ({where}): only A right "
        f"{test['a_only']}, only B right {test['b_only']}; {test['method']}"
    )
    if test["statistic"] is not None:
        text += f", chi-square = {test['statistic']:.3f} (1 df)"
    return text + f", p = {_p(test['p_value'])}."


def _verdict(comparison: Comparison) -> tuple[str, bool, str | None]:
    """(the verdict, whether it is significant, the better system)."""
    c, t = comparison, comparison.ttest
    scale, unit, digits = c._units()
    what = f"{c.level} {_METRIC_NAMES[c.metric]}"
    mean = float(np.mean([r["difference"] for r in c.runs]))
    tests = list(c.mcnemar.values())
    mc_significant = [test["p_value"] < c.alpha for test in tests]
    if t is not None and t["p_value"] is not None:
        significant, p, how = t["p_value"] < c.alpha, t["p_value"], "corrected resampled t-test"
        detail = (
            f"{scale * mean:+.{digits}f} {unit}, {100 * (1 - c.alpha):g} % CI "
            f"[{scale * t['ci'][0]:+.{digits}f}, {scale * t['ci'][1]:+.{digits}f}]; "
            f"{how}, p = {_p(p)}"
        )
        agree = (sum(mc_significant) == len(tests)) if significant else not any(mc_significant)
        if len(tests) == 1:
            other = (
                f"McNemar's test {'agrees' if agree else 'disagrees'} "
                f"(p = {_p(tests[0]['p_value'])})"
            )
        else:
            other = f"McNemar's test is significant in {sum(mc_significant)} of {len(tests)} seeds"
    else:
        significant = all(mc_significant)
        p_values = ", ".join(_p(test["p_value"]) for test in tests)
        detail = (
            f"{scale * mean:+.{digits}f} {unit}; McNemar's test "
            f"({tests[0]['method']}), p = {p_values}"
        )
        other = (
            "the t-test needs two runs or more"
            if t is None
            else "the differences do not vary, so no t-test"
        )
    better = None
    if significant and mean != 0:
        better = "a" if (mean > 0) == c.higher_is_better else "b"
    if better is None:
        verdict = (
            f"No significant difference in {what} at alpha = {c.alpha:g} between "
            f"{c.a['label']} and {c.b['label']} (A - B = {detail}); {other}."
        )
    else:
        winner, loser = (c.a, c.b) if better == "a" else (c.b, c.a)
        verdict = (
            f"{winner['label']} is better than {loser['label']} in {what} at alpha = "
            f"{c.alpha:g} (A - B = {detail}); {other}."
        )
    return verdict, bool(significant and better is not None), better


# --------------------------------------------------------------------------- entry point
def compare_runs(
    a: str | os.PathLike,
    b: str | os.PathLike,
    *,
    metric: str = "accuracy",
    level: str = "recording",
    alpha: float = 0.05,
    out: str | os.PathLike | None = None,
    json_out: str | os.PathLike | None = None,
) -> Comparison:
    """Compare two finished ``skasc cv`` runs: per run, corrected t-test, McNemar, verdict.

    Parameters
    ----------
    a, b : path-like
        Output folders of :func:`~skasc.run_protocol` (``skasc cv --out``) on the
        same data set, folds and seeds.
    metric : {"accuracy", "balanced_accuracy", "f1_macro", "precision_macro", \
"log_loss"}, default="accuracy"
        The score compared (``balanced_accuracy``: macro class-wise accuracy);
        for ``log_loss`` lower is better.
    level : {"recording", "segment"}, default="recording"
        Where the score is taken. McNemar's test is always on the recordings.
    alpha : float, default=0.05
        Significance level of the verdict; confidence intervals at ``1 - alpha``.
    out, json_out : path-like, default=None
        Write the Markdown (:meth:`Comparison.to_markdown`) and the JSON
        (:meth:`Comparison.to_dict`) there, atomically. Both are checked before
        anything is read: their folder must exist and be writable, and neither
        may be a file the comparison reads.

    Returns
    -------
    Comparison

    Raises
    ------
    SkascValueError
        For a folder that is not a finished run, or runs that cannot be paired
        (naming the first difference: data set, folds, seeds, a fold's training
        size or test recordings), or a score one system lacks.
    CLIError
        For an output that cannot be written or is one of the inputs.

    Examples
    --------
    >>> compare_runs("results/a", "results/b", alpha=2)
    Traceback (most recent call last):
    ...
    skasc.exceptions.InvalidParameterError: The 'alpha' parameter of compare_runs must be a float in the range (0.0, 1.0). Got 2 instead.
    """  # noqa: E501 (a doctest's exception line cannot wrap)
    from ._atomic import atomic_text_write
    from ._validation import check_option, check_real
    from .cli import check_outputs
    from .protocol import read_protocol, result_files

    check_option(metric, "metric", "compare_runs", METRICS)
    check_option(level, "level", "compare_runs", LEVELS)
    alpha = check_real(
        alpha, "alpha", "compare_runs", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    paths = [os.fspath(a), os.fspath(b)]
    check_outputs(
        [
            ("'out'", None if out is None else os.fspath(out)),
            ("'json_out'", None if json_out is None else os.fspath(json_out)),
        ],
        [(f"a file of result folder {p}", result_files(p)) for p in paths],
    )
    runs = [read_protocol(p) for p in paths]
    difference = _first_difference(*runs)
    if difference is not None:
        raise SkascValueError(f"{paths[0]} and {paths[1]} cannot be compared: {difference}.")
    for name, path, run in zip("AB", paths, runs):
        if not run.report.has_metric(level, metric):
            raise SkascValueError(
                f"System {name} ({path}) has no {metric} at {level} level "
                "(no posteriors, or no segments)."
            )
    comparison = _compare(paths, runs, metric, level, alpha)
    if out is not None:
        with atomic_text_write(out) as fh:
            fh.write(comparison.to_markdown())
    if json_out is not None:
        with atomic_text_write(json_out) as fh:
            fh.write(json.dumps(comparison.to_dict(), indent=2) + "\n")
    return comparison


def _compare(
    paths: list[str], runs: list[Any], metric: str, level: str, alpha: float
) -> Comparison:
    run_a, run_b = runs
    systems = [{"path": p, "system": r.results["system"]} for p, r in zip(paths, runs)]
    for system in systems:
        system["label"] = system["system"]
        if systems[0]["system"] == systems[1]["system"]:
            system["label"] += f" [{os.path.basename(os.path.normpath(system['path']))}]"
    rows = []
    for info, split_a, split_b in zip(run_a.runs, run_a.report.splits, run_b.report.splits):
        score_a, score_b = split_a.scores[level][metric], split_b.scores[level][metric]
        rows.append(
            {
                "fold": info["fold"],
                "seed": info["seed"],
                "a": score_a,
                "b": score_b,
                "difference": score_a - score_b,
            }
        )
    ttest = None
    if len(rows) > 1:
        ratio = [info["n_test"] / info["n_train"] for info in run_a.runs]
        ttest = corrected_resampled_ttest([r["difference"] for r in rows], ratio, alpha=alpha)
    mcnemar = {}
    for seed in run_a.reports:
        pairs = [
            (sa, sb)
            for info, sa, sb in zip(run_a.runs, run_a.report.splits, run_b.report.splits)
            if info["seed"] == seed
        ]
        mcnemar[seed] = mcnemar_test(
            np.concatenate([sa.y_pred == sa.y_true for sa, _ in pairs]),
            np.concatenate([sb.y_pred == sb.y_true for _, sb in pairs]),
        )
    comparison = Comparison(
        a=systems[0],
        b=systems[1],
        dataset=run_a.results["dataset"],
        level=level,
        metric=metric,
        alpha=alpha,
        runs=rows,
        ttest=ttest,
        mcnemar=mcnemar,
        n_folds=len(run_a.results["folds_run"]),
    )
    comparison.verdict, comparison.significant, comparison.better = _verdict(comparison)
    return comparison
