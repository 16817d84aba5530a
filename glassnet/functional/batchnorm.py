"""Batch normalization over the feature axis 1 of (N, C) or (N, C, L...) inputs.

Train: normalize with the batch mean and (biased) variance, and return updated running
statistics ``running = momentum * running + (1 - momentum) * batch_stat`` where the running
variance uses the unbiased batch variance. Eval: normalize with the running statistics.
out = gamma * xhat + beta. The inputs are never modified.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module


class BatchNormCache(NamedTuple):
    xhat: object
    inv_std: object  # (C,)
    gamma: object
    train: bool
    running_mean: object  # running statistics after this call (unchanged in eval)
    running_var: object


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _bshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, train, momentum=0.9, eps=1e-5):
    """Returns (out, cache); the new running statistics are ``cache.running_mean/var``."""
    xp = get_array_module(x, gamma, beta)
    axes, shape = _axes(x), _bshape(x)
    if train:
        m = x.size // x.shape[1]
        mean = x.mean(axis=axes)
        xhat = x - mean.reshape(shape)  # centred; normalized in place below
        var = (xhat * xhat).mean(axis=axes)
        unbiased = var * (m / (m - 1)) if m > 1 else var
        new_mean = momentum * running_mean + (1 - momentum) * mean
        new_var = momentum * running_var + (1 - momentum) * unbiased
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
    axes, shape = _axes(dout), _bshape(dout)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    dx = dout * gamma.reshape(shape)  # d(loss)/d(xhat), turned into dx in place
    if not train:
        dx *= inv_std.reshape(shape)
        return dx, dgamma, dbeta
    m = dout.size // dout.shape[1]
    # dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), where
    # sum(dxhat) = gamma * dbeta and sum(dxhat * xhat) = gamma * dgamma come for free
    dx -= xhat * (gamma * dgamma / m).reshape(shape)
    dx -= (gamma * dbeta / m).reshape(shape)
    dx *= inv_std.reshape(shape)
    return dx, dgamma, dbeta
