"""Training: gradient descent on every Variable a loss depends on."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .gradients import backpropagate, gradient_path
from .graph import Node, Operation, Variable
from .session import topological_order


class Optimizer:
    """What every optimizer shares; a subclass supplies only its ``update`` rule."""

    def minimize(self, loss: Node) -> Operation:
        """An operation that takes one training step each time a session runs it."""
        return minimization(loss, self)

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define update()")


class GradientDescentOptimizer(Optimizer):
    """Steps every Variable against its gradient: ``W <- W - learning_rate * grad``.

    >>> from deepscratch import Graph, Session, Variable, multiply, reduce_sum
    >>> with Graph().as_default():
    ...     w = Variable([3.0])
    ...     step = GradientDescentOptimizer(learning_rate=0.25).minimize(reduce_sum(multiply(w, w)))
    ...     Session().run(step)
    ...     w.value
    array([1.5])
    """

    def __init__(self, learning_rate: float) -> None:
        if not _is_positive_number(learning_rate):
            raise ValueError(
                f"learning_rate must be a positive finite number, got {learning_rate!r}"
            )
        self.learning_rate = float(learning_rate)

    def update(self, variable: Variable, grad: np.ndarray) -> None:
        variable.value -= self.learning_rate * grad


def _is_positive_number(value: Any) -> bool:
    is_number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    return is_number and math.isfinite(value) and value > 0


class minimization(Operation):
    """One training step: backpropagate through this run's values, then update.

    Its input is the loss, so a session computes the forward pass of the run it is
    fetched in -- once, even when the loss is fetched too.
    """

    def __init__(self, loss: Node, optimizer: Optimizer, name: str | None = None) -> None:
        super().__init__([loss], name)
        self.loss = loss
        self.optimizer = optimizer
        self.path = gradient_path(loss)
        self.variables = [node for node in topological_order([loss]) if isinstance(node, Variable)]
        self.steps_taken = 0

    def evaluate(self, values: dict[Node, Any]) -> None:
        loss_value = values[self.loss]
        if not np.isfinite(loss_value).all():
            raise FloatingPointError(
                f"the loss {self.loss.name!r} is {loss_value} at training step "
                f"{self.steps_taken + 1}; no variable was updated (try a smaller learning rate)"
            )
        grads = backpropagate(self.loss, values, self.path)
        for variable in self.variables:
            self.optimizer.update(variable, grads[variable])
        self.steps_taken += 1
