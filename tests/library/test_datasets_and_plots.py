"""The seeded data sets and the plotting helpers."""

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.contour import ContourSet

import deepscratch as ds
from deepscratch import plotting


def test_data_sets_are_seeded_and_centred_as_in_the_text():
    X, c = ds.datasets.red_blue()
    assert np.array_equal(X, ds.datasets.red_blue()[0])
    assert not np.array_equal(X, ds.datasets.red_blue(seed=1)[0])
    blue, red = X[c[:, 0] == 1], X[c[:, 1] == 1]
    np.testing.assert_allclose(blue.mean(axis=0), [2, 2], atol=0.4)
    np.testing.assert_allclose(red.mean(axis=0), [-2, -2], atol=0.4)

    X, c = ds.datasets.xor_clusters()
    assert X.shape == (100, 2) and c.sum(axis=0).tolist() == [50, 50]
    for cluster, centre in enumerate([(0, 1), (1, 0), (0, 0), (1, 1)]):
        points = X[25 * cluster : 25 * (cluster + 1)]
        np.testing.assert_allclose(points.mean(axis=0), centre, atol=0.15)
        assert np.all((points.std(axis=0) > 0.1) & (points.std(axis=0) < 0.3))


def test_decision_boundary_runs_the_graph_once_for_the_whole_grid(monkeypatch):
    X, c = ds.datasets.red_blue()
    with ds.Graph().as_default():
        X_in = ds.placeholder()
        p = ds.softmax(ds.matmul(X_in, ds.Variable([[1, -1], [1, -1]])))
        session = ds.Session()
        runs = []
        real_run = session.run
        monkeypatch.setattr(session, "run", lambda *a, **k: runs.append(a) or real_run(*a, **k))
        fig, ax = plt.subplots()
        plotting.plot_decision_boundary(session, p, X_in, X, c, ax=ax, resolution=50)
    assert len(runs) == 1
    # The filled regions, the boundary line, and the two classes' points: nothing more or less.
    contours = [s.filled for s in ax.collections if isinstance(s, ContourSet)]
    assert contours == [True, False]
    assert [s.get_label() for s in ax.collections[2:]] == ["blue (class 0)", "red (class 1)"]
    plt.close(fig)


def test_loss_curve_plots_every_step():
    fig, ax = plt.subplots()
    plotting.plot_loss([3.0, 2.0, 1.5], ax=ax)
    (line,) = ax.get_lines()
    assert line.get_ydata().tolist() == [3.0, 2.0, 1.5]
    plt.close(fig)


def scatter_colours(ax) -> list[tuple]:
    return [tuple(np.round(s.get_facecolor()[0][:3], 3)) for s in ax.collections]


@pytest.mark.parametrize(
    "classes",
    [
        np.eye(4)[[0, 1, 2, 3, 2, 0]],  # one-hot (n, C)
        np.array([0, 1, 2, 3, 2, 0]),  # labels (n,)
        np.array([[0], [1], [2], [3], [2], [0]]),  # labels (n, 1)
    ],
    ids=["one-hot", "labels", "column"],
)
def test_plot_classes_draws_every_class_in_its_own_colour(classes):
    X = np.arange(12.0).reshape(6, 2)
    fig, ax = plt.subplots()
    plotting.plot_classes(X, classes, ax)
    assert len(ax.collections) == 4
    sizes = [len(s.get_offsets()) for s in ax.collections]
    assert sizes == [2, 1, 2, 1]  # every point, none of classes 2 and 3 lost
    np.testing.assert_array_equal(ax.collections[2].get_offsets(), X[[2, 4]])
    colours = scatter_colours(ax)
    assert len(set(colours)) == 4
    assert colours[0] == tuple(np.round(to_rgb(ds.datasets.CLASS_COLORS[0]), 3))
    assert colours[1] == tuple(np.round(to_rgb(ds.datasets.CLASS_COLORS[1]), 3))
    names = [s.get_label() for s in ax.collections]
    assert names == ["blue (class 0)", "red (class 1)", "class 2", "class 3"]
    plt.close(fig)


def test_plot_classes_keeps_the_two_class_figure():
    X, c = ds.datasets.red_blue(per_class=5)
    fig, ax = plt.subplots()
    plotting.plot_classes(X, c, ax)
    assert [s.get_label() for s in ax.collections] == ["blue (class 0)", "red (class 1)"]
    assert scatter_colours(ax) == [tuple(np.round(to_rgb(k), 3)) for k in ("tab:blue", "tab:red")]
    # Labels 0 and 1 draw the same figure as one-hot classes.
    fig2, ax2 = plt.subplots()
    plotting.plot_classes(X, np.argmax(c, axis=1), ax2)
    for one, other in zip(ax.collections, ax2.collections, strict=True):
        np.testing.assert_array_equal(one.get_offsets(), other.get_offsets())
    plt.close(fig)
    plt.close(fig2)


def test_ten_classes_get_ten_distinct_colours():
    X = np.zeros((10, 2))
    fig, ax = plt.subplots()
    plotting.plot_classes(X, np.arange(10), ax)
    assert len(set(scatter_colours(ax))) == 10
    plt.close(fig)


@pytest.mark.parametrize(
    ("X", "classes", "message"),
    [
        (np.zeros((3, 2)), np.zeros((4, 2)), "3 points"),  # lengths differ
        (np.zeros((3, 2)), np.array([0, 1, 0.5]), "whole"),  # not class numbers
        (np.zeros((3, 2)), np.array([0, -1, 1]), "-1"),
        (np.zeros((3, 2)), np.zeros((3, 2, 1)), "(3, 2, 1)"),
        (np.zeros(3), np.array([0, 1, 0]), "(3,)"),  # X not one point per row
    ],
)
def test_plot_classes_rejects_classes_it_cannot_use(X, classes, message):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=re.escape(message)):
        plotting.plot_classes(X, classes, ax)
    plt.close(fig)


def boundary_figure(prediction, with_points=True, **kwargs):
    """The decision boundary of a network whose output is ``prediction(X_in)``."""
    X, c = ds.datasets.red_blue()
    c = c if with_points else None
    with ds.Graph().as_default():
        X_in = ds.placeholder()
        output = prediction(X_in)
        fig, ax = plt.subplots()
        plotting.plot_decision_boundary(
            ds.Session(), output, X_in, X, c, ax=ax, resolution=40, **kwargs
        )
    return fig, ax


def shaded(ax) -> np.ndarray:
    """The filled contour regions' paths, to compare figures by."""
    return [np.round(p.vertices, 9) for p in ax.collections[0].get_paths()]


def test_decision_boundary_of_a_sigmoid_output_is_the_softmax_one():
    weights = [[1.0, -1.0], [1.0, -1.0]]
    fig, ax = boundary_figure(lambda X: ds.softmax(ds.matmul(X, ds.Variable(weights))))
    # The sigmoid of the difference of the scores is the probability of class 0, one per point.
    difference = [[2.0], [2.0]]
    fig1, ax1 = boundary_figure(lambda X: ds.sigmoid(ds.matmul(X, ds.Variable(difference))))
    fig2, ax2 = boundary_figure(
        lambda X: ds.reduce_sum(ds.sigmoid(ds.matmul(X, ds.Variable(difference))), axis=1)
    )
    for other in (ax1, ax2):
        assert len(other.collections) == len(ax.collections)
        for one, two in zip(shaded(ax), shaded(other), strict=True):
            np.testing.assert_allclose(one, two, atol=1e-6)
    for figure in (fig, fig1, fig2):
        plt.close(figure)


def shade_at(fig, ax, point) -> str:
    """The colour the figure shows at ``point``, in data coordinates."""
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())
    x, y = ax.transData.transform(point)
    r, g, b = image[image.shape[0] - round(y), round(x), :3]
    return f"#{r:02x}{g:02x}{b:02x}"


def test_decision_boundary_of_three_classes_shades_each_class():
    # Class 0 wins where x1 is largest, class 1 where -x1 is, class 2 where x2 is.
    weights = [[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]
    fig, ax = boundary_figure(
        lambda X_in: ds.softmax(ds.matmul(X_in, ds.Variable(weights))), with_points=False
    )
    blue, red, third = (shade_at(fig, ax, point) for point in [(3, -3), (-3, -3), (0, 3)])
    assert (blue, red) == ("#c6d8f4", "#f4c6c6")  # the two-class figure's shades
    assert third not in (blue, red, "#ffffff")
    plt.close(fig)


def test_decision_boundary_of_two_classes_is_shaded_as_before():
    weights = [[1.0, -1.0], [1.0, -1.0]]  # class 0 where x1 + x2 > 0
    fig, ax = boundary_figure(
        lambda X_in: ds.softmax(ds.matmul(X_in, ds.Variable(weights))), with_points=False
    )
    assert shade_at(fig, ax, (2, 2)) == "#c6d8f4" and shade_at(fig, ax, (-2, -2)) == "#f4c6c6"
    assert len(ax.collections) == 2  # the shading and the boundary
    plt.close(fig)


@pytest.mark.parametrize(
    "prediction",
    [
        lambda X: ds.reduce_sum(X),  # one number for the whole grid
        lambda X: ds.reduce_sum(X, axis=0),  # one number per column
        lambda X: ds.multiply(X, ds.constant(np.ones((2, 1, 2)))),  # (2, m, 2)
    ],
    ids=["scalar", "per column", "3-D"],
)
def test_decision_boundary_rejects_predictions_of_the_wrong_shape(prediction):
    with pytest.raises(ValueError, match="one prediction per point"):
        boundary_figure(prediction)
    plt.close("all")


def test_decision_boundary_needs_points_in_the_plane():
    with ds.Graph().as_default():
        X_in = ds.placeholder()
        with pytest.raises(ValueError, match=re.escape("(5, 3)")):
            plotting.plot_decision_boundary(ds.Session(), X_in, X_in, np.zeros((5, 3)))
    plt.close("all")


@pytest.mark.parametrize("batch_size", [0, -3])
def test_batches_rejects_a_batch_size_below_one(batch_size):
    X, c = np.zeros((10, 2)), np.zeros((10, 2))
    with pytest.raises(ValueError, match=f"batch_size.*{batch_size}"):
        ds.datasets.batches(X, c, batch_size, np.random.default_rng(0))


@pytest.mark.parametrize("batch_size", [2.5, 4.0, "4", None, True])
def test_batches_rejects_a_batch_size_that_is_not_an_int(batch_size):
    X, c = np.zeros((10, 2)), np.zeros((10, 2))
    with pytest.raises(TypeError, match=f"batch_size.*{re.escape(repr(batch_size))}"):
        ds.datasets.batches(X, c, batch_size, np.random.default_rng(0))


def test_batches_rejects_points_and_classes_of_different_lengths():
    with pytest.raises(ValueError, match=r"10 points.*9 classes"):
        ds.datasets.batches(np.zeros((10, 2)), np.zeros((9, 2)), 4, np.random.default_rng(0))


def test_batches_are_unchanged():
    X, c = np.arange(20.0).reshape(10, 2), np.eye(10)
    rng = np.random.default_rng(1)
    epoch = ds.datasets.batches(X, c, np.int64(4), rng)  # a numpy integer is fine
    expected = np.random.default_rng(1).permutation(10)
    got = [X_batch[:, 0] / 2 for X_batch, _ in epoch]
    assert [len(b) for b in got] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(got), expected)


def test_batches_draws_its_order_when_the_epoch_starts():
    # As before: the order comes from rng at the first batch, not when batches() is called.
    rng = np.random.default_rng(1)
    epoch = ds.datasets.batches(np.arange(10.0)[:, None], np.zeros((10, 1)), 10, rng)
    first_draw = np.random.default_rng(1).permutation(10)
    rng.permutation(10)  # the rng moves on before the epoch starts
    (X_batch, _), *_ = list(epoch)
    assert not np.array_equal(X_batch[:, 0], first_draw)


def test_train_test_split_rejects_points_and_classes_of_different_lengths():
    with pytest.raises(ValueError, match=r"X has 10 points.*c has 8"):
        ds.datasets.train_test_split(np.zeros((10, 2)), np.zeros((8, 2)))


@pytest.mark.parametrize(
    ("n", "fraction", "side"),
    [(10, 0.04, "test"), (10, 0.96, "training"), (1, 0.5, "test"), (3, 0.9, "training")],
)
def test_train_test_split_rejects_an_empty_side(n, fraction, side):
    with pytest.raises(ValueError, match=rf"test_fraction={fraction}.*{n} points.*{side}"):
        ds.datasets.train_test_split(np.zeros((n, 2)), np.zeros((n, 2)), fraction)


@pytest.mark.parametrize("fraction", [0, 1, -0.5, 1.5, float("nan")])
def test_train_test_split_rejects_a_fraction_outside_0_1(fraction):
    with pytest.raises(ValueError, match=re.escape(f"got {fraction!r}")):
        ds.datasets.train_test_split(np.zeros((10, 2)), np.zeros((10, 2)), fraction)


@pytest.mark.parametrize("fraction", ["0.5", None])
def test_train_test_split_rejects_a_fraction_that_is_not_a_number(fraction):
    with pytest.raises(
        TypeError, match=re.escape(f"test_fraction must be a number, got {fraction!r}")
    ):
        ds.datasets.train_test_split(np.zeros((10, 2)), np.zeros((10, 2)), fraction)


def test_train_test_split_is_unchanged():
    # The chapters' splits: the same points, in the same order, as the first version drew.
    X, c = ds.datasets.moons(200, seed=3)
    for fraction, seed in [(0.5, 0), (0.3, 1), (0.25, 7)]:
        order = np.random.default_rng(seed).permutation(200)
        n_test = round(200 * fraction)
        X_train, c_train, X_test, c_test = ds.datasets.train_test_split(X, c, fraction, seed)
        np.testing.assert_array_equal(c_test, c[order[:n_test]])
        np.testing.assert_array_equal(X_test, X[order[:n_test]])
        np.testing.assert_array_equal(X_train, X[order[n_test:]])
        np.testing.assert_array_equal(c_train, c[order[n_test:]])
    # Half a point rounds to even, as round() does: 0.625 of 4 points is 2 test points.
    X_train, _, X_test, _ = ds.datasets.train_test_split(np.zeros((4, 2)), np.zeros((4, 2)), 0.625)
    assert (len(X_train), len(X_test)) == (2, 2)
