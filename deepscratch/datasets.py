"""The text's two data sets, seeded so that every run draws the same points.

Each function returns ``(X, c)``: points ``X`` of shape (N, 2), one per row, and
one-hot classes ``c`` of shape (N, 2). As in the text, the blue points come first
and are class 0 (``c = [1, 0]``); the red points are class 1 (``c = [0, 1]``).
"""

from __future__ import annotations

import numpy as np

#: The colour of each class in the figures: class 0 is blue, class 1 red.
CLASS_COLORS = ("tab:blue", "tab:red")


def _clusters(blue_centres, red_centres, per_cluster: int, spread: float, seed: int):
    rng = np.random.default_rng(seed)
    blue = [rng.normal(centre, spread, size=(per_cluster, 2)) for centre in blue_centres]
    red = [rng.normal(centre, spread, size=(per_cluster, 2)) for centre in red_centres]
    X = np.concatenate(blue + red)
    n_blue = per_cluster * len(blue_centres)
    c = np.zeros((len(X), 2))
    c[:n_blue, 0] = 1
    c[n_blue:, 1] = 1
    return X, c


def red_blue(per_class: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Blue points around (2, 2) and red points around (-2, -2), unit Gaussian noise.

    >>> X, c = red_blue()
    >>> X.shape, c.shape, c[0], c[-1]
    ((100, 2), (100, 2), array([1., 0.]), array([0., 1.]))
    """
    return _clusters([(2, 2)], [(-2, -2)], per_class, 1.0, seed)


def xor_clusters(per_cluster: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters no line separates: blue around (0, 1) and (1, 0), red around
    (0, 0) and (1, 1), each with Gaussian noise of standard deviation 0.2.

    >>> X, c = xor_clusters()
    >>> X.shape, c.sum(axis=0)
    ((100, 2), array([50., 50.]))
    """
    return _clusters([(0, 1), (1, 0)], [(0, 0), (1, 1)], per_cluster, 0.2, seed)
