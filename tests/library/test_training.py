"""Training the text's two networks, and what training must never do."""

import numpy as np
import pytest

import deepscratch as ds
from deepscratch.train import GradientDescentOptimizer


def cross_entropy(c, p):
    return ds.negative(ds.reduce_sum(ds.reduce_sum(ds.multiply(c, ds.log(p)), axis=1)))


accuracy = ds.datasets.accuracy


def test_perceptron_separates_the_red_and_blue_points():
    X, c = ds.datasets.red_blue()
    with ds.Graph().as_default():
        X_in, c_in = ds.placeholder(), ds.placeholder()
        rng = np.random.default_rng(0)
        W = ds.Variable(rng.standard_normal((2, 2)))
        b = ds.Variable(rng.standard_normal(2))
        p = ds.softmax(ds.add(ds.matmul(X_in, W), b))
        J = cross_entropy(c_in, p)
        step = GradientDescentOptimizer(0.01).minimize(J)
        session = ds.Session()
        feed = {X_in: X, c_in: c}
        losses = [session.run([J, step], feed)[0] for _ in range(100)]
        assert losses[-1] < losses[0] / 10
        assert accuracy(session.run(p, feed), c) == 1.0


def test_mlp_learns_the_xor_clusters_from_the_books_initial_weights():
    X, c = ds.datasets.xor_clusters()
    with ds.Graph().as_default():
        X_in, c_in = ds.placeholder(), ds.placeholder()
        rng = np.random.default_rng(0)
        W_hidden = ds.Variable(rng.standard_normal((2, 2)))
        b_hidden = ds.Variable(rng.standard_normal(2))
        hidden = ds.sigmoid(ds.add(ds.matmul(X_in, W_hidden), b_hidden))
        W_output = ds.Variable(rng.standard_normal((2, 2)))
        b_output = ds.Variable(rng.standard_normal(2))
        p = ds.softmax(ds.add(ds.matmul(hidden, W_output), b_output))
        step = GradientDescentOptimizer(0.03).minimize(cross_entropy(c_in, p))
        session = ds.Session()
        for _ in range(1000):
            session.run(step, {X_in: X, c_in: c})
        assert accuracy(session.run(p, {X_in: X}), c) >= 0.95


def test_integer_initial_values_train_and_the_callers_array_is_untouched():
    initial = np.array([[1, -1], [1, -1]])
    with ds.Graph().as_default():
        W = ds.Variable(initial)
        X_in = ds.placeholder()
        loss = ds.reduce_sum(ds.sigmoid(ds.matmul(X_in, W)))
        step = GradientDescentOptimizer(0.5).minimize(loss)
        ds.Session().run(step, {X_in: [[1.0, 2.0]]})
    assert W.value.dtype == np.float64 and not np.array_equal(W.value, initial)
    assert initial.tolist() == [[1, -1], [1, -1]]


def test_every_step_uses_its_own_feed():
    # The gradient for w is x itself; a step that reused an earlier run's x would be wrong.
    with ds.Graph().as_default():
        x = ds.placeholder()
        w = ds.Variable([0.0])
        step = GradientDescentOptimizer(1.0).minimize(ds.reduce_sum(ds.multiply(w, x)))
        session = ds.Session()
        session.run(step, {x: [1.0]})
        session.run(step, {x: [10.0]})
    assert w.value.tolist() == [-11.0]


def test_loss_and_step_in_one_run_compute_the_forward_pass_once(monkeypatch):
    class counting_sigmoid(ds.sigmoid):
        calls = 0

        def compute(self, a_value):
            counting_sigmoid.calls += 1
            return super().compute(a_value)

    # Its own compute needs its own gradient: here, the sigmoid's, for this test only.
    registry = ds.gradients.gradient_registry
    monkeypatch.setitem(registry, counting_sigmoid, registry[ds.sigmoid])

    with ds.Graph().as_default():
        w = ds.Variable([0.5, -0.5])
        loss = ds.reduce_sum(counting_sigmoid(w))
        step = GradientDescentOptimizer(0.1).minimize(loss)
        loss_before, _ = ds.Session().run([loss, step])
    assert counting_sigmoid.calls == 1
    assert loss_before == pytest.approx(1.0)


def test_every_variable_the_loss_depends_on_is_updated_and_no_other():
    with ds.Graph().as_default():
        used, unused = ds.Variable([1.0]), ds.Variable([1.0])
        ds.sigmoid(unused)
        step = GradientDescentOptimizer(0.1).minimize(ds.reduce_sum(ds.sigmoid(used)))
        ds.Session().run(step)
    assert used.value[0] < 1.0 and unused.value[0] == 1.0


def test_dropout_masks_left_at_their_default_seeds_differ_and_repeat():
    def masks():
        with ds.Graph().as_default():
            x = ds.Variable(np.ones((50, 40)))
            on = ds.constant(1.0)
            first, second = ds.dropout(x, on, 0.5), ds.dropout(x, on, 0.5)
            return ds.Session().run([first, second])

    first, second = masks()
    assert not np.array_equal(first, second)  # two masks, two streams
    again = masks()
    assert np.array_equal(first, again[0]) and np.array_equal(second, again[1])


def test_a_loss_with_several_entries_is_minimised_as_their_sum():
    def train(make_loss):
        with ds.Graph().as_default():
            w = ds.Variable([1.0, -2.0])
            step = GradientDescentOptimizer(0.1).minimize(make_loss(w * w))
            ds.Session().run(step)
            return w.value

    np.testing.assert_array_equal(train(lambda squares: squares), train(ds.reduce_sum))
