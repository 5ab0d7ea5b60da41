"""Every bad input gets an error a reader can act on, and the graph stays usable."""

from types import SimpleNamespace

import numpy as np
import pytest

import deepscratch as ds
from deepscratch.train import GradientDescentOptimizer


@pytest.fixture
def affine():
    with ds.Graph().as_default():
        x = ds.placeholder(name="x")
        W = ds.Variable(np.ones((2, 3)), name="W")
        b = ds.Variable(np.zeros(3), name="b")
        h = ds.matmul(x, W, name="h")
        z = ds.add(h, b, name="z")
        yield SimpleNamespace(x=x, W=W, z=z)


def still_usable(graph):
    assert ds.Session().run(graph.z, {graph.x: [[1.0, 2.0]]}).tolist() == [[3.0, 3.0, 3.0]]


def test_missing_placeholder_names_it_and_its_consumer(affine):
    with pytest.raises(KeyError, match=r"placeholder 'x'.*needs a value in feed_dict.*read by h"):
        ds.Session().run(affine.z)
    still_usable(affine)


def test_matmul_shapes_that_do_not_fit(affine):
    with pytest.raises(ValueError, match=r"matmul 'h'.*shapes \(4, 3\) and \(2, 3\)"):
        ds.Session().run(affine.z, {affine.x: np.ones((4, 3))})
    still_usable(affine)


def test_add_shapes_that_do_not_fit():
    with ds.Graph().as_default():
        x = ds.placeholder(name="x")
        z = ds.add(x, ds.Variable([1.0, 2.0, 3.0]), name="z")
        with pytest.raises(ValueError, match=r"add 'z'.*shapes \(2, 2\) and \(3,\)"):
            ds.Session().run(z, {x: np.ones((2, 2))})
        assert ds.Session().run(z, {x: np.ones((2, 3))}).shape == (2, 3)


@pytest.mark.parametrize("value", ["three", [1, "a"], {"a": 1}, None])
def test_a_non_numeric_feed(affine, value):
    with pytest.raises(TypeError, match=r"value fed to <placeholder 'x'.*must be numeric"):
        ds.Session().run(affine.z, {affine.x: value})
    still_usable(affine)


def test_a_non_numeric_variable():
    with pytest.raises(TypeError, match=r"Variable 'w'.*must be numeric"):
        ds.Variable("heavy", name="w")


@pytest.mark.parametrize("fetch", [3, "z", None, [1.0], np.ones(3), [[1.0]]])
def test_a_fetch_that_is_not_a_node(affine, fetch):
    with pytest.raises(TypeError, match="can only fetch nodes"):
        ds.Session().run(fetch, {affine.x: [[1.0, 2.0]]})
    still_usable(affine)


def test_a_feed_key_that_is_not_a_placeholder(affine):
    with pytest.raises(TypeError, match="feed_dict keys must be placeholders"):
        ds.Session().run(affine.z, {affine.x: [[1.0, 2.0]], affine.W: np.ones((2, 3))})


@pytest.mark.parametrize(
    ("rate", "error", "message"),
    [
        (0, ValueError, "learning_rate must be a positive number, got 0"),
        (-0.1, ValueError, "learning_rate must be a positive number"),
        (float("nan"), ValueError, "learning_rate must be a finite number"),
        (float("inf"), ValueError, "learning_rate must be a finite number"),
        ("0.1", TypeError, "learning_rate must be a number, got '0.1'"),
        (None, TypeError, "learning_rate must be a number"),
        (True, TypeError, "learning_rate must be a number"),
    ],
)
def test_a_learning_rate_that_is_not_a_positive_finite_number(rate, error, message):
    with pytest.raises(error, match=message):
        GradientDescentOptimizer(rate)


def test_a_loss_that_becomes_infinite_is_reported_with_its_step():
    with ds.Graph().as_default():
        x = ds.placeholder(name="x")
        w = ds.Variable([1.0])
        loss = ds.negative(ds.reduce_sum(ds.log(ds.multiply(w, x))), name="J")
        step = GradientDescentOptimizer(0.1).minimize(loss)
        session = ds.Session()
        session.run(step, {x: [1.0]})
        before = w.value.copy()
        with (
            np.errstate(divide="ignore"),
            pytest.raises(
                FloatingPointError, match=r"the loss 'J' is inf; no Variable was updated.*log of 0"
            ),
        ):
            session.run(step, {x: [0.0]})
        assert w.value.tolist() == before.tolist()
        session.run(step, {x: [1.0]})
        assert w.value.tolist() != before.tolist()


def test_assigning_a_variables_value_is_checked_like_its_initial_value():
    with ds.Graph().as_default():
        W = ds.Variable([[1.0, 2.0]], name="W")
        W.value = [[3, 4]]  # a list of ints becomes a float array
        assert W.value.dtype == np.float64 and W.value.tolist() == [[3.0, 4.0]]
        with pytest.raises(TypeError, match=r"value of <Variable 'W'.*must be numeric"):
            W.value = [["a", "b"]]
        with pytest.raises(ValueError, match=r"must keep its shape \(1, 2\), got shape \(2,\)"):
            W.value = [1.0, 2.0]
        step = GradientDescentOptimizer(0.5).minimize(ds.reduce_sum(W * W))
        ds.Session().run(step)
    assert W.value.tolist() == [[0.0, 0.0]]


def test_a_finite_loss_with_an_infinite_gradient_changes_nothing():
    with ds.Graph().as_default():
        w = ds.Variable([5e-322], name="w")  # so small that 1 / w overflows
        loss = ds.negative(ds.reduce_sum(ds.log(w)), name="J")
        optimizer = ds.train.AdamOptimizer(0.1)
        step = optimizer.minimize(loss)
        with (
            np.errstate(divide="ignore", over="ignore"),
            pytest.raises(FloatingPointError, match=r"gradient of the loss 'J' for <Variable 'w'"),
        ):
            ds.Session().run(step)
    assert w.value.tolist() == [5e-322] and optimizer.moments == {}


def test_a_loss_made_infinite_by_the_data_names_the_placeholder():
    with ds.Graph().as_default():
        X = ds.placeholder(name="X")
        w = ds.Variable([1.0])
        step = GradientDescentOptimizer(0.1).minimize(ds.reduce_sum(X * w))
        with pytest.raises(FloatingPointError, match=r"<placeholder 'X'.*is not finite"):
            ds.Session().run(step, {X: [np.nan]})
    assert w.value.tolist() == [1.0]


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"beta1": 1.0}, ValueError, r"beta1 must be in \[0, 1\), got 1.0"),
        ({"beta2": -0.1}, ValueError, r"beta2 must be in \[0, 1\)"),
        ({"epsilon": 0.0}, ValueError, "epsilon must be a positive number"),
        ({"beta1": "0.9"}, TypeError, "beta1 must be a number, got '0.9'"),
        ({"learning_rate": [0.1]}, TypeError, "learning_rate must be a number"),
    ],
)
def test_adams_settings_are_checked(settings, error, message):
    with pytest.raises(error, match=message):
        ds.train.AdamOptimizer(**settings)


def test_momentum_and_dropout_settings_of_the_wrong_type():
    with pytest.raises(TypeError, match=r"momentum must be a number, got '0\.5'"):
        ds.train.MomentumOptimizer(0.1, momentum="0.5")
    with ds.Graph().as_default() as graph:
        x = ds.Variable([1.0])
        with pytest.raises(TypeError, match="dropout rate must be a number, got None"):
            ds.dropout(x, ds.constant(1.0), rate=None)
        with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\), got 1"):
            ds.dropout(x, ds.constant(1.0), rate=1)
    assert graph.operations == []


def test_minimize_needs_a_loss_node_that_depends_on_a_variable():
    optimizer = GradientDescentOptimizer(0.1)
    with pytest.raises(TypeError, match=r"minimize\(\) takes the loss, a node; got 3.0"):
        optimizer.minimize(3.0)
    with ds.Graph().as_default():
        x = ds.placeholder(name="x")
        with pytest.raises(ValueError, match="'J' depends on no Variable: there is nothing"):
            optimizer.minimize(ds.reduce_sum(x * x, name="J"))


def test_compute_gradients_needs_a_loss_node():
    with pytest.raises(TypeError, match="compute_gradients takes the loss, a node"):
        ds.compute_gradients(np.ones(3))


def test_a_ragged_feed_names_the_placeholder(affine):
    with pytest.raises(ValueError, match=r"value fed to <placeholder 'x'.*rectangular array"):
        ds.Session().run(affine.z, {affine.x: [[1.0, 2.0], [3.0]]})
    still_usable(affine)
