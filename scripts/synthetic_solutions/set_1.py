"""Solution set 1, "the book": torch.where everywhere, the d2l chapter's MLPScratch and MLP.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
Each set answers every answer cell; the sets differ in structure, not in names.
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    return torch.where(X > 0, X, torch.zeros_like(X))


def sigmoid(X):
    Z = torch.where(X >= 0, -X, X)  # -|x|, with the gradient of the branch that is taken
    E = torch.exp(Z)
    return torch.where(X >= 0, 1 / (1 + E), E / (1 + E))


def tanh(X):
    return 2 * sigmoid(2 * X) - 1


def collapse_affine(W1, b1, W2, b2):
    W = W1 @ W2
    b = b1 @ W2 + b2
    return W, b


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X):
        X = X.reshape((-1, self.num_inputs))
        H = relu(X @ self.W1 + self.b1)
        return H @ self.W2 + self.b2


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens),
                                 nn.ReLU(), nn.LazyLinear(num_outputs))
