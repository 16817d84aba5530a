"""Batch normalization in training mode, faster: the reference is ``functional.batchnorm``.

- "numba" (contiguous NumPy float32/float64, training mode, (N, C) or rows of 16+ values):
  after NumPy's channel sums, two compiled passes over the input (centred squares, then the
  normalized output) instead of about ten NumPy passes; the cache keeps the input and the mean
  instead of a normalized copy, and backward is two passes likewise. The variance sums squares
  of centred values (no E[x^2] - mean^2 cancellation); the sums run in another order than
  NumPy's, so results agree with the reference to float rounding.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..functional import batchnorm as B
from . import Kernel, _numba, register


class KeptInputCache(NamedTuple):
    x: object  # the input, kept instead of xhat
    mean: object  # (C,)
    inv_std: object  # (C,)
    gamma: object
    running_mean: object  # running statistics after this call
    running_var: object


# Per-channel sums over x (N, C, L): each row summed in the array's precision (vectorized: the
# additions reordered, as NumPy's pairwise sum also does), rows added in float64.
def _centered_squares(x, mean, out):  # pragma: no cover - compiled (reassociate)
    N, C, L = x.shape
    for c in range(C):
        mu = mean[c]
        total = 0.0
        for n in range(N):
            row = x[n, c]
            s = row[0] - row[0]
            for k in range(L):
                d = row[k] - mu
                s += d * d
            total += s
        out[c] = total


def _centered_dot(g, x, mean, out):  # pragma: no cover - compiled (reassociate)
    N, C, L = x.shape
    for c in range(C):
        mu = mean[c]
        total = 0.0
        for n in range(N):
            g_row, x_row = g[n, c], x[n, c]
            s = x_row[0] - x_row[0]
            for k in range(L):
                s += g_row[k] * (x_row[k] - mu)
            total += s
        out[c] = total


def _normalize(x, mean, scale, beta, out):  # pragma: no cover - compiled
    N, C, L = x.shape
    for n in range(N):
        for c in range(C):
            mu, a, b = mean[c], scale[c], beta[c]
            x_row, o_row = x[n, c], out[n, c]
            for k in range(L):
                o_row[k] = (x_row[k] - mu) * a + b


def _input_grad(g, x, mean, k_, a_, b_, dx):  # pragma: no cover - compiled
    N, C, L = x.shape
    for n in range(N):
        for c in range(C):
            mu, k, a, b = mean[c], k_[c], a_[c], b_[c]
            g_row, x_row, d_row = g[n, c], x[n, c], dx[n, c]
            for j in range(L):
                d_row[j] = k * g_row[j] - a * (x_row[j] - mu) - b


# The same for (N, C) inputs: channels along the contiguous axis, so the loops run over them.
def _centered_squares2(x, mean, out):  # pragma: no cover - compiled
    N, C = x.shape
    for c in range(C):
        out[c] = 0.0
    for n in range(N):
        row = x[n]
        for c in range(C):
            d = row[c] - mean[c]
            out[c] += d * d


def _centered_dot2(g, x, mean, out):  # pragma: no cover - compiled
    N, C = x.shape
    for c in range(C):
        out[c] = 0.0
    for n in range(N):
        g_row, x_row = g[n], x[n]
        for c in range(C):
            out[c] += g_row[c] * (x_row[c] - mean[c])


def _normalize2(x, mean, scale, beta, out):  # pragma: no cover - compiled
    N, C = x.shape
    for n in range(N):
        x_row, o_row = x[n], out[n]
        for c in range(C):
            o_row[c] = (x_row[c] - mean[c]) * scale[c] + beta[c]


def _input_grad2(g, x, mean, k, a, b, dx):  # pragma: no cover - compiled
    N, C = x.shape
    for n in range(N):
        g_row, x_row, d_row = g[n], x[n], dx[n]
        for c in range(C):
            d_row[c] = k[c] * g_row[c] - a[c] * (x_row[c] - mean[c]) - b[c]


def _view(x):
    """The array view the kernels take, and the kernels: (N, C) as is, else (N, C, L)."""
    if x.ndim == 2:
        return x, (_centered_squares2, _centered_dot2, _normalize2, _input_grad2)
    return x.reshape(x.shape[0], x.shape[1], -1), (_centered_squares, _centered_dot, _normalize, _input_grad)


def _sum(x3):
    return x3.sum(axis=0) if x3.ndim == 2 else x3.sum(axis=2).sum(axis=0)


def _applies(x, gamma, beta, running_mean, running_var, *, train, momentum=0.9, eps=1e-5):
    # (N, C), or rows of 16 values or more (short rows would cost a loop setup each)
    return (train and getattr(x, "ndim", 0) >= 2 and x.size > 0
            and (x.ndim == 2 or x.size // (x.shape[0] * x.shape[1]) >= 16) and _numba.usable(x, gamma, beta))


def _forward(x, gamma, beta, running_mean, running_var, *, train, momentum=0.9, eps=1e-5):
    x3, (squares, _, normalize, _) = _view(x)
    m = x.size // x.shape[1]
    mean = (_sum(x3) / m).astype(x.dtype)
    sq = np.empty(x.shape[1])
    _numba.compiled(squares, reassociate=x3.ndim == 3)(x3, mean, sq)
    var = (sq / m).astype(x.dtype)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    out = np.empty_like(x)
    _numba.compiled(normalize)(x3, mean, (gamma * inv_std).astype(x.dtype), beta.astype(x.dtype),
                               out.reshape(x3.shape))
    new_mean, new_var = B.running_statistics(running_mean, running_var, mean, var, m, momentum)
    return out, KeptInputCache(x, mean, inv_std, gamma, new_mean, new_var)


def _backward(dout, cache):
    """dx = k dout - (k dgamma / m) xhat - k dbeta / m, k = gamma inv_std, xhat = (x - mean) inv_std."""
    x, mean, inv_std, gamma = cache.x, cache.mean, cache.inv_std, cache.gamma
    if not _numba.usable(dout, x):  # e.g. a non-contiguous upstream gradient: the reference's formula
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        return B.batchnorm_backward(dout, B.BatchNormCache(xhat, inv_std, gamma, True, None, None))
    x3, (_, dot_kernel, _, input_grad) = _view(x)
    g3 = dout.reshape(x3.shape)
    m = x.size // x.shape[1]
    dbeta = _sum(g3)
    dot = np.empty(x.shape[1])
    _numba.compiled(dot_kernel, reassociate=x3.ndim == 3)(g3, x3, mean, dot)
    dgamma = (dot * inv_std).astype(x.dtype)
    k = gamma * inv_std
    dx = np.empty_like(dout)
    _numba.compiled(input_grad)(g3, x3, mean, k, (k * dgamma * inv_std / m).astype(x.dtype),
                                (k * dbeta / m).astype(x.dtype), dx.reshape(x3.shape))
    return dx, dgamma, dbeta


register(Kernel("batchnorm", "numba", _applies, _forward, _backward,
                {"float32": (1e-4, 1e-5), "float64": (1e-10, 1e-12)}))
