"""Gradients from deepscratch against an independent reference: central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import deepscratch as ds


def finite_difference(
    loss_of: Callable[[], float], array: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """d(loss)/d(array) by central differences, nudging ``array`` in place one entry at a time."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        above = loss_of()
        array[index] = original - eps
        below = loss_of()
        array[index] = original
        grad[index] = (above - below) / (2 * eps)
    return grad


def check_gradients(
    build: Callable[..., ds.Operation], *input_values: Sequence | np.ndarray, seed: int = 0
) -> None:
    """Build ``build(*variables)`` and compare the gradient of a random weighting of its
    output, for every input, against finite differences."""
    rng = np.random.default_rng(seed)
    with ds.Graph().as_default():
        variables = [ds.Variable(value) for value in input_values]
        output = build(*variables)
        session = ds.Session()
        weights = ds.constant(rng.standard_normal(np.shape(session.run(output))))
        loss = ds.reduce_sum(ds.multiply(output, weights))
        grads = session.run(ds.compute_gradients(loss))
        for variable in variables:
            expected = finite_difference(lambda: session.run(loss), variable.value)
            np.testing.assert_allclose(grads[variable], expected, rtol=1e-5, atol=1e-7)
