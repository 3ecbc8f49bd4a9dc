"""skasc.run_protocol and ``skasc cv``: official folds end to end, outputs, resumption.

Tiny networks (a few hundred weights), 1-3 epochs, recordings of a fraction of a
second to 4 s: the point is the protocol (folds, scores, files, resumption), not
accuracy.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from layouts_dcase import write_dcase
from layouts_esc_us8k import write_esc50, write_folder_csv, write_urbansound8k
from skasc.datasets import load_dataset, make_litis_like
from skasc.protocol import HeldOutAccuracy, run_protocol

ROOT = Path(__file__).resolve().parents[1]
TINY = {"module__n_filters": (4, 8, 8), "module__hidden_size": 8, "module__attention_size": 8}
#: make_litis_like's arguments for the tiny corpus the protocol tests share: 3 classes x 4
#: recordings of 4 s at 22050 Hz, 2 official splits.
TINY_LITIS = dict(
    n_recordings_per_class=4,
    n_classes=3,
    n_splits=2,
    test_size=0.25,
    duration=4.0,
    sr=22050,
    random_state=0,
)
RUN = dict(epochs=2, lr=1e-2, batch_size=16, eval_every=1, device="cpu", verbose=0, net_params=TINY)


@pytest.fixture(scope="module")
def litis(tmp_path_factory):
    """3 classes x 4 recordings of 4 s, 2 official splits."""
    return make_litis_like(tmp_path_factory.mktemp("litis"), **TINY_LITIS)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _direct_scores(split):
    from sklearn.metrics import accuracy_score, log_loss

    return accuracy_score(split.y_true, split.y_pred), log_loss(
        split.y_true, split.proba, labels=list(split.classes)
    )


def test_litis_run_writes_every_output_and_scores_each_fold(litis, tmp_path):
    out = tmp_path / "out"
    result = run_protocol("litis", litis, out=out, **RUN)
    ds = load_dataset("litis", litis)
    folds = list(ds.cv.split())
    res = result.results
    assert res["folds_run"] == ["fold1", "fold2"] and res["complete"] and res["seeds"] == [0]
    assert [run["fold"] for run in res["runs"]] == ["fold1", "fold2"]
    for (train, test), name, split, fold in zip(
        folds, res["folds_run"], result.report.splits, res["runs"]
    ):
        assert fold["fold"] == name and fold["seed"] == 0
        assert fold["n_train"] == len(train) and fold["n_test"] == len(test)
        np.testing.assert_array_equal(split.test_index, test)
        np.testing.assert_array_equal(split.y_true, np.asarray(ds.labels)[test])
        acc, loss = _direct_scores(split)
        assert fold["scores"]["recording"]["accuracy"] == pytest.approx(acc)
        assert fold["scores"]["recording"]["log_loss"] == pytest.approx(loss)
        # Figure 2: one held-out score per epoch (eval_every=1), fractions
        (curve,) = fold["heldout_accuracy"].values()
        assert [epoch for epoch, _ in curve] == [1, 2]
        assert all(0.0 <= acc <= 1.0 for _, acc in curve)
    accs = [run["scores"]["recording"]["accuracy"] for run in res["runs"]]
    assert res["summary"]["recording"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert res["summary"]["recording"]["accuracy"]["std"] == pytest.approx(np.std(accs))
    assert res["summary"]["recording"]["accuracy"]["folds"] == dict(zip(res["folds_run"], accs))
    assert "std_seeds" not in res["summary"]["recording"]["accuracy"]  # one seed
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(res))
    for name in (
        "results.md",
        "confusion-recordings.png",
        "confusion-segments.png",
        "reliability-recordings.png",
        "reliability-segments.png",
        "figure2.png",
    ):
        assert (out / name).stat().st_size > 0, name
    md = (out / "results.md").read_text()
    # LITIS keeps the paper's terms
    assert (
        "| System | 2s Acc. | 30s Acc. | Macro class-wise Acc. | F1-score | Prec. | Log loss |"
    ) in md
    assert "| fold2 | " in md
    assert "## Class-wise accuracy" in md and "| Class | 2s Acc. | 30s Acc. |" in md
    assert result.table().splitlines()[2].startswith("| Att-CRNN (logMel) | ")


def test_rerun_reads_finished_folds_back(litis, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = run_protocol("litis", litis, out=out, **RUN)
    import skasc.protocol as protocol

    def no_training(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(protocol, "predict_split", no_training)  # called after a fit only
    again = run_protocol("litis", litis, out=out, **RUN)
    assert again.results == first.results
    for a, b in zip(again.report.splits, first.report.splits):
        np.testing.assert_array_equal(a.proba, b.proba)
        np.testing.assert_array_equal(a.segment_proba, b.segment_proba)


def test_other_settings_in_the_same_folder_are_refused(litis, tmp_path):
    out = tmp_path / "out"
    run_protocol("litis", litis, out=out, folds=[1], **RUN)
    with pytest.raises(
        ValueError,
        match=r"holds a run with other settings \(epochs: 2 then, "
        r"3 now\)",
    ):
        run_protocol("litis", litis, out=out, folds=[1], **{**RUN, "epochs": 3})
    # how the networks train is a setting, also when it comes from the factories' defaults
    # (a run written before the recipe was recorded trained the paper's way)
    settings_file = out / "protocol.json"
    original = settings_file.read_text()
    record = json.loads(original)
    assert record["settings"]["training"]["lr_schedule"] == "cosine"
    del record["settings"]["training"]
    settings_file.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"other settings \(training: \{'crop': False"):
        run_protocol("litis", litis, out=out, folds=[1], **RUN)
    settings_file.write_text(original)
    # the folds to run are not a setting of the run: fold 2 is added to it
    more = run_protocol("litis", litis, out=out, folds=[2, 1], **RUN)
    assert more.results["folds_run"] == ["fold2", "fold1"]


def test_training_recipe_reads_the_networks_own_parameters():
    from skasc.pipelines import make_system
    from skasc.protocol import training_recipe

    assert training_recipe(make_system("att_crnn", "fusion", augment=True)) == {
        "crop": True,
        "freq_mask_width": 8,
        "time_mask_width": 10,
        "n_masks": 2,
        "lr_schedule": "cosine",
    }
    paper = make_system("cnn_baseline", augment=False, lr_schedule=None, net_params={"n_masks": 1})
    assert training_recipe(paper) == {
        "crop": False,
        "freq_mask_width": 0,
        "time_mask_width": 0,
        "n_masks": 1,
        "lr_schedule": None,
    }


def test_fold_selection_and_bad_settings(litis, tmp_path):
    only = run_protocol("litis", litis, out=tmp_path / "a", folds=[2], **RUN)
    assert only.results["folds_run"] == ["fold2"] and not only.results["complete"]
    assert not (tmp_path / "a" / "folds" / "fold1").exists()
    with pytest.raises(ValueError, match=r"fold numbers from 1 to 2 \(fold1, fold2\). Got 3"):
        run_protocol("litis", litis, out=tmp_path / "b", folds=[3], **RUN)
    with pytest.raises(ValueError, match="'features' parameter of run_protocol"):
        run_protocol("litis", litis, out=tmp_path / "b", **{**RUN, "features": "mfcc"})
    with pytest.raises(ValueError, match="'device' parameter of run_protocol"):
        run_protocol("litis", litis, out=tmp_path / "b", **{**RUN, "device": "gpu:x"})
    with pytest.raises(ValueError, match="Unknown data set 'litiss'; known: litis, "):
        run_protocol("litiss", litis, out=tmp_path / "b", **RUN)
    with pytest.raises(ValueError, match=r"expected the file .*fold1_train\.csv"):
        run_protocol("tau2019", litis, out=tmp_path / "b", **RUN)


@pytest.mark.parametrize("name", ["tut2017", "tau2020mobile"])
def test_dcase_layouts_end_to_end_with_devices(name, tmp_path):
    root = write_dcase(
        tmp_path / "data", name, classes=["bus", "park", "tram"], duration=2.0, sr=8000
    )
    result = run_protocol(name, root, out=tmp_path / "out", **{**RUN, "epochs": 1})
    ds = load_dataset(name, root)
    res = result.results
    assert res["folds_run"] == ds.cv.fold_names and res["complete"]
    if ds.devices is None:
        assert "devices" not in res["summary"]
        return
    (split,) = result.report.splits
    ((train, test),) = ds.cv.split()
    devices = np.asarray(ds.devices)[split.test_index]
    seen = set(np.asarray(ds.devices)[train])
    for device, score in res["runs"][0]["devices"].items():
        mine = devices == device
        assert score["accuracy"] == pytest.approx(np.mean(split.y_pred[mine] == split.y_true[mine]))
        assert score["seen"] == (device in seen) and score["n_recordings"] == mine.sum()
    assert set(res["summary"]["devices"]) == set(devices)
    md = (tmp_path / "out" / "results.md").read_text()
    assert "## Recordings per device" in md
    # the levels are named by what they are, not by LITIS's terms
    assert "| System | 2-s segment Acc. | Recording Acc. | Macro class-wise Acc. |" in md


def _layout(name, root):
    """A tiny folder of each registered layout, 2-s recordings."""
    if name in ("esc50", "esc10"):
        return write_esc50(root, targets=(0, 1, 41), takes=1, duration=2.0)[0]
    if name == "urbansound8k":
        return write_urbansound8k(root, class_ids=(1, 3), slices=1, duration=2.0)[0]
    if name == "csv":
        return write_folder_csv(root, folds=("a", "b"), duration=2.0)[0]
    if name == "litis":
        return make_litis_like(
            root,
            n_recordings_per_class=3,
            n_classes=2,
            n_splits=2,
            test_size=0.34,
            duration=2.0,
            sr=8000,
            random_state=0,
        )
    return write_dcase(
        root, name, classes=["bus", "park"], duration=2.0, sr=8000, segments_per_location=1
    )


@pytest.mark.parametrize(
    "name",
    [
        "litis",
        "esc50",
        "esc10",
        "urbansound8k",
        "tut2016",
        "tut2017",
        "tut2018",
        "tut2018mobile",
        "tau2019",
        "tau2019mobile",
        "tau2020mobile",
        "tau2022mobile",
        "csv",
    ],
)
def test_every_registered_layout_runs_end_to_end(name, tmp_path):
    from skasc.datasets import DATASETS

    assert name in DATASETS
    root = _layout(name, tmp_path / "data")
    ds = load_dataset(name, root)
    result = run_protocol(
        name,
        root,
        out=tmp_path / "out",
        folds=[1, 2][: ds.cv.get_n_splits()],
        **{**RUN, "epochs": 1},
    )
    res = result.results
    assert res["dataset"] == name and res["folds_run"] == ds.cv.fold_names[:2]
    for run, (_, test) in zip(res["runs"], ds.cv.split()):
        assert run["n_test"] == len(test)
    assert (ds.devices is not None) == ("devices" in res["summary"])
    assert (tmp_path / "out" / "results.md").exists()


def test_fused_system_records_both_networks_curves(litis, tmp_path):
    result = run_protocol(
        "litis", litis, out=tmp_path / "out", features="fusion", folds=[1], **{**RUN, "epochs": 1}
    )
    curves = result.results["runs"][0]["heldout_accuracy"]
    assert sorted(curves) == ["loggam", "logmel"] and all(len(c) == 1 for c in curves.values())
    assert result.results["system"] == "Att-CRNN (fusion)"


def test_heldout_scoring_changes_no_weight_and_scores_like_predict(one_thread):
    from skasc.nn import AttCRNNClassifier

    rng = np.random.default_rng(0)
    codes = np.arange(40) % 2
    X = rng.normal(size=(40, 2, 64, 8)).astype(np.float32) + codes[:, None, None, None]
    Xh, yh = X[:10] + 0.1, codes[:10]
    params = dict(
        **TINY, max_epochs=3, lr=1e-2, batch_size=8, random_state=0, device="cpu", verbose=0
    )
    plain = AttCRNNClassifier(**params).fit(X, codes)
    scored = AttCRNNClassifier(
        **params, callbacks=[("heldout", HeldOutAccuracy(Xh, yh, every=2))]
    ).fit(X, codes)
    for key, value in plain.module_.state_dict().items():
        assert torch.equal(value, scored.module_.state_dict()[key]), key
    assert [row["heldout_acc"] is not None for row in scored.history] == [False, True, True]
    assert scored.history[-1, "heldout_acc"] == pytest.approx(np.mean(scored.predict(Xh) == yh))


CLI_TINY = [
    "--net-param",
    "module__n_filters=[4,8,8]",
    "--net-param",
    "module__hidden_size=8",
    "--net-param",
    "module__attention_size=8",
]


def _cli(root, out, *extra):
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skasc",
            "cv",
            "litis",
            str(root),
            "--epochs",
            "8",
            "--lr",
            "1e-2",
            "--batch-size",
            "8",
            "--eval-every",
            "2",
            "--device",
            "cpu",
            "--out",
            str(out),
            *CLI_TINY,
            *extra,
        ],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra,headers",
    [
        ((), ("fold 1 of 2 (fold1)", "fold 2 of 2 (fold2)")),
        (
            ("--folds", "2", "--seeds", "0,1"),
            ("run 1 of 2 (fold2, seed 0)", "run 2 of 2 (fold2, seed 1)"),
        ),
    ],
)
def test_killed_cv_resumes_and_ends_where_the_uninterrupted_run_does(
    litis, tmp_path, extra, headers
):
    reference = _cli(litis, tmp_path / "ref", *extra)
    text, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, text
    assert all(header in text for header in headers) and "left" in text
    assert "heldout_acc" in text  # skorch's epoch table

    out = tmp_path / "killed"
    proc = _cli(litis, out, *extra)
    deadline = time.monotonic() + 120
    while not list(out.glob("folds/**/checkpoint.pt")):  # an epoch is done
        assert proc.poll() is None, "the run finished before an epoch was checkpointed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(np.random.default_rng(3).uniform(0.0, 0.3))
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not (out / "results.json").exists()

    rerun = _cli(litis, out, *extra)
    text, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, text
    mine = json.loads((out / "results.json").read_text())
    ref = json.loads((tmp_path / "ref" / "results.json").read_text())
    assert mine["summary"] == ref["summary"]
    for run, ref_run in zip(mine["runs"], ref["runs"]):
        assert (run["fold"], run["seed"]) == (ref_run["fold"], ref_run["seed"])
        assert run["scores"] == ref_run["scores"]
        assert run["heldout_accuracy"] == ref_run["heldout_accuracy"]


def test_cli_errors_are_one_line(litis, tmp_path):
    from skasc.cli import main

    assert main(["cv", "nope", str(litis), "--out", str(tmp_path / "o")]) == 2
    assert main(["cv", "tau2022mobile", str(litis), "--out", str(tmp_path / "o")]) == 2
    with pytest.raises(SystemExit):
        main(["cv", "litis", str(litis), "--folds", "0"])
    with pytest.raises(SystemExit):
        main(["cv", "litis", str(litis), "--net-param", "hidden"])


def test_faults_found_before_anything_is_written(litis, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="unexpected argument.*hiden_size"):
        run_protocol("litis", litis, out=out, **{**RUN, "net_params": {"hiden_size": 8}})
    with pytest.raises(ValueError, match="'classifier' parameter of run_protocol"):
        run_protocol("litis", litis, out=out, classifier="svn", **RUN)
    assert not (out / "protocol.json").exists()
    # the corrected command then runs in the same folder
    assert run_protocol("litis", litis, out=out, folds=[1], **RUN).results["folds_run"] == ["fold1"]


def test_a_stale_fold_result_is_refused(litis, tmp_path):
    import shutil

    out = tmp_path / "out"
    run_protocol("litis", litis, out=out, **RUN)
    # fold2's result copied over fold1's: another split's test recordings
    shutil.rmtree(out / "folds" / "fold1")
    shutil.copytree(out / "folds" / "fold2", out / "folds" / "fold1")
    with pytest.raises(ValueError, match=r"folds/fold1 holds the result of another fold1"):
        run_protocol("litis", litis, out=out, **RUN)


def test_user_callbacks_are_kept_beside_the_heldout_scoring(litis, tmp_path):
    from skorch.callbacks import Callback

    class Count(Callback):
        epochs = 0

        def on_epoch_end(self, net, **kwargs):
            type(self).epochs += 1

    run_protocol(
        "litis",
        litis,
        out=tmp_path / "out",
        folds=[1],
        **{**RUN, "net_params": {**TINY, "callbacks": [("count", Count())]}},
    )
    assert Count.epochs == RUN["epochs"]


def test_user_errors_of_skasc_cv_are_one_line_before_training(tmp_path, capsys):
    """A misspelt network parameter (refused by skorch) and a fold testing a class its
    training recordings lack: one line each, exit 2, nothing written."""
    from skasc.cli import main

    root, _ = write_folder_csv(tmp_path / "set", folds=("1", "2"))
    out = tmp_path / "out"
    assert main(["cv", "csv", str(root), "--out", str(out), "--net-param", "hiden_size=8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "skasc cv: error: The 'net_params' parameter of run_protocol does not fit the network: "
    )
    assert "hiden_size" in err[0]
    with open(Path(root) / "metadata.csv", "a") as fh:
        fh.write("audio/tram-1-0.wav,tram,1\n")
    import shutil

    shutil.copy(Path(root) / "audio" / "bus-1-0.wav", Path(root) / "audio" / "tram-1-0.wav")
    assert main(["cv", "csv", str(root), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "skasc cv: error: Fold fold1 of csv tests classes never seen in its training "
        "recordings: "
        "['tram']."
    ]
    assert not out.exists()


def test_a_damaged_fold_result_is_a_user_error(litis, tmp_path):
    from skasc.exceptions import SkascValueError

    out = tmp_path / "out"
    run_protocol("litis", litis, out=out, folds=[1], **RUN)
    (out / "folds" / "fold1" / "result.json").write_text("{not json")
    with pytest.raises(
        SkascValueError,
        match=r"folds/fold1 does not hold a fold result skasc "
        r"wrote \(JSONDecodeError: .*\); move it away",
    ):
        run_protocol("litis", litis, out=out, folds=[1], **RUN)


# ----------------------------------------------------------------------------- repeated runs
def test_seeds_run_every_fold_once_per_seed(litis, tmp_path):
    out = tmp_path / "out"
    result = run_protocol("litis", litis, out=out, seeds=[0, 3], **RUN)
    res = result.results
    assert res["seeds"] == [0, 3] and "seeds" in res["settings"]
    assert [(r["fold"], r["seed"]) for r in res["runs"]] == [
        ("fold1", 0),
        ("fold2", 0),
        ("fold1", 3),
        ("fold2", 3),
    ]
    for fold in ("fold1", "fold2"):
        for seed in (0, 3):
            assert (out / "folds" / fold / f"seed{seed}" / "result.json").is_file()
    assert sorted(result.reports) == [0, 3] and len(result.report.splits) == 4
    # the seed is the networks' and SVM's random_state: seed 0 is the single-seed run
    single = run_protocol("litis", litis, out=tmp_path / "single", folds=[1], **RUN)
    np.testing.assert_array_equal(single.report.splits[0].proba, result.reports[0].splits[0].proba)
    assert not np.array_equal(result.reports[0].splits[0].proba, result.reports[3].splits[0].proba)
    # mean +- std over folds and over seeds, from the runs' own scores
    acc = {(r["fold"], r["seed"]): r["scores"]["recording"]["accuracy"] for r in res["runs"]}
    summary = res["summary"]["recording"]["accuracy"]
    by_fold = [np.mean([acc[f, 0], acc[f, 3]]) for f in ("fold1", "fold2")]
    by_seed = [np.mean([acc["fold1", s], acc["fold2", s]]) for s in (0, 3)]
    assert summary["mean"] == pytest.approx(np.mean(list(acc.values())))
    assert summary["std"] == pytest.approx(np.std(by_fold))
    assert summary["std_seeds"] == pytest.approx(np.std(by_seed))
    assert summary["seeds"] == pytest.approx({"0": by_seed[0], "3": by_seed[1]})
    first = res["classes"][0]
    classwise = {
        (r["fold"], r["seed"]): r["scores"]["segment"]["class_accuracy"][first] for r in res["runs"]
    }
    assert res["summary"]["segment"]["class_accuracy"][first]["mean"] == pytest.approx(
        np.mean([np.mean([classwise[f, s] for s in (0, 3)]) for f in ("fold1", "fold2")])
    )
    # the table: mean +- std over the seeds
    row = result.table().splitlines()[2].split(" | ")
    assert row[2] == f"{100 * np.mean(by_seed):.2f} ± {100 * np.std(by_seed):.2f}"
    md = (out / "results.md").read_text()
    assert "mean ± std over the 2 seeds (0, 3)" in md
    assert (out / "figure2.png").stat().st_size > 0


def test_a_seeds_run_resumes_and_refuses_other_seeds(litis, tmp_path, monkeypatch):
    import skasc.protocol as protocol

    reference = run_protocol("litis", litis, out=tmp_path / "ref", folds=[1], seeds=[0, 1], **RUN)
    out = tmp_path / "out"
    calls = []

    def interrupted(*args, **kwargs):  # Ctrl-C after the second run's training
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return predict_split(*args, **kwargs)

    predict_split = protocol.predict_split
    monkeypatch.setattr(protocol, "predict_split", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_protocol("litis", litis, out=out, folds=[1], seeds=[0, 1], **RUN)
    assert (out / "folds" / "fold1" / "seed0" / "result.json").is_file()
    assert not (out / "folds" / "fold1" / "seed1" / "result.json").exists()
    assert not (out / "results.json").exists()
    again = run_protocol("litis", litis, out=out, folds=[1], seeds=[0, 1], **RUN)
    assert len(calls) == 3  # only the interrupted run was predicted again
    assert again.results["summary"] == reference.results["summary"]
    for a, b in zip(again.report.splits, reference.report.splits):
        np.testing.assert_array_equal(a.proba, b.proba)
    with pytest.raises(ValueError, match=r"other settings \(seeds: \[0, 1\] then, \[0, 2\] now\)"):
        run_protocol("litis", litis, out=out, folds=[1], seeds=[0, 2], **RUN)
    with pytest.raises(
        ValueError,
        match=r"random_state: None then, 0 now; seeds: \[0, 1\] "
        r"then, None now",
    ):
        run_protocol("litis", litis, out=out, folds=[1], **RUN)


def test_bad_seeds_are_refused_before_anything_is_written(litis, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"takes 'random_state' \(one run per fold\) or 'seeds'"):
        run_protocol("litis", litis, out=out, random_state=1, seeds=[0, 1], **RUN)
    with pytest.raises(ValueError, match="lists seed 1 twice"):
        run_protocol("litis", litis, out=out, seeds=[1, 1], **RUN)
    with pytest.raises(ValueError, match="'seeds' parameter of run_protocol must be a non-empty"):
        run_protocol("litis", litis, out=out, seeds=[], **RUN)
    with pytest.raises(ValueError, match="'seeds' parameter of run_protocol must be an int"):
        run_protocol("litis", litis, out=out, seeds=[0, -1], **RUN)
    assert not out.exists()


def test_skasc_cv_takes_seeds(litis, tmp_path, capsys):
    from skasc.cli import main

    out = tmp_path / "out"
    args = [
        "cv",
        "litis",
        str(litis),
        "--folds",
        "1",
        "--epochs",
        "1",
        "--lr",
        "1e-2",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--eval-every",
        "0",
        *CLI_TINY,
    ]
    assert main([*args, "--out", str(out), "--seeds", "2,0"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["seeds"] == [2, 0] and [r["seed"] for r in res["runs"]] == [2, 0]
    assert main([*args, "--out", str(tmp_path / "o"), "--seeds", "1,1"]) == 2
    assert capsys.readouterr().err.strip().endswith("lists seed 1 twice.")
    for bad in (["--seeds", "0,x"], ["--seeds", "0,,1"], ["--seed", "1", "--seeds", "0,1"]):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--out", str(tmp_path / "o"), *bad])
        assert exc.value.code == 2
    assert not (tmp_path / "o").exists()


def test_a_folder_written_before_seeds_and_class_wise_scores_still_loads(
    litis, tmp_path, monkeypatch
):
    """Result folders of the previous format (fold results without the class-wise scores
    or the seed, results.json with 'folds' and 'device_accuracy') resume, and are read
    back with today's scores."""
    from skasc.protocol import read_protocol

    out = tmp_path / "out"
    fresh = run_protocol("litis", litis, out=out, **RUN)
    for path in out.glob("folds/*/result.json"):  # as the previous skasc wrote them
        info = json.loads(path.read_text())
        del info["seed"]
        for level in ("recording", "segment"):
            for key in ("balanced_accuracy", "class_accuracy"):
                del info["scores"][level][key]
        path.write_text(json.dumps(info))
    old = {k: v for k, v in fresh.results.items() if k not in ("runs", "seeds", "segment_duration")}
    old["folds"] = {r["fold"]: r for r in fresh.results["runs"]}
    (out / "results.json").write_text(json.dumps(old))
    settings = json.loads((out / "protocol.json").read_text())["settings"]
    assert settings["random_state"] == 0 and "seeds" not in settings  # the old record

    read = read_protocol(out)
    assert [r["seed"] for r in read.runs] == [0, 0]
    for a, b in zip(read.report.splits, fresh.report.splits):
        assert a.scores == b.scores  # the class-wise scores computed again
    assert read.report.mean("recording", "balanced_accuracy") == pytest.approx(
        fresh.report.mean("recording", "balanced_accuracy")
    )

    import skasc.protocol as protocol

    def no_training(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(protocol, "predict_split", no_training)
    again = run_protocol("litis", litis, out=out, **RUN)
    assert again.results == json.loads(json.dumps(fresh.results))


def test_read_protocol_refuses_what_is_not_a_finished_run(litis, tmp_path):
    from skasc.protocol import read_protocol

    with pytest.raises(
        ValueError,
        match=r"is not a finished skasc cv output folder: its "
        r"protocol.json does not exist",
    ):
        read_protocol(tmp_path)
    out = tmp_path / "out"
    run_protocol("litis", litis, out=out, folds=[1], **RUN)
    import shutil

    shutil.rmtree(out / "folds" / "fold1")
    with pytest.raises(
        ValueError,
        match=r"lists fold fold1 \(seed 0\) but .*fold1 holds no "
        r"finished result",
    ):
        read_protocol(out)
    (out / "results.json").write_text("[]")
    with pytest.raises(ValueError, match="is not a results file skasc wrote"):
        read_protocol(out)
