"""The hand-written numpy reference that the benchmark holds deepscratch to.

**The rule: the reference is the fastest plain numpy a competent person writes by hand for
each workload, never one shaped to match deepscratch's own choices.** (It once computed the
sigmoid as ``np.exp(-np.logaddexp(0.0, -a))`` only because deepscratch did; that cost three
times the plain ``1 / (1 + np.exp(-a))``, which the workloads never overflow, and that costs
three times the same computed in place.)

One class, ``NumpyMLP``, with the options the workloads need: sigmoid or ReLU hidden layers,
a softmax output layer, the cross-entropy ``-sum(c * log(p))`` summed over the batch or its
mean ``-mean(sum(c * log(p), axis=1))``, and plain gradient descent or Adam, in float64. It is
written as a person writes it for speed:

* one forward pass that keeps each layer's output; the loss is computed from it, once;
* the gradient at the output layer's pre-activation is ``p - c`` (``(p - c) / n`` for the
  mean), computed in place in ``p``: it holds because every row of ``c`` sums to 1 (one-hot
  classes), where a graph engine goes through ``log`` and ``softmax`` one at a time;
* no gradient with respect to the input ``X``: the first layer's backward pass stops at ``dW``
  and ``db``;
* the backward pass and the updates work in place where that saves a temporary array
  (``dA *= H; dA *= 1 - H``, ``W -= dW``, Adam's moments ``m *= beta1; m += ...``).

Adam computes exactly what ``deepscratch.train.AdamOptimizer`` does: ``m`` and ``s`` per
parameter, one step count ``t``, the bias corrections ``m_hat = m / (1 - beta1**t)`` and
``s_hat = s / (1 - beta2**t)``, and the step ``lr * m_hat / (sqrt(s_hat) + eps)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-a))``, the plain form (the workloads never overflow it), in place:
    ``a`` is a fresh pre-activation nobody else holds, and a temporary array of its size
    costs as much as the arithmetic."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


def relu(a: np.ndarray) -> np.ndarray:
    """``max(a, 0)``, in place: ``a`` is a fresh pre-activation nobody else holds."""
    return np.maximum(a, 0.0, out=a)


class NumpyMLP:
    """An MLP trained by hand. ``weights`` is ``[W_1, b_1, W_2, b_2, ...]`` (copied).

    ``hidden`` is ``"sigmoid"`` or ``"relu"``; ``loss`` is ``"sum"`` or ``"mean"`` (of the
    cross-entropy over the batch); ``optimizer`` is ``"gd"`` or ``"adam"``.
    """

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        learning_rate: float,
        *,
        hidden: str = "sigmoid",
        loss: str = "sum",
        optimizer: str = "gd",
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        if hidden not in ("sigmoid", "relu") or loss not in ("sum", "mean"):
            raise ValueError(f"unknown hidden={hidden!r} or loss={loss!r}")
        if optimizer not in ("gd", "adam"):
            raise ValueError(f"unknown optimizer={optimizer!r}")
        self.params = [np.array(w, dtype=np.float64) for w in weights]
        self.Ws, self.bs = self.params[0::2], self.params[1::2]
        self.learning_rate, self.relu, self.mean = learning_rate, hidden == "relu", loss == "mean"
        self.adam = optimizer == "adam"
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.m = [np.zeros_like(p) for p in self.params]
        self.s = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, X: np.ndarray, c: np.ndarray) -> float:
        """One training step on the batch ``(X, c)``; returns the loss before it, as
        ``session.run([J, train_op], feed)`` does."""
        activation = relu if self.relu else sigmoid
        H = [X]  # the input of each layer
        for W, b in zip(self.Ws[:-1], self.bs[:-1], strict=True):
            a = H[-1] @ W
            a += b
            H.append(activation(a))
        a = H[-1] @ self.Ws[-1]
        a += self.bs[-1]
        a -= a.max(axis=1, keepdims=True)  # so that exp cannot overflow
        p = np.exp(a, out=a)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.vdot(c, np.log(p))  # sum(c * log(p)) over every entry

        dA = p
        dA -= c  # dJ/d(pre-activation) of the output layer, in p's memory
        if self.mean:
            loss /= len(X)
            dA /= len(X)
        grads = []
        for layer in reversed(range(len(self.Ws))):
            grads += [dA.sum(axis=0), H[layer].T @ dA]  # db, dW
            if layer > 0:  # back through this layer's matmul and the activation before it
                dA = dA @ self.Ws[layer].T
                if self.relu:
                    dA *= H[layer] > 0
                else:
                    dA *= H[layer]
                    dA *= 1 - H[layer]
        grads.reverse()  # [dW_1, db_1, dW_2, db_2, ...]
        if self.adam:
            self.adam_update(grads)
        else:
            for param, grad in zip(self.params, grads, strict=True):
                grad *= self.learning_rate
                param -= grad
        return float(loss)

    def adam_update(self, grads: list[np.ndarray]) -> None:
        """Adam, as ``deepscratch.train.AdamOptimizer`` computes it, moments in place."""
        beta1, beta2 = self.beta1, self.beta2
        self.t += 1
        correction1, correction2 = 1 - beta1**self.t, 1 - beta2**self.t
        for param, grad, m, s in zip(self.params, grads, self.m, self.s, strict=True):
            m *= beta1
            m += (1 - beta1) * grad
            grad *= grad
            grad *= 1 - beta2
            s *= beta2
            s += grad
            denominator = np.sqrt(s / correction2)  # sqrt(s_hat)
            denominator += self.epsilon
            step = m * (self.learning_rate / correction1)  # lr * m_hat
            step /= denominator
            param -= step

    def weights(self) -> list[np.ndarray]:
        """The current ``[W_1, b_1, W_2, b_2, ...]``, copied."""
        return [p.copy() for p in self.params]
