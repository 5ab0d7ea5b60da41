"""Rewrites the graph optimiser makes while it compiles a plan
(:mod:`~deepscratch.plan`). Each one computes the same values as the graph
as built, in fewer or cheaper steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .gradients import unbroadcast
from .graph import Node, Operation
from .operations import (
    log,
    multiply,
    reduce_sum,
    softmax,
    softmax_cross_entropy,
)

#: What a :class:`~deepscratch.plan.Program` can do to a graph: rewrite
#: ``patterns`` (see :func:`rewrite`), fold ``constants`` (compute ahead what
#: needs no run) and merge ``duplicates`` (compute once what is written twice).
REWRITES = frozenset({"patterns", "constants", "duplicates"})

Rewritten = tuple[Callable[..., Any], list[Node], Callable[..., Any] | None]


def rewrite(op: Operation) -> Rewritten | None:
    """What to compute in place of ``op``: a function, the nodes whose values
    it takes, and its gradient function (None: ``op``'s own). None, to
    compute ``op`` as it is. The library's own fused cross-entropy becomes a
    ``LogLikelihood`` too, which keeps ``log p`` for its gradient."""
    if (
        type(op) is softmax_cross_entropy
    ):  # the same, with its gradient's p kept
        fused = LogLikelihood(axis=-1, sign=-1)
        return fused, op.input_nodes, fused.gradient
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
    float, with full precision."""
    largest = a.max()
    if largest - a.min() < 700:
        result = a - largest
    else:
        result = a - a.max(axis=-1, keepdims=True)
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
