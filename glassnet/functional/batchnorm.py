"""Batch normalization over the feature axis 1 of (N, C) or (N, C, L...) inputs.

Train: normalize with the batch mean and (biased) variance, and return updated running
statistics ``running = momentum * running + (1 - momentum) * batch_stat`` where the running
variance uses the unbiased batch variance. Eval: normalize with the running statistics.

    xhat = (x - mean) / sqrt(var + eps);   out = gamma * xhat + beta
    dbeta = sum(dout);   dgamma = sum(dout * xhat)          (sums over every axis but 1)
    train: dx = gamma / sqrt(var + eps) * (dout - mean(dout) - xhat * mean(dout * xhat))
    eval:  dx = gamma / sqrt(var + eps) * dout

The inputs are never modified. A faster training-mode path is in ``glassnet.kernels.batchnorm``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module


class BatchNormCache(NamedTuple):
    xhat: object  # the normalized input
    inv_std: object  # (C,) 1 / sqrt(var + eps)
    gamma: object
    train: bool
    running_mean: object  # running statistics after this call (unchanged in eval)
    running_var: object


def _bshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _channel_sum(a):
    """Sum over every axis but the channel axis 1: (N, C, ...) -> (C,). The contiguous trailing
    axes are summed first (NumPy's pairwise summation: more accurate than one reduction over
    the scattered axes (0, 2, 3))."""
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


def running_statistics(running_mean, running_var, mean, var, m, momentum):
    """The running statistics after a training batch of m values per channel (the running
    variance takes the unbiased batch variance)."""
    unbiased = var * (m / (m - 1)) if m > 1 else var
    return momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * unbiased


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, train, momentum=0.9, eps=1e-5):
    """Returns (out, cache); the new running statistics are ``cache.running_mean/var``."""
    xp = get_array_module(x, gamma, beta)
    shape = _bshape(x)
    if train:
        m = x.size // x.shape[1]  # values per channel
        mean = _channel_sum(x) / m
        xhat = x - mean.reshape(shape)  # centred here, normalized in place below
        var = _channel_dot(xhat, xhat) / m
        new_mean, new_var = running_statistics(running_mean, running_var, mean, var, m, momentum)
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
    xhat, inv_std, gamma = cache.xhat, cache.inv_std, cache.gamma
    shape = _bshape(dout)
    dbeta = _channel_sum(dout)
    dgamma = _channel_dot(dout, xhat)
    k = (gamma * inv_std).reshape(shape)
    if not cache.train:  # the statistics are constants
        return k * dout, dgamma, dbeta
    return _train_input_grad(dout, xhat, k, dbeta, dgamma, dout.size // dout.shape[1]), dgamma, dbeta


def _train_input_grad(dout, xhat, k, dbeta, dgamma, m):
    """The input gradient in train mode, from the per-channel sums over the batch of m values per
    channel: mean(dout) = dbeta / m and mean(dout * xhat) = dgamma / m, so
    dx = k * dout - (k * dgamma / m) * xhat - k * dbeta / m."""
    xp = get_array_module(dout)
    shape = _bshape(dout)
    dx = xhat * (k * (dgamma / m).reshape(shape))
    dx += k * (dbeta / m).reshape(shape)
    return xp.subtract(k * dout, dx, out=dx)


# ------------------------------------------------------------------------ synchronized (data parallel)
class SyncBatchNormCache(NamedTuple):
    xhat: object
    inv_std: object
    gamma: object
    train: bool
    running_mean: object
    running_var: object
    count: float  # values per channel in the whole batch, over every rank


def sync_batchnorm_forward(x, gamma, beta, running_mean, running_var, allreduce, *, train, momentum=0.9, eps=1e-5):
    """Batch normalization whose batch is every rank's batch together (data-parallel training):
    the per-channel sums behind the mean and the variance are summed across ranks by
    ``allreduce`` (an in-place sum of a float64 array over the ranks), so each rank normalizes
    with the statistics one process would compute on the whole batch. Two passes (the mean, then
    the squares about it), as ``batchnorm_forward``. Eval mode is ``batchnorm_forward``'s."""
    xp = get_array_module(x, gamma, beta)
    if not train:
        out, c = batchnorm_forward(x, gamma, beta, running_mean, running_var, train=False, eps=eps)
        return out, SyncBatchNormCache(*c, count=float(x.size // x.shape[1]))
    shape = _bshape(x)
    sums = xp.concatenate([_channel_sum(x).astype(xp.float64), xp.asarray([x.size // x.shape[1]], xp.float64)])
    allreduce(sums)
    m = float(sums[-1])
    mean = (sums[:-1] / m).astype(x.dtype)
    xhat = x - mean.reshape(shape)
    squares = _channel_dot(xhat, xhat).astype(xp.float64)
    allreduce(squares)
    var = (squares / m).astype(x.dtype)
    new_mean, new_var = running_statistics(running_mean, running_var, mean, var, m, momentum)
    inv_std = 1.0 / xp.sqrt(var + eps)
    xhat *= inv_std.reshape(shape)
    out = xhat * gamma.reshape(shape)
    out += beta.reshape(shape)
    return out, SyncBatchNormCache(xhat, inv_std, gamma, True, new_mean, new_var, m)


def sync_batchnorm_backward(dout, cache, allreduce):
    """Returns (dx, dgamma, dbeta). ``dout`` is this rank's part of the gradient of the whole
    batch's loss; the two per-channel sums of the input gradient are summed across ranks; dgamma
    and dbeta are this rank's sums (the gradient reduction adds the ranks' parts)."""
    if not cache.train:
        return batchnorm_backward(dout, cache)
    xp = get_array_module(dout)
    dbeta = _channel_sum(dout)
    dgamma = _channel_dot(dout, cache.xhat)
    both = xp.concatenate([dbeta, dgamma]).astype(xp.float64)
    allreduce(both)
    C = dbeta.shape[0]
    k = (cache.gamma * cache.inv_std).reshape(_bshape(dout))
    # the batch-norm formula with the sums over the whole batch, every rank's part
    dx = _train_input_grad(dout, cache.xhat, k, both[:C].astype(dout.dtype), both[C:].astype(dout.dtype),
                           cache.count)
    return dx, dgamma, dbeta
