"""A run is a snapshot: every value a run returns and every gradient it computes comes from
the Variables' values at the start of the run; training steps apply their updates after
everything the run fetches has been computed, each from that same snapshot; and nothing a run
returns shares memory with anything the library will change later, or with another result."""

import numpy as np
import pytest

import deepscratch as ds
from deepscratch.train import AdamOptimizer, GradientDescentOptimizer


class transpose(ds.Operation):
    """A user operation whose output is a view of its input's storage."""

    def __init__(self, x):
        super().__init__([x])

    def compute(self, x_value):
        return x_value.T


@ds.RegisterGradient(transpose)
def _transpose_gradient(op, grad, output, x):
    return grad.T


def test_a_fetched_variable_and_the_loss_are_from_before_the_step():
    with ds.Graph().as_default():
        W = ds.Variable([3.0])
        loss = ds.reduce_sum(W * W)
        step = GradientDescentOptimizer(0.25).minimize(loss)
        W_value, loss_value, nothing = ds.Session().run([W, loss, step])
    assert W_value.tolist() == [3.0] and loss_value == 9.0 and nothing is None
    assert W.value.tolist() == [1.5]  # the step was applied, after the run


def test_gradients_fetched_with_a_step_are_the_gradients_before_it():
    # loss = W tanh(W): d/dW = tanh(W) + W (1 - tanh(W)^2), 0.855 at W = 0.5.
    with ds.Graph().as_default():
        W = ds.Variable([0.5])
        loss = ds.reduce_sum(W * ds.tanh(W))
        grads = ds.compute_gradients(loss)
        step = GradientDescentOptimizer(1.0).minimize(loss)
        for fetches in ([step, grads, loss], [grads, step, loss], [loss, grads, step]):
            W.value = np.array([0.5])
            values = ds.Session().run(fetches)
            table = values[fetches.index(grads)]
            expected = np.tanh(0.5) + 0.5 * (1 - np.tanh(0.5) ** 2)
            assert table[W].tolist() == pytest.approx([expected])
            assert values[fetches.index(loss)] == pytest.approx(0.5 * np.tanh(0.5))
            assert W.value.tolist() == pytest.approx([0.5 - expected])


def test_two_training_steps_in_one_run_each_step_from_the_same_snapshot():
    with ds.Graph().as_default():
        W = ds.Variable([1.0])
        loss = ds.reduce_sum(W * W)  # gradient 2 W = 2 at the start of the run
        first = GradientDescentOptimizer(0.1).minimize(loss)
        second = GradientDescentOptimizer(0.25).minimize(loss)
        ds.Session().run([first, second])
    assert W.value.tolist() == pytest.approx([1.0 - 0.1 * 2 - 0.25 * 2])


def test_a_view_of_a_variable_is_returned_as_a_copy():
    with ds.Graph().as_default():
        W = ds.Variable([[1.0, 2.0]])
        W_t = transpose(W)
        step = GradientDescentOptimizer(1.0).minimize(ds.reduce_sum(W_t))
        session = ds.Session()
        fetched = session.run(W_t)
        session.run(step)
        assert fetched.tolist() == [[1.0], [2.0]]  # the step did not change it
        fetched[0, 0] = 100.0
        assert W.value.tolist() == [[0.0, 1.0]]  # writing to it did not change W


def test_the_gradients_of_an_add_are_separate_arrays():
    with ds.Graph().as_default():
        a, b = ds.Variable([1.0, 1.0]), ds.Variable([2.0, 2.0])
        table = ds.Session().run(ds.compute_gradients(ds.reduce_sum(a + b)))
    table[a] *= 0.5
    assert table[b].tolist() == [1.0, 1.0]


def test_an_operation_cannot_change_a_variable_during_a_run():
    class increment_in_place(ds.Operation):
        def __init__(self, x):
            super().__init__([x])

        def compute(self, x_value):
            x_value += 1.0
            return x_value

    with ds.Graph().as_default():
        W = ds.Variable([1.0])
        with pytest.raises(ValueError, match="read-only"):
            ds.Session().run(increment_in_place(W))
    assert W.value.tolist() == [1.0]


def test_a_run_that_fails_applies_no_update():
    with ds.Graph().as_default():
        W = ds.Variable([1.0])
        x = ds.placeholder(name="x")
        step = AdamOptimizer(0.1).minimize(ds.reduce_sum(W * W))
        with pytest.raises(KeyError, match="placeholder 'x'"):
            ds.Session().run([step, ds.reduce_sum(x)])
    assert W.value.tolist() == [1.0]
