"""Solution set 4, "linear algebra": einsum, a ratio of exponentials, a list of layers.

One of eight independently written solution sets of the MLP lab (see scripts/synthetic_course.py).
"""

import torch
from d2l import torch as d2l
from torch import nn


def relu(X):
    mask = (X > 0).float()
    return mask * X


def sigmoid(X):
    # sigmoid(x) = e^min(x,0) / (e^min(x,0) + e^min(-x,0)); neither exponent is ever positive
    zero = torch.zeros_like(X)
    a = torch.exp(torch.minimum(X, zero))
    b = torch.exp(torch.minimum(-X, zero))
    return a / (a + b)


def tanh(X):
    return sigmoid(2 * X) - sigmoid(-2 * X)


def collapse_affine(W1, b1, W2, b2):
    W = torch.einsum("ij,jk->ik", W1, W2)
    b = torch.einsum("...j,jk->...k", b1, W2) + b2
    return W, b


class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        dims = [(num_inputs, num_hiddens), (num_hiddens, num_outputs)]
        self.W1, self.W2 = (nn.Parameter(torch.randn(*dim) * sigma) for dim in dims)
        self.b1 = nn.Parameter(torch.zeros(1, num_hiddens))
        self.b2 = nn.Parameter(torch.zeros(1, num_outputs))

    def forward(self, X):
        X = X.reshape(len(X), -1)
        H = relu(torch.einsum("nd,dh->nh", X, self.W1) + self.b1)
        return torch.einsum("nh,hq->nq", H, self.W2) + self.b2


class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        layers = [nn.Flatten()]
        layers.append(nn.LazyLinear(num_hiddens))
        layers.append(nn.ReLU())
        layers.append(nn.LazyLinear(num_outputs))
        self.net = nn.Sequential(*layers)
