"""Max and average pooling over (N, C, H, W) (1-D pooling is the 2-D one with H = 1).

Windows of ``kernel`` taken every ``stride`` (default: the kernel, i.e. non-overlapping).
Both directions run one vectorized pass per kernel offset over a strided view of the input
(kh*kw passes, no copy of the windows, no loop over pixels or samples); backward writes
directly when windows are disjoint and adds when they overlap. Max pooling sends the gradient
to the first maximum of each window (as PyTorch does). Faster paths (2x2 halving passes, a
compiled window loop) are in ``glassnet.kernels.pooling``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module
from ..errors import ShapeError
from .conv import out_size


class PoolCache(NamedTuple):
    x_shape: tuple
    kernel: tuple
    stride: tuple
    out_hw: tuple
    arg: object  # max pooling: offset (0..kh*kw-1) of each window's maximum, (N, C, Ho, Wo); None for avg
    overlap: bool  # windows overlap, so their gradients must be summed


def _geometry(x, kernel, stride, who):
    if x.ndim != 4:
        raise ShapeError(f"{who}: expected input of shape (N, C, H, W), got {tuple(x.shape)}")
    kh, kw = kernel
    sh, sw = stride
    Ho = out_size(x.shape[2], kh, sh, 0, 1, who, "H")
    Wo = out_size(x.shape[3], kw, sw, 0, 1, who, "W")
    return Ho, Wo, (kh > sh or kw > sw)


def _offsets(kernel, stride, out_hw):
    """For each kernel offset (i, j): the strided slice of the input it reads for every window."""
    (kh, kw), (sh, sw), (Ho, Wo) = kernel, stride, out_hw
    for i in range(kh):
        for j in range(kw):
            yield (slice(None), slice(None), slice(i, i + sh * (Ho - 1) + 1, sh), slice(j, j + sw * (Wo - 1) + 1, sw))


def max_pool2d_forward(x, kernel, stride=None, who="max_pool2d"):
    """out (N, C, Ho, Wo): the maximum of each window; ``who`` names the caller in errors.
    Returns (out, cache).

    One pass per kernel offset over a strided view (no copy of the windows): a running
    maximum and the offset where it was first reached."""
    xp = get_array_module(x)
    stride = kernel if stride is None else stride
    Ho, Wo, overlap = _geometry(x, kernel, stride, who)
    arg_dtype = xp.uint8 if kernel[0] * kernel[1] < 256 else xp.int32
    views = _offsets(kernel, stride, (Ho, Wo))
    out = x[next(views)].copy()
    arg = xp.zeros(out.shape, dtype=arg_dtype)
    for k, sl in enumerate(views, start=1):
        v = x[sl]
        better = v > out  # strict: ties keep the first maximum, as PyTorch does
        xp.putmask(arg, better, k)
        xp.maximum(out, v, out=out)
    return out, PoolCache(tuple(x.shape), tuple(kernel), tuple(stride), (Ho, Wo), arg, overlap)


def max_pool2d_backward(dout, cache):
    """dx (N, C, H, W): each window's gradient goes to its (first) maximum."""
    xp = get_array_module(dout)
    dx = xp.zeros(cache.x_shape, dtype=dout.dtype)
    for k, sl in enumerate(_offsets(cache.kernel, cache.stride, cache.out_hw)):
        hit = cache.arg == k
        if cache.overlap:
            dx[sl] += dout * hit
        else:  # disjoint windows: every input position is written at most once
            xp.multiply(dout, hit, out=dx[sl])
    return dx


def avg_pool2d_forward(x, kernel, stride=None, who="avg_pool2d"):
    """out (N, C, Ho, Wo): the mean of each window. Returns (out, cache)."""
    stride = kernel if stride is None else stride
    Ho, Wo, overlap = _geometry(x, kernel, stride, who)
    views = _offsets(kernel, stride, (Ho, Wo))
    out = x[next(views)].copy()
    for sl in views:
        out += x[sl]
    out *= 1.0 / (kernel[0] * kernel[1])
    return out, PoolCache(tuple(x.shape), tuple(kernel), tuple(stride), (Ho, Wo), None, overlap)


def avg_pool2d_backward(dout, cache):
    """dx (N, C, H, W): each window's gradient spread evenly over it."""
    xp = get_array_module(dout)
    kh, kw = cache.kernel
    share = dout * (1.0 / (kh * kw))
    dx = xp.zeros(cache.x_shape, dtype=dout.dtype)
    for sl in _offsets(cache.kernel, cache.stride, cache.out_hw):
        if cache.overlap:
            dx[sl] += share
        else:
            dx[sl] = share
    return dx


def global_avg_pool_forward(x):
    """(N, C, *spatial) -> (N, C): the mean over all spatial positions. Returns (out, shape)."""
    if x.ndim < 3:
        raise ShapeError(f"global_avg_pool: expected input of shape (N, C, ...spatial), got {tuple(x.shape)}")
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:])).mean(axis=2), tuple(x.shape)


def global_avg_pool_backward(dout, x_shape):
    xp = get_array_module(dout)
    count = 1
    for s in x_shape[2:]:
        count *= s
    g = (dout / count).reshape(dout.shape + (1,) * (len(x_shape) - 2))
    return xp.ascontiguousarray(xp.broadcast_to(g, x_shape))


__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
           "global_avg_pool_forward", "global_avg_pool_backward", "PoolCache"]
