"""Elementwise activations, maxout and softmax, as forward/backward pairs.

Every ``*_forward(x)`` returns ``(out, cache)``; every ``*_backward(dout, cache)`` returns
``dx`` (plus parameter gradients for maxout). The array module comes from the inputs.
"""
from __future__ import annotations

from ..backend import get_array_module

# ReLU: f(x) = max(0, x); subgradient at 0 is 0 (the notes' convention, x > 0).
def relu_forward(x):
    xp = get_array_module(x)
    return xp.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def _leaky_slope(x, alpha):
    # 1 where x > 0, alpha elsewhere
    slope = (x > 0).astype(x.dtype)
    slope *= 1 - alpha
    slope += alpha
    return slope


# Leaky ReLU: f(x) = x if x > 0 else alpha * x.
def leaky_relu_forward(x, alpha=0.01):
    return x * _leaky_slope(x, alpha), (x, alpha)


def leaky_relu_backward(dout, cache):
    x, alpha = cache
    return dout * _leaky_slope(x, alpha).astype(dout.dtype, copy=False)


def sigmoid(x):
    """Numerically stable logistic function: never exponentiates a positive number.

    With e = exp(-|x|): s = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, written as
    max(e, [x >= 0]) / (1 + e), which is exact in both branches.
    """
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    num = xp.maximum(e, (x >= 0).astype(e.dtype))
    e += 1
    num /= e
    return num.astype(x.dtype, copy=False)


# Sigmoid: s = 1 / (1 + exp(-x)); ds/dx = s (1 - s).
def sigmoid_forward(x):
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)


# Tanh: dt/dx = 1 - t^2.
def tanh_forward(x):
    xp = get_array_module(x)
    out = xp.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1 - cache * cache)


# Maxout: y_j = max_k (x @ W + b)[j*pieces + k]; W (D, M*pieces), b (M*pieces,).
def maxout_forward(x, W, b, pieces):
    xp = get_array_module(x, W, b)
    x2 = x.reshape(x.shape[0], W.shape[0])
    z = (x2 @ W + b).reshape(x.shape[0], W.shape[1] // pieces, pieces)
    idx = z.argmax(axis=2)
    out = xp.take_along_axis(z, idx[..., None], axis=2)[..., 0]
    return out, (x, W, idx, pieces)


def maxout_backward(dout, cache):
    """Returns (dx, dW, db); the gradient flows only through the winning piece."""
    x, W, idx, pieces = cache
    xp = get_array_module(dout)
    winner = xp.arange(pieces) == idx[..., None]  # (N, M, pieces) one-hot
    dz = (winner * dout[..., None]).reshape(dout.shape[0], W.shape[1]).astype(dout.dtype, copy=False)
    x2 = x.reshape(x.shape[0], W.shape[0])
    return (dz @ W.T).reshape(x.shape), x2.T @ dz, dz.sum(axis=0)


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed stably (shift by the max, then log-sum-exp)."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """Stable softmax: exp(x - max) / sum(exp(x - max))."""
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_forward(x, axis=-1):
    out = softmax(x, axis)
    return out, (out, axis)


def softmax_backward(dout, cache):
    # dx_i = y_i (dout_i - sum_j dout_j y_j)
    y, axis = cache
    return y * (dout - (dout * y).sum(axis=axis, keepdims=True))
