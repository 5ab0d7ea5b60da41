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
    if grad.shape == shape:
        return grad
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def gradient_path(loss: Node) -> list[tuple[Operation, GradientFunction, tuple[bool, ...]]]:
    """The operations backpropagation visits, from ``loss`` back towards the Variables.

    Only nodes between a Variable and the loss need a gradient: the data placeholders
    lead to the loss too, but nothing ever updates them. The operations come in reverse
    topological order, each with its gradient function and, per input, whether that
    input needs a gradient. The path depends on the graph alone, never on values, so a
    training step works it out once and follows it on every run.
    """
    order = topological_order([loss])
    needs_gradient: set[Node] = set()
    for node in order:
        if isinstance(node, Variable) or any(i in needs_gradient for i in node.input_nodes):
            needs_gradient.add(node)
    return [
        (node, _gradient_function(node), tuple(i in needs_gradient for i in node.input_nodes))
        for node in reversed(order)
        if node in needs_gradient and isinstance(node, Operation)
    ]


def backpropagate(
    loss: Node, values: dict[Node, Any], path: list | None = None, keep_all: bool = True
) -> dict[Node, np.ndarray]:
    """The gradient of ``loss`` with respect to every node between a Variable and it.

    ``values`` are the forward values of one run; ``path`` is ``gradient_path(loss)``.
    In reverse topological order, an operation is reached only after every consumer
    that leads to the loss has passed its share of the gradient back to it; the shares
    add up. With ``keep_all=False`` an operation's gradient is dropped once passed on,
    so that only the Variables' remain: a training step needs no more, and a large
    network's intermediate gradients then never all take up memory at once.
    """
    grads: dict[Node, np.ndarray] = {loss: np.ones_like(values[loss])}
    for op, gradient, needed in gradient_path(loss) if path is None else path:
        input_values = [values[node] for node in op.input_nodes]
        grad = grads[op] if keep_all else grads.pop(op)
        input_grads = gradient(op, grad, values[op], *input_values)
        if len(input_values) == 1:
            input_grads = (input_grads,)
        for node, value, grad, need in zip(
            op.input_nodes, input_values, input_grads, needed, strict=True
        ):
            if not need:
                continue
            if callable(grad):  # a costly gradient, computed only where it is needed
                grad = grad()
            if np.shape(grad) != value.shape:
                raise ValueError(
                    f"the gradient function of {op!r} returned shape {np.shape(grad)} "
                    f"for input {node.name!r} of shape {np.shape(value)}"
                )
            grads[node] = grads[node] + grad if node in grads else grad
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
    """What :func:`~deepscratch.compute_gradients` returns; its value maps node -> gradient."""

    def __init__(self, loss: Node, name: str | None = None) -> None:
        super().__init__([loss], name)
        self.loss = loss
        self.path = gradient_path(loss)

    def evaluate(self, values: dict[Node, Any]) -> dict[Node, np.ndarray]:
        return backpropagate(self.loss, values, self.path)


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
