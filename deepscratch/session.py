"""Running a graph: order the nodes a fetch needs, then evaluate each of them once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .graph import Graph, Node, Operation, as_float_array, get_default_graph, placeholder


def topological_order(fetches: Iterable[Node]) -> list[Node]:
    """Every node the fetches depend on, each once, every input before its consumers.

    This is a post-order depth-first traversal: a node is appended only after all of
    its inputs have been. It keeps its own stack rather than recursing, so a chain of
    thousands of nodes does not hit Python's recursion limit.
    """
    order: list[Node] = []
    visited: set[Node] = set()
    for fetch in fetches:
        stack = [(fetch, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((input_node, False) for input_node in reversed(node.input_nodes))
    return order


class Session:
    """Computes the values of nodes of one graph (the default graph when it was created)."""

    def __init__(self, graph: Graph | None = None) -> None:
        self.graph = graph if graph is not None else get_default_graph()
        # A node's inputs never change, so neither does the order a list of fetches needs:
        # each list is ordered once, however often it runs.
        self._orders: dict[tuple[Node, ...], list[Node]] = {}

    def run(
        self, fetches: Node | list[Node], feed_dict: Mapping[placeholder, Any] | None = None
    ) -> Any:
        """The value of ``fetches`` (a node, or a list of nodes: then a list of values).

        ``feed_dict`` maps each placeholder the fetches need to its value; lists and
        numbers are converted to float arrays. Each needed node is computed once.
        """
        fetch_list = list(fetches) if isinstance(fetches, (list, tuple)) else [fetches]
        self._check_fetches(fetch_list)
        values: dict[Node, Any] = self._checked_feed(feed_dict or {})
        key = tuple(fetch_list)
        if key not in self._orders:
            self._orders[key] = topological_order(fetch_list)
        try:
            for node in self._orders[key]:
                if node not in values:
                    values[node] = node.evaluate(values)
        except ValueError as error:
            shapes = " and ".join(str(np.shape(values[i])) for i in node.input_nodes)
            raise ValueError(f"{node!r}, with inputs of shapes {shapes}: {error}") from error
        results = [_as_result(fetch, values[fetch]) for fetch in fetch_list]
        return results if isinstance(fetches, (list, tuple)) else results[0]

    def _check_fetches(self, fetch_list: list[Any]) -> None:
        for fetch in fetch_list:
            if not isinstance(fetch, Node):
                raise TypeError(f"Session.run can only fetch nodes of a graph, got {fetch!r}")
            if fetch.graph is not self.graph:
                raise ValueError(
                    f"{fetch!r} cannot be run by a session of {self.graph!r}; "
                    f"create a Session() while {fetch.graph!r} is the default graph"
                )

    def _checked_feed(self, feed_dict: Mapping[Any, Any]) -> dict[Node, np.ndarray]:
        feed = {}
        for node, value in feed_dict.items():
            if not isinstance(node, placeholder):
                raise TypeError(f"feed_dict keys must be placeholders, got {node!r}")
            if node.graph is not self.graph:
                raise ValueError(f"{node!r} is fed to a session of {self.graph!r}")
            feed[node] = as_float_array(value, f"the value fed to {node!r}")
        return feed


def _as_result(fetch: Node, value: Any) -> Any:
    """A fetched value as the caller receives it: a plain float for a single number, and
    a copy of a variable's array, which later training steps update in place."""
    if isinstance(value, np.ndarray | np.floating) and np.ndim(value) == 0:
        return float(value)
    if not isinstance(fetch, Operation):
        return value.copy()
    return value
