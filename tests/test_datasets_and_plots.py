"""The seeded data sets and the plotting helpers."""

import matplotlib.pyplot as plt
import numpy as np

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
    assert len(ax.collections) >= 3  # filled regions, boundary line, and the two scatters
    plt.close(fig)


def test_loss_curve_plots_every_step():
    fig, ax = plt.subplots()
    plotting.plot_loss([3.0, 2.0, 1.5], ax=ax)
    (line,) = ax.get_lines()
    assert line.get_ydata().tolist() == [3.0, 2.0, 1.5]
    plt.close(fig)
