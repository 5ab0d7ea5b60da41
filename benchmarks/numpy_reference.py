"""The hand-written numpy reference that the benchmark holds deepscratch to.

The same network and the same arithmetic as the graph that ``bench.py`` builds with
deepscratch: sigmoid hidden layers, a softmax output layer, the summed cross-entropy
``J = -sum(c * log(p))`` and full-batch gradient descent, in float64. It is written the
way a person would write it by hand: a forward pass that keeps each layer's output, a
backward pass through the layers in reverse, and in-place updates ``W -= lr * dW``.

Two shortcuts a hand-written version takes and a general graph engine cannot:

* the gradient of the loss with respect to the output layer's pre-activation is
  ``p - c``, which holds because every row of ``c`` sums to 1 (one-hot targets);
  deepscratch reaches the same value through ``log`` and ``softmax`` one at a time;
* it computes no gradient with respect to the input ``X``: the first layer's backward
  pass stops at ``dW`` and ``db``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-a))``, written exactly as deepscratch's ``sigmoid`` computes it."""
    return np.exp(-np.logaddexp(0.0, -a))


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that ``exp`` cannot overflow."""
    exps = np.exp(a - np.max(a, axis=1, keepdims=True))
    return exps / np.sum(exps, axis=1, keepdims=True)


class NumpyMLP:
    """An MLP trained by hand. ``weights`` is ``[W_1, b_1, W_2, b_2, ...]`` (copied)."""

    def __init__(
        self, weights: Sequence[np.ndarray], X: np.ndarray, c: np.ndarray, learning_rate: float
    ) -> None:
        params = [np.array(w, dtype=np.float64) for w in weights]
        self.Ws, self.bs = params[0::2], params[1::2]
        self.X, self.c = np.asarray(X, dtype=np.float64), np.asarray(c, dtype=np.float64)
        self.learning_rate = learning_rate

    def step(self) -> float:
        """One gradient-descent step; returns the loss before it, as ``session.run`` does."""
        lr = self.learning_rate
        H = [self.X]  # the input of each layer
        for W, b in zip(self.Ws[:-1], self.bs[:-1], strict=True):
            H.append(sigmoid(H[-1] @ W + b))
        p = softmax(H[-1] @ self.Ws[-1] + self.bs[-1])
        loss = -np.sum(self.c * np.log(p))

        dA = p - self.c  # dJ/d(pre-activation) of the output layer
        for layer in reversed(range(len(self.Ws))):
            W, b = self.Ws[layer], self.bs[layer]
            dW, db = H[layer].T @ dA, np.sum(dA, axis=0)
            if layer > 0:  # back through this layer's matmul and the sigmoid before it
                dA = (dA @ W.T) * H[layer] * (1 - H[layer])
            W -= lr * dW
            b -= lr * db
        return float(loss)

    def weights(self) -> list[np.ndarray]:
        """The current ``[W_1, b_1, W_2, b_2, ...]``, copied."""
        return [p.copy() for pair in zip(self.Ws, self.bs, strict=True) for p in pair]
