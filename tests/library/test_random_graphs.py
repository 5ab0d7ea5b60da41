"""Backpropagation on random graphs, checked against central finite differences.

What is checked: for each of a few hundred random graphs, the gradient that
``ds.compute_gradients`` gives for every Variable equals the central finite difference
``(loss(v + eps) - loss(v - eps)) / (2 eps)`` of the scalar loss, entry by entry, in float64
(``eps = 1e-6``, ``rtol = 1e-5``, ``atol = 1e-7``).

How the graphs are made: ``build_random_graph(seed)`` draws everything from
``np.random.default_rng(seed)``, so a seed names one graph for good. It starts from a few
Variables of different shapes and a data constant, then grows the graph step by step with every
operation of the library -- add, multiply, matmul (vector and matrix operands), sigmoid, tanh,
softmax, log, negative, relu, reduce_sum and reduce_mean (axis None, an int or a tuple),
softmax_cross_entropy (one-hot, soft, learned or unnormalised targets, the logits themselves, and
a row of either broadcast against a matrix of the other) and dropout (training off and on).
Operands are drawn from the nodes made so far, so nodes get several consumers (shared
subexpressions, Variables used in several places), an operation may read one node twice
(``multiply(x, x)``, ``matmul(A, A)``, ...), and bias vectors, size-1 axes and scalars are
broadcast against matrices (and a vector against a column). Every node that nothing reads yet is
weighted at random and summed into the loss, so every Variable reaches it. A test checks that the
seeds in use really cover all of this, counting only the operations that backpropagation goes
through (those that depend on a Variable).

Keeping the finite differences honest: the builder tracks each node's value as it goes, and keeps
the functions where they are smooth and well conditioned -- values are scaled back to at most 3
in size, relu's inputs are kept at least 0.25 away from its kink at 0 and log's inputs at least
0.05 above 0 (``log(sigmoid(x))``, ``log(x * x + c)`` or ``log(x + shift)``).

Dropout in training: the mask is random and is drawn afresh at every run, from a generator that
lives on the ``dropout_mask`` node (so a fresh Session alone would not repeat it). What a finite
difference can honestly check is the gradient of the loss *for one fixed mask*: a mask does not
depend on the value of ``x`` (only on its shape), so its derivative is 0 and the gradient must
flow back through the kept entries only, scaled by ``1 / (1 - rate)``. Each loss evaluation of
such a graph therefore rebuilds it from its seed in a fresh Graph, whose mask nodes draw the same
first masks as the graph the gradient was computed in; the test checks that premise (the
rebuilt loss equals the loss of the gradient's run) before it trusts the differences. It cannot
check the mask's distribution (that is ``test_operations``'s business), nor a derivative with
respect to ``training``, a 0/1 switch that has none.

The check can fail: with one gradient function deliberately broken for the duration of a test
(a library operation's, or that of an operation defined here), it reports every graph whose
gradients the broken function changes, with the graph, its seed and the differing gradients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from gradcheck import finite_difference

import deepscratch as ds
from deepscratch.graph import Node

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7

GRAPH_SEEDS = range(400)  # graphs of every kind, about one in six with dropout in training
DROPOUT_SEEDS = range(1000, 1050)  # graphs that are sure to contain dropout in training

LARGEST_VALUE = 3.0  # a node's entries are scaled back to at most this in size
RELU_MARGIN = 0.25  # relu's inputs are kept at least this far from 0
LOG_FLOOR = 0.05  # log's inputs are kept at least this far above 0

AXES_BY_NDIM: dict[int, list[int | tuple[int, ...] | None]] = {
    0: [None],
    1: [None, 0, -1, (0,), (-1,)],
    2: [None, 0, 1, -1, -2, (0,), (1,), (0, 1), (1, 0), (-1, 0)],
}

# what softmax_cross_entropy's targets are (the last two broadcast one input against the other)
TARGET_KINDS = (
    "one-hot targets",
    "soft targets",
    "learned targets",
    "unnormalised targets",
    "the logits as targets",
    "a row of targets, broadcast",
    "a row of logits, broadcast",
)


@dataclasses.dataclass
class RandomGraph:
    """A graph built by ``build_random_graph``, with what the check and the messages need."""

    seed: int
    loss: Node
    variables: list[ds.Variable]
    values: dict[Node, Any]  # every node's value, as tracked while building
    tags: dict[Node, str]  # choices the builder made that the graph's structure does not show
    stochastic: bool  # has dropout in training: its loss depends on the masks drawn


class GraphBuilder:
    """Grows one random graph in the default graph, keeping the value of each node it makes."""

    def __init__(self, rng: np.random.Generator, dropout_training: bool | None) -> None:
        self.rng = rng
        self.dropout_training = dropout_training  # None: either, at random
        self.graph = ds.get_default_graph()
        self.values: dict[Node, Any] = {}
        self.pool: list[Node] = []  # the nodes later steps may read
        self.variables: list[ds.Variable] = []
        self.tags: dict[Node, str] = {}  # an operation -> how the builder made it
        self.stochastic = False
        self.tracked = len(self.graph.nodes)

    # -- nodes and values ---------------------------------------------------------------------

    def track(self, first_masks: list[Any] | None = None) -> None:
        """Work out the value of every node made since the last call, in the order they were
        made (inputs first). Dropout masks take ``first_masks``: evaluating the real mask node
        here would draw a mask from its generator, and the check relies on the run it makes
        drawing the node's first mask."""
        masks = iter(first_masks or [])
        for node in self.graph.nodes[self.tracked :]:
            if isinstance(node, ds.dropout_mask):
                self.values[node] = next(masks)
            else:
                self.values[node] = node.evaluate(self.values)
        self.tracked = len(self.graph.nodes)

    def shape(self, node: Node) -> tuple[int, ...]:
        return np.shape(self.values[node])

    def new_variable(self, shape: tuple[int, ...]) -> ds.Variable:
        variable = ds.Variable(self.rng.uniform(-1.5, 1.5, shape))
        self.variables.append(variable)
        self.pool.append(variable)
        self.track()
        return variable

    def new_constant(self, value: Any) -> ds.constant:
        node = ds.constant(value)
        self.track()
        return node

    def operand(self, shape: tuple[int, ...], *, fresh_variable_odds: float = 0.5) -> Node:
        """A node of ``shape`` from the pool, or a new Variable of that shape (always, if the
        pool has none; otherwise with ``fresh_variable_odds``)."""
        matching = [node for node in self.pool if self.shape(node) == shape]
        if matching and self.rng.random() >= fresh_variable_odds:
            return matching[self.rng.integers(len(matching))]
        return self.new_variable(shape)

    def pick(self, accept: Callable[[tuple[int, ...]], bool] = lambda shape: True) -> Node | None:
        """A node of the pool whose shape ``accept``s, favouring recent ones so that graphs grow
        deep as well as wide; None if there is none."""
        candidates = [node for node in self.pool if accept(self.shape(node))]
        if not candidates:
            return None
        weights = np.arange(1.0, len(candidates) + 1)
        return candidates[self.rng.choice(len(candidates), p=weights / weights.sum())]

    def finish(self, node: Node, tag: str | None = None) -> None:
        """Add a step's result to the pool, scaled back first if its entries grew large;
        ``tag`` says how the builder made it, for the coverage test."""
        self.track()
        if tag is not None:
            self.tags[node] = tag
        largest = float(np.max(np.abs(self.values[node])))
        if largest > LARGEST_VALUE:
            factor = self.new_constant(self.rng.uniform(0.5, 1.0) * LARGEST_VALUE / largest)
            node = (
                ds.multiply(node, factor) if self.rng.random() < 0.5 else ds.multiply(factor, node)
            )
            self.track()
        self.pool.append(node)

    # -- the steps: each tries to add one operation, returning False if the pool cannot -----

    def elementwise_binary(self, op: type[ds.Operation]) -> bool:
        x = self.pick()
        shape = self.shape(x)
        modes = ["same shape", "same node", "broadcast", "broadcast both"]
        mode = modes[self.rng.integers(len(modes))]
        # numpy stretches a vector (k,) and a column (m, 1), or a column and a row, to a matrix
        both = {1: [(int(self.rng.integers(2, 5)), 1)]}.get(len(shape), [])
        if len(shape) == 2 and 1 in shape:
            other = int(self.rng.integers(2, 5))
            both = [(other, 1)] if shape[0] == 1 else [(1, other), (other,)]
        if mode == "same node":
            y = x
        elif mode == "broadcast both" and both:
            y = self.operand(both[self.rng.integers(len(both))], fresh_variable_odds=0.7)
        elif mode != "same shape" and shape:
            # a bias vector, a size-1 axis or a scalar, stretched by numpy to x's shape
            smaller = [()] + [shape[start:] for start in range(1, len(shape))]
            smaller += [(*shape[:axis], 1, *shape[axis + 1 :]) for axis in range(len(shape))]
            y = self.operand(smaller[self.rng.integers(len(smaller))], fresh_variable_odds=0.7)
        else:
            y = self.operand(shape)
        self.finish(op(x, y) if self.rng.random() < 0.5 else op(y, x))
        return True

    def add(self) -> bool:
        return self.elementwise_binary(ds.add)

    def multiply(self) -> bool:
        return self.elementwise_binary(ds.multiply)

    def matmul(self) -> bool:
        a = self.pick(lambda shape: len(shape) in (1, 2))
        if a is None:
            return False
        shape = self.shape(a)
        if len(shape) == 2 and shape[0] == shape[1] and self.rng.random() < 0.5:
            self.finish(ds.matmul(a, a))
            return True
        outer = int(self.rng.integers(2, 5))
        if self.rng.random() < 0.5:  # a @ b: b's first axis meets a's last
            b_shape = (shape[-1], outer) if self.rng.random() < 0.6 else (shape[-1],)
            self.finish(ds.matmul(a, self.operand(b_shape)))
        else:  # b @ a: b's last axis meets a's first
            b_shape = (outer, shape[0]) if self.rng.random() < 0.6 else (shape[0],)
            self.finish(ds.matmul(self.operand(b_shape), a))
        return True

    def unary(self, op: Callable[[Node], Node]) -> bool:
        self.finish(op(self.pick()))
        return True

    def sigmoid(self) -> bool:
        return self.unary(ds.sigmoid)

    def tanh(self) -> bool:
        return self.unary(ds.tanh)

    def negative(self) -> bool:
        return self.unary(ds.negative)

    def exp(self) -> bool:
        return self.unary(ds.exp)  # of entries at most 3 in size: at most e**3

    def softmax(self) -> bool:
        x = self.pick(lambda shape: len(shape) >= 1)
        if x is None:
            return False
        self.finish(ds.softmax(x))
        return True

    def log(self) -> bool:
        x = self.pick()
        forms = ["log(sigmoid(x))", "log(x * x + c)", "log(x + shift)"]
        form = forms[self.rng.integers(len(forms))]
        if form == "log(sigmoid(x))":
            positive = ds.sigmoid(x)
        elif form == "log(x * x + c)":
            positive = ds.add(ds.multiply(x, x), self.new_constant(self.rng.uniform(0.5, 1.5)))
        else:  # a scalar shift, broadcast, that lifts the smallest entry to at least LOG_FLOOR
            lowest = float(np.min(self.values[x]))
            shift = LOG_FLOOR - lowest + self.rng.uniform(0.0, 1.0)
            positive = ds.add(x, self.new_constant(shift))
        self.finish(ds.log(positive), tag=form)
        return True

    def relu(self) -> bool:
        x = self.pick()
        value = self.values[x]
        # An input with no positive entry is lifted so that about half of them are (otherwise
        # relu would pass no gradient back at all); then entries near relu's kink at 0 are moved
        # RELU_MARGIN away from it, and the others stay put.
        lift = -float(np.median(value)) if np.max(value) <= 0 else 0.0
        lifted = value + lift
        away = np.where(lifted >= 0, RELU_MARGIN, -RELU_MARGIN)
        shift = lift + np.where(np.abs(lifted) < RELU_MARGIN, away, 0.0)
        if not np.any(shift):
            self.finish(ds.relu(x))
            return True
        shifted = ds.add(x, self.new_constant(shift))
        self.finish(ds.relu(shifted), tag="relu of a shifted input")
        return True

    def reduce(self, op: type[ds.reduce_sum]) -> bool:
        # mostly matrices, which have the most axes to reduce along
        x = self.pick(lambda shape: len(shape) == 2) if self.rng.random() < 0.7 else None
        if x is None:
            x = self.pick()
        choices = AXES_BY_NDIM[len(self.shape(x))]
        axis = choices[self.rng.integers(len(choices))]
        self.finish(op(x, axis=axis))
        return True

    def reduce_sum(self) -> bool:
        return self.reduce(ds.reduce_sum)

    def reduce_mean(self) -> bool:
        return self.reduce(ds.reduce_mean)

    def softmax_cross_entropy(self) -> bool:
        kind = TARGET_KINDS[self.rng.integers(len(TARGET_KINDS))]
        if kind == "a row of logits, broadcast":  # logits (m,), targets (n, m)
            logits = self.pick(lambda shape: len(shape) == 1)
        elif kind == "a row of targets, broadcast":  # logits (n, m), targets (m,)
            logits = self.pick(lambda shape: len(shape) == 2)
        else:
            logits = self.pick(lambda shape: len(shape) >= 1)
        if logits is None:
            return False
        shape = self.shape(logits)
        if kind == "one-hot targets":
            hot = self.rng.integers(shape[-1], size=shape[:-1])
            targets = self.new_constant(np.eye(shape[-1])[hot])
        elif kind == "soft targets":
            targets = self.new_constant(self.rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]))
        elif kind == "learned targets":  # rows that sum to 1, with a gradient of their own
            targets = ds.softmax(self.operand(shape))
        elif kind == "unnormalised targets":  # positive targets whose rows need not sum to 1
            targets = ds.sigmoid(self.operand(shape))
        elif kind == "a row of targets, broadcast":
            targets = ds.softmax(self.operand(shape[-1:]))
        elif kind == "a row of logits, broadcast":
            targets = ds.softmax(self.operand((int(self.rng.integers(2, 5)), shape[0])))
        else:
            targets = logits
        self.finish(ds.softmax_cross_entropy(logits, targets), f"softmax_cross_entropy with {kind}")
        return True

    def dropout(self, x: Node | None = None) -> bool:
        if x is None:
            x = self.pick(lambda shape: len(shape) >= 1)
        if x is None:
            return False
        training = self.dropout_training
        if training is None:
            training = bool(self.rng.random() < 0.5)
        rate = float(self.rng.choice([0.25, 0.5]))
        seed = int(self.rng.integers(2**31))
        self.stochastic |= training
        switch = self.new_constant(1.0 if training else 0.0)
        output = ds.dropout(x, switch, rate, seed)
        self.track(first_masks(self.values[x], training, rate, seed))
        self.finish(output, f"dropout, training {'on' if training else 'off'}")
        return True

    def reshape(self) -> bool:
        x = self.pick(lambda shape: len(shape) >= 1)
        if x is None:
            return False
        size = int(np.prod(self.shape(x)))
        shapes = [(size,), (1, size), (size, 1), (-1,)]
        shapes += [(a, size // a) for a in range(2, size) if size % a == 0]
        shape = shapes[self.rng.integers(len(shapes))]
        self.finish(ds.reshape(x, shape))
        return True

    def transpose(self) -> bool:
        x = self.pick(lambda shape: len(shape) == 2)
        if x is None:
            return False
        self.finish(ds.transpose(x, None if self.rng.random() < 0.5 else (1, 0)))
        return True

    def index(self) -> bool:
        x = self.pick(lambda shape: len(shape) >= 1)
        if x is None:
            return False
        size = self.shape(x)[-1]
        forms = {
            "an integer": -1 if self.rng.random() < 0.5 else 0,
            "a slice with a step": slice(None, None, -2 if self.rng.random() < 0.5 else 2),
            "positions, one repeated": (Ellipsis, [size - 1, 0, size - 1]),
            "the last axis, by ...": (Ellipsis, slice(1, None)) if size > 1 else (Ellipsis, 0),
            "a new axis": (None, Ellipsis) if len(self.shape(x)) == 1 else (slice(None), None, 0),
        }
        form = list(forms)[self.rng.integers(len(forms))]
        self.finish(x[forms[form]], tag=f"index by {form}")
        return True

    def stack(self) -> bool:
        x = self.pick(lambda shape: len(shape) <= 1)  # the other steps take up to two axes
        if x is None:
            return False
        return self.join(ds.stack, lambda ndim: self.rng.integers(-ndim - 1, ndim + 1), x)

    def concat(self) -> bool:
        x = self.pick(lambda shape: len(shape) >= 1)
        return x is not None and self.join(ds.concat, lambda ndim: self.rng.integers(ndim), x)

    def join(self, kind: Callable, draw_axis: Callable, x: Node) -> bool:
        """Two or three nodes of one shape, ``x`` among them (maybe twice), stacked or joined."""
        others = [self.operand(self.shape(x)) for _ in range(self.rng.integers(1, 3))]
        nodes = [x, *others]
        self.rng.shuffle(nodes)
        self.finish(kind(nodes, axis=int(draw_axis(len(self.shape(x))))))
        return True

    # -- the whole graph ----------------------------------------------------------------------

    STEPS = (
        "add",
        "multiply",
        "matmul",
        "sigmoid",
        "tanh",
        "negative",
        "softmax",
        "log",
        "relu",
        "reduce_sum",
        "reduce_mean",
        "softmax_cross_entropy",
        "dropout",
        "reshape",
        "transpose",
        "exp",
        "index",
        "stack",
        "concat",
    )

    def start(self) -> None:
        """Two to four Variables of different shapes, and a constant batch of data."""
        n, d, k = self.rng.permutation([2, 3, 4])
        shapes = [(), (d,), (k,), (n, d), (d, k), (d, d), (1, d)]
        chosen = self.rng.choice(len(shapes), size=self.rng.integers(2, 5), replace=False)
        for index in chosen:
            self.new_variable(shapes[index])
        self.pool.append(self.new_constant(self.rng.uniform(-1.5, 1.5, (n, d))))

    def grow(self, steps: int) -> None:
        done = 0
        while done < steps:
            step = self.STEPS[self.rng.integers(len(self.STEPS))]
            done += getattr(self, step)()

    def weighted_loss(self) -> Node:
        """The sum, over every node of the pool that no operation reads, of a random
        weighting of its entries: a scalar that every Variable reaches."""
        terms = []
        for node in self.pool:
            if node.consumers or isinstance(node, ds.constant):
                continue
            weights = self.new_constant(self.rng.uniform(-1.0, 1.0, self.shape(node)))
            terms.append(ds.reduce_sum(ds.multiply(node, weights)))
        loss = terms[0]
        for term in terms[1:]:
            loss = ds.add(loss, term)
        self.track()
        return loss


def first_masks(x_value: Any, training: bool, rate: float, seed: int) -> list[Any]:
    """The masks that ``ds.dropout(x, training, rate, seed)`` draws in the first run of a fresh
    graph: the masks of a twin, built and run once in a graph of its own."""
    with ds.Graph().as_default() as twin:
        ds.dropout(ds.constant(x_value), ds.constant(float(training)), rate, seed)
        masks = [node for node in twin.nodes if isinstance(node, ds.dropout_mask)]
        return ds.Session().run(masks)


def build_random_graph(seed: int, dropout_training: bool | None = None) -> RandomGraph:
    """Build the random graph named by ``seed`` in the default graph. ``dropout_training``
    forces every dropout's training switch on (True) or off (False); None draws it."""
    rng = np.random.default_rng(seed)
    builder = GraphBuilder(rng, dropout_training)
    builder.start()
    if dropout_training:  # on a Variable: then it is sure to be on the gradient's path
        vectors = [variable for variable in builder.variables if variable.value.ndim >= 1]
        builder.dropout(vectors[0] if vectors else builder.new_variable((3,)))
    builder.grow(int(rng.integers(3, 9)))
    loss = builder.weighted_loss()
    return RandomGraph(
        seed, loss, builder.variables, builder.values, builder.tags, builder.stochastic
    )


# -- the check --------------------------------------------------------------------------------


class GradientMismatchError(AssertionError):
    """Backpropagation and finite differences disagree on some Variable's gradient."""


def describe(graph: RandomGraph) -> str:
    """The graph's nodes in topological order, one line each: what computes it, and its shape."""
    lines = [f"random graph, seed {graph.seed}:"]
    for node in ds.graph.topological_order([graph.loss]):
        shape = np.shape(graph.values[node])
        if isinstance(node, ds.Operation):
            arguments = [input_node.name for input_node in node.input_nodes]
            arguments += [
                f"{attribute}={getattr(node, attribute)!r}"
                for attribute in ("axis", "rate")
                if hasattr(node, attribute)
            ]
            lines.append(f"  {node.name} = {type(node).__name__}({', '.join(arguments)}) {shape}")
        else:
            lines.append(f"  {node.name}: {type(node).__name__} {shape}")
    return "\n".join(lines)


def check_backpropagation(
    build: Callable[[], RandomGraph],
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> RandomGraph:
    """Build a graph with ``build`` in a graph of its own, and compare the gradient of its loss
    with respect to each Variable with central finite differences; raise GradientMismatchError,
    showing the graph, if any entry differs from the finite difference ``f`` by more than
    ``atol + rtol * |f|``."""
    with ds.Graph().as_default():
        graph = build()
        session = ds.Session()
        loss_value, grads = session.run([graph.loss, ds.compute_gradients(graph.loss)])

        def rebuilt_loss() -> float:
            # A fresh graph whose dropout masks draw their first masks, as the run above did,
            # with the Variables' current (nudged) values.
            with ds.Graph().as_default():
                fresh = build()
                for fresh_variable, variable in zip(fresh.variables, graph.variables, strict=True):
                    fresh_variable.value[...] = variable.value
                # As built, as the run with the gradient table was (a table turns the
                # optimiser's rewrites off), so that the same masks give the very same loss.
                return ds.Session(optimize=False).run(fresh.loss)

        if graph.stochastic:
            if rebuilt_loss() != loss_value:
                raise AssertionError(
                    f"a rebuilt graph does not draw the gradient run's masks\n{describe(graph)}"
                )
            loss_of = rebuilt_loss
        else:

            def loss_of() -> float:
                return session.run(graph.loss)

        mismatches = []
        for variable in graph.variables:
            expected = finite_difference(loss_of, variable.value, eps)
            computed = np.asarray(grads[variable])
            if not np.allclose(computed, expected, rtol=rtol, atol=atol):
                mismatches.append(
                    f"d(loss)/d({variable.name}):\n"
                    f"  backpropagation:     {np.array2string(computed, precision=8)}\n"
                    f"  finite differences:  {np.array2string(expected, precision=8)}"
                )
        if mismatches:
            raise GradientMismatchError("\n".join([describe(graph), *mismatches]))
    return graph


def graph_features(graph: RandomGraph) -> set[str]:
    """What a graph exercises: its operation types, reduction axes and structural patterns, read
    off its nodes, plus the builder's own choices (``graph.tags``). Only nodes that depend on a
    Variable count: backpropagation never goes through the others."""
    order = ds.graph.topological_order([graph.loss])
    in_graph = set(order)
    on_path: set[Node] = set()
    for node in order:
        if isinstance(node, ds.Variable) or any(i in on_path for i in node.input_nodes):
            on_path.add(node)
    features = {tag for node, tag in graph.tags.items() if node in on_path}
    shapes = {variable.value.shape for variable in graph.variables}
    if len(shapes) >= 2:
        features.add("Variables of different shapes")
    for node in order:
        if node not in on_path:
            continue
        readers = {consumer for consumer in node.consumers if consumer in in_graph}
        if isinstance(node, ds.Variable) and len(readers) >= 2:
            features.add("a Variable read by several operations")
        if not isinstance(node, ds.Operation):
            continue
        kind = type(node).__name__
        features.add(kind)
        if len(readers) >= 2:
            features.add("a shared subexpression")
        if len(set(node.input_nodes)) < len(node.input_nodes):
            features.add(f"{kind} reading one node twice")
        input_shapes = [np.shape(graph.values[i]) for i in node.input_nodes]
        if kind in ("add", "multiply") and input_shapes[0] != input_shapes[1]:
            features.add(f"{kind} with broadcasting")
            if np.shape(graph.values[node]) not in input_shapes:
                features.add(f"{kind} broadcasting both operands")
        if kind == "matmul":
            features.add(f"matmul of {' and '.join(f'{len(s)}-D' for s in input_shapes)}")
        if kind in ("reduce_sum", "reduce_mean"):
            features.add(f"{kind}(axis={node.axis!r})")
        if kind == "dropout_mask" and not np.all(graph.values[node] == 1):
            features.add("dropout that zeroed some entries")
    return features


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", GRAPH_SEEDS, ids=lambda seed: f"seed={seed}")
def test_random_graph(seed):
    check_backpropagation(lambda: build_random_graph(seed))


@pytest.mark.parametrize("seed", DROPOUT_SEEDS, ids=lambda seed: f"seed={seed}")
def test_random_graph_with_dropout_in_training(seed):
    graph = check_backpropagation(lambda: build_random_graph(seed, dropout_training=True))
    assert graph.stochastic
    assert "dropout, training on" in graph_features(graph)


def test_the_generator_covers_every_operation_and_pattern():
    counts: dict[str, int] = {}
    for seed in GRAPH_SEEDS:
        with ds.Graph().as_default():
            for feature in graph_features(build_random_graph(seed)):
                counts[feature] = counts.get(feature, 0) + 1
    # every operation class the library exports (dropout is dropout_mask times x), but those on
    # images (N, H, W, C), which these graphs of vectors and matrices do not make:
    # test_convolution.py checks their gradients against finite differences, and the optimiser
    # on a small convolutional network; and random_normal, whose numbers test_sequences.py
    # checks, with the gradient of a sample for the mean and the scale
    operations = {
        name
        for name in ds.__all__
        if isinstance(getattr(ds, name), type)
        and issubclass(getattr(ds, name), ds.Operation)
        and getattr(ds, name) is not ds.Operation
    } - {"conv2d", "max_pool", "random_normal"}
    assert operations <= set(counts), f"operations no graph uses: {operations - set(counts)}"
    required = [
        "Variables of different shapes",
        "a Variable read by several operations",
        "a shared subexpression",
        "multiply reading one node twice",
        "add reading one node twice",
        "matmul reading one node twice",
        "softmax_cross_entropy reading one node twice",
        "add with broadcasting",
        "multiply with broadcasting",
        "add broadcasting both operands",
        "multiply broadcasting both operands",
        "matmul of 1-D and 1-D",
        "matmul of 1-D and 2-D",
        "matmul of 2-D and 1-D",
        "matmul of 2-D and 2-D",
        *[
            f"index by {form}"
            for form in (
                "an integer",
                "a slice with a step",
                "positions, one repeated",
                "the last axis, by ...",
                "a new axis",
            )
        ],
        "stack reading one node twice",
        "concat reading one node twice",
        *[
            f"{op}(axis={axis!r})"
            for op in ("reduce_sum", "reduce_mean")
            for axis in AXES_BY_NDIM[2]
        ],
        "log(sigmoid(x))",
        "log(x * x + c)",
        "log(x + shift)",
        "relu of a shifted input",
        *[f"softmax_cross_entropy with {kind}" for kind in TARGET_KINDS],
        "dropout, training off",
        "dropout, training on",
        "dropout that zeroed some entries",
    ]
    rare = {feature: counts.get(feature, 0) for feature in required if counts.get(feature, 0) < 3}
    assert not rare, f"patterns fewer than 3 of the {len(GRAPH_SEEDS)} graphs exercise: {rare}"


# -- the check can fail -----------------------------------------------------------------------


def _wrong_tanh_gradient(op, grad, output, a):
    return grad * (1 - output)  # should be 1 - output**2


def _wrong_softmax_gradient(op, grad, output, a):
    return grad * output  # drops the term that couples the entries of a row


def _wrong_reduce_mean_gradient(op, grad, output, A):
    return ds.gradients.gradient_registry[ds.reduce_sum](op, grad, output, A)  # forgets 1 / count


PLANTED_BUGS = {
    "tanh": (ds.tanh, _wrong_tanh_gradient),
    "softmax": (ds.softmax, _wrong_softmax_gradient),
    "reduce_mean": (ds.reduce_mean, _wrong_reduce_mean_gradient),
}


def backpropagated(seed: int) -> list[np.ndarray]:
    """The gradients, one per Variable, that backpropagation gives on the graph of ``seed``."""
    with ds.Graph().as_default():
        graph = build_random_graph(seed)
        grads = ds.Session().run(ds.compute_gradients(graph.loss))
        return [np.asarray(grads[variable]) for variable in graph.variables]


@pytest.mark.parametrize("op_type, wrong_gradient", PLANTED_BUGS.values(), ids=PLANTED_BUGS.keys())
def test_a_planted_wrong_gradient_is_reported(monkeypatch, op_type, wrong_gradient):
    # On the first graphs that use the operation, with its gradient function broken: the check
    # must report every graph whose gradients the broken function changes, and only those. (It
    # changes nothing where, say, a relu that is 0 blocks the way back, or reduce_mean averages
    # over an axis of size 1.)
    seeds = []
    for seed in GRAPH_SEEDS:
        with ds.Graph().as_default():
            if op_type.__name__ in graph_features(build_random_graph(seed)):
                seeds.append(seed)
        if len(seeds) == 15:
            break
    right = {seed: backpropagated(seed) for seed in seeds}
    monkeypatch.setitem(ds.gradients.gradient_registry, op_type, wrong_gradient)
    affected = 0
    for seed in seeds:
        changed = any(
            not np.allclose(wrong, correct, rtol=RTOL, atol=ATOL)
            for wrong, correct in zip(backpropagated(seed), right[seed], strict=True)
        )
        if changed:
            affected += 1
            with pytest.raises(GradientMismatchError, match=rf"seed {seed}:\n(.|\n)*d\(loss\)/d\("):
                check_backpropagation(lambda seed=seed: build_random_graph(seed))
        else:
            check_backpropagation(lambda seed=seed: build_random_graph(seed))
    assert affected >= 10, f"the planted bug changes only {affected} of {len(seeds)} graphs"


class scale_by_three(ds.Operation):
    """An operation of this test's own: ``3 * x``."""

    def __init__(self, x: Any) -> None:
        super().__init__([x])

    def compute(self, x_value: np.ndarray) -> np.ndarray:
        return 3 * x_value


@pytest.mark.parametrize("factor, caught", [(3, False), (2.99, True)])
def test_a_user_operation_with_a_wrong_gradient_is_reported(monkeypatch, factor, caught):
    # The registry entry lives only as long as this test; 3 is right, 2.99 is slightly off.
    monkeypatch.setitem(
        ds.gradients.gradient_registry, scale_by_three, lambda op, grad, output, x: factor * grad
    )

    def build() -> RandomGraph:
        builder = GraphBuilder(np.random.default_rng(0), dropout_training=False)
        builder.start()
        builder.finish(scale_by_three(builder.variables[0]))
        builder.grow(3)
        return RandomGraph(0, builder.weighted_loss(), builder.variables, builder.values, {}, False)

    if caught:
        with pytest.raises(GradientMismatchError, match=r"scale_by_three_1 = scale_by_three"):
            check_backpropagation(build)
    else:
        check_backpropagation(build)
