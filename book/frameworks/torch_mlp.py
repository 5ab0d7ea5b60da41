"""Chapter 6's network trained with PyTorch, as chapter 8 shows it: one
hidden layer of sigmoids, a softmax output and the summed cross-entropy,
trained by gradient descent, in float64 so that it can match deepscratch."""

import torch
from torch import nn


class MLP(nn.Module):
    """One hidden layer of sigmoid units; it returns the logits."""

    def __init__(self, W1, b1, W2, b2):
        super().__init__()
        self.W1 = nn.Parameter(torch.tensor(W1))
        self.b1 = nn.Parameter(torch.tensor(b1))
        self.W2 = nn.Parameter(torch.tensor(W2))
        self.b2 = nn.Parameter(torch.tensor(b2))

    def forward(self, X):
        hidden = torch.sigmoid(X @ self.W1 + self.b1)
        return hidden @ self.W2 + self.b2


def train(weights, X, c, learning_rate, steps):
    """Gradient descent from weights = [W1, b1, W2, b2] on the points X with
    one-hot classes c: the loss before each step, and the final weights."""
    model = MLP(*weights)
    X, c = torch.tensor(X), torch.tensor(c)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(steps):
        logits = model(X)
        loss = nn.functional.cross_entropy(logits, c, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    final = [model.W1, model.b1, model.W2, model.b2]
    return losses, [w.detach().numpy() for w in final]
