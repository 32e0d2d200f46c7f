"""Solution set 5, "log space": logaddexp and addmm; W, b read off the network itself; add_module.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    return X.clamp_min(0.0)


def sigmoid(X):
    # log sigmoid(x) = -log(1 + e^-x) = -logaddexp(0, -x), which never overflows
    return torch.exp(-torch.logaddexp(torch.zeros_like(X), -X))


def tanh(X):
    return 1 - 2 / (1 + torch.exp(torch.clamp(2 * X, max=80.0)))


def collapse_affine(W1, b1, W2, b2):
    d = W1.shape[0]

    def net(X):
        return (X @ W1 + b1) @ W2 + b2

    b = net(W1.new_zeros((1, d)))
    W = net(torch.eye(d, dtype=W1.dtype)) - b
    return W, b


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        W1 = torch.empty(num_inputs, num_hiddens)
        nn.init.normal_(W1, mean=0.0, std=sigma)
        W2 = torch.empty(num_hiddens, num_outputs)
        nn.init.normal_(W2, mean=0.0, std=sigma)
        self.W1, self.W2 = nn.Parameter(W1), nn.Parameter(W2)
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.b2 = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X):
        n = X.shape[0]
        X = X.view(n, -1)
        H = relu(torch.addmm(self.b1, X, self.W1))
        return torch.addmm(self.b2, H, self.W2)


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential()
        self.net.add_module("flat", nn.Flatten())
        self.net.add_module("fc1", nn.LazyLinear(num_hiddens))
        self.net.add_module("relu", nn.ReLU())
        self.net.add_module("fc2", nn.LazyLinear(num_outputs))
