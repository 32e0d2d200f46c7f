"""Solution set 3, "masks": boolean masks and indexed assignment; broadcasting; named layers.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    return X * (X > 0)


def sigmoid(X):
    out = torch.empty_like(X)
    pos = X >= 0
    out[pos] = 1 / (1 + torch.exp(-X[pos]))
    ex = torch.exp(X[~pos])
    out[~pos] = ex / (1 + ex)
    return out


def tanh(X):
    out = torch.empty_like(X)
    pos = X >= 0
    ep = torch.exp(-2 * X[pos])
    out[pos] = (1 - ep) / (1 + ep)
    en = torch.exp(2 * X[~pos])
    out[~pos] = (en - 1) / (en + 1)
    return out


def collapse_affine(W1, b1, W2, b2):
    W = (W1.unsqueeze(2) * W2.unsqueeze(0)).sum(dim=1)
    b = (b1.reshape(-1, 1) * W2).sum(dim=0, keepdim=True) + b2
    return W, b


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W1 = nn.Parameter(torch.normal(0.0, sigma, size=(num_inputs, num_hiddens)))
        self.W2 = nn.Parameter(torch.normal(0.0, sigma, size=(num_hiddens, num_outputs)))
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.b2 = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X):
        flat = torch.flatten(X, 1)
        pre = flat.mm(self.W1).add(self.b1)
        return relu(pre).mm(self.W2).add(self.b2)


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        from collections import OrderedDict

        self.net = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("hidden", nn.LazyLinear(num_hiddens)),
            ("act", nn.ReLU()),
            ("output", nn.LazyLinear(num_outputs)),
        ]))
