"""The same MLP in PyTorch, eager mode on the CPU in float64: the idiomatic way to write it.

Autograd computes the gradients (``loss.backward()``) and the update is done in place
under ``torch.no_grad()``. Importing this module imports torch, an optional extra
(``pip install -e ".[bench]"``); ``bench.py`` skips PyTorch when it is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class TorchMLP:
    """An MLP trained with autograd. ``weights`` is ``[W_1, b_1, W_2, b_2, ...]`` (copied)."""

    def __init__(
        self, weights: Sequence[np.ndarray], X: np.ndarray, c: np.ndarray, learning_rate: float
    ) -> None:
        self.params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
        self.X = torch.tensor(X, dtype=torch.float64)
        self.c = torch.tensor(c, dtype=torch.float64)
        self.learning_rate = learning_rate

    def step(self) -> float:
        """One gradient-descent step; returns the loss before it, as ``session.run`` does."""
        Ws, bs = self.params[0::2], self.params[1::2]
        H = self.X
        for W, b in zip(Ws[:-1], bs[:-1], strict=True):
            H = torch.sigmoid(H @ W + b)
        p = torch.softmax(H @ Ws[-1] + bs[-1], dim=1)
        loss = -torch.sum(self.c * torch.log(p))
        loss.backward()
        with torch.no_grad():
            for param in self.params:
                param -= self.learning_rate * param.grad
                param.grad = None
        return loss.item()

    def weights(self) -> list[np.ndarray]:
        """The current ``[W_1, b_1, W_2, b_2, ...]`` as numpy arrays (copies)."""
        return [param.detach().numpy().copy() for param in self.params]
