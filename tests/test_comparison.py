"""skasc.compare_runs and ``skasc compare``: pairing two skasc cv runs, the corrected
resampled t-test, McNemar's test, the verdict and the files written.

The statistics are checked against scipy (``ttest_rel`` for the uncorrected form,
``binomtest`` for McNemar's exact form) and hand-computed small cases; two real
result folders come from tiny networks on a tiny generated LITIS-like set, and
hand-made folders (written in the format skasc cv writes) give cases whose every
number is known.
"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from skasc.comparison import compare_runs, corrected_resampled_ttest, mcnemar_test
from skasc.datasets import make_litis_like
from skasc.protocol import read_protocol, run_protocol
from test_protocol import TINY_LITIS

TINY = {"module__n_filters": (4, 8, 8), "module__hidden_size": 8, "module__attention_size": 8}
RUN = dict(epochs=2, lr=1e-2, batch_size=9, eval_every=0, device="cpu", verbose=0, seeds=[0, 1])


# ----------------------------------------------------------------------------- statistics
def test_uncorrected_form_is_scipys_paired_t_test(rng):
    a = rng.uniform(0.6, 0.9, size=10)
    b = a - rng.normal(0.02, 0.03, size=10)
    test = corrected_resampled_ttest(a - b, 0.0, alpha=0.05)
    scipy_test = stats.ttest_rel(a, b)
    assert test["t"] == pytest.approx(scipy_test.statistic, rel=1e-10)
    assert test["p_value"] == pytest.approx(scipy_test.pvalue, rel=1e-10)
    assert test["df"] == scipy_test.df == 9
    ci = scipy_test.confidence_interval(0.95)
    assert test["ci"] == pytest.approx([ci.low, ci.high], rel=1e-10)
    ci90 = corrected_resampled_ttest(a - b, alpha=0.1)["ci"]
    assert ci90 == pytest.approx(list(scipy_test.confidence_interval(0.9)), rel=1e-10)


def test_corrected_form_by_hand():
    """d = (0.02, 0.04, 0.03), n_test/n_train = 1/4: mean 0.03, sample variance 1e-4,
    variance factor 1/3 + 1/4 = 7/12, standard error sqrt(7/12 * 1e-4)."""
    test = corrected_resampled_ttest([0.02, 0.04, 0.03], [10 / 40, 10 / 40, 10 / 40])
    se = math.sqrt(7 / 12 * 1e-4)
    assert test["mean"] == pytest.approx(0.03)
    assert test["variance_factor"] == pytest.approx(7 / 12)
    assert test["std_error"] == pytest.approx(se)
    assert test["t"] == pytest.approx(0.03 / se) and test["df"] == 2
    # two-sided p of Student's t with 2 df: 1 - t / sqrt(2 + t^2)
    t = 0.03 / se
    assert test["p_value"] == pytest.approx(1 - t / math.sqrt(2 + t * t))
    # 95 %: the t quantile with 2 df is 4.302652729911275
    assert test["ci"] == pytest.approx(
        [0.03 - 4.302652729911275 * se, 0.03 + 4.302652729911275 * se]
    )
    # the correction shrinks t by sqrt((1/J) / (1/J + ratio)) against scipy's t-test
    plain = stats.ttest_rel([0.82, 0.84, 0.83], [0.80, 0.80, 0.80]).statistic
    assert test["t"] == pytest.approx(plain * math.sqrt((1 / 3) / (7 / 12)))


def test_t_test_edge_cases():
    same = corrected_resampled_ttest([0.01, 0.01, 0.01], 0.2)
    assert same["t"] is None and same["p_value"] is None and same["ci"] == [0.01, 0.01]
    with pytest.raises(ValueError, match="needs 2 or more finite differences"):
        corrected_resampled_ttest([0.1])
    with pytest.raises(ValueError, match="needs 2 or more finite differences"):
        corrected_resampled_ttest([0.1, np.nan])
    with pytest.raises(ValueError, match="'test_to_train' parameter .* must be >= 0"):
        corrected_resampled_ttest([0.1, 0.2], -1.0)


def test_mcnemar_exact_form_is_scipys_binomial_test_and_by_hand(rng):
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 0], bool)  # only A right: 5, only B right: 1
    b = np.array([0, 0, 0, 0, 0, 1, 1, 0, 1, 0], bool)
    test = mcnemar_test(a, b)
    assert (test["a_only"], test["b_only"], test["n"]) == (5, 1, 10)
    assert test["method"] == "exact binomial" and test["statistic"] is None
    assert test["p_value"] == pytest.approx(2 * (1 + 6) / 2**6)  # 2 P(X <= 1), X ~ B(6, 1/2)
    assert test["p_value"] == pytest.approx(stats.binomtest(5, 6, 0.5).pvalue)
    for _ in range(5):
        x, y = rng.uniform(size=(2, 40)) < [[0.8], [0.6]]
        only = int(np.sum(x & ~y)), int(np.sum(~x & y))
        assert mcnemar_test(x, y, exact=True)["p_value"] == pytest.approx(
            stats.binomtest(only[0], sum(only), 0.5).pvalue
        )
    assert mcnemar_test([1, 0], [1, 0])["p_value"] == 1.0  # no discordant recording


def test_mcnemar_chi_square_form_by_hand():
    a = np.r_[np.ones(30, bool), np.zeros(10, bool), np.ones(50, bool)]
    b = np.r_[np.zeros(30, bool), np.ones(10, bool), np.ones(50, bool)]
    test = mcnemar_test(a, b)  # 40 discordant: chi-square
    assert test["method"] == "chi-square with continuity correction"
    assert test["statistic"] == pytest.approx((20 - 1) ** 2 / 40)
    assert test["p_value"] == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))  # 1 df
    # the switch: 24 discordant recordings are tested exactly, 25 with the chi-square
    assert mcnemar_test(np.ones(24, bool), np.zeros(24, bool))["method"] == "exact binomial"
    assert mcnemar_test(np.ones(25, bool), np.zeros(25, bool))["statistic"] == pytest.approx(
        24**2 / 25
    )
    with pytest.raises(ValueError, match="two 1-D arrays of the same length"):
        mcnemar_test([1, 0], [1])


# ----------------------------------------------------------------------------- real runs
@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Att-CRNN and the CNN baseline, 2 folds x 2 seeds, tiny, on a tiny LITIS-like set."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("compare")
    root = make_litis_like(base / "litis", **TINY_LITIS)
    att = run_protocol("litis", root, out=base / "att", network="att_crnn", net_params=TINY, **RUN)
    cnn = run_protocol(
        "litis",
        root,
        out=base / "cnn",
        network="cnn_baseline",
        net_params={"module__n_filters": (4, 8, 8)},
        **RUN,
    )
    torch.set_num_threads(threads)
    return root, base / "att", base / "cnn", att, cnn


def test_two_runs_compared_against_independent_computations(two_runs, tmp_path):
    from sklearn.metrics import accuracy_score

    _, a, b, att, cnn = two_runs
    md, js = tmp_path / "cmp.md", tmp_path / "cmp.json"
    result = compare_runs(a, b, out=md, json_out=js)
    assert [(r["fold"], r["seed"]) for r in result.runs] == [
        ("fold1", 0),
        ("fold2", 0),
        ("fold1", 1),
        ("fold2", 1),
    ]
    diffs = []
    for row, sa, sb in zip(result.runs, att.report.splits, cnn.report.splits):
        assert row["a"] == pytest.approx(accuracy_score(sa.y_true, sa.y_pred))
        assert row["b"] == pytest.approx(accuracy_score(sb.y_true, sb.y_pred))
        diffs.append(row["a"] - row["b"])
        assert row["difference"] == pytest.approx(diffs[-1])
    ratio = np.mean([r["n_test"] / r["n_train"] for r in att.results["runs"]])
    var = np.var(diffs, ddof=1)
    se = math.sqrt((1 / 4 + ratio) * var)
    assert result.ttest["variance_factor"] == pytest.approx(1 / 4 + ratio)
    if var > 0:
        assert result.ttest["t"] == pytest.approx(np.mean(diffs) / se)
        assert result.ttest["p_value"] == pytest.approx(2 * stats.t.sf(abs(np.mean(diffs)) / se, 3))
    for seed in (0, 1):  # McNemar per seed, the recordings of both folds pooled
        right_a = np.concatenate(
            [s.y_pred == s.y_true for s, r in zip(att.report.splits, att.runs) if r["seed"] == seed]
        )
        right_b = np.concatenate(
            [s.y_pred == s.y_true for s, r in zip(cnn.report.splits, cnn.runs) if r["seed"] == seed]
        )
        test = result.mcnemar[seed]
        assert test["n"] == len(right_a) == 6  # 3 test recordings per fold
        assert test["a_only"] == np.sum(right_a & ~right_b)
        assert test["b_only"] == np.sum(~right_a & right_b)
        assert test["p_value"] == pytest.approx(
            stats.binomtest(test["a_only"], test["a_only"] + test["b_only"]).pvalue
            if test["a_only"] + test["b_only"]
            else 1.0
        )
    assert json.loads(js.read_text()) == json.loads(json.dumps(result.to_dict()))
    text = md.read_text()
    assert text == result.to_markdown()
    assert text.startswith("# Att-CRNN (logMel) vs CNN baseline (logMel) on litis")
    assert "| fold2 | 1 | " in text and "Corrected resampled t-test (Nadeau and Bengio" in text
    assert "exact binomial" in text and f"**Verdict**: {result.verdict}" in text
    assert "\n" not in result.verdict and "at alpha = 0.05" in result.verdict
    # the same folder against itself: no difference
    same = compare_runs(a, a, metric="balanced_accuracy")
    assert same.ttest["p_value"] is None and not same.significant and same.better is None
    assert same.verdict.startswith(
        "No significant difference in recording macro class-wise "
        "accuracy at alpha = 0.05 between Att-CRNN (logMel) [att] "
        "and Att-CRNN (logMel) [att]"
    )


def test_folders_that_differ_are_refused_naming_the_first_difference(two_runs, tmp_path):
    root, a, b, _, _ = two_runs

    def edited(name, edit):
        copy = tmp_path / name
        shutil.copytree(b, copy)
        edit(copy)
        return copy

    def results(folder, **changes):
        path = folder / "results.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))

    other_set = edited("set", lambda f: results(f, dataset="esc50"))
    with pytest.raises(
        ValueError,
        match=r"cannot be compared: the data sets differ: litis in "
        r"A, esc50 in B\.$",
    ):
        compare_runs(a, other_set)
    fewer = edited("folds", lambda f: results(f, folds_run=["fold2"]))
    with pytest.raises(ValueError, match=r"the folds differ: A ran fold1, fold2, B ran fold2"):
        compare_runs(a, fewer)

    def one_seed(folder):
        protocol = json.loads((folder / "protocol.json").read_text())
        protocol["settings"]["seeds"] = [1]
        (folder / "protocol.json").write_text(json.dumps(protocol))

    with pytest.raises(ValueError, match=r"the seeds differ: A ran 0, 1, B ran 1"):
        compare_runs(a, edited("seeds", one_seed))

    def other_recording(folder):
        path = folder / "folds" / "fold2" / "seed1" / "result.npz"
        with np.load(path) as data:
            arrays = dict(data)
        arrays["test_index"] = arrays["test_index"].copy()
        arrays["test_index"][1] += 100
        np.savez(path, **arrays)

    with pytest.raises(
        ValueError,
        match=r"fold2 \(seed 1\): test recording 1 is recording "
        r"\d+ in A but \d+ in B",
    ):
        compare_runs(a, edited("recordings", other_recording))

    def other_training(folder):
        path = folder / "folds" / "fold1" / "seed0" / "result.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "n_train": 5}))

    with pytest.raises(ValueError, match=r"fold1 \(seed 0\): A trained on 9 recordings, B on 5"):
        compare_runs(a, edited("training", other_training))
    with pytest.raises(ValueError, match="is not a finished skasc cv output folder"):
        compare_runs(a, tmp_path)


def test_outputs_are_checked_before_anything_is_read(two_runs, tmp_path, monkeypatch):
    from skasc.exceptions import CLIError

    _, a, b, _, _ = two_runs
    import skasc.protocol

    def no_reading(*args, **kwargs):
        raise AssertionError("a result folder was read before the outputs were checked")

    monkeypatch.setattr(skasc.protocol, "read_protocol", no_reading)
    with pytest.raises(
        CLIError,
        match=r"cannot write 'out' .*results\.json: it is a file of "
        r"result folder .*; an output never overwrites an input",
    ):
        compare_runs(a, b, out=Path(a) / "results.json")
    with pytest.raises(CLIError, match=r"cannot write 'json_out' .*result\.npz: it is a file"):
        compare_runs(a, b, json_out=Path(b) / "folds" / "fold1" / "seed0" / "result.npz")
    with pytest.raises(CLIError, match="the folder .*nowhere does not exist"):
        compare_runs(a, b, out=tmp_path / "nowhere" / "x.md")
    with pytest.raises(CLIError, match="it is the 'out' output"):
        compare_runs(a, b, out=tmp_path / "x", json_out=tmp_path / "x")
    with pytest.raises(ValueError, match="'metric' parameter of compare_runs"):
        compare_runs(a, b, metric="auc")
    with pytest.raises(ValueError, match="'alpha' parameter of compare_runs"):
        compare_runs(a, b, alpha=0.0)


# ----------------------------------------------------------------------------- known cases
def _write_run(folder, system, truth, predictions, *, n_train=20, seeds=(0,)):
    """A result folder in the format skasc cv writes: ``predictions[seed][fold]`` are the
    labels predicted for the recordings ``truth[fold]`` (no posteriors)."""
    folder.mkdir()
    settings = {"dataset": "csv", "network": "att_crnn", "features": "logmel"}
    settings.update({"random_state": seeds[0]} if len(seeds) == 1 else {"seeds": list(seeds)})
    (folder / "protocol.json").write_text(
        json.dumps({"format": "skasc-protocol", "settings": settings})
    )
    folds = [f"fold{k + 1}" for k in range(len(truth))]
    start = 0
    for k, (fold, y) in enumerate(zip(folds, truth)):
        index = np.arange(start, start + len(y))
        start += len(y)
        for seed in seeds:
            run = folder / "folds" / fold / (f"seed{seed}" if len(seeds) > 1 else "")
            run.mkdir(parents=True, exist_ok=True)
            np.savez(
                run / "result.npz",
                test_index=index,
                y_true=np.asarray(y),
                y_pred=np.asarray(predictions[seed][k]),
                classes=np.unique(y),
            )
            (run / "result.json").write_text(
                json.dumps(
                    {"fold": fold, "n_train": n_train, "n_test": len(y), "heldout_accuracy": {}}
                )
            )
    (folder / "results.json").write_text(
        json.dumps(
            {
                "dataset": "csv",
                "system": system,
                "classes": sorted({c for y in truth for c in y}),
                "folds_run": folds,
            }
        )
    )
    return folder


def _truth(n_folds=3, n=10):
    return [np.array(["bus", "park"] * (n // 2)) for _ in range(n_folds)]


def _wrong(y, k):
    """``y`` with its first ``k`` labels swapped (bus <-> park)."""
    out = y.copy()
    out[:k] = np.where(y[:k] == "bus", "park", "bus")
    return out


def test_a_clearly_better_system_by_hand(tmp_path):
    """3 folds of 10 recordings, 20 training recordings each: A right everywhere, B wrong
    on 3, 5 and 4 recordings. Differences 0.3, 0.5, 0.4: mean 0.4, sample variance
    0.01, factor 1/3 + 1/2; McNemar: 12 recordings only A gets right, exact p = 2 / 2^12."""
    truth = _truth()
    a = _write_run(tmp_path / "a", "A-net", truth, {0: truth})
    b = _write_run(
        tmp_path / "b", "B-net", truth, {0: [_wrong(y, k) for y, k in zip(truth, (3, 5, 4))]}
    )
    result = compare_runs(a, b)
    assert [r["difference"] for r in result.runs] == pytest.approx([0.3, 0.5, 0.4])
    se = math.sqrt((1 / 3 + 1 / 2) * 0.01)
    assert result.ttest["t"] == pytest.approx(0.4 / se)
    assert result.ttest["p_value"] == pytest.approx(2 * stats.t.sf(0.4 / se, 2))
    assert result.ttest["p_value"] < 0.05
    assert result.mcnemar[0]["a_only"] == 12 and result.mcnemar[0]["b_only"] == 0
    assert result.mcnemar[0]["p_value"] == pytest.approx(2 / 2**12)
    assert result.significant and result.better == "a"
    assert result.verdict.startswith(
        "A-net is better than B-net in recording accuracy at "
        "alpha = 0.05 (A - B = +40.00 percentage points, 95 % CI ["
    )
    assert result.verdict.endswith("McNemar's test agrees (p = 0.000488).")
    # the other way round: B is worse, and a stricter level changes the verdict
    flipped = compare_runs(b, a)
    assert flipped.better == "b" and flipped.runs[0]["difference"] == pytest.approx(-0.3)
    strict = compare_runs(a, b, alpha=0.01)
    assert not strict.significant and strict.verdict.startswith("No significant difference")
    assert "McNemar's test disagrees (p = 0.000488)" in strict.verdict
    assert "99 % CI" in strict.to_markdown()
    with pytest.raises(ValueError, match=r"System A \(.*a\) has no log_loss at recording level"):
        compare_runs(a, b, metric="log_loss")


def test_one_run_is_decided_by_mcnemar_and_seeds_each_get_one(tmp_path):
    truth = _truth(n_folds=1, n=40)
    a = _write_run(tmp_path / "a", "A-net", truth, {0: [_wrong(truth[0], 2)]})
    b = _write_run(tmp_path / "b", "B-net", truth, {0: [_wrong(truth[0], 30)]})
    result = compare_runs(a, b)
    assert result.ttest is None
    test = result.mcnemar[0]  # 28 discordant recordings: the chi-square form
    assert (test["a_only"], test["b_only"]) == (28, 0)
    assert test["method"] == "chi-square with continuity correction"
    assert test["statistic"] == pytest.approx(27**2 / 28)
    assert result.better == "a" and "the t-test needs two runs or more" in result.verdict
    assert "McNemar's test (chi-square with continuity correction)" in result.verdict
    assert "not possible with one run" in result.to_markdown()

    # two seeds of two folds: a t-test over 4 runs, and McNemar's test per seed
    truth = _truth(n_folds=2)
    preds_a = {0: truth, 1: [_wrong(y, 1) for y in truth]}
    preds_b = {0: [_wrong(y, 1) for y in truth], 1: truth}
    a = _write_run(tmp_path / "a2", "A-net", truth, preds_a, seeds=(0, 1))
    b = _write_run(tmp_path / "b2", "B-net", truth, preds_b, seeds=(0, 1))
    result = compare_runs(a, b)
    assert [r["difference"] for r in result.runs] == pytest.approx([0.1, 0.1, -0.1, -0.1])
    assert sorted(result.mcnemar) == [0, 1]
    assert (result.mcnemar[0]["a_only"], result.mcnemar[1]["b_only"]) == (2, 2)
    assert result.ttest["mean"] == pytest.approx(0.0) and not result.significant
    assert "McNemar's test is significant in 0 of 2 seeds" in result.verdict


def test_skasc_compare_command(two_runs, tmp_path, capsys):
    from skasc.cli import main

    _, a, b, _, _ = two_runs
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    assert (
        main(
            [
                "compare",
                str(a),
                str(b),
                "--out",
                str(md),
                "--json",
                str(js),
                "--metric",
                "balanced_accuracy",
                "--alpha",
                "0.1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    record = json.loads(js.read_text())
    assert record["metric"] == "balanced_accuracy" and record["alpha"] == 0.1
    assert record["verdict"] in out and md.read_text() in out
    assert main(["compare", str(a), str(b), "--out", str(Path(a) / "protocol.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skasc compare: error: cannot write --out ")
    assert main(["compare", str(a), str(tmp_path)]) == 2
    assert "is not a finished skasc cv output folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", str(a), str(b), "--alpha", "1.5"])


def test_read_protocol_gives_what_compare_pairs(two_runs):
    _, a, _, att, _ = two_runs
    read = read_protocol(a)
    assert [(r["fold"], r["seed"]) for r in read.runs] == [(r["fold"], r["seed"]) for r in att.runs]
    for x, y in zip(read.report.splits, att.report.splits):
        np.testing.assert_array_equal(x.proba, y.proba)
        assert x.scores == y.scores
