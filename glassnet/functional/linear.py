"""Affine (fully connected) layer and flatten, as forward/backward pairs.

Shapes: x (N, d_1, ..., d_k) is read as (N, D) with D = d_1*...*d_k; W (D, M); b (M,).
"""
from __future__ import annotations

import math

from ..backend import get_array_module


def linear_forward(x, W, b=None):
    """out = x.reshape(N, D) @ W + b. Returns (out (N, M), cache)."""
    out = x.reshape(x.shape[0], W.shape[0]) @ W
    if b is not None:
        out += b
    return out, (x, W, b is not None)


def linear_backward(dout, cache, need_dW=True, need_dx=True, dW_out=None, db_out=None):
    """Returns (dx shaped like x or None, dW (D, M) or None, db (M,) or None). ``dW_out`` /
    ``db_out``: arrays to write dW / db into (then returned) instead of new ones."""
    x, W, has_bias = cache
    xp = get_array_module(dout)
    dx = (dout @ W.T).reshape(x.shape) if need_dx else None
    dW = xp.matmul(x.reshape(x.shape[0], W.shape[0]).T, dout, out=dW_out) if need_dW else None
    db = dout.sum(axis=0, out=db_out) if (has_bias and need_dW) else None
    return dx, dW, db


def flatten_forward(x):
    """(N, d_1, ..., d_k) -> (N, d_1*...*d_k)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:])), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)
