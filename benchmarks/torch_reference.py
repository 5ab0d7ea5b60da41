"""The same MLP in PyTorch, eager mode on the CPU in float64: the idiomatic way to write it.

Autograd computes the gradients (``loss.backward()``); the loss is
``torch.nn.functional.cross_entropy`` of the logits with the one-hot classes as target
probabilities, summed or averaged over the batch; gradient descent updates the parameters in
place under ``torch.no_grad()``, Adam is ``torch.optim.Adam``. The constructor sets PyTorch's
thread count (``threads``; the benchmark has an engine for 1 and one for 2), which is global
to the process: the last engine built wins. Importing this module imports torch, an optional
extra (``pip install -e ".[bench]"``); ``bench.py`` skips PyTorch when it is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional


class TorchMLP:
    """An MLP trained with autograd. ``weights`` is ``[W_1, b_1, W_2, b_2, ...]`` (copied);
    the options are ``NumpyMLP``'s."""

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        learning_rate: float,
        *,
        hidden: str = "sigmoid",
        loss: str = "sum",
        optimizer: str = "gd",
        threads: int = 1,
    ) -> None:
        torch.set_num_threads(threads)
        self.params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
        if loss not in ("sum", "mean") or optimizer not in ("gd", "adam"):
            raise ValueError(f"unknown loss={loss!r} or optimizer={optimizer!r}")
        self.activation = {"sigmoid": torch.sigmoid, "relu": torch.relu}[hidden]
        self.reduction, self.learning_rate = loss, learning_rate
        adam = optimizer == "adam"
        self.adam = torch.optim.Adam(self.params, lr=learning_rate) if adam else None

    def step(self, X: np.ndarray, c: np.ndarray) -> float:
        """One training step on the batch ``(X, c)``; returns the loss before it."""
        Ws, bs = self.params[0::2], self.params[1::2]
        H = torch.from_numpy(X)
        for W, b in zip(Ws[:-1], bs[:-1], strict=True):
            H = self.activation(H @ W + b)
        logits = H @ Ws[-1] + bs[-1]
        loss = functional.cross_entropy(logits, torch.from_numpy(c), reduction=self.reduction)
        loss.backward()
        if self.adam is not None:
            self.adam.step()
            self.adam.zero_grad()
        else:
            with torch.no_grad():
                for param in self.params:
                    param -= self.learning_rate * param.grad
                    param.grad = None
        return loss.item()

    def weights(self) -> list[np.ndarray]:
        """The current ``[W_1, b_1, W_2, b_2, ...]`` as numpy arrays (copies)."""
        return [param.detach().numpy().copy() for param in self.params]
