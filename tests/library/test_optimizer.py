"""The graph optimiser (deepscratch/plan.py and rewrites.py) never changes what a run returns.

Every model below, and every random graph of test_random_graphs, is built twice from the same
seed and run by a ``Session()`` (optimised) and a ``Session(optimize=False)`` (the graph as built):
the fetched values, the gradients a training step applies (recorded by an optimizer that keeps
them) and the Variables after a few steps agree to 1e-12. The one intended difference -- where
``log(softmax(z))`` rounds to ``log(0)``, the rewritten graph gives the finite loss -- is tested
on its own. Each rewrite is shown to happen, and a broken rewrite is caught.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_random_graphs import DROPOUT_SEEDS, GRAPH_SEEDS, build_random_graph

import deepscratch as ds
from deepscratch import rewrites
from deepscratch.graph import Node

RTOL = ATOL = 1e-12


class RecordingOptimizer(ds.train.GradientDescentOptimizer):
    """Gradient descent that keeps the gradients of each step, by Variable."""

    def __init__(self, learning_rate: float = 0.01) -> None:
        super().__init__(learning_rate)
        self.grads: list[dict[str, np.ndarray]] = []

    def apply_gradients(self, grads: list[tuple[ds.Variable, np.ndarray]]) -> None:
        self.grads.append({variable.name: np.array(g, copy=True) for variable, g in grads})
        super().apply_gradients(grads)


Model = Callable[[], tuple[list, dict, Node]]  # fetches, feed, loss


def trained(build: Model, optimize: bool, steps: int = 3) -> list[Any]:
    """Everything ``steps`` training steps of the model give: the fetched values, the gradients
    applied, the Variables at the end, and the error that stopped training early, if one did
    (a random graph can train itself into the log of a negative number)."""
    with ds.Graph().as_default() as graph, np.errstate(invalid="ignore", divide="ignore"):
        fetches, feed, loss = build()
        optimizer = RecordingOptimizer()
        step = optimizer.minimize(loss)
        session = ds.Session(optimize=optimize)
        outputs, stopped = [], "no error"
        try:
            for _ in range(steps):
                outputs.append(session.run([*fetches, step], feed)[:-1])
        except FloatingPointError as error:
            stopped = str(error)
    return [outputs, optimizer.grads, [v.value for v in graph.variables], stopped]


def assert_same(optimised: Any, as_built: Any, where: str = "") -> None:
    if isinstance(optimised, list | tuple):
        assert len(optimised) == len(as_built), where
        for i, (a, b) in enumerate(zip(optimised, as_built, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(optimised, dict):  # keyed by Variable names, or by nodes
        by_name = [{getattr(k, "name", k): v for k, v in d.items()} for d in (optimised, as_built)]
        assert sorted(by_name[0]) == sorted(by_name[1]), where
        for key, value in by_name[0].items():
            assert_same(value, by_name[1][key], f"{where}[{key}]")
    elif isinstance(optimised, str):
        assert optimised == as_built, where
    else:
        np.testing.assert_allclose(optimised, as_built, rtol=RTOL, atol=ATOL, err_msg=where)


def assert_optimiser_keeps_values(build: Model, steps: int = 3) -> None:
    assert_same(trained(build, True, steps), trained(build, False, steps))


# -- the book's models -------------------------------------------------------------------------


def mlp(hidden: Callable = ds.sigmoid, sizes=(2, 3, 2), n: int = 40, seed: int = 0):
    """An MLP on random data, as the chapters build one: Variables, a softmax output layer."""
    rng = np.random.default_rng(seed)
    X, c = ds.placeholder(name="X"), ds.placeholder(name="c")
    H, layers = X, list(itertools.pairwise(sizes))
    for i, (fan_in, fan_out) in enumerate(layers):
        W = ds.Variable(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in))
        b = ds.Variable(rng.standard_normal(fan_out) * 0.1)
        a = ds.add(ds.matmul(H, W), b)
        H = a if i == len(layers) - 1 else hidden(a)
    feed = {X: rng.standard_normal((n, sizes[0])), c: np.eye(sizes[-1])[rng.integers(0, 2, n)]}
    return H, X, c, feed


def composed_loss(axis_first: bool = True):
    """Chapters 3-6: -sum(sum(c * log(softmax(a)), axis=1)), or one sum over all (chapter 8)."""

    def build():
        logits, _, c, feed = mlp()
        p = ds.softmax(logits)
        product = ds.multiply(c, ds.log(p))
        total = ds.reduce_sum(ds.reduce_sum(product, axis=1)) if axis_first else None
        J = ds.negative(total if axis_first else ds.reduce_sum(product), name="J")
        return [J, p], feed, J

    return build


def per_row_loss():
    """Chapter 10's staged loss: one cross-entropy per row, then their mean."""
    logits, _, c, feed = mlp(ds.tanh)
    rows = ds.negative(ds.reduce_sum(ds.multiply(ds.log(ds.softmax(logits)), c), axis=1))
    J = ds.reduce_mean(rows)
    return [J, rows], feed, J


def l2_penalty():
    """Chapter 12: the loss plus a penalty on every weight matrix."""
    logits, _, c, feed = mlp(ds.relu, sizes=(2, 4, 2))
    J = ds.reduce_mean(ds.softmax_cross_entropy(logits, c))
    weights = [v for v in ds.get_default_graph().variables if v.value.ndim == 2]
    penalty = ds.reduce_sum(ds.add(*[ds.reduce_sum(ds.multiply(W, W)) for W in weights]))
    loss = ds.add(J, ds.multiply(0.01, penalty))
    return [loss, J], feed, loss


def dropout_mlp():
    """Chapter 13: dropout in training, drawn from the graph's seeded streams."""
    logits, _, c, feed = mlp(ds.relu, sizes=(2, 8, 2))
    training = ds.placeholder(name="training")
    hidden = logits.input_nodes[0].input_nodes[0]  # the relu layer
    dropped = ds.dropout(hidden, training, rate=0.5)
    W = ds.Variable(np.ones((8, 2)) * 0.3)
    J = ds.reduce_mean(ds.softmax_cross_entropy(ds.matmul(dropped, W), c))
    return [J], feed | {training: 1.0}, J


def digits_model():
    """Chapter 14: ReLU, the fused cross-entropy and its mean."""
    logits, _, c, feed = mlp(ds.relu, sizes=(64, 16, 2), n=32)
    J = ds.reduce_mean(ds.softmax_cross_entropy(logits, c), name="J")
    return [J, logits], feed, J


def shared_subexpressions():
    """The same computation written twice, and a part that is constant: what CSE and constant
    folding remove."""
    _, X, _, feed = mlp()
    W = ds.get_default_graph().variables[0]
    first, again = ds.sigmoid(ds.matmul(X, W)), ds.sigmoid(ds.matmul(X, W))
    scale = ds.multiply(ds.constant(2.0), ds.add(ds.constant(1.0), ds.constant(0.5)))
    J = ds.reduce_sum(ds.multiply(scale, ds.add(first, again)))
    return [J, first, again], feed, J


MODELS = {
    "chapters 3-6, composed loss": composed_loss(),
    "chapter 8, one sum": composed_loss(axis_first=False),
    "chapter 10, per-row loss": per_row_loss,
    "chapter 12, L2 penalty": l2_penalty,
    "chapter 13, dropout": dropout_mlp,
    "chapter 14, digits": digits_model,
    "shared subexpressions and constants": shared_subexpressions,
}


@pytest.mark.parametrize("build", MODELS.values(), ids=MODELS.keys())
def test_the_optimiser_keeps_the_values_and_gradients_of_the_books_models(build):
    assert_optimiser_keeps_values(build)


@pytest.mark.parametrize("seed", [*GRAPH_SEEDS, *DROPOUT_SEEDS], ids=lambda seed: f"seed={seed}")
def test_the_optimiser_keeps_the_values_and_gradients_of_random_graphs(seed):
    def build():
        graph = build_random_graph(seed, dropout_training=True if seed in DROPOUT_SEEDS else None)
        every_node = [node for node in graph.values if isinstance(node, ds.Operation)]
        return [graph.loss, *every_node], {}, graph.loss

    assert_optimiser_keeps_values(build, steps=2)


def test_a_gradient_table_is_the_same_compiled_or_interpreted():
    def table(optimize: bool):
        with ds.Graph().as_default():
            graph = build_random_graph(GRAPH_SEEDS[0])
            return ds.Session(optimize=optimize).run(ds.compute_gradients(graph.loss))

    compiled, interpreted = table(True), table(False)
    assert [n.name for n in compiled] == [n.name for n in interpreted]
    assert_same(compiled, interpreted)


# -- each rewrite happens ----------------------------------------------------------------------


def plan_of(build: Model, fetch_loss_only: bool = True):
    with ds.Graph().as_default():
        fetches, feed, loss = build()
        session = ds.Session()
        session.run([loss] if fetch_loss_only else fetches, feed)
        return next(iter(session.plans.values()))


def test_the_composed_cross_entropy_becomes_one_stable_step():
    source = plan_of(composed_loss()).source
    computes = [instruction.compute for instruction in plan_of(composed_loss()).instructions]
    assert any(isinstance(f, rewrites.LogLikelihood) for f in computes)
    names = {getattr(f, "__self__", None).__class__.__name__ for f in computes}
    assert not names & {"softmax", "log", "multiply"}, source


def test_the_librarys_fused_cross_entropy_keeps_log_p_for_its_gradient():
    computes = [instruction.compute for instruction in plan_of(digits_model).instructions]
    assert any(isinstance(f, rewrites.LogLikelihood) and f.sign == -1 for f in computes)


@pytest.mark.parametrize(
    "build", [composed_loss(), per_row_loss, digits_model], ids=["sum", "mean of rows", "digits"]
)
def test_the_whole_loss_negated_summed_or_averaged_is_one_step(build):
    plan = plan_of(build)
    forward = [i for i in plan.instructions if isinstance(i.output, int)]
    fused = [i for i in forward if isinstance(i.compute, rewrites.LogLikelihood)]
    assert len(fused) == 1 and fused[0].compute.one_number, plan.source
    assert fused[0] is forward[-1], plan.source  # nothing computed after it: the loss itself


def test_a_fused_loss_reports_a_wrong_axis_and_an_empty_mean_as_the_graph_as_built_does():
    def loss(axis, n=3):
        logits = ds.Variable(np.zeros((n, 2)))  # not a constant: nothing is folded
        c = ds.constant(np.tile([1.0, 0.0], (n, 1)))
        per_row = ds.reduce_sum(ds.multiply(c, ds.log(ds.softmax(logits))), axis=axis)
        return ds.negative(ds.reduce_sum(per_row)), ds.reduce_mean(per_row)

    wrong_axes = {5: "axis 5 is out of bounds", (1, -1): "duplicate value|repeated axis"}
    for optimize, (axis, message) in itertools.product((True, False), wrong_axes.items()):
        with ds.Graph().as_default():
            for node in loss(axis):
                with pytest.raises(ValueError, match=message):
                    ds.Session(optimize=optimize).run(node)
    for optimize in (True, False):
        with ds.Graph().as_default():
            total, mean = loss(axis=1, n=0)
            assert ds.Session(optimize=optimize).run(total) == 0
            with pytest.raises(ValueError, match="no entries to average"):
                ds.Session(optimize=optimize).run(mean)


def test_the_rewritten_loss_is_finite_where_the_graph_as_built_takes_log_0():
    def extreme():
        a = ds.Variable([[0.0, 800.0]], name="a")
        log_p = ds.log(ds.softmax(a))
        J = ds.negative(ds.reduce_sum(ds.multiply(ds.constant([[1.0, 0.0]]), log_p)))
        return [J], {}, J

    with ds.Graph().as_default():
        (J,), _, _ = extreme()
        with np.errstate(divide="ignore"):
            assert ds.Session(optimize=False).run(J) == np.inf
        assert ds.Session().run(J) == pytest.approx(800.0)


def test_common_subexpressions_are_computed_once_and_constants_before_the_run():
    plan = plan_of(shared_subexpressions, fetch_loss_only=False)
    kinds = [type(i.node).__name__ for i in plan.instructions]
    assert kinds.count("sigmoid") == 1, plan.source
    assert "add" in kinds and kinds.count("multiply") == 1, plan.source  # 2 * (1 + 0.5) folded


def test_a_random_operation_is_never_computed_ahead_of_the_run():
    with ds.Graph().as_default():
        masked = ds.dropout(ds.constant(np.ones(50)), ds.constant(1.0), rate=0.5)
        session = ds.Session()
        assert not np.array_equal(session.run(masked), session.run(masked))


def test_errors_in_a_compiled_run_name_the_operation_and_the_shapes():
    with ds.Graph().as_default():
        x = ds.placeholder(name="x")
        y = ds.add(ds.matmul(x, ds.Variable(np.ones((3, 2)))), ds.constant([1.0, 2.0]), name="y")
        for optimize in (True, False):
            message = r"<matmul 'matmul_1'.*inputs of shapes \(4, 2\) and \(3, 2\)"
            with pytest.raises(ValueError, match=message):
                ds.Session(optimize=optimize).run(y, {x: np.ones((4, 2))})
            with pytest.raises(ds.MissingFeedError, match="placeholder 'x'"):
                ds.Session(optimize=optimize).run(y)


def test_a_node_with_its_own_evaluate_is_run_as_built():
    class doubled(ds.Operation):
        def __init__(self, x):
            super().__init__([x])

        def evaluate(self, values):
            return 2 * values[self.input_nodes[0]]

    with ds.Graph().as_default():
        node = doubled(ds.constant([1.0, 2.0]))
        session = ds.Session()
        assert session.run(node).tolist() == [2.0, 4.0]
        assert session.plans[(node,)] is None


def test_a_broken_rewrite_is_caught(monkeypatch):
    def wrong_gradient(self, shares_for, grad, output, a, c):
        G = self.scale * (grad if self.one_number else np.expand_dims(grad, self.axis))
        return [G * c]  # the share for a, without the softmax term

    monkeypatch.setattr(rewrites.LogLikelihood, "gradient", wrong_gradient)
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        assert_optimiser_keeps_values(composed_loss())


def test_a_miscounted_mean_is_caught(monkeypatch):
    counted = rewrites.number_of_sums
    monkeypatch.setattr(rewrites, "number_of_sums", lambda *args: counted(*args) + 1)
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        assert_optimiser_keeps_values(digits_model)


@pytest.mark.parametrize("optimize", ["patterns", ["pattern"], 1, None])
def test_a_session_refuses_rewrites_it_does_not_know(optimize):
    with pytest.raises(ValueError, match="optimize must be True, False or a list of rewrites"):
        ds.Session(optimize=optimize)
