"""The operations of a convolutional network (deepscratch/convolution.py): conv2d, max_pool,
reshape and transpose.

Forward values are compared with plain loops that follow the definitions; every gradient with
central finite differences (gradcheck.py), for stride and padding combinations and for each form
of reshape and transpose; bad input gets an error naming the node and the shapes; the graph
optimiser keeps a small CNN's values and gradients; and a wrong gradient is caught.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradients
from test_optimizer import assert_optimiser_keeps_values

import deepscratch as ds

# -- references: the definitions, as loops ------------------------------------------------------


def loop_conv2d(X: np.ndarray, K: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """out[n, i, j, o] = sum over the window at (i * stride, j * stride) of the zero-padded image
    of window * K[:, :, :, o] (cross-correlation)."""
    p = padding
    X = np.pad(X, ((0, 0), (p, p), (p, p), (0, 0)))
    N, H, W, _ = X.shape
    kh, kw, _, C_out = K.shape
    H_out, W_out = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((N, H_out, W_out, C_out))
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                window = X[n, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
                for o in range(C_out):
                    out[n, i, j, o] = np.sum(window * K[:, :, :, o])
    return out


def loop_max_pool(X: np.ndarray, size: int, stride: int) -> np.ndarray:
    N, H, W, C = X.shape
    H_out, W_out = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, H_out, W_out, C))
    for n, i, j, c in np.ndindex(out.shape):
        out[n, i, j, c] = X[
            n, i * stride : i * stride + size, j * stride : j * stride + size, c
        ].max()
    return out


def run(op_of, *values, optimize=True):
    with ds.Graph().as_default():
        return ds.Session(optimize=optimize).run(op_of(*[ds.constant(v) for v in values]))


# (images, kernel, stride, padding): channels 1 to 3, square and oblong kernels, strides that
# leave pixels over, padding up to kernel - 1, a kernel exactly as large as the padded image.
CONVOLUTIONS = [
    ((2, 5, 5, 1), (3, 3, 1, 2), 1, 0),
    ((2, 6, 7, 3), (3, 2, 3, 4), 2, 1),
    ((1, 7, 7, 2), (5, 5, 2, 3), 3, 2),
    ((3, 4, 4, 1), (1, 1, 1, 1), 1, 0),
    ((2, 5, 6, 2), (2, 3, 2, 2), 2, 0),
    ((1, 3, 3, 1), (5, 5, 1, 1), 1, 1),
    ((1, 8, 8, 1), (3, 3, 1, 4), 1, 1),
]
CONV_IDS = [f"X{x}-K{k}-stride{s}-pad{p}" for x, k, s, p in CONVOLUTIONS]

# (images, size, stride): side by side, overlapping, with gaps, with rows and columns left over.
POOLS = [
    ((2, 4, 4, 3), 2, None),
    ((1, 5, 5, 2), 3, 1),
    ((2, 7, 7, 1), 2, 3),
    ((1, 5, 6, 2), 2, None),
    ((1, 3, 3, 1), 3, None),
]
POOL_IDS = [f"X{x}-size{size}-stride{stride}" for x, size, stride in POOLS]


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# -- forward values -----------------------------------------------------------------------------


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
@pytest.mark.parametrize(("x", "k", "stride", "padding"), CONVOLUTIONS, ids=CONV_IDS)
def test_conv2d_computes_the_cross_correlation_of_the_loops(x, k, stride, padding, optimize):
    X, K = random(*x, seed=1), random(*k, seed=2)
    output = run(
        lambda X, K: ds.conv2d(X, K, stride=stride, padding=padding), X, K, optimize=optimize
    )
    np.testing.assert_allclose(output, loop_conv2d(X, K, stride, padding), rtol=1e-12, atol=1e-12)


def test_conv2d_does_not_flip_the_kernel():
    X = np.zeros((1, 3, 3, 1))
    X[0, 0, 0, 0] = 1.0  # one lit pixel, in the top-left corner
    K = np.arange(4.0).reshape(2, 2, 1, 1)
    output = run(lambda X, K: ds.conv2d(X, K, padding=1), X, K)
    # The window whose bottom-right entry lies on the pixel is the first; it reads K[1, 1].
    assert output[0, 0, 0, 0] == K[1, 1, 0, 0] == 3.0


@pytest.mark.parametrize(("x", "size", "stride"), POOLS, ids=POOL_IDS)
def test_max_pool_computes_the_maximum_of_the_loops(x, size, stride):
    X = random(*x, seed=3)
    output = run(lambda X: ds.max_pool(X, size=size, stride=stride), X)
    np.testing.assert_array_equal(output, loop_max_pool(X, size, stride or size))


def test_reshape_and_transpose_are_numpys():
    x = random(2, 3, 4)
    np.testing.assert_array_equal(run(lambda x: ds.reshape(x, (4, -1)), x), x.reshape(4, 6))
    np.testing.assert_array_equal(run(lambda x: ds.reshape(x, 24), x), x.reshape(24))
    np.testing.assert_array_equal(run(ds.transpose, x), x.T)
    np.testing.assert_array_equal(
        run(lambda x: ds.transpose(x, (1, -1, 0)), x), x.transpose(1, 2, 0)
    )


# -- gradients against finite differences -------------------------------------------------------


@pytest.mark.parametrize(("x", "k", "stride", "padding"), CONVOLUTIONS, ids=CONV_IDS)
def test_conv2d_gradients(x, k, stride, padding):
    check_gradients(
        lambda X, K: ds.conv2d(X, K, stride=stride, padding=padding),
        random(*x, seed=4),
        random(*k, seed=5),
    )


@pytest.mark.parametrize(("x", "size", "stride"), POOLS, ids=POOL_IDS)
def test_max_pool_gradient(x, size, stride):
    # Random entries: no two in a window are within the finite-difference step of each other.
    check_gradients(lambda X: ds.max_pool(X, size=size, stride=stride), random(*x, seed=6))


def test_max_pool_passes_a_tie_to_the_first_maximum_in_reading_order():
    X = np.zeros((1, 2, 2, 1))  # the whole window ties
    with ds.Graph().as_default():
        x = ds.Variable(X)
        grads = ds.Session().run(ds.compute_gradients(ds.reduce_sum(ds.max_pool(x))))
    np.testing.assert_array_equal(grads[x][0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])
    X[0, 1, 0, 0] = X[0, 1, 1, 0] = 5.0  # a tie in the bottom row: its left entry
    with ds.Graph().as_default():
        x = ds.Variable(X)
        grads = ds.Session().run(ds.compute_gradients(ds.reduce_sum(ds.max_pool(x))))
    np.testing.assert_array_equal(grads[x][0, :, :, 0], [[0.0, 0.0], [1.0, 0.0]])


@pytest.mark.parametrize("shape", [(6, 4), (-1,), 24, (2, -1, 3), (1, 24, 1)], ids=str)
def test_reshape_gradient(shape):
    check_gradients(lambda x: ds.reshape(x, shape), random(2, 3, 4, seed=7))


@pytest.mark.parametrize("axes", [None, (0, 1, 2), (2, 0, 1), (1, 2, 0), [0, -1, 1]], ids=str)
def test_transpose_gradient(axes):
    check_gradients(lambda x: ds.transpose(x, axes), random(2, 3, 4, seed=8))


def test_transpose_gradient_of_a_matrix():
    check_gradients(ds.transpose, random(3, 5, seed=9))


def test_a_small_cnn_gradient():
    """The operations composed, as a chapter composes them: every gradient of the loss."""

    def cnn(X, K, b, W):
        features = ds.max_pool(ds.relu(ds.add(ds.conv2d(X, K, padding=1), b)))
        flat = ds.reshape(features, (2, -1))
        return ds.reduce_mean(ds.softmax_cross_entropy(ds.matmul(flat, W), np.eye(3)[[0, 2]]))

    check_gradients(cnn, random(2, 4, 4, 1, seed=10), random(3, 3, 1, 2, seed=11),
                    random(2, seed=12) * 0.1, random(8, 3, seed=13))  # fmt: skip


# -- a wrong gradient is caught -----------------------------------------------------------------


def test_a_wrong_conv2d_gradient_fails_the_check(monkeypatch):
    right = ds.gradients.gradient_registry[ds.conv2d]

    def k_gradient_flipped(op, grad, output, X, K):
        """K's gradient with the kernel's rows and columns swapped: for a square kernel the
        shapes still fit, the values are wrong."""
        dX, dK = right(op, grad, output, X, K)
        return dX, lambda: dK().transpose(1, 0, 2, 3)

    monkeypatch.setitem(ds.gradients.gradient_registry, ds.conv2d, k_gradient_flipped)
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        check_gradients(ds.conv2d, random(1, 4, 4, 1), random(2, 2, 1, 1, seed=1))


# -- bad input ----------------------------------------------------------------------------------


def failing_run(op_of, *values, optimize=True):
    """The error a run of ``op_of(*placeholders)`` named ``bad`` raises, fed ``values``; the
    graph must stay usable, so it is run again with no error raised."""
    with ds.Graph().as_default():
        inputs = [ds.placeholder() for _ in values]
        op = op_of(*inputs)
        with pytest.raises(ValueError) as error:
            ds.Session(optimize=optimize).run(op, dict(zip(inputs, values, strict=True)))
    return str(error.value)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_channels_that_do_not_match_the_kernel(optimize):
    message = failing_run(
        lambda X, K: ds.conv2d(X, K, name="c"), np.ones((1, 4, 4, 2)), np.ones((3, 3, 3, 1)),
        optimize=optimize,
    )  # fmt: skip
    assert "conv2d 'c'" in message
    assert "shapes (1, 4, 4, 2) and (3, 3, 3, 1)" in message
    assert "the images have 2 channels, but the kernel is made for 3" in message


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_a_kernel_larger_than_the_padded_images(optimize):
    message = failing_run(
        lambda X, K: ds.conv2d(X, K, padding=1, name="c"),
        np.ones((2, 3, 3, 1)), np.ones((6, 5, 1, 4)), optimize=optimize,
    )  # fmt: skip
    assert "conv2d 'c'" in message
    assert "shapes (2, 3, 3, 1) and (6, 5, 1, 4)" in message
    assert "the 6x5 window is larger than the images, 5x5 with padding 1" in message


def test_images_that_are_not_four_dimensional():
    message = failing_run(
        lambda X, K: ds.conv2d(X, K, name="c"), np.ones((4, 4)), np.ones((2, 2, 1, 1))
    )
    assert "conv2d 'c'" in message and "shapes (4, 4) and (2, 2, 1, 1)" in message
    assert "images X of shape (N, H, W, C_in)" in message
    message = failing_run(lambda X: ds.max_pool(X, name="p"), np.ones((4, 4, 1)))
    assert "max_pool 'p'" in message and "shapes (4, 4, 1)" in message
    assert "images of shape (N, H, W, C)" in message


def test_a_pool_larger_than_the_images():
    message = failing_run(lambda X: ds.max_pool(X, size=3, name="p"), np.ones((1, 2, 4, 1)))
    assert "max_pool 'p'" in message and "shapes (1, 2, 4, 1)" in message
    assert "the 3x3 window is larger than the images, 2x4" in message


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_a_reshape_to_another_size(optimize):
    message = failing_run(
        lambda x: ds.reshape(x, (4, 2), name="r"), np.ones((2, 3)), optimize=optimize
    )
    assert "reshape 'r'" in message and "shapes (2, 3)" in message
    assert "cannot reshape array of size 6 into shape (4,2)" in message


def test_a_transpose_with_axes_that_do_not_fit():
    message = failing_run(lambda x: ds.transpose(x, (1, 0), name="t"), np.ones((2, 3, 4)))
    assert "transpose 't'" in message and "shapes (2, 3, 4)" in message


# (what is built, on a placeholder X; the error; its message)
BAD_SETTINGS = {
    "stride 0": (
        lambda X: ds.conv2d(X, X, stride=0, name="c"),
        ValueError,
        "conv2d 'c': stride must be at least 1, got 0",
    ),
    "float stride": (
        lambda X: ds.conv2d(X, X, stride=1.0),
        TypeError,
        "conv2d: stride must be an integer, got 1.0",
    ),
    "float padding": (
        lambda X: ds.conv2d(X, X, padding=1.5, name="c"),
        TypeError,
        "conv2d 'c': padding must be an integer, got 1.5",
    ),
    "negative padding": (
        lambda X: ds.conv2d(X, X, padding=-1, name="c"),
        ValueError,
        "conv2d 'c': padding must be at least 0, got -1",
    ),
    "bool padding": (
        lambda X: ds.conv2d(X, X, padding=True),
        TypeError,
        "conv2d: padding must be an integer, got True",
    ),
    "pool size 0": (
        lambda X: ds.max_pool(X, size=0, name="p"),
        ValueError,
        "max_pool 'p': size must be at least 1, got 0",
    ),
    "negative pool stride": (
        lambda X: ds.max_pool(X, stride=-2, name="p"),
        ValueError,
        "max_pool 'p': stride must be at least 1, got -2",
    ),
    "float shape": (
        lambda X: ds.reshape(X, (2.0, 3), name="r"),
        TypeError,
        "reshape 'r': shape must be integers, got (2.0, 3)",
    ),
    "string axes": (
        lambda X: ds.transpose(X, "ab", name="t"),
        TypeError,
        "transpose 't': axes must be integers, got 'ab'",
    ),
}


@pytest.mark.parametrize(
    ("build", "error", "message"), BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys()
)
def test_bad_settings_are_refused_before_the_node_joins_its_graph(build, error, message):
    with ds.Graph().as_default() as graph:
        X = ds.placeholder(name="X")
        with pytest.raises(error) as raised:
            build(X)
        assert str(raised.value) == message
        assert graph.nodes == [X]


# -- the graph optimiser keeps the values -------------------------------------------------------


def small_cnn():
    """conv2d -> relu -> max_pool -> reshape -> matmul -> softmax_cross_entropy -> reduce_mean on
    random 8x8 one-channel images of three classes."""
    rng = np.random.default_rng(14)
    X, c = ds.placeholder(name="X"), ds.placeholder(name="c")
    K = ds.Variable(rng.standard_normal((3, 3, 1, 4)) / 3, name="K")
    b = ds.Variable(np.zeros(4), name="b")
    W = ds.Variable(rng.standard_normal((64, 3)) / 8, name="W")
    features = ds.max_pool(ds.relu(ds.add(ds.conv2d(X, K, padding=1), b)))
    logits = ds.matmul(ds.reshape(features, (-1, 64)), W)
    J = ds.reduce_mean(ds.softmax_cross_entropy(logits, c), name="J")
    feed = {X: rng.standard_normal((10, 8, 8, 1)), c: np.eye(3)[rng.integers(0, 3, 10)]}
    return [J, logits, features], feed, J


def test_the_optimiser_keeps_a_cnns_values_and_gradients():
    assert_optimiser_keeps_values(small_cnn)


def test_the_cnn_is_compiled_and_its_gradient_tables_agree():
    tables = []
    for optimize in (True, False):
        with ds.Graph().as_default() as graph:
            _, feed, J = small_cnn()
            session = ds.Session(optimize=optimize)
            if optimize:  # compiled, not run as built
                assert session.plan([J]) is not None
            table = session.run(ds.compute_gradients(J), feed)
            tables.append({node.name: table[node] for node in [*graph.variables, *feed]})
    for name, gradient in tables[0].items():
        np.testing.assert_allclose(gradient, tables[1][name], rtol=1e-12, atol=1e-12, err_msg=name)
