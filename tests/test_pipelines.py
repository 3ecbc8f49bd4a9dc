"""The whole system as one Pipeline (issue 4): paths and arrays, CV over LitisSplits,
GridSearchCV over C with one network fit per split, and the fused systems."""

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from skasc import (
    LitisSplits,
    RecordingFusion,
    Segmenter,
    SystemFusion,
    load_litis_rouen,
    make_att_crnn_pipeline,
    make_cnn_baseline_pipeline,
    make_fused_pipeline,
    write_litis_layout,
)

TINY = {"module__n_filters": (4, 8, 8), "module__hidden_size": 8, "module__attention_size": 8}
CNN_TINY = {"module__n_filters": (4, 8, 8)}
#: A tiny Att-CRNN net fitted directly (not through a factory), on the CPU.
TINY_NET = dict(TINY, lr=1e-2, random_state=0, device="cpu", verbose=0)
SR = 22050


def tiny(factory=make_att_crnn_pipeline, **kwargs):
    params = dict(max_epochs=3, lr=1e-2, batch_size=16, random_state=0, verbose=0, net_params=TINY)
    params.update(kwargs)
    pipe = factory(**params)
    # 0.5-s segments (64 x 20 images) keep the tests quick; the rule is the same.
    return pipe.set_params(frontend__segmenter=Segmenter(segment_duration=0.5))


def tone_corpus(rng, n_per_class=4, seconds=2.0):
    """Three classes: a low tone, a high tone, and noise bursts, each in background noise."""
    t = np.arange(int(SR * seconds)) / SR
    X, y = [], []
    for k in range(n_per_class):
        noise = 0.01 * rng.standard_normal(t.size)
        X.append(0.3 * np.sin(2 * np.pi * 400 * (1 + 0.02 * k) * t) + noise)
        y.append("low")
        X.append(0.3 * np.sin(2 * np.pi * 5000 * (1 + 0.02 * k) * t) + noise)
        y.append("high")
        X.append(noise * (1 + 20 * (np.sin(2 * np.pi * 2 * t) > 0.7)))
        y.append("bursts")
    return [x.astype(np.float32) for x in X], np.array(y)


@pytest.fixture(scope="module")
def corpus():
    return tone_corpus(np.random.default_rng(0))


@pytest.fixture(scope="module")
def litis_root(tmp_path_factory, corpus):
    X, y = corpus
    root = tmp_path_factory.mktemp("litis")
    idx = np.arange(len(y))
    splits = [(idx[idx % 4 != s], idx[idx % 4 == s]) for s in (0, 1)]
    write_litis_layout(root, X, y, sr=SR, splits=splits)
    return root


def test_fit_on_arrays_learns_and_keeps_user_labels(corpus):
    X, y = corpus
    pipe = tiny().fit(X, y)
    assert list(pipe.classes_) == sorted(set(y))
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (pipe.predict(X) == y).mean() > 0.6  # chance is 1/3


def test_fit_on_paths_equals_fit_on_loaded_arrays(litis_root):
    paths, labels, _ = load_litis_rouen(litis_root)
    from skasc import AudioLoader

    arrays = list(AudioLoader().transform(paths))
    a = (
        tiny(make_cnn_baseline_pipeline, net_params=CNN_TINY)
        .fit(paths, labels)
        .predict_proba(paths)
    )
    b = (
        tiny(make_cnn_baseline_pipeline, net_params=CNN_TINY)
        .fit(arrays, labels)
        .predict_proba(arrays)
    )
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("recording_posteriors", ["mean", "calibrated", "paper"])
def test_softmax_path_and_segment_level_predictions(corpus, recording_posteriors):
    X, y = corpus
    pipe = tiny(classifier="softmax", recording_posteriors=recording_posteriors).fit(X, y)
    fusion = pipe.named_steps["fusion"]
    feats = pipe.named_steps["frontend"].transform(X)
    seg = fusion.predict_proba_segments(feats)
    assert seg.shape == (len(X) * 4, 3)  # 2 s -> 4 segments of 0.5 s
    floored = np.clip(seg.reshape(len(X), 4, 3), fusion.floor, None)
    if recording_posteriors == "paper":  # the renormalised product of the segments'
        fused = np.prod(floored, axis=1)
        assert fusion.temperature_ == 1.0 and fusion.holdout_index_.size == 0
    elif recording_posteriors == "mean":  # their geometric mean, every recording trained
        fused = np.exp(np.log(floored).mean(axis=1))
        assert fusion.temperature_ == 1.0 and fusion.holdout_index_.size == 0
    else:  # their geometric mean, tempered by the held-out recordings' temperature
        fused = np.exp(np.log(floored).mean(axis=1) / fusion.temperature_)
        assert fusion.holdout_index_.size > 0 and fusion.temperature_ != 1.0
    np.testing.assert_allclose(
        pipe.predict_proba(X), fused / fused.sum(1, keepdims=True), rtol=1e-4, atol=1e-6
    )


def test_cross_val_score_over_litis_splits(litis_root):
    paths, labels, _ = load_litis_rouen(litis_root)
    cv = LitisSplits(litis_root)
    scores = cross_val_score(tiny(), paths, labels, cv=cv)
    # the same seeds, fitted and scored by hand on the official splits' indices
    paths = np.asarray(paths)
    expected = [
        tiny().fit(list(paths[tr]), labels[tr]).score(list(paths[te]), labels[te])
        for tr, te in cv.split(paths, labels)
    ]
    np.testing.assert_array_equal(scores, expected)


def test_grid_search_over_C_trains_one_network_per_split(corpus, tmp_path, monkeypatch):
    from skasc.nn import AttCRNNClassifier

    fits = []
    original = AttCRNNClassifier.fit

    def counting_fit(self, X, y=None, **kw):
        fits.append(len(X))
        return original(self, X, y, **kw)

    monkeypatch.setattr(AttCRNNClassifier, "fit", counting_fit)
    X, y = corpus
    search = GridSearchCV(
        tiny(memory=str(tmp_path / "cache")),
        {"fusion__estimator__svm__estimator__C": [0.01, 0.1, 1.0]},
        cv=2,
    )
    search.fit(X, y)
    # 2 splits x 3 values of C, then the refit on all data: 3 networks, not 7.
    assert len(fits) == 3
    assert search.best_params_["fusion__estimator__svm__estimator__C"] in (0.01, 0.1, 1.0)


def test_fused_system_is_product_of_the_two(corpus):
    X, y = corpus
    fused = make_fused_pipeline(
        max_epochs=2,
        lr=1e-2,
        batch_size=16,
        random_state=0,
        verbose=0,
        net_params=TINY,
        classifier="softmax",
    )
    fused.set_params(frontend__segmenter=Segmenter(segment_duration=0.5))
    assert isinstance(fused.named_steps["fusion"], SystemFusion)
    fused.fit(X, y)
    systems = fused.named_steps["fusion"].named_estimators_
    frontend = fused.named_steps["frontend"]
    p1 = systems["logmel"].predict_proba(frontend.transform(X))
    p2 = systems["loggam"].predict_proba(frontend.transform(X))
    prod = p1 * p2
    np.testing.assert_allclose(
        fused.predict_proba(X), prod / prod.sum(1, keepdims=True), rtol=1e-4, atol=1e-6
    )


def test_fused_systems_see_the_features_of_the_single_front_ends(corpus):
    """One shared front end gives each system exactly what its own front end would."""
    X, _ = corpus
    fused = make_fused_pipeline(net_params=TINY)
    fused.set_params(frontend__segmenter=Segmenter(segment_duration=0.5))
    stacked = fused.named_steps["frontend"].transform(X[:3])
    for features in ("logmel", "loggam"):
        single = make_att_crnn_pipeline(features).named_steps["frontend"]
        single.set_params(segmenter=Segmenter(segment_duration=0.5))
        system = fused.named_steps["fusion"].named_estimators[features]
        np.testing.assert_array_equal(
            system.named_steps["features"].transform(stacked), single.transform(X[:3])
        )


def test_fused_front_end_decodes_each_recording_once(corpus, tmp_path, monkeypatch):
    """fit reads every recording once and caches one entry per recording."""
    import os

    import soundfile as sf

    from skasc.frontend import audio

    X, y = corpus
    paths = []
    for i, x in enumerate(X[:6]):
        paths.append(str(tmp_path / f"r{i}.wav"))
        sf.write(paths[-1], x, 22050, subtype="FLOAT")
    reads = []
    real = audio._read_file
    monkeypatch.setattr(audio, "_read_file", lambda path, sr: reads.append(path) or real(path, sr))
    fused = make_fused_pipeline(
        max_epochs=1,
        batch_size=16,
        random_state=0,
        verbose=0,
        net_params=TINY,
        classifier="softmax",
        feature_cache=str(tmp_path / "cache"),
    )
    fused.set_params(frontend__segmenter=Segmenter(segment_duration=0.5))
    fused.fit(paths, y[:6])
    assert sorted(reads) == sorted(paths)
    entries = [
        f for _, _, files in os.walk(tmp_path / "cache") for f in files if f.endswith(".npy")
    ]
    assert len(entries) == len(paths)


def test_factories_expose_steps_by_name_and_clone():
    pipe = make_att_crnn_pipeline("loggam")
    params = pipe.get_params()
    assert params["fusion__estimator__svm__estimator__C"] == 0.1
    assert params["fusion__estimator__net__lr"] == 1e-4
    assert params["fusion__estimator__net__max_epochs"] == 500
    assert params["fusion__estimator__net__batch_size"] == 100
    assert type(params["frontend__extractor"]).__name__ == "GammatoneExtractor"
    assert isinstance(pipe.named_steps["fusion"], RecordingFusion)
    clone(pipe).set_params(fusion__estimator__svm__estimator__C=1.0)
    with pytest.raises(ValueError, match="'features' parameter"):
        make_att_crnn_pipeline("mfcc")
    with pytest.raises(ValueError, match="'classifier' parameter"):
        make_att_crnn_pipeline(classifier="rf")


def test_integer_labels_and_stable_class_order(corpus):
    X, y = corpus
    codes = {"low": 7, "high": 2, "bursts": 30}
    y_int = np.array([codes[v] for v in y])
    pipe = tiny(classifier="softmax", max_epochs=1).fit(X, y_int)
    assert list(pipe.classes_) == [2, 7, 30]
    assert set(pipe.predict(X)) <= {2, 7, 30}
    shuffled = np.random.default_rng(1).permutation(len(X))
    again = tiny(classifier="softmax", max_epochs=1).fit([X[i] for i in shuffled], y_int[shuffled])
    assert list(again.classes_) == [2, 7, 30]


def test_bad_labels(corpus):
    X, y = corpus
    with pytest.raises(ValueError, match="2 classes|two classes|one class"):
        tiny().fit(X[:3], ["a", "a", "a"])
    with pytest.raises(ValueError, match=r"12.*11|11.*12"):
        tiny().fit(X, y[:-1])


def _feature_scenes(rng, n_per_class=10, n_seg=4):
    """Segment features of three classes: two clean informative features (class means
    1 apart, noise 0.15) and two loud nuisance features whose class means differ
    more but whose noise is far larger. An over-regularised linear SVM follows the
    mean differences, i.e. the nuisance; a well-posed one uses the clean features."""
    y = np.repeat(["bus", "park", "street"], n_per_class)
    codes = np.repeat(np.arange(3), n_per_class)
    clean = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])[codes][:, None, :]
    loud = np.array([[0.0, 0.0], [4.0, -4.0], [-4.0, 4.0]])[codes][:, None, :]
    X = np.concatenate(
        [
            clean + 0.15 * rng.normal(size=(y.size, n_seg, 2)),
            loud + 12.0 * rng.normal(size=(y.size, n_seg, 2)),
        ],
        axis=2,
    )
    return X, y


def _with_feature_net(pipe, scale):
    """The pipeline's segment model with the network replaced by 'features x scale'."""
    from sklearn.preprocessing import FunctionTransformer

    fusion = clone(pipe.named_steps["fusion"])
    # a network that takes no recording index: the fusion must not pass it one
    return fusion.set_params(
        groups_param=None, estimator__net=FunctionTransformer(_times, kw_args={"scale": scale})
    )


def _times(X, scale):
    return X * scale


@pytest.mark.parametrize("factory", [make_att_crnn_pipeline, make_cnn_baseline_pipeline])
def test_svm_sees_minmax_scaled_features_by_default(factory):
    """Issue 10: pooled features of order 1e-3 made LinearSVC(C=0.1) over-regularised.
    With the default min-max scaling the SVM's decisions do not depend on the
    features' scale; unscaled, the same features at 1e-3 lose most of the accuracy."""
    rng = np.random.default_rng(0)
    X, y = _feature_scenes(rng)
    X_test, y_test = _feature_scenes(np.random.default_rng(1), n_per_class=6)
    pipe = factory(random_state=0)  # the same held-out recordings in every fit
    steps = [name for name, _ in pipe.named_steps["fusion"].estimator.steps]
    assert steps == ["net", "scaler", "svm"]
    big = _with_feature_net(pipe, 1.0).fit(X, y)
    small = _with_feature_net(pipe, 1e-3).fit(X, y)
    seg_big = big.predict_proba_segments(X_test)
    seg_small = small.predict_proba_segments(X_test)
    np.testing.assert_allclose(seg_small, seg_big, atol=1e-6)
    acc = np.mean(small.predict(X_test) == y_test)
    assert acc >= 0.9
    unscaled = _with_feature_net(factory(feature_scaling=None, random_state=0), 1e-3).fit(X, y)
    seg_acc = np.mean(unscaled.predict_segments(X_test) == np.repeat(y_test, 4))
    scaled_seg_acc = np.mean(small.predict_segments(X_test) == np.repeat(y_test, 4))
    assert seg_acc < scaled_seg_acc - 0.2


def test_feature_scaler_is_fitted_on_training_features_and_clips_test_features():
    rng = np.random.default_rng(1)
    X, y = _feature_scenes(rng)
    fusion = _with_feature_net(make_att_crnn_pipeline(), 1.0).fit(X, y)
    scaler = fusion.estimator_.named_steps["scaler"]
    # the training segments: those of the recordings not held out for the temperature
    trained = np.setdiff1d(np.arange(len(X)), fusion.holdout_index_)
    flat = X[trained].reshape(-1, X.shape[-1])
    np.testing.assert_allclose(scaler.data_min_, flat.min(axis=0))
    np.testing.assert_allclose(scaler.data_max_, flat.max(axis=0))
    far = flat[:2] + 100.0  # beyond the training range: clipped to the upper bound
    np.testing.assert_array_equal(scaler.transform(far), np.ones_like(far))
    np.testing.assert_allclose(scaler.transform(flat).min(axis=0), -1.0)
    standard = _with_feature_net(make_att_crnn_pipeline(feature_scaling="standard"), 1.0)
    standard.fit(X, y)
    trained = np.setdiff1d(np.arange(len(X)), standard.holdout_index_)
    z = standard.estimator_.named_steps["scaler"].transform(X[trained].reshape(-1, X.shape[-1]))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-9)
    none = make_att_crnn_pipeline(feature_scaling=None)
    assert none.named_steps["fusion"].estimator.named_steps["scaler"] == "passthrough"
    with pytest.raises(ValueError, match="'feature_scaling' parameter"):
        make_att_crnn_pipeline(feature_scaling="l2")
    # the softmax system has no SVM and so no scaler
    assert (
        type(make_att_crnn_pipeline(classifier="softmax").named_steps["fusion"].estimator).__name__
        == "AttCRNNClassifier"
    )


def test_att_crnn_factory_defaults_to_the_2h_mask_scale_and_keeps_eq9_one_parameter_away():
    """Issue 10: eq. (9) as printed learns too slowly at a practical budget, so the
    factory's default is the 2H-scaled mask; mask_scale=1.0 is the literal formula."""
    params = make_att_crnn_pipeline().get_params()
    assert params["fusion__estimator__net__module__mask_scale"] == "n_features"
    literal = make_att_crnn_pipeline(mask_scale=1.0).get_params()
    assert literal["fusion__estimator__net__module__mask_scale"] == 1.0
    pinned = make_att_crnn_pipeline(net_params={"module__mask_scale": 4.0}).get_params()
    assert pinned["fusion__estimator__net__module__mask_scale"] == 4.0
    net = make_att_crnn_pipeline(classifier="softmax").named_steps["fusion"].estimator
    from skasc.nn import AttCRNN

    module = AttCRNN(mask_scale=net.get_params()["module__mask_scale"])
    assert module.pooling.mask_scale == 256.0


@pytest.mark.parametrize("factory", [make_att_crnn_pipeline, make_cnn_baseline_pipeline])
@pytest.mark.parametrize("argument", [{"features": "mfcc"}, {"classifier": "knn"}])
def test_factory_errors_name_the_factory_called(factory, argument):
    # both factories build through one _make; an error names the one the user called
    with pytest.raises(
        ValueError,
        match=rf"'{next(iter(argument))}' parameter of "
        rf"{factory.__name__} must be",
    ):
        factory(**argument)


def test_factories_pass_every_argument_through(tmp_path):
    kwargs = dict(
        svm_C=3.0,
        calibration=3,
        calibration_method="temperature",
        recording_posteriors="paper",
        augment=False,
        lr_schedule=None,
        feature_scaling="standard",
        max_epochs=7,
        lr=0.5,
        batch_size=9,
        random_state=4,
        n_jobs=2,
        memory=str(tmp_path / "nets"),
        feature_cache=str(tmp_path / "features"),
        verbose=0,
        net_params={"module__n_filters": (4, 8, 8)},
    )
    for factory in (make_att_crnn_pipeline, make_cnn_baseline_pipeline):
        named = set(inspect.signature(factory).parameters) - {
            "features",
            "classifier",
            "mask_scale",
        }
        assert named == set(kwargs)  # a new parameter gets a line below
        pipe = factory("loggam", **kwargs)
        params = pipe.get_params()
        assert type(params["frontend__extractor"]).__name__ == "GammatoneExtractor"
        assert params["frontend__n_jobs"] == 2
        assert params["frontend__memory"] == str(tmp_path / "features")
        assert params["fusion__estimator__memory"] == str(tmp_path / "nets")
        assert type(params["fusion__estimator__scaler"]).__name__ == "StandardScaler"
        assert params["fusion__estimator__svm__cv"] == 3
        assert params["fusion__estimator__svm__method"] == "temperature"
        net = params["fusion__estimator__net"]
        assert (net.max_epochs, net.lr, net.batch_size, net.random_state, net.verbose) == (
            7,
            0.5,
            9,
            4,
            0,
        )
        assert net.get_params()["module__n_filters"] == (4, 8, 8)
        assert (net.crop, net.freq_mask_width, net.time_mask_width, net.lr_schedule) == (
            False,
            0,
            0,
            None,
        )
        assert (params["fusion__rule"], params["fusion__temperature"]) == ("product", 1.0)
        assert params["fusion__groups_param"] is None
        assert params["fusion__estimator__svm__estimator__C"] == 3.0
    att = make_att_crnn_pipeline(mask_scale=2.5).get_params()["fusion__estimator__net"]
    assert att.get_params()["module__mask_scale"] == 2.5


def test_fused_pipeline_saves_and_loads(corpus, tmp_path):
    from skasc import load, save

    X, y = corpus
    fused = make_fused_pipeline(
        max_epochs=1, batch_size=16, random_state=0, verbose=0, net_params=TINY
    )
    fused.set_params(frontend__segmenter=Segmenter(segment_duration=0.5))
    fused.fit(X, y)
    save(fused, tmp_path / "fused.skasc")
    again = load(tmp_path / "fused.skasc")
    np.testing.assert_allclose(again.predict_proba(X), fused.predict_proba(X), rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- the registry
def test_the_registry_declares_every_system_once():
    from skasc import cli
    from skasc.pipelines import FEATURES, NETWORKS, make_system, system_name

    assert list(NETWORKS) == ["att_crnn", "cnn_baseline"]
    assert list(FEATURES) == ["logmel", "loggam", "fusion"]
    assert system_name("att_crnn", "loggam") == "Att-CRNN (logGam)"
    parser = cli.build_parser()
    for command in ("cv", "fit"):
        args = parser.parse_args(
            [command, "x", "y"] if command == "cv" else [command, "x", "--model", "m.skasc"]
        )
        choices = {
            a.dest: a.choices
            for a in parser._subparsers._group_actions[0].choices[command]._actions
            if a.dest in ("network", "features")
        }
        assert choices == {"network": list(NETWORKS), "features": list(FEATURES)}
        assert (args.network, args.features) == ("att_crnn", "logmel")
    for network, choice in NETWORKS.items():
        for features in ("logmel", "loggam"):
            assert _params(make_system(network, features, lr=0.5)) == _params(
                choice.factory(features, lr=0.5)
            )
        assert _params(make_system(network, "fusion", lr=0.5)) == _params(
            make_fused_pipeline(network, lr=0.5)
        )
    with pytest.raises(
        ValueError,
        match="'features' parameter of make_system must be one "
        "of {'logmel', 'loggam', 'fusion'}. Got 'mfcc'",
    ):
        make_system("att_crnn", "mfcc")
    with pytest.raises(ValueError, match="'network' parameter of make_system"):
        make_system("crnn", "logmel")


def test_cli_fit_builds_the_fused_system(tmp_path, monkeypatch):
    """skasc fit --features fusion builds what skasc cv --features fusion does
    (fit could only train one feature type before)."""
    from skasc import cli, protocol

    data = tmp_path / "data"
    data.mkdir()
    args = cli.build_parser().parse_args(
        [
            "fit",
            str(data),
            "--model",
            str(tmp_path / "m.skasc"),
            "--features",
            "fusion",
            "--network",
            "cnn_baseline",
            "--epochs",
            "3",
            "--lr",
            "0.01",
            "--seed",
            "2",
        ]
    )
    pipe = cli._build(args)
    assert isinstance(pipe.named_steps["fusion"], SystemFusion)
    assert [name for name, _ in pipe.named_steps["fusion"].estimators] == ["logmel", "loggam"]
    settings = {
        "network": "cnn_baseline",
        "features": "fusion",
        "epochs": 3,
        "lr": 0.01,
        "batch_size": 100,
        "random_state": 2,
        "verbose": 1,
        "classifier": "svm",
        "svm_C": 0.1,
        "recording_posteriors": "mean",
    }
    from_cv = protocol._build(settings, {}, str(tmp_path), str(tmp_path), "auto", None, 2)
    fit_params, cv_params = _params(pipe), _params(from_cv)
    assert fit_params.keys() == cv_params.keys()
    assert {k for k in fit_params if fit_params[k] != cv_params[k]} == {
        # where each command keeps its files
        f"{prefix}checkpoint_dir"
        for prefix in _net_prefixes(fit_params)
    } | {"frontend__memory", "frontend__verbose"}  # and cv's progress bar over the recordings


def _params(pipe):
    """A pipeline's deep parameters, objects by type (their repr holds addresses); lists
    of steps left out (their steps' parameters are there by name)."""
    return {
        k: type(v).__name__ if hasattr(v, "get_params") or " at 0x" in repr(v) else repr(v)
        for k, v in pipe.get_params().items()
        if not k.endswith(("steps", "estimators"))
    }


def _net_prefixes(params):
    return [k[: -len("lr")] for k in params if k.endswith("__net__lr")]


def test_factory_defaults_and_the_paper_one_argument_away():
    """Issue 24: a cosine schedule trains the network and the recording posteriors are
    the geometric mean; a held-out temperature is one argument away, augmentation too
    (it measured no better at short schedules), and so is each of the paper's readings."""
    for factory in (make_att_crnn_pipeline, make_cnn_baseline_pipeline):
        params = factory(random_state=3).get_params()
        net = params["fusion__estimator__net"]
        assert (net.crop, net.freq_mask_width, net.time_mask_width, net.lr_schedule) == (
            False,
            0,
            0,
            "cosine",
        )
        augmented = factory(augment=True).get_params()["fusion__estimator__net"]
        assert (augmented.crop, augmented.freq_mask_width, augmented.time_mask_width) == (
            True,
            8,
            10,
        )
        assert (
            params["fusion__rule"],
            params["fusion__temperature"],
            params["fusion__random_state"],
        ) == ("mean", 1.0, 3)
        held = factory(recording_posteriors="calibrated").get_params()
        assert (held["fusion__rule"], held["fusion__temperature"]) == ("mean", "holdout")
        assert params["fusion__groups_param"] is None  # crops need the recording index
        assert factory(augment=True).get_params()["fusion__groups_param"] == (
            "net__recording_index"
        )
        paper = factory(recording_posteriors="paper", augment=False, lr_schedule=None).get_params()
        net = paper["fusion__estimator__net"]
        assert (net.crop, net.freq_mask_width, net.time_mask_width, net.lr_schedule) == (
            False,
            0,
            0,
            None,
        )
        assert (paper["fusion__rule"], paper["fusion__temperature"]) == ("product", 1.0)
        # a network parameter the user names wins over the factory's
        mine = factory(net_params={"time_mask_width": 3}).get_params()
        assert mine["fusion__estimator__net"].time_mask_width == 3
    soft = make_att_crnn_pipeline(classifier="softmax", augment=True).get_params()
    assert soft["fusion__groups_param"] == "recording_index"
    with pytest.raises(
        ValueError, match="'recording_posteriors' parameter of make_att_crnn_pipeline"
    ):
        make_att_crnn_pipeline(recording_posteriors="product")


def test_one_default_for_the_recording_posteriors_everywhere():
    """The factories, run_protocol and every command that takes --recording-posteriors
    share one default."""
    import argparse
    import inspect

    from skasc import cli, run_protocol

    defaults = {
        f.__name__: inspect.signature(f).parameters["recording_posteriors"].default
        for f in (make_att_crnn_pipeline, make_cnn_baseline_pipeline, run_protocol)
    }
    commands = next(
        a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    for name, parser in commands.choices.items():
        for action in parser._actions:
            if action.dest == "recording_posteriors":
                defaults[f"skasc {name}"] = action.default
    assert {"skasc fit", "skasc cv"} <= defaults.keys()
    assert set(defaults.values()) == {"mean"}, defaults
