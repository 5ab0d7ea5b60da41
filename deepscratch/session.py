"""Running a graph: compute the nodes the fetches need, in topological order,
each once."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from .gradients import gradient_table
from .graph import (
    Graph,
    Node,
    as_float_array,
    get_default_graph,
    placeholder,
    read_only,
    shape_error,
    topological_order,
)
from .plan import NotCompilableError, Plan
from .rewrites import REWRITES
from .train import Update


class Session:
    """Computes the values of nodes of one graph (the default graph when it was
    created).

    ``optimize`` says how: True (the default) compiles each list of fetches
    into a :class:`~deepscratch.plan.Plan` with every rewrite of
    :data:`~deepscratch.rewrites.REWRITES`; a collection of their names makes
    those only; False runs the graph exactly as built, node by node."""

    def __init__(
        self,
        graph: Graph | None = None,
        *,
        optimize: bool | Collection[str] = True,
    ) -> None:
        self.graph = graph if graph is not None else get_default_graph()
        self.optimize = checked_rewrites(optimize)
        self.orders: dict[tuple[Node, ...], list[Node]] = {}  # see order()
        # The plan of each list of fetches run so far (None: run as built).
        self.plans: dict[tuple[Node, ...], Plan | None] = {}

    def run(
        self,
        fetches: Node | list[Node],
        feed_dict: Mapping[placeholder, Any] | None = None,
    ) -> Any:
        """The value of ``fetches`` (a node, or a list of nodes: then a list of
        values); ``feed_dict`` maps each placeholder they need to a value."""
        fetch_list = (
            list(fetches) if isinstance(fetches, list | tuple) else [fetches]
        )
        values = self.fed_values(feed_dict or {})
        plan = None if self.optimize is False else self.plan(fetch_list)
        if plan:  # chapter 15: the same values, computed faster
            values = plan.run(values)
        else:
            for node in self.order(fetch_list):
                if node not in values:
                    values[node] = evaluate(node, values)
        results = [as_result(values[fetch]) for fetch in fetch_list]
        apply_updates(values)  # training steps change Variables only now
        return results if isinstance(fetches, list | tuple) else results[0]

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass  # a session holds nothing to release: the Variables keep values

    def order(self, fetch_list: list[Any]) -> list[Node]:
        """The topological order of the fetches' nodes. A node's inputs never
        change, so neither does the order a list of fetches needs: it is worked
        out once."""
        for fetch in fetch_list:
            if not isinstance(fetch, Node):
                raise TypeError(
                    "Session.run can only fetch nodes of a graph, "
                    f"got {fetch!r}"
                )
            if fetch.graph is not self.graph:
                raise ValueError(
                    f"{fetch!r} cannot be run by a session of {self.graph!r}; "
                    f"create a Session() while {fetch.graph!r} is the default "
                    "graph"
                )
        key = tuple(fetch_list)
        if key not in self.orders:
            self.orders[key] = topological_order(fetch_list)
        return self.orders[key]

    def plan(self, fetch_list: list[Any]) -> Plan | None:
        """The compiled plan for these fetches, made on their first run; None
        when a node among them computes its value in a way only its own
        ``evaluate`` knows."""
        try:
            return self.plans[tuple(fetch_list)]
        except (KeyError, TypeError):  # a first run, or not nodes at all
            order = self.order(fetch_list)
        rewrites = REWRITES if self.optimize is True else self.optimize
        # A gradient table promises a gradient for every node as built.
        if any(isinstance(node, gradient_table) for node in order):
            rewrites = ()
        try:
            plan = Plan(order, fetch_list, rewrites)
        except NotCompilableError:
            plan = None
        self.plans[tuple(fetch_list)] = plan
        return plan

    def fed_values(self, feed_dict: Mapping[Any, Any]) -> dict[Node, Any]:
        """The values of the placeholders in ``feed_dict``: float arrays (lists
        and numbers are converted), after checking that each key is a
        placeholder of this graph."""
        values: dict[Node, Any] = {}
        for node, value in feed_dict.items():
            if not isinstance(node, placeholder):
                raise TypeError(
                    f"feed_dict keys must be placeholders, got {node!r}"
                )
            if node.graph is not self.graph:
                raise ValueError(
                    f"{node!r} is fed to a session of {self.graph!r}"
                )
            if not (isinstance(value, np.ndarray) and value.dtype == float):
                value = as_float_array(value, f"the value fed to {node!r}")
            values[node] = read_only(value)  # a run never changes its data
        return values


def checked_rewrites(optimize: Any) -> bool | frozenset[str]:
    """``optimize`` if it is True, False or a collection of the names in
    :data:`~deepscratch.rewrites.REWRITES`; an error otherwise."""
    if isinstance(optimize, bool):
        return optimize
    try:
        names = None if isinstance(optimize, str) else frozenset(optimize)
    except TypeError:  # not a collection
        names = None
    if names is None or not names <= REWRITES:
        raise ValueError(
            f"optimize must be True, False or a list of rewrites among "
            f"{sorted(REWRITES)}, got {optimize!r}"
        )
    return names


def evaluate(node: Node, values: dict[Node, Any]) -> Any:
    """``node.evaluate(values)``; an operation that fails on the shapes of its
    inputs' values says which operation it is, and what the shapes were."""
    try:
        return node.evaluate(values)
    except ValueError as error:
        inputs = [values[i] for i in node.input_nodes]
        raise shape_error(node, inputs, error) from error


def apply_updates(values: dict[Node, Any]) -> None:
    """Make the changes the run's training steps computed, in the order the
    steps ran: each from the values the Variables had when the run began."""
    for value in values.values():
        if isinstance(value, Update):
            value.apply()


def as_result(value: Any) -> Any:
    """A value as a run returns it: a plain float for a single number, and a
    copy of an array (of each array in a table of gradients), so that no
    result shares memory with a Variable or with another result. A training
    step's value is None."""
    if isinstance(value, float):  # numpy's float64 too
        return float(value)
    if isinstance(value, Update):
        return None
    if isinstance(value, dict):
        copied = copy.copy(value)
        copied.update((key, as_result(item)) for key, item in value.items())
        return copied
    if isinstance(value, np.ndarray | np.floating) and np.ndim(value) == 0:
        return float(value)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value
