import matplotlib
import matplotlib.image
import numpy as np
import pytest

from skasc.plotting import plot_attention, plot_confusion_matrix, plot_training_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(path, min_height=100, min_width=100):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] >= min_height and image.shape[1] >= min_width
    # not a blank canvas
    assert image[..., :3].std() > 0.01
    return image


def test_confusion_matrix_png(tmp_path, rng):
    cm = rng.integers(0, 20, size=(4, 4))
    path = tmp_path / "cm.png"
    fig = plot_confusion_matrix(
        cm, ["bus", "park", "street", "tram"], path=path, title="Recordings"
    )
    image = _check_png(path)
    width, height = fig.get_size_inches() * 100
    assert image.shape[:2] == (round(height), round(width))
    ax = fig.axes[0]
    values = ax.images[0].get_array()
    np.testing.assert_allclose(values.sum(axis=1), 100.0)
    np.testing.assert_allclose(values, 100 * cm / cm.sum(axis=1, keepdims=True))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bus", "park", "street", "tram"]
    assert ax.get_title() == "Recordings"


def test_confusion_matrix_counts_and_empty_row():
    cm = np.array([[3, 1], [0, 0]])
    fig = plot_confusion_matrix(cm, ["a", "b"], normalize=False)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), cm)
    fig = plot_confusion_matrix(cm, ["a", "b"])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[75, 25], [0, 0]])
    with pytest.raises(ValueError, match=r"shape \(3, 3\) to match 3 class names"):
        plot_confusion_matrix(cm, ["a", "b", "c"])


def test_training_curves_png(tmp_path):
    histories = [
        [
            {"epoch": e, "train_loss": 1 / e, "valid_loss": 1.2 / e, "valid_acc": 1 - 1 / (e + 1)}
            for e in range(1, 6)
        ],
        [{"train_loss": 2 / e} for e in range(1, 4)],
        None,
    ]
    path = tmp_path / "curves.png"
    fig = plot_training_curves(histories, path=path)
    _check_png(path)
    loss_ax, acc_ax = fig.axes
    lines = loss_ax.get_lines()
    assert len(lines) == 3  # split 0 train+valid, split 1 train
    np.testing.assert_allclose(lines[0].get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(lines[0].get_ydata(), [1 / e for e in range(1, 6)])
    np.testing.assert_allclose(lines[2].get_xdata(), [1, 2, 3])  # default epochs
    assert len(acc_ax.get_lines()) == 1
    fig = plot_training_curves([[{"epoch": 1, "train_loss": 0.3}]])
    assert len(fig.axes) == 1


def test_training_curves_errors():
    with pytest.raises(ValueError, match="at least one non-empty history"):
        plot_training_curves([None])
    with pytest.raises(ValueError, match="History entry 1 has no 'train_loss'"):
        plot_training_curves([[{"train_loss": 1.0}, {"valid_loss": 1.0}]])


def test_attention_png(tmp_path, rng):
    logmel = rng.normal(size=(64, 80))
    temporal = rng.random(10)
    temporal /= temporal.sum()
    spatial = rng.random(16)
    mask = np.outer(spatial, temporal)
    path = tmp_path / "att.png"
    fig = plot_attention(logmel, temporal, spatial, mask, path=path)
    _check_png(path, min_height=400, min_width=400)
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 2
    np.testing.assert_allclose(images[0].get_array(), logmel)
    np.testing.assert_allclose(images[1].get_array(), mask)
    with pytest.raises(ValueError, match=r"'mask' must have shape .* = \(16, 10\)"):
        plot_attention(logmel, temporal, spatial, mask.T)
    with pytest.raises(ValueError, match="'logmel' must have shape"):
        plot_attention(logmel[None], temporal, spatial, mask)


def test_no_global_pyplot_state(tmp_path):
    backend = matplotlib.get_backend()
    plot_confusion_matrix(np.eye(2), ["a", "b"], path=tmp_path / "x.png")
    assert matplotlib.get_backend() == backend
    import sys

    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


def test_heldout_accuracy_png(tmp_path):
    from skasc.plotting import plot_heldout_accuracy

    path = tmp_path / "figure2.png"
    fig = plot_heldout_accuracy(
        {"fold1": [(2, 0.4), (4, 0.6)], "fold2": [(2, 0.5), (4, 0.55)]}, path=path, title="Figure 2"
    )
    _check_png(path)
    lines = fig.axes[0].lines
    assert [ln.get_label() for ln in lines] == ["fold1", "fold2"]
    np.testing.assert_allclose(lines[0].get_xydata(), [[2, 40.0], [4, 60.0]])
    with pytest.raises(ValueError, match="at least one scored epoch"):
        plot_heldout_accuracy({"fold1": []})


def test_reliability_diagram_png_shows_the_bins_and_the_ece(tmp_path, rng):
    from skasc.evaluation import reliability_curve
    from skasc.plotting import plot_reliability_diagram

    proba = rng.dirichlet([1, 1, 1], size=200)
    y = rng.integers(0, 3, size=200)
    curve = reliability_curve(y, proba, np.arange(3), n_bins=10)
    path = tmp_path / "reliability.png"
    fig = plot_reliability_diagram(curve, path=path, title="Recordings")
    _check_png(path)
    ax = fig.axes[0]
    assert ax.get_title() == f"Recordings: ECE = {curve['ece']:.3f}"
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, curve["accuracy"][curve["count"] > 0])
