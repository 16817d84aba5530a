"""Inverted dropout: ``p`` is the probability of *dropping* a unit.

Training: out = x * mask, mask = (u >= p) / (1 - p) with u ~ U[0, 1) drawn from the given
Generator, so E[out] = x and evaluation is the identity (no rescaling at test time).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module


def dropout_mask(shape, p, rng, dtype, xp=np):
    """The scaled keep-mask for inverted dropout, drawn from a numpy Generator."""
    if p >= 1.0:
        return xp.zeros(shape, dtype=dtype)
    draw_dtype = dtype if np.dtype(dtype) in (np.float32, np.float64) else np.float64
    u = rng.random(shape, dtype=draw_dtype)
    mask = ((u >= p) / (1.0 - p)).astype(dtype, copy=False)
    return xp.asarray(mask)


def dropout_forward(x, p, rng, train=True, mask=None):
    """Returns (out, cache). In eval mode (``train=False``) or with p == 0 this is the identity.

    ``mask`` may be given to reuse a fixed mask (gradient checks); otherwise it is drawn from ``rng``.
    """
    if not train or p == 0.0:
        return x, None
    xp = get_array_module(x)
    if mask is None:
        mask = dropout_mask(x.shape, p, rng, x.dtype, xp)
    return x * mask, mask


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache
