"""Tests of skasc.nn.mixing: between-class examples (eqs. 10-11)."""

import pickle
import warnings

import numpy as np
import pytest
import torch

from skasc.nn import BetweenClassCollate, mix_between_class
from test_pipelines import TINY_NET


def test_mixed_signal_labels_and_partners(rng):
    X = rng.normal(size=(12, 2, 4, 3)).astype(np.float32)
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 0, 1])
    X_mix, Y, r, partner = mix_between_class(X, y, 4, np.random.default_rng(1))
    assert X_mix.dtype == np.float32 and Y.dtype == np.float32
    assert Y.shape == (12, 4)
    # partners are of another class
    assert (y[partner] != y).all()
    # labels are distributions with y[c1] == r and y[c2] == 1 - r (eq. 11)
    np.testing.assert_allclose(Y.sum(axis=1), 1.0, rtol=1e-6)
    assert (Y >= 0).all()
    np.testing.assert_allclose(Y[np.arange(12), y], r, rtol=1e-6)
    np.testing.assert_allclose(Y[np.arange(12), y[partner]], 1 - r, rtol=1e-5, atol=1e-7)
    assert ((0 <= r) & (r < 1)).all()
    # signal follows eq. (10)
    for i in range(12):
        expected = (r[i] * X[i] + (1 - r[i]) * X[partner[i]]) / np.sqrt(r[i] ** 2 + (1 - r[i]) ** 2)
        np.testing.assert_allclose(X_mix[i], expected, rtol=1e-5, atol=1e-6)


def test_partners_cover_all_other_class_examples():
    y = np.array([0, 1, 1, 1])
    X = np.zeros((4, 1), np.float32)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        _, _, _, partner = mix_between_class(X, y, 2, rng)
        seen.add(int(partner[0]))
        assert partner[1] == partner[2] == partner[3] == 0
    assert seen == {1, 2, 3}  # uniform among the other-class examples


def test_single_class_batch_is_left_unmixed(rng):
    X = rng.normal(size=(3, 2)).astype(np.float32)
    X_mix, Y, r, partner = mix_between_class(X, np.array([2, 2, 2]), 3, rng)
    np.testing.assert_array_equal(partner, [0, 1, 2])
    np.testing.assert_array_equal(r, 1.0)
    np.testing.assert_array_equal(X_mix, X)
    np.testing.assert_array_equal(Y, np.eye(3, dtype=np.float32)[[2, 2, 2]])


def test_mix_rejects_bad_labels(rng):
    X = np.zeros((3, 2), np.float32)
    with pytest.raises(TypeError, match="integer class codes; got y of dtype float64"):
        mix_between_class(X, np.array([0.0, 1.0, 1.0]), 2, rng)
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 2\); got values in \[0, 2\]"):
        mix_between_class(X, np.array([0, 1, 2]), 2, rng)
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        mix_between_class(X, np.array([0, 1]), 2, rng)


def _batch(rng, labels):
    return [(rng.normal(size=(2, 4, 3)).astype(np.float32), np.int64(c)) for c in labels]


def test_collate_returns_tensors_and_matches_pure_function(rng):
    batch = _batch(rng, [0, 1, 2, 1, 0])
    X, Y = BetweenClassCollate(3, random_state=7)(batch)
    assert isinstance(X, torch.Tensor) and X.dtype == torch.float32 and X.shape == (5, 2, 4, 3)
    assert Y.dtype == torch.float32 and Y.shape == (5, 3)
    X_ref, Y_ref, _, _ = mix_between_class(
        np.stack([b[0] for b in batch]),
        np.array([b[1] for b in batch]),
        3,
        np.random.default_rng(7),
    )
    np.testing.assert_array_equal(X.numpy(), X_ref)
    np.testing.assert_array_equal(Y.numpy(), Y_ref)


def test_collate_is_reproducible_and_picklable(rng):
    batch = _batch(rng, [0, 1, 1, 0])
    a = BetweenClassCollate(2, random_state=3)
    b = pickle.loads(pickle.dumps(BetweenClassCollate(2, random_state=3)))
    for _ in range(3):
        (xa, ya), (xb, yb) = a(batch), b(batch)
        torch.testing.assert_close(xa, xb)
        torch.testing.assert_close(ya, yb)
    xc, _ = BetweenClassCollate(2, random_state=4)(batch)
    assert not torch.equal(xa, xc)


def test_collate_warns_once_for_single_class_batch(rng):
    collate = BetweenClassCollate(2, random_state=0)
    with pytest.warns(UserWarning, match=r"mini-batch of \d+ segments held a single class"):
        X, Y = collate(_batch(rng, [1, 1]))
    np.testing.assert_array_equal(Y.numpy(), [[0, 1], [0, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        collate(_batch(rng, [1, 1]))


def test_collate_rejects_string_labels_and_bad_n_classes(rng):
    with pytest.raises(TypeError, match="BetweenClassCollate needs integer class codes"):
        BetweenClassCollate(2)([(np.zeros(2, np.float32), "a"), (np.zeros(2, np.float32), "b")])
    with pytest.raises(
        ValueError,
        match=r"'n_classes' parameter of BetweenClassCollate must be "
        r"an int in the range \[2, inf\). Got 1 instead",
    ):
        BetweenClassCollate(1)


def test_mixing_around_a_center_equals_mixing_centred_images(rng):
    """With a center c the mix is c + eq. (10) on (S - c): the same partners and
    factors as mixing the centred images, shifted back."""
    X = (rng.normal(size=(10, 2, 4, 3)) * 8 - 40).astype(np.float32)
    y = np.arange(10) % 3
    c = X.mean(axis=(0, 3), keepdims=True)[0]  # (2, 4, 1), per channel and band
    mixed, Y, r, partner = mix_between_class(X, y, 3, np.random.default_rng(5), center=c)
    centred, Y0, r0, partner0 = mix_between_class(X - c, y, 3, np.random.default_rng(5))
    np.testing.assert_array_equal(partner, partner0)
    np.testing.assert_array_equal(Y, Y0)
    np.testing.assert_allclose(mixed, centred + c, rtol=1e-5, atol=1e-4)


def test_mixing_raw_db_images_shifts_the_level_but_centred_mixing_does_not():
    """Issue 10: eq. (10)'s normaliser keeps the energy of zero-mean signals only;
    on raw dB images (mean about -30 dB) a mixed batch is louder in dB than either
    input, 1.25x on average. Mixed around the mean, the batch keeps its level."""
    rng = np.random.default_rng(0)
    X = (-30 + 6 * rng.normal(size=(400, 2, 8, 5))).astype(np.float32)
    y = np.arange(400) % 4
    raw, *_ = mix_between_class(X, y, 4, np.random.default_rng(1))
    assert raw.mean() / X.mean() > 1.2
    c = X.mean(axis=(0, 3))[..., None]
    centred, *_ = mix_between_class(X, y, 4, np.random.default_rng(1), center=c)
    assert abs(centred.mean() / X.mean() - 1) < 0.01
    # and the spread around the mean is kept (energy of the zero-mean part)
    assert abs(centred.std() / X.std() - 1) < 0.05


def test_collate_passes_its_center_on():
    batch = [(np.full((1, 2, 3), -40.0, np.float32), 0), (np.full((1, 2, 3), -20.0, np.float32), 1)]
    c = np.full((1, 2, 1), -30.0, np.float32)
    Xm, _ = BetweenClassCollate(2, random_state=0, center=c)(batch)
    Xr, _ = BetweenClassCollate(2, random_state=0)(batch)
    # around -30 the two inputs are -10 and +10: the mix stays within [-40, -20]
    assert Xm.min() >= -40 - 1e-4 and Xm.max() <= -20 + 1e-4
    assert Xr.min() < -40 - 1  # raw: further from 0 dB than the loudest input


# ------------------------------------------------------- device-resident batches
def _loader_batches(X, y, n_classes, batch_size, seed, center=None):
    import torch
    from torch.utils.data import DataLoader

    from skasc.nn import BetweenClassCollate

    g = torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    loader = DataLoader(
        list(zip(X, y)),
        batch_size=batch_size,
        shuffle=True,
        generator=g,
        collate_fn=BetweenClassCollate(n_classes, random_state=seed, center=center),
    )
    return list(loader)


@pytest.mark.parametrize("center", [False, True])
def test_device_batches_equal_the_dataloader_with_bc_collate_bit_for_bit(center):
    import torch

    from skasc.nn.mixing import DeviceBatches

    rng = np.random.default_rng(0)
    X = rng.normal(size=(53, 2, 8, 5)).astype(np.float32) * 10 - 30
    y = rng.integers(0, 4, size=53)
    c = X.mean(axis=(0, 3), keepdims=True)[0] if center else None
    seed = [7, 3]
    expected = _loader_batches(X, y, 4, 16, seed, c)
    g = torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    batches = DeviceBatches(torch.from_numpy(X), y, 4, 16, g, seed, c)
    assert len(batches) == len(expected) == 4
    # compared as the training loop sees them: each batch before the next is drawn
    pointers = []
    for (xa, ya), (xb, yb) in zip(batches, expected):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        pointers.append(xa.data_ptr())
    # nothing of batch size is allocated per step: two buffer sets, used in turn
    assert pointers[0] == pointers[2] and pointers[1] == pointers[3] != pointers[0]


def test_fits_on_the_cpu_use_the_in_memory_path_without_copying_X():
    from skasc.nn import AttCRNNClassifier

    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    net = AttCRNNClassifier(
        module__n_filters=(4, 8, 8),
        module__hidden_size=8,
        module__attention_size=8,
        max_epochs=1,
        batch_size=8,
        device="cpu",
        verbose=0,
    )
    X = rng.normal(size=(20, 2, 64, 8)).astype(np.float32)
    net.initialize()
    resident = net._device_resident(net.get_dataset(X, y))
    assert resident is not None and resident.data_ptr() == X.ctypes.data  # X itself
    X.flags.writeable = False  # a read-only memory map: used as is, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert net._device_resident(net.get_dataset(X, y)) is not None
    # float64 or non-contiguous X would need a copy: the DataLoader path instead
    assert net._device_resident(net.get_dataset(X.astype(np.float64), y)) is None
    assert net._device_resident(net.get_dataset(np.asfortranarray(X), y)) is None


def test_training_on_device_resident_data_equals_the_dataloader_path(monkeypatch):
    import torch

    from skasc.nn import AttCRNNClassifier
    from skasc.nn.classifier import SegmentNetClassifier

    rng = np.random.default_rng(0)
    y = np.arange(40) % 3
    X = rng.normal(size=(40, 2, 64, 8)).astype(np.float32) + y[:, None, None, None]
    params = dict(TINY_NET, max_epochs=2, batch_size=16)
    torch.set_num_threads(1)
    monkeypatch.setattr(SegmentNetClassifier, "_device_data_on_cpu", False)
    loader = AttCRNNClassifier(**params).fit(X, y)
    assert (
        loader.get_iterator(loader.get_dataset(X, y), training=True).make().__class__.__name__
        == "DataLoader"
    )
    monkeypatch.setattr(SegmentNetClassifier, "_device_data_on_cpu", True)
    seen = []
    real = SegmentNetClassifier._device_resident
    monkeypatch.setattr(
        SegmentNetClassifier, "_device_resident", lambda self, ds: seen.append(1) or real(self, ds)
    )
    resident = AttCRNNClassifier(**params).fit(X, y)
    assert seen
    for key, value in loader.module_.state_dict().items():
        assert torch.equal(value, resident.module_.state_dict()[key]), key
    assert loader.history[:, "train_loss"] == resident.history[:, "train_loss"]
    # options the device path does not implement keep the DataLoader
    net = AttCRNNClassifier(**params, iterator_train__num_workers=0).fit(X, y)
    assert (
        net.get_iterator(net.get_dataset(X, y), training=True).make().__class__.__name__
        == "DataLoader"
    )


def test_collate_masks_without_crops_on_items_without_rows():
    """SpecAugment masks alone (no crops, so the items carry no row): one mask set per
    item of the batch, as on the device path."""
    from skasc.nn.augment import SegmentAugmentation

    aug = SegmentAugmentation(freq_mask_width=2, time_mask_width=3, n_masks=1)
    collate = BetweenClassCollate(2, random_state=0, between_class=False, augmentation=aug)
    images = np.random.default_rng(0).normal(size=(4, 1, 8, 16)).astype(np.float32)
    X, Y = collate([(image, i % 2) for i, image in enumerate(images)])
    assert X.shape == (4, 1, 8, 16) and Y.tolist() == [0, 1, 0, 1]
    changed = (X.numpy() != images).reshape(4, -1).any(axis=1)
    assert changed.all()  # every item masked (each has its own masks)


@pytest.mark.parametrize("seed", [0, [0, 3], np.int64(5), np.random.SeedSequence(7)])
def test_collate_in_worker_processes_is_seeded(seed):
    """DataLoader workers draw from streams seeded by the seed's integers and the
    worker id: the same seed gives the same mixed batches, each worker its own."""
    from torch.utils.data import DataLoader

    X = np.random.default_rng(0).normal(size=(32, 1, 4, 3)).astype(np.float32)
    items = [(x, i % 4) for i, x in enumerate(X)]

    def batches():
        collate = BetweenClassCollate(n_classes=4, random_state=seed)
        loader = DataLoader(items, batch_size=8, num_workers=2, collate_fn=collate)
        return [(Xb.numpy(), Yb.numpy()) for Xb, Yb in loader]

    first, second = batches(), batches()
    for (Xa, Ya), (Xb, Yb) in zip(first, second):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(Ya, Yb)
    # batches 0 and 1 hold the same classes in the same order, drawn by workers 0 and 1
    assert not np.array_equal(first[0][1], first[1][1])


def test_training_with_loader_workers_is_reproducible(rng):
    from skasc.nn import AttCRNNClassifier

    torch.set_num_threads(1)
    X = rng.normal(size=(24, 2, 64, 8)).astype(np.float32)
    y = np.arange(24) % 3
    params = dict(TINY_NET, max_epochs=2, batch_size=8, iterator_train__num_workers=2)
    a = AttCRNNClassifier(**params, freq_mask_width=8).fit(X, y)
    b = AttCRNNClassifier(**params, freq_mask_width=8).fit(X, y)
    for key, value in a.module_.state_dict().items():
        assert torch.equal(value, b.module_.state_dict()[key]), key
