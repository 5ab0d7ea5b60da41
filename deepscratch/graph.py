"""Computational graphs: the nodes (operations, placeholders, variables,
constants), the Graph that collects them, and the order in which a graph's
nodes can be computed.

A node knows its inputs (``input_nodes``) and the operations that read it
(``consumers``).  Values never live on operations: a
:class:`~deepscratch.Session` computes them afresh on every run, so no run can
read a value left by another. Only a :class:`Variable` holds a value between
runs -- that is what a variable is.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np


class Graph:
    """A computational graph: every node created while it is the default
    graph joins its ``nodes``; ``operations``, ``placeholders`` and
    ``variables`` list one kind each. ``Graph().as_default()`` makes a graph
    the default; in a ``with`` statement, the previous default returns after
    the block."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"#{next(_graph_numbers)}"
        self.nodes: list[Node] = []
        self.previous_defaults: list[Graph] = []
        # How many nodes of each type it has, for names like add_2.
        self.node_counts: Counter[str] = Counter()

    def as_default(self) -> Graph:
        """Make this the graph new nodes join (usable in ``with``)."""
        self.previous_defaults.append(get_default_graph())
        _make_default(self)
        return self

    operations = property(lambda self: _nodes_of(self, Operation))
    placeholders = property(lambda self: _nodes_of(self, placeholder))
    variables = property(lambda self: _nodes_of(self, Variable))

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc_info: object) -> None:
        _make_default(self.previous_defaults.pop())

    def __repr__(self) -> str:
        return f"<Graph {self.name}>"


_graph_numbers = itertools.count(1)
_default_graph = Graph("default")


def get_default_graph() -> Graph:
    """The graph that new nodes join."""
    return _default_graph


def _make_default(graph: Graph) -> None:
    global _default_graph
    _default_graph = graph


def _nodes_of(graph: Graph, kind: type) -> list:
    return [node for node in graph.nodes if isinstance(node, kind)]


class Node:
    """What operations, placeholders, variables and constants have in
    common."""

    # Let numpy arrays defer to our operators, so ``array + node`` builds an
    # ``add``.
    __array_ufunc__ = None

    def __init__(
        self, input_nodes: Iterable[Node] = (), name: str | None = None
    ) -> None:
        self.graph = get_default_graph()
        self.input_nodes: list[Node] = _inputs_in(
            self.graph, type(self), input_nodes
        )
        self.consumers: list[Operation] = []
        self.name = name if name is not None else _automatic_name(self)
        self.graph.nodes.append(self)

    def evaluate(self, values: dict[Node, Any]) -> Any:
        """This node's value in a run whose values so far are ``values``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define evaluate()"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} in {self.graph!r}>"

    # Python operators build operations, so ``x @ W + b`` reads like the
    # formula.
    def __add__(self, other: Any) -> Operation:
        from .operations import add

        return add(self, other)

    def __radd__(self, other: Any) -> Operation:
        from .operations import add

        return add(other, self)

    def __sub__(self, other: Any) -> Operation:
        from .operations import add, negative

        return add(self, negative(other))

    def __rsub__(self, other: Any) -> Operation:
        from .operations import add, negative

        return add(other, negative(self))

    def __mul__(self, other: Any) -> Operation:
        from .operations import multiply

        return multiply(self, other)

    def __rmul__(self, other: Any) -> Operation:
        from .operations import multiply

        return multiply(other, self)

    def __matmul__(self, other: Any) -> Operation:
        from .operations import matmul

        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Operation:
        from .operations import matmul

        return matmul(other, self)

    def __neg__(self) -> Operation:
        from .operations import negative

        return negative(self)


def _inputs_in(graph: Graph, kind: type, inputs: Iterable[Any]) -> list[Node]:
    """``inputs`` as nodes (numbers and arrays become constants), all of them
    in ``graph``."""
    nodes = [
        value if isinstance(value, Node) else constant(value)
        for value in inputs
    ]
    for node in nodes:
        if node.graph is not graph:
            raise ValueError(
                f"{kind.__name__} cannot take {node!r} as an input: "
                f"it belongs to {node.graph!r}, but the default graph is "
                f"{graph!r}"
            )
    return nodes


def _automatic_name(node: Node) -> str:
    """The node's type and its number among the graph's nodes of that type:
    ``add_2``."""
    kind = type(node).__name__
    node.graph.node_counts[kind] += 1
    return f"{kind}_{node.graph.node_counts[kind]}"


def as_float_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array (itself, if it is one already), or a
    TypeError that says which ``what`` was wrong."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got {value!r}")
    return array.astype(np.float64, copy=False)


class Operation(Node):
    """A node that computes its output from the values of its input nodes.

    A new operation subclasses ``Operation``, passes its inputs to ``__init__``
    and defines ``compute``, which receives the inputs' values in the same
    order. Its gradient is registered with
    :func:`~deepscratch.RegisterGradient`.
    """

    def __init__(
        self, input_nodes: Iterable[Any] = (), name: str | None = None
    ) -> None:
        super().__init__(input_nodes, name)
        for node in self.input_nodes:
            node.consumers.append(self)

    def compute(self, *input_values: np.ndarray) -> Any:
        """The output, given the values of ``input_nodes``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define compute()"
        )

    def evaluate(self, values: dict[Node, Any]) -> Any:
        """The output in a run whose values so far are ``values``."""
        return self.compute(*[values[node] for node in self.input_nodes])


class placeholder(Node):
    """An input whose value is supplied in ``feed_dict`` each time a session
    runs."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)

    def evaluate(self, values: dict[Node, Any]) -> Any:
        """Reached only when the run's ``feed_dict`` has no value for this
        placeholder."""
        raise MissingFeedError(self)


class MissingFeedError(KeyError):
    """A placeholder that a run needs has no value in ``feed_dict``."""

    def __init__(self, missing: placeholder) -> None:
        readers = ", ".join(consumer.name for consumer in missing.consumers)
        super().__init__(
            f"{missing!r} needs a value in feed_dict"
            + (f" (it is read by {readers})" if readers else "")
        )

    def __str__(self) -> str:
        return str(self.args[0])


class Variable(Node):
    """A parameter of the graph: it holds its value (a float array) between
    runs.

    The initial value is copied, so training never alters the caller's array.
    """

    def __init__(self, initial_value: Any, name: str | None = None) -> None:
        value = as_float_array(
            initial_value, f"the initial value of Variable {name!r}"
        )
        self.value = value.copy()
        super().__init__(name=name)

    def evaluate(self, values: dict[Node, Any]) -> np.ndarray:
        return self.value


class constant(Node):
    """A fixed value, such as the ``2`` in ``2 * x``. It is never trained."""

    def __init__(self, value: Any, name: str | None = None) -> None:
        self.value = as_float_array(
            value, f"the value of constant {name!r}"
        ).copy()
        super().__init__(name=name)

    def evaluate(self, values: dict[Node, Any]) -> np.ndarray:
        return self.value


def topological_order(fetches: Iterable[Node]) -> list[Node]:
    """Every node the fetches depend on, each once, every input before its
    consumers.

    A depth-first traversal: a node waits on the stack until all of its inputs
    are in the order, then joins it. (A stack of our own rather than recursion,
    so that a chain of thousands of nodes does not hit Python's recursion
    limit.)
    """
    order: list[Node] = []
    placed: set[Node] = set()
    stack = list(fetches)[::-1]
    while stack:
        node = stack[-1]
        waiting = [i for i in node.input_nodes if i not in placed]
        if waiting:
            stack.extend(reversed(waiting))
        else:
            stack.pop()
            if node not in placed:
                placed.add(node)
                order.append(node)
    return order
