"""Rewrites the graph optimiser makes while it compiles a plan
(:mod:`~deepscratch.plan`). Each one computes the same values as the graph
as built, in fewer or cheaper steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .gradients import gradient_function, unbroadcast
from .graph import Node, Operation, constant, explained_call
from .operations import (
    _log_softmax,
    add,
    log,
    matmul,
    multiply,
    reduce_sum,
    relu,
    sigmoid,
    sigmoid_into,
    softmax,
    softmax_cross_entropy,
    tanh,
)

#: What a :class:`~deepscratch.plan.Program` can do to a graph: rewrite
#: ``patterns`` (see :func:`rewrite`), fold ``constants`` (compute ahead what
#: needs no run) and merge ``duplicates`` (compute once what is written twice).
REWRITES = frozenset({"patterns", "constants", "duplicates"})

Rewritten = tuple[Callable[..., Any], list[Node], Callable[..., Any] | None]


def rewrite(op: Operation) -> Rewritten | None:
    """What to compute in place of ``op``: a function, the nodes whose values
    it takes, and its gradient function (None: ``op``'s own). None, to
    compute ``op`` as it is."""
    if type(op) is softmax_cross_entropy:  # to keep log p for the gradient
        fused = LogLikelihood(axis=-1, sign=-1)
        return fused, op.input_nodes, fused.gradient
    layer = dense_parts(op)
    if layer is not None:
        dense = Dense(*layer)
        return dense, dense.inputs, dense.gradient
    if type(op) is not reduce_sum:
        return None
    summed = op.input_nodes[0]
    if op.axis is None and type(summed) is reduce_sum:
        summed = summed.input_nodes[0]  # a sum of sums is the sum of all
    logits_and_classes = cross_entropy_parts(summed)
    if logits_and_classes is not None:
        fused = LogLikelihood(op.axis)
        return fused, list(logits_and_classes), fused.gradient
    if summed is not op.input_nodes[0]:
        return op.compute, [summed], None
    return None


#: The activations a dense layer computes in its own array, and how.
IN_PLACE = {
    sigmoid: sigmoid_into,
    relu: lambda a, out: np.maximum(a, 0.0, out=out),
    tanh: lambda a, out: np.tanh(a, out=out),
}


def dense_parts(op: Operation) -> tuple | None:
    """``(matmul, add, activation)`` if ``op`` is ``activation(X @ W + b)``
    (an activation of ``IN_PLACE``), or ``X @ W + b`` that no such activation
    reads, and each inner node feeds only the next; else None."""
    activation = op if type(op) in IN_PLACE else None
    total = op.input_nodes[0] if activation else op
    if type(total) is not add:
        return None
    if activation is None and any(type(c) in IN_PLACE for c in op.consumers):
        return None  # the activation computes it, as part of the layer
    products = [x for x in total.input_nodes if type(x) is matmul]
    if activation is not None and total.consumers != [activation]:
        return None
    if not products or products[0].consumers != [total]:
        return None
    if all(type(x) is constant for x in products[0].input_nodes):
        return None  # a product of constants is better computed before a run
    return products[0], total, activation


class Dense:
    """A layer, ``activation(X @ W + b)``, in one step and one array: the
    product, then ``b`` added and the activation taken in place. Its gradient
    is the three operations' gradients in turn."""

    def __init__(self, product: matmul, total: add, activation: Any) -> None:
        self.product, self.total, self.activation = product, total, activation
        first, second = total.input_nodes
        bias = second if first is product else first
        self.inputs = [*product.input_nodes, bias]
        self.product_gradient = gradient_function(product)
        if activation is not None:
            self.activation_gradient = gradient_function(activation)

    def __call__(self, X: np.ndarray, W: np.ndarray, b: np.ndarray) -> Any:
        out = explained_call(self.product, self.product.compute, [X, W])
        self.product_shape = np.shape(out)
        try:
            out += b  # into the product's own array, where the shapes allow
        except (ValueError, TypeError):
            out = explained_call(self.total, np.add, [out, b])
        if self.activation is None:
            return out
        if type(out) is not np.ndarray:  # a single number
            return self.activation.compute(out)
        return IN_PLACE[type(self.activation)](out, out)

    def gradient(self, op: Operation, grad, output, X, W, b) -> tuple:
        """The shares for ``X``, ``W`` and ``b``: the activation's gradient
        function (each of ``IN_PLACE`` needs only the output), the add's
        (``unbroadcast`` for each side), then the matmul's."""
        if self.activation is not None:
            grad = self.activation_gradient(
                self.activation, grad, output, output
            )
        d_product = unbroadcast(grad, self.product_shape)
        d_X, d_W = self.product_gradient(self.product, d_product, None, X, W)
        return d_X, d_W, unbroadcast(grad, np.shape(b))


def cross_entropy_parts(node: Node) -> tuple[Node, Node] | None:
    """``(a, c)`` if ``node`` is ``c * log(softmax(a))`` (either way
    round), else None."""
    if type(node) is not multiply:
        return None
    for log_p, c in (node.input_nodes, node.input_nodes[::-1]):
        if type(log_p) is log and type(log_p.input_nodes[0]) is softmax:
            return log_p.input_nodes[0].input_nodes[0], c
    return None


class LogLikelihood:
    """``sum(c * log(softmax(a)), axis)`` in one step (times ``sign``: -1 for
    the cross-entropy), with ``log(softmax(a))`` computed as
    ``a - logsumexp(a)``: never ``log(0)``. Like PyTorch's autograd functions,
    it keeps what its gradient needs: ``log p``."""

    def __init__(self, axis: int | tuple[int, ...] | None, sign: int = 1):
        self.axis, self.sign = axis, sign

    def __call__(self, a: np.ndarray, c: np.ndarray) -> np.ndarray:
        self.log_p = log_softmax(a)
        return self.sign * (c * self.log_p).sum(axis=self.axis)

    def gradient(self, op: Operation, grad, output, a: np.ndarray, c):
        """The gradient function: the shares for ``a`` and for ``c``."""
        # The sum's gradient G reaches every entry it summed; then, with
        # Gc = G * c, log(softmax(a)) passes back Gc - p * (row sum of Gc).
        G = self.sign * (
            grad if self.axis is None else np.expand_dims(grad, self.axis)
        )
        Gc = G * c
        share_a = Gc - np.exp(self.log_p) * Gc.sum(axis=-1, keepdims=True)
        share_c = lambda: unbroadcast(G * self.log_p, np.shape(c))  # noqa: E731
        return unbroadcast(share_a, a.shape), share_c


def log_softmax(a: np.ndarray) -> np.ndarray:
    """``log(softmax(a))`` along the last axis, as ``a - logsumexp(a)``.

    Any shift of a row leaves it unchanged; subtracting the row's maximum keeps
    ``exp`` from overflowing. numpy finds row maxima slowly, so where the
    values span less than 700 one shift, the largest value, serves every row:
    then no row's largest term falls below ``exp(-700)``, still a normal
    float, with full precision. Otherwise, chapter 10's ``_log_softmax``,
    row by row."""
    largest = a.max()
    if largest - a.min() >= 700:
        return _log_softmax(a)
    result = a - largest
    result -= np.log(np.exp(result).sum(axis=-1, keepdims=True))
    return result


#: The attributes every node has; the others are an operation's settings.
NODE_FIELDS = {"graph", "input_nodes", "consumers", "name"}


def computation(
    op: Operation, compute: Callable[..., Any], inputs: tuple[int, ...]
) -> tuple | None:
    """What ``compute`` on the values in slots ``inputs`` computes, as a key:
    two computations with one key give one value. None for a function we
    cannot compare (a fused one) or settings that are not hashable."""
    settings = tuple(
        sorted((k, v) for k, v in vars(op).items() if k not in NODE_FIELDS)
    )
    function = getattr(compute, "__func__", None)
    key = (type(op), function, settings, inputs)
    try:
        hash(key)
    except TypeError:
        return None
    return None if function is None else key
