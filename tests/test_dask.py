"""Cross-validation on a Dask cluster gives the single-process scores.

A two-worker ``distributed.LocalCluster`` (processes started by Dask's nanny,
one thread each) runs ``cross_val_score`` through joblib's Dask backend on a tiny
LITIS-shaped corpus. Everything that travels to the workers must pickle.
"""

import logging
import os
import pickle

import numpy as np
import pytest

pytest.importorskip("dask.distributed", reason="dask.distributed is not installed")
import distributed  # noqa: E402
from joblib import parallel_config  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skasc.datasets import LitisSplits, load_litis_rouen, make_litis_like  # noqa: E402
from skasc.frontend.front_end import FrontEnd  # noqa: E402
from skasc.pipelines import make_att_crnn_pipeline  # noqa: E402
from test_protocol import TINY_LITIS  # noqa: E402

NET_PARAMS = {"module__n_filters": (4, 8, 8), "module__hidden_size": 8, "module__attention_size": 8}


def _single_threaded() -> int:
    import torch

    torch.set_num_threads(1)
    return torch.get_num_threads()


def _imported(name: str) -> bool:
    import sys

    return name in sys.modules


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each; closed after the module."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    client = distributed.Client(cluster)
    try:
        assert client.run(_single_threaded) == dict.fromkeys(client.run(os.getpid), 1)
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def litis(tmp_path_factory):
    """3 classes x 4 recordings of 4 s at 22050 Hz, 2 train/test splits."""
    root = make_litis_like(tmp_path_factory.mktemp("litis"), **TINY_LITIS)
    paths, labels, _ = load_litis_rouen(root)
    return root, paths, labels


def tiny_pipeline(**kwargs):
    return make_att_crnn_pipeline(
        max_epochs=2,
        lr=1e-2,
        batch_size=16,
        random_state=0,
        verbose=0,
        net_params=NET_PARAMS,
        **kwargs,
    )


@pytest.fixture
def single_threaded():
    """The single-process reference runs torch and BLAS on one thread, like the workers.

    Several BLAS threads sum the filterbank products in another order, which changes
    the last bit of some features; trained for a few epochs at a high learning rate,
    the tiny network then ends elsewhere.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_cross_val_score_on_dask_equals_single_process(client, litis, single_threaded):
    root, paths, labels = litis
    cv = LitisSplits(root)
    local = cross_val_score(tiny_pipeline(), paths, labels, cv=cv)
    with parallel_config(backend="dask"):
        remote = cross_val_score(tiny_pipeline(), paths, labels, cv=cv, n_jobs=2)
    assert local.shape == (2,)
    np.testing.assert_array_equal(remote, local)
    # the networks were trained on the workers (which imported skasc.nn to unpickle them)
    assert any(client.run(_imported, "skasc.nn").values())


@pytest.mark.slow
def test_frontend_with_cache_path_runs_on_workers(client, litis, tmp_path, capsys, single_threaded):
    _, paths, _ = litis
    cache = str(tmp_path / "cache")  # a folder every worker sees (one machine here)
    front = FrontEnd(memory=cache)
    local = FrontEnd().transform(paths[:4])
    futures = client.map(front.transform, [paths[:2], paths[2:4]])
    remote = np.concatenate(client.gather(futures))
    np.testing.assert_array_equal(remote, local)
    # the workers filled the shared cache: a local run is served from it
    assert os.listdir(cache)
    again = FrontEnd(memory=cache, verbose=1).transform(paths[:4])
    assert "4/4 recordings served from the cache" in capsys.readouterr().out
    np.testing.assert_array_equal(again, local)


def test_what_travels_to_workers_pickles(litis, tmp_path):
    root, paths, labels = litis
    pipe = tiny_pipeline(feature_cache=str(tmp_path / "cache"))
    for obj in (
        pipe,
        clone(pipe),
        LitisSplits(root),
        LitisSplits(root, n_splits=1),
        FrontEnd(memory=str(tmp_path / "cache")),
        paths,
        labels,
    ):
        again = pickle.loads(pickle.dumps(obj))
        assert type(again) is type(obj)
    again = pickle.loads(pickle.dumps(pipe))
    assert again.get_params()["frontend__memory"] == str(tmp_path / "cache")
    assert (
        again.get_params()["fusion__estimator__net__module__n_filters"]
        == NET_PARAMS["module__n_filters"]
    )
    cv = pickle.loads(pickle.dumps(LitisSplits(root)))
    for (a_train, a_test), (b_train, b_test) in zip(cv.split(paths), LitisSplits(root).split()):
        np.testing.assert_array_equal(a_train, b_train)
        np.testing.assert_array_equal(a_test, b_test)


def test_fitted_pipeline_pickles_and_predicts_the_same(litis, single_threaded):
    _, paths, labels = litis
    pipe = tiny_pipeline().fit(paths[:9], labels[:9])
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(paths[9:]), pipe.predict(paths[9:]))


@pytest.mark.slow
def test_run_protocol_on_dask_equals_the_local_run(client, litis, tmp_path, single_threaded):
    from skasc.protocol import run_protocol

    root, _, _ = litis
    settings = dict(
        epochs=2,
        lr=1e-2,
        batch_size=16,
        eval_every=1,
        device="cpu",
        verbose=0,
        net_params=NET_PARAMS,
    )
    local = run_protocol("litis", root, out=tmp_path / "local", **settings)
    remote = run_protocol(
        "litis", root, out=tmp_path / "remote", scheduler=client.scheduler.address, **settings
    )
    assert remote.results["folds_run"] == local.results["folds_run"] == ["fold1", "fold2"]
    assert remote.results["summary"] == local.results["summary"]
    for a, b in zip(remote.report.splits, local.report.splits):
        np.testing.assert_array_equal(a.proba, b.proba)
        np.testing.assert_array_equal(a.y_pred, b.y_pred)
    for remote_run, local_run in zip(remote.results["runs"], local.results["runs"]):
        assert remote_run["heldout_accuracy"] == local_run["heldout_accuracy"]
    # the folds were trained on the workers
    assert any(client.run(_imported, "skasc.protocol").values())
