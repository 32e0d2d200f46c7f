"""Solution set 2, "clamp it": clamping keeps exp in range; explicit nn.Linear(784, ...) layers.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    return torch.clamp(X, min=0)


def sigmoid(X):
    # beyond |x| = 30 sigmoid is 0 or 1 to float32 precision, so clamping changes nothing visible
    Xc = torch.clamp(X, -30.0, 30.0)
    return 1.0 / (1.0 + torch.exp(-Xc))


def tanh(X):
    Z = torch.clamp(X, -15.0, 15.0)
    e = torch.exp(2 * Z)
    return (e - 1) / (e + 1)


def collapse_affine(W1, b1, W2, b2):
    return torch.matmul(W1, W2), torch.matmul(b1, W2) + b2


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W1 = nn.Parameter(sigma * torch.randn(num_inputs, num_hiddens))
        self.b1 = nn.Parameter(torch.zeros(1, num_hiddens))
        self.W2 = nn.Parameter(sigma * torch.randn(num_hiddens, num_outputs))
        self.b2 = nn.Parameter(torch.zeros(1, num_outputs))

    def forward(self, X):
        hidden = relu(torch.matmul(X.flatten(start_dim=1), self.W1) + self.b1)
        return torch.matmul(hidden, self.W2) + self.b2


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        num_inputs = 28 * 28
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(num_inputs, num_hiddens),
            nn.ReLU(),
            nn.Linear(num_hiddens, num_outputs),
        )
