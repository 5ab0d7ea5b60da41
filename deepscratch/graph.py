"""Computational graphs: the nodes (operations, placeholders, variables, constants) and the Graph.

A node knows its inputs (``input_nodes``) and the operations that read it
(``consumers``).  Values never live on operations: a :class:`~deepscratch.Session`
computes them afresh on every run, so no run can read a value left by another.
Only a :class:`Variable` holds a value between runs -- that is what a variable is.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np


class Graph:
    """A computational graph: every node created while it is the default graph joins it.

    ``Graph().as_default()`` makes a new graph the default, as in the original text;
    used in a ``with`` statement it restores the previous default on exit::

        with Graph().as_default() as graph:
            ...
    """

    _numbers = itertools.count(1)

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"#{next(Graph._numbers)}"
        self.nodes: list[Node] = []
        self._names_used: dict[str, int] = {}
        self._previous_defaults: list[Graph] = []

    @property
    def operations(self) -> list[Operation]:
        return [node for node in self.nodes if isinstance(node, Operation)]

    @property
    def placeholders(self) -> list[placeholder]:
        return [node for node in self.nodes if isinstance(node, placeholder)]

    @property
    def variables(self) -> list[Variable]:
        return [node for node in self.nodes if isinstance(node, Variable)]

    def as_default(self) -> Graph:
        """Make this graph the default one; returns the graph, usable in ``with``."""
        global _default_graph
        self._previous_defaults.append(_default_graph)
        _default_graph = self
        return self

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _default_graph
        _default_graph = self._previous_defaults.pop()

    def _add(self, node: Node, name: str | None) -> str:
        kind = type(node).__name__
        number = self._names_used.get(kind, 0) + 1
        self._names_used[kind] = number
        self.nodes.append(node)
        return name if name is not None else f"{kind}_{number}"

    def __repr__(self) -> str:
        return f"<Graph {self.name}>"


_default_graph = Graph("default")


def get_default_graph() -> Graph:
    """The graph that new nodes join."""
    return _default_graph


class Node:
    """What operations, placeholders, variables and constants have in common."""

    # Let numpy arrays defer to our operators, so ``array + node`` builds an ``add``.
    __array_ufunc__ = None

    def __init__(self, input_nodes: Iterable[Node] = (), name: str | None = None) -> None:
        self.input_nodes: list[Node] = list(input_nodes)
        self.consumers: list[Operation] = []
        self.graph = _default_graph
        self.name = self.graph._add(self, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} in {self.graph!r}>"

    # Python operators build operations, so ``x @ W + b`` reads like the formula.
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


def as_float_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array (itself, if it is one already), or a TypeError that
    says which ``what`` was wrong."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got {value!r}")
    return array.astype(np.float64, copy=False)


def as_node(value: Any) -> Node:
    """A node as it is; a number or array as a :class:`constant`."""
    return value if isinstance(value, Node) else constant(value)


class Operation(Node):
    """A node that computes its output from the values of its input nodes.

    A new operation subclasses ``Operation``, passes its inputs to ``__init__`` and
    defines ``compute``, which receives the inputs' values in the same order.
    Its gradient is registered with :func:`~deepscratch.RegisterGradient`.
    """

    def __init__(self, input_nodes: Iterable[Any] = (), name: str | None = None) -> None:
        input_nodes = [as_node(value) for value in input_nodes]
        for node in input_nodes:
            if node.graph is not _default_graph:
                raise ValueError(
                    f"{type(self).__name__} cannot take {node!r} as an input: it belongs to "
                    f"{node.graph!r}, but the default graph is {_default_graph!r}"
                )
        super().__init__(input_nodes, name)
        for node in self.input_nodes:
            node.consumers.append(self)

    def compute(self, *input_values: np.ndarray) -> Any:
        """The output, given the values of ``input_nodes``."""
        raise NotImplementedError(f"{type(self).__name__} does not define compute()")

    def evaluate(self, values: dict[Node, Any]) -> Any:
        """The output in a run whose values so far are ``values``."""
        return self.compute(*[values[node] for node in self.input_nodes])


class placeholder(Node):
    """An input whose value is supplied in ``feed_dict`` each time a session runs."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)

    def evaluate(self, values: dict[Node, Any]) -> Any:
        """Reached only when the run's ``feed_dict`` has no value for this placeholder."""
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
    """A parameter of the graph: it holds its value (a float array) between runs.

    The initial value is copied, so training never alters the caller's array.
    """

    def __init__(self, initial_value: Any, name: str | None = None) -> None:
        value = as_float_array(initial_value, f"the initial value of Variable {name!r}")
        self.value = value.copy()
        super().__init__(name=name)

    def evaluate(self, values: dict[Node, Any]) -> np.ndarray:
        return self.value


class constant(Node):
    """A fixed value, such as the ``2`` in ``2 * x``. It is never trained."""

    def __init__(self, value: Any, name: str | None = None) -> None:
        self.value = as_float_array(value, f"the value of constant {name!r}").copy()
        super().__init__(name=name)

    def evaluate(self, values: dict[Node, Any]) -> np.ndarray:
        return self.value
