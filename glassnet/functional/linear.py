"""Affine (fully connected) layer and flatten, as forward/backward pairs.

Shapes: x (N, d_1, ..., d_k) is read as (N, D) with D = d_1*...*d_k; W (D, M); b (M,).
"""
from __future__ import annotations

import math



def linear_forward(x, W, b=None):
    """out = x.reshape(N, D) @ W + b. Returns (out (N, M), cache)."""
    out = x.reshape(x.shape[0], W.shape[0]) @ W
    if b is not None:
        out += b
    return out, (x, W, b is not None)


def linear_backward(dout, cache, need_dW=True, need_dx=True):
    """dx = dout @ W^T (shaped like x), dW = x^T @ dout, db = sum of dout over the batch.
    Returns (dx or None, dW (D, M) or None, db (M,) or None)."""
    x, W, has_bias = cache
    dx = (dout @ W.T).reshape(x.shape) if need_dx else None
    dW = x.reshape(x.shape[0], W.shape[0]).T @ dout if need_dW else None
    db = dout.sum(axis=0) if (has_bias and need_dW) else None
    return dx, dW, db


def flatten_forward(x):
    """(N, d_1, ..., d_k) -> (N, d_1*...*d_k)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:])), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)
