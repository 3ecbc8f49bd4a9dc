"""Tests of skasc.nn.augment: crops within a recording, SpecAugment masks, and the
training iterators that apply them."""

import numpy as np
import pytest
import torch

from skasc.nn.augment import (
    SegmentAugmentation,
    apply_masks,
    crop_rows,
    draw_crops,
    draw_masks,
    neighbours,
)
from test_pipelines import TINY_NET


def _recordings(rng, lengths, n_bands=6, n_frames=5):
    """Segments of recordings cut from continuous images: (X, index, whole images)."""
    wholes = [rng.normal(size=(2, n_bands, n * n_frames)).astype(np.float32) for n in lengths]
    X = np.concatenate(
        [w.reshape(2, n_bands, n, n_frames).transpose(2, 0, 1, 3) for w, n in zip(wholes, lengths)]
    )
    index = np.repeat(np.arange(len(lengths)), lengths)
    return np.ascontiguousarray(X), index, wholes


def test_neighbours_follow_the_recording_index():
    has_prev, has_next = neighbours(np.array([0, 0, 1, 2, 2, 2]))
    np.testing.assert_array_equal(has_prev, [False, True, False, False, True, True])
    np.testing.assert_array_equal(has_next, [True, False, False, True, True, False])


def test_crop_offsets_stay_inside_the_recording_and_cover_it(rng):
    has_prev, has_next = neighbours(np.array([0, 0, 0, 1]))
    offsets = np.stack([draw_crops(rng, has_prev, has_next, 5) for _ in range(2000)])
    assert offsets[:, 0].min() == 0 and offsets[:, 0].max() == 4  # first: forward only
    assert offsets[:, 1].min() == -4 and offsets[:, 1].max() == 4  # middle: both ways
    assert offsets[:, 2].min() == -4 and offsets[:, 2].max() == 0  # last: backward only
    assert (offsets[:, 3] == 0).all()  # a lone segment
    counts = np.bincount(offsets[:, 1] + 4, minlength=9)
    assert counts.min() > 2000 / 9 * 0.7  # uniform


def test_crops_are_windows_of_the_continuous_recording(rng):
    X, index, wholes = _recordings(rng, [3, 1, 2])
    has_prev, has_next = neighbours(index)
    rows = np.arange(len(X))
    offsets = draw_crops(rng, has_prev, has_next, 5)
    starts = np.concatenate([np.arange(n) * 5 for n in (3, 1, 2)])
    crops = crop_rows(torch.from_numpy(X), rows, offsets).numpy()
    for i in rows:  # the independent computation: slice the whole image
        begin = starts[i] + offsets[i]
        np.testing.assert_array_equal(crops[i], wholes[index[i]][..., begin : begin + 5])
    # the DataLoader path's items carry their neighbours: the same windows
    prev = torch.from_numpy(X[np.where(has_prev, rows - 1, rows)])
    nxt = torch.from_numpy(X[np.where(has_next, rows + 1, rows)])
    again = crop_rows(torch.from_numpy(X), rows, offsets, prev=prev, nxt=nxt).numpy()
    np.testing.assert_array_equal(again, crops)


def test_masks_set_bands_and_frames_to_the_example_mean(rng):
    Xb = torch.from_numpy(rng.normal(size=(40, 2, 16, 20)).astype(np.float32) - 30)
    before = Xb.clone()
    masks = draw_masks(rng, 40, 16, 20, freq_width=4, time_width=6, n_masks=2)
    assert (masks[:, 0, :, 1] <= 4).all() and (masks[:, 1, :, 1] <= 6).all()
    assert (masks[:, 0, :, 0] + masks[:, 0, :, 1] <= 16).all()
    assert (masks[:, 1, :, 0] + masks[:, 1, :, 1] <= 20).all()
    apply_masks(Xb, masks)
    for i in range(40):
        hit = np.zeros((16, 20), bool)
        for f0, fw in masks[i, 0]:
            hit[f0 : f0 + fw] = True
        for t0, tw in masks[i, 1]:
            hit[:, t0 : t0 + tw] = True
        mean = before[i].mean(dim=(1, 2)).numpy()
        for k in range(2):
            np.testing.assert_allclose(Xb[i, k].numpy()[hit], mean[k], rtol=1e-6)
            np.testing.assert_array_equal(Xb[i, k].numpy()[~hit], before[i, k].numpy()[~hit])
    # widths of zero mask nothing
    none = draw_masks(rng, 3, 16, 20, freq_width=0, time_width=0, n_masks=2)
    same = before[:3].clone()
    assert torch.equal(apply_masks(same, none), before[:3])


def test_augmented_batches_are_the_same_on_both_training_paths(rng):
    from skasc.nn.mixing import BetweenClassCollate, DeviceBatches, NeighbourSegments

    X, index, _ = _recordings(rng, [3, 2, 4, 1, 3, 3])
    y = np.array([0, 1, 2, 0, 1, 2])[index]
    has_prev, has_next = neighbours(index)
    aug = SegmentAugmentation(has_prev, has_next, freq_mask_width=2, time_mask_width=2)
    seed = [3, 1]
    g = torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    device = DeviceBatches(torch.from_numpy(X), y, 3, 6, g, seed, None, augmentation=aug)
    g = torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    loader = torch.utils.data.DataLoader(
        NeighbourSegments(X, y, aug),
        batch_size=6,
        shuffle=True,
        generator=g,
        collate_fn=BetweenClassCollate(3, random_state=seed, augmentation=aug),
    )
    assert len(device) == len(loader) == 3
    first = None
    for (xa, ya), (xb, yb) in zip(device, loader):  # each batch before the next is drawn
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
        first = xa.clone() if first is None else first
    # and the augmentation changed the batches
    plain = DeviceBatches(
        torch.from_numpy(X),
        y,
        3,
        6,
        torch.Generator().manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0])),
        seed,
        None,
    )
    assert not torch.equal(next(iter(plain))[0], first)


def _tiny(**params):
    from skasc.nn import AttCRNNClassifier

    defaults = dict(TINY_NET, max_epochs=2, batch_size=8)
    return AttCRNNClassifier(**{**defaults, **params})


def test_augmented_training_is_seeded_and_equal_on_both_paths(rng, monkeypatch):
    from skasc.nn.classifier import SegmentNetClassifier as _SegmentNetClassifier

    torch.set_num_threads(1)
    X, index, _ = _recordings(rng, [3] * 8, n_bands=64, n_frames=8)
    y = np.arange(8)[index] % 2
    params = dict(crop=True, freq_mask_width=8, time_mask_width=3)
    a = _tiny(**params).fit(X, y, recording_index=index)
    b = _tiny(**params).fit(X, y, recording_index=index)
    monkeypatch.setattr(_SegmentNetClassifier, "_device_data_on_cpu", False)
    c = _tiny(**params).fit(X, y, recording_index=index)
    plain = _tiny().fit(X, y, recording_index=index)
    for key, value in a.module_.state_dict().items():
        assert torch.equal(value, b.module_.state_dict()[key]), key
        assert torch.equal(value, c.module_.state_dict()[key]), key
    assert a.history[:, "train_loss"] != plain.history[:, "train_loss"]
    assert not hasattr(a, "_augmentation")  # nothing of the fit's data is kept


def test_crop_needs_the_recording_index(rng):
    X = rng.normal(size=(6, 2, 64, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"crop=True\) crops each training segment"):
        _tiny(crop=True).fit(X, np.arange(6) % 2)
    with pytest.raises(ValueError, match=r"recording_index must have shape \(6,\)"):
        _tiny(crop=True).fit(X, np.arange(6) % 2, recording_index=[0, 0, 1])
    with pytest.raises(ValueError, match="The 'time_mask_width' parameter"):
        _tiny(time_mask_width=-1).fit(X, np.arange(6) % 2)


def test_cosine_schedule_sets_each_epochs_rate():
    from skorch.callbacks import Callback

    class Rates(Callback):
        def initialize(self):
            self.seen = []
            return self

        def on_epoch_end(self, net, **kwargs):
            self.seen.append(net.optimizer_.param_groups[0]["lr"])

    rates = Rates()
    X = np.random.default_rng(0).normal(size=(8, 2, 64, 8)).astype(np.float32)
    net = _tiny(lr_schedule="cosine", max_epochs=4, callbacks=[rates])
    net.fit(X, np.arange(8) % 2)
    expected = [0.5 * 1e-2 * (1 + np.cos(np.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(rates.seen, expected)


def test_cosine_schedule_keeps_the_last_rate_past_max_epochs():
    """partial_fit after a cosine fit does not climb back up the cosine."""
    X = np.random.default_rng(0).normal(size=(8, 2, 64, 8)).astype(np.float32)
    net = _tiny(lr_schedule="cosine", max_epochs=4).fit(X, np.arange(8) % 2)
    last = 0.5 * 1e-2 * (1 + np.cos(np.pi * 3 / 4))
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(last)
    net.partial_fit(X, np.arange(8) % 2)  # epoch 5: the cosine alone would give 0
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(last)


def test_crops_with_a_validation_split_are_refused_by_name():
    from skorch.dataset import ValidSplit

    X = np.random.default_rng(0).normal(size=(8, 2, 64, 8)).astype(np.float32)
    net = _tiny(crop=True, train_split=ValidSplit(2))
    with pytest.raises(ValueError, match=r"crop=True\) cannot be combined with a train_split"):
        net.fit(X, np.arange(8) % 2, recording_index=np.repeat(np.arange(4), 2))


def test_pipelines_pass_each_segments_recording_to_the_network():
    from skasc import make_att_crnn_pipeline, make_scenes

    X, y, _ = make_scenes(n_recordings_per_class=2, n_classes=2, duration=4.0, random_state=0)
    net_params = dict(
        crop=True,
        module__n_filters=(4, 8, 8),
        module__hidden_size=8,
        module__attention_size=8,
        device="cpu",
    )
    for classifier in ("svm", "softmax"):
        pipe = make_att_crnn_pipeline(
            classifier=classifier,
            max_epochs=1,
            lr=1e-3,
            random_state=0,
            verbose=0,
            net_params=net_params,
        )
        assert pipe.fit(list(X), y).predict(list(X)).shape == (4,)
