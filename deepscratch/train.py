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
from typing import Any

import numpy as np

from .gradients import backpropagate, gradient_path
from .graph import Node, Operation, Variable


class Optimizer:
    """What every optimizer shares; a subclass supplies only its ``update``
    rule."""

    def minimize(self, loss: Node) -> Operation:
        """An operation that takes one training step each time a session runs
        it."""
        return minimization(loss, self)

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
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = momentum
        self.velocity: dict[Variable, np.ndarray] = {}

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        velocity = self.velocity.setdefault(
            variable, np.zeros_like(variable.value)
        )
        velocity *= self.momentum
        velocity -= self.learning_rate * grad
        variable.value += velocity


class AdamOptimizer(Optimizer):
    """Adam (Kingma and Ba, 2015): steps along a running mean of the gradient,
    divided by the running root mean square of its entries."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.moments: dict[Variable, tuple[np.ndarray, np.ndarray, int]] = {}

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        m, s, t = self.moments.get(variable, (0.0, 0.0, 0))
        m = self.beta1 * m + (1 - self.beta1) * grad
        s = self.beta2 * s + (1 - self.beta2) * grad**2
        t += 1
        self.moments[variable] = (m, s, t)
        # Both averages start at 0: dividing by 1 - beta**t undoes that.
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


def _positive(value: Any, name: str) -> float:
    """``value`` as a float, if it is a positive finite number; a ValueError
    otherwise."""
    is_number = isinstance(value, int | float | np.number) and not isinstance(
        value, bool
    )
    if not (is_number and math.isfinite(value) and value > 0):
        raise ValueError(
            f"{name} must be a positive finite number, got {value!r}"
        )
    return float(value)


class minimization(Operation):
    """One training step: backpropagate through this run's values, then update.

    Its input is the loss, so a session computes the forward pass of the run it
    is fetched in -- once, even when the loss is fetched too.
    """

    def __init__(
        self, loss: Node, optimizer: Optimizer, name: str | None = None
    ) -> None:
        super().__init__([loss], name)
        self.loss, self.optimizer = loss, optimizer
        self.path = gradient_path(loss)
        self.steps_taken = 0

    def evaluate(self, values: dict[Node, Any]) -> None:
        check_finite(self.loss, values[self.loss], step=self.steps_taken + 1)
        for node, grad in backpropagate(self.loss, values, self.path):
            if isinstance(node, Variable):
                self.optimizer.update(node, grad)
        self.steps_taken += 1


def check_finite(loss: Node, loss_value: Any, step: int) -> None:
    """A FloatingPointError, before any Variable changes, if the loss is not
    finite."""
    if not np.isfinite(loss_value).all():
        raise FloatingPointError(
            f"the loss {loss.name!r} is {loss_value} at training step {step}; "
            "no variable was updated (try a smaller learning rate)"
        )
