"""Loop-based reference implementations: slow, obvious, and independent of glassnet."""
import math

import numpy as np


def linear(x, W, b):
    x2 = x.reshape(x.shape[0], -1)
    out = np.zeros((x2.shape[0], W.shape[1]))
    for n in range(x2.shape[0]):
        for j in range(W.shape[1]):
            s = 0.0 if b is None else float(b[j])
            for i in range(W.shape[0]):
                s += float(x2[n, i]) * float(W[i, j])
            out[n, j] = s
    return out


def elementwise(fn, x):
    out = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        out[idx] = fn(float(x[idx]))
    return out


def relu(x):
    return elementwise(lambda v: v if v > 0 else 0.0, x)


def leaky_relu(x, alpha):
    return elementwise(lambda v: v if v > 0 else alpha * v, x)


def sigmoid(x):
    return elementwise(lambda v: 1.0 / (1.0 + math.exp(-v)), x)


def tanh(x):
    return elementwise(math.tanh, x)


def softmax_rows(x):
    out = np.zeros(x.shape)
    for n in range(x.shape[0]):
        m = max(float(v) for v in x[n])
        e = [math.exp(float(v) - m) for v in x[n]]
        s = sum(e)
        out[n] = [v / s for v in e]
    return out


def maxout(x, W, b, pieces):
    z = linear(x, W, b)
    n_out = W.shape[1] // pieces
    out = np.zeros((x.shape[0], n_out))
    for n in range(x.shape[0]):
        for j in range(n_out):
            out[n, j] = max(z[n, j * pieces + k] for k in range(pieces))
    return out


def batchnorm_train(x, gamma, beta, eps):
    """Per-feature loops over (N, C) or (N, C, L)."""
    out = np.zeros(x.shape)
    c_dim = x.shape[1]
    for c in range(c_dim):
        vals = x[:, c].ravel()
        mu = sum(vals) / len(vals)
        var = sum((v - mu) ** 2 for v in vals) / len(vals)
        out[:, c] = gamma[c] * (x[:, c] - mu) / math.sqrt(var + eps) + beta[c]
    return out


def batchnorm_eval(x, gamma, beta, mean, var, eps):
    out = np.zeros(x.shape)
    for c in range(x.shape[1]):
        out[:, c] = gamma[c] * (x[:, c] - mean[c]) / math.sqrt(var[c] + eps) + beta[c]
    return out
