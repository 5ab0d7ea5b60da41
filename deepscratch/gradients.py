"""Backpropagation: the gradient of a loss with respect to every node that
leads to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .graph import Node, Operation, Variable, node_types, topological_order

GradientFunction = Callable[..., Any]

#: Each operation type (the class itself, not its name) mapped to its gradient
#: function.
gradient_registry: dict[type[Operation], GradientFunction] = {}


class RegisterGradient:
    """Decorator that registers the gradient function of an operation type.

    ``op_type`` is the operation class, or its name as in the original text
    (``@RegisterGradient("add")``). The function is called as
    ``gradient(op, grad, output, *inputs)``: the operation, the gradient of the
    loss with respect to its output, and the output and input values of the
    current run. It returns the gradient with respect to each input (a tuple,
    or a single array for an operation with one input).
    """

    def __init__(self, op_type: type[Operation] | str) -> None:
        self.op_type = (
            _operation_class(op_type) if isinstance(op_type, str) else op_type
        )

    def __call__(self, gradient: GradientFunction) -> GradientFunction:
        gradient_registry[self.op_type] = gradient
        return gradient


def _operation_class(name: str) -> type[Operation]:
    """The Operation subclass called ``name``: looked up, never ``eval``-ed.
    Of several classes of that name (a notebook cell run twice defines its
    class twice), the one defined last."""
    cls = node_types.get(name)
    if cls is None or not issubclass(cls, Operation):
        raise ValueError(
            f"RegisterGradient({name!r}): no Operation subclass has that name"
        )
    return cls


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was
    broadcast.

    An input that numpy stretched to a larger shape reached the output many
    times over, so its gradient is the sum of the gradients of all those
    copies.
    """
    if grad.shape == shape:
        return grad
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def gradient_path(
    loss: Node, sources: tuple[type, ...] = (Variable,)
) -> list[tuple[Operation, tuple[bool, ...]]]:
    """The operations backpropagation visits, from ``loss`` back towards the
    Variables (or other ``sources``), each with a flag per input: does that
    input need a gradient? Only nodes that depend on a source need one."""
    order = topological_order([loss])
    needs_gradient: set[Node] = set()
    for node in order:
        if isinstance(node, sources) or any(
            i in needs_gradient for i in node.input_nodes
        ):
            needs_gradient.add(node)
    path = [
        (node, tuple(i in needs_gradient for i in node.input_nodes))
        for node in reversed(order)
        if node in needs_gradient and isinstance(node, Operation)
    ]
    # A missing gradient function is reported now, not at the first step.
    for op, _ in path:
        gradient_function(op)
    return path


def backpropagate(
    loss: Node,
    values: dict[Node, Any],
    path: list[tuple[Operation, tuple[bool, ...]]],
) -> Iterator[tuple[Node, np.ndarray]]:
    """Each node between the Variables and ``loss``, with the gradient of
    ``loss`` for it.

    ``values`` are the forward values of one run, ``path`` is
    ``gradient_path(loss)``. Each operation is reached only after all of its
    consumers have passed back their shares, so its gradient is complete: it is
    handed out at once, then passed on to the operation's inputs and forgotten
    here.
    """
    grads = {loss: np.ones_like(values[loss])}
    for op, needed in path:
        yield op, grads[op]
        for node, share in input_gradients(op, grads.pop(op), values, needed):
            grads[node] = grads[node] + share if node in grads else share
    # the Variables, complete once the whole path is done
    yield from grads.items()


def input_gradients(
    op: Operation,
    grad: np.ndarray,
    values: dict[Node, Any],
    needed: tuple[bool, ...],
) -> Iterator[tuple[Node, np.ndarray]]:
    """The share of ``grad``, the gradient of ``op``'s output, that the
    operation's gradient function passes back to each input that needs one."""
    input_values = [values[node] for node in op.input_nodes]
    shares = gradient_function(op)(op, grad, values[op], *input_values)
    if len(input_values) == 1:
        shares = (shares,)
    for node, share, need in zip(op.input_nodes, shares, needed, strict=True):
        if need:
            # A costly share comes as a function, called only where needed.
            share = share() if callable(share) else share
            yield node, checked_shape(op, node, share, values[node])


def checked_shape(
    op: Operation, node: Node, share: np.ndarray, value: np.ndarray
) -> np.ndarray:
    """``share``, if it has the shape of its input's ``value``; otherwise the
    gradient function of ``op`` has a bug, reported here rather than in some
    later update (or not at all, where numpy's broadcasting hides it)."""
    if np.shape(share) != value.shape:
        raise ValueError(
            f"the gradient function of {op!r} returned shape "
            f"{np.shape(share)} for input {node.name!r} "
            f"of shape {np.shape(value)}"
        )
    return share


def checked_shares(
    op: Operation,
    shares: Iterable[Any],
    input_values: list[Any],
    shares_for: tuple[Node | None, ...],
) -> list[np.ndarray]:
    """The shares of ``op``'s gradient for the inputs ``shares_for`` names
    (None: that input needs no share), each computed if it came as a
    function, and checked to have its input's shape."""
    checked = []
    for node, share, value in zip(
        shares_for, shares, input_values, strict=True
    ):
        if node is None:
            continue
        share = share() if callable(share) else share
        if not (type(share) is type(value) is np.ndarray) or (
            share.shape != value.shape
        ):
            share = checked_shape(op, node, share, value)
        checked.append(share)
    return checked


def gradient_function(operation: Operation) -> GradientFunction:
    """The gradient function registered for the operation's type. A subclass
    inherits its parent's only if it also inherits the parent's ``compute``:
    an operation that computes something new needs a gradient of its own."""
    for cls in type(operation).__mro__:
        if cls in gradient_registry:
            return gradient_registry[cls]
        if "compute" in vars(cls):
            break
    raise LookupError(
        "no gradient is registered for operation type "
        f"{type(operation).__name__!r} (node {operation.name!r}); "
        f"register one with @RegisterGradient({type(operation).__name__})"
    )


class GradientTable(dict):
    """A gradient for every node a loss depends on; asking for any other node
    says so, instead of a bare KeyError."""

    def __init__(self, loss: Node, gradients: Iterable) -> None:
        super().__init__(gradients)
        self.loss = loss

    def __missing__(self, node: Any) -> np.ndarray:
        raise KeyError(
            f"the loss {self.loss.name!r} does not depend on {node!r}, so it "
            "has no gradient for it"
        )


class gradient_table(Operation):
    """What :func:`~deepscratch.compute_gradients` returns; its value maps
    node -> gradient."""

    def __init__(self, loss: Node, name: str | None = None) -> None:
        super().__init__([loss], name)
        self.loss = loss
        self.path = gradient_path(loss, sources=(Node,))

    def evaluate(self, values: dict[Node, Any]) -> GradientTable:
        return GradientTable(
            self.loss, backpropagate(self.loss, values, self.path)
        )


def compute_gradients(loss: Node) -> gradient_table:
    """An operation whose value, in a session run, maps every node the loss
    depends on -- Variables, operations and fed data alike -- to
    d(loss)/d(node). A loss with several entries is taken as their sum.

    >>> from deepscratch import Graph, Session, Variable, multiply, reduce_sum
    >>> with Graph().as_default():
    ...     x = Variable([1.0, 2.0, 3.0])
    ...     grads = compute_gradients(reduce_sum(multiply(x, x)))
    ...     Session().run(grads)[x]
    array([2., 4., 6.])
    """
    if not isinstance(loss, Node):
        raise TypeError(
            "compute_gradients takes the loss, a node of a graph; "
            f"got {loss!r}"
        )
    return gradient_table(loss)
