"""Figures of the book: the data, a learned decision boundary, a loss curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .datasets import CLASS_COLORS, CLASS_NAMES
from .graph import Node, placeholder
from .session import Session


def plot_classes(X: np.ndarray, c: np.ndarray, ax: Axes | None = None) -> Axes:
    """Scatter the points ``X`` coloured by their classes ``c``: blue (class
    0), red (class 1), then further colours for classes 2 and up; the legend
    says so.

    ``c`` is one-hot, of shape (N, C), or holds class numbers, of shape (N,)
    or (N, 1).
    """
    ax = ax or plt.gca()
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(
            "plot_classes draws points in the plane: X must have shape (N, 2),"
            f" got {X.shape}"
        )
    labels = _class_labels(c, len(X))
    # Every class of a one-hot ``c`` appears in the legend, and classes 0 and
    # 1 always do.
    count = max(2, np.shape(c)[1] if np.ndim(c) == 2 else 0)
    for label in range(max(count, labels.max(initial=0) + 1)):
        points = X[labels == label]
        ax.scatter(
            points[:, 0],
            points[:, 1],
            color=_class_color(label),
            s=18,
            label=_class_name(label),
        )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="box")
    return ax


# Classes 2 and up take the other colours of matplotlib's tab10 cycle, then
# those of tab20b and tab20c: 50 distinct colours in all.
_MORE_COLORS = [
    color for color in mcolors.TABLEAU_COLORS if color not in CLASS_COLORS
] + [
    mcolors.to_hex(color)
    for name in ("tab20b", "tab20c")
    for color in plt.get_cmap(name).colors
]


def _class_color(label: int) -> str:
    """The colour of class ``label`` in the figures: blue, red, then the
    further colours of matplotlib's tab10 cycle."""
    colors = [*CLASS_COLORS, *_MORE_COLORS]
    return colors[label % len(colors)]


def _class_name(label: int) -> str:
    if label < len(CLASS_NAMES):
        return f"{CLASS_NAMES[label]} (class {label})"
    return f"class {label}"


def _class_labels(c: np.ndarray, n: int | None = None) -> np.ndarray:
    """The class number of each point: ``c`` one-hot, of shape (N, C) with C
    >= 2, or class numbers, of shape (N,) or (N, 1).

    >>> _class_labels(np.eye(3)[[2, 0]]), _class_labels([[1], [0]])
    (array([2, 0]), array([1, 0]))
    """
    c = np.asarray(c)
    if c.ndim == 2 and c.shape[1] >= 2:
        labels = np.argmax(c, axis=1)
    elif c.ndim == 1 or (c.ndim == 2 and c.shape[1] == 1):
        numbers = c.reshape(-1)
        if not (
            np.issubdtype(numbers.dtype, np.number)
            or numbers.dtype == np.bool_
        ):
            raise TypeError(
                f"classes must be numbers, got an array of {numbers.dtype}"
            )
        wrong = numbers[(numbers < 0) | (numbers != np.round(numbers))]
        if wrong.size:
            raise ValueError(
                "class numbers must be whole numbers from 0, got "
                f"{wrong[0].item()!r}"
            )
        labels = numbers.astype(int)
    else:
        raise ValueError(
            "classes must be one-hot, of shape (N, C), or class numbers, of "
            f"shape (N,) or (N, 1), got shape {c.shape}"
        )
    if n is not None and len(labels) != n:
        raise ValueError(
            f"{n} points but {len(labels)} classes: one class per point"
        )
    return labels


def _points(X: np.ndarray, caller: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"{caller} draws points in the plane: X must have shape (N, 2), "
            f"got {X.shape}"
        )
    return X


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

    ``probabilities`` is the network's output for a batch of points: one row
    of C class probabilities per point, as softmax gives, or one number per
    point (of shape (N,) or (N, 1)), the probability of class 0, as a sigmoid
    gives. With more than two classes, each class's region gets a light shade
    of its colour.

    The whole grid of ``resolution**2`` points goes through the graph in a
    single ``session.run``: one batch, not one run per point. ``feed_dict``
    feeds any other placeholder the prediction needs, such as a dropout switch.
    """
    ax = ax or plt.gca()
    X = _points(X, "plot_decision_boundary")
    margin = 0.5
    x1 = np.linspace(
        X[:, 0].min() - margin, X[:, 0].max() + margin, resolution
    )
    x2 = np.linspace(
        X[:, 1].min() - margin, X[:, 1].max() + margin, resolution
    )
    grid_x1, grid_x2 = np.meshgrid(x1, x2)
    grid = np.column_stack([grid_x1.ravel(), grid_x2.ravel()])
    p = np.asarray(
        session.run(
            probabilities,
            feed_dict={**(feed_dict or {}), X_placeholder: grid},
        )
    )
    if p.ndim not in (1, 2) or len(p) != len(grid):
        raise ValueError(
            "plot_decision_boundary needs one prediction per point: for the "
            f"{len(grid)} points of the grid, probabilities of shape "
            f"({len(grid)},) or ({len(grid)}, C), got shape {p.shape}"
        )
    if p.ndim == 2 and p.shape[1] > 2:
        _shade_classes(ax, grid_x1, grid_x2, p)
    else:
        first_class = (p if p.ndim == 1 else p[:, 0]).reshape(grid_x1.shape)
        ax.contourf(
            grid_x1,
            grid_x2,
            first_class,
            levels=[0, 0.5, 1],
            colors=[_SHADES[1], _SHADES[0]],
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


# The light shades of the regions of classes 0 and 1.
_SHADES = ("#c6d8f4", "#f4c6c6")


def _shade_classes(
    ax: Axes, grid_x1: np.ndarray, grid_x2: np.ndarray, p: np.ndarray
) -> None:
    """Shade where each of the C > 2 classes has the highest probability, and
    draw the boundaries between them."""
    for label in range(p.shape[1]):
        # Positive where this class wins, zero on its boundary.
        lead = p[:, label] - np.delete(p, label, axis=1).max(axis=1)
        lead = lead.reshape(grid_x1.shape)
        if lead.max() <= 0:
            continue  # a class predicted nowhere
        if label < len(_SHADES):
            shade = _SHADES[label]
        else:  # the class's colour, a quarter strength on white
            shade = 0.75 + 0.25 * np.array(mcolors.to_rgb(_class_color(label)))
        ax.contourf(
            grid_x1,
            grid_x2,
            lead,
            levels=[0, lead.max() + 1],
            colors=[shade],
        )
        if lead.min() < 0:
            ax.contour(
                grid_x1,
                grid_x2,
                lead,
                levels=[0],
                colors="black",
                linewidths=1,
            )


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
