"""The text's two data sets, seeded so that every run draws the same points.

Each function returns ``(X, c)``: points ``X`` of shape (N, 2), one per row,
and one-hot classes ``c`` of shape (N, 2). As in the text, the blue points come
first and are class 0 (``c = [1, 0]``); the red points are class 1
(``c = [0, 1]``).
"""

from __future__ import annotations

import importlib.util
import numbers
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import numpy as np

#: The colour of each class in the figures, and its name: class 0 is blue,
#: class 1 red.
CLASS_COLORS = ("tab:blue", "tab:red")
CLASS_NAMES = ("blue", "red")


def _clusters(
    blue_centres: list[tuple[float, float]],
    red_centres: list[tuple[float, float]],
    per_cluster: int,
    spread: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    blue = [
        rng.normal(centre, spread, size=(per_cluster, 2))
        for centre in blue_centres
    ]
    red = [
        rng.normal(centre, spread, size=(per_cluster, 2))
        for centre in red_centres
    ]
    X = np.concatenate(blue + red)
    n_blue = per_cluster * len(blue_centres)
    c = np.zeros((len(X), 2))
    c[:n_blue, 0] = 1
    c[n_blue:, 1] = 1
    return X, c


def red_blue(
    per_class: int = 50, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Blue points around (2, 2) and red points around (-2, -2), unit Gaussian
    noise.

    >>> X, c = red_blue()
    >>> X.shape, c.shape, c[0], c[-1]
    ((100, 2), (100, 2), array([1., 0.]), array([0., 1.]))
    """
    return _clusters([(2, 2)], [(-2, -2)], per_class, 1.0, seed)


def xor_clusters(
    per_cluster: int = 25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters no line separates: blue around (0, 1) and (1, 0), red
    around (0, 0) and (1, 1), each with Gaussian noise of standard deviation
    0.2.

    >>> X, c = xor_clusters()
    >>> X.shape, c.sum(axis=0)
    ((100, 2), array([50., 50.]))
    """
    return _clusters(
        [(0, 1), (1, 0)], [(0, 0), (1, 1)], per_cluster, 0.2, seed
    )


def moons(
    n: int = 200, noise: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, blue (class 0) over red (class 1), with
    Gaussian noise: a small problem whose best boundary is a smooth curve.

    >>> X, c = moons(10)
    >>> X.shape, c.sum(axis=0)
    ((10, 2), array([5., 5.]))
    """
    rng = np.random.default_rng(seed)
    n_blue = n // 2
    angles = rng.uniform(0, np.pi, n)
    blue = np.column_stack([np.cos(angles[:n_blue]), np.sin(angles[:n_blue])])
    red = np.column_stack(
        [1 - np.cos(angles[n_blue:]), 0.5 - np.sin(angles[n_blue:])]
    )
    X = np.concatenate([blue, red]) + rng.normal(0, noise, (n, 2))
    c = np.zeros((n, 2))
    c[:n_blue, 0] = 1
    c[n_blue:, 1] = 1
    return X, c


def train_test_split(
    X: np.ndarray, c: np.ndarray, test_fraction: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the points and split them into
    ``X_train, c_train, X_test, c_test``.

    >>> X, c = np.arange(10.0).reshape(5, 2), np.eye(5)
    >>> X_train, c_train, X_test, c_test = train_test_split(
    ...     X, c, test_fraction=0.4
    ... )
    >>> len(X_train), len(X_test), sorted(
    ...     X_train[:, 0].tolist() + X_test[:, 0].tolist()
    ... )
    (3, 2, [0.0, 2.0, 4.0, 6.0, 8.0])
    """
    _same_length(X, c)
    if isinstance(test_fraction, bool) or not isinstance(
        test_fraction, numbers.Real
    ):
        raise TypeError(
            f"test_fraction must be a number, got {test_fraction!r}"
        )
    if not 0 < test_fraction < 1:
        raise ValueError(
            f"test_fraction must be between 0 and 1, got {test_fraction!r}"
        )
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = round(len(X) * test_fraction)
    if not 0 < n_test < len(X):
        side = "test" if n_test == 0 else "training"
        raise ValueError(
            f"test_fraction={test_fraction!r} of {len(X)} points leaves the "
            f"{side} set empty ({n_test} test points)"
        )
    test, train = order[:n_test], order[n_test:]
    return X[train], c[train], X[test], c[test]


def batches(
    X: np.ndarray, c: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The points in a fresh random order, ``batch_size`` at a time (the last
    batch may be smaller): one pass over the data, an *epoch*, of mini-batch
    training.

    >>> X, c = np.zeros((10, 2)), np.zeros((10, 2))
    >>> [
    ...     len(X_batch)
    ...     for X_batch, c_batch in batches(X, c, 4, np.random.default_rng(0))
    ... ]
    [4, 4, 2]
    """
    _same_length(X, c)
    if isinstance(batch_size, bool) or not isinstance(
        batch_size, numbers.Integral
    ):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    # Checked now; the order is drawn from rng when the first batch is asked
    # for, as it always was.
    return _batches(X, c, int(batch_size), rng)


def _batches(
    X: np.ndarray, c: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        chosen = order[start : start + batch_size]
        yield X[chosen], c[chosen]


def _same_length(X: np.ndarray, c: np.ndarray) -> None:
    if len(X) != len(c):
        raise ValueError(
            f"X has {len(X)} points but c has {len(c)} classes: one class "
            "per point"
        )


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 handwritten digits that ship with scikit-learn (no download):
    8x8 images flattened to rows of 64 values scaled to [0, 1], and one-hot
    classes 0-9.

    >>> X, c = digits()
    >>> X.shape, c.shape, X.min(), X.max()
    ((1797, 64), (1797, 10), np.float64(0.0), np.float64(1.0))
    """
    data = np.loadtxt(_digits_file(), delimiter=",")
    return data[:, :-1] / 16.0, np.eye(10)[data[:, -1].astype(int)]


def _digits_file() -> Path:
    """scikit-learn's file of the digits, found without importing scikit-learn:
    its import takes about a second, reading the file a hundredth of that."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError(
            "deepscratch.datasets.digits() needs scikit-learn installed"
        )
    (package,) = spec.submodule_search_locations
    path = Path(package, "datasets", "data", "digits.csv.gz")
    if not path.exists():
        raise FileNotFoundError(
            f"scikit-learn {version('scikit-learn')} has no {path}: "
            "deepscratch.datasets.digits() reads the digits from there"
        )
    return path


def accuracy(scores: np.ndarray, c: np.ndarray) -> float:
    """The fraction of points whose highest-scoring class -- the most probable
    one, for probabilities or logits alike -- is their true class in the
    one-hot ``c``.

    >>> accuracy(
    ...     np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]),
    ...     np.eye(2)[[0, 1, 1]],
    ... )
    0.6666666666666666
    """
    return float(np.mean(np.argmax(scores, axis=1) == np.argmax(c, axis=1)))
