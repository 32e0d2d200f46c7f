"""Solution set 6, "loops": parameters made in a loop, layers applied in a loop, sinh / cosh.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    out = X.clone()
    out[X <= 0] = 0
    return out


def sigmoid(X):
    E = torch.exp(-torch.clamp(X, min=-80.0))
    return 1.0 / (1.0 + E)


def tanh(X):
    Z = X.clamp(-20, 20)
    return torch.sinh(Z) / torch.cosh(Z)


def collapse_affine(W1, b1, W2, b2):
    h = W1.shape[1]
    W = sum(torch.outer(W1[:, j], W2[j]) for j in range(h))
    b = b2 + sum(b1.reshape(-1)[j] * W2[j] for j in range(h))
    return W, b


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        shapes = {"W1": (num_inputs, num_hiddens), "b1": (num_hiddens,),
                  "W2": (num_hiddens, num_outputs), "b2": (num_outputs,)}
        for name, shape in shapes.items():
            init = torch.randn(shape) * sigma if name.startswith("W") else torch.zeros(shape)
            setattr(self, name, nn.Parameter(init))

    def forward(self, X):
        out = X.reshape(X.shape[0], self.W1.shape[0])
        layers = [(self.W1, self.b1), (self.W2, self.b2)]
        for i, (W, b) in enumerate(layers):
            out = out @ W + b
            if i < len(layers) - 1:
                out = relu(out)
        return out


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        sizes = [784, num_hiddens, num_outputs]
        modules = [nn.Flatten()]
        for k in range(len(sizes) - 1):
            if k > 0:
                modules.append(nn.ReLU())
            modules.append(nn.Linear(sizes[k], sizes[k + 1]))
        self.net = nn.Sequential(*modules)
