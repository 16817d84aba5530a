"""Batch normalization over the feature axis 1 of (N, C) or (N, C, L...) inputs.

Train: normalize with the batch mean and (biased) variance, and return updated running
statistics ``running = momentum * running + (1 - momentum) * batch_stat`` where the running
variance uses the unbiased batch variance. Eval: normalize with the running statistics.
out = gamma * xhat + beta. The inputs are never modified. With Numba, training mode keeps the
input instead of a normalized copy and runs compiled passes (``glassnet._jit``).
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..kernels import _numba as _jit
from ..backend import get_array_module


class BatchNormCache(NamedTuple):
    xhat: object  # None when the compiled path kept the input instead (x, mean)
    inv_std: object  # (C,)
    gamma: object
    train: bool
    running_mean: object  # running statistics after this call (unchanged in eval)
    running_var: object
    x: object = None
    mean: object = None

    @property
    def shape(self):
        """The input's (and output's) shape."""
        return (self.x if self.xhat is None else self.xhat).shape


def _bshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _channel_sum(a):
    """Sum over every axis but the channel axis 1: (N, C, ...) -> (C,). The contiguous trailing
    axes are summed first (NumPy's pairwise summation, faster and more accurate than one
    reduction over the scattered axes (0, 2, 3))."""
    if a.ndim == 2:
        return a.sum(axis=0)
    return a.reshape(a.shape[0], a.shape[1], math.prod(a.shape[2:])).sum(axis=2).sum(axis=0)


def _channel_dot(a, b):
    """sum over every axis but 1 of a * b, without the product array: (C,)."""
    xp = get_array_module(a, b)
    if a.ndim == 2:
        return xp.einsum("nc,nc->c", a, b)
    shape = (a.shape[0], a.shape[1], math.prod(a.shape[2:]))
    return xp.einsum("ncp,ncp->c", a.reshape(shape), b.reshape(shape))


def _compiled_shape(x) -> bool:
    """(N, C), or trailing axes of 16 values or more: the compiled loops' good cases (short rows
    would cost a loop setup each)."""
    return x.ndim == 2 or x.size // (x.shape[0] * x.shape[1]) >= 16


def _running(running_mean, running_var, mean, var, m, momentum):
    """The running statistics after a training batch of m values per channel (the running
    variance takes the unbiased batch variance)."""
    unbiased = var * (m / (m - 1)) if m > 1 else var
    return momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * unbiased


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, train, momentum=0.9, eps=1e-5):
    """Returns (out, cache); the new running statistics are ``cache.running_mean/var``."""
    xp = get_array_module(x, gamma, beta)
    shape = _bshape(x)
    m = x.size // x.shape[1] if train else None  # values per channel
    if train and x.size and _compiled_shape(x) and _jit.usable(x, gamma, beta):  # Numba: two passes over x
        out, mean, var, inv_std = _jit.batchnorm_train_forward(x, gamma, beta, eps)
        new_mean, new_var = _running(running_mean, running_var, mean, var, m, momentum)
        return out, BatchNormCache(None, inv_std, gamma, True, new_mean, new_var, x, mean)
    if train:
        mean = _channel_sum(x) / m
        xhat = x - mean.reshape(shape)  # centred; normalized in place below
        var = _channel_dot(xhat, xhat) / m
        new_mean, new_var = _running(running_mean, running_var, mean, var, m, momentum)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var
        xhat = x - mean.reshape(shape)
    inv_std = 1.0 / xp.sqrt(var + eps)
    xhat *= inv_std.reshape(shape)
    out = xhat * gamma.reshape(shape)
    out += beta.reshape(shape)
    return out, BatchNormCache(xhat, inv_std, gamma, train, new_mean, new_var)


def batchnorm_backward(dout, cache):
    """Returns (dx, dgamma, dbeta)."""
    xhat, inv_std, gamma, train = cache.xhat, cache.inv_std, cache.gamma, cache.train
    shape = _bshape(dout)
    if xhat is None:  # the compiled forward kept its input
        if _jit.usable(dout, cache.x):
            return _jit.batchnorm_train_backward(dout, cache.x, cache.mean, inv_std, gamma)
        xhat = (cache.x - cache.mean.reshape(shape)) * inv_std.reshape(shape)
    dbeta = _channel_sum(dout)
    dgamma = _channel_dot(dout, xhat)
    k = gamma * inv_std
    if not train:
        return dout * k.reshape(shape), dgamma, dbeta
    m = dout.size // dout.shape[1]
    # dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = gamma * dout, where
    # sum(dxhat) = gamma * dbeta and sum(dxhat * xhat) = gamma * dgamma come for free; inv_std is folded
    # into the per-channel factors: dx = k * dout - (k * dgamma / m) * xhat - k * dbeta / m
    dx = xhat * (k * dgamma / m).reshape(shape)
    dx += (k * dbeta / m).reshape(shape)
    xp = get_array_module(dout)
    return xp.subtract(dout * k.reshape(shape), dx, out=dx), dgamma, dbeta
