"""Max and average pooling over (N, C, H, W) (1-D pooling is the 2-D one with H = 1).

Windows of ``kernel`` taken every ``stride`` (default: the kernel, i.e. non-overlapping).
Both directions run one vectorized pass per kernel offset over a strided view of the input
(kh*kw passes, no copy of the windows, no loop over pixels or samples); backward writes
directly when windows are disjoint and adds when they overlap. With Numba (``glassnet._jit``)
a compiled loop does the same arithmetic in the same order, window by window (bit-identical;
3x3/2 max pooling 2-3x faster); 2x2/2 pooling keeps its two halving passes. Max pooling sends
the gradient to the first maximum of each window (as PyTorch does).
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..kernels import _numba as _jit
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
    # 2x2 fast path: max pooling (odd column won, flat (N*C*H*Wo,); lower row won, (N*C*Ho, Wo)); avg: True
    halves: object = None


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
    if _is_2x2(x, kernel, stride):
        return _max_pool_2x2(xp, x)
    arg_dtype = xp.uint8 if kernel[0] * kernel[1] < 256 else xp.int32
    if _jit.usable(x):  # Numba: one pass over each window instead of kh*kw passes over strided views
        out, arg = _jit.max_pool(x, tuple(kernel), tuple(stride), (Ho, Wo), arg_dtype)
        return out, PoolCache(tuple(x.shape), tuple(kernel), tuple(stride), (Ho, Wo), arg, overlap)
    views = _offsets(kernel, stride, (Ho, Wo))
    out = x[next(views)].copy()
    arg = xp.zeros(out.shape, dtype=arg_dtype)
    for k, sl in enumerate(views, start=1):
        v = x[sl]
        better = v > out  # strict: ties keep the first maximum, as PyTorch does
        xp.putmask(arg, better, k)
        xp.maximum(out, v, out=out)
    return out, PoolCache(tuple(x.shape), tuple(kernel), tuple(stride), (Ho, Wo), arg, overlap)


def _max_pool_2x2(xp, x):
    """The common 2x2/2 case in two halving passes, each over long (1-D strided or contiguous)
    runs instead of NumPy's slow short strided rows: first the maximum of every horizontal
    pair (even/odd elements of the flat input), then of every vertical pair of those. Ties go
    to the left column, then the upper row: the first maximum in row-major order, as in the
    general path (the first row holding the window's maximum, at its first column)."""
    N, C, H, W = x.shape
    flat = x.reshape(-1)
    left, right = flat[0::2], flat[1::2]
    right_won = right > left
    pairs = xp.maximum(left, right).reshape(N * C * (H // 2), 2, W // 2)
    upper, lower = pairs[:, 0], pairs[:, 1]
    lower_won = lower > upper
    out = xp.maximum(upper, lower).reshape(N, C, H // 2, W // 2)
    return out, PoolCache(tuple(x.shape), (2, 2), (2, 2), (H // 2, W // 2), None, False, (right_won, lower_won))


def _max_pool_2x2_backward(xp, dout, cache):
    """Inverse of the two halving passes: the gradient goes to the winning row, then column (the
    losing row's column choice multiplies a zero gradient)."""
    right_won, lower_won = cache.halves
    N, C, H, W = cache.x_shape
    d = dout.reshape(N * C * (H // 2), W // 2)
    rows = xp.empty((N * C * (H // 2), 2, W // 2), dtype=dout.dtype)
    xp.multiply(d, lower_won, out=rows[:, 1])
    xp.subtract(d, rows[:, 1], out=rows[:, 0])
    rows = rows.reshape(-1)
    dx = xp.empty(N * C * H * W, dtype=dout.dtype)
    xp.multiply(rows, right_won, out=dx[1::2])
    xp.subtract(rows, dx[1::2], out=dx[0::2])
    return dx.reshape(cache.x_shape)


def max_pool2d_backward(dout, cache):
    """dx (N, C, H, W): each window's gradient goes to its (first) maximum."""
    xp = get_array_module(dout)
    if cache.halves is not None:
        return _max_pool_2x2_backward(xp, dout, cache)
    if _jit.usable(dout) and type(cache.arg) is type(dout) and cache.arg.flags.c_contiguous:
        return _jit.max_pool_backward(dout, cache.arg, cache.kernel, cache.stride, cache.x_shape)
    dx = xp.zeros(cache.x_shape, dtype=dout.dtype)
    for k, sl in enumerate(_offsets(cache.kernel, cache.stride, cache.out_hw)):
        hit = cache.arg == k
        if cache.overlap:
            dx[sl] += dout * hit
        else:  # disjoint windows: every input position is written at most once
            xp.multiply(dout, hit, out=dx[sl])
    return dx


def _is_2x2(x, kernel, stride):
    """The common non-overlapping 2x2 case over even, contiguous inputs (the halving fast paths)."""
    return (tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and x.shape[2] % 2 == 0
            and x.shape[3] % 2 == 0 and x.flags.c_contiguous)


def avg_pool2d_forward(x, kernel, stride=None, who="avg_pool2d"):
    """out (N, C, Ho, Wo): the mean of each window. Returns (out, cache)."""
    stride = kernel if stride is None else stride
    Ho, Wo, overlap = _geometry(x, kernel, stride, who)
    if _is_2x2(x, kernel, stride):  # sums of horizontal pairs of the flat input, then of vertical pairs
        xp = get_array_module(x)
        N, C, H, W = x.shape
        flat = x.reshape(-1)
        pairs = xp.add(flat[0::2], flat[1::2]).reshape(N * C * Ho, 2, Wo)
        out = xp.add(pairs[:, 0], pairs[:, 1])
        out *= 0.25
        return out.reshape(N, C, Ho, Wo), PoolCache(tuple(x.shape), (2, 2), (2, 2), (Ho, Wo), None, False, True)
    if _jit.usable(x):
        out = _jit.avg_pool(x, tuple(kernel), tuple(stride), (Ho, Wo))
        return out, PoolCache(tuple(x.shape), tuple(kernel), tuple(stride), (Ho, Wo), None, overlap)
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
    if cache.halves:  # the 2x2 fast path: each quarter of the gradient to both rows, then both columns
        N, C, H, W = cache.x_shape
        q = dout.reshape(N * C * (H // 2), 1, W // 2) * 0.25
        rows = xp.empty((N * C * (H // 2), 2, W // 2), dtype=dout.dtype)
        rows[...] = q
        rows = rows.reshape(-1)
        dx = xp.empty(N * C * H * W, dtype=dout.dtype)
        dx[0::2] = rows
        dx[1::2] = rows
        return dx.reshape(cache.x_shape)
    if _jit.usable(dout):
        return _jit.avg_pool_backward(dout, cache.kernel, cache.stride, cache.x_shape)
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
