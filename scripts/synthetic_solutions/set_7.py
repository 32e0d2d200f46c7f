"""Solution set 7, "transposes and keywords": masked_fill, log1p, sign factors, W^T products.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    return X.masked_fill(X <= 0, 0.0)


def sigmoid(X):
    pos = torch.where(X >= 0, X, torch.zeros_like(X))
    neg = torch.where(X < 0, X, torch.zeros_like(X))
    log_sig = torch.where(X >= 0, -torch.log1p(torch.exp(-pos)), neg - torch.log1p(torch.exp(neg)))
    return torch.exp(log_sig)


def tanh(X):
    s = torch.where(X >= 0, 1.0, -1.0)  # tanh is odd: compute it for |x| and restore the sign
    e = torch.exp(-2 * X * s)
    return (1 - e) / (1 + e) * s


def collapse_affine(W1, b1, W2, b2):
    W = (W2.T @ W1.T).T
    b = (W2.T @ b1.T).T + b2
    return W, b


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.register_parameter("W1", nn.Parameter(sigma * torch.randn(num_inputs, num_hiddens)))
        self.register_parameter("b1", nn.Parameter(torch.zeros(num_hiddens)))
        self.register_parameter("W2", nn.Parameter(sigma * torch.randn(num_hiddens, num_outputs)))
        self.register_parameter("b2", nn.Parameter(torch.zeros(num_outputs)))

    def forward(self, X):
        X = X.reshape(-1, self.num_inputs)
        H = relu((self.W1.T @ X.T).T + self.b1)
        return (self.W2.T @ H.T).T + self.b2


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Flatten(start_dim=1),
            nn.Linear(in_features=28 * 28, out_features=num_hiddens),
            nn.ReLU(inplace=False),
            nn.Linear(in_features=num_hiddens, out_features=num_outputs),
        )
