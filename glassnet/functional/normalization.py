"""Layer, group and local response normalization (batch normalization is in ``batchnorm``).

Layer norm (over the last axes of each example) and group norm (over each example's channel
groups) standardize a set of values with its own mean and variance, then scale and shift:

    xhat = (x - mean) / sqrt(var + eps);   out = gamma * xhat + beta
    dxhat = dout * gamma
    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps)

(means over the normalized set; the same backward as batch norm's, over other axes).

Local response normalization (AlexNet's) divides each channel by the energy of its
neighbouring channels, as PyTorch defines it (zero channels outside the input):

    d_c = k + alpha / size * sum_{c' = c - size//2}^{c + (size-1)//2} x_{c'}^2
    out_c = x_c * d_c^(-beta)
    dx_j = dout_j * d_j^(-beta)
           - 2 * alpha * beta / size * x_j * sum_{c: j in window(c)} dout_c * out_c / d_c
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module


class NormCache(NamedTuple):
    xhat: object  # the standardized input, in the input's shape
    inv_std: object  # 1 / sqrt(var + eps), one per normalized set
    gamma: object  # None without an affine transform
    axes: tuple  # layer norm: the normalized axes of the input


def _standardize(x, axes, eps):
    """(xhat, inv_std) with mean 0 and variance 1 over ``axes`` (kept as size-1 axes)."""
    xp = get_array_module(x)
    mean = x.mean(axis=axes, keepdims=True)
    xhat = x - mean
    var = (xhat * xhat).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / xp.sqrt(var + eps)
    xhat *= inv_std
    return xhat, inv_std


def _standardize_backward(dxhat, xhat, inv_std, axes):
    """d(loss)/dx from d(loss)/d(xhat) when xhat standardizes x over ``axes``."""
    return inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                      - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))


def layer_norm_forward(x, gamma, beta, n_axes, eps=1e-5):
    """Normalize each example over its last ``n_axes`` axes; ``gamma`` and ``beta`` have the
    shape of those axes (or are None). Returns (out, cache)."""
    axes = tuple(range(x.ndim - n_axes, x.ndim))
    xhat, inv_std = _standardize(x, axes, eps)
    out = xhat if gamma is None else xhat * gamma + beta
    return out, NormCache(xhat, inv_std, gamma, axes)


def layer_norm_backward(dout, cache):
    """Returns (dx, dgamma, dbeta); the parameter gradients are None without an affine transform."""
    xhat, inv_std, gamma, axes = cache
    lead = tuple(range(xhat.ndim - len(axes)))
    if gamma is None:
        return _standardize_backward(dout, xhat, inv_std, axes), None, None
    dgamma = (dout * xhat).sum(axis=lead)
    dbeta = dout.sum(axis=lead)
    return _standardize_backward(dout * gamma, xhat, inv_std, axes), dgamma, dbeta


def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def group_norm_forward(x, gamma, beta, num_groups, eps=1e-5):
    """Normalize each example's channels in ``num_groups`` groups of consecutive channels
    (over the group's channels and every position); (N, C, ...) input, ``gamma``/``beta`` (C,)
    or None. Returns (out, cache)."""
    N = x.shape[0]
    grouped = x.reshape(N, num_groups, math.prod(x.shape[1:]) // num_groups)
    xhat, inv_std = _standardize(grouped, (2,), eps)
    xhat = xhat.reshape(x.shape)
    out = xhat if gamma is None else xhat * gamma.reshape(_channel_shape(x)) + beta.reshape(_channel_shape(x))
    return out, NormCache(xhat, inv_std, gamma, (2,))


def group_norm_backward(dout, cache):
    """Returns (dx, dgamma, dbeta) (None for the parameters without an affine transform)."""
    xhat, inv_std, gamma, _ = cache
    N, G = inv_std.shape[:2]
    dgamma = dbeta = None
    dxhat = dout
    if gamma is not None:
        others = (0,) + tuple(range(2, dout.ndim))
        dgamma = (dout * xhat).sum(axis=others)
        dbeta = dout.sum(axis=others)
        dxhat = dout * gamma.reshape(_channel_shape(dout))
    per_group = math.prod(dout.shape[1:]) // G
    dx = _standardize_backward(dxhat.reshape(N, G, per_group), xhat.reshape(N, G, per_group), inv_std, (2,))
    return dx.reshape(dout.shape), dgamma, dbeta


class LRNCache(NamedTuple):
    x: object
    out: object
    d: object  # k + alpha / size * (window sum of x^2)
    size: int
    alpha: float
    beta: float


def _window_sum(a, before, after):
    """s[:, c] = sum of a[:, c - before .. c + after] over the channel axis 1 (zeros outside)."""
    xp = get_array_module(a)
    C = a.shape[1]
    pad = [(0, 0)] * a.ndim
    pad[1] = (before, after)
    padded = xp.pad(a, pad)
    s = padded[:, 0:C].copy()
    for i in range(1, before + after + 1):
        s += padded[:, i:i + C]
    return s


def local_response_norm_forward(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """AlexNet's normalization across ``size`` neighbouring channels of (N, C, ...) input.
    Returns (out, cache)."""
    d = _window_sum(x * x, size // 2, (size - 1) // 2)
    d *= alpha / size
    d += k
    out = x * d ** -beta
    return out, LRNCache(x, out, d, size, alpha, beta)


def local_response_norm_backward(dout, cache):
    """Returns dx."""
    x, out, d, size, alpha, beta = cache
    # channel j enters the windows of the channels c with c - size//2 <= j <= c + (size-1)//2
    back = _window_sum(dout * out / d, (size - 1) // 2, size // 2)
    return dout * d ** -beta - (2 * alpha * beta / size) * x * back


__all__ = ["NormCache", "LRNCache", "layer_norm_forward", "layer_norm_backward", "group_norm_forward",
           "group_norm_backward", "local_response_norm_forward", "local_response_norm_backward"]
