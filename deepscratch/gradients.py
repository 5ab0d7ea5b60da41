"""Backpropagation: the gradient of a loss with respect to every node that leads to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .graph import Node, Operation, Variable
from .session import topological_order

GradientFunction = Callable[..., Any]

#: Each operation type (the class itself, not its name) mapped to its gradient function.
gradient_registry: dict[type[Operation], GradientFunction] = {}


class RegisterGradient:
    """Decorator that registers the gradient function of an operation type.

    ``op_type`` is the operation class, or its name as in the original text
    (``@RegisterGradient("add")``). The function is called as
    ``gradient(op, grad, output, *inputs)``: the operation, the gradient of the loss
    with respect to its output, and the output and input values of the current run.
    It returns the gradient with respect to each input (a tuple, or a single array
    for an operation with one input).
    """

    def __init__(self, op_type: type[Operation] | str) -> None:
        self.op_type = _operation_class(op_type) if isinstance(op_type, str) else op_type

    def __call__(self, gradient: GradientFunction) -> GradientFunction:
        gradient_registry[self.op_type] = gradient
        return gradient


def _operation_class(name: str) -> type[Operation]:
    """The subclass of Operation called ``name``: looked up, never ``eval``-ed."""
    found, pending = [], [Operation]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__name__ == name:
            found.append(cls)
    if len(found) != 1:
        problem = "no" if not found else "more than one"
        raise ValueError(f"RegisterGradient({name!r}): {problem} Operation subclass has that name")
    return found[0]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast.

    An input that numpy stretched to a larger shape reached the output many times
    over, so its gradient is the sum of the gradients of all those copies.
    """
    while np.ndim(grad) > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def backpropagate(loss: Node, values: dict[Node, Any]) -> dict[Node, np.ndarray]:
    """The gradient of ``loss`` with respect to every node between a Variable and it.

    ``values`` are the forward values of one run. Nodes are visited in reverse
    topological order, so a node is reached only after every consumer that leads to
    the loss has passed its share of the gradient back to it; the shares add up.
    """
    order = topological_order([loss])
    depends_on_variable: set[Node] = set()
    for node in order:
        if isinstance(node, Variable) or any(i in depends_on_variable for i in node.input_nodes):
            depends_on_variable.add(node)

    grads: dict[Node, np.ndarray] = {loss: np.ones_like(values[loss])}
    for node in reversed(order):
        if node not in grads or not isinstance(node, Operation):
            continue
        input_values = [values[input_node] for input_node in node.input_nodes]
        input_grads = _gradient_function(node)(node, grads[node], values[node], *input_values)
        if len(node.input_nodes) == 1:
            input_grads = (input_grads,)
        for input_node, value, grad in zip(
            node.input_nodes, input_values, input_grads, strict=True
        ):
            if input_node not in depends_on_variable:
                continue
            if np.shape(grad) != np.shape(value):
                raise ValueError(
                    f"the gradient function of {node!r} returned shape {np.shape(grad)} "
                    f"for input {input_node.name!r} of shape {np.shape(value)}"
                )
            grads[input_node] = grads[input_node] + grad if input_node in grads else grad
    return grads


def _gradient_function(operation: Operation) -> GradientFunction:
    for cls in type(operation).__mro__:
        if cls in gradient_registry:
            return gradient_registry[cls]
    raise LookupError(
        f"no gradient is registered for operation type {type(operation).__name__!r} "
        f"(node {operation.name!r}); register one with "
        f"@RegisterGradient({type(operation).__name__!r})"
    )


class gradient_table(Operation):
    """The operation :func:`~deepscratch.compute_gradients` returns; its value is a dict node -> gradient."""

    def __init__(self, loss: Node, name: str | None = None) -> None:
        super().__init__([loss], name)
        self.loss = loss

    def evaluate(self, values: dict[Node, Any]) -> dict[Node, np.ndarray]:
        return backpropagate(self.loss, values)


def compute_gradients(loss: Node) -> gradient_table:
    """An operation whose value, in a session run, maps each node to d(loss)/d(node).

    >>> from deepscratch import Graph, Session, Variable, multiply, reduce_sum
    >>> with Graph().as_default():
    ...     x = Variable([1.0, 2.0, 3.0])
    ...     grads = compute_gradients(reduce_sum(multiply(x, x)))
    ...     Session().run(grads)[x]
    array([2., 4., 6.])
    """
    return gradient_table(loss)
