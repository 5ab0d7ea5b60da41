"""Training: gradient descent, and better optimizers, on every Variable a loss
depends on.

>>> from deepscratch import Graph, Session, Variable, multiply, reduce_sum
>>> with Graph().as_default():
...     w = Variable([3.0])
...     step = GradientDescentOptimizer(learning_rate=0.25).minimize(
...         reduce_sum(multiply(w, w))
...     )
...     Session().run(step)
...     w.value
array([1.5])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .gradients import backpropagate, gradient_path
from .graph import Node, Operation, Variable, placeholder, topological_order


class Optimizer:
    """What every optimizer shares; a subclass supplies only its ``update``
    rule."""

    def minimize(self, loss: Node, clip_norm: float | None = None) -> Any:
        """An operation that takes one training step each time a session runs
        it (:class:`~deepscratch.train.minimization`)."""
        return minimization(loss, self, clip_norm=_clip_norm(clip_norm))

    def apply_gradients(
        self, grads: list[tuple[Variable, np.ndarray]]
    ) -> None:
        """Update each Variable, given the loss's gradient for it."""
        for variable, grad in grads:
            self.update(variable, grad)

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        """Change ``variable.value`` in place, given the loss's gradient
        ``grad`` for it."""
        raise NotImplementedError(
            f"{type(self).__name__} does not define update()"
        )


class GradientDescentOptimizer(Optimizer):
    """Steps every Variable against its gradient:
    ``W <- W - learning_rate * grad``."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        variable.value -= self.learning_rate * grad


class MomentumOptimizer(Optimizer):
    """Gradient descent with momentum: each step continues a decaying sum of
    earlier steps.

    ``velocity <- momentum * velocity - learning_rate * grad``, then
    ``W <- W + velocity``.
    """

    def __init__(self, learning_rate: float, momentum: float = 0.9) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")
        self.momentum = _fraction(momentum, "momentum")
        self.velocity: dict[Variable, np.ndarray] = {}

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        velocity = self.velocity.setdefault(
            variable, np.zeros_like(variable.value)
        )
        velocity *= self.momentum
        velocity -= self.learning_rate * grad
        variable.value += velocity


class AdamOptimizer(Optimizer):
    """Adam (Kingma and Ba, 2015): momentum, scaled entry by entry."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")
        self.beta1 = _fraction(beta1, "beta1")
        self.beta2 = _fraction(beta2, "beta2")
        self.epsilon = _positive(epsilon, "epsilon")
        self.moments: dict[Variable, tuple[np.ndarray, np.ndarray, int]] = {}

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        m, s, t = self.moments.get(variable, (0.0, 0.0, 0))
        m = self.beta1 * m + (1 - self.beta1) * grad
        s = self.beta2 * s + (1 - self.beta2) * grad**2
        t += 1
        self.moments[variable] = (m, s, t)
        m_hat, s_hat = m / (1 - self.beta1**t), s / (1 - self.beta2**t)
        step = self.learning_rate * m_hat / (np.sqrt(s_hat) + self.epsilon)
        variable.value -= step


class AdamWOptimizer(AdamOptimizer):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019): before
    each Adam step, every weight matrix is multiplied by
    ``1 - learning_rate * weight_decay``. Variables with fewer than two axes,
    the biases, are not decayed."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        weight_decay: float = 0.01,
        **adam: float,
    ):
        super().__init__(learning_rate, **adam)
        self.weight_decay = weight_decay

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        if variable.value.ndim >= 2:
            variable.value *= 1 - self.learning_rate * self.weight_decay
        super().update(variable, grad)


def _number(value: Any, name: str) -> float:
    """``value`` as a float, if it is a finite number; an error otherwise."""
    if not isinstance(value, int | float | np.number) or isinstance(
        value, bool
    ):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _positive(value: Any, name: str) -> float:
    if _number(value, name) <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _fraction(value: Any, name: str) -> float:
    if not 0 <= _number(value, name) < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


class minimization(Operation):
    """One training step: the gradients of this run's loss (the sum of its
    entries), clipped by :func:`~deepscratch.train.clip_by_global_norm` if
    ``clip_norm`` is given, which the optimizer applies to the Variables once
    the run is over. Its input is the loss, so a session computes the forward
    pass of the run it is fetched in -- once, even when the loss is fetched.
    """

    def __init__(self, loss: Node, optimizer: Optimizer, **settings: Any):
        check_trainable(loss)
        super().__init__([loss], settings.get("name"))
        self.loss, self.optimizer = loss, optimizer
        self.clip_norm: float | None = settings.get("clip_norm")
        self.path = gradient_path(loss)

    def evaluate(self, values: dict[Node, Any]) -> Update:
        check_loss(self.loss, values)
        grads = [
            (node, grad)
            for node, grad in backpropagate(self.loss, values, self.path)
            if isinstance(node, Variable)
        ]
        return checked_update(self, values[self.loss], grads)


def checked_update(
    step: minimization, loss_value: Any, grads: list[tuple[Variable, Any]]
) -> Update:
    """The change a training step makes, once its gradients are checked."""
    check_gradients(step.loss, loss_value, grads)
    if step.clip_norm is not None:
        grads = clip_by_global_norm(grads, step.clip_norm)
    return Update(lambda: step.optimizer.apply_gradients(grads))


def _clip_norm(clip_norm: Any) -> float | None:
    return None if clip_norm is None else _positive(clip_norm, "clip_norm")


def clip_by_global_norm(
    grads: list[tuple[Variable, np.ndarray]], clip_norm: float
) -> list[tuple[Variable, np.ndarray]]:
    """The gradients, scaled down together if their global norm -- the
    length of all their entries as one vector -- exceeds ``clip_norm``: the
    step keeps its direction, but its length is capped."""
    norm = math.sqrt(sum(np.vdot(grad, grad) for _, grad in grads))
    if norm <= clip_norm:
        return grads
    return [(variable, grad * (clip_norm / norm)) for variable, grad in grads]


class Update:
    """What a training step computes in a run: a change to Variables, which
    the session makes after everything the run fetches has been computed."""

    def __init__(self, apply: Callable[[], None]) -> None:
        self.apply = apply


def check_trainable(loss: Any) -> None:
    """An error unless ``loss`` is a node that depends on a Variable."""
    if not isinstance(loss, Node):
        raise TypeError(f"minimize() takes the loss, a node; got {loss!r}")
    if not any(isinstance(n, Variable) for n in topological_order([loss])):
        raise ValueError(
            f"the loss {loss.name!r} depends on no Variable: there is nothing "
            "to train"
        )


def check_loss(loss: Node, values: dict[Node, Any]) -> None:
    """A FloatingPointError if the loss is not finite, saying where that came
    from: a fed value or a Variable that is not finite, or an operation."""
    loss_value = values[loss]
    if all_finite(loss_value):
        return
    bad_inputs = [
        node
        for node, value in values.items()
        if isinstance(node, placeholder | Variable)
        and not np.isfinite(value).all()
    ]
    cause = (
        f"{bad_inputs[0]!r} is not finite"
        if bad_inputs
        else "its inputs are finite, so an operation made it so (a log of 0, "
        "or an overflow: try a smaller learning rate)"
    )
    raise FloatingPointError(
        f"the loss {loss.name!r} is {loss_value}; no Variable was updated: "
        f"{cause}"
    )


def all_finite(value: Any) -> bool:
    """Is every entry of ``value`` finite? One number, the usual loss, is
    checked without numpy's help, which is quicker."""
    if isinstance(value, float):
        return math.isfinite(value)
    return bool(np.isfinite(value).all())


def check_gradients(
    loss: Node, loss_value: Any, grads: list[tuple[Variable, np.ndarray]]
) -> None:
    """A FloatingPointError if a gradient is not finite, before any Variable
    or optimizer state changes."""
    for variable, grad in grads:
        # A finite sum of squares means finite entries; only an infinite one
        # (maybe an overflow of the squares) needs a closer look.
        if not math.isfinite(np.vdot(grad, grad)) and not all_finite(grad):
            raise FloatingPointError(
                f"the gradient of the loss {loss.name!r} for {variable!r} is "
                f"not finite, although the loss is {loss_value}; no "
                "Variable was updated: an operation's gradient overflowed (a "
                "log of a value close to 0, say)"
            )
