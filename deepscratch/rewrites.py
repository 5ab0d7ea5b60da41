"""Rewrites the graph optimiser makes while it compiles a plan
(:mod:`~deepscratch.plan`). Each one computes the same values as the graph
as built, in fewer or cheaper steps."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from .gradients import checked_shares, gradient_function, unbroadcast
from .graph import Node, Operation, constant, explained_call, read_only
from .operations import (
    _log_softmax,
    _matmul_gradient,
    add,
    log,
    matmul,
    multiply,
    negative,
    reduce_mean,
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
    layer = dense_parts(op)
    if layer is not None:
        dense = Dense(*layer)
        return dense, dense.inputs, dense.gradient
    loss = likelihood_parts(op)
    if loss is not None:
        a, c, fused = loss
        return fused, [a, c], fused.gradient
    if type(op) is reduce_sum and op.axis is None:
        summed = op.input_nodes[0]
        if type(summed) is reduce_sum:  # a sum of sums is the sum of all
            return op.compute, summed.input_nodes, None
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
        self.by_dot = self.matrices(X, W)  # and so its gradient, see below
        product = np.dot if self.by_dot else self.product.compute
        out = explained_call(self.product, product, [X, W])
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

    def gradient(self, shares_for, grad, output, X, W, b) -> list:
        """The shares for those of ``X``, ``W`` and ``b`` that ``shares_for``
        names: the activation's gradient function (each of ``IN_PLACE`` needs
        only the output), the add's (``unbroadcast``), then the matmul's."""
        if self.activation is not None:
            grad = self.activation_gradient(
                self.activation, grad, output, output
            )
        shares = []
        if shares_for[0] is not None or shares_for[1] is not None:
            d_product = unbroadcast(grad, self.product_shape)
            shares += self.product_shares(shares_for[:2], d_product, X, W)
        if shares_for[2] is not None:
            shares.append(column_sums(grad, np.shape(b)))
        return shares

    def matrices(self, X: Any, W: Any) -> bool:
        """Is the product one of two matrices that fit, with the library's
        own gradient? Then ``np.dot`` computes it, and its gradient, a little
        faster than ``@`` and the matmul operation's functions, and with the
        same values. (Matrices that do not fit are left to the operation,
        which says so in its own words.)"""
        return (
            np.ndim(X) == 2 == np.ndim(W)
            and X.shape[1] == W.shape[0]
            and self.product_gradient is _matmul_gradient
        )

    def product_shares(self, shares_for, grad, X, W) -> list:
        """The matmul's shares for ``X`` and ``W``, as ``shares_for`` asks."""
        if not self.by_dot:
            d_XW = self.product_gradient(self.product, grad, None, X, W)
            return checked_shares(self.product, d_XW, [X, W], shares_for)
        shares = []
        if shares_for[0] is not None:
            shares.append(np.dot(grad, W.T))
        if shares_for[1] is not None:
            shares.append(np.dot(X.T, grad))
        return shares


def cross_entropy_parts(node: Node) -> tuple[Node, Node] | None:
    """``(a, c)`` if ``node`` is ``c * log(softmax(a))`` (either way
    round), else None."""
    if type(node) is not multiply:
        return None
    for log_p, c in (node.input_nodes, node.input_nodes[::-1]):
        if type(log_p) is log and type(log_p.input_nodes[0]) is softmax:
            return log_p.input_nodes[0].input_nodes[0], c
    return None


def likelihood_parts(node: Node) -> tuple | None:
    """``(a, c, fused)`` if ``node`` computes a log-likelihood of the logits
    ``a`` and the classes ``c``: ``c * log(softmax(a))`` summed along an axis
    or in all, or ``softmax_cross_entropy(a, c)``; or one of those negated,
    or its sums summed or averaged. Else None."""
    kind, inputs = type(node), node.input_nodes
    if kind is softmax_cross_entropy:
        return *inputs, LogLikelihood(axis=-1, sign=-1)
    parts = cross_entropy_parts(inputs[0]) if kind is reduce_sum else None
    if parts is not None:
        return *parts, LogLikelihood(node.axis)
    if kind not in (negative, reduce_sum, reduce_mean):
        return None
    inner = likelihood_parts(inputs[0])
    if inner is None:
        return None
    a, c, fused = inner
    if kind is negative:
        return a, c, LogLikelihood(fused.axis, -fused.sign, fused.then)
    if node.axis is not None or fused.one_number:
        return None  # not all the sums summed, or averaged
    then = "sum" if kind is reduce_sum else "mean"
    return a, c, LogLikelihood(fused.axis, fused.sign, then)


class LogLikelihood:
    """``sum(c * log(softmax(a)), axis)`` in one step, times ``sign`` (-1
    for the cross-entropy); ``then="sum"`` or ``"mean"`` adds up or
    averages those sums. ``log(softmax(a))`` is computed as ``a -
    logsumexp(a)``, never as ``log(0)``. Like PyTorch's autograd functions,
    it keeps what its gradient needs: ``p`` and ``log p``."""

    def __init__(
        self,
        axis: int | tuple[int, ...] | None = None,
        sign: int = 1,
        then: str | None = None,
    ) -> None:
        self.axis, self.sign, self.then = axis, sign, then
        self.one_number = axis is None or then is not None

    def __call__(self, a: np.ndarray, c: np.ndarray) -> Any:
        self.p, self.log_p = softmax_and_log(a)
        self.scale = self.sign
        if not self.one_number:  # one sum per row
            return self.scale * (c * self.log_p).sum(axis=self.axis)
        if self.then is not None:  # the sums are not computed: count them
            sums = number_of_sums(a, c, self.axis)
            if self.then == "mean":
                if sums == 0:
                    raise ValueError("there are no entries to average")
                self.scale = self.sign / sums
        if np.shape(c) == a.shape:
            return self.scale * np.vdot(c, self.log_p)  # in one call
        return self.scale * (c * self.log_p).sum()

    def gradient(self, shares_for, grad, output, a, c) -> list:
        """The shares for ``a`` and ``c`` that ``shares_for`` asks for."""
        G = self.scale * (
            grad if self.one_number else np.expand_dims(grad, self.axis)
        )
        shares = []
        if shares_for[0] is not None:
            shares.append(self.logits_share(G, c, a.shape))
        if shares_for[1] is not None:
            shares.append(unbroadcast(G * self.log_p, np.shape(c)))
        return shares

    def logits_share(self, G, c, shape: tuple[int, ...]) -> np.ndarray:
        """``G * c - p * (row sum of G * c)``: the share of the logits, given
        ``G``, the gradient of the loss with respect to each term
        ``c * log p``."""
        if np.ndim(G) == 0 and np.shape(c) == shape:  # one G for all rows
            share = self.p * row_sums(c)
            share -= c
            if G != -1:
                share *= -G
            return share
        Gc = G * c
        return unbroadcast(Gc - self.p * Gc.sum(axis=-1, keepdims=True), shape)


def number_of_sums(a: np.ndarray, c: Any, axis: Any) -> int:
    """How many sums ``sum(c * log_p, axis)`` has, for ``log_p`` of ``a``'s
    shape; an error, as numpy's, if ``axis`` is not an axis of theirs."""
    shape = np.shape(c)
    if shape != a.shape:
        shape = np.broadcast_shapes(a.shape, shape)
    return sums_in(shape, axis)


@functools.lru_cache(maxsize=64)
def sums_in(shape: tuple[int, ...], axis: int | tuple[int, ...]) -> int:
    """The number of sums along ``axis`` in an array of ``shape``; worked
    out once for each, since the shapes of a run seldom change."""
    summed = normalize_axis_tuple(axis, len(shape))  # an error, as numpy's
    return math.prod(n for i, n in enumerate(shape) if i not in summed)


def softmax_and_log(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(a)`` along the last axis, and its log, as ``a -
    logsumexp(a)``.

    Any shift of a row leaves both unchanged; subtracting the row's maximum
    keeps ``exp`` from overflowing. numpy finds row maxima slowly, so where
    the values span less than 700 one shift, the largest value, serves every
    row: then no row's largest term falls below ``exp(-700)``, still a normal
    float, with full precision. Otherwise, chapter 10's ``_log_softmax``,
    row by row."""
    largest = a.max() if a.size and a.ndim else None
    if largest is None or largest - a.min() >= 700:
        log_p = _log_softmax(a)
    else:
        log_p = a - largest
        log_p -= np.log(row_sums(np.exp(log_p)))
    return np.exp(log_p), log_p


def row_sums(x: np.ndarray) -> np.ndarray:
    """The sum of each row of ``x`` (along its last axis), as a column: the
    product with a column of ones, which numpy's BLAS computes more than twice
    as fast as ``x.sum(axis=-1)`` when rows are short."""
    return np.dot(x, ones((np.shape(x)[-1], 1)))


def column_sums(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``unbroadcast(grad, shape)``; for a bias added to every row of a
    matrix, the sum of each column, as the product with a row of ones: by
    BLAS, more than twice as fast as ``grad.sum(axis=0)``."""
    if np.ndim(grad) == 2 and shape == grad.shape[1:]:
        return np.dot(ones(len(grad)), grad)
    return unbroadcast(grad, shape)


@functools.lru_cache(maxsize=64)
def ones(shape: int | tuple[int, ...]) -> np.ndarray:
    """An array of ones, made once for each shape."""
    return read_only(np.ones(shape))


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
