"""Max and average pooling, faster: the reference is ``functional.pool``.

- "2x2" (the common non-overlapping 2x2/2 case over even, contiguous inputs; NumPy or CuPy):
  two halving passes, each over long (1-D strided or contiguous) runs instead of NumPy's slow
  short strided rows: first every horizontal pair of the flat input, then every vertical pair
  of those. Ties go to the left column, then the upper row: the first maximum in row-major
  order, as in the reference.
- "numba" (contiguous NumPy float32/float64): one compiled pass over each window instead of
  kh*kw vectorized passes over strided views (3x3/2 max pooling 2-3x faster); the same
  arithmetic in the same order, so the same values (max pooling's backward writes +0.0 where
  the reference writes a non-hit -0.0: equal values).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module
from ..functional import pool as P
from . import Kernel, _numba, register

_EXACT = {"float32": (0.0, 0.0), "float64": (0.0, 0.0)}


class HalvesCache(NamedTuple):
    x_shape: tuple
    right_won: object  # max pooling: the odd column won, flat (N*C*H*Wo,); None for average pooling
    lower_won: object  # max pooling: the lower row won, (N*C*Ho, Wo)


def _is_2x2(x, kernel, stride=None, who=None):
    stride = kernel if stride is None else stride
    return (getattr(x, "ndim", 0) == 4 and tuple(kernel) == (2, 2) and tuple(stride) == (2, 2)
            and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0 and x.flags.c_contiguous)


def _max_2x2(x, kernel, stride=None, who="max_pool2d"):
    xp = get_array_module(x)
    N, C, H, W = x.shape
    flat = x.reshape(-1)
    left, right = flat[0::2], flat[1::2]
    right_won = right > left
    pairs = xp.maximum(left, right).reshape(N * C * (H // 2), 2, W // 2)
    upper, lower = pairs[:, 0], pairs[:, 1]
    lower_won = lower > upper
    out = xp.maximum(upper, lower).reshape(N, C, H // 2, W // 2)
    return out, HalvesCache(tuple(x.shape), right_won, lower_won)


def _max_2x2_backward(dout, cache):
    """The gradient goes to the winning row, then column (the losing row's choice multiplies a zero)."""
    xp = get_array_module(dout)
    N, C, H, W = cache.x_shape
    d = dout.reshape(N * C * (H // 2), W // 2)
    rows = xp.empty((N * C * (H // 2), 2, W // 2), dtype=dout.dtype)
    xp.multiply(d, cache.lower_won, out=rows[:, 1])
    xp.subtract(d, rows[:, 1], out=rows[:, 0])
    rows = rows.reshape(-1)
    dx = xp.empty(N * C * H * W, dtype=dout.dtype)
    xp.multiply(rows, cache.right_won, out=dx[1::2])
    xp.subtract(rows, dx[1::2], out=dx[0::2])
    return dx.reshape(cache.x_shape)


def _avg_2x2(x, kernel, stride=None, who="avg_pool2d"):
    xp = get_array_module(x)
    N, C, H, W = x.shape
    flat = x.reshape(-1)
    pairs = xp.add(flat[0::2], flat[1::2]).reshape(N * C * (H // 2), 2, W // 2)
    out = xp.add(pairs[:, 0], pairs[:, 1])
    out *= 0.25
    return out.reshape(N, C, H // 2, W // 2), HalvesCache(tuple(x.shape), None, None)


def _avg_2x2_backward(dout, cache):
    """Each quarter of the gradient to both rows, then both columns."""
    xp = get_array_module(dout)
    N, C, H, W = cache.x_shape
    q = dout.reshape(N * C * (H // 2), 1, W // 2) * 0.25
    rows = xp.empty((N * C * (H // 2), 2, W // 2), dtype=dout.dtype)
    rows[...] = q
    rows = rows.reshape(-1)
    dx = xp.empty(N * C * H * W, dtype=dout.dtype)
    dx[0::2] = rows
    dx[1::2] = rows
    return dx.reshape(cache.x_shape)


def _geometry(x, kernel, stride, who):
    stride = tuple(kernel if stride is None else stride)
    Ho, Wo, overlap = P._geometry(x, kernel, stride, who)
    return stride, (Ho, Wo), overlap


def _numba_max(x, kernel, stride=None, who="max_pool2d"):
    stride, out_hw, overlap = _geometry(x, kernel, stride, who)
    arg_dtype = "uint8" if kernel[0] * kernel[1] < 256 else "int32"
    out, arg = _numba.max_pool(x, tuple(kernel), stride, out_hw, arg_dtype)
    return out, P.PoolCache(tuple(x.shape), tuple(kernel), stride, out_hw, arg, overlap)


def _numba_max_backward(dout, cache):
    if _numba.usable(dout) and cache.arg.flags.c_contiguous:
        return _numba.max_pool_backward(dout, cache.arg, cache.kernel, cache.stride, cache.x_shape)
    return P.max_pool2d_backward(dout, cache)


def _numba_avg(x, kernel, stride=None, who="avg_pool2d"):
    stride, out_hw, overlap = _geometry(x, kernel, stride, who)
    return _numba.avg_pool(x, tuple(kernel), stride, out_hw), P.PoolCache(tuple(x.shape), tuple(kernel), stride,
                                                                         out_hw, None, overlap)


def _numba_avg_backward(dout, cache):
    if _numba.usable(dout):
        return _numba.avg_pool_backward(dout, cache.kernel, cache.stride, cache.x_shape)
    return P.avg_pool2d_backward(dout, cache)


def _numba_applies(x, kernel, stride=None, who=None):
    return getattr(x, "ndim", 0) == 4 and _numba.usable(x)


register(Kernel("max_pool2d", "2x2", _is_2x2, _max_2x2, _max_2x2_backward, _EXACT))
register(Kernel("max_pool2d", "numba", _numba_applies, _numba_max, _numba_max_backward, _EXACT))
register(Kernel("avg_pool2d", "2x2", _is_2x2, _avg_2x2, _avg_2x2_backward,
                {"float32": (1e-6, 1e-7), "float64": (1e-15, 1e-16)}))  # (a + b) + (c + d) vs ((a + b) + c) + d
register(Kernel("avg_pool2d", "numba", _numba_applies, _numba_avg, _numba_avg_backward, _EXACT))
