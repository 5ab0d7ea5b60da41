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


@pytest.mark.parametrize("rate", [0, -0.1, float("nan"), float("inf"), "0.1", None, True])
def test_a_learning_rate_that_is_not_a_positive_finite_number(rate):
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number"):
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
        with np.errstate(divide="ignore"), pytest.raises(FloatingPointError, match=r"'J'.*step 2"):
            session.run(step, {x: [0.0]})
        assert w.value.tolist() == before.tolist()
        session.run(step, {x: [1.0]})
        assert step.steps_taken == 2
