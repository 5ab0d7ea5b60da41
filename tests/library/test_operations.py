"""Forward values of every operation, and every gradient against finite differences."""

import numpy as np
import pytest
from gradcheck import check_gradients
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import deepscratch as ds

rng = np.random.default_rng(42)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((4, 2))
P = rng.uniform(0.5, 2.0, (3, 4))


def run(node):
    return ds.Session().run(node)


pytestmark = pytest.mark.usefixtures("fresh_graph")


def test_the_text_affine_example():
    A = ds.Variable([[1, 0], [0, -1]])
    b = ds.Variable([1, 1])
    x = ds.placeholder()
    z = ds.add(ds.matmul(A, x), b)
    assert ds.Session().run(z, {x: [1, 2]}).tolist() == [2.0, -1.0]


@pytest.mark.parametrize(
    ("op", "inputs", "expected"),
    [
        (ds.add, ([1, 2], [10, 20]), [11, 22]),
        (ds.add, ([[1, 2], [3, 4]], [10, 20]), [[11, 22], [13, 24]]),
        (ds.matmul, ([[1, 2], [3, 4]], [[0, 1], [1, 0]]), [[2, 1], [4, 3]]),
        (ds.matmul, ([1, 1], [3, 2]), 5),
        (ds.multiply, ([1, 2], [3, 4]), [3, 8]),
        (ds.negative, ([1, -2],), [-1, 2]),
        (ds.log, ([1, np.e],), [0, 1]),
        (ds.sigmoid, ([0.0, 5.0],), [0.5, 1 / (1 + np.exp(-5))]),
        (ds.softmax, ([[0.0, np.log(3)]],), [[0.25, 0.75]]),
        (ds.reduce_sum, ([[1, 2], [3, 4]],), 10),
    ],
)
def test_forward_values(op, inputs, expected):
    np.testing.assert_allclose(run(op(*[ds.constant(x) for x in inputs])), expected)


@pytest.mark.parametrize(("axis", "expected"), [(None, 10), (0, [4, 6]), (1, [3, 7]), (-1, [3, 7])])
def test_reduce_sum_axes(axis, expected):
    np.testing.assert_allclose(
        run(ds.reduce_sum(ds.constant([[1, 2], [3, 4]]), axis=axis)), expected
    )


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise", invalid="raise"):
        values = run(ds.sigmoid(ds.constant([-1e4, -40.0, 40.0, 1e4])))
    assert values[0] == 0.0 and values[-1] == 1.0
    np.testing.assert_allclose(values[1], np.exp(-40.0), rtol=1e-12)


def test_softmax_is_shifted_by_the_row_maximum():
    with np.errstate(over="raise", invalid="raise"):
        values = run(ds.softmax(ds.constant([[1000.0, 1001.0], [-1000.0, -1000.0]])))
    np.testing.assert_allclose(values, [[1 / (1 + np.e), np.e / (1 + np.e)], [0.5, 0.5]])


def test_python_operators_build_the_operations():
    x, y = ds.constant([1.0, 2.0]), ds.constant([3.0, 5.0])
    assert isinstance(x + y, ds.add) and isinstance(x * y, ds.multiply)
    assert isinstance(x @ y, ds.matmul) and isinstance(-x, ds.negative)
    np.testing.assert_allclose(run(x - y), [-2, -3])
    np.testing.assert_allclose(run(2 * x + 1), [3, 5])
    np.testing.assert_allclose(run(np.array([1.0, 1.0]) - x), [0, -1])
    assert run(x @ y) == 13


GRADIENT_CASES = {
    "add": (ds.add, A, A[::-1]),
    "add row bias": (ds.add, A, A[0]),
    "add column bias": (ds.add, A, A[:, :1]),
    "add scalar": (ds.add, A, 1.5),
    "matmul": (ds.matmul, A, B),
    "matmul matrix-vector": (ds.matmul, A, B[:, 0]),
    "matmul vector-matrix": (ds.matmul, A[0], B),
    "matmul vector-vector": (ds.matmul, A[0], B[:, 0]),
    "multiply": (ds.multiply, A, A[::-1]),
    "multiply broadcast": (ds.multiply, A, A[0]),
    "sigmoid": (ds.sigmoid, A),
    "softmax": (ds.softmax, A),
    "softmax vector": (ds.softmax, A[0]),
    "log": (ds.log, P),
    "negative": (ds.negative, A),
    "reduce_sum": (ds.reduce_sum, A),
    "reduce_sum axis 0": (lambda x: ds.reduce_sum(x, axis=0), A),
    "reduce_sum axis 1": (lambda x: ds.reduce_sum(x, axis=1), A),
    "reduce_sum axis -1": (lambda x: ds.reduce_sum(x, axis=-1), A),
    "reduce_sum 3-D axes (0, 2)": (lambda x: ds.reduce_sum(x, axis=(0, 2)), P.reshape(3, 2, 2)),
}


@pytest.mark.parametrize("case", GRADIENT_CASES.values(), ids=GRADIENT_CASES.keys())
def test_gradient_matches_finite_differences(case):
    op, *inputs = case
    check_gradients(op, *inputs)


finite_floats = st.floats(-3, 3, allow_nan=False, width=64)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_elementwise_gradients_on_random_shapes(data):
    shape = data.draw(array_shapes(max_dims=3, max_side=4))
    x = data.draw(arrays(np.float64, shape, elements=finite_floats))
    # y is broadcast against x: it drops leading axes and may have 1 where x does not.
    tail = shape[data.draw(st.integers(0, len(shape))) :]
    y_shape = tuple(data.draw(st.sampled_from([1, side])) for side in tail)
    y = data.draw(arrays(np.float64, y_shape, elements=finite_floats))
    check_gradients(ds.add, x, y)
    check_gradients(ds.multiply, x, y)
    check_gradients(lambda a: ds.softmax(ds.sigmoid(a)), x)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_matmul_and_reduce_sum_gradients_on_random_shapes(data):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    a = data.draw(arrays(np.float64, (n, k), elements=finite_floats))
    b = data.draw(arrays(np.float64, (k, m), elements=finite_floats))
    check_gradients(ds.matmul, a, b)
    axis = data.draw(st.sampled_from([None, 0, 1, -1, (0, 1)]))
    check_gradients(lambda x: ds.reduce_sum(x, axis=axis), a)
