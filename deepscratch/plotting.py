"""Figures of the book: the data, a learned decision boundary, a loss curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .datasets import CLASS_COLORS, CLASS_NAMES
from .graph import Node, placeholder
from .session import Session


def plot_classes(X: np.ndarray, c: np.ndarray, ax: Axes | None = None) -> Axes:
    """Scatter the points ``X`` coloured by their one-hot classes ``c``: blue
    (class 0), red (class 1); the legend says so."""
    ax = ax or plt.gca()
    labels = np.argmax(c, axis=1)
    for label, (color, name) in enumerate(
        zip(CLASS_COLORS, CLASS_NAMES, strict=True)
    ):
        points = X[labels == label]
        ax.scatter(
            points[:, 0],
            points[:, 1],
            color=color,
            s=18,
            label=f"{name} (class {label})",
        )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="box")
    return ax


def plot_decision_boundary(
    session: Session,
    probabilities: Node,
    X_placeholder: placeholder,
    X: np.ndarray,
    c: np.ndarray | None = None,
    ax: Axes | None = None,
    resolution: int = 200,
    feed_dict: Mapping[placeholder, Any] | None = None,
) -> Axes:
    """Shade the plane by the class the network predicts, with the points on
    top.

    The whole grid of ``resolution**2`` points goes through the graph in a
    single ``session.run``: one batch, not one run per point. ``feed_dict``
    feeds any other placeholder the prediction needs, such as a dropout switch.
    """
    ax = ax or plt.gca()
    margin = 0.5
    x1 = np.linspace(
        X[:, 0].min() - margin, X[:, 0].max() + margin, resolution
    )
    x2 = np.linspace(
        X[:, 1].min() - margin, X[:, 1].max() + margin, resolution
    )
    grid_x1, grid_x2 = np.meshgrid(x1, x2)
    grid = np.column_stack([grid_x1.ravel(), grid_x2.ravel()])
    p = session.run(
        probabilities, feed_dict={**(feed_dict or {}), X_placeholder: grid}
    )
    first_class = p[:, 0].reshape(grid_x1.shape)
    ax.contourf(
        grid_x1,
        grid_x2,
        first_class,
        levels=[0, 0.5, 1],
        colors=["#f4c6c6", "#c6d8f4"],
    )
    ax.contour(
        grid_x1,
        grid_x2,
        first_class,
        levels=[0.5],
        colors="black",
        linewidths=1,
    )
    if c is not None:
        plot_classes(X, c, ax)
    ax.set_xlim(x1[0], x1[-1])
    ax.set_ylim(x2[0], x2[-1])
    return ax


def plot_loss(
    losses: Sequence[float],
    ax: Axes | None = None,
    label: str | None = None,
    steps: Sequence[int] | None = None,
) -> Axes:
    """The loss against the number of training steps taken.

    ``losses[i]`` is the loss after ``i`` steps -- what
    ``session.run([loss, train_op])`` returns at step ``i``, since the loss is
    computed before the step updates the variables -- or after ``steps[i]``
    steps, for a loss recorded only now and then.
    """
    ax = ax or plt.gca()
    ax.plot(
        np.arange(len(losses)) if steps is None else steps, losses, label=label
    )
    ax.set_xlabel("training steps taken")
    ax.set_ylabel("loss $J$")
    return ax
