"""Solution set 8, "helpers": method chains, expm1, addmm, a local affine helper, nested blocks.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    return X.mul(X.gt(0).to(X.dtype))


def sigmoid(X):
    safe_pos = torch.where(X >= 0, X, torch.zeros_like(X))
    safe_neg = torch.where(X < 0, X, torch.zeros_like(X))
    return torch.where(X >= 0, 1 / (1 + torch.exp(-safe_pos)),
                       torch.exp(safe_neg) / (1 + torch.exp(safe_neg)))


def tanh(X):
    a = torch.where(X >= 0, X, -X)
    t = -torch.expm1(-2 * a) / (1 + torch.exp(-2 * a))
    return torch.where(X >= 0, t, -t)


def collapse_affine(W1, b1, W2, b2):
    W = torch.mm(W1, W2)
    b = torch.addmm(b2, b1.reshape(1, -1), W2)
    return W, b


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        bound = sigma * 3 ** 0.5  # uniform on [-bound, bound] has standard deviation sigma
        self.W1 = nn.Parameter(torch.empty(num_inputs, num_hiddens).uniform_(-bound, bound))
        self.W2 = nn.Parameter(torch.empty(num_hiddens, num_outputs).uniform_(-bound, bound))
        self.b1 = nn.Parameter(torch.full((num_hiddens,), 0.0))
        self.b2 = nn.Parameter(torch.full((num_outputs,), 0.0))

    def forward(self, X):
        def affine(A, W, b):
            return A @ W + b

        X = X.reshape(X.size(0), -1)
        return affine(relu(affine(X, self.W1, self.b1)), self.W2, self.b2)


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        hidden = nn.Sequential(nn.LazyLinear(num_hiddens), nn.ReLU())
        self.net = nn.Sequential(nn.Flatten(), hidden, nn.LazyLinear(num_outputs))
