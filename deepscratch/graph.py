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
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


class Graph:
    """A computational graph: every node created while it is the default
    graph joins its ``nodes``; ``operations``, ``placeholders`` and
    ``variables`` list one kind each. ``Graph().as_default()`` makes a graph
    the default; in a ``with`` statement, the previous default returns after
    the block."""

    def __init__(self, name: str | None = None, seed: int = 0) -> None:
        self.name = name or f"#{next(_graph_numbers)}"
        self.seed = seed  # where the random streams of its operations start
        self.nodes: list[Node] = []
        self.names: set[str] = set()  # of its nodes, each unique
        # How many nodes of each type it has, for names like add_2.
        self.node_counts: Counter[str] = Counter()

    def as_default(self) -> Graph:
        """Make this the graph new nodes join (usable in ``with``)."""
        _current.replaced = (self, weakref.ref(get_default_graph()))
        _current.graph = self
        return self

    operations = property(lambda self: _nodes_of(self, Operation))
    placeholders = property(lambda self: _nodes_of(self, placeholder))
    variables = property(lambda self: _nodes_of(self, Variable))

    def __enter__(self) -> Graph:
        replaced, _current.replaced = _current.replaced, None
        if replaced is not None and replaced[0] is self:
            previous = replaced[1]  # ``with graph.as_default():``
        else:  # ``with graph:``
            previous = weakref.ref(get_default_graph())
            _current.graph = self
        _current.previous.append(previous)
        return self

    def __exit__(self, *exc_info: object) -> None:
        previous = _current.previous.pop()()
        _current.graph = previous if previous is not None else _first_graph

    def __repr__(self) -> str:
        return f"<Graph {self.name}>"


class _CurrentGraph(threading.local):
    """Each thread's default graph, and the defaults to return to after a
    ``with`` block. Only weak references are kept of those: a graph that
    ``Graph().as_default()`` replaced, and that nothing else refers to, is
    freed with its nodes and their values."""

    def __init__(self) -> None:
        self.graph: Graph | None = None  # None: the process's first graph
        # The graph an ``as_default()`` just replaced, for a ``with`` on it.
        self.replaced: tuple[Graph, weakref.ref[Graph]] | None = None
        self.previous: list[weakref.ref[Graph]] = []


_graph_numbers = itertools.count(1)
_first_graph = Graph("default")
_current = _CurrentGraph()


def get_default_graph() -> Graph:
    """The graph that new nodes join, in this thread."""
    graph = _current.graph
    return graph if graph is not None else _first_graph


def _nodes_of(graph: Graph, kind: type) -> list:
    return [node for node in graph.nodes if isinstance(node, kind)]


#: Every type of node by its name, for ``RegisterGradient("add")``.
node_types: dict[str, type[Node]] = {}

#: The operations Python's operators build: ``x + y`` is ``OPERATORS["add"]``.
#: operations.py fills it in, so that this module imports none of the others.
OPERATORS: dict[str, Callable[..., Operation]] = {}


def who(kind: str, name: str | None) -> str:
    """The operation a bad setting is for, named as far as it has a name
    yet: its settings are checked before it joins its graph."""
    return kind if name is None else f"{kind} {name!r}"


def is_integer(value: Any) -> bool:
    """Is ``value`` an integer (a Python or numpy one, but not a bool)?"""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


class Node:
    """What operations, placeholders, variables and constants share."""

    # Let numpy arrays defer to our operators, so ``array + node`` builds an
    # ``add``.
    __array_ufunc__ = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        node_types[cls.__name__] = cls  # the last class of each name

    def __init__(
        self, input_nodes: Iterable[Any] = (), name: str | None = None
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"the name of a {type(self).__name__} must be a string, "
                f"got {name!r}"
            )
        self.graph = get_default_graph()
        # Every check comes before the node, or any constant for a number
        # among its inputs, joins the graph: a failure leaves nothing behind.
        self.input_nodes: list[Node] = _inputs_in(
            self.graph, type(self), list(input_nodes)
        )
        self.consumers: list[Operation] = []
        self.name = _unique_name(self.graph, type(self).__name__, name)
        self.graph.nodes.append(self)
        _current.replaced = (
            None  # a later ``with graph:`` keeps it the default
        )

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
        return OPERATORS["add"](self, other)

    def __radd__(self, other: Any) -> Operation:
        return OPERATORS["add"](other, self)

    def __sub__(self, other: Any) -> Operation:
        return OPERATORS["add"](self, OPERATORS["negative"](other))

    def __rsub__(self, other: Any) -> Operation:
        return OPERATORS["add"](other, OPERATORS["negative"](self))

    def __mul__(self, other: Any) -> Operation:
        return OPERATORS["multiply"](self, other)

    def __rmul__(self, other: Any) -> Operation:
        return OPERATORS["multiply"](other, self)

    def __matmul__(self, other: Any) -> Operation:
        return OPERATORS["matmul"](self, other)

    def __rmatmul__(self, other: Any) -> Operation:
        return OPERATORS["matmul"](other, self)

    def __neg__(self) -> Operation:
        return OPERATORS["negative"](self)

    def __getitem__(self, key: Any) -> Operation:
        return OPERATORS["index"](self, key)

    # Not a sequence: without this, ``for x in node`` would index forever.
    __iter__ = None


def _inputs_in(graph: Graph, kind: type, inputs: list[Any]) -> list[Node]:
    """``inputs`` as nodes of ``graph``: numbers and arrays become constants,
    but only once every input has been checked."""
    for value in inputs:
        if isinstance(value, Node) and value.graph is not graph:
            raise ValueError(
                f"{kind.__name__} cannot take {value!r} as an input: it "
                f"belongs to {value.graph!r}, but the default graph is "
                f"{graph!r}"
            )
    arrays = {
        i: as_float_array(value, f"input {i} of {kind.__name__}")
        for i, value in enumerate(inputs)
        if not isinstance(value, Node)
    }
    return [
        constant(arrays[i]) if i in arrays else value
        for i, value in enumerate(inputs)
    ]


def _unique_name(graph: Graph, kind: str, name: str | None) -> str:
    """``name`` if the graph has no node of that name yet, else ``name_1``,
    ``name_2``, ...; without a name, the type and its number: ``add_2``. An
    automatic name never takes a name already given."""
    if name is None:
        candidate = name
        while candidate is None or candidate in graph.names:
            graph.node_counts[kind] += 1
            candidate = f"{kind}_{graph.node_counts[kind]}"
    else:
        candidate, number = name, 0
        while candidate in graph.names:
            number += 1
            candidate = f"{name}_{number}"
    graph.names.add(candidate)
    return candidate


def as_float_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array (itself, if it is one already), or an
    error that says which ``what`` was wrong."""
    try:
        array = np.asarray(value)
    except ValueError as error:  # a ragged list, say
        raise ValueError(
            f"{what} must be a rectangular array of numbers, got {value!r} "
            f"({error})"
        ) from None
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

    def __init__(self, *, name: str | None = None) -> None:
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
    runs. Runs read it; training steps change it, after the run."""

    def __init__(self, initial_value: Any, *, name: str | None = None) -> None:
        what = f"the initial value of Variable {name!r}"
        self._value = as_float_array(initial_value, what).copy()
        self._view = read_only(self._value)  # what runs read
        super().__init__(name=name)

    @property
    def value(self) -> np.ndarray:
        """Its value; a new one is checked and copied like the first."""
        return self._value

    @value.setter
    def value(self, new_value: Any) -> None:
        if new_value is not self._value:  # not the same array, changed
            self._value = _new_value(self, new_value)
            self._view = read_only(self._value)

    def evaluate(self, values: dict[Node, Any]) -> np.ndarray:
        return self._view


def _new_value(variable: Variable, value: Any) -> np.ndarray:
    """``value`` as the Variable's new value: a copy, as a float array of the
    shape it had."""
    array = as_float_array(value, f"the value of {variable!r}")
    if array.shape != variable.value.shape:
        raise ValueError(
            f"the value of {variable!r} must keep its shape "
            f"{variable.value.shape}, got shape {array.shape}"
        )
    return array.copy()


class constant(Node):
    """A fixed value, such as the ``2`` in ``2 * x``. It is never trained."""

    def __init__(self, value: Any, *, name: str | None = None) -> None:
        what = f"the value of constant {name!r}"
        self.value = read_only(as_float_array(value, what).copy())
        super().__init__(name=name)

    def evaluate(self, values: dict[Node, Any]) -> np.ndarray:
        return self.value


class ShapeError(ValueError):
    """An operation failed on the shapes of its inputs; the message names
    the operation and the shapes."""


def shape_error(node: Node, values: list[Any], error: Exception) -> ShapeError:
    """``error``, raised by ``node`` on input ``values``, with the node and the
    shapes of its inputs named."""
    shapes = " and ".join(str(np.shape(value)) for value in values)
    return ShapeError(f"{node!r}, with inputs of shapes {shapes}: {error}")


def explained_call(
    node: Node, compute: Callable[..., Any], values: list[Any]
) -> Any:
    """``compute(*values)``; an error in it names ``node`` and the shapes of
    ``values``."""
    try:
        return compute(*values)
    except ValueError as error:
        raise shape_error(node, values, error) from error


def read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot be written to: what a run hands its
    operations, so that none of them can change a Variable's value."""
    view = array.view()
    view.flags.writeable = False
    return view


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
