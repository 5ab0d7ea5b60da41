"""The operations of the text, each followed by its gradient.

An operation's ``compute`` turns input values into an output value; the
gradient function registered right after it turns ``grad`` -- the gradient of
the loss with respect to the output -- into the gradient with respect to each
input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .gradients import RegisterGradient, unbroadcast
from .graph import OPERATORS, Operation


class add(Operation):
    """Element-wise ``x + y``; numpy broadcasting lets a bias vector be added
    to every row.

    >>> from deepscratch import Session, constant
    >>> Session().run(add(constant([[1, 2], [3, 4]]), constant([10, 20])))
    array([[11., 22.],
           [13., 24.]])
    """

    def __init__(self, x: Any, y: Any, *, name: str | None = None) -> None:
        super().__init__([x, y], name)

    def compute(self, x_value: np.ndarray, y_value: np.ndarray) -> np.ndarray:
        return x_value + y_value


@RegisterGradient("add")
def _add_gradient(
    op: add, grad: np.ndarray, output: np.ndarray, x: np.ndarray, y: np.ndarray
):
    return unbroadcast(grad, np.shape(x)), unbroadcast(grad, np.shape(y))


class matmul(Operation):
    """Matrix product ``a @ b`` of vectors and matrices (1-D or 2-D operands).

    >>> from deepscratch import Session, constant
    >>> Session().run(matmul(constant([[1, 0], [0, -1]]), constant([1, 2])))
    array([ 1., -2.])
    """

    def __init__(self, a: Any, b: Any, *, name: str | None = None) -> None:
        super().__init__([a, b], name)

    def compute(self, a_value: np.ndarray, b_value: np.ndarray) -> np.ndarray:
        if not (1 <= a_value.ndim <= 2 and 1 <= b_value.ndim <= 2):
            raise ValueError("matmul takes vectors and matrices only")
        return a_value @ b_value


@RegisterGradient("matmul")
def _matmul_gradient(
    op: matmul,
    grad: np.ndarray,
    output: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
):
    # Each gradient costs as much as the product itself. Returned as functions,
    # they are computed only for inputs that need one: for W in X @ W, but not
    # for the data X.
    if a.ndim == 1 or b.ndim == 1:
        return _vector_matmul_gradient(grad, a, b)
    return (lambda: grad @ b.T), (lambda: a.T @ grad)


def _vector_matmul_gradient(grad: np.ndarray, a: np.ndarray, b: np.ndarray):
    """As for matrices, with a vector operand taken as a one-row (a) or
    one-column (b) matrix, as numpy does, and its gradient given back the
    vector's shape."""
    a_matrix = a.reshape(1, -1) if a.ndim == 1 else a
    b_matrix = b.reshape(-1, 1) if b.ndim == 1 else b
    grad_matrix = np.reshape(grad, (a_matrix.shape[0], b_matrix.shape[1]))
    return (
        lambda: (grad_matrix @ b_matrix.T).reshape(a.shape),
        lambda: (a_matrix.T @ grad_matrix).reshape(b.shape),
    )


class sigmoid(Operation):
    """Element-wise logistic function ``1 / (1 + exp(-a))``.

    Computed in place, without temporary arrays. Where ``exp(-a)``
    overflows (``a < -709``), the sigmoid is below ``1e-308`` and comes out
    as 0.

    >>> from deepscratch import Session, constant
    >>> Session().run(sigmoid(constant([-1000.0, 0.0, 5.0])))
    array([0.        , 0.5       , 0.99330715])
    """

    def __init__(self, a: Any, *, name: str | None = None) -> None:
        super().__init__([a], name)

    def compute(self, a_value: np.ndarray) -> np.ndarray:
        return sigmoid_into(a_value, np.empty_like(a_value))


def sigmoid_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-a))``, computed in the array ``out`` (which may be
    ``a`` itself)."""
    np.negative(a, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


@RegisterGradient("sigmoid")
def _sigmoid_gradient(
    op: sigmoid, grad: np.ndarray, output: np.ndarray, a: np.ndarray
):
    share = grad * output  # a new array: the second product can go into it
    share *= 1 - output
    return share


class softmax(Operation):
    """Softmax along the last axis: each row becomes probabilities that sum to
    1.

    The row maximum is subtracted first; that leaves the result unchanged and
    keeps ``exp`` from overflowing.

    >>> from deepscratch import Session, constant
    >>> Session().run(softmax(constant([[1000.0, 1000.0], [0.0, 0.0]])))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """

    def __init__(self, a: Any, *, name: str | None = None) -> None:
        super().__init__([a], name)

    def compute(self, a_value: np.ndarray) -> np.ndarray:
        exps = np.exp(a_value - a_value.max(axis=-1, keepdims=True))
        return exps / exps.sum(axis=-1, keepdims=True)


@RegisterGradient("softmax")
def _softmax_gradient(
    op: softmax, grad: np.ndarray, output: np.ndarray, a: np.ndarray
):
    return (grad - (grad * output).sum(axis=-1, keepdims=True)) * output


class log(Operation):
    """Element-wise natural logarithm."""

    def __init__(self, x: Any, *, name: str | None = None) -> None:
        super().__init__([x], name)

    def compute(self, x_value: np.ndarray) -> np.ndarray:
        return np.log(x_value)


@RegisterGradient("log")
def _log_gradient(
    op: log, grad: np.ndarray, output: np.ndarray, x: np.ndarray
):
    return grad / x


class exp(Operation):
    """Element-wise exponential ``e**x``.

    >>> from deepscratch import Session, constant
    >>> Session().run(exp(constant([0.0, 1.0])))
    array([1.        , 2.71828183])
    """

    def __init__(self, x: Any, *, name: str | None = None) -> None:
        super().__init__([x], name)

    def compute(self, x_value: np.ndarray) -> np.ndarray:
        return np.exp(x_value)


@RegisterGradient("exp")
def _exp_gradient(
    op: exp, grad: np.ndarray, output: np.ndarray, x: np.ndarray
):
    return grad * output  # e**x is its own derivative


class multiply(Operation):
    """Element-wise product ``x * y`` (with broadcasting)."""

    def __init__(self, x: Any, y: Any, *, name: str | None = None) -> None:
        super().__init__([x, y], name)

    def compute(self, x_value: np.ndarray, y_value: np.ndarray) -> np.ndarray:
        return x_value * y_value


@RegisterGradient("multiply")
def _multiply_gradient(
    op: multiply,
    grad: np.ndarray,
    output: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
):
    return unbroadcast(grad * y, np.shape(x)), unbroadcast(
        grad * x, np.shape(y)
    )


class reduce_sum(Operation):
    """Sum of all entries (``axis=None``) or along ``axis`` (an int or a tuple
    of ints).

    >>> from deepscratch import Session, constant
    >>> Session().run(reduce_sum(constant([[1, 2], [3, 4]]), axis=1))
    array([3., 7.])
    """

    def __init__(
        self,
        A: Any,
        axis: int | tuple[int, ...] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__([A], name)
        self.axis = axis

    def compute(self, A_value: np.ndarray) -> np.ndarray:
        return A_value.sum(axis=self.axis)


@RegisterGradient("reduce_sum")
def _reduce_sum_gradient(
    op: reduce_sum, grad: np.ndarray, output: np.ndarray, A: np.ndarray
):
    # Every entry of A that was summed into an output entry gets that entry's
    # gradient: put the summed axes back (size 1), then stretch them to A's
    # shape.
    if op.axis is not None:
        grad = np.expand_dims(grad, op.axis)
    stretched = np.empty_like(A)
    stretched[...] = grad
    return stretched


class negative(Operation):
    """Element-wise ``-x``."""

    def __init__(self, x: Any, *, name: str | None = None) -> None:
        super().__init__([x], name)

    def compute(self, x_value: np.ndarray) -> np.ndarray:
        return -x_value


@RegisterGradient("negative")
def _negative_gradient(
    op: negative, grad: np.ndarray, output: np.ndarray, x: np.ndarray
):
    return -grad


class relu(Operation):
    """Element-wise rectified linear unit, ``max(a, 0)``.

    >>> from deepscratch import Session, constant
    >>> Session().run(relu(constant([-2.0, 0.0, 3.0])))
    array([0., 0., 3.])
    """

    def __init__(self, a: Any, *, name: str | None = None) -> None:
        super().__init__([a], name)

    def compute(self, a_value: np.ndarray) -> np.ndarray:
        return np.maximum(a_value, 0.0)


@RegisterGradient("relu")
def _relu_gradient(
    op: relu, grad: np.ndarray, output: np.ndarray, a: np.ndarray
):
    return grad * (a > 0)


class tanh(Operation):
    """Element-wise hyperbolic tangent, a sigmoid stretched to (-1, 1).

    >>> from deepscratch import Session, constant
    >>> Session().run(tanh(constant([0.0, 1000.0])))
    array([0., 1.])
    """

    def __init__(self, a: Any, *, name: str | None = None) -> None:
        super().__init__([a], name)

    def compute(self, a_value: np.ndarray) -> np.ndarray:
        return np.tanh(a_value)


@RegisterGradient("tanh")
def _tanh_gradient(
    op: tanh, grad: np.ndarray, output: np.ndarray, a: np.ndarray
):
    return grad * (1 - output**2)


class reduce_mean(reduce_sum):
    """Mean of all entries (``axis=None``) or along ``axis``: a sum divided by
    the count.

    >>> from deepscratch import Session, constant
    >>> Session().run(reduce_mean(constant([[1, 2], [3, 4]]), axis=0))
    array([2., 3.])
    """

    def compute(self, A_value: np.ndarray) -> np.ndarray:
        if _averaged(A_value, self.axis) == 0:
            raise ValueError("there are no entries to average")
        return np.mean(A_value, axis=self.axis)


def _averaged(A: np.ndarray, axis: int | tuple[int, ...] | None) -> int:
    """How many entries of ``A`` each entry of the mean along ``axis``
    averages."""
    axes = range(A.ndim) if axis is None else np.atleast_1d(axis)
    return math.prod(A.shape[a] for a in axes)


@RegisterGradient("reduce_mean")
def _reduce_mean_gradient(
    op: reduce_mean, grad: np.ndarray, output: np.ndarray, A: np.ndarray
):
    # A sum's gradient, shared by the number of entries each output entry
    # averages.
    return _reduce_sum_gradient(op, grad, output, A) / _averaged(A, op.axis)


class softmax_cross_entropy(Operation):
    """The cross-entropy of each row:
    ``-sum(c * log(softmax(logits)), axis=-1)``, in one numerically stable
    step; ``reduce_mean`` of it is the mean loss per point.

    ``log(softmax(a))`` is computed as ``a - logsumexp(a)``, so a class that
    softmax would round to probability 0 costs a large but finite loss, never
    ``log(0)``.

    >>> from deepscratch import Session, constant
    >>> Session().run(
    ...     softmax_cross_entropy(constant([[0.0, 0.0]]), constant([[1, 0]]))
    ... )
    array([0.69314718])
    """

    def __init__(
        self, logits: Any, c: Any, *, name: str | None = None
    ) -> None:
        super().__init__([logits, c], name)

    def compute(
        self, logits_value: np.ndarray, c_value: np.ndarray
    ) -> np.ndarray:
        return -np.sum(c_value * _log_softmax(logits_value), axis=-1)


def _log_softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - np.max(a, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


@RegisterGradient("softmax_cross_entropy")
def _softmax_cross_entropy_gradient(
    op: softmax_cross_entropy,
    grad: np.ndarray,
    output: np.ndarray,
    logits: np.ndarray,
    c: np.ndarray,
):
    log_p = _log_softmax(logits)
    # One gradient per row, for every entry of the row; an input that was
    # broadcast (a row of logits for every point, say) gets its share summed.
    G = np.expand_dims(grad, -1)
    p_minus_c = np.exp(log_p) * np.sum(c, axis=-1, keepdims=True) - c
    return (
        lambda: unbroadcast(G * p_minus_c, logits.shape),
        lambda: unbroadcast(-G * log_p, c.shape),
    )


class dropout_mask(Operation):
    """Random multipliers for :func:`~deepscratch.dropout`, drawn from the
    node's own seeded generator: 0 with probability ``rate``, otherwise
    ``1 / (1 - rate)``; all ones when ``training`` is 0 (inference)."""

    def __init__(
        self,
        x: Any,
        training: Any,
        rate: float,
        seed: int | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.rate = _dropout_rate(rate)  # checked before the node joins
        super().__init__([x, training], name)
        self.rng = _random_stream(self, seed)

    def compute(
        self, x_value: np.ndarray, training_value: np.ndarray
    ) -> np.ndarray:
        if not training_value:
            return np.ones_like(x_value)
        keep = self.rng.random(np.shape(x_value)) >= self.rate
        return keep / (1 - self.rate)


def _dropout_rate(rate: Any) -> float:
    if not isinstance(rate, int | float | np.number) or isinstance(rate, bool):
        raise TypeError(f"dropout rate must be a number, got {rate!r}")
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
    return float(rate)


def _random_stream(op: Operation, seed: int | None) -> np.random.Generator:
    """The operation's own random numbers: from ``seed``, or by default from
    its graph's seed and its place among the graph's nodes, so that every
    operation draws its own stream and a rebuilt graph draws the same ones."""
    if seed is None:
        return np.random.default_rng([op.graph.seed, op.graph.nodes.index(op)])
    return np.random.default_rng(seed)


@RegisterGradient("dropout_mask")
def _dropout_mask_gradient(
    op: dropout_mask, grad: np.ndarray, output: np.ndarray, x, training
):
    # The mask is drawn at random: it does not change when x or the switch
    # change a little.
    return np.zeros_like(x), np.zeros_like(training)


def dropout(
    x: Any, training: Any, rate: float, seed: int | None = None
) -> multiply:
    """Inverted dropout: while ``training`` is 1, zero each entry of ``x`` with
    probability ``rate`` and scale the survivors by ``1 / (1 - rate)``, so that
    every entry keeps its expected value; while ``training`` is 0, pass ``x``
    through.

    It is ``x`` times a :class:`~deepscratch.dropout_mask`, so its gradient is
    the multiply's: the gradient flows back through the kept entries only,
    scaled like them. Without a ``seed``, each mask draws its own stream,
    derived from its graph's seed and its place in the graph.

    >>> from deepscratch import Session, constant
    >>> x = constant([[1.0, 1.0, 1.0, 1.0]])
    >>> Session().run(dropout(x, training=constant(0.0), rate=0.5))
    array([[1., 1., 1., 1.]])
    >>> Session().run(dropout(x, training=constant(1.0), rate=0.5, seed=1))
    array([[2., 2., 0., 2.]])
    """
    return multiply(x, dropout_mask(x, training, rate, seed))


class random_normal(Operation):
    """Standard normal numbers in the shape of ``like``, drawn afresh in
    every run from the node's own seeded stream (as for
    :class:`~deepscratch.dropout_mask`)."""

    def __init__(
        self, like: Any, seed: int | None = None, *, name: str | None = None
    ) -> None:
        super().__init__([like], name)
        self.rng = _random_stream(self, seed)

    def compute(self, like_value: np.ndarray) -> np.ndarray:
        return self.rng.standard_normal(np.shape(like_value))


@RegisterGradient("random_normal")
def _random_normal_gradient(
    op: random_normal, grad: np.ndarray, output: np.ndarray, like
):
    return np.zeros_like(like)  # the numbers do not depend on like's values


def sample_normal(mean: Any, scale: Any, seed: int | None = None) -> add:
    """A sample of the normal distributions with ``mean`` and standard
    deviation ``scale`` (entry by entry, the shape of ``mean``), drawn as
    ``mean + scale * e`` with standard normal noise ``e``: the noise is an
    input of the graph like any other, so gradients reach ``mean`` and
    ``scale`` (the reparameterisation trick).

    >>> from deepscratch import Session, constant
    >>> mean, scale = constant([0.0, 10.0]), constant([1.0, 0.0])
    >>> Session().run(sample_normal(mean, scale, seed=0))
    array([ 0.12573022, 10.        ])
    """
    return add(mean, multiply(scale, random_normal(mean, seed)))


OPERATORS.update(add=add, multiply=multiply, matmul=matmul, negative=negative)
