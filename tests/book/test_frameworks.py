"""Chapter 8's PyTorch listing, book/frameworks/torch_mlp.py, trains chapter 6's network exactly
as deepscratch does: from the same initial weights and data, the same loss at every step and the
same final weights, to rounding (float64). Skipped where PyTorch is not installed: the book
itself never imports it."""

import importlib.util

import numpy as np
import pytest

import deepscratch as ds
from conftest import ROOT

pytest.importorskip("torch")

LISTING = ROOT / "book" / "frameworks" / "torch_mlp.py"


def torch_listing():
    """The listing as a module, loaded from its file (book/ is not a package)."""
    spec = importlib.util.spec_from_file_location("chapter_8_torch_mlp", LISTING)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_deepscratch(weights, X, c, learning_rate, steps):
    """Chapter 6's network and training loop in deepscratch, as chapter 8 runs it: the loss
    before each step, and the final weights."""
    ds.Graph().as_default()
    X_in, c_in = ds.placeholder(name="X"), ds.placeholder(name="c")
    W1, b1, W2, b2 = variables = [ds.Variable(w) for w in weights]
    hidden = ds.sigmoid(X_in @ W1 + b1)
    p = ds.softmax(hidden @ W2 + b2)
    J = ds.negative(ds.reduce_sum(c_in * ds.log(p)))
    step = ds.train.GradientDescentOptimizer(learning_rate).minimize(J)
    session = ds.Session()
    losses = [session.run([J, step], {X_in: X, c_in: c})[0] for _ in range(steps)]
    return losses, [W.value for W in variables]


def initial_weights(seed, d, hidden_units, C):
    """W1, b1, W2, b2 drawn as chapter 6 draws them."""
    rng = np.random.default_rng(seed)
    shapes = [(d, hidden_units), (hidden_units,), (hidden_units, C), (C,)]
    return [rng.standard_normal(shape) for shape in shapes]


CASES = {
    # chapter 8's run: chapter 6's 2-2-2 network on the XOR clusters, with its spike and plateau
    "xor 2-2-2": (ds.datasets.xor_clusters(), initial_weights(0, 2, 2, 2), 0.03, 1000),
    # a wider hidden layer, other data and another learning rate
    "moons 2-8-2": (ds.datasets.moons(), initial_weights(1, 2, 8, 2), 0.01, 300),
}


@pytest.mark.parametrize("case", CASES)
def test_the_pytorch_listing_trains_as_deepscratch_does(case):
    (X, c), weights, learning_rate, steps = CASES[case]
    expected_losses, expected_weights = train_deepscratch(weights, X, c, learning_rate, steps)
    losses, final_weights = torch_listing().train(weights, X, c, learning_rate, steps)

    assert len(losses) == steps
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-10, atol=0)
    assert expected_losses[-1] < 0.9 * expected_losses[0]  # a run that really trains
    for name, got, expected in zip(
        ["W1", "b1", "W2", "b2"], final_weights, expected_weights, strict=True
    ):
        assert got.dtype == np.float64, name
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13, err_msg=name)


def test_the_listing_leaves_the_initial_weights_alone():
    (X, c), weights, learning_rate, _ = CASES["xor 2-2-2"]
    before = [w.copy() for w in weights]
    torch_listing().train(weights, X, c, learning_rate, steps=5)
    for w, w_before in zip(weights, before, strict=True):
        np.testing.assert_array_equal(w, w_before)
